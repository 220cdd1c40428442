//! The append side of the log: the in-memory write buffer, tickets, the undo
//! log, and the small wake-up primitives the flusher and the waiters use.
//!
//! # The write buffer
//!
//! Appends are synchronous: a record is encoded straight into the buffer of
//! the *last* [`Segment`]. A segment is the not-yet-retired part of one log
//! file: a chain of aligned DMA [`Chunk`](segment::Chunk)s that hold the file content from
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
//! # Padding
//!
//! A record of at least [`PAD_MIN_RECORD`] bytes appended after a flush took
//! the data up to inside a block starts at the next block instead: the
//! zeros the flush padded that block with stay in the file. Its round then
//! shares no block with the one before, so it can be written while that
//! one is still in flight (see the flusher's `flush_rounds`) instead of
//! waiting to rewrite the tail block. Readers step over the zeros when
//! the record after them carries the next sequence number (see
//! `Window::after_padding`): padding is never followed by anything else,
//! as sequence numbers grow by one per append, and after a rollback (whose
//! records took numbers) or a reopen nothing is padded until a record is
//! appended. Padding counts in the
//! tickets (they stay file offsets shifted by a constant within a
//! segment), not in the file's bytes of records.
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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;

use super::StorageError;
use super::files::MAX_FILE_ID;
use super::io::{Backend, LogFile};
use super::keydir::{Entry, Keydir, OwnedKey, pack_location};
use super::record::{MAX_RECORD_LEN, encode_to_slice, encoded_len, header_for};

pub use self::segment::Segment;

/// A record at least this long starts at the next block when the data
/// ends inside a block a flush has taken (see "Padding" above).
pub const PAD_MIN_RECORD: u64 = 64 << 10;
pub use self::wake::{Notify, Waiters};

mod segment;
#[cfg(test)]
mod tests;
mod wake;

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
        let padding = if record_len >= PAD_MIN_RECORD {
            last.padding(self.alignment)
        } else {
            0
        };
        if end > 0 && end + padding + record_len > self.max_file_size {
            self.roll_over(0)?;
        }
        let segment = self.segments.back_mut().expect("segments never empty");
        if padding > 0 && segment.end() == end {
            segment.pad(padding);
            self.next_ticket += padding;
        }
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
        segment.may_pad = true;
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
