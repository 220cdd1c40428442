//! Big records padded to the next block (see "Padding" in `log.rs`) and
//! two flush rounds in flight (the flusher's `flush_rounds`): every reader
//! steps over the padding, a hole that merely looks like padding stays a
//! torn tail, and a failed round with the next one in flight rolls both
//! back.

use std::path::PathBuf;

use super::super::io::{SimDisk, SimOp, Tear};
use super::super::{MergeMode, Store, SyncMode};
use super::{data_files, must_get, options, reopen, run, sim_options, temp_dir, value_for};

const NOW: u64 = 1_000;
/// Above the padding threshold (`log::PAD_MIN_RECORD`).
const BIG: usize = 100 << 10;

fn key(index: u64) -> Vec<u8> {
    format!("big{index}").into_bytes()
}

fn len_of(index: u64) -> usize {
    BIG + (index as usize * 777) % 5000
}

/// Where `key(index)` lives: offset and record length.
fn place(store: &Store, index: u64) -> (u64, u64) {
    let entry = store.inner.keydir.borrow().get(&key(index)).unwrap();
    (entry.offset(), entry.record_len as u64)
}

#[test]
fn padded_records_are_served_after_reopen_hints_and_merge() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let mut store = Store::open(opts.clone()).await.unwrap();
        // One record per round: each after the first starts at a block.
        for index in 0..12 {
            let ticket = store
                .put(&key(index), &value_for(index, len_of(index)), 0)
                .unwrap();
            store.wait_durable(ticket).await.unwrap();
        }
        for index in 1..12 {
            let (offset, _) = place(&store, index);
            let (before, before_len) = place(&store, index - 1);
            assert_eq!(offset % 4096, 0, "record {index}");
            assert!(
                offset > before + before_len,
                "record {index} follows padding"
            );
        }
        let check = |store: std::rc::Rc<Store>| async move {
            for index in 0..12 {
                assert_eq!(
                    must_get(&store, &key(index), NOW).await,
                    value_for(index, len_of(index))
                );
            }
            store
        };
        store = reopen(store, &opts).await;
        let report = store.recovery_report();
        assert!(report.corruptions.is_empty(), "{report:?}");
        assert!(report.torn_tail.is_none(), "{report:?}");
        assert_eq!(report.keys_loaded, 12);
        store = check(store).await;
        // Sealed: its hint is built by a scan across the padding.
        store.roll_over().unwrap();
        let after = store.put(b"after", b"seal", 0).unwrap();
        store.wait_durable(after).await.unwrap();
        store.write_pending_hints().await.unwrap();
        store = reopen(store, &opts).await;
        assert_eq!(store.recovery_report().hints_loaded, 1);
        assert!(store.recovery_report().bad_hints.is_empty());
        store = check(store).await;
        // A merge copies every record across the padding.
        let merged = store.merge_at(MergeMode::Full, NOW).await.unwrap();
        assert!(merged.records_copied >= 12, "{merged:?}");
        store = check(store).await;
        store = reopen(store, &opts).await;
        assert!(store.recovery_report().corruptions.is_empty());
        check(store).await.close().await.unwrap();
    });
}

#[test]
fn zeros_over_a_record_before_padding_stay_a_torn_tail() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        // Big record 0 and small record 1 in one round, then big record 2
        // padded to the next block: zeros over record 1 look like padding,
        // but record 2 carries record 0's sequence number + 2.
        let first = store.put(&key(0), &value_for(0, BIG), 0).unwrap();
        let small = store.put(&key(1), b"small", 0).unwrap();
        store.wait_durable(first).await.unwrap();
        store.wait_durable(small).await.unwrap();
        let last = store.put(&key(2), &value_for(2, BIG), 0).unwrap();
        store.wait_durable(last).await.unwrap();
        let places = [place(&store, 0), place(&store, 1), place(&store, 2)];
        assert_eq!(places[1].0, places[0].0 + places[0].1);
        assert!(places[2].0 > places[1].0 + places[1].1);
        store.close().await.unwrap();
        sender.send(places).unwrap();
    });
    let places = receiver.recv().unwrap();
    let file: PathBuf = data_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    let (hole, hole_len) = places[1];
    bytes[hole as usize..(hole + hole_len) as usize].fill(0);
    std::fs::write(&file, &bytes).unwrap();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let report = store.recovery_report();
        assert_eq!(
            report.torn_tail.as_ref().map(|(_, offset, _)| *offset),
            Some(hole),
            "{report:?}"
        );
        assert!(report.corruptions.is_empty(), "{report:?}");
        assert_eq!(must_get(&store, &key(0), NOW).await, value_for(0, BIG));
        for index in [1, 2] {
            assert!(store.get(&key(index), NOW).await.unwrap().is_none());
        }
        store.close().await.unwrap();
    });
}

#[test]
fn a_failed_round_with_the_next_one_in_flight_rolls_both_back() {
    let disk = SimDisk::new(512);
    let opts = sim_options(&disk, 64 << 20);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let kept = store.put(b"kept", b"before", 0).unwrap();
        store.wait_durable(kept).await.unwrap();
        // 12 MiB at once: a round of 8 MiB (40 writes, a chunk of 256 KiB
        // per record), and the rest starts as a second round (20 writes)
        // while the first is in flight.
        disk.fail_next(SimOp::Write, libc::EIO);
        let ops_before = disk.ops();
        let tickets: Vec<_> = (0..60)
            .map(|index| {
                store
                    .put(&key(index), &value_for(index, 200 << 10), 0)
                    .unwrap()
            })
            .collect();
        for ticket in tickets {
            assert!(store.wait_durable(ticket).await.is_err());
        }
        assert!(
            disk.ops() - ops_before > 50,
            "the second round's writes went out too: {} ops",
            disk.ops() - ops_before
        );
        for index in 0..60 {
            assert!(store.get(&key(index), NOW).await.unwrap().is_none());
        }
        disk.clear_failures();
        let again = store.put(&key(7), b"again", 0).unwrap();
        store.wait_durable(again).await.unwrap();
        drop(store);
        disk.dirty_reboot(Tear::Forget);
        let store = Store::open(opts.clone()).await.unwrap();
        assert!(store.recovery_report().corruptions.is_empty());
        assert_eq!(must_get(&store, b"kept", NOW).await, b"before");
        assert_eq!(must_get(&store, &key(7), NOW).await, b"again");
        for index in (0..60).filter(|&index| index != 7) {
            assert!(store.get(&key(index), NOW).await.unwrap().is_none());
        }
        store.close().await.unwrap();
    });
}

#[test]
fn no_padding_after_a_rollback_took_sequence_numbers() {
    let disk = SimDisk::new(512);
    let opts = sim_options(&disk, 64 << 20);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let first = store.put(&key(0), &value_for(0, BIG), 0).unwrap();
        store.wait_durable(first).await.unwrap();
        // Record 1 fails before the flusher sees it: its number is gone.
        let failed = store.put(&key(1), &value_for(1, BIG), 0).unwrap();
        let error = super::super::StorageError::WriteFailed("injected".into());
        super::super::flusher::fail_pending(&store.inner, &error);
        assert!(store.wait_durable(failed).await.is_err());
        // As if the retry round (the tail block) were in flight when
        // record 2 arrives: padded, it would follow a gap in the numbers,
        // which recovery takes for a torn tail.
        for chunk in store.inner.log.borrow_mut().segments[0].chunks.iter_mut() {
            chunk.seal(512);
        }
        let last = store.put(&key(2), &value_for(2, BIG), 0).unwrap();
        let (first_at, first_len) = place(&store, 0);
        assert_eq!(place(&store, 2).0, first_at + first_len, "not padded");
        store.wait_durable(last).await.unwrap();
        drop(store);
        disk.dirty_reboot(Tear::Forget);
        let store = Store::open(opts).await.unwrap();
        let report = store.recovery_report();
        assert!(report.torn_tail.is_none(), "{report:?}");
        assert!(report.corruptions.is_empty(), "{report:?}");
        assert_eq!(must_get(&store, &key(0), NOW).await, value_for(0, BIG));
        assert_eq!(must_get(&store, &key(2), NOW).await, value_for(2, BIG));
        assert!(store.get(&key(1), NOW).await.unwrap().is_none());
        store.close().await.unwrap();
    });
}
