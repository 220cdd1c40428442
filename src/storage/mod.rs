//! The per-shard Bitcask engine: append-only log files, an in-memory keydir,
//! group commit, recovery.
//!
//! One [`Store`] lives in one glommio executor and is never shared across
//! threads (`Rc`, `Cell`, `RefCell` inside). Callers pass the current time in
//! milliseconds since the Unix epoch (`now_ms`) so that expiry can be tested
//! with a controlled clock.
//!
//! CONTRACT (the rest of the server is written against these signatures; the
//! bodies are being filled in):
//! - writes (`put`, `delete`, `flush_all`) are *applied* synchronously: the
//!   record is appended to the in-memory write buffer and the keydir updated
//!   before the call returns, so any later `get` on this shard sees them
//!   (read-your-writes). They return a [`Ticket`].
//! - [`Store::wait_durable`] resolves once everything up to that ticket is
//!   written (and, with `SyncMode::Always`, fdatasync'ed). Writes that arrive
//!   while a flush is in flight go out together in the next flush (group
//!   commit).
//! - `get` does at most one aligned DMA read, or none when the record is still
//!   in the write buffer.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

/// How hard a write is pushed to stable storage before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Acknowledge after write + fdatasync (group-committed).
    Always,
    /// Acknowledge after the write reaches the device; fdatasync every `interval`.
    Batch {
        /// Time between fdatasyncs.
        interval: Duration,
    },
    /// Acknowledge after the write reaches the device; never fdatasync explicitly.
    Never,
}

/// Settings of one shard's store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The shard's own directory, `<data dir>/shard-<id>`; created if missing.
    pub dir: PathBuf,
    /// Which shard this is (for log messages and stats).
    pub shard_id: usize,
    /// Roll the active log file over once it would grow past this many bytes.
    pub max_file_size: u64,
    /// Durability policy.
    pub sync: SyncMode,
}

/// Identifies one record of one key: changes whenever the key is rewritten.
/// Used for optimistic read-modify-write (see [`Store::put_if`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u64);

/// A position in the shard's log; a write is durable once the log is durable
/// up to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticket(pub u64);

/// What the keydir knows about a live key, without reading its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// Length of the value in bytes.
    pub value_len: u32,
    /// Absolute expiry in ms since the Unix epoch; 0 means no expiry.
    pub expire_at_ms: u64,
    /// The record currently holding the key.
    pub version: Version,
}

/// A value read from the store.
#[derive(Debug, Clone)]
pub struct Value {
    /// The value bytes.
    pub data: Bytes,
    /// Keydir metadata at the time of the read.
    pub meta: EntryMeta,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutIf {
    /// The record was appended.
    Written(Ticket),
    /// The key's current version was not the expected one; nothing was written.
    Conflict,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error from the device or the filesystem.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record failed its checksum or was malformed where it was expected.
    #[error("corrupt record in {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The log file.
        file: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The write could not be made durable (disk full, EIO); nothing acknowledged is lost.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// Anything else glommio reports.
    #[error("{0}")]
    Other(String),
}

/// What recovery found and did when the shard was opened.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Log files scanned.
    pub files_scanned: usize,
    /// Records loaded (including superseded ones).
    pub records_scanned: u64,
    /// Live keys after recovery.
    pub keys_loaded: u64,
    /// Bytes cut off a torn tail, if any (file, offset, bytes).
    pub torn_tail: Option<(PathBuf, u64, u64)>,
    /// Corrupt regions skipped before the tail: (file, offset, bytes skipped).
    pub corruptions: Vec<(PathBuf, u64, u64)>,
    /// Wall time of recovery.
    pub duration: Duration,
}

/// Counters of one store, for the per-core stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Live keys in the keydir (may include expired keys not yet reaped).
    pub keys: u64,
    /// Bytes of live records.
    pub live_bytes: u64,
    /// Bytes of superseded or deleted records still on disk.
    pub dead_bytes: u64,
    /// Bytes written to log files.
    pub bytes_written: u64,
    /// Bytes read from log files.
    pub bytes_read: u64,
    /// DMA reads submitted.
    pub reads: u64,
    /// DMA writes submitted (one per flush).
    pub writes: u64,
    /// fdatasyncs submitted.
    pub syncs: u64,
    /// Records written by all flushes (records / writes = group-commit batch size).
    pub records_flushed: u64,
    /// Log files on disk.
    pub files: u64,
    /// Bytes of all log files on disk.
    pub disk_bytes: u64,
}

/// One shard's store.
pub struct Store {
    _private: (),
}

impl Store {
    /// Opens (creating if needed) the store in `opts.dir`, recovers the keydir
    /// from the log files, and starts the background flusher task in the
    /// current executor.
    pub async fn open(opts: StoreOptions) -> Result<Rc<Store>, StorageError> {
        let _ = opts;
        todo!()
    }

    /// What recovery found when this store was opened.
    pub fn recovery_report(&self) -> RecoveryReport {
        todo!()
    }

    /// Metadata of a live key, or `None` if absent or expired at `now_ms`.
    pub fn meta(&self, key: &[u8], now_ms: u64) -> Option<EntryMeta> {
        let _ = (key, now_ms);
        todo!()
    }

    /// Reads the value of `key`; `None` if absent or expired at `now_ms`.
    pub async fn get(&self, key: &[u8], now_ms: u64) -> Result<Option<Value>, StorageError> {
        let _ = (key, now_ms);
        todo!()
    }

    /// Writes `key = value` with absolute expiry `expire_at_ms` (0 = none).
    pub fn put(&self, key: &[u8], value: &[u8], expire_at_ms: u64) -> Result<Ticket, StorageError> {
        let _ = (key, value, expire_at_ms);
        todo!()
    }

    /// Writes `key = value` only if the key's current version is `expected`
    /// (`None` = the key must be absent or expired at `now_ms`).
    pub fn put_if(
        &self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
        expected: Option<Version>,
        now_ms: u64,
    ) -> Result<PutIf, StorageError> {
        let _ = (key, value, expire_at_ms, expected, now_ms);
        todo!()
    }

    /// Deletes `key` (appends a tombstone). `None` when the key was absent or
    /// expired at `now_ms` (nothing written).
    pub fn delete(&self, key: &[u8], now_ms: u64) -> Result<Option<Ticket>, StorageError> {
        let _ = (key, now_ms);
        todo!()
    }

    /// Removes every key of this shard (durably, once the ticket is reached).
    pub fn flush_all(&self) -> Result<Ticket, StorageError> {
        todo!()
    }

    /// Resolves once the log is durable up to `ticket` (per the sync mode).
    pub async fn wait_durable(&self, ticket: Ticket) -> Result<(), StorageError> {
        let _ = ticket;
        todo!()
    }

    /// Number of keys in the keydir.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// True when the keydir is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` for every live (unexpired at `now_ms`) key whose hash slot
    /// (see `crate::router::slot::key_slot`) is `slot`. The keydir is kept
    /// per slot so this visits only that slot's keys; SCAN builds its stable
    /// cursor on it.
    pub fn for_each_key_in_slot(
        &self,
        slot: u16,
        now_ms: u64,
        f: &mut dyn FnMut(&[u8], &EntryMeta),
    ) {
        let _ = (slot, now_ms, f);
        todo!()
    }

    /// Drops keydir entries that expired before `now_ms`, visiting at most
    /// `budget` keys; returns how many were dropped.
    pub fn reap_expired(&self, now_ms: u64, budget: usize) -> usize {
        let _ = (now_ms, budget);
        todo!()
    }

    /// Flushes and syncs everything buffered; used at shutdown.
    pub async fn close(&self) -> Result<(), StorageError> {
        todo!()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StoreStats {
        todo!()
    }
}
