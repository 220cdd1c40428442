//! The cluster family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// ASKING: Sent by cluster clients after an -ASK redirect
pub static ASKING: CommandSpec = CommandSpec {
    name: "asking",
    arity: 1,
    flags: &["fast"],
    acl_categories: &["@fast", "@connection"],
    tips: &[],
    key_specs: &[],
    legacy_keys: (0, 0, 0),
    group: "cluster",
    since: "3.0.0",
    summary: "Sent by cluster clients after an -ASK redirect",
    complexity: "O(1)",
    parse: |_| Ok(Command::Cluster(ClusterSub::Asking)),
    route: Route::Here,
};

/// CLUSTER: A container for Redis Cluster commands
pub static CLUSTER: CommandSpec = CommandSpec {
    name: "cluster",
    arity: -2,
    flags: &[],
    acl_categories: &["@slow"],
    tips: &[],
    key_specs: &[],
    legacy_keys: (0, 0, 0),
    group: "cluster",
    since: "3.0.0",
    summary: "A container for Redis Cluster commands",
    complexity: "Depends on subcommand.",
    parse: cluster_cmds::cluster,
    route: Route::Here,
};

/// READONLY: Enables read-only queries for a connection to a Redis Cluster replica node
pub static READONLY: CommandSpec = CommandSpec {
    name: "readonly",
    arity: 1,
    flags: &["loading", "stale", "fast"],
    acl_categories: &["@fast", "@connection"],
    tips: &[],
    key_specs: &[],
    legacy_keys: (0, 0, 0),
    group: "cluster",
    since: "3.0.0",
    summary: "Enables read-only queries for a connection to a Redis Cluster replica node",
    complexity: "O(1)",
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadOnly)),
    route: Route::Here,
};

/// READWRITE: Enables read-write queries for a connection to a Redis Cluster replica node
pub static READWRITE: CommandSpec = CommandSpec {
    name: "readwrite",
    arity: 1,
    flags: &["loading", "stale", "fast"],
    acl_categories: &["@fast", "@connection"],
    tips: &[],
    key_specs: &[],
    legacy_keys: (0, 0, 0),
    group: "cluster",
    since: "3.0.0",
    summary: "Enables read-write queries for a connection to a Redis Cluster replica node",
    complexity: "O(1)",
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadWrite)),
    route: Route::Here,
};
