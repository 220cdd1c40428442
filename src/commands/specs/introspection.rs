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
    parse: introspection_cmds::latency,
    route: Route::Everywhere,
};
