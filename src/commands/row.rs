//! The shape of one command-table row: what Redis's command table says
//! about a command ([`Description`]) plus how we serve it: its parser and
//! its route. The rows themselves are in `specs/`, the table in `table.rs`.

use bytes::Bytes;

use super::Command;
use super::docs::Description;
use crate::protocol::Reply;

/// One command, as Redis 7's command table describes it plus how we serve it.
#[derive(Debug)]
pub struct CommandSpec {
    /// What `COMMAND INFO` and `COMMAND DOCS` tell about it.
    pub about: Description,
    /// Turns the arguments (name included, arity already checked) into a
    /// [`Command`] or Redis's error reply.
    pub parse: fn(&[Bytes]) -> Result<Command, Reply>,
    /// Who answers it and, for keyed commands, how split parts gather.
    pub route: Route,
}

/// Who answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The connection's own session state (HELLO, MULTI, ...).
    Session,
    /// The connection's shard, without asking the others (PING, CONFIG GET, ...).
    Here,
    /// Every shard, as a barrier after the keyed commands before it (DBSIZE, INFO, ...).
    Everywhere,
    /// The shard(s) owning its keys.
    Keyed(Gather),
}

/// How the replies of a keyed command's per-shard parts become one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// Never split: its keys must share a slot, or it has one key.
    One,
    /// MGET: place each part's array elements at their argument positions.
    Array,
    /// DEL, UNLINK, EXISTS, TOUCH: add the parts' integers.
    Sum,
    /// MSET: OK when every part is OK.
    AllOk,
    /// MSETNX: the keys are latched on every shard, then all or none written.
    Latched,
    /// RENAME, COPY, BITOP, LCS: the server latches every key the command
    /// names (wherever they live), reads them, computes, writes, releases.
    Computed,
}
