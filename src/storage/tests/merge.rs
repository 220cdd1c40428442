//! Merge, hint files, the value cache and the disk limit, over real files.

use super::super::io::{SimDisk, SimOp, Tear};
use super::super::{MergeMode, Store, StoreOptions, SyncMode, WriteError};
use super::{must_get, options, reopen, run, sim_options, temp_dir, value_for};

const NOW: u64 = 1_000;

fn file_ids(store: &Store) -> Vec<u32> {
    store.file_stats().iter().map(|stat| stat.0).collect()
}

#[test]
fn merge_keeps_latest_values_and_reclaims_space() {
    let dir = temp_dir();
    let opts = options(dir.path(), 4096, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let mut ticket = None;
        for round in 0..5u64 {
            for index in 0..100u64 {
                let key = format!("key{index}");
                let value = value_for(round * 1000 + index, 50 + index as usize % 40);
                ticket = Some(store.put(key.as_bytes(), &value, 0).unwrap());
            }
        }
        for index in (0..100u64).step_by(3) {
            store.delete(format!("key{index}").as_bytes(), NOW).unwrap();
        }
        store.wait_durable(ticket.unwrap()).await.unwrap();
        let before = store.stats();
        assert!(before.dead_bytes > before.live_bytes, "{before:?}");
        let report = store.merge_at(MergeMode::Full, NOW).await.unwrap();
        assert!(!report.files_in.is_empty());
        let after = store.stats();
        assert!(after.dead_bytes < 4096, "{after:?}");
        assert!(
            after.disk_bytes < before.disk_bytes / 2,
            "{before:?} {after:?}"
        );
        assert_eq!(after.merges, 1);
        let check = |store: std::rc::Rc<Store>| async move {
            for index in 0..100u64 {
                let key = format!("key{index}");
                let got = store.get(key.as_bytes(), NOW).await.unwrap();
                if index % 3 == 0 {
                    assert!(got.is_none(), "{key} was deleted");
                } else {
                    let want = value_for(4000 + index, 50 + index as usize % 40);
                    assert_eq!(got.unwrap().data.to_vec(), want, "{key}");
                }
            }
            store
        };
        let store = check(store).await;
        // Writes after the merge land above its output and win.
        store.put(b"key1", b"newest", 0).unwrap();
        let store = reopen(store, &opts).await;
        let report = store.recovery_report();
        assert!(report.hints_loaded > 0, "{report:?}");
        assert!(report.bad_hints.is_empty(), "{report:?}");
        assert_eq!(must_get(&store, b"key1", NOW).await, b"newest");
        store.put(b"key1", &value_for(4001, 51), 0).unwrap();
        let store = check(store).await;
        assert_eq!(store.len(), 66);
    });
}

#[test]
fn partial_merge_of_a_tombstone_file_does_not_resurrect_the_key() {
    // basho/bitcask#82: write k, roll over, delete k, roll over, merge only
    // the tombstone's file, restart.
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let ticket = store.put(b"k", b"old value", 0).unwrap();
        store.put(b"other", b"x", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.roll_over().unwrap();
        let ticket = store.delete(b"k", NOW).unwrap().unwrap();
        store.wait_durable(ticket).await.unwrap();
        let tombstone_file = *file_ids(&store).last().unwrap();
        store.roll_over().unwrap();
        let ticket = store.put(b"later", b"y", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let report = store
            .merge_at(MergeMode::Files(vec![tombstone_file]), NOW)
            .await
            .unwrap();
        assert_eq!(report.files_in, vec![tombstone_file]);
        assert_eq!(
            report.records_copied, 1,
            "the tombstone is kept: {report:?}"
        );
        let store = reopen(store, &opts).await;
        assert!(store.get(b"k", NOW).await.unwrap().is_none());
        assert_eq!(must_get(&store, b"other", NOW).await, b"x");
        // Merging everything drops both the value and the tombstone.
        let report = store.merge_at(MergeMode::Full, NOW).await.unwrap();
        assert_eq!(report.records_copied, 2, "{report:?}");
        let store = reopen(store, &opts).await;
        assert!(store.get(b"k", NOW).await.unwrap().is_none());
        assert_eq!(must_get(&store, b"later", NOW).await, b"y");
    });
}

#[test]
fn an_expired_record_hides_older_ones_until_they_are_gone() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let ticket = store.put(b"k", b"forever", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.roll_over().unwrap();
        let ticket = store.put(b"k", b"short-lived", NOW + 10).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let expiring_file = *file_ids(&store).last().unwrap();
        store.roll_over().unwrap();
        let ticket = store.put(b"z", b"z", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        // The reaper drops the key without writing a tombstone.
        assert_eq!(store.reap_expired(NOW + 20, 100), 1);
        let report = store
            .merge_at(MergeMode::Files(vec![expiring_file]), NOW + 20)
            .await
            .unwrap();
        assert_eq!(report.records_copied, 1, "{report:?}");
        let store = reopen(store, &opts).await;
        assert!(store.get(b"k", NOW + 20).await.unwrap().is_none());
        let report = store.merge_at(MergeMode::Full, NOW + 20).await.unwrap();
        assert_eq!(report.records_copied, 1, "only z: {report:?}");
        let store = reopen(store, &opts).await;
        assert!(store.get(b"k", NOW + 20).await.unwrap().is_none());
        assert_eq!(store.len(), 1);
    });
}

#[test]
fn reads_during_a_merge_never_fail() {
    let dir = temp_dir();
    let opts = options(dir.path(), 8192, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let mut ticket = None;
        for round in 0..3u64 {
            for index in 0..300u64 {
                let value = value_for(round * 1000 + index, 100);
                ticket = Some(
                    store
                        .put(format!("k{index}").as_bytes(), &value, 0)
                        .unwrap(),
                );
            }
        }
        store.wait_durable(ticket.unwrap()).await.unwrap();
        let reader_store = store.clone();
        let readers = glommio::spawn_local(async move {
            let mut reads = 0;
            for pass in 0..20 {
                for index in 0..300u64 {
                    let got = must_get(&reader_store, format!("k{index}").as_bytes(), NOW).await;
                    assert_eq!(got, value_for(2000 + index, 100), "pass {pass}");
                    reads += 1;
                }
            }
            reads
        });
        let report = store.merge(MergeMode::Full).await.unwrap();
        assert!(report.files_in.len() > 3);
        assert_eq!(readers.await, 6000);
    });
}

#[test]
fn a_bad_hint_falls_back_to_scanning() {
    let dir = temp_dir();
    let opts = options(dir.path(), 2048, SyncMode::Always);
    let path = dir.path().to_path_buf();
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let mut ticket = None;
        for index in 0..100u64 {
            ticket = Some(
                store
                    .put(format!("k{index}").as_bytes(), &value_for(index, 60), 0)
                    .unwrap(),
            );
        }
        store.wait_durable(ticket.unwrap()).await.unwrap();
        store.roll_over().unwrap();
        store.put(b"tail", b"t", 0).unwrap();
        store.close().await.unwrap();
        // Hints are written in the background; write any still missing now.
        let store = reopen(store, &opts).await;
        store.write_pending_hints().await.unwrap();
        let store = reopen(store, &opts).await;
        let report = store.recovery_report();
        assert!(report.hints_loaded >= 3, "{report:?}");
        drop(store);
        let hint = super::super::files::hint_file_path(&path, 1);
        let mut bytes = std::fs::read(&hint).unwrap();
        bytes[70] ^= 0xFF;
        std::fs::write(&hint, &bytes).unwrap();
        let store = Store::open(opts.clone()).await.unwrap();
        let report = store.recovery_report();
        assert_eq!(report.bad_hints.len(), 1, "{report:?}");
        for index in 0..100u64 {
            assert_eq!(
                must_get(&store, format!("k{index}").as_bytes(), NOW).await,
                value_for(index, 60)
            );
        }
    });
}

#[test]
fn the_cache_serves_repeated_reads_and_never_a_stale_value() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let ticket = store.put(b"k", b"one", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.roll_over().unwrap();
        store.put(b"pad", &[0; 5000], 0).unwrap();
        let ticket = store.put(b"pad2", b"x", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"k", NOW).await, b"one");
        assert_eq!(must_get(&store, b"k", NOW).await, b"one");
        // The write left its value in the cache.
        let stats = store.stats();
        assert_eq!((stats.cache_misses, stats.cache_hits), (0, 2), "{stats:?}");
        // A value too big to be cached on write: read once from disk.
        assert_eq!(must_get(&store, b"pad", NOW).await, [0; 5000]);
        assert_eq!(must_get(&store, b"pad", NOW).await, [0; 5000]);
        let stats = store.stats();
        assert_eq!((stats.cache_misses, stats.cache_hits), (1, 3), "{stats:?}");
        let ticket = store.put(b"k", b"two", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.roll_over().unwrap();
        let ticket = store.put(b"pad3", &[0; 5000], 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"k", NOW).await, b"two");
        store.merge(MergeMode::Full).await.unwrap();
        assert_eq!(must_get(&store, b"k", NOW).await, b"two");
        store.delete(b"k", NOW).unwrap();
        assert!(store.get(b"k", NOW).await.unwrap().is_none());
    });
}

#[test]
fn the_disk_limit_refuses_writes_but_not_deletes_and_merge_frees_space() {
    let dir = temp_dir();
    let opts = StoreOptions {
        max_disk: Some(20_000),
        ..options(dir.path(), 4096, SyncMode::Always)
    };
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let mut refused = None;
        for index in 0..1000u64 {
            match store.put(b"same", &value_for(index, 200), 0) {
                Ok(ticket) => store.wait_durable(ticket).await.unwrap(),
                Err(error) => {
                    refused = Some((index, error));
                    break;
                }
            }
        }
        let (last, error) = refused.expect("the limit is reached");
        assert!(matches!(error, WriteError::DiskFull), "{error}");
        assert!(error.to_string().starts_with("OOM "), "{error}");
        assert!(store.stats().disk_full_refusals >= 1);
        assert_eq!(
            must_get(&store, b"same", NOW).await,
            value_for(last - 1, 200)
        );
        let ticket = store.delete(b"same", NOW).unwrap().unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.merge(MergeMode::Full).await.unwrap();
        assert!(store.stats().used_disk < 5000, "{:?}", store.stats());
        let ticket = store.put(b"same", b"back", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"same", NOW).await, b"back");
    });
}

#[test]
fn a_merge_that_fails_changes_nothing_and_a_crash_after_one_loses_nothing() {
    let disk = SimDisk::new(512);
    let opts = sim_options(&disk, 2048);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let mut ticket = None;
        for round in 0..3u64 {
            for index in 0..50u64 {
                ticket = Some(
                    store
                        .put(
                            format!("k{index}").as_bytes(),
                            &value_for(round * 100 + index, 80),
                            0,
                        )
                        .unwrap(),
                );
            }
        }
        store.wait_durable(ticket.unwrap()).await.unwrap();
        disk.fail_next(SimOp::Sync, libc::EIO);
        // The merge's own output sync fails, or a log sync it waits on does.
        let failed = store.merge_at(MergeMode::Full, NOW).await;
        disk.clear_failures();
        if failed.is_ok() {
            // The failure hit the log instead; the merge may still have run.
        }
        for index in 0..50u64 {
            assert_eq!(
                must_get(&store, format!("k{index}").as_bytes(), NOW).await,
                value_for(200 + index, 80)
            );
        }
        store.merge_at(MergeMode::Full, NOW).await.unwrap();
        drop(store);
        disk.dirty_reboot(Tear::Forget);
        let store = Store::open(opts.clone()).await.unwrap();
        for index in 0..50u64 {
            assert_eq!(
                must_get(&store, format!("k{index}").as_bytes(), NOW).await,
                value_for(200 + index, 80)
            );
        }
    });
}

/// The expiry reaper writes no tombstone: the expiring record is all that
/// hides the key's older record, even where the system clock (judging
/// expiry at open, in hints and merges) has not reached the expiry yet.
/// Found by sim_model (seed 0b84ca82): a hint built after the reaper left
/// the record out, and the older value came back at the next open.
#[test]
fn a_reaped_key_does_not_come_back_through_a_hint_or_a_merge() {
    for merge in [false, true] {
        let disk = SimDisk::new(512);
        let opts = sim_options(&disk, 2048);
        run(move || async move {
            // An hour ahead of the system clock, as the reaper's caller may be.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
                + 3_600_000;
            let store = Store::open(opts.clone()).await.unwrap();
            let ticket = store.put(b"k", &value_for(1, 1000), 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
            // The first file's hint is written while its record is current.
            store.roll_over().unwrap();
            let ticket = store.put(b"pad", b"p", 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
            store.write_pending_hints().await.unwrap();
            store.roll_over().unwrap();
            let ticket = store.put(b"k", &value_for(2, 1000), now + 1).unwrap();
            store.wait_durable(ticket).await.unwrap();
            assert_eq!(store.reap_expired(now + 1, 100), 1);
            store.roll_over().unwrap();
            let ticket = store.put(b"other", b"v", 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
            assert!(store.write_pending_hints().await.unwrap() >= 1);
            if merge {
                // Only the newer file: the older one stays outside.
                store
                    .merge_at(MergeMode::Full, now - 3_600_000)
                    .await
                    .unwrap();
            }
            store.close().await.unwrap();
            drop(store);
            disk.clean_reboot();
            let store = Store::open(opts.clone()).await.unwrap();
            let got = store.get(b"k", now + 1).await.unwrap();
            assert!(got.is_none(), "merge {merge}: the older value came back");
            assert_eq!(must_get(&store, b"other", now + 1).await, b"v");
        });
    }
}
