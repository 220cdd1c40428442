//! The connection family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// CLIENT: A container for client connection commands
pub static CLIENT: CommandSpec = CommandSpec {
    about: Description {
        name: "client",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "2.4.0",
        summary: "A container for client connection commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "client|setname",
                    arity: 3,
                    flags: &["noscript", "loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Set the current connection name",
                    since: "2.6.9",
                    group: "connection",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::string("connection-name")],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "client|getname",
                    arity: 2,
                    flags: &["noscript", "loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get the current connection name",
                    since: "2.6.9",
                    group: "connection",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "client|id",
                    arity: 2,
                    flags: &["noscript", "loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Returns the client ID for the current connection",
                    since: "5.0.0",
                    group: "connection",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "client|info",
                    arity: 2,
                    flags: &["noscript", "loading", "stale"],
                    acl_categories: &["@slow", "@connection"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Returns information about the current client connection.",
                    since: "6.2.0",
                    group: "connection",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "client|list",
                    arity: -2,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get the list of client connections",
                    since: "2.4.0",
                    group: "connection",
                    complexity: "O(N) where N is the number of client connections",
                    docs: Docs {
                        history: &[
                            ("2.8.12", "Added unique client `id` field."),
                            ("5.0.0", "Added optional `TYPE` filter."),
                            ("6.0.0", "Added `user` field."),
                            (
                                "6.2.0",
                                "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter.",
                            ),
                            (
                                "7.0.0",
                                "Added `resp`, `multi-mem`, `rbs` and `rbp` fields.",
                            ),
                            ("7.0.3", "Added `ssub` field."),
                        ],
                        arguments: &[
                            Arg::one_of(
                                "normal_master_replica_pubsub",
                                &[
                                    Arg::pure_token("normal", "NORMAL"),
                                    Arg::pure_token("master", "MASTER"),
                                    Arg::pure_token("replica", "REPLICA"),
                                    Arg::pure_token("pubsub", "PUBSUB"),
                                ],
                            )
                            .token("TYPE")
                            .since("5.0.0")
                            .optional(),
                            Arg::block("id", &[Arg::integer("client-id").multiple()])
                                .token("ID")
                                .since("6.2.0")
                                .optional(),
                        ],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "client|kill",
                    arity: -3,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Kill the connection of a client",
                    since: "2.4.0",
                    group: "connection",
                    complexity: "O(N) where N is the number of client connections",
                    docs: Docs {
                        history: &[
                            ("2.8.12", "Added new filter format."),
                            ("2.8.12", "`ID` option."),
                            ("3.2.0", "Added `master` type in for `TYPE` option."),
                            (
                                "5.0.0",
                                "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.",
                            ),
                            ("6.2.0", "`LADDR` option."),
                        ],
                        arguments: &[Arg::one_of(
                            "filter",
                            &[
                                Arg::string("ip:port").deprecated_since("2.8.12"),
                                Arg::one_of(
                                    "new-format",
                                    &[
                                        Arg::integer("client-id")
                                            .token("ID")
                                            .since("2.8.12")
                                            .optional(),
                                        Arg::one_of(
                                            "normal_master_slave_pubsub",
                                            &[
                                                Arg::pure_token("normal", "NORMAL"),
                                                Arg::pure_token("master", "MASTER").since("3.2.0"),
                                                Arg::pure_token("slave", "SLAVE"),
                                                Arg::pure_token("replica", "REPLICA")
                                                    .since("5.0.0"),
                                                Arg::pure_token("pubsub", "PUBSUB"),
                                            ],
                                        )
                                        .token("TYPE")
                                        .since("2.8.12")
                                        .optional(),
                                        Arg::string("username").token("USER").optional(),
                                        Arg::string("ip:port").token("ADDR").optional(),
                                        Arg::string("ip:port")
                                            .token("LADDR")
                                            .since("6.2.0")
                                            .optional(),
                                        Arg::string("yes/no").token("SKIPME").optional(),
                                    ],
                                )
                                .multiple(),
                            ],
                        )],
                        ..Docs::NONE
                    },
                },
            ],
            ..Docs::NONE
        },
    },
    parse: connection_cmds::client,
    route: Route::Here,
};

/// ECHO: Echo the given string
pub static ECHO: CommandSpec = CommandSpec {
    about: Description {
        name: "echo",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "1.0.0",
        summary: "Echo the given string",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::string("message")],
            ..Docs::NONE
        },
    },
    parse: |a| Ok(Command::Echo(a[1].clone())),
    route: Route::Here,
};

/// HELLO: Handshake with Redis
pub static HELLO: CommandSpec = CommandSpec {
    about: Description {
        name: "hello",
        arity: -1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "6.0.0",
        summary: "Handshake with Redis",
        complexity: "O(1)",
        docs: Docs {
            history: &[(
                "6.2.0",
                "`protover` made optional; when called without arguments the command reports the current connection's context.",
            )],
            arguments: &[Arg::block(
                "arguments",
                &[
                    Arg::integer("protover"),
                    Arg::block(
                        "username_password",
                        &[Arg::string("username"), Arg::string("password")],
                    )
                    .token("AUTH")
                    .optional(),
                    Arg::string("clientname").token("SETNAME").optional(),
                ],
            )
            .optional()],
            ..Docs::NONE
        },
    },
    parse: connection_cmds::hello,
    route: Route::Session,
};

/// PING: Ping the server
pub static PING: CommandSpec = CommandSpec {
    about: Description {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        acl_categories: &["@fast", "@connection"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "1.0.0",
        summary: "Ping the server",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::string("message").optional()],
            ..Docs::NONE
        },
    },
    parse: connection_cmds::ping,
    route: Route::Here,
};

/// QUIT: Close the connection
pub static QUIT: CommandSpec = CommandSpec {
    about: Description {
        name: "quit",
        arity: -1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "1.0.0",
        summary: "Close the connection",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Quit),
    route: Route::Here,
};

/// RESET: Reset the connection
pub static RESET: CommandSpec = CommandSpec {
    about: Description {
        name: "reset",
        arity: 1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "6.2.0",
        summary: "Reset the connection",
        complexity: "O(1)",
        docs: Docs::NONE,
    },
    parse: |_| Ok(Command::Reset),
    route: Route::Session,
};

/// SELECT: Change the selected database for the current connection
pub static SELECT: CommandSpec = CommandSpec {
    about: Description {
        name: "select",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "connection",
        since: "1.0.0",
        summary: "Change the selected database for the current connection",
        complexity: "O(1)",
        docs: Docs {
            arguments: &[Arg::integer("index")],
            ..Docs::NONE
        },
    },
    parse: connection_cmds::select,
    route: Route::Here,
};
