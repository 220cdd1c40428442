//! The background tasks of a store: the group-commit flusher and, for
//! `SyncMode::Batch`, the periodic syncer.
//!
//! The flusher loops: take everything buffered in the front segment (up to
//! [`MAX_FLUSH_BYTES`]): the aligned DMA buffers the records were encoded
//! into, from the tail block's aligned offset on; issue their writes together and, under
//! `SyncMode::Always`, one `fdatasync`; then advance the acknowledged
//! position and wake every waiter. A small round under `SyncMode::Always`
//! goes out as one write linked to its sync instead (see [`linked_round`]).
//! Appends that arrive while a write is in
//! flight simply land in the buffer and go out together in the next round:
//! that is the group commit, and the busier the shard, the bigger the
//! batches. Big appends that share no block with the round in flight go
//! out at once as a second round (see [`flush_rounds`]).
//!
//! Log space is reserved ahead of the tail ([`reserve_ahead`]): while the
//! writes are small, the file is written with zeros ahead of them, so each
//! write overwrites written blocks; while they are big, its blocks are
//! allocated ahead (fallocate). Either way an append does not extend the
//! file, and the kernel completes it without a worker thread.
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

use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::Duration;

use super::files::{data_file_path, open_active, os_err, sync_dir};
use super::io::{LogFile, SharedBuf};
use super::state::add;
use super::{Inner, StorageError, SyncMode};
use crate::net::direct::DirectReader;

/// Largest single flush; a bigger backlog goes out in several writes.
pub const MAX_FLUSH_BYTES: u64 = 8 << 20;
/// Bytes of log the writes in flight can span, at most: two rounds (see
/// [`flush_rounds`]), the first starting at the block of the acknowledged
/// end, the second at the block the first ends in, each carrying at most
/// [`MAX_FLUSH_BYTES`] of data. Recovery's torn-tail rule rests on this.
pub(super) const IN_FLIGHT_SPAN: u64 = 2 * MAX_FLUSH_BYTES;

/// Zeros written ahead of the log's tail at a time (see [`reserve_ahead`]);
/// a new step starts when less than half of one is left. They are given
/// back (truncated) when the file is sealed, and at open.
const RESERVE_STEP: u64 = 8 << 20;
/// No zeros are written ahead on a filesystem with less free space than
/// this: near a full disk the space goes to data (the zeros would fail the
/// log's own writes with ENOSPC while they hold it).
const RESERVE_MIN_FREE: u64 = 32 * RESERVE_STEP;
/// Size of each write of zeros.
const ZERO_CHUNK: u64 = 1 << 20;
/// Blocks allocated ahead of the log's tail at a time while its writes are
/// big (see [`reserve_ahead`]); a new step starts when less than half of
/// one is left.
const ALLOCATE_STEP: u64 = 32 << 20;
/// Zeros are written ahead only while the backlog a flush finds is smaller
/// than this: bigger writes are bound by the disk's bandwidth, which the
/// zeros would share (1 MiB SETs at QD 4, `--sync batch`: 610-693 MB/s
/// with zeros ahead against 896-928 MB/s without, on this machine).
const ZERO_MAX_BACKLOG: u64 = 64 << 10;
/// Largest write of zeros over what a failed flush left.
const MAX_ZERO_WRITE: u64 = 1 << 20;
/// Rounds up to this size are one write linked to its sync (see
/// [`linked_round`]): the small-writes regime of [`ZERO_MAX_BACKLOG`].
const LINKED_ROUND_MAX: u64 = ZERO_MAX_BACKLOG;
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
    let mut zeroing: Option<Zeroing> = None;
    loop {
        match next_job(&inner) {
            Job::Idle => {
                if inner.shutdown.get() {
                    finish_zeroing(&inner, &mut zeroing).await;
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
                if let Err(error) = flush_rounds(&inner, &mut zeroing).await {
                    fail_pending(&inner, &error);
                    // The store is gone: nobody can wait for a retry.
                    if inner.shutdown.get() {
                        break;
                    }
                    glommio::timer::sleep(FAILURE_BACKOFF).await;
                }
            }
            Job::Seal => {
                finish_zeroing(&inner, &mut zeroing).await;
                seal_front(&inner).await;
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

/// Zeros being written, or blocks being allocated, ahead of the log's tail
/// (see [`reserve_ahead`]).
struct Zeroing {
    /// The file they go to (the front segment's when they started).
    file_id: u32,
    /// Where they start: past every log write issued.
    start: u64,
    /// Where they end; the front's `reserved` once they have landed.
    end: u64,
    /// The writes of zeros, 1 MiB at a time, or the one fallocate.
    task: glommio::Task<std::io::Result<()>>,
    /// Blocks are allocated, not written: no zeros can land on data, so
    /// log writes need not wait for them.
    allocate: bool,
    /// Set by the task when it is done.
    done: Rc<std::cell::Cell<bool>>,
}

/// Keeps the log file written with zeros ahead of its tail while the log's
/// writes are small, so each of them overwrites written blocks: ext4 can
/// then complete the O_DIRECT write without a worker thread (no block
/// allocation, no unwritten-extent conversion, no size change) and its
/// sync has no metadata to journal. The zeros go out in the background,
/// [`RESERVE_STEP`] at a time starting past every write issued; a log write
/// that would reach past the zeros already landed waits for those in
/// flight first, so zeros never land on data.
///
/// Big writes (a backlog of [`ZERO_MAX_BACKLOG`] or more) are bound by the
/// disk's bandwidth, which the zeros would share: for them the blocks are
/// allocated instead ([`ALLOCATE_STEP`] at a time, one fallocate in the
/// background). Writes into allocated blocks complete without a worker
/// thread too (they convert the blocks to written ones, which a sync
/// then journals); appends that extend the file went through ext4's
/// worker thread for every write (1 MiB SETs at QD 4: 0.54 writes per SET,
/// every one queued to io-wq).
/// The simulated disk has no blocks to lay out: nothing is reserved there,
/// nor on a filesystem with less than [`RESERVE_MIN_FREE`] free. A failure
/// gives the partial zeros back and stops reserving for this file: its
/// writes extend it.
async fn reserve_ahead(inner: &Inner, zeroing: &mut Option<Zeroing>) {
    /// What the log's state calls for.
    enum Plan {
        Nothing,
        /// The next write reaches past the zeros landed: wait for those in flight.
        Finish,
        /// Start zeros (or an allocation) on this file from `start` to `target`.
        Start {
            file: Rc<LogFile>,
            file_id: u32,
            start: u64,
            target: u64,
            allocate: bool,
        },
    }
    if !inner.backend.is_dma() {
        return;
    }
    if zeroing
        .as_ref()
        .is_some_and(|zeroing| zeroing.allocate && zeroing.done.get())
    {
        finish_zeroing(inner, zeroing).await;
    }
    let plan = {
        let log = inner.log.borrow();
        let front = &log.segments[0];
        let needed = front
            .end()
            .min(front.written - front.written % log.alignment + IN_FLIGHT_SPAN)
            .next_multiple_of(log.alignment)
            .max(front.dirty_end);
        let limit = log.max_file_size.next_multiple_of(log.alignment);
        let allocate = front.end() - front.written >= ZERO_MAX_BACKLOG;
        let step = if allocate {
            ALLOCATE_STEP
        } else {
            RESERVE_STEP
        };
        let start = needed.max(front.reserved);
        let target = (start + step).min(limit);
        if front.reserved == u64::MAX || needed + step / 2 <= front.reserved {
            Plan::Nothing
        } else if let Some(zeroing) = zeroing {
            if needed > front.reserved && !zeroing.allocate {
                Plan::Finish
            } else {
                Plan::Nothing
            }
        } else if target <= start
            || free_bytes(&inner.dir).is_none_or(|free| free < RESERVE_MIN_FREE)
        {
            Plan::Nothing
        } else {
            match log.files.get(&front.file_id) {
                Some(file) => Plan::Start {
                    file: file.clone(),
                    file_id: front.file_id,
                    start,
                    target,
                    allocate,
                },
                None => Plan::Nothing,
            }
        }
    };
    let (file, file_id, start, target, allocate) = match plan {
        Plan::Nothing => return,
        Plan::Finish => return finish_zeroing(inner, zeroing).await,
        Plan::Start {
            file,
            file_id,
            start,
            target,
            allocate,
        } => (file, file_id, start, target, allocate),
    };
    let done = Rc::new(std::cell::Cell::new(false));
    let task_done = done.clone();
    let task = if allocate {
        glommio::spawn_local(async move {
            let result = file.allocate(target).await;
            task_done.set(true);
            result
        })
    } else {
        glommio::spawn_local(async move {
            // One buffer of zeros, filled once, goes out as every chunk of the
            // step (a fill per chunk cost one store per byte of log written).
            let mut zeros: Option<SharedBuf> = None;
            let mut at = start;
            while at < target {
                let len = (target - at).min(ZERO_CHUNK);
                let chunk = match &zeros {
                    Some(zeros) if zeros.len() as u64 == len => zeros.clone(),
                    _ => {
                        let mut buffer = file.alloc_buffer(len as usize);
                        buffer.as_bytes_mut().fill(0);
                        zeros.insert(buffer.share()).clone()
                    }
                };
                let written = file.write_shared_at(&chunk, at).await?;
                if written as u64 != len {
                    return Err(std::io::Error::other("short write of zeros"));
                }
                at += len;
            }
            task_done.set(true);
            Ok(())
        })
    };
    *zeroing = Some(Zeroing {
        file_id,
        start,
        end: target,
        task,
        allocate,
        done,
    });
}

/// Bytes free for an unprivileged user on the filesystem holding `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stat` is writable memory of the
    // right type for the call to fill.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    (rc == 0).then(|| {
        // SAFETY: statvfs returned 0, so it filled `stat`.
        let stat = unsafe { stat.assume_init() };
        stat.f_bavail.saturating_mul(stat.f_frsize)
    })
}

/// Waits for the zeros in flight, if any, and records how far they reach.
async fn finish_zeroing(inner: &Inner, zeroing: &mut Option<Zeroing>) {
    let Some(done) = zeroing.take() else { return };
    let result = done.task.await;
    let file = {
        let mut log = inner.log.borrow_mut();
        let is_front = log.segments[0].file_id == done.file_id;
        match &result {
            Ok(()) => {
                if is_front {
                    log.segments[0].reserved = done.end;
                }
                return;
            }
            Err(error) => {
                tracing::debug!(shard = inner.shard_id, file = done.file_id, %error, "cannot reserve space ahead of the log; its writes extend the file");
                if is_front {
                    log.segments[0].reserved = u64::MAX;
                }
                // Log writes went on past an allocation in flight: nothing
                // to cut here (the seal gives back what it left).
                if done.allocate {
                    return;
                }
                log.files.get(&done.file_id).cloned()
            }
        }
    };
    // No log write reaches past `start` while zeros are in flight.
    if let Some(file) = file
        && let Err(error) = file.truncate(done.start).await
    {
        tracing::warn!(shard = inner.shard_id, file = done.file_id, %error, "cannot give back partial zeros");
    }
}

/// Where a round in flight writes (see [`Round`]).
#[derive(Clone, Copy)]
struct Span {
    /// End of the data it carries.
    flush_end: u64,
    /// `flush_end` padded to the block.
    padded_end: u64,
    /// End of everything it writes: zeros over what an earlier failed
    /// write left may reach past `padded_end`.
    disk_end: u64,
}

/// A group-commit round on the front segment, its writes issued.
///
/// A round writes the segment's unwritten chunks (see `log.rs`'s
/// `Chunk`), up to [`MAX_FLUSH_BYTES`], each from its own buffer, all in
/// flight together: each is at most 1 MiB, and the device serves several
/// writes in parallel where one big write is one request at a time (fio,
/// 1 MiB writes at QD 4 against 4 MiB writes at QD 1 into the same laid-out
/// file: 2.6-3.0 GB/s against 1.3 GB/s on this machine). The last one is
/// sealed padded with zeros to its block. They cover disjoint blocks, so
/// their order does not matter; the round is acknowledged when all are
/// written (and synced), and after the round before it.
///
/// Two rounds may be in flight (see [`flush_rounds`]); they share no
/// block.
struct Round<'a> {
    file: Rc<LogFile>,
    file_id: u32,
    span: Span,
    /// The writes issued, with the bytes each must write.
    writes: Vec<(Write<'a>, usize)>,
    /// One write linked to its sync (see [`linked_round`]): synced once written.
    linked: bool,
}

/// A log write in flight.
type Write<'a> = Pin<Box<dyn Future<Output = std::io::Result<usize>> + 'a>>;

/// Group-commit rounds on the front segment until nothing is left to
/// write, with up to two rounds in flight.
///
/// While round k is in flight, appends that start at a block round k does
/// not write (a big record after round k is padded to the next block, see
/// `log.rs`) start round k+1 at once instead of waiting for round k: at
/// 1 MiB SETs from 4 connections, one round at a time left the device with
/// no log write in flight 6-16% of the time and one 17-30%. (Holding back
/// only round k+1's rewrite of round k's tail block gained nothing: that
/// small write took another device round trip, ~1 ms here, after round k.)
/// Appends that would rewrite round k's tail block wait for it. Rounds are
/// acknowledged in order; when round k fails, round k+1's writes are
/// awaited before everything unacknowledged is rolled back, and
/// `dirty_end` covers both rounds so the next round overwrites whatever
/// they left with zeros. Every write in flight thus lies within two
/// rounds of the acknowledged end's block: recovery's [`IN_FLIGHT_SPAN`].
async fn flush_rounds(inner: &Inner, zeroing: &mut Option<Zeroing>) -> Result<(), StorageError> {
    let direct = inner.direct.borrow().clone();
    let writer = direct.as_deref();
    reserve_ahead(inner, zeroing).await;
    let Some(mut current) = start_round(inner, writer, None) else {
        return Ok(());
    };
    loop {
        let (span, file_id) = (current.span, current.file_id);
        let mut next: Option<Round<'_>> = None;
        let mut finish = std::pin::pin!(finish_round(inner, current));
        let result = loop {
            if next.is_none() && can_overlap(inner, &span) {
                reserve_ahead(inner, zeroing).await;
                next = start_round(inner, writer, Some(&span));
            }
            // The round, or (with no next round yet) new appends.
            let done = futures_lite::future::poll_fn(|cx| {
                if let Poll::Ready(result) = finish.as_mut().poll(cx) {
                    return Poll::Ready(Some(result));
                }
                if next.is_none() && inner.flusher.poll_wait(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await;
            if let Some(result) = done {
                break result;
            }
        };
        if let Err(error) = result {
            if let Some(next) = next {
                // Its writes may still land: wait, so the rollback's zeros
                // (up to `dirty_end`) go out after them.
                let _ = await_writes(inner, next.writes).await;
            }
            return Err(error);
        }
        complete_flush(
            inner,
            file_id,
            &span,
            next.as_ref().map(|next| next.span.disk_end),
        );
        current = match next {
            Some(next) => next,
            None => {
                reserve_ahead(inner, zeroing).await;
                match start_round(inner, writer, None) {
                    Some(round) => round,
                    None => return Ok(()),
                }
            }
        };
    }
}

/// Whether round k+1 may start while `before` (round k) is in flight:
/// appends wait past it, the first of them in a block after every block
/// round k writes.
fn can_overlap(inner: &Inner, before: &Span) -> bool {
    let log = inner.log.borrow();
    let front = &log.segments[0];
    front.end() > before.padded_end
        && front
            .chunks
            .iter()
            .find(|chunk| !chunk.is_sealed() && chunk.len > 0)
            .is_some_and(|chunk| chunk.start >= before.disk_end)
}

/// Takes the front segment's unwritten chunks (and zeros up to its
/// `dirty_end`) into a round and issues its writes; `before` is the round
/// still in flight, if any. `None` when there is nothing to write.
fn start_round<'a>(
    inner: &Inner,
    writer: Option<&'a dyn DirectReader>,
    before: Option<&Span>,
) -> Option<Round<'a>> {
    let (file, file_id, span, pieces) = {
        let mut log = inner.log.borrow_mut();
        let alignment = log.alignment;
        let front = &mut log.segments[0];
        let mut pieces = Vec::new();
        let mut flush_end = before.map_or(front.written, |before| before.flush_end);
        let mut bytes = 0u64;
        let unwritten = front.chunks.iter_mut();
        for chunk in unwritten.filter(|chunk| !chunk.is_sealed() && chunk.len > 0) {
            if bytes > 0 && bytes + chunk.len as u64 > MAX_FLUSH_BYTES {
                break;
            }
            bytes += chunk.len as u64;
            flush_end = chunk.end();
            pieces.push((chunk.start, chunk.seal(alignment)));
        }
        // Cover whatever an earlier failed write may have left beyond the
        // data with zeros, so rolled-back records cannot be recovered.
        let padded_end = flush_end.next_multiple_of(alignment);
        let disk_end = padded_end.max(front.dirty_end);
        front.dirty_end = disk_end;
        let file_id = front.file_id;
        let file = log.files[&file_id].clone();
        let mut at = padded_end;
        while at < disk_end {
            let len = (disk_end - at).min(MAX_ZERO_WRITE);
            let mut zeros = file.alloc_buffer(len as usize);
            zeros.as_bytes_mut().fill(0);
            pieces.push((at, zeros.share()));
            at += len;
        }
        let span = Span {
            flush_end,
            padded_end,
            disk_end,
        };
        (file, file_id, span, pieces)
    };
    if pieces.is_empty() {
        return None;
    }
    let mut round = Round {
        file,
        file_id,
        span,
        writes: Vec::new(),
        linked: false,
    };
    match (before, writer) {
        (None, Some(writer)) if linked_round(inner, &pieces) => {
            let start = pieces[0].0;
            let bufs: Vec<SharedBuf> = pieces.into_iter().map(|(_, buffer)| buffer).collect();
            let want = bufs.iter().map(SharedBuf::len).sum();
            round
                .writes
                .push((round.file.write_and_sync_direct(writer, &bufs, start), want));
            round.linked = true;
        }
        _ => {
            for (pos, buffer) in pieces {
                let len = buffer.len();
                round
                    .writes
                    .push((issue_write(writer, &round.file, pos, buffer), len));
            }
        }
    }
    Some(round)
}

/// Issues one write of a round.
fn issue_write<'a>(
    writer: Option<&'a dyn DirectReader>,
    file: &Rc<LogFile>,
    pos: u64,
    buffer: SharedBuf,
) -> Write<'a> {
    // On the shard's socket ring when it has one: no task per write, and
    // completions wait for the ring's next enter instead of interrupting
    // the shard (glommio's ring raises an IPI per completion).
    match writer {
        Some(writer) => file.write_shared_direct(writer, &buffer, pos),
        None => {
            let file = file.clone();
            Box::pin(glommio::spawn_local(async move {
                file.write_shared_at(&buffer, pos).await
            }))
        }
    }
}

/// Waits for a round's writes, then syncs them (`SyncMode::Always`).
async fn finish_round(inner: &Inner, round: Round<'_>) -> Result<(), StorageError> {
    await_writes(inner, round.writes).await?;
    if round.linked {
        add(&inner.counters.syncs, 1);
    } else if inner.sync == SyncMode::Always {
        round.file.fdatasync().await.map_err(os_err)?;
        add(&inner.counters.syncs, 1);
    }
    Ok(())
}

/// Waits for every write; the first failure (or short write) is the error.
async fn await_writes(inner: &Inner, writes: Vec<(Write<'_>, usize)>) -> Result<(), StorageError> {
    let mut failure = None;
    for (write, len) in writes {
        match write.await {
            Ok(written) => {
                if let Some(error) = count_write(inner, written, len) {
                    failure.get_or_insert(error);
                }
            }
            Err(error) => {
                failure.get_or_insert(os_err(error));
            }
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Counts a completed write of `written` bytes out of `len` in the
/// store's figures; a short one is the round's error.
fn count_write(inner: &Inner, written: usize, len: usize) -> Option<StorageError> {
    inner.counters.writes.set(inner.counters.writes.get() + 1);
    add(&inner.counters.bytes_written, written as u64);
    (written < len)
        .then(|| StorageError::WriteFailed(format!("short write: {written} of {len} bytes")))
}

/// Whether a round goes out as one write linked to its sync on the
/// shard's socket ring ([`LogFile::write_and_sync_direct`]): under
/// `SyncMode::Always`, rounds of at most [`LINKED_ROUND_MAX`] whose pieces
/// are contiguous (the tail block, the chunk after it, any zeros).
///
/// Every writer of such a round waits for it. Written piece by piece and
/// then synced, a round cost an operation per piece (1.9 device writes per
/// round at SET P1), a wake-up of this task per write and per sync (each a
/// park and wake of the executor when idle: a dozen system calls) and
/// completions delivered by glommio's ring as task work (an IPI when the
/// shard was busy). Linked, it is one device write and one wake-up, and
/// the shard never waits for the device itself: a blocking `pwritev` saved
/// as much CPU but held every other connection of the shard for the
/// device's write latency (fio psync 8 KiB O_DIRECT writes here: 124 us
/// mean, 1.8 ms p99), which a mixed GET/SET workload's p99 paid.
fn linked_round(inner: &Inner, pieces: &[(u64, SharedBuf)]) -> bool {
    let bytes: u64 = pieces.iter().map(|(_, buffer)| buffer.len() as u64).sum();
    inner.sync == SyncMode::Always
        && bytes <= LINKED_ROUND_MAX
        && !pieces.is_empty()
        && pieces.len() <= libc::UIO_MAXIOV as usize
        && pieces
            .windows(2)
            .all(|pair| pair[0].0 + pair[0].1.len() as u64 == pair[1].0)
}

/// Advances the acknowledged position after a successful round; `ahead`
/// is the end of the next round's writes when one is in flight.
fn complete_flush(inner: &Inner, file_id: u32, span: &Span, ahead: Option<u64>) {
    let (flush_end, disk_end) = (span.flush_end, span.disk_end);
    let mut log = inner.log.borrow_mut();
    let alignment = log.alignment;
    let front = &mut log.segments[0];
    front.written = flush_end;
    front.acked = flush_end;
    front.dirty_end = flush_end
        .next_multiple_of(alignment)
        .max(ahead.unwrap_or(0));
    let ticket = front.ticket_at(flush_end);
    // Keep only the tail block; it is rewritten by the next flush.
    front.consume(flush_end - flush_end % alignment);
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
    front.truncate(front.acked);
    // The failed write may have put rolled-back bytes in the tail block:
    // the next flush rewrites it (with the zeros over the rest).
    let (alignment, backend) = (log.alignment, log.backend.clone());
    log.segments[0].reopen_tail(alignment, &backend);
    let front = &mut log.segments[0];
    front.written = front.acked;
    front.end_ticket = next_ticket;
    front.may_pad = false;
    while let Some(undo) = log.undo.pop_back() {
        log.undo(undo, &mut keydir);
    }
    // Cached values are tagged by record location, and the rewound locations
    // will be written again with other records: forget everything (rare).
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
    if reserved > disk {
        // Give the reserve back (and whatever a failed reservation left:
        // `reserved` is then `u64::MAX`); a failure leaves zeros past the
        // data, which readers and recovery take as its end.
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
