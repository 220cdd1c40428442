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
    docs: Docs::NONE,
    parse: |_| Ok(Command::Cluster(ClusterSub::Asking)),
    route: Route::Here,
};

/// CLUSTER: A container for cluster commands
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
    summary: "A container for cluster commands",
    complexity: "Depends on subcommand.",
    docs: Docs {
        subcommands: &[
            SubcommandDocs {
                name: "cluster|slots",
                summary: "Get array of Cluster slot to node mappings",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of Cluster nodes",
                docs: Docs {
                    doc_flags: &["deprecated"],
                    deprecated_since: "7.0.0",
                    replaced_by: "`CLUSTER SHARDS`",
                    history: &[
                        ("4.0.0", "Added node IDs."),
                        ("7.0.0", "Added additional networking metadata field."),
                    ],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "cluster|shards",
                summary: "Get array of cluster slots to node mappings",
                since: "7.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of cluster nodes",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "cluster|nodes",
                summary: "Get Cluster config for the node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of Cluster nodes",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "cluster|info",
                summary: "Provides info about Redis Cluster node state",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "cluster|myid",
                summary: "Return the node id",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "cluster|keyslot",
                summary: "Returns the hash slot of the specified key",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the number of bytes in the key",
                docs: Docs {
                    arguments: &[Arg::string("key")],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "cluster|countkeysinslot",
                summary: "Return the number of local keys in the specified hash slot",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                docs: Docs {
                    arguments: &[Arg::integer("slot")],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "cluster|getkeysinslot",
                summary: "Return local key names in the specified hash slot",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(log(N)) where N is the number of requested keys",
                docs: Docs {
                    arguments: &[Arg::integer("slot"), Arg::integer("count")],
                    ..Docs::NONE
                },
            },
        ],
        ..Docs::NONE
    },
    parse: cluster_cmds::cluster,
    route: Route::Here,
};

/// READONLY: Enables read queries for a connection to a cluster replica node
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
    summary: "Enables read queries for a connection to a cluster replica node",
    complexity: "O(1)",
    docs: Docs::NONE,
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadOnly)),
    route: Route::Here,
};

/// READWRITE: Disables read queries for a connection to a cluster replica node
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
    summary: "Disables read queries for a connection to a cluster replica node",
    complexity: "O(1)",
    docs: Docs::NONE,
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadWrite)),
    route: Route::Here,
};
