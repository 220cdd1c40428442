//! The append side of the log: the in-memory write buffer, tickets, the undo
//! log, and the small wake-up primitives the flusher and the waiters use.
//!
//! # The write buffer
//!
//! Appends are synchronous: a record is encoded straight into the buffer of
//! the *last* [`Segment`]. A segment is the not-yet-retired part of one log
//! file: a chain of aligned DMA [`Chunk`]s that hold the file content from
//! the tail block's start to the end of the appended data; the flusher
//! writes the chunks themselves, with no copy. The flusher (see `flusher.rs`)
//! only ever writes the *front* segment; a later segment exists when appends
//! rolled over to a new file before the old one was fully flushed. The new
//! file is created by the flusher when that segment becomes the front, so
//! `put` never has to wait for a file to be opened.
//!
//! # The tail block
//!
//! After a flush, the bytes of the last partial block (the block is the
//! file's write alignment, `LogFile::alignment()`: the DMA alignment, at
//! least a filesystem block) stay buffered; the next
//! flush starts at that block's aligned offset and rewrites it together with
//! the new bytes, so there are no padding holes in the file. The zeros that
//! pad a flush to the block size are where the next record will start, and
//! recovery reads a zero header as end of data. This relies on the device
//! writing one logical block atomically (true for NVMe and for the sector
//! size of SATA drives): a crash while rewriting the tail block leaves each
//! of its sectors with either the old or the new content, never a mix, and
//! the bytes of records that were already durable are the same in both, so
//! they are not lost.
//!
//! # Tickets
//!
//! A ticket is a position in a byte counter that grows by each record's
//! length (`next_ticket`), starting at 0 when the store opens. Tickets are
//! ordered like the log. `resolved_ticket` is the position up to which every
//! record is either acknowledged (written, and fdatasync'ed under
//! `SyncMode::Always`) or failed; failed tickets are listed in `failed`.
//!
//! # Undo
//!
//! Every append that is not yet acknowledged keeps an [`Undo`] entry: the
//! key's previous keydir entry (or the whole previous keydir for FLUSHALL)
//! and the byte-accounting deltas. When a flush fails, the entries are
//! applied newest first, so the keydir returns to its state at the last
//! acknowledged position and no client ever read an acknowledgement for
//! something that is then lost.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::StorageError;
use super::files::MAX_FILE_ID;
use super::io::{Backend, LogFile, SharedBuf, WriteBuf};
use super::keydir::{Entry, Keydir, OwnedKey, pack_location};
use super::record::{MAX_RECORD_LEN, encode_to_slice, encoded_len, header_for};

/// Largest capacity of a chunk of the write buffer (see [`Chunk`]), and so
/// the largest single log write. A multiple of any write alignment.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Smallest capacity of a chunk that starts at a block boundary: small
/// records do not take a megabyte each time a flush seals their chunk.
const MIN_CHUNK_BYTES: usize = 64 << 10;

/// The buffer of a [`Chunk`].
pub enum ChunkBuf {
    /// Appends go here.
    Open(WriteBuf),
    /// Handed to a write: read-only from then on.
    Sealed(SharedBuf),
}

/// A piece of the write buffer: an aligned DMA buffer that holds the file's
/// bytes from `start` on. Records are encoded straight into chunks (one
/// record may run across several), and the flusher writes each chunk from
/// its own buffer: no copy between a value's arrival and the disk.
///
/// A chunk is sealed when a flush writes it (padded with zeros to the
/// block); appends then go to a new chunk. Every chunk but a sealed one is
/// full when the next one starts, so the next starts where it ends (at a
/// block boundary), except after a sealed chunk that ends inside a block:
/// the next chunk is that one block, starting with a copy of the sealed
/// chunk's bytes in it (the tail block, rewritten by the next flush), and
/// the chunk after it starts at the block boundary. The tail block is
/// written alone because ext4 completes a direct write without a worker
/// thread only when its blocks are all written, or all allocated ahead and
/// not yet written (see the flusher's `reserve_ahead`).
pub struct Chunk {
    /// File offset of the chunk's first byte; block-aligned.
    pub start: u64,
    /// Bytes of data from `start`.
    pub len: usize,
    /// The bytes.
    pub buf: ChunkBuf,
}

impl Chunk {
    /// File offset just past the chunk's data.
    pub fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    /// The chunk's data.
    pub fn bytes(&self) -> &[u8] {
        match &self.buf {
            ChunkBuf::Open(buf) => &buf.as_bytes()[..self.len],
            ChunkBuf::Sealed(buf) => &buf.as_bytes()[..self.len],
        }
    }

    /// True once a flush has taken it.
    pub fn is_sealed(&self) -> bool {
        matches!(self.buf, ChunkBuf::Sealed(_))
    }

    /// Bytes that can still be appended.
    fn room(&self) -> usize {
        match &self.buf {
            ChunkBuf::Open(buf) => buf.len() - self.len,
            ChunkBuf::Sealed(_) => 0,
        }
    }

    /// Seals the chunk for a write: zeros after the data up to the next
    /// multiple of `alignment` (they mark the end of data), the buffer cut
    /// there. Returns what to write at `start`.
    pub fn seal(&mut self, alignment: u64) -> SharedBuf {
        let placeholder = ChunkBuf::Sealed(SharedBuf::Mem(Default::default()));
        let shared = match std::mem::replace(&mut self.buf, placeholder) {
            ChunkBuf::Sealed(shared) => shared,
            ChunkBuf::Open(mut buf) => {
                let padded = (self.len as u64).next_multiple_of(alignment) as usize;
                buf.as_bytes_mut()[self.len..padded].fill(0);
                buf.trim(padded);
                buf.share()
            }
        };
        self.buf = ChunkBuf::Sealed(shared.clone());
        shared
    }
}

/// The unretired part of one log file.
pub struct Segment {
    /// The log file this segment belongs to.
    pub file_id: u32,
    /// The buffered bytes, in file order (see [`Chunk`]); they reach from
    /// the block of the tail to the end of the appended data.
    pub chunks: VecDeque<Chunk>,
    /// File offset just past the appended data.
    end: u64,
    /// File offset below which the bytes count as gone (written: reads go
    /// to the disk), though their chunk may still be held.
    retired: u64,
    /// File offset up to which the data has been written to the device.
    pub written: u64,
    /// File offset up to which writes are acknowledged (written, and for
    /// `SyncMode::Always` also synced); a failed flush rewinds to here.
    pub acked: u64,
    /// The ticket of the byte at `end()`.
    pub end_ticket: u64,
    /// File offset (block-aligned) up to which a write may have put bytes
    /// on the device. A failed write can leave records there that were
    /// rolled back; the next flush writes zeros up to here so they can
    /// never be recovered.
    pub dirty_end: u64,
    /// End of the zeros written (or blocks allocated) ahead of the data
    /// (see the flusher's `reserve_ahead`), so appends overwrite laid-out
    /// blocks; `u64::MAX` once reserving failed.
    pub reserved: u64,
}

impl Segment {
    /// A segment for a new, empty file whose first byte will carry
    /// `end_ticket`.
    pub fn empty(file_id: u32, end_ticket: u64) -> Segment {
        Segment {
            file_id,
            chunks: VecDeque::new(),
            end: 0,
            retired: 0,
            written: 0,
            acked: 0,
            end_ticket,
            dirty_end: 0,
            reserved: 0,
        }
    }

    /// The segment of a file reopened with `tail` (the bytes of its last
    /// partial block, at `tail_start`) at the end of its data.
    pub fn reopened(
        file_id: u32,
        tail_start: u64,
        tail: &[u8],
        dirty_end: u64,
        backend: &Backend,
    ) -> Segment {
        let end = tail_start + tail.len() as u64;
        let mut segment = Segment {
            file_id,
            chunks: VecDeque::new(),
            end: tail_start,
            retired: tail_start,
            written: end,
            acked: end,
            end_ticket: 0,
            dirty_end,
            reserved: 0,
        };
        segment.push(&[tail], 1, backend);
        segment
    }

    /// File offset just past the appended data.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// File offset of the first byte still buffered.
    pub fn start(&self) -> u64 {
        self.chunks
            .front()
            .map_or(self.end, |chunk| chunk.start)
            .max(self.retired)
    }

    /// The next `len` bytes of the last chunk, if it has room for them all:
    /// a record that fits is encoded there in one pass (its CRC computed
    /// over the bytes as written).
    fn contiguous(&mut self, len: usize) -> Option<&mut [u8]> {
        let chunk = self.chunks.back_mut()?;
        if chunk.room() < len {
            return None;
        }
        let ChunkBuf::Open(buf) = &mut chunk.buf else {
            return None;
        };
        let from = chunk.len;
        chunk.len += len;
        self.end += len as u64;
        Some(&mut buf.as_bytes_mut()[from..from + len])
    }

    /// Appends the concatenation of `parts`, opening chunks as they fill.
    fn push(&mut self, parts: &[&[u8]], alignment: u64, backend: &Backend) {
        let mut left: usize = parts.iter().map(|part| part.len()).sum();
        for mut bytes in parts.iter().copied() {
            while !bytes.is_empty() {
                let room = self.chunks.back().map_or(0, Chunk::room);
                if room == 0 {
                    self.open_chunk(left, alignment, backend);
                    continue;
                }
                let len = room.min(bytes.len());
                let chunk = self.chunks.back_mut().expect("a chunk with room");
                if let ChunkBuf::Open(buf) = &mut chunk.buf {
                    buf.as_bytes_mut()[chunk.len..chunk.len + len].copy_from_slice(&bytes[..len]);
                }
                chunk.len += len;
                self.end += len as u64;
                bytes = &bytes[len..];
                left -= len;
            }
        }
    }

    /// Starts a chunk at the end of the data, for `want` more bytes: at
    /// its block, with a copy of the bytes already in that block (then the
    /// chunk is that one block).
    fn open_chunk(&mut self, want: usize, alignment: u64, backend: &Backend) {
        let start = self.end - self.end % alignment;
        let kept = (self.end - start) as usize;
        let capacity = if kept > 0 {
            alignment as usize
        } else {
            want.next_power_of_two()
                .clamp(MIN_CHUNK_BYTES, CHUNK_BYTES)
                .next_multiple_of(alignment as usize)
        };
        let mut buf = backend.alloc_buffer(capacity);
        if kept > 0 {
            let last = self.chunks.back().expect("the tail block is buffered");
            let bytes = last.bytes();
            buf.as_bytes_mut()[..kept].copy_from_slice(&bytes[bytes.len() - kept..]);
        }
        self.chunks.push_back(Chunk {
            start,
            len: kept,
            buf: ChunkBuf::Open(buf),
        });
    }

    /// Makes the next flush write the tail block again, when the data ends
    /// inside one that a flush has taken.
    pub fn reopen_tail(&mut self, alignment: u64, backend: &Backend) {
        if !self.end.is_multiple_of(alignment) && self.chunks.back().is_some_and(Chunk::is_sealed) {
            self.open_chunk(0, alignment, backend);
        }
    }

    /// Retires the bytes before `offset` (written ones): the chunks that
    /// end there go.
    pub fn consume(&mut self, offset: u64) {
        self.retired = self.retired.max(offset);
        while self
            .chunks
            .front()
            .is_some_and(|chunk| chunk.end() <= offset)
        {
            self.chunks.pop_front();
        }
    }

    /// Drops the data from file offset `end` on.
    pub fn truncate(&mut self, end: u64) {
        while self.chunks.back().is_some_and(|chunk| chunk.start >= end) {
            self.chunks.pop_back();
        }
        if let Some(last) = self.chunks.back_mut()
            && last.end() > end
        {
            last.len = (end - last.start) as usize;
        }
        self.end = end;
    }

    /// The ticket of file offset `offset` (which must lie within the bytes
    /// appended since the store opened, or at their start).
    pub fn ticket_at(&self, offset: u64) -> u64 {
        self.end_ticket - (self.end() - offset)
    }

    /// A copy of the bytes of `[offset, offset + len)` if they are still
    /// buffered.
    pub fn read(&self, offset: u64, len: u64) -> Option<Bytes> {
        if offset < self.start() || offset + len > self.end() {
            return None;
        }
        // The newest chunk that starts at or before `offset` holds it.
        let first = self
            .chunks
            .iter()
            .rposition(|chunk| chunk.start <= offset)?;
        let chunk = &self.chunks[first];
        let from = (offset - chunk.start) as usize;
        if offset + len <= chunk.end() {
            return Some(Bytes::copy_from_slice(
                &chunk.bytes()[from..from + len as usize],
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        let (mut at, end) = (offset, offset + len);
        for chunk in self.chunks.range(first..) {
            if at >= end {
                break;
            }
            if chunk.end() <= at {
                continue;
            }
            let from = (at - chunk.start) as usize;
            let upto = (chunk.end().min(end) - chunk.start) as usize;
            out.extend_from_slice(&chunk.bytes()[from..upto]);
            at = chunk.start + upto as u64;
        }
        Some(Bytes::from(out))
    }
}

/// How to take back one unacknowledged append.
pub enum UndoOp {
    /// Set `key` back to its previous entry (`None` = absent).
    Key {
        /// The key that was written.
        key: OwnedKey,
        /// Its entry before the write.
        previous: Option<Entry>,
        /// The append was a tombstone (its bytes never counted as live).
        tombstone: bool,
    },
    /// Put back the whole keydir that a FLUSHALL replaced.
    FlushAll(Box<Keydir>),
}

/// One unacknowledged append.
pub struct Undo {
    /// The ticket of the append (end of its record).
    pub ticket: u64,
    /// What to restore.
    pub op: UndoOp,
    /// The file the record was appended to.
    pub file_id: u32,
    /// Length of the appended record.
    pub record_len: u32,
}

/// Byte accounting of one log file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStat {
    /// Bytes of records in the file (written or still buffered).
    pub total: u64,
    /// Bytes of the records the keydir points at; `total - live` is dead.
    pub live: u64,
    /// Size of the file on disk (padded to the block), 0 before it exists.
    pub disk: u64,
    /// The file holds a flush-all marker (merge must not move it).
    pub has_flush_all: bool,
    /// A valid hint file exists beside it.
    pub hinted: bool,
}

impl FileStat {
    /// Bytes of superseded, deleted and marker records.
    pub fn dead(&self) -> u64 {
        self.total.saturating_sub(self.live)
    }
}

/// Where an append landed.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Packed (file id, offset) of the record.
    pub location: u64,
    /// Length of the record.
    pub record_len: u32,
    /// The record's ticket.
    pub ticket: u64,
}

/// The mutable state of the log.
pub struct LogState {
    /// Allocates the chunks of the write buffer.
    pub backend: Backend,
    /// Unretired segments; never empty. Appends go to the back, the flusher
    /// writes the front.
    pub segments: VecDeque<Segment>,
    /// Open handles of every log file on disk, by id. A reader clones the
    /// `Rc`, so a file a merge removes stays open until its reads finish.
    pub files: HashMap<u32, Rc<LogFile>>,
    /// Accounting of every log file (on disk or still only buffered), by id.
    pub stats: BTreeMap<u32, FileStat>,
    /// The next new log file gets at least this id (ids reserved for merge
    /// output are never reused).
    pub file_id_floor: u32,
    /// Sealed files written without fdatasync (`SyncMode::Never`); synced at close.
    pub unsynced_sealed: Vec<u32>,
    /// DMA alignment of the log files (the tail block size).
    pub alignment: u64,
    /// Roll over before a file grows past this.
    pub max_file_size: u64,
    /// Sequence number of the next record.
    pub next_seq: u64,
    /// Ticket counter: bytes appended since open.
    pub next_ticket: u64,
    /// Every ticket up to here is acknowledged or failed.
    pub resolved_ticket: u64,
    /// Failed ticket ranges `(after, up_to]` with the error message.
    pub failed: Vec<(u64, u64, Rc<str>)>,
    /// Unacknowledged appends, oldest first.
    pub undo: VecDeque<Undo>,
}

impl LogState {
    /// Encodes a record into the write buffer, rolling over to a new file
    /// when it would push the current one past `max_file_size`.
    pub fn append(
        &mut self,
        flags: u8,
        expire_at_ms: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<Appended, StorageError> {
        self.append_counted(flags, expire_at_ms, key, value, false)
    }

    /// [`LogState::append`] of a record the keydir will point at: its bytes
    /// count as live from the start (one accounting lookup, not two).
    pub fn append_live(
        &mut self,
        expire_at_ms: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<Appended, StorageError> {
        self.append_counted(0, expire_at_ms, key, value, true)
    }

    fn append_counted(
        &mut self,
        flags: u8,
        expire_at_ms: u64,
        key: &[u8],
        value: &[u8],
        live: bool,
    ) -> Result<Appended, StorageError> {
        let record_len = encoded_len(key, value);
        if record_len > MAX_RECORD_LEN {
            return Err(StorageError::RecordTooLarge {
                len: record_len,
                max: MAX_RECORD_LEN,
            });
        }
        let last = self.segments.back().expect("segments never empty");
        let end = last.end();
        if end > 0 && end + record_len > self.max_file_size {
            self.roll_over(0)?;
        }
        let segment = self.segments.back_mut().expect("segments never empty");
        let offset = segment.end();
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(out) = segment.contiguous(record_len as usize) {
            encode_to_slice(out, flags, seq, expire_at_ms, key, value);
        } else {
            let header = header_for(flags, seq, expire_at_ms, key, value);
            segment.push(&[&header, key, value], self.alignment, &self.backend);
        }
        self.next_ticket += record_len;
        segment.end_ticket = self.next_ticket;
        let file_id = segment.file_id;
        let stat = self.stat(file_id);
        stat.total += record_len;
        if live {
            stat.live += record_len;
        }
        Ok(Appended {
            location: pack_location(file_id, offset),
            record_len: record_len as u32,
            ticket: self.next_ticket,
        })
    }

    /// Starts a new file for the next append, leaving `skip` unused ids
    /// before it (merge output takes them); returns the first skipped id.
    ///
    /// A last segment with no bytes whose file was never created is simply
    /// renumbered.
    pub fn roll_over(&mut self, skip: u32) -> Result<u32, StorageError> {
        let last = self.segments.back_mut().expect("segments never empty");
        let untouched = last.end() == 0 && !self.files.contains_key(&last.file_id);
        let base = if untouched {
            last.file_id
        } else {
            last.file_id + 1
        };
        let first_free = base.max(self.file_id_floor);
        let file_id = first_free as u64 + skip as u64;
        if file_id > MAX_FILE_ID as u64 {
            return Err(StorageError::OutOfFileIds);
        }
        let file_id = file_id as u32;
        // Ids below stay reserved even if this segment is rolled back.
        self.file_id_floor = file_id + 1;
        if untouched {
            self.stats.remove(&last.file_id);
            last.file_id = file_id;
        } else {
            self.segments
                .push_back(Segment::empty(file_id, self.next_ticket));
        }
        Ok(first_free)
    }

    /// The accounting of `file_id`, created empty if unknown.
    pub fn stat(&mut self, file_id: u32) -> &mut FileStat {
        self.stats.entry(file_id).or_default()
    }

    /// Counts `entry`'s record as no longer live (superseded, deleted, reaped).
    pub fn kill(&mut self, entry: &Entry) {
        let stat = self.stat(entry.file_id());
        stat.live = stat.live.saturating_sub(entry.record_len as u64);
    }

    /// Counts `entry`'s record as live again (undo).
    pub fn revive(&mut self, entry: &Entry) {
        self.stat(entry.file_id()).live += entry.record_len as u64;
    }

    /// Recomputes every file's live bytes from `keydir` (after FLUSHALL's undo).
    pub fn recount_live(&mut self, keydir: &Keydir) {
        for stat in self.stats.values_mut() {
            stat.live = 0;
        }
        for (_, entry) in keydir.iter() {
            self.stat(entry.file_id()).live += entry.record_len as u64;
        }
    }

    /// Bytes of records held by every file, on disk or buffered.
    pub fn used_bytes(&self) -> u64 {
        self.stats
            .values()
            .map(|stat| stat.total.max(stat.disk))
            .sum()
    }

    /// True when `file_id` is still being appended to or flushed.
    pub fn is_unsealed(&self, file_id: u32) -> bool {
        self.segments
            .iter()
            .any(|segment| segment.file_id == file_id)
    }

    /// A copy of the bytes `[offset, offset + len)` of `file_id`, if they
    /// are still in memory.
    pub fn buffered(&self, file_id: u32, offset: u64, len: u64) -> Option<Bytes> {
        self.segments
            .iter()
            .find(|segment| segment.file_id == file_id)
            .and_then(|segment| segment.read(offset, len))
    }

    /// `Some(Ok)` when `ticket` is acknowledged, `Some(Err)` when it failed,
    /// `None` while it is still pending.
    pub fn ticket_state(&self, ticket: u64) -> Option<Result<(), StorageError>> {
        if ticket > self.resolved_ticket {
            return None;
        }
        // Failed ranges are few (one per failure episode) and ordered.
        let index = self.failed.partition_point(|(_, up_to, _)| *up_to < ticket);
        match self.failed.get(index) {
            Some((after, _, message)) if ticket > *after => {
                Some(Err(StorageError::WriteFailed(message.to_string())))
            }
            _ => Some(Ok(())),
        }
    }

    /// Takes back one unacknowledged append's keydir change and accounting.
    pub fn undo(&mut self, undo: Undo, keydir: &mut Keydir) {
        let stat = self.stat(undo.file_id);
        stat.total = stat.total.saturating_sub(undo.record_len as u64);
        match undo.op {
            UndoOp::Key {
                key,
                previous,
                tombstone,
            } => {
                if !tombstone {
                    let stat = self.stat(undo.file_id);
                    stat.live = stat.live.saturating_sub(undo.record_len as u64);
                }
                if let Some(previous) = &previous {
                    self.revive(previous);
                }
                keydir.restore(&key, previous);
            }
            UndoOp::FlushAll(previous) => {
                *keydir = *previous;
                self.recount_live(keydir);
            }
        }
    }

    /// Records that every ticket in `(resolved_ticket, next_ticket]` failed.
    pub fn fail_pending(&mut self, message: &str) {
        let (after, up_to) = (self.resolved_ticket, self.next_ticket);
        if up_to > after {
            match self.failed.last_mut() {
                Some(last) if last.1 == after => last.1 = up_to,
                _ => self.failed.push((after, up_to, message.into())),
            }
        }
        self.resolved_ticket = up_to;
    }
}

/// A single-waiter wake-up flag (the flusher waits on it; appends set it).
#[derive(Default)]
pub struct Notify {
    /// Set when there is something new to look at.
    pending: Cell<bool>,
    /// The parked waiter.
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    /// Sets the flag and wakes the waiter, if any.
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Resolves once the flag is set (consuming it).
    pub async fn wait(&self) {
        futures_lite::future::poll_fn(|cx: &mut Context<'_>| {
            if self.pending.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A task parked until the log resolves its ticket.
struct Parked {
    /// Wake once `resolved_ticket` reaches this.
    ticket: u64,
    /// The task.
    waker: Waker,
}

/// Tasks waiting for tickets, smallest ticket first: a flush wakes only the
/// tasks it resolved, not every waiter.
///
/// A queue ordered by ticket rather than a heap: a writer parks right after
/// its append, so tickets arrive almost always in order and go to the back;
/// a flush takes its waiters off the front.
#[derive(Default)]
pub struct Waiters {
    /// Parked tasks, by ticket.
    parked: RefCell<VecDeque<Parked>>,
}

impl Waiters {
    /// Parks `cx`'s task until `resolved_ticket` reaches `ticket` (a task
    /// that waits for something else passes a ticket already resolved and
    /// is woken by the next change).
    pub fn register(&self, ticket: u64, cx: &Context<'_>) {
        let mut parked = self.parked.borrow_mut();
        let task = Parked {
            ticket,
            waker: cx.waker().clone(),
        };
        if parked.back().is_none_or(|last| last.ticket <= ticket) {
            parked.push_back(task);
        } else {
            let at = parked.partition_point(|other| other.ticket <= ticket);
            parked.insert(at, task);
        }
    }

    /// Wakes every task whose ticket is at most `resolved_ticket`.
    pub fn wake_resolved(&self, resolved_ticket: u64) {
        loop {
            let task = {
                let mut parked = self.parked.borrow_mut();
                match parked.front() {
                    Some(task) if task.ticket <= resolved_ticket => parked.pop_front(),
                    _ => None,
                }
            };
            // Not under the borrow: a waker may run code that parks again.
            match task {
                Some(task) => task.waker.wake(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(max_file_size: u64) -> LogState {
        LogState {
            backend: Backend::Sim(Default::default()),
            segments: VecDeque::from([Segment::empty(1, 0)]),
            files: HashMap::new(),
            stats: BTreeMap::new(),
            file_id_floor: 0,
            unsynced_sealed: Vec::new(),
            alignment: 512,
            max_file_size,
            next_seq: 1,
            next_ticket: 0,
            resolved_ticket: 0,
            failed: Vec::new(),
            undo: VecDeque::new(),
        }
    }

    /// Records run across chunks and read back whole from any offset; a
    /// sealed chunk ending inside a block is followed by that one block
    /// (its bytes copied) and then by chunks from the block boundary;
    /// consuming and truncating keep every remaining offset's bytes.
    #[test]
    fn chunks_hold_records_across_seals_consumes_and_truncates() {
        let mut log = state(1 << 30);
        let value = |seq: u8| vec![seq; (1 << 20) + 100 * seq as usize];
        let mut at = Vec::new();
        for seq in 0..5u8 {
            let appended = log.append(0, 0, &[seq], &value(seq)).unwrap();
            at.push((
                appended.location & super::super::keydir::MAX_OFFSET,
                appended.record_len as u64,
            ));
        }
        fn record(log: &LogState, at: &[(u64, u64)], index: usize) -> Option<Bytes> {
            let (offset, len) = at[index];
            log.buffered(1, offset, len)
        }
        let check = |log: &LogState, at: &[(u64, u64)], index: usize| {
            let bytes = record(log, at, index).expect("buffered");
            let header = super::super::record::decode(&bytes).expect("a valid record");
            assert_eq!(
                super::super::record::value_of(&header, &bytes),
                value(index as u8)
            );
        };
        for index in 0..5 {
            check(&log, &at, index);
        }
        let segment = &mut log.segments[0];
        assert!(segment.chunks.iter().all(|chunk| chunk.len <= CHUNK_BYTES));
        // A flush seals every chunk; the data ends inside a block.
        let end = segment.end();
        assert_ne!(end % 512, 0);
        for chunk in segment.chunks.iter_mut() {
            let sealed = chunk.seal(512);
            assert_eq!(
                sealed.len() as u64,
                (chunk.len as u64).next_multiple_of(512)
            );
        }
        // The next append starts a one-block chunk holding the tail's bytes.
        let appended = log.append(0, 0, b"x", &value(5)).unwrap();
        at.push((
            appended.location & super::super::keydir::MAX_OFFSET,
            appended.record_len as u64,
        ));
        let segment = &log.segments[0];
        let tail = segment
            .chunks
            .iter()
            .find(|chunk| !chunk.is_sealed())
            .unwrap();
        assert_eq!(tail.start, end - end % 512);
        assert_eq!(tail.len, 512);
        for index in 0..6 {
            check(&log, &at, index);
        }
        // Written up to record 3: the chunks before its block go.
        let segment = &mut log.segments[0];
        segment.consume(at[3].0 - at[3].0 % 512);
        assert!(segment.start() <= at[3].0);
        assert!(record(&log, &at, 0).is_none(), "consumed");
        for index in 3..6 {
            check(&log, &at, index);
        }
        // Rewound to the end of record 3.
        let segment = &mut log.segments[0];
        segment.truncate(at[3].0 + at[3].1);
        assert_eq!(segment.end(), at[3].0 + at[3].1);
        check(&log, &at, 3);
        assert!(record(&log, &at, 4).is_none(), "truncated");
        // Appends after a truncate land behind record 3.
        let appended = log.append(0, 0, b"y", b"tail").unwrap();
        let offset = appended.location & super::super::keydir::MAX_OFFSET;
        assert_eq!(offset, at[3].0 + at[3].1);
        assert_eq!(
            log.buffered(1, offset + 33, 4).as_deref(),
            Some(&b"tail"[..])
        );
        check(&log, &at, 3);
    }

    /// Counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn waiters_wake_only_resolved_tickets_in_any_order() {
        use std::sync::Arc;
        use std::sync::atomic::Ordering::Relaxed;
        let waiters = Waiters::default();
        let counts: Vec<Arc<Count>> = (0..4)
            .map(|_| Arc::new(Count(Default::default())))
            .collect();
        // Out of order: 30, 10, 20, then 5 (already resolved when it parks).
        for (count, ticket) in counts.iter().zip([30, 10, 20, 5]) {
            let waker = Waker::from(count.clone());
            waiters.register(ticket, &Context::from_waker(&waker));
        }
        let woken = || -> Vec<usize> { counts.iter().map(|c| c.0.load(Relaxed)).collect() };
        waiters.wake_resolved(4);
        assert_eq!(woken(), [0, 0, 0, 0]);
        waiters.wake_resolved(10);
        assert_eq!(woken(), [0, 1, 0, 1]);
        waiters.wake_resolved(29);
        assert_eq!(woken(), [0, 1, 1, 1]);
        waiters.wake_resolved(u64::MAX);
        assert_eq!(woken(), [1, 1, 1, 1]);
        waiters.wake_resolved(u64::MAX);
        assert_eq!(woken(), [1, 1, 1, 1]);
    }

    #[test]
    fn rollover_and_oversized_records() {
        let mut log = state(100);
        let first = log.append(0, 0, b"k", &[1; 40]).unwrap();
        assert_eq!(first.location, pack_location(1, 0));
        let second = log.append(0, 0, b"k", &[1; 40]).unwrap();
        assert_eq!(second.location, pack_location(2, 0));
        let big = log.append(0, 0, b"k", &[1; 400]).unwrap();
        assert_eq!(big.location, pack_location(3, 0));
        let after = log.append(0, 0, b"k", &[]).unwrap();
        assert_eq!(after.location, pack_location(4, 0));
        assert_eq!(log.segments.len(), 4);
        assert!(after.ticket > big.ticket && big.ticket > second.ticket);
        assert!(log.buffered(3, 0, big.record_len as u64).is_some());
    }

    #[test]
    fn failed_ranges_merge_and_classify() {
        let mut log = state(1 << 20);
        let a = log.append(0, 0, b"a", b"1").unwrap().ticket;
        log.resolved_ticket = a;
        let b = log.append(0, 0, b"b", b"2").unwrap().ticket;
        log.fail_pending("disk full");
        let c = log.append(0, 0, b"c", b"3").unwrap().ticket;
        assert!(log.ticket_state(c).is_none());
        log.fail_pending("disk full");
        assert_eq!(log.failed.len(), 1);
        let d = log.append(0, 0, b"d", b"4").unwrap().ticket;
        log.resolved_ticket = d;
        assert!(matches!(log.ticket_state(a), Some(Ok(()))));
        assert!(matches!(log.ticket_state(b), Some(Err(_))));
        assert!(matches!(log.ticket_state(c), Some(Err(_))));
        assert!(matches!(log.ticket_state(d), Some(Ok(()))));
    }
}
