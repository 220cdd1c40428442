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
//!   in the write buffer or the value cache ([`Store::get_resident`] answers
//!   those without waiting).
//!
//! Module map, in the order a write travels:
//! - [`types`]: options, errors, reports and stats (re-exported here).
//! - [`record`]: the byte-exact record codec (layout documented there).
//! - [`keydir`]: key -> newest record, one compact table per hash slot.
//! - `log`: the write buffer (segments, tail block), tickets, undo log,
//!   per-file live/dead accounting.
//! - `flusher`: the group-commit flusher task and the batch syncer.
//! - [`io`]: the I/O seam: real DMA files or a [`io::SimDisk`] that forgets
//!   unsynced bytes and injects errors; a GET reads through the socket ring
//!   when the shard hands it one ([`crate::net::direct`]).
//! - [`files`]: `NNNNNNNN.data` / `.hint` / `.merge` naming, listing, opening.
//! - [`cache`]: the scan-resistant value cache.
//! - [`hint`]: hint files (layout documented there).
//! - `recovery`: rebuilding the keydir at open from hints or scans; torn
//!   tails and corruption.
//! - `window`: walking a log file record by record over its DMA read
//!   buffers (recovery scans, hint builds, merge), with read-ahead at open.
//! - `maintenance`: the low-priority background task (hint files for
//!   sealed files, periodic merge checks).
//! - `merge`: compaction (steps and crash safety documented there), with
//!   `swap` (pointing the keydir at merge output) and `pacer` (short CPU
//!   slices, one disk I/O per group commit).

pub mod cache;
pub mod files;
mod flusher;
pub mod hint;
pub mod io;
pub mod keydir;
mod log;
mod maintenance;
mod merge;
mod pacer;
pub mod record;
mod recovery;
mod replay;
mod state;
mod swap;
pub mod types;
mod window;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;

use self::cache::Cache;
pub use self::keydir::Entry;
pub use self::keydir::KeyHash;
use self::log::{Appended, FileStat, LogState, Notify, Undo, UndoOp, Waiters};
use self::state::{Counters, Inner, add};
pub use self::types::*;
use crate::net::direct::DirectReader;

/// Values up to this many bytes are cached when written. A larger value
/// would push many small ones out of the cache's probation segment (where
/// the values written but not yet read again wait), costs a copy on every
/// write, and is cheap to read back: a large DMA read runs at the disk's
/// bandwidth, where a small one pays a whole random read's latency for a few
/// bytes. 4 KiB is one filesystem block.
pub const WRITE_CACHE_MAX: usize = 4096;
/// Values read from disk at least this long are kept in the buffer the
/// read filled (see [`io::ReadBuf::into_bytes`]) instead of copied out of it:
/// the buffer is at most a few KiB longer than the record, a small share
/// of a value this long (shorter ones are copied into reused allocations).
const READ_IN_PLACE_MIN: usize = 64 << 10;

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
        self.inner.stopping.set(true);
        self.inner.flusher.notify();
        self.inner.maintenance.notify();
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
    /// recovery. Errors: [`OpenError::Storage`] when a file cannot be
    /// listed, opened or read, [`OpenError::FileTooLarge`] and
    /// [`OpenError::FileShrank`] for a log file recovery cannot address or
    /// that changes under it.
    pub async fn open(mut opts: StoreOptions) -> Result<Rc<Store>, OpenError> {
        opts.backend = opts.backend.bind();
        let recovered = recovery::recover(&opts, system_now_ms()).await?;
        let counters = Counters::default();
        counters.bytes_read.set(recovered.bytes_read);
        counters.reads.set(recovered.reads);
        let file_id_floor = recovered.files.keys().max().map_or(0, |id| id + 1);
        let log = LogState {
            backend: opts.backend.clone(),
            segments: VecDeque::from([recovered.active]),
            files: recovered.files,
            stats: recovered.stats,
            file_id_floor,
            unsynced_sealed: Vec::new(),
            alignment: recovered.alignment,
            max_file_size: opts.max_file_size.min(keydir::MAX_OFFSET),
            next_seq: recovered.next_seq,
            next_ticket: 0,
            resolved_ticket: 0,
            failed: Vec::new(),
            undo: VecDeque::new(),
        };
        let maintenance_queue = glommio::executor().create_task_queue(
            glommio::Shares::Static(10),
            glommio::Latency::NotImportant,
            &format!("maintenance-{}", opts.shard_id),
        );
        let inner = Rc::new(Inner {
            dir: opts.dir.clone(),
            shard_id: opts.shard_id,
            sync: opts.sync,
            backend: opts.backend.clone(),
            keydir: RefCell::new(recovered.keydir),
            log: RefCell::new(log),
            cache: RefCell::new(Cache::new(opts.cache_bytes)),
            max_disk: Cell::new(opts.max_disk),
            merge_policy: Cell::new(opts.merge),
            batch_interval: Cell::new(match opts.sync {
                SyncMode::Batch { interval } => interval,
                SyncMode::Always | SyncMode::Never => std::time::Duration::from_secs(1),
            }),
            maintenance_lock: glommio::sync::Semaphore::new(1),
            stopping: Cell::new(false),
            unhinted: RefCell::new(recovered.unhinted),
            maintenance: Notify::default(),
            maintenance_queue: Some(maintenance_queue),
            counters,
            flusher: Notify::default(),
            waiters: Waiters::default(),
            batch_dirty: Cell::new(false),
            shutdown: Cell::new(false),
            report: recovered.report,
            direct: RefCell::new(None),
        });
        glommio::spawn_local(flusher::run_flusher(inner.clone())).detach();
        if let SyncMode::Batch { .. } = opts.sync {
            glommio::spawn_local(flusher::run_batch_syncer(Rc::downgrade(&inner))).detach();
        }
        glommio::spawn_local_into(
            maintenance::run_maintenance(Rc::downgrade(&inner)),
            maintenance_queue,
        )
        .map_err(|error| OpenError::Executor(error.to_string()))?
        .detach();
        Ok(Rc::new(Store { inner }))
    }

    /// What recovery found when this store was opened.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.inner.report.clone()
    }

    /// Sends the disk reads of GETs that miss memory through `reader` (the
    /// shard's socket ring) instead of glommio; `None` goes back to glommio.
    /// Reads already in flight finish where they started.
    pub fn set_direct_reader(&self, reader: Option<Rc<dyn DirectReader>>) {
        *self.inner.direct.borrow_mut() = reader;
    }

    /// Changes the value cache's budget (bytes; 0 turns it off), evicting
    /// down to it at once.
    pub fn set_cache_budget(&self, bytes: u64) {
        self.inner.cache.borrow_mut().set_budget(bytes);
    }

    /// Changes the disk-space limit (`None`: none). Writes already
    /// accepted stay; the next write is checked against the new limit.
    pub fn set_max_disk(&self, limit: Option<u64>) {
        self.inner.max_disk.set(limit);
    }

    /// Changes when merges start and what they include (the check
    /// interval counts from the last check); the maintenance task is woken
    /// so a shorter interval applies now, not after the old one.
    pub fn set_merge_policy(&self, policy: MergePolicy) {
        self.inner.merge_policy.set(policy);
        self.inner.maintenance.notify();
    }

    /// Changes the periodic sync interval of [`SyncMode::Batch`] (from the
    /// next sync on; the other modes keep it for nothing).
    pub fn set_batch_interval(&self, interval: std::time::Duration) {
        self.inner
            .batch_interval
            .set(interval.max(std::time::Duration::from_millis(1)));
    }

    /// Zeroes the I/O, cache and merge counters of [`Store::stats`] (CONFIG
    /// RESETSTAT); levels (keys, bytes held, the last merge's time) stay,
    /// and so does the rollback count, which merges compare to see whether a
    /// flush failed under them.
    pub fn reset_counters(&self) {
        let counters = &self.inner.counters;
        for counter in [
            &counters.bytes_written,
            &counters.bytes_read,
            &counters.reads,
            &counters.writes,
            &counters.syncs,
            &counters.records_flushed,
            &counters.cache_hits,
            &counters.cache_misses,
            &counters.disk_full_refusals,
            &counters.merges,
            &counters.merge_reclaimed,
            &counters.merge_ms,
            &counters.hints_written,
        ] {
            counter.set(0);
        }
    }

    /// Starts loading what looking up `keys` reads (the keydir's index and
    /// records, then the cached values they name), so the lookups that
    /// follow overlap their cache misses instead of taking them one by one
    /// (a hint to the CPU; changes nothing).
    /// Each key's [`KeyHash`] is pushed on `hashes`, in order, for
    /// [`Store::get_resident_at`].
    pub fn prefetch<'a>(&self, keys: impl Iterator<Item = &'a [u8]>, hashes: &mut Vec<KeyHash>) {
        let keydir = self.inner.keydir.borrow();
        let cache = self.inner.cache.borrow();
        keydir.prefetch_lookups(keys, hashes, |slot| cache.prefetch(slot));
    }

    /// Metadata of a live key, or `None` if absent or expired at `now_ms`.
    pub fn meta(&self, key: &[u8], now_ms: u64) -> Option<EntryMeta> {
        let entry = self.inner.keydir.borrow().get(key)?;
        (!entry.is_expired(now_ms)).then(|| meta_of(&entry))
    }

    /// Reads the value of `key`; `None` if absent or expired at `now_ms`.
    ///
    /// Served from memory while the record is still in the write buffer,
    /// from the value cache when it holds this very record, otherwise with
    /// one DMA read. Errors: [`ReadError::Io`] from the read,
    /// [`ReadError::Corrupt`] when the bytes read fail their checksum or
    /// are not the record the keydir expects.
    pub async fn get(&self, key: &[u8], now_ms: u64) -> Result<Option<Value>, ReadError> {
        match self.get_resident(key, now_ms) {
            Resident::Found(value) => Ok(value),
            Resident::OnDisk(entry) => self.read_on_disk(key, entry).await,
        }
    }

    /// The rest of a [`Store::get`] whose [`Store::get_resident`] (or
    /// `get_resident_at`) said [`Resident::OnDisk`]: reads the record at
    /// `entry` (checked like any read) and caches its value. A caller that
    /// started the read in the same synchronous stretch as the lookup gets
    /// the answer `get` would have given then, without a second lookup.
    pub async fn read_on_disk(&self, key: &[u8], entry: Entry) -> Result<Option<Value>, ReadError> {
        let meta = meta_of(&entry);
        let (file_id, offset, len) = (entry.file_id(), entry.offset(), entry.record_len as u64);
        // The `Rc` keeps the file open even if a merge deletes it meanwhile.
        let file = self.inner.log.borrow().files.get(&file_id).cloned();
        add(&self.inner.counters.cache_misses, 1);
        // Only an error names the file: no path built per read.
        let path = || files::data_file_path(&self.inner.dir, file_id);
        let Some(file) = file else {
            return Err(corrupt(path(), offset, "log file is not open".into()));
        };
        let reader = self.inner.direct.borrow().clone();
        let read = match reader {
            Some(reader) => file.read_direct(&*reader, offset, len as usize).await,
            None => file.read_at(offset, len as usize).await,
        }
        .map_err(ReadError::Io)?;
        let counters = &self.inner.counters;
        add(&counters.reads, 1);
        add(&counters.bytes_read, read.len() as u64);
        let header = record::decode(&read)
            .map_err(|error| corrupt(path(), offset, error.reason().into()))?;
        if header.is_tombstone() || header.is_flush_all() || record::key_of(&header, &read) != key {
            return Err(corrupt(
                path(),
                offset,
                "record does not hold this key".into(),
            ));
        }
        let value = record::value_range(&header, read.len());
        let data = if value.len() >= READ_IN_PLACE_MIN {
            // Served from the read's own buffer, not copied out of it.
            read.into_bytes(value)
        } else {
            let value = &read[value];
            // Into the allocation of the value the last insert evicted, if any.
            let spare = self.inner.cache.borrow_mut().take_spare(value.len());
            match spare {
                Some(mut buf) => {
                    buf.extend_from_slice(value);
                    buf.freeze()
                }
                None => Bytes::copy_from_slice(value),
            }
        };
        // The key may have moved on during the read; then its old value is
        // not worth a place. A concurrent read of the same record may have
        // cached it already: one node per record. One keydir probe checks
        // the record and names the new node.
        let mut cache = self.inner.cache.borrow_mut();
        let placed = self
            .inner
            .keydir
            .borrow_mut()
            .place_cache(key, entry.location, |now| {
                if cache.holds(now, entry.location) {
                    None
                } else {
                    cache.insert(entry.location, data.clone())
                }
            });
        if let Some((slot, false)) = placed {
            // No room in the key's slot to name the node: a node the
            // keydir does not name would only take up space.
            cache.remove_at(slot, entry.location);
        }
        drop(cache);
        Ok(Some(Value { data, meta }))
    }

    /// [`Store::get`] without waiting: the answer when it is in memory (the
    /// key is absent or expired, or its record is in the write buffer or the
    /// value cache), else the entry to read from disk. Callers serving many
    /// GETs answer the resident ones straight away, with no future each.
    pub fn get_resident(&self, key: &[u8], now_ms: u64) -> Resident {
        let at = self.inner.keydir.borrow().key_hash(key);
        self.get_resident_at(key, at, now_ms)
    }

    /// [`Store::get_resident`] for a key whose [`KeyHash`] is known (from
    /// [`Store::prefetch`]).
    pub fn get_resident_at(&self, key: &[u8], at: KeyHash, now_ms: u64) -> Resident {
        let (entry, slot) = match self.inner.keydir.borrow().get_cached_at(key, at) {
            Some((entry, slot)) if !entry.is_expired(now_ms) => (entry, slot),
            _ => return Resident::Found(None),
        };
        // The keydir names the cache node: no second lookup.
        if slot != keydir::NO_CACHE
            && let Some(data) = self.inner.cache.borrow_mut().get_at(slot, entry.location)
        {
            add(&self.inner.counters.cache_hits, 1);
            return Resident::Found(Some(Value {
                data,
                meta: meta_of(&entry),
            }));
        }
        let (file_id, offset, len) = (entry.file_id(), entry.offset(), entry.record_len as u64);
        let log = self.inner.log.borrow();
        let value_len = entry.value_len as u64;
        if let Some(data) = log.buffered(file_id, offset + len - value_len, value_len) {
            return Resident::Found(Some(Value {
                data,
                meta: meta_of(&entry),
            }));
        }
        Resident::OnDisk(entry)
    }

    /// Refuses a write of `record_len` bytes that would pass `max_disk`.
    fn check_disk_limit(&self, log: &LogState, record_len: u64) -> Result<(), WriteError> {
        if let Some(limit) = self.inner.max_disk.get()
            && log.used_bytes() + record_len > limit
        {
            add(&self.inner.counters.disk_full_refusals, 1);
            return Err(WriteError::DiskFull);
        }
        Ok(())
    }

    /// Writes `key = value` with absolute expiry `expire_at_ms` (0 = none).
    ///
    /// Errors: [`StorageError::RecordTooLarge`] (inside
    /// [`WriteError::Storage`]) when the record would exceed
    /// [`record::MAX_RECORD_LEN`]; [`WriteError::DiskFull`] when it would
    /// take the log files past `max_disk`; [`WriteError::SlotFull`] when the
    /// key's slot is full.
    pub fn put(&self, key: &[u8], value: &[u8], expire_at_ms: u64) -> Result<Ticket, WriteError> {
        self.put_at(key, None, value, expire_at_ms)
    }

    /// [`Store::put`] for a key whose [`KeyHash`] may be known (from
    /// [`Store::prefetch`]): then it is not hashed again.
    pub fn put_at(
        &self,
        key: &[u8],
        at: Option<KeyHash>,
        value: &[u8],
        expire_at_ms: u64,
    ) -> Result<Ticket, WriteError> {
        let mut log = self.inner.log.borrow_mut();
        self.check_disk_limit(&log, record::encoded_len(key, value))?;
        // The key's slot and hash, computed once for the room check and the insert.
        let at = at.unwrap_or_else(|| self.inner.keydir.borrow().key_hash(key));
        if !self.inner.keydir.borrow().has_room_in_slot(at.slot(), key) {
            return Err(WriteError::SlotFull);
        }
        let appended = log.append_live(expire_at_ms, key, value)?;
        let entry = Entry {
            location: appended.location,
            record_len: appended.record_len,
            value_len: value.len() as u32,
            expire_at_ms,
        };
        // The value is in hand: the GETs that follow a SET need no disk read.
        // An overwrite of a cached key reuses the old value's cache node,
        // found from the keydir in the same probe that replaces the entry.
        let mut cache = self.inner.cache.borrow_mut();
        let previous = self
            .inner
            .keydir
            .borrow_mut()
            .insert_at(at, key, entry, |previous| {
                let slot = match previous {
                    Some((previous, slot)) if value.len() > WRITE_CACHE_MAX => {
                        cache.remove_at(slot, previous.location);
                        None
                    }
                    Some((previous, slot)) => {
                        cache.rewrite(slot, previous.location, appended.location, value)
                    }
                    None if value.len() > WRITE_CACHE_MAX => None,
                    None => cache.insert_from(appended.location, value),
                };
                slot.unwrap_or(keydir::NO_CACHE)
            });
        drop(cache);
        self.superseded(&mut log, key, previous, false, &appended);
        drop(log);
        self.inner.flusher.notify();
        Ok(Ticket(appended.ticket))
    }

    /// Bookkeeping after `appended` replaced `previous` as the record of
    /// `key` (a put, or a tombstone when `tombstone`): the old record's bytes
    /// turn dead, and the change can be undone if the flush carrying it
    /// fails. The caller has dealt with the old record's cached value.
    fn superseded(
        &self,
        log: &mut LogState,
        key: &[u8],
        previous: Option<Entry>,
        tombstone: bool,
        appended: &Appended,
    ) {
        if let Some(previous) = &previous {
            log.kill(previous);
        }
        log.undo.push_back(Undo {
            ticket: appended.ticket,
            op: UndoOp::Key {
                key: key.into(),
                previous,
                tombstone,
            },
            file_id: keydir::unpack_file_id(appended.location),
            record_len: appended.record_len,
        });
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
    ) -> Result<PutIf, WriteError> {
        let current = self.meta(key, now_ms).map(|meta| meta.version);
        if current != expected {
            return Ok(PutIf::Conflict);
        }
        self.put(key, value, expire_at_ms).map(PutIf::Written)
    }

    /// Deletes `key` (appends a tombstone). `None` when the key was absent or
    /// expired at `now_ms` (nothing written). Allowed past `max_disk`.
    pub fn delete(&self, key: &[u8], now_ms: u64) -> Result<Option<Ticket>, WriteError> {
        if self.meta(key, now_ms).is_none() {
            return Ok(None);
        }
        let mut log = self.inner.log.borrow_mut();
        let appended = log.append(record::FLAG_TOMBSTONE, 0, key, &[])?;
        let removed = self.inner.keydir.borrow_mut().remove_cached(key);
        let previous = removed.map(|(previous, slot)| {
            self.inner
                .cache
                .borrow_mut()
                .remove_at(slot, previous.location);
            previous
        });
        self.superseded(&mut log, key, previous, true, &appended);
        drop(log);
        self.inner.flusher.notify();
        Ok(Some(Ticket(appended.ticket)))
    }

    /// Removes every key of this shard (durably, once the ticket is reached).
    ///
    /// Appends a flush-all marker; recovery clears the keydir when it meets one.
    pub fn flush_all(&self) -> Result<Ticket, WriteError> {
        let mut log = self.inner.log.borrow_mut();
        let appended = log.append(record::FLAG_FLUSH_ALL, 0, &[], &[])?;
        let previous = self.inner.keydir.borrow_mut().take();
        let file_id = keydir::unpack_file_id(appended.location);
        for stat in log.stats.values_mut() {
            stat.live = 0;
        }
        log.stat(file_id).has_flush_all = true;
        self.inner.cache.borrow_mut().clear();
        log.undo.push_back(Undo {
            ticket: appended.ticket,
            op: UndoOp::FlushAll(Box::new(previous)),
            file_id,
            record_len: appended.record_len,
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
    pub async fn wait_durable(&self, ticket: Ticket) -> Result<(), WriteError> {
        Ok(wait_ticket(&self.inner, ticket.0).await?)
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
    /// (see `crate::keyspace::key_slot`) is `slot`. The keydir is kept
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
                f(key, &meta_of(&entry));
            }
        }
    }

    /// Drops keydir entries that expired before `now_ms`, visiting at most
    /// `budget` keys; returns how many were dropped.
    ///
    /// No tombstone is written: after a restart the record is still expired
    /// (and merge keeps an expired record for as long as an older record of
    /// its key may exist).
    pub fn reap_expired(&self, now_ms: u64, budget: usize) -> usize {
        let mut log = self.inner.log.borrow_mut();
        let mut cache = self.inner.cache.borrow_mut();
        self.inner
            .keydir
            .borrow_mut()
            .reap_expired(now_ms, budget, &mut |_key, entry, slot| {
                log.kill(entry);
                cache.remove_at(slot, entry.location);
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
        // Let a running merge or hint build stop, and keep new ones out.
        inner.stopping.set(true);
        inner.maintenance.notify();
        // A merge parked on the log notices `stopping` when woken.
        inner.waiters.wake_resolved(u64::MAX);
        let _permit = inner.maintenance_lock.acquire_permit(1).await;
        flusher::sync_all(inner).await
    }

    /// Seals the active log file (once its bytes are written) and starts a
    /// new one for the next write; nothing happens to an empty active file.
    pub fn roll_over(&self) -> Result<(), WriteError> {
        let mut log = self.inner.log.borrow_mut();
        if log.segments.back().is_some_and(|segment| segment.end() > 0) {
            log.roll_over(0)?;
        }
        drop(log);
        self.inner.flusher.notify();
        Ok(())
    }

    /// Merges log files now (in the low-priority maintenance queue) and
    /// waits for it; see `merge.rs` for how. `MergeMode::Auto` does nothing
    /// unless a threshold is reached.
    ///
    /// Errors: [`MergeError::Abandoned`] when another merge runs or a
    /// write failed meanwhile (nothing changed), [`MergeError::Storage`]
    /// for I/O errors of the merge.
    pub async fn merge(&self, mode: MergeMode) -> Result<MergeReport, MergeError> {
        let inner = self.inner.clone();
        let task = async move { merge::merge(&inner, mode, system_now_ms()).await };
        match self.inner.maintenance_queue {
            Some(queue) => {
                glommio::spawn_local_into(task, queue)
                    .map_err(|error| MergeError::Executor(error.to_string()))?
                    .await
            }
            None => task.await,
        }
    }

    /// Like [`Store::merge`] with an explicit clock (tests).
    pub async fn merge_at(&self, mode: MergeMode, now_ms: u64) -> Result<MergeReport, MergeError> {
        merge::merge(&self.inner, mode, now_ms).await
    }

    /// Writes hint files for sealed files that lack one, now; returns how
    /// many were written (the maintenance task does this by itself).
    pub async fn write_pending_hints(&self) -> Result<usize, StorageError> {
        maintenance::write_pending_hints(&self.inner, system_now_ms()).await
    }

    /// Per-file accounting: (file id, bytes of records, live bytes, size on disk).
    pub fn file_stats(&self) -> Vec<(u32, u64, u64, u64)> {
        self.inner
            .log
            .borrow()
            .stats
            .iter()
            .map(|(id, stat)| (*id, stat.total, stat.live, stat.disk))
            .collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StoreStats {
        let counters = &self.inner.counters;
        let log = self.inner.log.borrow();
        let cache = self.inner.cache.borrow();
        let sealed = |id: &u32| !log.is_unsealed(*id);
        let max_file_frag_percent = log
            .stats
            .iter()
            .filter(|(id, stat)| sealed(id) && stat.total > 0)
            .map(|(_, stat)| stat.dead() * 100 / stat.total)
            .max()
            .unwrap_or(0);
        StoreStats {
            keys: self.inner.keydir.borrow().len() as u64,
            live_bytes: log.stats.values().map(|stat| stat.live).sum(),
            dead_bytes: log.stats.values().map(FileStat::dead).sum(),
            bytes_written: counters.bytes_written.get(),
            bytes_read: counters.bytes_read.get(),
            reads: counters.reads.get(),
            writes: counters.writes.get(),
            syncs: counters.syncs.get(),
            records_flushed: counters.records_flushed.get(),
            files: log.files.len() as u64,
            disk_bytes: log.stats.values().map(|stat| stat.disk).sum(),
            used_disk: log.used_bytes(),
            max_disk: self.inner.max_disk.get().unwrap_or(0),
            disk_full_refusals: counters.disk_full_refusals.get(),
            cache_hits: counters.cache_hits.get(),
            cache_misses: counters.cache_misses.get(),
            cache_bytes: cache.bytes(),
            merges: counters.merges.get(),
            merge_reclaimed: counters.merge_reclaimed.get(),
            merge_ms: counters.merge_ms.get(),
            last_merge_ms: counters.last_merge_ms.get(),
            hints_written: counters.hints_written.get(),
            max_file_frag_percent,
        }
    }
}

/// Resolves once the log is durable up to `ticket`.
async fn wait_ticket(inner: &Inner, ticket: u64) -> Result<(), StorageError> {
    futures_lite::future::poll_fn(|cx| match inner.log.borrow().ticket_state(ticket) {
        Some(result) => Poll::Ready(result),
        None => {
            inner.waiters.register(ticket, cx);
            Poll::Pending
        }
    })
    .await
}

/// Waits until every write appended so far is resolved (synced under the
/// non-`Always` modes too); true if no flush failed since `rollbacks_before`.
async fn settle(inner: &Inner, rollbacks_before: u64) -> Result<bool, StorageError> {
    let target = inner.log.borrow().next_ticket;
    inner.flusher.notify();
    let _ = wait_ticket(inner, target).await;
    if inner.sync != SyncMode::Always {
        flusher::sync_all(inner).await?;
    }
    Ok(inner.counters.rollbacks.get() == rollbacks_before)
}

fn meta_of(entry: &Entry) -> EntryMeta {
    EntryMeta {
        value_len: entry.value_len,
        expire_at_ms: entry.expire_at_ms,
        version: Version(entry.location),
    }
}

fn corrupt(file: PathBuf, offset: u64, reason: String) -> ReadError {
    ReadError::Corrupt {
        file,
        offset,
        reason,
    }
}
