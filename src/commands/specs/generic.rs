//! The generic key family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// DEL: Delete a key
pub static DEL: CommandSpec = CommandSpec {
    about: Description {
        name: "del",
        arity: -2,
        flags: &["write"],
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["RM", "delete"],
            index: 1,
            last_key: -1,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        docs: Docs {
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Del(a[1..].to_vec())),
    route: Route::Keyed(Gather::Sum),
};

/// EXISTS: Determine if a key exists
pub static EXISTS: CommandSpec = CommandSpec {
    about: Description {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
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
        group: "generic",
        since: "1.0.0",
        summary: "Determine if a key exists",
        complexity: "O(N) where N is the number of keys to check.",
        docs: Docs {
            history: &[("3.0.3", "Accepts multiple `key` arguments.")],
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Exists(a[1..].to_vec())),
    route: Route::Keyed(Gather::Sum),
};

/// KEYS: Find all keys matching the given pattern
pub static KEYS: CommandSpec = CommandSpec {
    about: Description {
        name: "keys",
        arity: 2,
        flags: &["readonly"],
        acl_categories: &["@keyspace", "@read", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "generic",
        since: "1.0.0",
        summary: "Find all keys matching the given pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        docs: Docs {
            arguments: &[Arg::pattern("pattern")],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Keys(a[1].clone())),
    route: Route::Everywhere,
};

/// SCAN: Incrementally iterate the keys space
pub static SCAN: CommandSpec = CommandSpec {
    about: Description {
        name: "scan",
        arity: -2,
        flags: &["readonly"],
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["nondeterministic_output", "request_policy:special"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "generic",
        since: "2.8.0",
        summary: "Incrementally iterate the keys space",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        docs: Docs {
            history: &[("6.0.0", "Added the `TYPE` subcommand.")],
            arguments: &[
                Arg::integer("cursor"),
                Arg::pattern("pattern").token("MATCH").optional(),
                Arg::integer("count").token("COUNT").optional(),
                Arg::string("type").token("TYPE").since("6.0.0").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: server_cmds::scan,
    route: Route::Everywhere,
};

/// TYPE: Determine the type stored at key
pub static TYPE: CommandSpec = CommandSpec {
    about: Description {
        name: "type",
        arity: 2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RO"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Determine the type stored at key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Type(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// UNLINK: Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.
pub static UNLINK: CommandSpec = CommandSpec {
    about: Description {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[KeySpec {
            notes: "",
            flags: &["RM", "delete"],
            index: 1,
            last_key: -1,
            key_step: 1,
            limit: 0,
            keyword: "",
        }],
        legacy_keys: (1, -1, 1),
        group: "generic",
        since: "4.0.0",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        docs: Docs {
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Unlink(a[1..].to_vec())),
    route: Route::Keyed(Gather::Sum),
};

/// RENAME: Rename a key
pub static RENAME: CommandSpec = CommandSpec {
    about: Description {
        name: "rename",
        arity: 3,
        flags: &["write"],
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["RW", "access", "delete"], 1),
            KeySpec::single(&["OW", "update"], 2),
        ],
        legacy_keys: (1, 2, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::key("newkey", 1)],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::rename(a, false),
    route: Route::Keyed(Gather::Computed),
};

/// RENAMENX: Rename a key, only if the new key does not exist
pub static RENAMENX: CommandSpec = CommandSpec {
    about: Description {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["RW", "access", "delete"], 1),
            KeySpec::single(&["OW", "insert"], 2),
        ],
        legacy_keys: (1, 2, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Rename a key, only if the new key does not exist",
        complexity: "O(1)",
        docs: Docs {
            history: &[(
                "3.2.0",
                "The command no longer returns an error when source and destination names are the same.",
            )],
            arguments: &[Arg::key("key", 0), Arg::key("newkey", 1)],
            ..Docs::NONE
        },
    },
    parse: |a| key_cmds::rename(a, true),
    route: Route::Keyed(Gather::Computed),
};

/// COPY: Copy a key
pub static COPY: CommandSpec = CommandSpec {
    about: Description {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["RO", "access"], 1),
            KeySpec::single(&["OW", "update"], 2),
        ],
        legacy_keys: (1, 2, 1),
        group: "generic",
        since: "6.2.0",
        summary: "Copy a key",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        docs: Docs {
            arguments: &[
                Arg::key("source", 0),
                Arg::key("destination", 1),
                Arg::integer("destination-db").token("DB").optional(),
                Arg::pure_token("replace", "REPLACE").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: key_cmds::copy,
    route: Route::Keyed(Gather::Computed),
};

/// TOUCH: Alters the last access time of a key(s). Returns the number of existing keys specified.
pub static TOUCH: CommandSpec = CommandSpec {
    about: Description {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
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
        group: "generic",
        since: "3.2.1",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        complexity: "O(N) where N is the number of keys that will be touched.",
        docs: Docs {
            arguments: &[Arg::key("key", 0).multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Exists(a[1..].to_vec())),
    route: Route::Keyed(Gather::Sum),
};

/// RANDOMKEY: Return a random key from the keyspace
pub static RANDOMKEY: CommandSpec = CommandSpec {
    about: Description {
        name: "randomkey",
        arity: 1,
        flags: &["readonly"],
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "generic",
        since: "1.0.0",
        summary: "Return a random key from the keyspace",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::RandomKey),
    route: Route::Everywhere,
};

/// OBJECT: A container for object introspection commands
pub static OBJECT: CommandSpec = CommandSpec {
    about: Description {
        name: "object",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "generic",
        since: "2.2.3",
        summary: "A container for object introspection commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "object|encoding",
                    arity: 3,
                    flags: &["readonly"],
                    acl_categories: &["@keyspace", "@read", "@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[KeySpec::single(&["RO"], 2)],
                    legacy_keys: (2, 2, 1),
                    summary: "Inspect the internal encoding of a Redis object",
                    since: "2.2.3",
                    group: "generic",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::key("key", 0)],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "object|freq",
                    arity: 3,
                    flags: &["readonly"],
                    acl_categories: &["@keyspace", "@read", "@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[KeySpec::single(&["RO"], 2)],
                    legacy_keys: (2, 2, 1),
                    summary: "Get the logarithmic access frequency counter of a Redis object",
                    since: "4.0.0",
                    group: "generic",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::key("key", 0)],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "object|idletime",
                    arity: 3,
                    flags: &["readonly"],
                    acl_categories: &["@keyspace", "@read", "@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[KeySpec::single(&["RO"], 2)],
                    legacy_keys: (2, 2, 1),
                    summary: "Get the time since a Redis object was last accessed",
                    since: "2.2.3",
                    group: "generic",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::key("key", 0)],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "object|refcount",
                    arity: 3,
                    flags: &["readonly"],
                    acl_categories: &["@keyspace", "@read", "@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[KeySpec::single(&["RO"], 2)],
                    legacy_keys: (2, 2, 1),
                    summary: "Get the number of references to the value of the key",
                    since: "2.2.3",
                    group: "generic",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::key("key", 0)],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "object|help",
                    arity: 2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@keyspace", "@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Show helpful text about the different subcommands",
                    since: "6.2.0",
                    group: "generic",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
            ],
            ..Docs::NONE
        },
    },
    parse: key_cmds::object,
    route: Route::Keyed(Gather::One),
};

/// WAIT: Wait for the synchronous replication of all the write commands sent in the context of the current connection
pub static WAIT: CommandSpec = CommandSpec {
    about: Description {
        name: "wait",
        arity: 3,
        flags: &["noscript"],
        acl_categories: &["@slow", "@connection"],
        tips: &["request_policy:all_shards", "response_policy:agg_min"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "generic",
        since: "3.0.0",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::integer("numreplicas"), Arg::integer("timeout")],
            ..Docs::NONE
        },
    },
    parse: key_cmds::wait,
    route: Route::Here,
};

/// DUMP: Return a serialized version of the value stored at the specified key.
pub static DUMP: CommandSpec = CommandSpec {
    about: Description {
        name: "dump",
        arity: 2,
        flags: &["readonly"],
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::single(&["RO", "access"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Return a serialized version of the value stored at the specified key.",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        docs: Docs {
            arguments: &[Arg::key("key", 0)],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Dump(a[1].clone())),
    route: Route::Keyed(Gather::One),
};

/// RESTORE: Create a key using the provided serialized value, previously obtained using DUMP.
pub static RESTORE: CommandSpec = CommandSpec {
    about: Description {
        name: "restore",
        arity: -4,
        flags: &["write", "denyoom"],
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[KeySpec::single(&["OW", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "2.6.0",
        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        docs: Docs {
            history: &[
                ("3.0.0", "Added the `REPLACE` modifier."),
                ("5.0.0", "Added the `ABSTTL` modifier."),
                ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
            ],
            arguments: &[
                Arg::key("key", 0),
                Arg::integer("ttl"),
                Arg::string("serialized-value"),
                Arg::pure_token("replace", "REPLACE")
                    .since("3.0.0")
                    .optional(),
                Arg::pure_token("absttl", "ABSTTL")
                    .since("5.0.0")
                    .optional(),
                Arg::integer("seconds")
                    .token("IDLETIME")
                    .since("5.0.0")
                    .optional(),
                Arg::integer("frequency")
                    .token("FREQ")
                    .since("5.0.0")
                    .optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: key_cmds::restore,
    route: Route::Keyed(Gather::One),
};

/// MOVE: Move a key to another database
pub static MOVE: CommandSpec = CommandSpec {
    about: Description {
        name: "move",
        arity: 3,
        flags: &["write", "fast"],
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[KeySpec::single(&["RW", "access", "update"], 1)],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Move a key to another database",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::key("key", 0), Arg::integer("db")],
            ..Docs::NONE
        },
        // Every outcome with one database is an error the parser gives (see
        // commands/sort.rs), so no command reaches a route.
    },
    parse: sort_cmds::move_key,
    route: Route::Here,
};

/// SORT: Sort the elements in a list, set or sorted set
pub static SORT: CommandSpec = CommandSpec {
    about: Description {
        name: "sort",
        arity: -2,
        flags: &["write", "denyoom", "movablekeys"],
        acl_categories: &[
            "@write",
            "@set",
            "@sortedset",
            "@list",
            "@slow",
            "@dangerous",
        ],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["RO", "access"], 1),
            KeySpec {
                notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
                ..KeySpec::UNKNOWN_RO
            },
            KeySpec {
                notes: "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
                flags: &["OW", "update"],
                ..KeySpec::UNKNOWN_RO
            },
        ],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "1.0.0",
        summary: "Sort the elements in a list, set or sorted set",
        complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::pattern("pattern").key_spec(1).token("BY").optional(),
                Arg::block(
                    "offset_count",
                    &[Arg::integer("offset"), Arg::integer("count")],
                )
                .token("LIMIT")
                .optional(),
                Arg::pattern("pattern")
                    .key_spec(1)
                    .token("GET")
                    .optional()
                    .multiple()
                    .multiple_token(),
                Arg::one_of(
                    "order",
                    &[
                        Arg::pure_token("asc", "ASC"),
                        Arg::pure_token("desc", "DESC"),
                    ],
                )
                .optional(),
                Arg::pure_token("sorting", "ALPHA").optional(),
                Arg::key("destination", 2).token("STORE").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| sort_cmds::sort(a, false),
    route: Route::Keyed(Gather::Computed),
};

/// SORT_RO: Sort the elements in a list, set or sorted set. Read-only variant of SORT.
pub static SORT_RO: CommandSpec = CommandSpec {
    about: Description {
        name: "sort_ro",
        arity: -2,
        flags: &["readonly", "movablekeys"],
        acl_categories: &[
            "@read",
            "@set",
            "@sortedset",
            "@list",
            "@slow",
            "@dangerous",
        ],
        tips: &[],
        key_specs: &[
            KeySpec::single(&["RO", "access"], 1),
            KeySpec {
                notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
                ..KeySpec::UNKNOWN_RO
            },
        ],
        legacy_keys: (1, 1, 1),
        group: "generic",
        since: "7.0.0",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        docs: Docs {
            arguments: &[
                Arg::key("key", 0),
                Arg::pattern("pattern").key_spec(1).token("BY").optional(),
                Arg::block(
                    "offset_count",
                    &[Arg::integer("offset"), Arg::integer("count")],
                )
                .token("LIMIT")
                .optional(),
                Arg::pattern("pattern")
                    .key_spec(1)
                    .token("GET")
                    .optional()
                    .multiple()
                    .multiple_token(),
                Arg::one_of(
                    "order",
                    &[
                        Arg::pure_token("asc", "ASC"),
                        Arg::pure_token("desc", "DESC"),
                    ],
                )
                .optional(),
                Arg::pure_token("sorting", "ALPHA").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: |a| sort_cmds::sort(a, true),
    route: Route::Keyed(Gather::Computed),
};
