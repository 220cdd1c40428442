//! Redis's introspection commands: SLOWLOG and LATENCY (CLIENT KILL is a
//! sub-command of CLIENT).

use super::*;
use crate::commands::introspection as introspection_cmds;

/// SLOWLOG: A container for slow log commands
pub static SLOWLOG: CommandSpec = CommandSpec {
    about: Description {
        name: "slowlog",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "2.2.12",
        summary: "A container for slow log commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "slowlog|get",
                    arity: -2,
                    flags: &["admin", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &["request_policy:all_nodes", "nondeterministic_output"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get the slow log's entries",
                    since: "2.2.12",
                    group: "server",
                    complexity: "O(N) where N is the number of entries returned",
                    docs: Docs {
                        history: &[(
                            "4.0.0",
                            "Added client IP address, port and name to the reply.",
                        )],
                        arguments: &[Arg::integer("count").optional()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "slowlog|len",
                    arity: 2,
                    flags: &["admin", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[
                        "request_policy:all_nodes",
                        "response_policy:agg_sum",
                        "nondeterministic_output",
                    ],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Get the slow log's length",
                    since: "2.2.12",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "slowlog|reset",
                    arity: 2,
                    flags: &["admin", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Clear all entries from the slow log",
                    since: "2.2.12",
                    group: "server",
                    complexity: "O(N) where N is the number of entries in the slowlog",
                    docs: Docs::NONE,
                },
                Description {
                    name: "slowlog|help",
                    arity: 2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Show helpful text about the different subcommands",
                    since: "6.2.0",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
            ],
            ..Docs::NONE
        },
    },
    parse: introspection_cmds::slowlog,
    route: Route::Everywhere,
};

/// LATENCY: A container for latency diagnostics commands
pub static LATENCY: CommandSpec = CommandSpec {
    about: Description {
        name: "latency",
        arity: -2,
        flags: &[],
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        legacy_keys: (0, 0, 0),
        group: "server",
        since: "2.8.13",
        summary: "A container for latency diagnostics commands",
        complexity: "Depends on subcommand.",
        docs: Docs {
            subcommands: &[
                Description {
                    name: "latency|latest",
                    arity: 2,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[
                        "nondeterministic_output",
                        "request_policy:all_nodes",
                        "response_policy:special",
                    ],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Return the latest latency samples for all events.",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
                Description {
                    name: "latency|history",
                    arity: 3,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[
                        "nondeterministic_output",
                        "request_policy:all_nodes",
                        "response_policy:special",
                    ],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Return timestamp-latency samples for the event.",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::string("event")],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "latency|reset",
                    arity: -2,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Reset latency data for one or more events.",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs {
                        arguments: &[Arg::string("event").optional().multiple()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "latency|histogram",
                    arity: -2,
                    flags: &["admin", "noscript", "loading", "stale"],
                    acl_categories: &["@admin", "@slow", "@dangerous"],
                    tips: &[
                        "nondeterministic_output",
                        "request_policy:all_nodes",
                        "response_policy:special",
                    ],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Return the cumulative distribution of latencies of a subset of commands or all.",
                    since: "7.0.0",
                    group: "server",
                    complexity: "O(N) where N is the number of commands with latency information being retrieved.",
                    docs: Docs {
                        arguments: &[Arg::string("command").optional().multiple()],
                        ..Docs::NONE
                    },
                },
                Description {
                    name: "latency|help",
                    arity: 2,
                    flags: &["loading", "stale"],
                    acl_categories: &["@slow"],
                    tips: &[],
                    key_specs: &[],
                    legacy_keys: (0, 0, 0),
                    summary: "Show helpful text about the different subcommands.",
                    since: "2.8.13",
                    group: "server",
                    complexity: "O(1)",
                    docs: Docs::NONE,
                },
            ],
            ..Docs::NONE
        },
    },
    parse: introspection_cmds::latency,
    route: Route::Everywhere,
};
