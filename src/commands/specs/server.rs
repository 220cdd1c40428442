//! The server family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// BGREWRITEAOF: Asynchronously rewrite the append-only file
pub static BGREWRITEAOF: CommandSpec = CommandSpec {
    about: Description {
        name: "bgrewriteaof",
        arity: 1,
        flags: &["admin", "noscript", "no_async_loading"],
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Asynchronously rewrite the append-only file",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Merge { background: true }),
    route: Route::Everywhere,
};

/// COMMAND: Get array of Redis command details
pub static COMMAND: CommandSpec = CommandSpec {
    about: Description {
        name: "command",
        arity: -1,
        flags: &["loading", "stale"],
        acl_categories: &["@slow", "@connection"],
        tips: &["nondeterministic_output_order"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "2.8.13",
        summary: "Get array of Redis command details",
        complexity: "O(N) where N is the total number of Redis commands",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "command|count",
                    arity: 2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get total number of Redis commands",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "command|docs",
                    arity: -2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &["nondeterministic_output_order"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get array of specific Redis command documentation",
                    since: "7.0.0",
                    group: "server",
                    complexity: "O(N) where N is the number of commands to look up",
                    docs: Docs {
                        arguments: &[Arg::string("command-name").optional().multiple()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "command|getkeys",
                    arity: -4,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Extract keys given a full Redis command",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(N) where N is the number of arguments to the command",
                    docs: Docs::NONE,
                },
                Description {
                    name: "command|info",
                    arity: -2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &["nondeterministic_output_order"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get array of specific Redis command details, or all when no argument is given.",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(N) where N is the number of commands to look up",
                    docs: Docs {
                        history: &[(
                            "7.0.0",
                            "Allowed to be called with no argument to get info on all commands.",
                        )],
                        arguments: &[Arg::string("command-name").optional().multiple()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "command|list",
                    arity: -2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &["nondeterministic_output_order"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get an array of Redis command names",
                    since: "7.0.0",
                    group: "server",
                    complexity: "O(N) where N is the total number of Redis commands",
                    docs: Docs {
                        arguments: &[Arg::one_of(
                            "filterby",
                            &[
                                Arg::string("module-name").token("MODULE"),
                                Arg::string("category").token("ACLCAT"),
                                Arg::pattern("pattern").token("PATTERN"),
                            ],
                        )
                        .token("FILTERBY")
                        .optional()],
                        ..Docs::NONE
                    },
                },
            ],
            ..Docs::NONE
        },
    },
    parse: server_cmds::command,
    route: Route::Here,
};

/// CONFIG: A container for server configuration commands
pub static CONFIG: CommandSpec = CommandSpec {
    about: Description {
        name: "config",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "2.0.0",
        summary: "A container for server configuration commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "config|get",
                    arity: -3,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get the values of configuration parameters",
                    since: "2.0.0",
                    group: "server",
                    complexity: "O(N) when N is the number of configuration parameters provided",
                    docs: Docs {
                        history: &[(
                            "7.0.0",
                            "Added the ability to pass multiple pattern parameters in one call",
                        )],
                        arguments: &[
                            Arg::block("parameter", &[Arg::string("parameter")]).multiple()
                        ],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "config|set",
                    arity: -4,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Set configuration parameters to the given values",
                    since: "2.0.0",
                    group: "server",
                    complexity: "O(N) when N is the number of configuration parameters provided",
                    docs: Docs {
                        history: &[(
                            "7.0.0",
                            "Added the ability to set multiple parameters in one call.",
                        )],
                        arguments: &[Arg::block(
                            "parameter_value",
                            &[Arg::string("parameter"), Arg::string("value")],
                        )
                        .multiple()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "config|resetstat",
                    arity: 2,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Reset the stats returned by INFO",
                    since: "2.0.0",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
            ],
            ..Docs::NONE
        },
    },
    parse: server_cmds::config,
    route: Route::Here,
};

/// DBSIZE: Return the number of keys in the selected database
pub static DBSIZE: CommandSpec = CommandSpec {
    about: Description {
        name: "dbsize",
        arity: 1,
        flags: &["readonly", "fast"],
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Return the number of keys in the selected database",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::DbSize),
    route: Route::Everywhere,
};

/// FLUSHALL: Remove all keys from all databases
pub static FLUSHALL: CommandSpec = CommandSpec {
    about: Description {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        docs: Docs {
            history: &[
                ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                ("6.2.0", "Added the `SYNC` flushing mode modifier."),
            ],
            arguments: &[Arg::one_of(
                "async",
                &[
                    Arg::pure_token("async", "ASYNC").since("4.0.0"),
                    Arg::pure_token("sync", "SYNC").since("6.2.0"),
                ],
            )
            .optional()],
            ..Docs::NONE
        },
    },
    parse: server_cmds::flush,
    route: Route::Everywhere,
};

/// FLUSHDB: Remove all keys from the current database
pub static FLUSHDB: CommandSpec = CommandSpec {
    about: Description {
        name: "flushdb",
        arity: -1,
        flags: &["write"],
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Remove all keys from the current database",
        complexity: "O(N) where N is the number of keys in the selected database",
        docs: Docs {
            history: &[
                ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                ("6.2.0", "Added the `SYNC` flushing mode modifier."),
            ],
            arguments: &[Arg::one_of(
                "async",
                &[
                    Arg::pure_token("async", "ASYNC").since("4.0.0"),
                    Arg::pure_token("sync", "SYNC").since("6.2.0"),
                ],
            )
            .optional()],
            ..Docs::NONE
        },
    },
    parse: server_cmds::flush,
    route: Route::Everywhere,
};

/// INFO: Get information and statistics about the server
pub static INFO: CommandSpec = CommandSpec {
    about: Description {
        name: "info",
        arity: -1,
        flags: &["loading", "stale"],
        acl_categories: &["@slow", "@dangerous"],
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Get information and statistics about the server",
        complexity: "O(1)",
        docs: Docs {
            history: &[(
                "7.0.0",
                "Added support for taking multiple section arguments.",
            )],
            arguments: &[Arg::string("section").optional().multiple()],
            ..Docs::NONE
        },
    },
    parse: |a| {
        Ok(Command::Info(
            a[1..].iter().map(server_cmds::lower).collect(),
        ))
    },
    route: Route::Everywhere,
};

/// SHUTDOWN: Synchronously save the dataset to disk and then shut down the server
pub static SHUTDOWN: CommandSpec = CommandSpec {
    about: Description {
        name: "shutdown",
        arity: -1,
        flags: &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        docs: Docs {
            history: &[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")],
            arguments: &[
                Arg::one_of(
                    "nosave_save",
                    &[
                        Arg::pure_token("nosave", "NOSAVE"),
                        Arg::pure_token("save", "SAVE"),
                    ],
                )
                .optional(),
                Arg::pure_token("now", "NOW").since("7.0.0").optional(),
                Arg::pure_token("force", "FORCE").since("7.0.0").optional(),
                Arg::pure_token("abort", "ABORT").since("7.0.0").optional(),
            ],
            ..Docs::NONE
        },
    },
    parse: server_cmds::shutdown,
    route: Route::Everywhere,
};

/// TIME: Return the current server time
pub static TIME: CommandSpec = CommandSpec {
    about: Description {
        name: "time",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        acl_categories: &["@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "2.6.0",
        summary: "Return the current server time",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Time),
    route: Route::Here,
};

/// MERGE (shardcask's own): compact every shard's log now and reply with the bytes reclaimed.
pub static MERGE: CommandSpec = CommandSpec {
    about: Description {
        name: "merge",
        arity: 1,
        flags: &["admin", "noscript"],
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "0.1.0",
        summary: "Compact every shard's log files now (shardcask)",
        complexity: "O(N) where N is the number of bytes in the log files",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Merge { background: false }),
    route: Route::Everywhere,
};

/// MEMORY: A container for memory diagnostics commands
pub static MEMORY: CommandSpec = CommandSpec {
    about: Description {
        name: "memory",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "4.0.0",
        summary: "A container for memory diagnostics commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[Description {
                name: "memory|usage",
                arity: -3,
                flags: &["readonly"],
                acl_categories: &["@read", "@slow"],
                tips: &[],
                key_specs: &[KeySpec::single(&["RO"], 2)],
                legacy_keys: (2, 2, 1),
                summary: "Estimate the memory usage of a key",
                since: "4.0.0",
                group: "server",
                complexity: "O(N) where N is the number of samples.",
                docs: Docs {
                    arguments: &[
                        Arg::key("key", 0),
                        Arg::integer("count").token("SAMPLES").optional(),
                    ],
                    ..Docs::NONE
                },
            }],
            ..Docs::NONE
        },
    },
    parse: key_cmds::memory,
    route: Route::Keyed(Gather::One),
};

/// MONITOR: Listen for all requests received by the server in real time
pub static MONITOR: CommandSpec = CommandSpec {
    about: Description {
        name: "monitor",
        arity: 1,
        flags: &["admin", "noscript", "loading", "stale"],
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary: "Listen for all requests received by the server in real time",
        complexity: "",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Monitor),
    route: Route::Session,
};
