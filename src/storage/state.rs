//! The state a [`Store`](super::Store) shares with its background tasks.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;

use super::cache::Cache;
use super::io::Backend;
use super::keydir::Keydir;
use super::log::{LogState, Notify, Waiters};
use super::{MergePolicy, RecoveryReport, SyncMode};
use crate::net::direct::DirectReader;

/// Byte and I/O counters of a store (single-threaded, hence `Cell`s).
#[derive(Default)]
pub(super) struct Counters {
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
    /// `get`s answered by the value cache.
    pub(super) cache_hits: Cell<u64>,
    /// `get`s that read the disk.
    pub(super) cache_misses: Cell<u64>,
    /// Writes refused by the disk-space limit.
    pub(super) disk_full_refusals: Cell<u64>,
    /// Merges completed.
    pub(super) merges: Cell<u64>,
    /// Bytes of log files merges removed, minus the bytes they wrote.
    pub(super) merge_reclaimed: Cell<u64>,
    /// Wall time of all merges, in ms.
    pub(super) merge_ms: Cell<u64>,
    /// Wall time of the last merge, in ms.
    pub(super) last_merge_ms: Cell<u64>,
    /// Hint files written.
    pub(super) hints_written: Cell<u64>,
    /// Flushes that failed (and were rolled back).
    pub(super) rollbacks: Cell<u64>,
}

/// Adds `amount` to a counter.
pub(super) fn add(counter: &Cell<u64>, amount: u64) {
    counter.set(counter.get().wrapping_add(amount));
}

/// The state shared by a [`Store`](super::Store) and its background tasks.
pub(super) struct Inner {
    /// The shard directory.
    pub(super) dir: PathBuf,
    /// For log messages.
    pub(super) shard_id: usize,
    /// Durability policy.
    pub(super) sync: SyncMode,
    /// Where the bytes go.
    pub(super) backend: Backend,
    /// Key -> newest record.
    pub(super) keydir: RefCell<Keydir>,
    /// Write buffer, open files, per-file accounting, tickets, undo log.
    pub(super) log: RefCell<LogState>,
    /// Recently read values.
    pub(super) cache: RefCell<Cache>,
    /// Writes are refused once the log files would hold more than this
    /// (a `Cell`: CONFIG SET max-disk changes it while running).
    pub(super) max_disk: Cell<Option<u64>>,
    /// When to merge (CONFIG SET merge-interval changes it while running).
    pub(super) merge_policy: Cell<MergePolicy>,
    /// `SyncMode::Batch`: the time between periodic syncs (CONFIG SET
    /// sync-interval-ms changes it while running; unused otherwise).
    pub(super) batch_interval: Cell<std::time::Duration>,
    /// Held by a merge or hint build (they take turns; `close` waits for it).
    pub(super) maintenance_lock: glommio::sync::Semaphore,
    /// Set by `close`: merges and hint builds stop at the next step.
    pub(super) stopping: Cell<bool>,
    /// Sealed files that still need a hint file.
    pub(super) unhinted: RefCell<Vec<u32>>,
    /// Wakes the maintenance task (a file was sealed, or shutdown).
    pub(super) maintenance: Notify,
    /// The low-priority task queue merges and hint builds run in.
    pub(super) maintenance_queue: Option<glommio::TaskQueueHandle>,
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
    /// Where GET misses read and the flusher writes, when not through
    /// glommio (see [`crate::net::direct`]).
    pub(super) direct: RefCell<Option<Rc<dyn DirectReader>>>,
}
