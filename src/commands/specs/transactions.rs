//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (answered by the connection's session).

use super::*;

/// MULTI: Mark the start of a transaction block
pub static MULTI: CommandSpec = CommandSpec {
    about: Description {
        name: "multi",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl_categories: &["@fast", "@transaction"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "transactions",
        since: "1.2.0",
        summary: "Mark the start of a transaction block",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Multi),
    route: Route::Session,
};

/// EXEC: Execute all commands issued after MULTI
pub static EXEC: CommandSpec = CommandSpec {
    about: Description {
        name: "exec",
        arity: 1,
        flags: &["noscript", "loading", "stale", "skip_slowlog"],
        acl_categories: &["@slow", "@transaction"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "transactions",
        since: "1.2.0",
        summary: "Execute all commands issued after MULTI",
        complexity: "Depends on commands in the transaction",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Exec),
    route: Route::Session,
};

/// DISCARD: Discard all commands issued after MULTI
pub static DISCARD: CommandSpec = CommandSpec {
    about: Description {
        name: "discard",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl_categories: &["@fast", "@transaction"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "transactions",
        since: "2.0.0",
        summary: "Discard all commands issued after MULTI",
        complexity: "O(N), when N is the number of queued commands",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Discard),
    route: Route::Session,
};

/// WATCH: Watch the given keys to determine execution of the MULTI/EXEC block
pub static WATCH: CommandSpec = CommandSpec {
    about: Description {
        name: "watch",
        arity: -2,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl_categories: &["@fast", "@transaction"],
        tips: &[],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["RO"],
            index: 1,
            last_key: -1,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 1),
        group: "transactions",
        since: "2.2.0",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        complexity: "O(1) for every key.",
        docs: Docs {
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Watch(a[1..].to_vec())),
    route: Route::Session,
};

/// UNWATCH: Forget about all watched keys
pub static UNWATCH: CommandSpec = CommandSpec {
    about: Description {
        name: "unwatch",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl_categories: &["@fast", "@transaction"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "transactions",
        since: "2.2.0",
        summary: "Forget about all watched keys",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Unwatch),
    route: Route::Session,
};
