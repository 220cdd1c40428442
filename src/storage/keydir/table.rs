//! One hash slot's keys: an append-only arena of packed records and an
//! open-addressing index into it.
//!
//! # Record format (in the arena)
//!
//! ```text
//! varint   (key_len << 3) | flags      usually 1 byte (keys < 16 B) or 2
//! u64 LE   location                    (file_id << 40) | offset
//! u32 LE   record_len
//! u32 LE   value_len                   only with FLAG_VALUE_LEN
//! u64 LE   expire_at_ms                only with FLAG_EXPIRY
//! [u8]     key
//! ```
//!
//! A record needs no explicit `value_len` when it equals
//! `record_len - HEADER_LEN - key_len`, which holds for every record the
//! engine writes; the flag keeps any other entry exact. A 16-byte key without
//! expiry costs 13 bytes beyond the key here.
//!
//! An update of the same shape (same flags) overwrites the record in place;
//! otherwise, and on removal, the record is marked dead (`FLAG_DEAD` in the
//! first byte) and its bytes counted in `dead_bytes`. [`SlotTable::maintain`]
//! copies the live records to a fresh arena, in the same order, when a quarter
//! of the arena is dead. Iteration walks the arena, so the order of surviving
//! keys never changes, which is what the reap cursor relies on.
//!
//! # Index
//!
//! Linear probing over 5-byte buckets: a tag byte (0 empty, 1 deleted,
//! 2..=255 the top byte of the key's hash) and the record's arena offset
//! (`u32`, so one slot's arena is capped at 4 GiB). The home bucket is
//! `(hash as u32 * capacity) >> 32`, so the capacity need not be a power of
//! two. Buckets in use (live or deleted) stay at or below 80%; a rebuild sizes
//! the index at twice the live keys (load 50%).

use super::super::record::HEADER_LEN;
use super::Entry;

/// Record flag: removed or superseded; skipped, reclaimed by compaction.
const FLAG_DEAD: u64 = 1;
/// Record flag: an `expire_at_ms` field is present.
const FLAG_EXPIRY: u64 = 2;
/// Record flag: a `value_len` field is present.
const FLAG_VALUE_LEN: u64 = 4;
/// Bits of the first varint taken by flags.
const FLAG_BITS: u32 = 3;

/// Bytes of the location and record length fields.
const FIXED_LEN: usize = 12;

/// Tag of a bucket never used since the last rebuild.
const TAG_EMPTY: u8 = 0;
/// Tag of a bucket whose key was removed (probing continues past it).
const TAG_DELETED: u8 = 1;

/// Smallest index capacity.
const MIN_CAPACITY: usize = 8;
/// Smallest arena growth step, in bytes.
const MIN_ARENA_GROWTH: usize = 128;

/// The hasher every slot of a keydir shares.
pub(super) type Hasher = ahash::RandomState;

/// Where a record's parts are, parsed from its first bytes.
#[derive(Clone, Copy)]
struct Layout {
    /// Flag bits of the header varint.
    flags: u64,
    /// Arena offset of the location field.
    fields: usize,
    /// Arena offset of the key.
    key: usize,
    /// Arena offset one past the record.
    end: usize,
}

/// One index bucket: 5 bytes, alignment 1.
#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Empty, deleted or the key's hash tag.
    tag: u8,
    /// Arena offset of the record (little-endian `u32`; meaningful when
    /// tagged).
    offset: [u8; 4],
}

impl Bucket {
    fn offset(&self) -> usize {
        u32::from_le_bytes(self.offset) as usize
    }
}

/// The keys of one hash slot.
#[derive(Default)]
pub(super) struct SlotTable {
    /// Packed records, live and dead, in insertion order.
    arena: Vec<u8>,
    /// The index: tag and arena offset side by side, so a probe touches one
    /// cache line.
    buckets: Box<[Bucket]>,
    /// Live keys.
    live: usize,
    /// Buckets that are not empty (live plus deleted).
    used: usize,
    /// Arena bytes of dead records.
    dead_bytes: usize,
}

/// Tag byte for a hash: never empty or deleted.
fn tag_of(hash: u64) -> u8 {
    ((hash >> 56) as u8).max(2)
}

/// The shape flags `entry` needs next to a key of `key_len` bytes.
fn flags_for(key_len: usize, entry: &Entry) -> u64 {
    let mut flags = 0;
    if entry.expire_at_ms != 0 {
        flags |= FLAG_EXPIRY;
    }
    if HEADER_LEN as u64 + key_len as u64 + entry.value_len as u64 != entry.record_len as u64 {
        flags |= FLAG_VALUE_LEN;
    }
    flags
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

impl SlotTable {
    /// Live keys in this slot.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Parses the record at `at`.
    fn layout(&self, at: usize) -> Layout {
        let mut header = 0u64;
        let mut shift = 0;
        let mut pos = at;
        loop {
            let byte = self.arena[pos];
            pos += 1;
            header |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let flags = header & ((1 << FLAG_BITS) - 1);
        let key_len = (header >> FLAG_BITS) as usize;
        let mut key = pos + FIXED_LEN;
        if flags & FLAG_VALUE_LEN != 0 {
            key += 4;
        }
        if flags & FLAG_EXPIRY != 0 {
            key += 8;
        }
        Layout {
            flags,
            fields: pos,
            key,
            end: key + key_len,
        }
    }

    fn key_of(&self, layout: &Layout) -> &[u8] {
        &self.arena[layout.key..layout.end]
    }

    fn entry_of(&self, layout: &Layout) -> Entry {
        let location = read_u64(&self.arena, layout.fields);
        let record_len = read_u32(&self.arena, layout.fields + 8);
        let mut at = layout.fields + FIXED_LEN;
        let value_len = if layout.flags & FLAG_VALUE_LEN != 0 {
            at += 4;
            read_u32(&self.arena, at - 4)
        } else {
            let key_len = (layout.end - layout.key) as u32;
            record_len - HEADER_LEN as u32 - key_len
        };
        let expire_at_ms = if layout.flags & FLAG_EXPIRY != 0 {
            read_u64(&self.arena, at)
        } else {
            0
        };
        Entry {
            location,
            record_len,
            value_len,
            expire_at_ms,
        }
    }

    /// Writes `entry`'s fields into a record of the same shape.
    fn write_fields(&mut self, layout: &Layout, entry: &Entry) {
        let mut at = layout.fields;
        self.arena[at..at + 8].copy_from_slice(&entry.location.to_le_bytes());
        self.arena[at + 8..at + 12].copy_from_slice(&entry.record_len.to_le_bytes());
        at += FIXED_LEN;
        if layout.flags & FLAG_VALUE_LEN != 0 {
            self.arena[at..at + 4].copy_from_slice(&entry.value_len.to_le_bytes());
            at += 4;
        }
        if layout.flags & FLAG_EXPIRY != 0 {
            self.arena[at..at + 8].copy_from_slice(&entry.expire_at_ms.to_le_bytes());
        }
    }

    /// Appends a record; returns its offset.
    ///
    /// Panics when the slot's arena would pass 4 GiB.
    fn append(&mut self, key: &[u8], entry: &Entry) -> u32 {
        let flags = flags_for(key.len(), entry);
        let mut header = ((key.len() as u64) << FLAG_BITS) | flags;
        let mut varint = [0u8; 10];
        let mut varint_len = 0;
        loop {
            let byte = (header & 0x7f) as u8;
            header >>= 7;
            if header == 0 {
                varint[varint_len] = byte;
                varint_len += 1;
                break;
            }
            varint[varint_len] = byte | 0x80;
            varint_len += 1;
        }
        let mut record_len = varint_len + FIXED_LEN + key.len();
        if flags & FLAG_VALUE_LEN != 0 {
            record_len += 4;
        }
        if flags & FLAG_EXPIRY != 0 {
            record_len += 8;
        }
        let offset = self.arena.len();
        assert!(
            offset + record_len <= u32::MAX as usize,
            "keydir: one hash slot holds more than 4 GiB of keys"
        );
        if self.arena.capacity() - offset < record_len {
            // Grow by a quarter, not double: the arena is most of the memory.
            let step = record_len.max(MIN_ARENA_GROWTH).max(offset / 4);
            self.arena.reserve_exact(step);
        }
        self.arena.extend_from_slice(&varint[..varint_len]);
        self.arena.extend_from_slice(&entry.location.to_le_bytes());
        self.arena
            .extend_from_slice(&entry.record_len.to_le_bytes());
        if flags & FLAG_VALUE_LEN != 0 {
            self.arena.extend_from_slice(&entry.value_len.to_le_bytes());
        }
        if flags & FLAG_EXPIRY != 0 {
            self.arena
                .extend_from_slice(&entry.expire_at_ms.to_le_bytes());
        }
        self.arena.extend_from_slice(key);
        offset as u32
    }

    /// Marks the record at `at` dead.
    fn kill_record(&mut self, layout: &Layout, at: usize) {
        self.arena[at] |= FLAG_DEAD as u8;
        self.dead_bytes += layout.end - at;
    }

    fn home(&self, hash: u64) -> usize {
        (((hash as u32) as u64 * self.buckets.len() as u64) >> 32) as usize
    }

    /// The bucket holding `key`, or `Err` with the bucket an insert should use.
    /// The index must have at least one empty bucket.
    fn find(&self, key: &[u8], hash: u64) -> Result<usize, usize> {
        let capacity = self.buckets.len();
        if capacity == 0 {
            return Err(usize::MAX);
        }
        let tag = tag_of(hash);
        let mut bucket = self.home(hash);
        let mut free = None;
        loop {
            match self.buckets[bucket].tag {
                TAG_EMPTY => return Err(free.unwrap_or(bucket)),
                TAG_DELETED => {
                    free.get_or_insert(bucket);
                }
                found if found == tag => {
                    let layout = self.layout(self.buckets[bucket].offset());
                    if self.key_of(&layout) == key {
                        return Ok(bucket);
                    }
                }
                _ => {}
            }
            bucket += 1;
            if bucket == capacity {
                bucket = 0;
            }
        }
    }

    /// Empties bucket `bucket` (its key was removed).
    fn clear_bucket(&mut self, bucket: usize) {
        let next = if bucket + 1 == self.buckets.len() {
            0
        } else {
            bucket + 1
        };
        // No probe passes through a bucket followed by an empty one, so it
        // can become empty rather than deleted.
        if self.buckets[next].tag == TAG_EMPTY {
            self.buckets[bucket].tag = TAG_EMPTY;
            self.used -= 1;
        } else {
            self.buckets[bucket].tag = TAG_DELETED;
        }
    }

    /// The entry of `key` (`hash` is the keydir hasher's hash of `key`).
    pub fn get(&self, key: &[u8], hash: u64) -> Option<Entry> {
        let bucket = self.find(key, hash).ok()?;
        let layout = self.layout(self.buckets[bucket].offset());
        Some(self.entry_of(&layout))
    }

    /// Sets the entry of `key`; returns the previous one.
    pub fn insert(
        &mut self,
        key: &[u8],
        hash: u64,
        entry: &Entry,
        hasher: &Hasher,
    ) -> Option<Entry> {
        if (self.used + 1) * 5 > self.buckets.len() * 4 {
            self.rebuild_index(((self.live + 1) * 2).max(MIN_CAPACITY), hasher);
        }
        match self.find(key, hash) {
            Ok(bucket) => {
                let at = self.buckets[bucket].offset();
                let layout = self.layout(at);
                let previous = self.entry_of(&layout);
                if layout.flags == flags_for(key.len(), entry) {
                    self.write_fields(&layout, entry);
                } else {
                    self.kill_record(&layout, at);
                    self.buckets[bucket].offset = (self.append(key, entry)).to_le_bytes();
                }
                Some(previous)
            }
            Err(bucket) => {
                if self.buckets[bucket].tag == TAG_EMPTY {
                    self.used += 1;
                }
                self.buckets[bucket].tag = tag_of(hash);
                self.buckets[bucket].offset = (self.append(key, entry)).to_le_bytes();
                self.live += 1;
                None
            }
        }
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8], hash: u64) -> Option<Entry> {
        let bucket = self.find(key, hash).ok()?;
        let at = self.buckets[bucket].offset();
        let layout = self.layout(at);
        let previous = self.entry_of(&layout);
        self.kill_record(&layout, at);
        self.clear_bucket(bucket);
        self.live -= 1;
        Some(previous)
    }

    /// Points `key` at `to` if it points at `from`; true if it did.
    pub fn relocate(&mut self, key: &[u8], hash: u64, from: u64, to: u64) -> bool {
        let Ok(bucket) = self.find(key, hash) else {
            return false;
        };
        let layout = self.layout(self.buckets[bucket].offset());
        if read_u64(&self.arena, layout.fields) != from {
            return false;
        }
        self.arena[layout.fields..layout.fields + 8].copy_from_slice(&to.to_le_bytes());
        true
    }

    /// Rebuilds the index with `capacity` buckets from the live records.
    fn rebuild_index(&mut self, capacity: usize, hasher: &Hasher) {
        debug_assert!(self.live * 5 < capacity * 4);
        self.buckets = vec![Bucket::default(); capacity].into_boxed_slice();
        self.used = self.live;
        let mut at = 0;
        while at < self.arena.len() {
            let layout = self.layout(at);
            if layout.flags & FLAG_DEAD == 0 {
                let hash = hasher.hash_one(self.key_of(&layout));
                let mut bucket = self.home(hash);
                while self.buckets[bucket].tag != TAG_EMPTY {
                    bucket += 1;
                    if bucket == capacity {
                        bucket = 0;
                    }
                }
                self.buckets[bucket].tag = tag_of(hash);
                self.buckets[bucket].offset = (at as u32).to_le_bytes();
            }
            at = layout.end;
        }
    }

    /// Reclaims dead records and oversized indexes. `cursor` (an arena offset
    /// on a record boundary, or the arena's end) is moved along with the
    /// records so it stays on the same record.
    pub fn maintain(&mut self, hasher: &Hasher, cursor: Option<&mut usize>) {
        if self.live == 0 {
            if !self.arena.is_empty() || !self.buckets.is_empty() {
                *self = SlotTable::default();
                if let Some(cursor) = cursor {
                    *cursor = 0;
                }
            }
            return;
        }
        let compact = self.dead_bytes >= MIN_ARENA_GROWTH && self.dead_bytes * 4 > self.arena.len();
        if compact {
            let live_bytes = self.arena.len() - self.dead_bytes;
            let mut arena = Vec::with_capacity(live_bytes + live_bytes / 16);
            let mut new_cursor = None;
            let mut at = 0;
            while at < self.arena.len() {
                let layout = self.layout(at);
                if cursor.as_deref() == Some(&at) {
                    new_cursor = Some(arena.len());
                }
                if layout.flags & FLAG_DEAD == 0 {
                    arena.extend_from_slice(&self.arena[at..layout.end]);
                }
                at = layout.end;
            }
            if let Some(cursor) = cursor {
                *cursor = new_cursor.unwrap_or(arena.len());
            }
            self.arena = arena;
            self.dead_bytes = 0;
        }
        let capacity = self.buckets.len();
        let wanted = ((self.live + 1) * 2).max(MIN_CAPACITY);
        let oversized = capacity > 4 * wanted;
        if compact || oversized {
            let capacity = if oversized || self.live * 5 >= capacity * 4 {
                wanted
            } else {
                capacity
            };
            self.rebuild_index(capacity, hasher);
        }
    }

    /// Live records in arena (insertion) order.
    pub fn iter(&self) -> SlotIter<'_> {
        SlotIter { table: self, at: 0 }
    }

    /// Visits live records from arena offset `from`, removing those expired
    /// at `now_ms` (after passing each to `on_removed`), until `*visited`
    /// reaches `budget`. Returns where to resume and whether the end was
    /// reached. Does not compact; call [`maintain`](Self::maintain) after.
    pub fn reap(
        &mut self,
        from: usize,
        now_ms: u64,
        budget: usize,
        visited: &mut usize,
        hasher: &Hasher,
        on_removed: &mut dyn FnMut(&[u8], &Entry),
    ) -> (usize, bool) {
        let mut at = from;
        while at < self.arena.len() {
            let layout = self.layout(at);
            if layout.flags & FLAG_DEAD != 0 {
                at = layout.end;
                continue;
            }
            if *visited >= budget {
                return (at, false);
            }
            *visited += 1;
            let entry = self.entry_of(&layout);
            if entry.is_expired(now_ms) {
                let key = self.key_of(&layout);
                on_removed(key, &entry);
                let hash = hasher.hash_one(key);
                let bucket = self.bucket_of_offset(hash, at);
                self.kill_record(&layout, at);
                self.clear_bucket(bucket);
                self.live -= 1;
            }
            at = layout.end;
        }
        (at, true)
    }

    /// The bucket pointing at the live record at `at`, whose key hashes to
    /// `hash`.
    fn bucket_of_offset(&self, hash: u64, at: usize) -> usize {
        let tag = tag_of(hash);
        let mut bucket = self.home(hash);
        loop {
            let found = self.buckets[bucket].tag;
            assert_ne!(found, TAG_EMPTY, "keydir: live record missing from index");
            if found == tag && self.buckets[bucket].offset() == at {
                return bucket;
            }
            bucket += 1;
            if bucket == self.buckets.len() {
                bucket = 0;
            }
        }
    }

    /// Heap bytes held (arena capacity and index), for tests and stats.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.buckets.len() * size_of::<Bucket>()
    }

    /// Checks the internal invariants (tests).
    #[cfg(test)]
    pub fn check(&self, hasher: &Hasher) {
        let mut live = 0;
        let mut dead = 0;
        let mut at = 0;
        while at < self.arena.len() {
            let layout = self.layout(at);
            if layout.flags & FLAG_DEAD == 0 {
                live += 1;
                let key = self.key_of(&layout);
                let bucket = self.find(key, hasher.hash_one(key)).expect("indexed");
                assert_eq!(self.buckets[bucket].offset(), at);
            } else {
                dead += layout.end - at;
            }
            at = layout.end;
        }
        assert_eq!(at, self.arena.len());
        assert_eq!(live, self.live);
        assert_eq!(dead, self.dead_bytes);
        let tagged = self.buckets.iter().filter(|bucket| bucket.tag >= 2).count();
        let used = self
            .buckets
            .iter()
            .filter(|bucket| bucket.tag != TAG_EMPTY)
            .count();
        assert_eq!(tagged, self.live);
        assert_eq!(used, self.used);
        assert!(self.buckets.is_empty() || self.used * 5 <= self.buckets.len() * 4);
    }
}

/// Iterator over one slot's live records, in arena order.
pub(super) struct SlotIter<'a> {
    table: &'a SlotTable,
    at: usize,
}

impl<'a> Iterator for SlotIter<'a> {
    type Item = (&'a [u8], Entry);

    fn next(&mut self) -> Option<Self::Item> {
        let table = self.table;
        while self.at < table.arena.len() {
            let layout = table.layout(self.at);
            self.at = layout.end;
            if layout.flags & FLAG_DEAD == 0 {
                return Some((
                    &table.arena[layout.key..layout.end],
                    table.entry_of(&layout),
                ));
            }
        }
        None
    }
}
