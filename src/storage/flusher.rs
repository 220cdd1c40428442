//! The background tasks of a store: the group-commit flusher and, for
//! `SyncMode::Batch`, the periodic syncer.
//!
//! The flusher loops: take everything buffered in the front segment (up to
//! [`MAX_FLUSH_BYTES`]), copy it into one aligned DMA buffer starting at the
//! tail block's aligned offset, issue one `write_at` and, under
//! `SyncMode::Always`, one `fdatasync`; then advance the acknowledged
//! position and wake every waiter. Appends that arrive while a write is in
//! flight land in the buffer and go out together in the next round: that
//! is the group commit, and the busier the shard, the bigger the batches.
//!
//! Two writes may be in flight at once, so the disk is never idle between
//! a write's completion and the next one's start. Two writes must never
//! share a block (the device may complete them in either order), so a
//! second goes out only where the first ends on a block boundary with no
//! padding: a flush of [`SPLIT_MIN`] bytes or more stops at its last whole
//! block and leaves the partial tail block to the next write. Writes are
//! acknowledged in log order, each once it and every write before it have
//! completed (and been synced). After a power cut a later write may have
//! reached the disk without an earlier one: its records were never
//! acknowledged, and recovery reports the zeros before them and serves them.
//!
//! Space is reserved ahead of the tail ([`RESERVE_STEP`]) so the writes
//! overwrite allocated blocks instead of extending the file.
//!
//! A failed write or sync fails every unacknowledged append (the ones in the
//! failed flush and everything buffered after it), once the writes still in
//! flight have landed: their keydir changes are undone newest first and the
//! buffer is rewound to the last acknowledged offset, so later writes can
//! still succeed and nothing acknowledged is lost.

use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::files::{data_file_path, open_active, os_err, sync_dir};
use super::io::LogFile;
use super::state::add;
use super::{Inner, StorageError, SyncMode};

/// Largest single flush; a bigger backlog goes out in several writes.
pub const MAX_FLUSH_BYTES: u64 = 8 << 20;
/// Space reserved ahead of the log's tail at a time. An O_DIRECT write that
/// extends a file takes ext4's inode lock exclusively and cannot be issued
/// without blocking, so io_uring hands it to a worker thread; a write into
/// reserved blocks is a plain overwrite (fio, 1 MiB appends at QD 4 on this
/// machine's ext4: 966-1,224 MB/s extending, 1,532-1,713 MB/s into a
/// reserved file). The reserve is given back when the file is sealed, and
/// at open.
const RESERVE_STEP: u64 = 16 << 20;
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

/// Log writes in flight at once, at most.
const MAX_IN_FLIGHT: usize = 2;
/// A flush longer than this goes out in pieces of this size (whole blocks),
/// up to [`MAX_IN_FLIGHT`] at once: the disk works on a group's pieces in
/// parallel instead of one long write (4 writers of 1 MiB values make 4 MiB
/// groups, which one write at a time runs at queue depth 1).
const PIECE_BYTES: u64 = 1 << 20;
/// A flush of at least this many bytes stops at its last whole block and
/// leaves the partial tail block to the next write, which can then go out
/// while this one is in flight (two writes never share a block). Smaller
/// flushes go out whole, one at a time, as before: one write per group.
const SPLIT_MIN: u64 = 64 << 10;

/// A log write (and under `SyncMode::Always` its fdatasync) in flight.
struct InFlight {
    /// The file written (always the front segment's).
    file_id: u32,
    /// End of the log data it carries.
    flush_end: u64,
    /// End of what it writes: the data, padded with zeros to a block.
    write_end: u64,
    /// The write, then the sync; the bytes written.
    task: glommio::Task<Result<usize, StorageError>>,
}

impl InFlight {
    /// True when a next write may start where this one ends: it wrote whole
    /// blocks of data and no padding.
    fn ends_on_a_block(&self) -> bool {
        self.write_end == self.flush_end
    }
}

/// The flusher task; runs until the store is dropped and everything is out.
pub(super) async fn run_flusher(inner: Rc<Inner>) {
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    loop {
        if in_flight.is_empty() {
            match next_job(&inner) {
                Job::Idle => {
                    if inner.shutdown.get() {
                        if let Err(error) = sync_all(&inner).await {
                            tracing::error!(shard = inner.shard_id, %error, "final sync failed");
                        }
                        break;
                    }
                    inner.flusher.wait().await;
                    continue;
                }
                Job::Open(file_id) => {
                    if let Err(error) = create_file(&inner, file_id).await {
                        fail_pending(&inner, &error);
                        if inner.shutdown.get() {
                            break;
                        }
                        glommio::timer::sleep(FAILURE_BACKOFF).await;
                    }
                    continue;
                }
                Job::Seal => {
                    seal_front(&inner).await;
                    continue;
                }
                Job::Flush => {}
            }
        }
        while in_flight.len() < MAX_IN_FLIGHT {
            reserve_ahead(&inner).await;
            match issue(&inner, in_flight.back()) {
                Some(op) => in_flight.push_back(op),
                None => break,
            }
        }
        // Wait for the oldest write; or, when another may go out beside it,
        // for new appends too.
        let may_add = in_flight.len() < MAX_IN_FLIGHT
            && in_flight.back().is_some_and(InFlight::ends_on_a_block);
        let Some(oldest) = in_flight.front_mut() else {
            continue;
        };
        let outcome = if may_add {
            let done = async { Some((&mut oldest.task).await) };
            let appended = async {
                inner.flusher.wait().await;
                None
            };
            futures_lite::future::or(done, appended).await
        } else {
            Some((&mut oldest.task).await)
        };
        let Some(result) = outcome else { continue };
        let op = in_flight.pop_front().expect("in flight");
        match result {
            Ok(written) => {
                add(&inner.counters.writes, 1);
                add(&inner.counters.bytes_written, written as u64);
                if inner.sync == SyncMode::Always {
                    add(&inner.counters.syncs, 1);
                }
                complete_flush(&inner, &op, !in_flight.is_empty());
            }
            Err(error) => {
                // Let the later writes land before rewinding over them.
                for later in in_flight.drain(..) {
                    let _ = later.task.await;
                }
                fail_pending(&inner, &error);
                // The store is gone: nobody can wait for a retry.
                if inner.shutdown.get() {
                    break;
                }
                glommio::timer::sleep(FAILURE_BACKOFF).await;
            }
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

/// Reserves file space beyond the front segment's buffered data, when the
/// reserve would not cover its next write. A filesystem that cannot reserve
/// (or is full) is simply written without: the writes extend the file.
async fn reserve_ahead(inner: &Inner) {
    let (file, file_id, target) = {
        let log = inner.log.borrow();
        let front = &log.segments[0];
        let needed = front
            .end()
            .min(front.written + MAX_IN_FLIGHT as u64 * MAX_FLUSH_BYTES)
            .next_multiple_of(log.alignment)
            .max(front.dirty_end);
        if needed <= front.reserved || front.reserved == u64::MAX {
            return;
        }
        let Some(file) = log.files.get(&front.file_id) else {
            return;
        };
        let limit = log
            .max_file_size
            .next_multiple_of(log.alignment)
            .max(needed);
        (
            file.clone(),
            front.file_id,
            (needed + RESERVE_STEP).min(limit),
        )
    };
    let reserved = match file.pre_allocate(target).await {
        Ok(()) => target,
        Err(error) => {
            tracing::debug!(shard = inner.shard_id, file = file_id, %error, "cannot reserve log space; appends extend the file");
            u64::MAX
        }
    };
    let mut log = inner.log.borrow_mut();
    if log.segments[0].file_id == file_id {
        log.segments[0].reserved = reserved;
    }
}

/// Starts the next write of the front segment, if one may go out: the
/// first when nothing is in flight, else one that starts where the newest
/// write in flight (`after`) ends on a block, when there is new data.
fn issue(inner: &Inner, after: Option<&InFlight>) -> Option<InFlight> {
    let mut log = inner.log.borrow_mut();
    let alignment = log.alignment;
    let front = &mut log.segments[0];
    let write_start = match after {
        None => front.written - front.written % alignment,
        Some(op) if op.file_id == front.file_id && op.ends_on_a_block() => op.flush_end,
        Some(_) => return None,
    };
    let data_end = front.end().min(write_start + MAX_FLUSH_BYTES);
    if after.is_some() && data_end <= write_start {
        return None;
    }
    let mut flush_end = data_end;
    let last_block = flush_end - flush_end % alignment;
    let piece_end = write_start + PIECE_BYTES;
    if flush_end > piece_end && front.dirty_end <= piece_end {
        // A big backlog goes out as pieces in flight together.
        flush_end = piece_end;
    } else if flush_end - write_start >= SPLIT_MIN
        && last_block > write_start
        && front.dirty_end <= last_block
    {
        flush_end = last_block;
    }
    // Cover whatever an earlier failed write may have left beyond the data
    // with zeros, so rolled-back records cannot be recovered.
    let write_end = flush_end.next_multiple_of(alignment).max(front.dirty_end);
    front.dirty_end = write_end;
    let data_len = (flush_end - write_start) as usize;
    let file_id = front.file_id;
    let file = log.files[&file_id].clone();
    let front = &log.segments[0];
    let mut buffer = file.alloc_buffer((write_end - write_start) as usize);
    let target = buffer.as_bytes_mut();
    let from = (write_start - front.start) as usize;
    target[..data_len].copy_from_slice(&front.bytes[from..from + data_len]);
    // The buffer is not zeroed; the padding must be, it marks end of data.
    target[data_len..].fill(0);
    let sync = inner.sync == SyncMode::Always;
    let task = glommio::spawn_local(async move {
        let written = file.write_at(buffer, write_start).await.map_err(os_err)?;
        if (written as u64) < flush_end - write_start {
            return Err(StorageError::WriteFailed(format!(
                "short write: {written} of {} bytes",
                flush_end - write_start
            )));
        }
        if sync {
            file.fdatasync().await.map_err(os_err)?;
        }
        Ok(written)
    });
    Some(InFlight {
        file_id,
        flush_end,
        write_end,
        task,
    })
}

/// Advances the acknowledged position after write `op` succeeded (and
/// every write before it). With `more` writes in flight, the bytes beyond
/// it stay buffered and `dirty_end` stays where they reach.
fn complete_flush(inner: &Inner, op: &InFlight, more: bool) {
    let mut log = inner.log.borrow_mut();
    let alignment = log.alignment;
    let front = &mut log.segments[0];
    debug_assert_eq!(front.file_id, op.file_id);
    let flush_end = op.flush_end;
    front.written = flush_end;
    front.acked = flush_end;
    if !more {
        front.dirty_end = flush_end.next_multiple_of(alignment);
    }
    let ticket = front.ticket_at(flush_end);
    // Keep only the tail block; it is rewritten by the next flush.
    let keep_from = flush_end - flush_end % alignment;
    front.bytes.drain(..(keep_from - front.start) as usize);
    front.start = keep_from;
    let stat = log.stat(op.file_id);
    stat.disk = stat.disk.max(op.write_end);
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
    let (reserved, disk) = {
        let log = inner.log.borrow();
        let disk = log.stats.get(&file_id).map_or(0, |stat| stat.disk);
        (log.segments[0].reserved, disk)
    };
    if reserved != u64::MAX && reserved > disk {
        // Give the reserve back; a failure leaves zeros past the data,
        // which readers and recovery take as its end.
        if let Err(error) = file.truncate(disk).await {
            tracing::warn!(shard = inner.shard_id, file = file_id, %error, "cannot give back reserved log space");
        }
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

/// Under `SyncMode::Batch`: fdatasyncs the active file every `interval` when
/// something was written since the last sync. Ends with the store.
pub(super) async fn run_batch_syncer(inner: Weak<Inner>, interval: Duration) {
    loop {
        glommio::timer::sleep(interval).await;
        let Some(inner) = inner.upgrade() else { break };
        if inner.shutdown.get() {
            break;
        }
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
