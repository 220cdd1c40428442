//! Every command's one definition, grouped as Redis groups them. Each
//! [`CommandSpec`] is built from what Redis 7 answers to `COMMAND INFO` and
//! `COMMAND DOCS` for the command, plus how we parse and route it.

mod bitmap;
mod cluster;
mod connection;
mod expiry;
mod generic;
mod introspection;
mod migrate;
mod server;
mod string;
mod transactions;

pub use bitmap::*;
pub use cluster::*;
pub use connection::*;
pub use expiry::*;
pub use generic::*;
pub use introspection::*;
pub use migrate::*;
pub use server::*;
pub use string::*;
pub use transactions::*;

use super::ClusterSub;
use super::docs::{Arg, Description, Docs, KeySpec};
use super::keys::TimeKind;
use super::row::{CommandSpec, Gather, Route};
use super::{
    Command, bits as bit_cmds, cluster as cluster_cmds, connection as connection_cmds,
    keys as key_cmds, migrate as migrate_cmds, server as server_cmds, sort as sort_cmds,
    strings as string_cmds,
};
