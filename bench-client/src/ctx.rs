//! What a client thread's connections and the reply judge share: the
//! thread's settings, counters and value filler, and the record of one
//! request in flight. Both [`crate::conn`] and [`crate::judge`] work on
//! these, so they sit below both.

use std::sync::Arc;
use std::time::Instant;

use crate::args::Config;
use crate::stats::{Op, ThreadStats};
use crate::value::Pattern;

/// What one client thread shares between its connections.
#[derive(Debug)]
pub struct ThreadCtx {
    /// Run settings.
    pub config: Arc<Config>,
    /// This thread's index.
    pub thread_id: usize,
    /// Counters of the current phase.
    pub stats: ThreadStats,
    /// Filler bytes values are cut from.
    pub pattern: Pattern,
    /// Counter behind the versions of verified values.
    pub next_version: u64,
}

impl ThreadCtx {
    /// A unique version for a verified SET: a per-thread counter with the
    /// thread id in the low 16 bits, so threads never collide.
    pub fn take_version(&mut self) -> u64 {
        version(&mut self.next_version, self.thread_id)
    }
}

/// A request sent (or queued to send) and not yet answered.
#[derive(Debug, Clone, Copy)]
pub struct InFlight {
    /// When it was meant to be sent; latency is measured from here.
    pub intended: Instant,
    /// Its kind.
    pub op: Op,
    /// Its key.
    pub key_index: u64,
    /// Value bytes of a SET.
    pub value_len: usize,
}

/// A unique version for a verified SET: a per-thread counter with the
/// thread id in the low 16 bits, so threads never collide.
pub(crate) fn version(next_version: &mut u64, thread_id: usize) -> u64 {
    *next_version += 1;
    (*next_version << 16) | thread_id as u64
}
