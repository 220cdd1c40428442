//! The in-memory keydir: key -> where its newest record lives.
//!
//! The keydir is split per Redis hash slot: a `Vec` of 16384 hash maps indexed
//! by [`key_slot`]. An empty `HashMap` does not allocate, so a shard that owns
//! only a range of slots pays nothing for the others. Splitting gives SCAN a
//! stable cursor (slot by slot) and keeps any single rehash small, so there is
//! no stop-the-world stall when one giant table doubles.
//!
//! An [`Entry`] is 24 bytes: the packed location (which doubles as the key's
//! [`Version`](super::Version)), the record and value lengths and the expiry.

use std::collections::HashMap;

use crate::router::slot::{NR_SLOTS, key_slot};

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

type SlotMap = HashMap<Box<[u8]>, Entry, ahash::RandomState>;

/// The per-slot keydir.
pub struct Keydir {
    /// One map per hash slot.
    slots: Vec<SlotMap>,
    /// Keys across all slots.
    len: usize,
    /// Shared hasher seed, cloned into every slot map.
    hasher: ahash::RandomState,
    /// Where the next `reap_expired` call resumes: slot, and how many keys of
    /// that slot were already visited and kept.
    reap_cursor: (usize, usize),
}

impl Default for Keydir {
    fn default() -> Self {
        Self::new()
    }
}

impl Keydir {
    /// An empty keydir.
    pub fn new() -> Keydir {
        let hasher = ahash::RandomState::new();
        let slots = (0..NR_SLOTS)
            .map(|_| HashMap::with_hasher(hasher.clone()))
            .collect();
        Keydir {
            slots,
            len: 0,
            hasher,
            reap_cursor: (0, 0),
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

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.slots[key_slot(key) as usize].get(key).copied()
    }

    /// Sets the entry of `key`; returns the previous one.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let map = &mut self.slots[key_slot(key) as usize];
        if let Some(existing) = map.get_mut(key) {
            return Some(std::mem::replace(existing, entry));
        }
        map.insert(key.into(), entry);
        self.len += 1;
        None
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let removed = self.slots[key_slot(key) as usize].remove(key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
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
        let mut empty = Keydir::new();
        empty.hasher = self.hasher.clone();
        std::mem::replace(self, empty)
    }

    /// Sum of record lengths of every entry.
    pub fn total_record_bytes(&self) -> u64 {
        self.iter().map(|(_, entry)| entry.record_len as u64).sum()
    }

    /// Every key and entry (all slots, in slot order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Entry)> + '_ {
        self.slots
            .iter()
            .flat_map(|map| map.iter().map(|(key, entry)| (&**key, *entry)))
    }

    /// Every key and entry of one slot.
    pub fn iter_slot(&self, slot: u16) -> impl Iterator<Item = (&[u8], Entry)> + '_ {
        self.slots
            .get(slot as usize)
            .into_iter()
            .flat_map(|map| map.iter().map(|(key, entry)| (&**key, *entry)))
    }

    /// Points `key` at `to` if it still points at `from`; true if it did.
    pub fn relocate(&mut self, key: &[u8], from: u64, to: u64) -> bool {
        match self.slots[key_slot(key) as usize].get_mut(key) {
            Some(entry) if entry.location == from => {
                entry.location = to;
                true
            }
            _ => false,
        }
    }

    /// Removes entries expired at `now_ms`, visiting at most `budget` keys,
    /// resuming where the previous call stopped. Calls `on_removed` with each
    /// removed entry; returns how many were removed.
    ///
    /// Within a slot, `retain` keeps the order of the surviving keys, so the
    /// cursor can skip the already-visited survivors next time. An insert in
    /// between may rehash the slot; then some keys are visited twice or later,
    /// which only delays reaping.
    pub fn reap_expired(
        &mut self,
        now_ms: u64,
        budget: usize,
        on_removed: &mut dyn FnMut(&[u8], &Entry),
    ) -> usize {
        let mut visited = 0usize;
        let mut removed = 0usize;
        let mut slots_done = 0usize;
        let (mut slot, mut skip) = self.reap_cursor;
        while visited < budget && slots_done < self.slots.len() {
            let map = &mut self.slots[slot];
            let mut seen_in_slot = 0usize;
            let mut kept_in_slot = 0usize;
            let mut complete = true;
            if !map.is_empty() {
                map.retain(|key, entry| {
                    seen_in_slot += 1;
                    if seen_in_slot <= skip {
                        kept_in_slot += 1;
                        return true;
                    }
                    if visited >= budget {
                        complete = false;
                        return true;
                    }
                    visited += 1;
                    if entry.is_expired(now_ms) {
                        removed += 1;
                        on_removed(key, entry);
                        false
                    } else {
                        kept_in_slot += 1;
                        true
                    }
                });
            }
            if complete {
                slot = (slot + 1) % self.slots.len();
                skip = 0;
                slots_done += 1;
            } else {
                skip = kept_in_slot;
                break;
            }
        }
        self.reap_cursor = (slot, skip);
        self.len -= removed;
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(location: u64, expire_at_ms: u64) -> Entry {
        Entry {
            location,
            record_len: 40,
            value_len: 4,
            expire_at_ms,
        }
    }

    #[test]
    fn insert_get_remove_restore() {
        let mut keydir = Keydir::new();
        assert_eq!(keydir.insert(b"a", entry(1, 0)), None);
        assert_eq!(keydir.insert(b"a", entry(2, 0)), Some(entry(1, 0)));
        assert_eq!(keydir.len(), 1);
        assert_eq!(keydir.get(b"a"), Some(entry(2, 0)));
        keydir.restore(b"a", None);
        assert!(keydir.is_empty());
        keydir.restore(b"b", Some(entry(3, 0)));
        assert_eq!(keydir.remove(b"b"), Some(entry(3, 0)));
        assert_eq!(keydir.remove(b"b"), None);
        assert_eq!(keydir.len(), 0);
    }

    #[test]
    fn location_packing() {
        let location = pack_location(7, 123_456);
        let e = entry(location, 0);
        assert_eq!(e.file_id(), 7);
        assert_eq!(e.offset(), 123_456);
    }

    #[test]
    fn per_slot_iteration() {
        let mut keydir = Keydir::new();
        keydir.insert(b"{tag}one", entry(1, 0));
        keydir.insert(b"{tag}two", entry(2, 0));
        keydir.insert(b"other", entry(3, 0));
        let slot = key_slot(b"tag");
        let mut keys: Vec<Vec<u8>> = keydir.iter_slot(slot).map(|(k, _)| k.to_vec()).collect();
        keys.sort();
        assert_eq!(keys, vec![b"{tag}one".to_vec(), b"{tag}two".to_vec()]);
    }

    #[test]
    fn reap_respects_budget_and_finishes() {
        let mut keydir = Keydir::new();
        for index in 0..1000u64 {
            let key = format!("{{same}}{index}");
            let expire = if index % 2 == 0 { 5 } else { 0 };
            keydir.insert(key.as_bytes(), entry(index, expire));
        }
        let mut total = 0;
        for _ in 0..100 {
            let removed = keydir.reap_expired(10, 30, &mut |_, _| {});
            assert!(removed <= 30);
            total += removed;
        }
        assert_eq!(total, 500);
        assert_eq!(keydir.len(), 500);
    }
}
