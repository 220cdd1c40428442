//! Applying keyed commands to one shard's store, with Redis 7 semantics.

use crate::commands::Command;
use crate::protocol::Reply;
use crate::storage::{Store, Ticket};

/// Per-batch execution context on one shard.
#[derive(Debug, Clone)]
pub struct ExecCtx {
    /// The current time in ms since the Unix epoch (one reading per batch).
    pub now_ms: u64,
    /// Largest value a command may create (APPEND, SETRANGE): `--max-value-size`.
    pub max_value_size: u64,
    /// The highest ticket of any write this batch made; the caller waits for
    /// it to be durable before replying.
    pub ticket: Option<Ticket>,
}

impl ExecCtx {
    /// Records that a write with `ticket` was made.
    pub fn wrote(&mut self, ticket: Ticket) {
        self.ticket = Some(self.ticket.map_or(ticket, |t| t.max(ticket)));
    }
}

/// Applies a keyed command to `store`. Server-level commands are a bug here
/// and get an error reply.
pub async fn execute(store: &Store, cmd: Command, ctx: &mut ExecCtx) -> Reply {
    let _ = (store, cmd, ctx);
    todo!()
}
