//! The generic family's expiry commands: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// The NX/XX/GT/LT choice that EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT share.
const EXPIRE_CONDITION: Arg = Arg::one_of(
    "condition",
    &[
        Arg::pure_token("nx", "NX"),
        Arg::pure_token("xx", "XX"),
        Arg::pure_token("gt", "GT"),
        Arg::pure_token("lt", "LT"),
    ],
)
.since("7.0.0")
.optional();

/// EXPIRE: Set a key's time to live in seconds
pub static EXPIRE: CommandSpec = CommandSpec {
    about: Description {
        name: "expire",
        arity: -3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Set a key's time to live in seconds",
        complexity: "O(1)",
        docs: Docs {
            history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("seconds"),
                EXPIRE_CONDITION,
            ],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::expire(a, "expire", TimeKind::RelativeSeconds),
    route: Route::Keyed(Gather::One),
};

/// EXPIREAT: Set the expiration for a key as a UNIX timestamp
pub static EXPIREAT: CommandSpec = CommandSpec {
    about: Description {
        name: "expireat",
        arity: -3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.2.0",
        summary: "Set the expiration for a key as a UNIX timestamp",
        complexity: "O(1)",
        docs: Docs {
            history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::unix_time("unix-time-seconds"),
                EXPIRE_CONDITION,
            ],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::expire(a, "expireat", TimeKind::AbsoluteSeconds),
    route: Route::Keyed(Gather::One),
};

/// EXPIRETIME: Get the expiration Unix timestamp for a key
pub static EXPIRETIME: CommandSpec = CommandSpec {
    about: Description {
        name: "expiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "7.0.0",
        summary: "Get the expiration Unix timestamp for a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::ExpireTime(a[1].clone(), false)),
    route: Route::Keyed(Gather::One),
};

/// PEXPIRE: Set a key's time to live in milliseconds
pub static PEXPIRE: CommandSpec = CommandSpec {
    about: Description {
        name: "pexpire",
        arity: -3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Set a key's time to live in milliseconds",
        complexity: "O(1)",
        docs: Docs {
            history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("milliseconds"),
                EXPIRE_CONDITION,
            ],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::expire(a, "pexpire", TimeKind::RelativeMs),
    route: Route::Keyed(Gather::One),
};

/// PEXPIREAT: Set the expiration for a key as a UNIX timestamp specified in milliseconds
pub static PEXPIREAT: CommandSpec = CommandSpec {
    about: Description {
        name: "pexpireat",
        arity: -3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        complexity: "O(1)",
        docs: Docs {
            history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
            arguments: &[
                Arg::key("key", 0),
                Arg::unix_time("unix-time-milliseconds"),
                EXPIRE_CONDITION,
            ],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::expire(a, "pexpireat", TimeKind::AbsoluteMs),
    route: Route::Keyed(Gather::One),
};

/// PEXPIRETIME: Get the expiration Unix timestamp for a key in milliseconds
pub static PEXPIRETIME: CommandSpec = CommandSpec {
    about: Description {
        name: "pexpiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "7.0.0",
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::ExpireTime(a[1].clone(), true)),
    route: Route::Keyed(Gather::One),
};

/// PERSIST: Remove the expiration from a key
pub static PERSIST: CommandSpec = CommandSpec {
    about: Description {
        name: "persist",
        arity: 2,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.2.0",
        summary: "Remove the expiration from a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Persist(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// TTL: Get the time to live for a key in seconds
pub static TTL: CommandSpec = CommandSpec {
    about: Description {
        name: "ttl",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Get the time to live for a key in seconds",
        complexity: "O(1)",
        docs: Docs {
            history: &[("2.8.0", "Added the -2 reply.")],
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Ttl(a[1].clone(), false)),
    route: Route::Keyed(Gather::One),
};

/// PTTL: Get the time to live for a key in milliseconds
pub static PTTL: CommandSpec = CommandSpec {
    about: Description {
        name: "pttl",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Get the time to live for a key in milliseconds",
        complexity: "O(1)",
        docs: Docs {
            history: &[("2.8.0", "Added the -2 reply.")],
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Ttl(a[1].clone(), true)),
    route: Route::Keyed(Gather::One),
};
