//! The per-shard Bitcask engine: append-only log files, an in-memory keydir,
//! group commit, recovery.
//!
//! One [`Store`] lives in one glommio executor and is never shared across
//! threads (`Rc`, `Cell`, `RefCell` inside). Callers pass the current time in
//! milliseconds since the Unix epoch (`now_ms`) so that expiry can be tested
//! with a controlled clock.
//!
//! CONTRACT (the rest of the server is written against these signatures):
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
//!
//! Module map, in the order a write travels:
//! - [`record`]: the byte-exact record codec (layout documented there).
//! - [`keydir`]: key -> newest record, one hash map per hash slot.
//! - `log`: the write buffer (segments, tail block), tickets, undo log.
//! - `flusher`: the group-commit flusher task and the batch syncer.
//! - [`files`]: `NNNNNNNN.data` naming, listing and opening.
//! - `recovery`: rebuilding the keydir at open; torn tails and corruption.

pub mod files;
mod flusher;
pub mod keydir;
mod log;
pub mod record;
mod recovery;
mod state;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;

use self::keydir::Entry;
use self::log::{LogState, Notify, Undo, UndoOp, Waiters};
use self::state::{Counters, Inner};

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
///
/// The handle the rest of the server holds (`Rc<Store>`); dropping the last
/// one lets the flusher write out what is buffered, sync, and exit.
pub struct Store {
    /// Shared with the flusher and syncer tasks.
    inner: Rc<Inner>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.inner.shutdown.set(true);
        self.inner.flusher.notify();
    }
}

/// Milliseconds since the Unix epoch by the system clock.
fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the store in `opts.dir`, recovers the keydir
    /// from the log files, and starts the background flusher task in the
    /// current executor.
    ///
    /// Records already expired by the system clock are dropped during
    /// recovery. Errors: [`StorageError::Io`] when a file cannot be listed,
    /// opened or read.
    pub async fn open(opts: StoreOptions) -> Result<Rc<Store>, StorageError> {
        let recovered = recovery::recover(&opts, system_now_ms()).await?;
        let counters = Counters::default();
        counters.live_bytes.set(recovered.live_bytes);
        counters.dead_bytes.set(recovered.dead_bytes);
        counters.bytes_read.set(recovered.bytes_read);
        counters.reads.set(recovered.reads);
        let log = LogState {
            segments: VecDeque::from([recovered.active]),
            files: recovered.files,
            file_sizes: recovered.file_sizes,
            unsynced_sealed: Vec::new(),
            alignment: recovered.alignment,
            max_file_size: opts.max_file_size.min(keydir::MAX_OFFSET),
            next_seq: recovered.next_seq,
            next_ticket: 0,
            resolved_ticket: 0,
            failed: Vec::new(),
            undo: VecDeque::new(),
        };
        let inner = Rc::new(Inner {
            dir: opts.dir.clone(),
            shard_id: opts.shard_id,
            sync: opts.sync,
            keydir: RefCell::new(recovered.keydir),
            log: RefCell::new(log),
            counters,
            flusher: Notify::default(),
            waiters: Waiters::default(),
            batch_dirty: Cell::new(false),
            shutdown: Cell::new(false),
            report: recovered.report,
        });
        glommio::spawn_local(flusher::run_flusher(inner.clone())).detach();
        if let SyncMode::Batch { interval } = opts.sync {
            glommio::spawn_local(flusher::run_batch_syncer(Rc::downgrade(&inner), interval))
                .detach();
        }
        Ok(Rc::new(Store { inner }))
    }

    /// What recovery found when this store was opened.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.inner.report.clone()
    }

    /// Metadata of a live key, or `None` if absent or expired at `now_ms`.
    pub fn meta(&self, key: &[u8], now_ms: u64) -> Option<EntryMeta> {
        let keydir = self.inner.keydir.borrow();
        let entry = keydir.get(key)?;
        (!entry.is_expired(now_ms)).then(|| meta_of(entry))
    }

    /// Reads the value of `key`; `None` if absent or expired at `now_ms`.
    ///
    /// Served from memory while the record is still in the write buffer,
    /// otherwise with one DMA read. Errors: [`StorageError::Io`] from the
    /// read, [`StorageError::Corrupt`] when the bytes read fail their
    /// checksum or are not the record the keydir expects.
    pub async fn get(&self, key: &[u8], now_ms: u64) -> Result<Option<Value>, StorageError> {
        let entry = match self.inner.keydir.borrow().get(key) {
            Some(entry) if !entry.is_expired(now_ms) => *entry,
            _ => return Ok(None),
        };
        let meta = meta_of(&entry);
        let (file_id, offset, len) = (entry.file_id(), entry.offset(), entry.record_len as u64);
        let file = {
            let log = self.inner.log.borrow();
            if let Some(bytes) = log.buffered(file_id, offset, len) {
                let value = &bytes[bytes.len() - entry.value_len as usize..];
                return Ok(Some(Value {
                    data: Bytes::copy_from_slice(value),
                    meta,
                }));
            }
            log.files.get(&file_id).cloned()
        };
        let path = files::data_file_path(&self.inner.dir, file_id);
        let Some(file) = file else {
            return Err(corrupt(path, offset, "log file is not open".into()));
        };
        let read = file
            .read_at(offset, len as usize)
            .await
            .map_err(files::io_err)?;
        let counters = &self.inner.counters;
        counters.reads.set(counters.reads.get() + 1);
        counters
            .bytes_read
            .set(counters.bytes_read.get() + read.len() as u64);
        let header = record::decode(&read)
            .map_err(|error| corrupt(path.clone(), offset, error.reason().into()))?;
        if header.is_tombstone() || header.is_flush_all() || record::key_of(&header, &read) != key {
            return Err(corrupt(
                path,
                offset,
                "record does not hold this key".into(),
            ));
        }
        Ok(Some(Value {
            data: Bytes::copy_from_slice(record::value_of(&header, &read)),
            meta,
        }))
    }

    /// Writes `key = value` with absolute expiry `expire_at_ms` (0 = none).
    ///
    /// Errors: [`StorageError::Other`] when the record would exceed
    /// [`record::MAX_RECORD_LEN`].
    pub fn put(&self, key: &[u8], value: &[u8], expire_at_ms: u64) -> Result<Ticket, StorageError> {
        let mut log = self.inner.log.borrow_mut();
        let appended = log.append(0, expire_at_ms, key, value)?;
        let entry = Entry {
            location: appended.location,
            record_len: appended.record_len,
            value_len: value.len() as u32,
            expire_at_ms,
        };
        let previous = self.inner.keydir.borrow_mut().insert(key, entry);
        let previous_len = previous.map_or(0, |entry| entry.record_len as i64);
        let live_delta = appended.record_len as i64 - previous_len;
        self.inner.counters.add_bytes(live_delta, previous_len);
        log.undo.push_back(Undo {
            ticket: appended.ticket,
            op: UndoOp::Key {
                key: key.into(),
                previous,
            },
            live_delta,
            dead_delta: previous_len,
        });
        drop(log);
        self.inner.flusher.notify();
        Ok(Ticket(appended.ticket))
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
        let current = self.meta(key, now_ms).map(|meta| meta.version);
        if current != expected {
            return Ok(PutIf::Conflict);
        }
        self.put(key, value, expire_at_ms).map(PutIf::Written)
    }

    /// Deletes `key` (appends a tombstone). `None` when the key was absent or
    /// expired at `now_ms` (nothing written).
    pub fn delete(&self, key: &[u8], now_ms: u64) -> Result<Option<Ticket>, StorageError> {
        if self.meta(key, now_ms).is_none() {
            return Ok(None);
        }
        let mut log = self.inner.log.borrow_mut();
        let appended = log.append(record::FLAG_TOMBSTONE, 0, key, &[])?;
        let previous = self.inner.keydir.borrow_mut().remove(key);
        let previous_len = previous.map_or(0, |entry| entry.record_len as i64);
        let live_delta = -previous_len;
        let dead_delta = previous_len + appended.record_len as i64;
        self.inner.counters.add_bytes(live_delta, dead_delta);
        log.undo.push_back(Undo {
            ticket: appended.ticket,
            op: UndoOp::Key {
                key: key.into(),
                previous,
            },
            live_delta,
            dead_delta,
        });
        drop(log);
        self.inner.flusher.notify();
        Ok(Some(Ticket(appended.ticket)))
    }

    /// Removes every key of this shard (durably, once the ticket is reached).
    ///
    /// Appends a flush-all marker; recovery clears the keydir when it meets one.
    pub fn flush_all(&self) -> Result<Ticket, StorageError> {
        let mut log = self.inner.log.borrow_mut();
        let appended = log.append(record::FLAG_FLUSH_ALL, 0, &[], &[])?;
        let previous = self.inner.keydir.borrow_mut().take();
        let live_before = self.inner.counters.live_bytes.get() as i64;
        let live_delta = -live_before;
        let dead_delta = live_before + appended.record_len as i64;
        self.inner.counters.add_bytes(live_delta, dead_delta);
        log.undo.push_back(Undo {
            ticket: appended.ticket,
            op: UndoOp::FlushAll(Box::new(previous)),
            live_delta,
            dead_delta,
        });
        drop(log);
        self.inner.flusher.notify();
        Ok(Ticket(appended.ticket))
    }

    /// Resolves once the log is durable up to `ticket` (per the sync mode).
    ///
    /// Errors: [`StorageError::WriteFailed`] when the flush carrying the
    /// ticket (or an earlier unacknowledged one) failed; the write was then
    /// rolled back.
    pub async fn wait_durable(&self, ticket: Ticket) -> Result<(), StorageError> {
        let inner = &self.inner;
        futures_lite::future::poll_fn(|cx| match inner.log.borrow().ticket_state(ticket.0) {
            Some(result) => Poll::Ready(result),
            None => {
                inner.waiters.register(ticket.0, cx);
                Poll::Pending
            }
        })
        .await
    }

    /// Number of keys in the keydir.
    pub fn len(&self) -> usize {
        self.inner.keydir.borrow().len()
    }

    /// True when the keydir is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` for every live (unexpired at `now_ms`) key whose hash slot
    /// (see `crate::router::slot::key_slot`) is `slot`. The keydir is kept
    /// per slot so this visits only that slot's keys; SCAN builds its stable
    /// cursor on it.
    ///
    /// `f` must not write to this store (the keydir is borrowed meanwhile).
    pub fn for_each_key_in_slot(
        &self,
        slot: u16,
        now_ms: u64,
        f: &mut dyn FnMut(&[u8], &EntryMeta),
    ) {
        let keydir = self.inner.keydir.borrow();
        for (key, entry) in keydir.iter_slot(slot) {
            if !entry.is_expired(now_ms) {
                f(key, &meta_of(entry));
            }
        }
    }

    /// Drops keydir entries that expired before `now_ms`, visiting at most
    /// `budget` keys; returns how many were dropped.
    ///
    /// No tombstone is written: after a restart the record is still expired.
    pub fn reap_expired(&self, now_ms: u64, budget: usize) -> usize {
        let counters = &self.inner.counters;
        self.inner
            .keydir
            .borrow_mut()
            .reap_expired(now_ms, budget, &mut |entry| {
                let len = entry.record_len as i64;
                counters.add_bytes(-len, len);
            })
    }

    /// Flushes and syncs everything buffered; used at shutdown.
    ///
    /// Errors: [`StorageError::WriteFailed`] when flushing what was buffered
    /// at the call fails, [`StorageError::Io`] when the final fdatasync does.
    pub async fn close(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        let (target, pending) = {
            let log = inner.log.borrow();
            (log.next_ticket, log.next_ticket > log.resolved_ticket)
        };
        inner.flusher.notify();
        futures_lite::future::poll_fn(|cx| {
            let log = inner.log.borrow();
            match log.ticket_state(target) {
                // A failure already reported to the writer before close began
                // is not this call's failure.
                Some(Err(_)) if !pending => Poll::Ready(Ok(())),
                Some(result) if log.segments.len() == 1 => Poll::Ready(result),
                // Woken again once the target resolves, or (when it already
                // has) by the seal that retires the older segment.
                _ => {
                    inner.waiters.register(target, cx);
                    Poll::Pending
                }
            }
        })
        .await?;
        flusher::sync_all(inner).await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StoreStats {
        let counters = &self.inner.counters;
        let log = self.inner.log.borrow();
        StoreStats {
            keys: self.inner.keydir.borrow().len() as u64,
            live_bytes: counters.live_bytes.get(),
            dead_bytes: counters.dead_bytes.get(),
            bytes_written: counters.bytes_written.get(),
            bytes_read: counters.bytes_read.get(),
            reads: counters.reads.get(),
            writes: counters.writes.get(),
            syncs: counters.syncs.get(),
            records_flushed: counters.records_flushed.get(),
            files: log.files.len() as u64,
            disk_bytes: log.file_sizes.values().sum(),
        }
    }
}

fn meta_of(entry: &Entry) -> EntryMeta {
    EntryMeta {
        value_len: entry.value_len,
        expire_at_ms: entry.expire_at_ms,
        version: Version(entry.location),
    }
}

fn corrupt(file: PathBuf, offset: u64, reason: String) -> StorageError {
    StorageError::Corrupt {
        file,
        offset,
        reason,
    }
}
