//! One hash slot's keys: an append-only arena of packed records and an
//! open-addressing index into it.
//!
//! Records are packed as `packed.rs` describes.
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
//!
//! A small index grows by rebuilding it from the arena. From
//! `INCREMENTAL_FROM` buckets (a slot holding tens of thousands of keys, as
//! when one hash tag holds most of a shard) it grows incrementally instead:
//! the old index is kept and searched after the new one, and each insert or
//! removal moves `DRAIN_STEP` of its buckets, so no single write rehashes
//! the whole slot.

use super::packed::{
    FLAG_CACHE, FLAG_DEAD, FLAG_EXPIRY, Layout, MIN_ARENA_GROWTH, NO_CACHE, append, cache_of,
    entry_of, flags_for, layout, max_record_size, read_u64, set_cache, write_fields,
};
use super::{Entry, prefetch_line};

/// Tag of a bucket never used since the last rebuild.
const TAG_EMPTY: u8 = 0;
/// Tag of a bucket whose key was removed (probing continues past it).
const TAG_DELETED: u8 = 1;

/// Smallest index capacity.
const MIN_CAPACITY: usize = 8;
/// Index capacity from which a grow moves keys a few at a time (over the
/// next inserts and removals) instead of all at once.
const INCREMENTAL_FROM: usize = if cfg!(test) { 64 } else { 1 << 16 };
/// Old buckets moved per insert or removal during an incremental grow. The
/// new index is sized at twice the live keys, so it has room for the
/// `capacity / DRAIN_STEP` inserts a drain can take.
const DRAIN_STEP: usize = if cfg!(test) { 4 } else { 128 };

/// Where a key is in the index.
#[derive(Clone, Copy)]
enum Found {
    /// In `buckets`, at this bucket.
    New(usize),
    /// In `old` (being drained), at this bucket.
    Old(usize),
    /// Absent; an insert uses this bucket of `buckets`.
    Absent(usize),
}

/// The first bucket from `key`'s home holding it (`Ok`), or `Err` with the
/// first empty or deleted bucket met. `index` must have an empty bucket.
fn probe(table: &SlotTable, index: &[Bucket], key: &[u8], hash: u64) -> Result<usize, usize> {
    let capacity = index.len();
    let tag = tag_of(hash);
    let mut bucket = home(hash, capacity);
    let mut free = None;
    loop {
        match index[bucket].tag {
            TAG_EMPTY => return Err(free.unwrap_or(bucket)),
            TAG_DELETED => {
                free.get_or_insert(bucket);
            }
            found if found == tag => {
                let layout = table.layout(index[bucket].offset());
                if table.key_of(&layout) == key {
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

/// The arena offset in the first bucket of `index` from `hash`'s home whose
/// tag is `hash`'s, within a few buckets (the key not compared: a guess).
fn guess_record(index: &[Bucket], hash: u64) -> Option<usize> {
    /// About the buckets of the home bucket's line and the next.
    const MAX_STEPS: usize = 8;
    if index.is_empty() {
        return None;
    }
    let tag = tag_of(hash);
    let mut bucket = home(hash, index.len());
    for _ in 0..MAX_STEPS {
        match index[bucket].tag {
            TAG_EMPTY => return None,
            found if found == tag => return Some(index[bucket].offset()),
            _ => {}
        }
        bucket += 1;
        if bucket == index.len() {
            bucket = 0;
        }
    }
    None
}

/// The home bucket of `hash` in an index of `capacity` buckets.
fn home(hash: u64, capacity: usize) -> usize {
    (((hash as u32) as u64 * capacity as u64) >> 32) as usize
}

/// The bucket of `index` pointing at arena offset `at`, if any.
fn probe_offset(index: &[Bucket], hash: u64, at: usize) -> Option<usize> {
    if index.is_empty() {
        return None;
    }
    let tag = tag_of(hash);
    let mut bucket = home(hash, index.len());
    loop {
        match index[bucket].tag {
            TAG_EMPTY => return None,
            found if found == tag && index[bucket].offset() == at => return Some(bucket),
            _ => {}
        }
        bucket += 1;
        if bucket == index.len() {
            bucket = 0;
        }
    }
}

/// The hasher every slot of a keydir shares.
pub(super) type Hasher = ahash::RandomState;

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
    /// The index being drained into `buckets` after an incremental grow
    /// (empty when none): still searched, never inserted into.
    old: Box<[Bucket]>,
    /// Buckets of `old` already moved (`old[..drained]` holds no live key).
    drained: u32,
    /// Live keys with an expiry (the reaper skips slots without any).
    expiring: u32,
    /// Live keys.
    live: usize,
    /// Buckets of `buckets` that are not empty (live plus deleted).
    used: usize,
    /// Arena bytes of dead records.
    dead_bytes: usize,
}

/// Tag byte for a hash: never empty or deleted.
fn tag_of(hash: u64) -> u8 {
    ((hash >> 56) as u8).max(2)
}

impl SlotTable {
    /// Live keys in this slot.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Arena bytes of dead records (a change tells that a record was
    /// reshaped or dropped, so [`SlotTable::maintain`] has work to weigh).
    pub fn dead_bytes(&self) -> usize {
        self.dead_bytes
    }

    /// Live keys in this slot that have an expiry.
    pub fn expiring(&self) -> u32 {
        self.expiring
    }

    /// Parses the record at `at`.
    fn layout(&self, at: usize) -> Layout {
        layout(&self.arena, at)
    }

    fn key_of(&self, layout: &Layout) -> &[u8] {
        &self.arena[layout.key..layout.end]
    }

    fn entry_of(&self, layout: &Layout) -> Entry {
        entry_of(&self.arena, layout)
    }

    /// True when a record for a key of `key_len` bytes still fits in this
    /// slot's arena (offsets are `u32`).
    pub(super) fn has_room(&self, key_len: usize) -> bool {
        self.arena.len() + max_record_size(key_len) <= u32::MAX as usize
    }

    /// Marks the record at `at` dead.
    fn kill_record(&mut self, layout: &Layout, at: usize) {
        self.arena[at] |= FLAG_DEAD as u8;
        self.dead_bytes += layout.end - at;
    }

    /// Where `key` is (`hash` is the keydir hasher's hash of `key`).
    fn find(&self, key: &[u8], hash: u64) -> Found {
        if self.buckets.is_empty() {
            return Found::Absent(usize::MAX);
        }
        match probe(self, &self.buckets, key, hash) {
            Ok(bucket) => Found::New(bucket),
            Err(free) => match self.old.is_empty() {
                true => Found::Absent(free),
                false => match probe(self, &self.old, key, hash) {
                    Ok(bucket) => Found::Old(bucket),
                    Err(_) => Found::Absent(free),
                },
            },
        }
    }

    /// The bucket holding a key that was found.
    fn bucket_mut(&mut self, found: Found) -> &mut Bucket {
        match found {
            Found::New(bucket) => &mut self.buckets[bucket],
            Found::Old(bucket) => &mut self.old[bucket],
            Found::Absent(_) => unreachable!("no bucket for an absent key"),
        }
    }

    /// Frees the bucket of a key that was removed.
    fn free_bucket(&mut self, found: Found) {
        match found {
            Found::New(bucket) => self.clear_bucket(bucket),
            // Keep probe chains through `old` intact until it is dropped.
            Found::Old(bucket) => self.old[bucket].tag = TAG_DELETED,
            Found::Absent(_) => unreachable!("no bucket for an absent key"),
        }
    }

    /// Moves up to [`DRAIN_STEP`] buckets of `old` into `buckets`, if an
    /// incremental grow is under way (the check inline: every write makes it).
    #[inline(always)]
    fn drain_step(&mut self, hasher: &Hasher) {
        if !self.old.is_empty() {
            self.drain_more(hasher);
        }
    }

    /// [`SlotTable::drain_step`] once `old` is known to hold buckets.
    #[inline(never)]
    fn drain_more(&mut self, hasher: &Hasher) {
        let end = (self.drained as usize + DRAIN_STEP).min(self.old.len());
        for index in self.drained as usize..end {
            if self.old[index].tag < 2 {
                continue;
            }
            let at = self.old[index].offset();
            let layout = self.layout(at);
            let hash = hasher.hash_one(self.key_of(&layout));
            let capacity = self.buckets.len();
            let mut bucket = home(hash, capacity);
            while self.buckets[bucket].tag >= 2 {
                bucket += 1;
                if bucket == capacity {
                    bucket = 0;
                }
            }
            if self.buckets[bucket].tag == TAG_EMPTY {
                self.used += 1;
            }
            self.buckets[bucket] = Bucket {
                tag: tag_of(hash),
                offset: (at as u32).to_le_bytes(),
            };
            self.old[index].tag = TAG_DELETED;
        }
        self.drained = end as u32;
        if end == self.old.len() {
            self.old = Box::default();
            self.drained = 0;
        }
    }

    /// Makes room for one more key in `buckets`.
    fn grow(&mut self, hasher: &Hasher) {
        let capacity = ((self.live + 1) * 2).max(MIN_CAPACITY);
        if self.buckets.len() < INCREMENTAL_FROM || !self.old.is_empty() {
            self.rebuild_index(capacity, hasher);
            return;
        }
        self.old = std::mem::replace(
            &mut self.buckets,
            vec![Bucket::default(); capacity].into_boxed_slice(),
        );
        self.drained = 0;
        self.used = 0;
        self.drain_step(hasher);
    }

    /// Makes room in the index for `additional` more keys without a grow
    /// on the way (a bulk load: recovery). Sized at a load of two thirds
    /// after those keys, between a rebuild's half and the 80% limit.
    /// `arena_bytes` is what the new records will take at most.
    pub fn reserve(&mut self, additional: usize, arena_bytes: usize, hasher: &Hasher) {
        if self.arena.capacity() - self.arena.len() < arena_bytes {
            self.arena.reserve_exact(arena_bytes);
        }
        let wanted = self.used + additional;
        if wanted * 5 < self.buckets.len() * 4 {
            return;
        }
        let capacity = ((self.live + additional) * 3 / 2 + 1).max(MIN_CAPACITY);
        self.rebuild_index(capacity, hasher);
    }

    /// Gives back arena capacity beyond what normal growth would leave.
    pub fn shrink_spare(&mut self) {
        let spare = self.arena.capacity() - self.arena.len();
        if spare > self.arena.len() / 4 + MIN_ARENA_GROWTH {
            self.arena.shrink_to_fit();
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

    /// The arena offset of `key`'s record.
    fn record_at(&self, key: &[u8], hash: u64) -> Option<usize> {
        self.record_at_found(self.find(key, hash))
    }

    /// The entry of `key` (`hash` is the keydir hasher's hash of `key`).
    pub fn get(&self, key: &[u8], hash: u64) -> Option<Entry> {
        let at = self.record_at(key, hash)?;
        Some(self.entry_of(&self.layout(at)))
    }

    /// The entry of `key` and its cache slot ([`NO_CACHE`] when none).
    pub fn get_cached(&self, key: &[u8], hash: u64) -> Option<(Entry, u32)> {
        let at = self.record_at(key, hash)?;
        let layout = self.layout(at);
        Some((self.entry_of(&layout), cache_of(&self.arena, &layout)))
    }

    /// Names a cache slot in `key`'s record if it is still at `location`,
    /// in one probe: `place` gets the slot the record names now
    /// ([`NO_CACHE`] when none) and returns the slot to name, or `None` to
    /// leave it. Returns the slot named and whether the record holds it
    /// (a record without the field is rewritten with it, leaving a dead
    /// one behind, when the table has room); `None` when the key has moved
    /// on or `place` declined.
    pub fn place_cache(
        &mut self,
        key: &[u8],
        hash: u64,
        location: u64,
        place: impl FnOnce(u32) -> Option<u32>,
    ) -> Option<(u32, bool)> {
        let found = self.find(key, hash);
        let at = self.record_at_found(found)?;
        let layout = self.layout(at);
        if read_u64(&self.arena, layout.fields) != location {
            return None;
        }
        let cache = place(cache_of(&self.arena, &layout))?;
        if layout.flags & FLAG_CACHE != 0 {
            set_cache(&mut self.arena, &layout, cache);
        } else if cache != NO_CACHE && self.has_room(key.len()) {
            let entry = self.entry_of(&layout);
            self.kill_record(&layout, at);
            let moved = append(
                &mut self.arena,
                key,
                &entry,
                layout.flags | FLAG_CACHE,
                cache,
            );
            self.bucket_mut(found).offset = moved.to_le_bytes();
        } else {
            return Some((cache, cache == NO_CACHE));
        }
        Some((cache, true))
    }

    fn record_at_found(&self, found: Found) -> Option<usize> {
        match found {
            Found::New(bucket) => Some(self.buckets[bucket].offset()),
            Found::Old(bucket) => Some(self.old[bucket].offset()),
            Found::Absent(_) => None,
        }
    }

    /// Hints the CPU to load this table's own fields (where its index and
    /// arena are), the first miss of a lookup.
    pub fn prefetch_header(&self) {
        prefetch_line(&self.buckets);
        prefetch_line(&self.arena);
    }

    /// Hints the CPU to load the home bucket of `hash` (no effect on the
    /// table).
    pub fn prefetch(&self, hash: u64) {
        if self.buckets.is_empty() {
            return;
        }
        prefetch_line(&self.buckets[home(hash, self.buckets.len())]);
    }

    /// The arena offset of the first record from `hash`'s home bucket whose
    /// tag matches, its first line asked of the CPU (a later stage of a
    /// batch's prefetch, once [`SlotTable::prefetch`] brought the bucket
    /// in). A guess: the key is not compared, and a probe longer than a
    /// few buckets gives up.
    pub fn prefetch_record(&self, hash: u64) -> Option<u32> {
        /// Bytes of a record whose key is about 30 bytes long (with the
        /// cache slot field): its last line is asked for as well, as such a
        /// record crosses a line about half the time.
        const TYPICAL_RECORD: usize = 48;
        let at = guess_record(&self.buckets, hash).or_else(|| guess_record(&self.old, hash))?;
        prefetch_line(&self.arena[at]);
        prefetch_line(&self.arena[(at + TYPICAL_RECORD - 1).min(self.arena.len() - 1)]);
        Some(at as u32)
    }

    /// The cache slot of the record at arena offset `at` (from
    /// [`SlotTable::prefetch_record`]; [`NO_CACHE`] when it has none).
    pub fn cache_slot_at(&self, at: u32) -> u32 {
        let at = at as usize;
        if at >= self.arena.len() {
            return NO_CACHE;
        }
        cache_of(&self.arena, &self.layout(at))
    }

    /// Sets the entry of `key` and its cache slot; returns the previous
    /// entry. A record that has a cache slot field keeps it (set to `cache`,
    /// maybe [`NO_CACHE`]), so it is overwritten in place.
    ///
    /// `cache` is asked for the new record's cache slot once the previous
    /// record (and its cache slot, [`NO_CACHE`] if none) is known, so a
    /// writer can reuse the old value's cache node in the same probe.
    pub fn insert(
        &mut self,
        key: &[u8],
        hash: u64,
        entry: &Entry,
        cache: impl FnOnce(Option<(&Entry, u32)>) -> u32,
        hasher: &Hasher,
    ) -> Option<Entry> {
        self.drain_step(hasher);
        if (self.used + 1) * 5 > self.buckets.len() * 4 {
            self.grow(hasher);
        }
        let flags_with = |cache: u32| {
            let flags = flags_for(key.len(), entry);
            if cache != NO_CACHE {
                flags | FLAG_CACHE
            } else {
                flags
            }
        };
        match self.find(key, hash) {
            Found::Absent(bucket) => {
                let cache = cache(None);
                let flags = flags_with(cache);
                if self.buckets[bucket].tag == TAG_EMPTY {
                    self.used += 1;
                }
                self.buckets[bucket].tag = tag_of(hash);
                let at = append(&mut self.arena, key, entry, flags, cache);
                self.buckets[bucket].offset = at.to_le_bytes();
                self.live += 1;
                self.expiring += (flags & FLAG_EXPIRY != 0) as u32;
                None
            }
            found => {
                let at = self.bucket_mut(found).offset();
                let layout = self.layout(at);
                let previous = self.entry_of(&layout);
                let cache = cache(Some((&previous, cache_of(&self.arena, &layout))));
                let flags = flags_with(cache);
                self.expiring = self.expiring + (flags & FLAG_EXPIRY != 0) as u32
                    - (layout.flags & FLAG_EXPIRY != 0) as u32;
                if layout.flags == flags | (layout.flags & FLAG_CACHE) {
                    write_fields(&mut self.arena, &layout, entry, cache);
                } else {
                    self.kill_record(&layout, at);
                    let flags = flags | (layout.flags & FLAG_CACHE);
                    let moved = append(&mut self.arena, key, entry, flags, cache);
                    self.bucket_mut(found).offset = moved.to_le_bytes();
                }
                Some(previous)
            }
        }
    }

    /// Removes `key`; returns its entry and cache slot ([`NO_CACHE`] if none).
    pub fn remove(&mut self, key: &[u8], hash: u64, hasher: &Hasher) -> Option<(Entry, u32)> {
        self.drain_step(hasher);
        let found = self.find(key, hash);
        if let Found::Absent(_) = found {
            return None;
        }
        let at = self.bucket_mut(found).offset();
        let layout = self.layout(at);
        let previous = self.entry_of(&layout);
        let cache = cache_of(&self.arena, &layout);
        self.kill_record(&layout, at);
        self.free_bucket(found);
        self.live -= 1;
        self.expiring -= (layout.flags & FLAG_EXPIRY != 0) as u32;
        Some((previous, cache))
    }

    /// Points `key` at `to` if it points at `from`; true if it did.
    pub fn relocate(&mut self, key: &[u8], hash: u64, from: u64, to: u64) -> bool {
        let Some(at) = self.record_at(key, hash) else {
            return false;
        };
        let layout = self.layout(at);
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
        self.old = Box::default();
        self.drained = 0;
        self.used = self.live;
        let mut at = 0;
        while at < self.arena.len() {
            let layout = self.layout(at);
            if layout.flags & FLAG_DEAD == 0 {
                let hash = hasher.hash_one(self.key_of(&layout));
                let mut bucket = home(hash, capacity);
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
    /// at `now_ms` (after passing each, with its cache slot, to
    /// `on_removed`), until `*visited`
    /// reaches `budget`. Returns where to resume and whether the end was
    /// reached. Does not compact; call [`maintain`](Self::maintain) after.
    pub fn reap(
        &mut self,
        from: usize,
        now_ms: u64,
        budget: usize,
        visited: &mut usize,
        hasher: &Hasher,
        on_removed: &mut dyn FnMut(&[u8], &Entry, u32),
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
                on_removed(key, &entry, cache_of(&self.arena, &layout));
                let hash = hasher.hash_one(key);
                let found = match probe_offset(&self.buckets, hash, at) {
                    Some(bucket) => Found::New(bucket),
                    None => Found::Old(
                        probe_offset(&self.old, hash, at)
                            .expect("keydir: live record missing from index"),
                    ),
                };
                self.kill_record(&layout, at);
                self.free_bucket(found);
                self.live -= 1;
                self.expiring -= 1;
            }
            at = layout.end;
        }
        (at, true)
    }

    /// Heap bytes held (arena capacity and index), for tests and stats.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + (self.buckets.len() + self.old.len()) * size_of::<Bucket>()
    }

    /// True while an incremental grow is moving keys (tests).
    #[cfg(test)]
    pub fn draining(&self) -> bool {
        !self.old.is_empty()
    }

    /// Checks the internal invariants (tests).
    #[cfg(test)]
    pub fn check(&self, hasher: &Hasher) {
        let mut live = 0;
        let mut expiring = 0;
        let mut dead = 0;
        let mut at = 0;
        while at < self.arena.len() {
            let layout = self.layout(at);
            if layout.flags & FLAG_DEAD == 0 {
                live += 1;
                expiring += (layout.flags & FLAG_EXPIRY != 0) as u32;
                let key = self.key_of(&layout);
                let found = self.find(key, hasher.hash_one(key));
                assert!(!matches!(found, Found::Absent(_)), "indexed");
                let bucket = match found {
                    Found::New(bucket) => self.buckets[bucket],
                    Found::Old(bucket) => self.old[bucket],
                    Found::Absent(_) => unreachable!(),
                };
                assert_eq!(bucket.offset(), at);
            } else {
                dead += layout.end - at;
            }
            at = layout.end;
        }
        assert_eq!(at, self.arena.len());
        assert_eq!(live, self.live);
        assert_eq!(expiring, self.expiring);
        assert_eq!(dead, self.dead_bytes);
        let tagged = self.buckets.iter().filter(|bucket| bucket.tag >= 2).count()
            + self.old.iter().filter(|bucket| bucket.tag >= 2).count();
        assert!(
            self.old[..(self.drained as usize).min(self.old.len())]
                .iter()
                .all(|bucket| bucket.tag < 2)
        );
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
