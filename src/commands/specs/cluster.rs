//! The cluster family: one [`CommandSpec`] per command (arity, flags, key specs and docs as Redis 7 gives them, the parser and the route).

use super::*;

/// ASKING: Sent by cluster clients after an -ASK redirect
pub static ASKING: CommandSpec = CommandSpec {
    about: Description {
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
    },
    parse: |_| Ok(Command::Cluster(ClusterSub::Asking)),
    route: Route::Here,
};

/// CLUSTER: A container for cluster commands
pub static CLUSTER: CommandSpec = CommandSpec {
    about: Description {
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
                Description {
                    name: "cluster|slots",
                    arity: 2,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
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
                Description {
                    name: "cluster|shards",
                    arity: 2,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get array of cluster slots to node mappings",
                    since: "7.0.0",
                    group: "cluster",
                    complexity: "O(N) where N is the total number of cluster nodes",
                    docs: Docs::NONE,
                },
                Description {
                    name: "cluster|nodes",
                    arity: 2,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get Cluster config for the node",
                    since: "3.0.0",
                    group: "cluster",
                    complexity: "O(N) where N is the total number of Cluster nodes",
                    docs: Docs::NONE,
                },
                Description {
                    name: "cluster|info",
                    arity: 2,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Provides info about Redis Cluster node state",
                    since: "3.0.0",
                    group: "cluster",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "cluster|myid",
                    arity: 2,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Return the node id",
                    since: "3.0.0",
                    group: "cluster",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "cluster|keyslot",
                    arity: 3,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Returns the hash slot of the specified key",
                    since: "3.0.0",
                    group: "cluster",
                    complexity: "O(N) where N is the number of bytes in the key",
                    docs: Docs {
                        arguments: &[Arg::string("key")],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "cluster|countkeysinslot",
                    arity: 3,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Return the number of local keys in the specified hash slot",
                    since: "3.0.0",
                    group: "cluster",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::integer("slot")],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "cluster|getkeysinslot",
                    arity: 4,
                    flags: &["stale"],
                    acl_categories: &["@slow"],
                    tips: &["nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
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
    },
    parse: cluster_cmds::cluster,
    route: Route::Here,
};

/// READONLY: Enables read queries for a connection to a cluster replica node
pub static READONLY: CommandSpec = CommandSpec {
    about: Description {
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
    },
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadOnly)),
    route: Route::Here,
};

/// READWRITE: Disables read queries for a connection to a cluster replica node
pub static READWRITE: CommandSpec = CommandSpec {
    about: Description {
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
    },
    parse: |_| Ok(Command::Cluster(ClusterSub::ReadWrite)),
    route: Route::Here,
};
