//! Prefetching a batch of lookups in stages.
//!
//! A lookup takes three dependent cache misses: the slot table's own
//! fields name the index, the index bucket names the record in the arena,
//! the record names the value cache's node. One GET after another, a
//! pipeline waits for each in turn. [`Keydir::prefetch_lookups`] walks the
//! batch once per stage instead, asking the CPU for every key's line of
//! that stage before reading any of them in the next, so the misses of
//! [`LOOKAHEAD`] keys overlap.

use super::packed::NO_CACHE;
use super::{KeyHash, Keydir};

/// Keys whose lookups [`Keydir::prefetch_lookups`] overlaps at a time:
/// about as many misses as a core keeps in flight.
pub const LOOKAHEAD: usize = 16;

/// Hints the CPU to load the cache line holding `value` (a prefetch never
/// faults and changes nothing).
pub(super) fn prefetch_line<T>(value: &T) {
    prefetch_address((value as *const T).cast());
}

/// Hints the CPU to load the cache line holding `address`; any address will
/// do (a prefetch never faults and changes nothing).
pub(in crate::storage) fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache; it never faults, whatever
    // the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(address.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

impl Keydir {
    /// Brings what looking up `keys` reads into the CPU cache, in stages
    /// across the keys, so their misses overlap instead of following one
    /// another: each key's slot table header, then its home bucket, then
    /// its record, and last `cache_slot` is told the record's cache slot
    /// (to prefetch the cached value). A lookup's misses depend on each
    /// other (the header names the index, the bucket the record, the
    /// record the cache node); staged over [`LOOKAHEAD`] keys, a batch
    /// waits for about one miss per stage instead of three per key.
    /// Changes nothing; a key that is absent or far from its home bucket
    /// is only not prefetched in full. Each key's [`KeyHash`] is pushed on
    /// `hashes`, in order, for the lookups that follow.
    pub fn prefetch_lookups<'a>(
        &self,
        keys: impl Iterator<Item = &'a [u8]>,
        hashes: &mut Vec<KeyHash>,
        mut cache_slot: impl FnMut(u32),
    ) {
        let mut keys = keys.peekable();
        // (slot, hash, record offset) of each key of the round.
        let mut round = [(0u16, 0u64, u32::MAX); LOOKAHEAD];
        while keys.peek().is_some() {
            let mut len = 0;
            for key in keys.by_ref().take(LOOKAHEAD) {
                let at = self.key_hash(key);
                self.slots[at.slot as usize].prefetch_header();
                hashes.push(at);
                round[len] = (at.slot, at.hash, u32::MAX);
                len += 1;
            }
            let round = &mut round[..len];
            for &(slot, hash, _) in round.iter() {
                self.slots[slot as usize].prefetch(hash);
            }
            for (slot, hash, at) in round.iter_mut() {
                *at = self.slots[*slot as usize]
                    .prefetch_record(*hash)
                    .unwrap_or(u32::MAX);
            }
            for &(slot, _, at) in round.iter() {
                if at != u32::MAX {
                    let cache = self.slots[slot as usize].cache_slot_at(at);
                    if cache != NO_CACHE {
                        cache_slot(cache);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Keydir};
    use crate::storage::record::HEADER_LEN;

    fn entry(key: &[u8], location: u64) -> Entry {
        Entry {
            location,
            record_len: (HEADER_LEN + key.len() + 3) as u32,
            value_len: 3,
            expire_at_ms: 0,
        }
    }

    #[test]
    fn the_last_stage_names_each_cached_key_s_cache_slot() {
        let mut keydir = Keydir::new();
        // Many keys per slot table, so probes run past their home bucket.
        let keys: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| format!("{{t{}}}key:{i}", i % 3).into_bytes())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            let i = i as u32;
            match i % 3 {
                0 => keydir.insert(key, entry(key, i as u64)),
                1 => keydir.insert_cached(key, entry(key, i as u64), 10_000 + i),
                _ => continue,
            };
        }
        let mut named = Vec::new();
        let mut hashes = Vec::new();
        keydir.prefetch_lookups(keys.iter().map(|key| &key[..]), &mut hashes, |slot| {
            named.push(slot)
        });
        assert_eq!(hashes.len(), keys.len());
        for (key, at) in keys.iter().zip(hashes) {
            assert_eq!(keydir.get_cached_at(key, at), keydir.get_cached(key));
        }
        let cached: std::collections::HashSet<u32> = (0..3000u32)
            .filter(|i| i % 3 == 1)
            .map(|i| 10_000 + i)
            .collect();
        // A probe that has to go past a few buckets is left off, and a tag
        // shared by two keys may name the other's slot: a prefetch only
        // guesses. Nearly all are named, and only slots of cached keys.
        assert!(
            named.len() * 100 >= cached.len() * 85,
            "{} of {}",
            named.len(),
            cached.len()
        );
        assert!(named.iter().all(|slot| cached.contains(slot)), "{named:?}");
    }

    #[test]
    fn absent_keys_and_an_empty_keydir_name_nothing() {
        let keydir = Keydir::new();
        let mut named = 0;
        keydir.prefetch_lookups([&b"a"[..], b"b"].into_iter(), &mut Vec::new(), |_| {
            named += 1
        });
        let mut keydir = Keydir::new();
        keydir.insert_cached(b"present", entry(b"present", 1), 5);
        keydir.prefetch_lookups((0..100).map(|_| &b"absent"[..]), &mut Vec::new(), |_| {
            named += 1
        });
        assert_eq!(named, 0);
        let mut slots = Vec::new();
        keydir.prefetch_lookups(
            [&b"absent"[..], b"present"].into_iter(),
            &mut Vec::new(),
            |slot| slots.push(slot),
        );
        assert_eq!(slots, [5]);
    }
}
