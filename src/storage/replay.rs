//! Applying replayed records (from hint files or log scans) to the keydir.
//!
//! Records arrive in log order, a few million per file, with keys spread
//! evenly over 16384 hash slots. Inserting each one as it comes touches a
//! random slot's index and arena every time: three or four cache misses per
//! key, which made opening 10M keys take seconds even from hints. So records
//! are queued in a [`Batch`] and applied slot by slot: a stable counting sort
//! by slot keeps each key's records in log order (all records of a key share
//! its slot, and only their relative order matters), and a slot's index and
//! arena stay in cache while its run is applied. Each run also sizes the
//! slot's index once for the keys it may add.
//!
//! A batch may span files. It is applied when it is full, before a flush-all
//! marker (which drops everything before it) and by [`Replay::finish`].

use std::collections::BTreeMap;

use super::keydir::{Entry, Keydir, NO_CACHE, pack_location};
use super::log::FileStat;
use super::record::{FLAG_FLUSH_ALL, FLAG_TOMBSTONE, HEADER_LEN};
use crate::keyspace::{NR_SLOTS, key_slot};

/// Queued records applied at once, at most (bounds the batch's memory).
/// Tiny in unit tests, so their reopens cross batch boundaries everywhere.
const BATCH_RECORDS: usize = if cfg!(test) { 7 } else { 1 << 21 };
/// Queued key and field bytes applied at once, at most.
const BATCH_BYTES: usize = 64 << 20;

/// Records between the one being applied and the one whose index line is
/// being fetched.
const PREFETCH_DISTANCE: usize = 8;
/// Bytes of a queued record before its key: flags (1), file id (4), key
/// length (4), value length (4), offset (8), expiry (8).
const QUEUED_FIXED: usize = 29;

/// Starts loading the index lines of the next `count` queued records from
/// `*ahead` in `sorted` (those before `end`) and steps past them.
fn prefetch_next(
    keydir: &Keydir,
    sorted: &[u8],
    slot: u16,
    ahead: &mut usize,
    end: usize,
    count: usize,
) {
    for _ in 0..count {
        if *ahead >= end {
            return;
        }
        let record = record_at(sorted, *ahead);
        keydir.prefetch_in_slot(slot, record.key);
        *ahead += QUEUED_FIXED + record.key.len();
    }
}

/// One record as replay sees it, from a scan or a hint.
pub(super) struct Replayed<'a> {
    pub file_id: u32,
    pub offset: u64,
    pub flags: u8,
    pub seq: u64,
    pub expire_at_ms: u64,
    pub key: &'a [u8],
    pub value_len: u32,
}

/// Records waiting to be applied, back to back in arrival order, and the
/// slot of each.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    slots: Vec<u16>,
    /// The records in slot order (memory kept from batch to batch).
    sorted: Vec<u8>,
}

/// Where one slot's records are in a sorted batch.
#[derive(Clone, Copy, Default)]
struct Run {
    records: usize,
    /// Keydir arena bytes the run's records can add.
    arena_bytes: usize,
    start: usize,
    end: usize,
}

impl Batch {
    fn push(&mut self, record: &Replayed<'_>) {
        self.slots.push(key_slot(record.key));
        self.bytes.push(record.flags);
        self.bytes.extend_from_slice(&record.file_id.to_le_bytes());
        self.bytes
            .extend_from_slice(&(record.key.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&record.value_len.to_le_bytes());
        self.bytes.extend_from_slice(&record.offset.to_le_bytes());
        self.bytes
            .extend_from_slice(&record.expire_at_ms.to_le_bytes());
        self.bytes.extend_from_slice(record.key);
    }

    fn is_full(&self) -> bool {
        self.slots.len() >= BATCH_RECORDS || self.bytes.len() >= BATCH_BYTES
    }

    /// The queued records copied into slot order (a stable counting sort:
    /// one sequential pass to count, one to copy), and each slot's run.
    /// Copying once is cheaper than visiting the records in slot order
    /// where they are: that is a cache miss per record.
    fn sort_by_slot(&mut self) -> Vec<Run> {
        let mut runs = vec![Run::default(); NR_SLOTS as usize];
        let mut at = 0;
        for &slot in &self.slots {
            let key_len = key_len_at(&self.bytes, at);
            let len = QUEUED_FIXED + key_len;
            let run = &mut runs[slot as usize];
            run.records += 1;
            run.end += len;
            if self.bytes[at] & FLAG_TOMBSTONE == 0 {
                let has_expiry = self.bytes[at + 21..at + 29] != [0; 8];
                run.arena_bytes += Keydir::record_size(key_len, has_expiry);
            }
            at += len;
        }
        let mut start = 0;
        for run in &mut runs {
            let len = run.end;
            run.start = start;
            run.end = start;
            start += len;
        }
        let sorted = &mut self.sorted;
        sorted.clear();
        sorted.resize(self.bytes.len(), 0);
        let mut at = 0;
        for &slot in &self.slots {
            let len = QUEUED_FIXED + key_len_at(&self.bytes, at);
            let run = &mut runs[slot as usize];
            sorted[run.end..run.end + len].copy_from_slice(&self.bytes[at..at + len]);
            run.end += len;
            at += len;
        }
        runs
    }
}

fn key_len_at(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes(bytes[at + 5..at + 9].try_into().expect("4 bytes")) as usize
}

/// The queued record starting at `at` (its `seq` is not kept: replay
/// tracks the highest one as records are queued).
fn record_at(bytes: &[u8], at: usize) -> Replayed<'_> {
    let bytes = &bytes[at..];
    let u32_at = |from: usize| u32::from_le_bytes(bytes[from..from + 4].try_into().expect("4"));
    let u64_at = |from: usize| u64::from_le_bytes(bytes[from..from + 8].try_into().expect("8"));
    let key_len = u32_at(5) as usize;
    Replayed {
        flags: bytes[0],
        file_id: u32_at(1),
        value_len: u32_at(9),
        offset: u64_at(13),
        expire_at_ms: u64_at(21),
        seq: 0,
        key: &bytes[QUEUED_FIXED..QUEUED_FIXED + key_len],
    }
}

/// Keydir and byte accounting while replaying records.
pub(super) struct Replay {
    pub keydir: Keydir,
    pub stats: BTreeMap<u32, FileStat>,
    /// Highest sequence number seen in any file.
    pub max_seq: u64,
    /// Highest good sequence number of the file being scanned.
    pub file_seq: u64,
    /// Records replayed.
    pub records: u64,
    /// Records expected in all (from hint headers; 0 = unknown).
    expected_records: u64,
    now_ms: u64,
    batch: Batch,
}

impl Replay {
    pub fn new(now_ms: u64) -> Replay {
        Replay {
            keydir: Keydir::new(),
            stats: BTreeMap::new(),
            max_seq: 0,
            file_seq: 0,
            records: 0,
            expected_records: 0,
            now_ms,
            batch: Batch::default(),
        }
    }

    /// Prepares the keydir for about `records` records (hint headers say
    /// how many entries they hold).
    pub fn expect(&mut self, records: u64) {
        self.expected_records = records;
        self.keydir.presize(records as usize);
    }

    /// Queues one record (applied by the next [`Replay::apply_batch`]).
    pub fn push(&mut self, record: &Replayed<'_>) {
        self.records += 1;
        self.max_seq = self.max_seq.max(record.seq);
        if record.flags & FLAG_FLUSH_ALL != 0 {
            self.flush_all(record.file_id);
            return;
        }
        self.batch.push(record);
        if self.batch.is_full() {
            self.apply_batch();
        }
    }

    /// Clears everything replayed so far; `file_id` holds the marker.
    pub fn flush_all(&mut self, file_id: u32) {
        self.apply_batch();
        self.keydir = Keydir::new();
        for stat in self.stats.values_mut() {
            stat.live = 0;
        }
        self.stats.entry(file_id).or_default().has_flush_all = true;
    }

    /// Applies every queued record; the keydir is complete afterwards.
    pub fn finish(&mut self) {
        self.apply_batch();
        self.keydir.shrink_after_load();
        self.batch = Batch::default();
    }

    /// Applies the queued records slot by slot, in log order within a slot.
    fn apply_batch(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        if !batch.slots.is_empty() {
            let runs = batch.sort_by_slot();
            // Records still to come after this batch, as a multiple of it:
            // each slot's arena is sized once for all of them.
            let queued = batch.slots.len() as u64;
            let coming = self.expected_records.saturating_sub(self.records) + queued;
            let scale = (coming as f64 / queued as f64).clamp(1.0, 64.0);
            for (slot, run) in runs.iter().enumerate() {
                if run.records == 0 {
                    continue;
                }
                let arena_bytes = (run.arena_bytes as f64 * scale) as usize;
                self.keydir
                    .reserve_in_slot(slot as u16, run.records, arena_bytes);
                // The index lines of the next keys are fetched while this
                // one is applied: the slot's index is bigger than the cache
                // holds for long, and each key's home bucket is random.
                let (sorted, slot) = (&batch.sorted, slot as u16);
                let mut ahead = run.start;
                prefetch_next(
                    &self.keydir,
                    sorted,
                    slot,
                    &mut ahead,
                    run.end,
                    PREFETCH_DISTANCE,
                );
                let mut at = run.start;
                while at < run.end {
                    prefetch_next(&self.keydir, sorted, slot, &mut ahead, run.end, 1);
                    let record = record_at(sorted, at);
                    at += QUEUED_FIXED + record.key.len();
                    self.apply(slot, &record);
                }
            }
            batch.bytes.clear();
            batch.slots.clear();
        }
        self.batch = batch;
    }

    fn apply(&mut self, slot: u16, record: &Replayed<'_>) {
        let len = HEADER_LEN as u64 + record.key.len() as u64 + record.value_len as u64;
        let expired = record.expire_at_ms != 0 && record.expire_at_ms <= self.now_ms;
        let previous = if record.flags & FLAG_TOMBSTONE != 0 || expired {
            self.keydir
                .remove_in_slot(slot, record.key)
                .map(|(entry, _)| entry)
        } else {
            self.stats.entry(record.file_id).or_default().live += len;
            let entry = Entry {
                location: pack_location(record.file_id, record.offset),
                record_len: len as u32,
                value_len: record.value_len,
                expire_at_ms: record.expire_at_ms,
            };
            self.keydir
                .insert_in_slot(slot, record.key, entry, |_| NO_CACHE)
        };
        if let Some(previous) = previous {
            let stat = self.stats.entry(previous.file_id()).or_default();
            stat.live = stat.live.saturating_sub(previous.record_len as u64);
        }
    }
}
