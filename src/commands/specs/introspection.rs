//! Redis's introspection commands: SLOWLOG and LATENCY (CLIENT KILL is a
//! sub-command of CLIENT).

use super::*;
use crate::commands::introspection as introspection_cmds;

/// SLOWLOG: A container for slow log commands
pub static SLOWLOG: CommandSpec = CommandSpec {
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
            SubcommandDocs {
                name: "slowlog|get",
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
            SubcommandDocs {
                name: "slowlog|len",
                summary: "Get the slow log's length",
                since: "2.2.12",
                group: "server",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "slowlog|reset",
                summary: "Clear all entries from the slow log",
                since: "2.2.12",
                group: "server",
                complexity: "O(N) where N is the number of entries in the slowlog",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "slowlog|help",
                summary: "Show helpful text about the different subcommands",
                since: "6.2.0",
                group: "server",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
        ],
        ..Docs::NONE
    },
    parse: introspection_cmds::slowlog,
    route: Route::Everywhere,
};

/// LATENCY: A container for latency diagnostics commands
pub static LATENCY: CommandSpec = CommandSpec {
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
            SubcommandDocs {
                name: "latency|latest",
                summary: "Return the latest latency samples for all events.",
                since: "2.8.13",
                group: "server",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
            SubcommandDocs {
                name: "latency|history",
                summary: "Return timestamp-latency samples for the event.",
                since: "2.8.13",
                group: "server",
                complexity: "O(1)",
                docs: Docs {
                    arguments: &[Arg::string("event")],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "latency|reset",
                summary: "Reset latency data for one or more events.",
                since: "2.8.13",
                group: "server",
                complexity: "O(1)",
                docs: Docs {
                    arguments: &[Arg::string("event").optional().multiple()],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "latency|histogram",
                summary: "Return the cumulative distribution of latencies of a subset of commands or all.",
                since: "7.0.0",
                group: "server",
                complexity: "O(N) where N is the number of commands with latency information being retrieved.",
                docs: Docs {
                    arguments: &[Arg::string("command").optional().multiple()],
                    ..Docs::NONE
                },
            },
            SubcommandDocs {
                name: "latency|help",
                summary: "Show helpful text about the different subcommands.",
                since: "2.8.13",
                group: "server",
                complexity: "O(1)",
                docs: Docs::NONE,
            },
        ],
        ..Docs::NONE
    },
    parse: introspection_cmds::latency,
    route: Route::Everywhere,
};
