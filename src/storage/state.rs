//! The state a [`Store`](super::Store) shares with its background tasks.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;

use super::keydir::Keydir;
use super::log::{LogState, Notify, Waiters};
use super::{RecoveryReport, SyncMode};

/// Byte and I/O counters of a store (single-threaded, hence `Cell`s).
#[derive(Default)]
pub(super) struct Counters {
    /// Bytes of records the keydir points at.
    pub(super) live_bytes: Cell<u64>,
    /// Bytes of superseded, deleted and marker records.
    pub(super) dead_bytes: Cell<u64>,
    /// Bytes written by flushes.
    pub(super) bytes_written: Cell<u64>,
    /// Bytes read by `get` and recovery.
    pub(super) bytes_read: Cell<u64>,
    /// DMA reads.
    pub(super) reads: Cell<u64>,
    /// DMA writes.
    pub(super) writes: Cell<u64>,
    /// fdatasyncs.
    pub(super) syncs: Cell<u64>,
    /// Records acknowledged by flushes.
    pub(super) records_flushed: Cell<u64>,
}

impl Counters {
    /// Applies a change to the live/dead byte counts.
    pub(super) fn add_bytes(&self, live_delta: i64, dead_delta: i64) {
        self.live_bytes
            .set(self.live_bytes.get().saturating_add_signed(live_delta));
        self.dead_bytes
            .set(self.dead_bytes.get().saturating_add_signed(dead_delta));
    }

    /// Takes back a change made by [`Counters::add_bytes`].
    pub(super) fn undo_bytes(&self, live_delta: i64, dead_delta: i64) {
        self.add_bytes(-live_delta, -dead_delta);
    }
}

/// The state shared by a [`Store`](super::Store) and its background tasks.
pub(super) struct Inner {
    /// The shard directory.
    pub(super) dir: PathBuf,
    /// For log messages.
    pub(super) shard_id: usize,
    /// Durability policy.
    pub(super) sync: SyncMode,
    /// Key -> newest record.
    pub(super) keydir: RefCell<Keydir>,
    /// Write buffer, open files, tickets, undo log.
    pub(super) log: RefCell<LogState>,
    /// Counters for [`StoreStats`](super::StoreStats).
    pub(super) counters: Counters,
    /// Wakes the flusher when something was appended (or at shutdown).
    pub(super) flusher: Notify,
    /// Tasks in `wait_durable` / `close`.
    pub(super) waiters: Waiters,
    /// `SyncMode::Batch`: written since the last periodic sync.
    pub(super) batch_dirty: Cell<bool>,
    /// Set when the [`Store`](super::Store) is dropped: the flusher drains and exits.
    pub(super) shutdown: Cell<bool>,
    /// What recovery found.
    pub(super) report: RecoveryReport,
}
