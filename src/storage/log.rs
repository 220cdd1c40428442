//! The append side of the log: the in-memory write buffer, tickets, the undo
//! log, and the small wake-up primitives the flusher and the waiters use.
//!
//! # The write buffer
//!
//! Appends are synchronous: a record is encoded straight into the buffer of
//! the *last* [`Segment`]. A segment is the not-yet-retired part of one log
//! file: `bytes` mirrors the file content `[start, end)`, where `start` is
//! block-aligned. The flusher (see `flusher.rs`) only ever writes the *front*
//! segment; a later segment exists when appends rolled over to a new file
//! before the old one was fully flushed. The new file is created by the
//! flusher when that segment becomes the front, so `put` never has to wait
//! for a file to be opened.
//!
//! # The tail block
//!
//! After a flush, the bytes of the last partial block (the block is the
//! file's write alignment, `LogFile::alignment()`: the DMA alignment, at
//! least a filesystem block) stay in `bytes`; the next
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

use super::StorageError;
use super::files::MAX_FILE_ID;
use super::io::LogFile;
use super::keydir::{Entry, Keydir, OwnedKey, pack_location};
use super::record::{MAX_RECORD_LEN, encode_into, encoded_len};

/// Live bytes after a flush up to which [`Segment::consume`] moves them to
/// the front of the buffer at once.
const CHEAP_MOVE: usize = 64 << 10;
/// Written bytes [`Segment::consume`] leaves at the front of the buffer at
/// most before it moves the live ones down.
const MAX_DEAD_PREFIX: usize = 8 << 20;

/// The unretired part of one log file.
#[derive(Debug)]
pub struct Segment {
    /// The log file this segment belongs to.
    pub file_id: u32,
    /// File offset of `bytes[consumed]`; block-aligned.
    pub start: u64,
    /// File content from `start` (at `consumed`) to the end of the
    /// appended data; the bytes before `consumed` are written and unused.
    pub bytes: Vec<u8>,
    /// Written bytes at the front of `bytes` not moved out yet (see
    /// [`Segment::consume`]).
    pub consumed: usize,
    /// File offset up to which `bytes` has been written to the device.
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
    /// End of the zeros written ahead of the data (see the flusher's
    /// `reserve_ahead`), so appends overwrite written blocks; `u64::MAX`
    /// once writing them failed.
    pub reserved: u64,
}

impl Segment {
    /// A segment for a new, empty file whose first byte will carry
    /// `end_ticket`.
    pub fn empty(file_id: u32, end_ticket: u64) -> Segment {
        Segment {
            file_id,
            start: 0,
            bytes: Vec::new(),
            consumed: 0,
            written: 0,
            acked: 0,
            end_ticket,
            dirty_end: 0,
            reserved: 0,
        }
    }

    /// File offset just past the appended data.
    pub fn end(&self) -> u64 {
        self.start + self.data().len() as u64
    }

    /// The bytes from `start` to the end of the appended data.
    pub fn data(&self) -> &[u8] {
        &self.bytes[self.consumed..]
    }

    /// Drops the first `len` bytes of [`Segment::data`] (written ones):
    /// `start` moves on by `len`. The bytes after them are moved to the
    /// front of the buffer only when that is cheap or the dead prefix has
    /// grown big: with 1 MiB values, what arrives while a write is in
    /// flight is megabytes, and moving it after every flush was one more
    /// copy of most values.
    pub fn consume(&mut self, len: usize) {
        self.consumed += len;
        self.start += len as u64;
        let live = self.bytes.len() - self.consumed;
        if live <= CHEAP_MOVE || self.consumed >= MAX_DEAD_PREFIX {
            self.bytes.drain(..self.consumed);
            self.consumed = 0;
        }
    }

    /// Keeps the first `len` bytes of [`Segment::data`].
    pub fn truncate_data(&mut self, len: usize) {
        self.bytes.truncate(self.consumed + len);
    }

    /// The ticket of file offset `offset` (which must lie within the bytes
    /// appended since the store opened, or at their start).
    pub fn ticket_at(&self, offset: u64) -> u64 {
        self.end_ticket - (self.end() - offset)
    }

    /// The bytes of `[offset, offset + len)` if they are still buffered.
    pub fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        if offset < self.start || offset + len > self.end() {
            return None;
        }
        let from = (offset - self.start) as usize;
        Some(&self.data()[from..from + len as usize])
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
        encode_into(&mut segment.bytes, flags, seq, expire_at_ms, key, value);
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

    /// The buffered bytes of a record, if they are still in memory.
    pub fn buffered(&self, file_id: u32, offset: u64, len: u64) -> Option<&[u8]> {
        self.segments
            .iter()
            .find(|segment| segment.file_id == file_id)
            .and_then(|segment| segment.slice(offset, len))
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

    /// Consuming written bytes keeps every offset's bytes where `slice`
    /// finds them, whether the live bytes were moved down or not.
    #[test]
    fn consumed_bytes_leave_offsets_intact() {
        let mut log = state(1 << 30);
        let value = vec![7u8; 1 << 20];
        let mut at = Vec::new();
        for seq in 0..12u8 {
            let appended = log.append(0, 0, &[seq], &value).unwrap();
            at.push((
                appended.location & super::super::keydir::MAX_OFFSET,
                appended.record_len as u64,
            ));
        }
        let record = |log: &LogState, index: usize| {
            let (offset, len) = at[index];
            log.buffered(1, offset, len).map(|bytes| bytes[32])
        };
        let segment = &mut log.segments[0];
        // Half a megabyte left live: not moved, only skipped.
        segment.consume((at[3].0 - segment.start) as usize);
        assert_eq!(segment.start, at[3].0);
        assert!(segment.consumed > 0, "megabytes stay where they are");
        assert_eq!(record(&log, 3), Some(3));
        assert_eq!(record(&log, 11), Some(11));
        assert_eq!(record(&log, 2), None, "consumed");
        // Past the dead-prefix bound the live bytes move to the front.
        let segment = &mut log.segments[0];
        segment.consume((at[10].0 - segment.start) as usize);
        assert_eq!(segment.consumed, 0, "moved down");
        assert_eq!(segment.start, at[10].0);
        assert_eq!(record(&log, 10), Some(10));
        assert_eq!(record(&log, 11), Some(11));
        // Appends after a consume land behind the live bytes.
        let appended = log.append(0, 0, b"x", b"tail").unwrap();
        let offset = appended.location & super::super::keydir::MAX_OFFSET;
        assert_eq!(
            log.buffered(1, offset, appended.record_len as u64)
                .map(|b| &b[33..]),
            Some(&b"tail"[..])
        );
        let segment = &mut log.segments[0];
        segment.truncate_data((at[11].0 - segment.start) as usize);
        assert_eq!(segment.end(), at[11].0);
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
