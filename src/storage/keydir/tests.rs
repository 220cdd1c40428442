//! The keydir's tests: insert/get/remove, owned keys, location packing, per-slot iteration and reaping, record shapes, growing and compacting a slot.

use super::super::record::HEADER_LEN;
use super::*;

#[test]
fn owned_keys_give_back_their_bytes_inline_or_not() {
    for len in [
        0,
        1,
        OwnedKey::INLINE - 1,
        OwnedKey::INLINE,
        OwnedKey::INLINE + 1,
        300,
    ] {
        let key: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let owned = OwnedKey::from(&key[..]);
        assert_eq!(&owned[..], &key[..], "{len} bytes");
        assert_eq!(
            matches!(owned, OwnedKey::Inline { .. }),
            len <= OwnedKey::INLINE
        );
    }
}

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
fn cache_slots_ride_with_the_entry() {
    let mut keydir = Keydir::new();
    let key = b"0123456789abcdef";
    keydir.insert(key, implied(key, 1, 5, 0));
    assert_eq!(
        keydir.get_cached(key),
        Some((implied(key, 1, 5, 0), NO_CACHE))
    );
    let mut asked = false;
    let elsewhere = keydir.place_cache(key, 2, |_| {
        asked = true;
        Some(7)
    });
    assert_eq!(elsewhere, None, "the key is elsewhere");
    assert!(!asked, "nothing placed for a record that moved on");
    assert_eq!(keydir.place_cache(key, 1, |_| None), None, "declined");
    assert_eq!(
        keydir.place_cache(key, 1, |now| {
            assert_eq!(now, NO_CACHE);
            Some(7)
        }),
        Some((7, true))
    );
    assert_eq!(keydir.get_cached(key), Some((implied(key, 1, 5, 0), 7)));
    assert_eq!(
        keydir.place_cache(key, 1, |now| (now != 7).then_some(0)),
        None
    );
    assert_eq!(keydir.place_cache(key, 1, |_| Some(9)), Some((9, true)));
    assert_eq!(keydir.get_cached(key).unwrap().1, 9, "in place");
    keydir.place_cache(key, 1, |_| Some(7));
    // Rewritten: the field stays (in place), with the new slot or none.
    keydir.insert_cached(key, implied(key, 2, 6, 0), 8);
    assert_eq!(keydir.get_cached(key).unwrap().1, 8);
    keydir.insert(key, implied(key, 3, 6, 9));
    assert_eq!(
        keydir.get_cached(key),
        Some((implied(key, 3, 6, 9), NO_CACHE))
    );
    keydir.insert_cached(b"new", implied(b"new", 4, 1, 0), 0);
    assert_eq!(keydir.get_cached(b"new").unwrap().1, 0);
    keydir.check();
    assert_eq!(keydir.place_cache(b"absent", 1, |_| Some(1)), None);
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
        let removed = keydir.reap_expired(10, 30, &mut |_, _, _| {});
        assert!(removed <= 30);
        total += removed;
    }
    assert_eq!(total, 500);
    assert_eq!(keydir.len(), 500);
}

/// Keys without an expiry cost the reaper nothing: with 20,000 such keys
/// spread over every slot and a few keys with an expiry in a few slots, a
/// small budget visits only those slots (all their keys), wrapping around
/// from the cursor, and finds every expired key; once none has an expiry,
/// a call visits nothing.
#[test]
fn reap_visits_only_slots_with_expiring_keys() {
    let mut keydir = Keydir::new();
    for index in 0..20_000u64 {
        keydir.insert(format!("plain:{index}").as_bytes(), entry(index, 0));
    }
    // Three hash tags: three slots, one of them below the others.
    let tagged = ["{a}", "{b}", "{c}"];
    let slots: Vec<u16> = tagged.iter().map(|tag| key_slot(tag.as_bytes())).collect();
    for (index, tag) in tagged.iter().cycle().take(30).enumerate() {
        let key = format!("{tag}:{index}");
        let expire = if index % 3 == 0 { 5 } else { 50 };
        keydir.insert(key.as_bytes(), entry(100_000 + index as u64, expire));
    }
    keydir.check();
    // The keys sharing those slots that have no expiry are walked too.
    let budget: usize = slots
        .iter()
        .map(|&slot| keydir.iter_slot(slot).count())
        .sum();
    let mut seen = Vec::new();
    let removed = keydir.reap_expired(10, budget, &mut |key, _, _| seen.push(key.to_vec()));
    assert_eq!(removed, 10, "every key of those slots with an expiry at 5");
    assert_eq!(seen.len(), 10);
    assert_eq!(keydir.len(), 20_020);
    keydir.check();
    // Past 50 the other twenty go; the cursor starts past the first slot
    // and wraps around to it.
    let mut total = 0;
    for _ in 0..3 {
        total += keydir.reap_expired(60, budget, &mut |_, _, _| {});
    }
    assert_eq!(total, 20);
    assert_eq!(keydir.len(), 20_000);
    keydir.check();
    assert_eq!(
        keydir.reap_expired(u64::MAX, usize::MAX, &mut |_, _, _| {}),
        0
    );
    assert_eq!(keydir.len(), 20_000, "no key has an expiry");
    // Dropping an expiry by a rewrite clears the slot's mark as well.
    keydir.insert(b"{a}:x", entry(1, 5));
    keydir.insert(b"{a}:x", entry(2, 0));
    keydir.check();
    assert_eq!(
        keydir.reap_expired(u64::MAX, usize::MAX, &mut |_, _, _| {}),
        0
    );
    assert_eq!(keydir.get(b"{a}:x"), Some(entry(2, 0)));
}

/// An entry whose value length follows from its record length.
fn implied(key: &[u8], location: u64, value_len: u32, expire_at_ms: u64) -> Entry {
    Entry {
        location,
        record_len: HEADER_LEN as u32 + key.len() as u32 + value_len,
        value_len,
        expire_at_ms,
    }
}

#[test]
fn shapes_and_key_lengths_round_trip() {
    let mut keydir = Keydir::new();
    let long = vec![b'x'; 300];
    let huge = vec![b'y'; 70_000];
    let keys: [&[u8]; 5] = [b"", b"k", b"0123456789abcdef", &long, &huge];
    for (index, key) in keys.iter().enumerate() {
        let location = pack_location(index as u32 + 1, MAX_OFFSET - index as u64);
        let shapes = [
            implied(key, location, 5, 0),
            implied(key, location + 1, 6, u64::MAX),
            entry(location + 2, 0),
            entry(location + 3, 77),
            implied(key, location + 4, 0, 0),
        ];
        let mut previous = None;
        for shape in shapes {
            assert_eq!(keydir.insert(key, shape), previous);
            assert_eq!(keydir.get(key), Some(shape));
            keydir.check();
            previous = Some(shape);
        }
    }
    assert_eq!(keydir.len(), keys.len());
    for key in keys {
        assert!(keydir.relocate(key, keydir.get(key).unwrap().location, 9));
        assert!(!keydir.relocate(key, 8, 10));
        assert_eq!(keydir.get(key).unwrap().location, 9);
        assert!(keydir.remove(key).is_some());
        keydir.check();
    }
    assert!(keydir.is_empty());
}

#[test]
fn one_big_slot_grows_compacts_and_shrinks() {
    let mut keydir = Keydir::new();
    let key = |index: u32| format!("{{big}}{index}").into_bytes();
    for index in 0..20_000u32 {
        assert_eq!(
            keydir.insert(&key(index), implied(&key(index), index as u64, 3, 0)),
            None
        );
    }
    keydir.check();
    // Change shape (adds expiry) for a third: dead records pile up.
    for index in (0..20_000u32).step_by(3) {
        let new = implied(&key(index), index as u64 + 1, 3, 1 + index as u64);
        assert!(keydir.insert(&key(index), new).is_some());
    }
    keydir.check();
    for index in (0..20_000u32).filter(|index| index % 4 != 0) {
        assert!(keydir.remove(&key(index)).is_some());
    }
    keydir.check();
    assert_eq!(keydir.len(), 5000);
    let slot = key_slot(b"big");
    assert_eq!(keydir.iter_slot(slot).count(), 5000);
    let table = &keydir.slots[slot as usize];
    // Arena compacted; the index may stay up to 8x the live keys.
    assert!(
        table.heap_bytes() < 5000 * 80,
        "{} bytes",
        table.heap_bytes()
    );
    for index in (0..20_000u32).step_by(4) {
        let expire = if index % 3 == 0 { 1 + index as u64 } else { 0 };
        let offset = if index % 3 == 0 { 1 } else { 0 };
        assert_eq!(
            keydir.get(&key(index)),
            Some(implied(&key(index), index as u64 + offset, 3, expire))
        );
        keydir.remove(&key(index));
    }
    keydir.check();
    assert!(keydir.is_empty());
    assert_eq!(keydir.slots[slot as usize].heap_bytes(), 0);
}

#[test]
fn incremental_grow_keeps_every_key_reachable() {
    let mut keydir = Keydir::new();
    let key = |index: u32| format!("{{g}}{index}").into_bytes();
    let slot = key_slot(b"g") as usize;
    let mut drains = 0;
    for index in 0..3000u32 {
        let was_draining = keydir.slots[slot].draining();
        keydir.insert(&key(index), implied(&key(index), index as u64, 2, 0));
        if index % 3 == 0 {
            // Updates and removals reach keys still in the old index.
            let old = implied(&key(index / 2), (index / 2) as u64, 2, 0);
            let new = implied(&key(index / 2), index as u64, 2, 7);
            if keydir.get(&key(index / 2)) == Some(old) {
                assert_eq!(keydir.insert(&key(index / 2), new), Some(old));
            }
            assert!(keydir.remove(&key(index / 3 + 1)).is_some() || index / 3 + 1 > index);
        }
        if keydir.slots[slot].draining() {
            if !was_draining {
                drains += 1;
            }
            keydir.check();
        }
    }
    assert!(drains >= 3, "{drains} incremental grows");
    keydir.check();
    let mut seen = 0;
    for (key, entry) in keydir.iter_slot(slot as u16) {
        assert_eq!(keydir.get(key), Some(entry));
        seen += 1;
    }
    assert_eq!(seen, keydir.len());
}

#[test]
fn slot_iteration_keeps_insertion_order() {
    let mut keydir = Keydir::new();
    let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("{{o}}{i}").into_bytes()).collect();
    for (index, key) in keys.iter().enumerate() {
        keydir.insert(key, implied(key, index as u64, 1, 0));
    }
    for key in keys.iter().skip(1).step_by(2) {
        keydir.remove(key);
    }
    let order: Vec<Vec<u8>> = keydir
        .iter_slot(key_slot(b"o"))
        .map(|(key, _)| key.to_vec())
        .collect();
    let expected: Vec<Vec<u8>> = keys.iter().step_by(2).cloned().collect();
    assert_eq!(order, expected);
}

#[test]
fn reap_cursor_survives_compaction() {
    let mut keydir = Keydir::new();
    let key = |index: u32| format!("{{r}}{index}").into_bytes();
    for index in 0..4000u32 {
        keydir.insert(&key(index), implied(&key(index), index as u64, 1, 5));
    }
    let mut reaped = std::collections::HashSet::new();
    let mut deleted = 0u32;
    let mut next_delete = 0u32;
    while !keydir.is_empty() {
        keydir.reap_expired(10, 50, &mut |key, _, _| {
            assert!(reaped.insert(key.to_vec()), "reaped twice");
        });
        // Deletes from the other end force compactions under the cursor.
        for _ in 0..20 {
            if next_delete < 2000 {
                if keydir.remove(&key(3999 - next_delete)).is_some() {
                    deleted += 1;
                }
                next_delete += 1;
            }
        }
        keydir.check();
    }
    assert_eq!(reaped.len() as u32 + deleted, 4000);
}

#[test]
fn take_and_restore_keep_contents() {
    let mut keydir = Keydir::new();
    keydir.insert(b"a", implied(b"a", 1, 1, 0));
    let old = keydir.take();
    assert!(keydir.is_empty());
    assert_eq!(old.get(b"a"), Some(implied(b"a", 1, 1, 0)));
    keydir = old;
    assert_eq!(keydir.len(), 1);
    assert_eq!(keydir.total_record_bytes(), HEADER_LEN as u64 + 2);
}

mod model {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            key: u16,
            location: u64,
            value_len: u32,
            expire: u64,
            explicit: bool,
        },
        Remove {
            key: u16,
        },
        Relocate {
            key: u16,
            to: u64,
            stale: bool,
        },
        Reap {
            now: u64,
            budget: usize,
        },
        Take,
    }

    /// Keys spread over few slots (hash tags) and many, with varied lengths.
    fn key_bytes(key: u16) -> Vec<u8> {
        match key % 4 {
            0 => format!("{{t}}{key}").into_bytes(),
            1 => format!("{{u}}{}", "z".repeat(key as usize % 200)).into_bytes(),
            2 => format!("{key:016}").into_bytes(),
            _ => format!("{{t}}{key}-{}", "w".repeat(key as usize % 40)).into_bytes(),
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..600u16, 0..1u64 << 40, 0..100u32, prop_oneof![Just(0u64), 1..100u64], any::<bool>())
                .prop_map(|(key, location, value_len, expire, explicit)| Op::Insert {
                    key, location, value_len, expire, explicit
                }),
            3 => (0..600u16).prop_map(|key| Op::Remove { key }),
            1 => (0..600u16, any::<u64>(), any::<bool>())
                .prop_map(|(key, to, stale)| Op::Relocate { key, to, stale }),
            1 => (0..120u64, 1..200usize).prop_map(|(now, budget)| Op::Reap { now, budget }),
            1 => Just(Op::Take),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn keydir_matches_a_hash_map(ops in proptest::collection::vec(op(), 1..3000)) {
            let mut keydir = Keydir::new();
            let mut model: HashMap<Vec<u8>, Entry> = HashMap::new();
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert { key, location, value_len, expire, explicit } => {
                        let key = key_bytes(key);
                        let mut entry = implied(&key, location, value_len, expire);
                        if explicit {
                            entry.record_len += 1;
                        }
                        prop_assert_eq!(keydir.insert(&key, entry), model.insert(key, entry));
                    }
                    Op::Remove { key } => {
                        let key = key_bytes(key);
                        prop_assert_eq!(keydir.remove(&key), model.remove(&key));
                    }
                    Op::Relocate { key, to, stale } => {
                        let key = key_bytes(key);
                        let current = model.get(&key).map(|entry| entry.location);
                        let from = match (current, stale) {
                            (Some(location), false) => location,
                            (Some(location), true) => location ^ 1,
                            (None, _) => 3,
                        };
                        let moved = keydir.relocate(&key, from, to);
                        prop_assert_eq!(moved, current == Some(from));
                        if moved {
                            model.get_mut(&key).unwrap().location = to;
                        }
                    }
                    Op::Reap { now, budget } => {
                        let mut removed = Vec::new();
                        let count = keydir.reap_expired(now, budget, &mut |key, entry, _| {
                            removed.push((key.to_vec(), *entry));
                        });
                        prop_assert!(count <= budget);
                        prop_assert_eq!(count, removed.len());
                        for (key, entry) in removed {
                            prop_assert!(entry.is_expired(now));
                            prop_assert_eq!(model.remove(&key), Some(entry));
                        }
                    }
                    Op::Take => {
                        let taken = keydir.take();
                        prop_assert!(keydir.is_empty());
                        keydir = taken;
                    }
                }
                prop_assert_eq!(keydir.len(), model.len());
                if step % 97 == 0 {
                    keydir.check();
                    for (key, entry) in &model {
                        prop_assert_eq!(keydir.get(key), Some(*entry));
                    }
                    let mut by_slot: HashMap<u16, Vec<(Vec<u8>, Entry)>> = HashMap::new();
                    for (key, entry) in &model {
                        by_slot.entry(key_slot(key)).or_default().push((key.clone(), *entry));
                    }
                    for (slot, mut expected) in by_slot {
                        let mut seen: Vec<(Vec<u8>, Entry)> = keydir
                            .iter_slot(slot)
                            .map(|(key, entry)| (key.to_vec(), entry))
                            .collect();
                        seen.sort_by(|a, b| a.0.cmp(&b.0));
                        expected.sort_by(|a, b| a.0.cmp(&b.0));
                        prop_assert_eq!(seen, expected);
                    }
                    prop_assert_eq!(keydir.iter().count(), model.len());
                }
            }
            keydir.check();
            // Reaping far in the future empties every expiring key.
            let mut left = model.clone();
            left.retain(|_, entry| entry.expire_at_ms == 0);
            let mut removed = 0;
            for _ in 0..NR_SLOTS as usize * 2 {
                removed += keydir.reap_expired(u64::MAX, 1000, &mut |_, _, _| {});
                if keydir.len() == left.len() {
                    break;
                }
            }
            prop_assert_eq!(removed, model.len() - left.len());
            for (key, entry) in &left {
                prop_assert_eq!(keydir.get(key), Some(*entry));
            }
            keydir.check();
        }
    }
}
