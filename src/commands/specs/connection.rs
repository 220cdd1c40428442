//! The connection family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// CLIENT: A container for client connection commands
pub static CLIENT: CommandSpec = CommandSpec {
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
    parse: connection_cmds::client,
    route: Route::Here,
};

/// ECHO: Echo the given string
pub static ECHO: CommandSpec = CommandSpec {
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
    parse: |a| Ok(Command::Echo(a[1].clone())),
    route: Route::Here,
};

/// HELLO: Handshake with Redis
pub static HELLO: CommandSpec = CommandSpec {
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
    parse: connection_cmds::hello,
    route: Route::Session,
};

/// PING: Ping the server
pub static PING: CommandSpec = CommandSpec {
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
    parse: connection_cmds::ping,
    route: Route::Here,
};

/// QUIT: Close the connection
pub static QUIT: CommandSpec = CommandSpec {
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
    parse: |_| Ok(Command::Quit),
    route: Route::Here,
};

/// SELECT: Change the selected database for the current connection
pub static SELECT: CommandSpec = CommandSpec {
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
    parse: connection_cmds::select,
    route: Route::Here,
};
