//! The in-memory keydir: key -> where its newest record lives.
//!
//! The keydir is split per Redis hash slot: a `Vec` of 16384 compact tables
//! indexed by [`key_slot`]. An empty table does not allocate, so a shard that
//! owns only a range of slots pays nothing for the others. Splitting gives
//! SCAN a stable cursor (slot by slot) and keeps any single rehash small, so
//! there is no stop-the-world stall when one giant table grows (unless one
//! hash tag holds most keys).
//!
//! Each table (`table.rs`) keeps its keys inline in an append-only arena of
//! packed records (key, location, record length; expiry and value length only
//! when they cannot be implied) and indexes them with a linear-probing table
//! of one tag byte and one `u32` arena offset per bucket. A 16-byte key costs
//! about 13 bytes of record plus 6 to 10 bytes of index, against about 70
//! bytes in a `HashMap<Box<[u8]>, Entry>` with one allocation per key; an
//! insert allocates nothing but the occasional arena or index growth.
//!
//! An [`Entry`] is what callers see: the packed location (which doubles as
//! the key's [`Version`](super::Version)), the record and value lengths and
//! the expiry.

use crate::keyspace::{NR_SLOTS, key_slot};

pub use self::lookahead::LOOKAHEAD;
pub(super) use self::lookahead::prefetch_address;
use self::lookahead::prefetch_line;
pub use self::packed::NO_CACHE;
use self::table::{Hasher, SlotTable};

mod lookahead;
mod packed;
mod table;

/// A key held by value outside the keydir (an undo entry's): short keys
/// inline, so a write's bookkeeping allocates nothing for them.
pub enum OwnedKey {
    /// Up to [`OwnedKey::INLINE`] bytes.
    Inline {
        /// Bytes used.
        len: u8,
        /// The key, then unused bytes.
        bytes: [u8; OwnedKey::INLINE],
    },
    /// A longer key.
    Heap(Box<[u8]>),
}

impl OwnedKey {
    /// The longest key kept inline.
    pub const INLINE: usize = 30;
}

impl From<&[u8]> for OwnedKey {
    fn from(key: &[u8]) -> OwnedKey {
        if key.len() <= OwnedKey::INLINE {
            let mut bytes = [0; OwnedKey::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            OwnedKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            OwnedKey::Heap(key.into())
        }
    }
}

impl std::ops::Deref for OwnedKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            OwnedKey::Inline { len, bytes } => &bytes[..*len as usize],
            OwnedKey::Heap(key) => key,
        }
    }
}

/// Bits of a packed location used by the offset; the file id sits above.
pub const OFFSET_BITS: u32 = 40;
/// Largest offset a packed location can hold (also caps `max_file_size`).
pub const MAX_OFFSET: u64 = (1 << OFFSET_BITS) - 1;

/// Packs a file id and offset into one `u64`.
pub fn pack_location(file_id: u32, offset: u64) -> u64 {
    debug_assert!(offset <= MAX_OFFSET);
    ((file_id as u64) << OFFSET_BITS) | offset
}

/// The file id of a packed location.
pub fn unpack_file_id(location: u64) -> u32 {
    (location >> OFFSET_BITS) as u32
}

/// What the keydir holds for one live key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// `(file_id << 40) | offset`: unique per record, so it is also the version.
    pub location: u64,
    /// Total length of the record (header + key + value).
    pub record_len: u32,
    /// Length of the value.
    pub value_len: u32,
    /// Absolute expiry in ms; 0 = none.
    pub expire_at_ms: u64,
}

impl Entry {
    /// The log file holding the record.
    pub fn file_id(&self) -> u32 {
        (self.location >> OFFSET_BITS) as u32
    }

    /// Byte offset of the record in its file.
    pub fn offset(&self) -> u64 {
        self.location & MAX_OFFSET
    }

    /// True when the key is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }
}

/// A key's hash slot and hash: where its lookup goes, computed once for a
/// batch's prefetch and used again by the lookup after it
/// ([`Keydir::key_hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHash {
    /// The key's hash slot ([`key_slot`]).
    slot: u16,
    /// The keydir hasher's hash of the key.
    hash: u64,
}

impl KeyHash {
    /// The key's hash slot.
    pub fn slot(&self) -> u16 {
        self.slot
    }
}

/// The per-slot keydir.
pub struct Keydir {
    /// One compact table per hash slot.
    slots: Vec<SlotTable>,
    /// Keys across all slots.
    len: usize,
    /// Hasher seed shared by every slot table.
    hasher: Hasher,
    /// Where the next `reap_expired` call resumes: slot, and the arena offset
    /// of the next record to visit in that slot (kept on the same record when
    /// the slot is compacted).
    reap_cursor: (usize, usize),
    /// Keys with an expiry, across all slots.
    expiring: usize,
    /// One bit per slot, set when the slot holds a key with an expiry: the
    /// reaper visits only those slots (a keydir without TTLs costs it
    /// nothing, however many slots hold keys).
    expiring_slots: Box<[u64]>,
}

impl Default for Keydir {
    fn default() -> Self {
        Self::new()
    }
}

impl Keydir {
    /// An empty keydir.
    pub fn new() -> Keydir {
        Keydir::with_hasher(Hasher::new())
    }

    fn with_hasher(hasher: Hasher) -> Keydir {
        let slots = (0..NR_SLOTS).map(|_| SlotTable::default()).collect();
        Keydir {
            slots,
            len: 0,
            hasher,
            reap_cursor: (0, 0),
            expiring: 0,
            expiring_slots: vec![0; NR_SLOTS as usize / 64].into_boxed_slice(),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Updates the count of keys with an expiry and `slot`'s bit after a
    /// change to its table, which held `before` such keys.
    fn note_expiring(&mut self, slot: usize, before: u32) {
        let after = self.slots[slot].expiring();
        if after == before {
            return;
        }
        self.expiring = self.expiring + after as usize - before as usize;
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        if after == 0 {
            self.expiring_slots[word] &= !bit;
        } else {
            self.expiring_slots[word] |= bit;
        }
    }

    /// The first slot from `from` on (wrapping around) that holds a key
    /// with an expiry.
    fn next_expiring_slot(&self, from: usize) -> Option<usize> {
        let words = &self.expiring_slots;
        let (first, shift) = (from / 64, from % 64);
        let here = words[first] & (!0u64 << shift);
        if here != 0 {
            return Some(first * 64 + here.trailing_zeros() as usize);
        }
        for step in 1..=words.len() {
            let word = (first + step) % words.len();
            let mut bits = words[word];
            if step == words.len() {
                // Back at the first word: the bits below `from`.
                bits &= !(!0u64 << shift);
            }
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Runs upkeep on `slot` after a change, keeping the reap cursor on its
    /// record.
    fn maintain(&mut self, slot: usize) {
        let cursor = (self.reap_cursor.0 == slot).then_some(&mut self.reap_cursor.1);
        self.slots[slot].maintain(&self.hasher, cursor);
    }

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.slots[key_slot(key) as usize].get(key, self.hasher.hash_one(key))
    }

    /// Where `key`'s lookup goes (for [`Keydir::get_cached_at`]).
    pub fn key_hash(&self, key: &[u8]) -> KeyHash {
        KeyHash {
            slot: key_slot(key),
            hash: self.hasher.hash_one(key),
        }
    }

    /// [`Keydir::get_cached`] for a key whose [`KeyHash`] is known.
    pub fn get_cached_at(&self, key: &[u8], at: KeyHash) -> Option<(Entry, u32)> {
        debug_assert_eq!(at, self.key_hash(key));
        self.slots[at.slot as usize].get_cached(key, at.hash)
    }

    /// The entry of `key`, expired or not, and the slot where the value cache
    /// holds its value ([`NO_CACHE`] when it holds none; a hint the cache
    /// checks against the entry's location).
    pub fn get_cached(&self, key: &[u8]) -> Option<(Entry, u32)> {
        self.slots[key_slot(key) as usize].get_cached(key, self.hasher.hash_one(key))
    }

    /// Names a cache slot in `key`'s record if it is still at `location`,
    /// with one probe for the check and the change: `place` gets the slot
    /// the record names now ([`NO_CACHE`] when none; a hint the cache checks
    /// against the location) and returns the slot to name, or `None` to
    /// leave it. Returns the slot named and whether the record holds it
    /// (false: no room to give it the field); `None` when `key` has moved
    /// on or `place` declined.
    pub fn place_cache(
        &mut self,
        key: &[u8],
        location: u64,
        place: impl FnOnce(u32) -> Option<u32>,
    ) -> Option<(u32, bool)> {
        let slot = key_slot(key) as usize;
        let placed = self.slots[slot].place_cache(key, self.hasher.hash_one(key), location, place);
        // A record given the field leaves a dead one behind.
        self.maintain(slot);
        placed
    }

    /// True when `key`'s hash slot `slot` can take one more record (a
    /// slot's records are capped at 4 GiB); a write must not start otherwise.
    pub(super) fn has_room_in_slot(&self, slot: u16, key: &[u8]) -> bool {
        debug_assert_eq!(slot, key_slot(key));
        self.slots[slot as usize].has_room(key.len())
    }

    /// Sets the entry of `key`; returns the previous one.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        self.insert_in_slot(key_slot(key), key, entry, |_| NO_CACHE)
    }

    /// Sets the entry of `key` whose value sits in cache slot `cache`;
    /// returns the previous entry.
    pub fn insert_cached(&mut self, key: &[u8], entry: Entry, cache: u32) -> Option<Entry> {
        self.insert_in_slot(key_slot(key), key, entry, move |_| cache)
    }

    /// Sets the entry of `key` in its hash slot `slot`, asking `cache` for
    /// the new record's cache slot given the previous entry and its cache
    /// slot ([`NO_CACHE`] if none), in one probe; returns the previous entry.
    pub(super) fn insert_in_slot(
        &mut self,
        slot: u16,
        key: &[u8],
        entry: Entry,
        cache: impl FnOnce(Option<(&Entry, u32)>) -> u32,
    ) -> Option<Entry> {
        debug_assert_eq!(slot, key_slot(key));
        let hash = self.hasher.hash_one(key);
        self.insert_at(KeyHash { slot, hash }, key, entry, cache)
    }

    /// [`Keydir::insert_in_slot`] for a key whose [`KeyHash`] is known.
    pub(super) fn insert_at(
        &mut self,
        at: KeyHash,
        key: &[u8],
        entry: Entry,
        cache: impl FnOnce(Option<(&Entry, u32)>) -> u32,
    ) -> Option<Entry> {
        debug_assert_eq!(at, self.key_hash(key));
        let (slot, hash) = (at.slot as usize, at.hash);
        let table = &mut self.slots[slot];
        let (expiring, dead_bytes) = (table.expiring(), table.dead_bytes());
        let previous = table.insert(key, hash, &entry, cache, &self.hasher);
        let reshaped = table.dead_bytes() != dead_bytes;
        self.note_expiring(slot, expiring);
        match previous {
            None => self.len += 1,
            // A replaced record of another shape leaves a dead one behind;
            // one overwritten in place leaves nothing to weigh.
            Some(_) if reshaped => self.maintain(slot),
            Some(_) => {}
        }
        previous
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_cached(key).map(|(entry, _)| entry)
    }

    /// Removes `key`; returns its entry and cache slot ([`NO_CACHE`] if
    /// none), so the caller can drop the cached value without a search.
    pub fn remove_cached(&mut self, key: &[u8]) -> Option<(Entry, u32)> {
        self.remove_in_slot(key_slot(key), key)
    }

    /// [`Keydir::remove_cached`] for a caller that knows `key`'s slot.
    pub(super) fn remove_in_slot(&mut self, slot: u16, key: &[u8]) -> Option<(Entry, u32)> {
        debug_assert_eq!(slot, key_slot(key));
        let slot = slot as usize;
        let expiring = self.slots[slot].expiring();
        let removed = self.slots[slot].remove(key, self.hasher.hash_one(key), &self.hasher);
        if removed.is_some() {
            self.note_expiring(slot, expiring);
            self.len -= 1;
            self.maintain(slot);
        }
        removed
    }

    /// Starts loading the index line where `key`'s probe in `slot` begins,
    /// so a bulk load can overlap the cache misses of the next few keys with
    /// the inserts of this one.
    pub(super) fn prefetch_in_slot(&self, slot: u16, key: &[u8]) {
        self.slots[slot as usize].prefetch(self.hasher.hash_one(key));
    }

    /// Sizes `slot`'s index for up to `additional` more keys at once, so a
    /// bulk load does not grow it step by step.
    /// `arena_bytes` bounds what their records take
    /// ([`Keydir::record_size`] each).
    pub(super) fn reserve_in_slot(&mut self, slot: u16, additional: usize, arena_bytes: usize) {
        self.slots[slot as usize].reserve(additional, arena_bytes, &self.hasher);
    }

    /// Sizes every slot's index for `expected_keys` spread evenly over the
    /// slots (with room for the usual unevenness), before a bulk load.
    pub(super) fn presize(&mut self, expected_keys: usize) {
        let mean = expected_keys / NR_SLOTS as usize;
        if mean < 8 {
            return;
        }
        // Keys per slot vary like a Poisson count: mean ± 4 standard deviations.
        let per_slot = mean + 4 * mean.isqrt() + 8;
        for slot in self.slots.iter_mut() {
            slot.reserve(per_slot, 0, &self.hasher);
        }
    }

    /// Bytes a key of `key_len` bytes takes in its slot, at most.
    pub(super) fn record_size(key_len: usize, has_expiry: bool) -> usize {
        packed::record_size(key_len, has_expiry)
    }

    /// Returns arena space reserved by a bulk load but not used (keys that
    /// were overwritten or removed instead of added).
    pub(super) fn shrink_after_load(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.shrink_spare();
        }
    }

    /// Sets `key` back to `previous` (absent when `None`).
    pub fn restore(&mut self, key: &[u8], previous: Option<Entry>) {
        match previous {
            Some(entry) => {
                self.insert(key, entry);
            }
            None => {
                self.remove(key);
            }
        }
    }

    /// Replaces the whole keydir with an empty one and returns the old one.
    pub fn take(&mut self) -> Keydir {
        let empty = Keydir::with_hasher(self.hasher.clone());
        std::mem::replace(self, empty)
    }

    /// Sum of record lengths of every entry.
    pub fn total_record_bytes(&self) -> u64 {
        self.iter().map(|(_, entry)| entry.record_len as u64).sum()
    }

    /// Every key and entry (all slots, in slot order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Entry)> + '_ {
        self.slots.iter().flat_map(SlotTable::iter)
    }

    /// Every key and entry of one slot, oldest insert first.
    pub fn iter_slot(&self, slot: u16) -> impl Iterator<Item = (&[u8], Entry)> + '_ {
        self.slots
            .get(slot as usize)
            .into_iter()
            .flat_map(SlotTable::iter)
    }

    /// Points `key` at `to` if it still points at `from`; true if it did.
    pub fn relocate(&mut self, key: &[u8], from: u64, to: u64) -> bool {
        let hash = self.hasher.hash_one(key);
        self.slots[key_slot(key) as usize].relocate(key, hash, from, to)
    }

    /// Removes entries expired at `now_ms`, visiting at most `budget` keys,
    /// resuming where the previous call stopped. Calls `on_removed` with each
    /// removed entry and its cache slot; returns how many were removed.
    ///
    /// Only slots that hold a key with an expiry are walked (all of their
    /// keys), so the cost follows the keys that can expire, not the size of
    /// the keydir. A slot is walked in insertion order, which removals and
    /// compaction preserve, and the cursor follows its record through
    /// compaction, so a full cycle of calls visits every key with an expiry
    /// that stays put. A key rewritten with another shape (expiry added or
    /// dropped) moves to its slot's end; then it is visited twice or later,
    /// which only delays reaping.
    pub fn reap_expired(
        &mut self,
        now_ms: u64,
        budget: usize,
        on_removed: &mut dyn FnMut(&[u8], &Entry, u32),
    ) -> usize {
        let nr_slots = self.slots.len();
        let mut visited = 0usize;
        let mut removed = 0usize;
        // Slots passed since the cursor: one lap at most per call.
        let mut walked = 0usize;
        let (mut slot, mut at) = self.reap_cursor;
        while visited < budget {
            let Some(next) = self.next_expiring_slot(slot) else {
                break;
            };
            if next != slot {
                walked += (next + nr_slots - slot) % nr_slots;
                (slot, at) = (next, 0);
                if walked >= nr_slots {
                    break;
                }
            }
            let table = &mut self.slots[slot];
            let (before, expiring) = (table.len(), table.expiring());
            let (next, complete) =
                table.reap(at, now_ms, budget, &mut visited, &self.hasher, on_removed);
            removed += before - table.len();
            at = next;
            table.maintain(&self.hasher, Some(&mut at));
            self.note_expiring(slot, expiring);
            if !complete {
                break;
            }
            (slot, at) = ((slot + 1) % nr_slots, 0);
            walked += 1;
            if walked >= nr_slots {
                break;
            }
        }
        self.reap_cursor = (slot, at);
        self.len -= removed;
        removed
    }

    /// Checks every slot table's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        let mut len = 0;
        let mut expiring = 0;
        for (slot, table) in self.slots.iter().enumerate() {
            table.check(&self.hasher);
            len += table.len();
            expiring += table.expiring() as usize;
            let bit = self.expiring_slots[slot / 64] >> (slot % 64) & 1;
            assert_eq!(bit == 1, table.expiring() > 0, "slot {slot}'s expiry bit");
        }
        assert_eq!(len, self.len);
        assert_eq!(expiring, self.expiring);
    }
}

#[cfg(test)]
mod tests;
