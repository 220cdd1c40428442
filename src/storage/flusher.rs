//! The background tasks of a store: the group-commit flusher and, for
//! `SyncMode::Batch`, the periodic syncer.
//!
//! The flusher loops: take everything buffered in the front segment (up to
//! [`MAX_FLUSH_BYTES`]), copy it into one aligned DMA buffer starting at the
//! tail block's aligned offset, issue one `write_at` and, under
//! `SyncMode::Always`, one `fdatasync`; then advance the acknowledged
//! position and wake every waiter. Appends that arrive while a write is in
//! flight simply land in the buffer and go out together in the next round:
//! that is the group commit, and the busier the shard, the bigger the
//! batches.
//!
//! A write is not atomic: after a power cut (or a kill mid-write) some of
//! its sectors may be on disk and others not, so records it carries can
//! follow a hole of zeros. None of them was acknowledged; recovery
//! truncates the active file at the hole (a torn tail, see `recovery.rs`).
//!
//! A failed write or sync fails every unacknowledged append (the ones in the
//! failed flush and everything buffered after it): their keydir changes are
//! undone newest first and the buffer is rewound to the last acknowledged
//! offset, so later writes can still succeed and nothing acknowledged is
//! lost.

use std::rc::{Rc, Weak};
use std::time::Duration;

use super::files::{data_file_path, open_active, os_err, sync_dir};
use super::io::LogFile;
use super::state::add;
use super::{Inner, StorageError, SyncMode};

/// Largest single flush; a bigger backlog goes out in several writes.
pub const MAX_FLUSH_BYTES: u64 = 8 << 20;
/// Bytes of log the write in flight can span, at most: one write at a
/// time, starting at the block of the acknowledged end, carrying at most
/// [`MAX_FLUSH_BYTES`] of data. Recovery's torn-tail rule rests on this.
pub(super) const IN_FLIGHT_SPAN: u64 = MAX_FLUSH_BYTES;
/// Pause after a failed flush so a full disk does not turn into a busy loop.
const FAILURE_BACKOFF: Duration = Duration::from_millis(10);

/// What the flusher does next.
enum Job {
    /// The front segment's file does not exist yet: create it.
    Open(u32),
    /// The front segment has unwritten bytes.
    Flush,
    /// The front segment is fully written and a newer file follows: retire it.
    Seal,
    /// Nothing to do.
    Idle,
}

fn next_job(inner: &Inner) -> Job {
    let log = inner.log.borrow();
    let front = &log.segments[0];
    let dirty = front.dirty_end > front.written.next_multiple_of(log.alignment);
    if front.end() > front.written || dirty {
        if log.files.contains_key(&front.file_id) {
            Job::Flush
        } else {
            Job::Open(front.file_id)
        }
    } else if log.segments.len() > 1 {
        Job::Seal
    } else {
        Job::Idle
    }
}

/// The flusher task; runs until the store is dropped and everything is out.
pub(super) async fn run_flusher(inner: Rc<Inner>) {
    loop {
        match next_job(&inner) {
            Job::Idle => {
                if inner.shutdown.get() {
                    if let Err(error) = sync_all(&inner).await {
                        tracing::error!(shard = inner.shard_id, %error, "final sync failed");
                    }
                    break;
                }
                inner.flusher.wait().await;
            }
            Job::Open(file_id) => {
                if let Err(error) = create_file(&inner, file_id).await {
                    fail_pending(&inner, &error);
                    if inner.shutdown.get() {
                        break;
                    }
                    glommio::timer::sleep(FAILURE_BACKOFF).await;
                }
            }
            Job::Flush => {
                if let Err(error) = flush_front(&inner).await {
                    fail_pending(&inner, &error);
                    // The store is gone: nobody can wait for a retry.
                    if inner.shutdown.get() {
                        break;
                    }
                    glommio::timer::sleep(FAILURE_BACKOFF).await;
                }
            }
            Job::Seal => seal_front(&inner).await,
        }
    }
}

async fn create_file(inner: &Inner, file_id: u32) -> Result<(), StorageError> {
    let path = data_file_path(&inner.dir, file_id);
    let file = open_active(&inner.backend, &path).await?;
    if inner.sync != SyncMode::Never {
        sync_dir(&inner.backend, &inner.dir).await?;
    }
    let mut log = inner.log.borrow_mut();
    log.files.insert(file_id, file);
    log.stat(file_id);
    Ok(())
}

/// One group-commit round on the front segment.
async fn flush_front(inner: &Inner) -> Result<(), StorageError> {
    let (file, file_id, write_start, flush_end, buffer) = {
        let mut log = inner.log.borrow_mut();
        let alignment = log.alignment;
        let front = &mut log.segments[0];
        let write_start = front.written - front.written % alignment;
        let flush_end = front.end().min(write_start + MAX_FLUSH_BYTES);
        let data_len = (flush_end - write_start) as usize;
        // Cover whatever an earlier failed write may have left beyond the
        // data with zeros, so rolled-back records cannot be recovered.
        let aligned_end = (write_start + data_len as u64)
            .next_multiple_of(alignment)
            .max(front.dirty_end);
        let aligned_len = (aligned_end - write_start) as usize;
        front.dirty_end = aligned_end;
        let file_id = front.file_id;
        let file = log.files[&file_id].clone();
        let front = &log.segments[0];
        let mut buffer = file.alloc_buffer(aligned_len);
        let target = buffer.as_bytes_mut();
        let from = (write_start - front.start) as usize;
        target[..data_len].copy_from_slice(&front.bytes[from..from + data_len]);
        // The buffer is not zeroed; the padding must be, it marks end of data.
        target[data_len..].fill(0);
        (file, front.file_id, write_start, flush_end, buffer)
    };
    let aligned_len = buffer.len() as u64;
    let written = file.write_at(buffer, write_start).await.map_err(os_err)?;
    inner.counters.writes.set(inner.counters.writes.get() + 1);
    add(&inner.counters.bytes_written, written as u64);
    if (written as u64) < flush_end - write_start {
        return Err(StorageError::WriteFailed(format!(
            "short write: {written} of {} bytes",
            flush_end - write_start
        )));
    }
    if inner.sync == SyncMode::Always {
        file.fdatasync().await.map_err(os_err)?;
        add(&inner.counters.syncs, 1);
    }
    complete_flush(inner, file_id, flush_end, write_start + aligned_len);
    Ok(())
}

/// Advances the acknowledged position after a successful flush.
fn complete_flush(inner: &Inner, file_id: u32, flush_end: u64, disk_end: u64) {
    let mut log = inner.log.borrow_mut();
    let alignment = log.alignment;
    let front = &mut log.segments[0];
    front.written = flush_end;
    front.acked = flush_end;
    front.dirty_end = flush_end.next_multiple_of(alignment);
    let ticket = front.ticket_at(flush_end);
    // Keep only the tail block; it is rewritten by the next flush.
    let keep_from = flush_end - flush_end % alignment;
    front.bytes.drain(..(keep_from - front.start) as usize);
    front.start = keep_from;
    let stat = log.stat(file_id);
    stat.disk = stat.disk.max(disk_end);
    log.resolved_ticket = log.resolved_ticket.max(ticket);
    let mut records = 0;
    while log
        .undo
        .front()
        .is_some_and(|undo| undo.ticket <= log.resolved_ticket)
    {
        log.undo.pop_front();
        records += 1;
    }
    let resolved = log.resolved_ticket;
    drop(log);
    add(&inner.counters.records_flushed, records);
    if matches!(inner.sync, SyncMode::Batch { .. }) {
        inner.batch_dirty.set(true);
    }
    inner.waiters.wake_resolved(resolved);
}

/// Fails every unacknowledged append and rewinds to the acknowledged state.
pub(super) fn fail_pending(inner: &Inner, error: &StorageError) {
    let message = error.to_string();
    let mut log = inner.log.borrow_mut();
    let mut keydir = inner.keydir.borrow_mut();
    let front_file = log.segments[0].file_id;
    tracing::error!(
        shard = inner.shard_id, file = front_file, %error, pending = log.undo.len(),
        "log flush failed; unacknowledged writes fail and are rolled back"
    );
    log.fail_pending(&message);
    add(&inner.counters.rollbacks, 1);
    let next_ticket = log.next_ticket;
    let dropped = log.segments.split_off(1);
    let front = &mut log.segments[0];
    front.bytes.truncate((front.acked - front.start) as usize);
    front.written = front.acked;
    front.end_ticket = next_ticket;
    while let Some(undo) = log.undo.pop_back() {
        log.undo(undo, &mut keydir);
    }
    // The cache is keyed by record location, and the rewound locations will
    // be written again with other records: forget everything (this is rare).
    inner.cache.borrow_mut().clear();
    for segment in dropped {
        // Files of later segments were never created; forget their accounting.
        if !log.files.contains_key(&segment.file_id) {
            log.stats.remove(&segment.file_id);
        }
    }
    let resolved = log.resolved_ticket;
    drop((log, keydir));
    inner.waiters.wake_resolved(resolved);
}

/// Retires a fully written front segment whose file is followed by a newer one.
async fn seal_front(inner: &Inner) {
    let (file_id, file) = {
        let log = inner.log.borrow();
        let file_id = log.segments[0].file_id;
        (file_id, log.files[&file_id].clone())
    };
    match inner.sync {
        // Every flush of it was synced already.
        SyncMode::Always => {}
        SyncMode::Batch { .. } => {
            // Acknowledged already; a failure here can only be reported.
            match file.fdatasync().await {
                Ok(()) => add(&inner.counters.syncs, 1),
                Err(error) => {
                    tracing::error!(shard = inner.shard_id, file = file_id, %error, "sync of sealed log file failed")
                }
            }
        }
        SyncMode::Never => inner.log.borrow_mut().unsynced_sealed.push(file_id),
    }
    let mut log = inner.log.borrow_mut();
    log.segments.pop_front();
    let resolved = log.resolved_ticket;
    drop(log);
    inner.unhinted.borrow_mut().push(file_id);
    inner.maintenance.notify();
    inner.waiters.wake_resolved(resolved);
}

/// fdatasyncs the active file and any sealed file never synced.
pub(super) async fn sync_all(inner: &Inner) -> Result<(), StorageError> {
    let files: Vec<Rc<LogFile>> = {
        let mut log = inner.log.borrow_mut();
        let mut ids = std::mem::take(&mut log.unsynced_sealed);
        ids.push(log.segments[0].file_id);
        ids.iter()
            .filter_map(|id| log.files.get(id).cloned())
            .collect()
    };
    for file in files {
        file.fdatasync().await.map_err(os_err)?;
        add(&inner.counters.syncs, 1);
    }
    Ok(())
}

/// Under `SyncMode::Batch`: fdatasyncs the active file every
/// `batch_interval` when something was written since the last sync. Ends
/// with the store. The interval is read again at least once a second
/// (CONFIG SET sync-interval-ms may change it), so a change applies within
/// a second rather than after the old interval.
pub(super) async fn run_batch_syncer(inner: Weak<Inner>) {
    let mut last_sync = std::time::Instant::now();
    while let Some(interval) = inner.upgrade().map(|inner| inner.batch_interval.get()) {
        let elapsed = last_sync.elapsed();
        if elapsed < interval {
            glommio::timer::sleep((interval - elapsed).min(Duration::from_secs(1))).await;
        }
        let Some(inner) = inner.upgrade() else { break };
        if inner.shutdown.get() {
            break;
        }
        if last_sync.elapsed() < inner.batch_interval.get() {
            continue;
        }
        last_sync = std::time::Instant::now();
        if !inner.batch_dirty.replace(false) {
            continue;
        }
        let file = {
            let log = inner.log.borrow();
            log.files.get(&log.segments[0].file_id).cloned()
        };
        let Some(file) = file else { continue };
        match file.fdatasync().await {
            Ok(()) => add(&inner.counters.syncs, 1),
            Err(error) => {
                inner.batch_dirty.set(true);
                tracing::warn!(shard = inner.shard_id, %error, "periodic log sync failed");
            }
        }
    }
}
