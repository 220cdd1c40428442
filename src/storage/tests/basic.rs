//! The write and read paths, durability, rollover, group commit, expiry,
//! FLUSHALL and the rollback of a failed flush.

use std::rc::Rc;

use super::super::{PutIf, StorageError, Store, SyncMode, WriteError, flusher};
use super::{data_files, must_get, options, reopen, run, temp_dir, value_for};

const NOW: u64 = 1_000;

#[test]
fn put_get_delete_and_put_if() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        assert!(store.is_empty());
        let ticket = store.put(b"a", b"one", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"a", NOW).await, b"one");
        let meta = store.meta(b"a", NOW).unwrap();
        assert_eq!(meta.value_len, 3);

        // put_if: wrong version conflicts, right version writes and changes it.
        assert_eq!(
            store.put_if(b"a", b"x", 0, None, NOW).unwrap(),
            PutIf::Conflict
        );
        let written = store
            .put_if(b"a", b"two", 0, Some(meta.version), NOW)
            .unwrap();
        assert!(matches!(written, PutIf::Written(_)));
        let new_version = store.meta(b"a", NOW).unwrap().version;
        assert_ne!(new_version, meta.version);
        assert_eq!(
            store
                .put_if(b"a", b"x", 0, Some(meta.version), NOW)
                .unwrap(),
            PutIf::Conflict
        );
        assert!(matches!(
            store.put_if(b"b", b"new", 0, None, NOW).unwrap(),
            PutIf::Written(_)
        ));

        // delete
        let ticket = store.delete(b"a", NOW).unwrap().expect("a existed");
        store.wait_durable(ticket).await.unwrap();
        assert!(store.get(b"a", NOW).await.unwrap().is_none());
        assert!(store.delete(b"a", NOW).unwrap().is_none());
        assert_eq!(store.len(), 1);
        store.close().await.unwrap();
    });
}

#[test]
fn read_your_writes_before_durability() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        // No await between put and get: the flusher has not run yet.
        let big = value_for(1, 10_000);
        let ticket = store.put(b"k", &big, 0).unwrap();
        store.put(b"small", b"v", 0).unwrap();
        assert_eq!(must_get(&store, b"k", NOW).await, big);
        assert_eq!(must_get(&store, b"small", NOW).await, b"v");
        assert_eq!(store.stats().reads, 0, "served from the write buffer");
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(must_get(&store, b"k", NOW).await, big);
        assert_eq!(
            store.stats().reads,
            1,
            "flushed record read with one DMA read"
        );
    });
}

#[test]
fn reopen_finds_everything() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let sizes = [
        0usize, 1, 100, 4000, 4095, 4096, 4097, 8192, 70_000, 300_000,
    ];
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        for (index, &len) in sizes.iter().enumerate() {
            let key = format!("key-{index}");
            store
                .put(key.as_bytes(), &value_for(index as u64, len), 0)
                .unwrap();
        }
        store.put(b"overwritten", b"old", 0).unwrap();
        store.put(b"overwritten", b"new", 0).unwrap();
        store.put(b"deleted", b"gone", 0).unwrap();
        store.delete(b"deleted", NOW).unwrap();
        let mut before = store.stats();
        let mut store = store;
        for round in 0..3 {
            store = reopen(store, &opts).await;
            let report = store.recovery_report();
            assert!(report.torn_tail.is_none(), "round {round}: {report:?}");
            assert!(report.corruptions.is_empty(), "round {round}: {report:?}");
            assert_eq!(report.keys_loaded, sizes.len() as u64 + 1 + round);
            for (index, &len) in sizes.iter().enumerate() {
                let key = format!("key-{index}");
                let value = must_get(&store, key.as_bytes(), NOW).await;
                assert_eq!(value, value_for(index as u64, len), "{key}");
            }
            assert_eq!(must_get(&store, b"overwritten", NOW).await, b"new");
            assert!(store.get(b"deleted", NOW).await.unwrap().is_none());
            let stats = store.stats();
            assert_eq!(stats.live_bytes, before.live_bytes);
            assert_eq!(stats.dead_bytes, before.dead_bytes);
            // Appending after a reopen rewrites the tail block in place.
            let key = format!("after-{round}");
            store.put(key.as_bytes(), b"x", 0).unwrap();
            before = store.stats();
        }
        let store = reopen(store, &opts).await;
        for round in 0..3 {
            let key = format!("after-{round}");
            assert_eq!(must_get(&store, key.as_bytes(), NOW).await, b"x");
        }
        assert_eq!(store.stats().files, 1);
    });
}

/// A scan at open reads 1 MiB chunks, several ahead, and copies out only the
/// records that straddle two chunks: every record must come back, whether
/// it sits inside a chunk, straddles two, or is bigger than a chunk, in the
/// active file and in a sealed file without a hint.
#[test]
fn a_scan_across_many_chunks_finds_every_record() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Never);
    let path = dir.path().to_path_buf();
    // About 7 MiB: sizes chosen so that records end at many offsets within
    // a chunk, plus records bigger than a chunk.
    let sizes: Vec<usize> = (0..1200u64)
        .map(|index| match index {
            300 => 2_500_000,
            900 => (1 << 20) + 1,
            _ => 97 + (index as usize * 4_111) % 6_000,
        })
        .collect();
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        for (index, &len) in sizes.iter().enumerate() {
            let key = format!("key-{index}");
            let ticket = store
                .put(key.as_bytes(), &value_for(index as u64, len), 0)
                .unwrap();
            if index % 100 == 99 {
                store.wait_durable(ticket).await.unwrap();
            }
        }
        let check = |store: Rc<Store>, sizes: Vec<usize>| async move {
            let report = store.recovery_report();
            assert!(report.corruptions.is_empty(), "{report:?}");
            assert!(report.torn_tail.is_none(), "{report:?}");
            assert_eq!(report.keys_loaded, sizes.len() as u64);
            for (index, &len) in sizes.iter().enumerate() {
                let key = format!("key-{index}");
                let value = must_get(&store, key.as_bytes(), NOW).await;
                assert!(value == value_for(index as u64, len), "{key} ({len} bytes)");
            }
            store
        };
        // The active file is always scanned.
        let store = reopen(store, &opts).await;
        assert_eq!(store.recovery_report().files_scanned, 1);
        let store = check(store, sizes.clone()).await;
        assert!(store.stats().bytes_read > 7 << 20);
        // Sealed, without a hint.
        store.roll_over().unwrap();
        let store = reopen(store, &opts).await;
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap().path();
            if entry.extension().is_some_and(|ext| ext == "hint") {
                std::fs::remove_file(entry).unwrap();
            }
        }
        let store = reopen(store, &opts).await;
        assert_eq!(store.recovery_report().hints_loaded, 0);
        assert!(store.recovery_report().files_scanned >= 1);
        check(store, sizes).await;
    });
}

#[test]
fn rollover_across_many_small_files() {
    let dir = temp_dir();
    let opts = options(
        dir.path(),
        1024,
        SyncMode::Batch {
            interval: std::time::Duration::from_millis(5),
        },
    );
    let path = dir.path().to_path_buf();
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        for index in 0..300u64 {
            let key = format!("k{index}");
            store
                .put(
                    key.as_bytes(),
                    &value_for(index, 60 + index as usize % 50),
                    0,
                )
                .unwrap();
        }
        // A record larger than max_file_size gets a file of its own.
        store.put(b"huge", &value_for(9, 5000), 0).unwrap();
        store.put(b"after-huge", b"x", 0).unwrap();
        let store = reopen(store, &opts).await;
        let files = data_files(&path);
        assert!(files.len() > 20, "{} files", files.len());
        let report = store.recovery_report();
        assert_eq!(report.files_scanned + report.hints_loaded, files.len());
        assert!(report.bad_hints.is_empty(), "{report:?}");
        assert_eq!(store.stats().files, files.len() as u64);
        for file in &files {
            let len = std::fs::metadata(file).unwrap().len();
            // A file ends padded to a whole write block.
            let small = 1024u64.next_multiple_of(crate::storage::io::FS_BLOCK);
            assert!(len <= small || len >= 5000, "{}: {len}", file.display());
        }
        for index in 0..300u64 {
            let key = format!("k{index}");
            let value = must_get(&store, key.as_bytes(), NOW).await;
            assert_eq!(value, value_for(index, 60 + index as usize % 50));
        }
        assert_eq!(must_get(&store, b"huge", NOW).await, value_for(9, 5000));
        assert_eq!(must_get(&store, b"after-huge", NOW).await, b"x");
    });
}

#[test]
fn group_commit_batches_concurrent_writers() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let writers: Vec<_> = (0..100u64)
            .map(|index| {
                let store = Rc::clone(&store);
                glommio::spawn_local(async move {
                    let key = format!("w{index}");
                    let ticket = store
                        .put(key.as_bytes(), &value_for(index, 100), 0)
                        .unwrap();
                    store.wait_durable(ticket).await.unwrap();
                })
            })
            .collect();
        for writer in writers {
            writer.await;
        }
        let stats = store.stats();
        assert_eq!(stats.records_flushed, 100);
        assert!(
            stats.writes <= 10,
            "{} writes for 100 records",
            stats.writes
        );
        assert_eq!(stats.syncs, stats.writes);
        // Already durable: resolves at once.
        let ticket = store.put(b"one-more", b"x", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.wait_durable(ticket).await.unwrap();
    });
}

/// A small round whose records run from the tail block into the next
/// block goes to the device as one write (one request), not one per
/// chunk of the write buffer.
#[test]
fn a_small_round_across_a_block_boundary_is_one_write() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        // On a socket ring, as a server's shard runs it: a round is one
        // write linked to its sync there.
        let ring = crate::net::Ring::new().expect("a ring");
        glommio::spawn_local(Rc::clone(&ring).drive()).detach();
        store.set_direct_reader(Some(ring));
        // 3,000-byte records one round each: most rounds rewrite the tail
        // block and carry on into the next one.
        for index in 0..8u64 {
            let key = format!("r{index}");
            let ticket = store
                .put(key.as_bytes(), &value_for(index, 3000), 0)
                .unwrap();
            store.wait_durable(ticket).await.unwrap();
        }
        let stats = store.stats();
        assert_eq!(stats.records_flushed, 8);
        assert_eq!(stats.syncs, 8, "one round per record");
        assert_eq!(stats.writes, stats.syncs, "one write per round");
        let store = reopen(store, &opts).await;
        for index in 0..8u64 {
            let key = format!("r{index}");
            assert_eq!(
                must_get(&store, key.as_bytes(), NOW).await,
                value_for(index, 3000)
            );
        }
    });
}

#[test]
fn expired_keys_are_invisible_and_stay_expired() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Never);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        // Expires at 2_000 on the test clock, long ago on the system clock.
        store.put(b"short", b"v", 2_000).unwrap();
        let far_future = u64::MAX / 2;
        store.put(b"long", b"v", far_future).unwrap();
        assert_eq!(must_get(&store, b"short", 1_999).await, b"v");
        assert!(store.get(b"short", 2_000).await.unwrap().is_none());
        assert!(store.meta(b"short", 2_000).is_none());
        assert!(store.delete(b"short", 2_000).unwrap().is_none());
        assert!(matches!(
            store.put_if(b"short", b"w", 0, None, 2_000).unwrap(),
            PutIf::Written(_)
        ));
        store.put(b"short", b"v", 2_000).unwrap();
        let mut seen = Vec::new();
        let slot = crate::keyspace::key_slot(b"short");
        store.for_each_key_in_slot(slot, 2_000, &mut |key, _| seen.push(key.to_vec()));
        assert!(seen.is_empty());

        assert_eq!(store.len(), 2);
        let live_before = store.stats().live_bytes;
        assert_eq!(store.reap_expired(2_000, 100), 1);
        assert_eq!(store.len(), 1);
        assert!(store.stats().live_bytes < live_before);

        store.put(b"short2", b"v", 2_000).unwrap();
        let store = reopen(store, &opts).await;
        // The system clock is far past 2_000: recovery drops them.
        assert_eq!(store.len(), 1);
        assert!(store.get(b"short", 1).await.unwrap().is_none());
        assert!(store.get(b"short2", 1).await.unwrap().is_none());
        assert_eq!(must_get(&store, b"long", NOW).await, b"v");
        assert_eq!(store.meta(b"long", NOW).unwrap().expire_at_ms, far_future);
    });
}

#[test]
fn flush_all_survives_reopen() {
    let dir = temp_dir();
    let opts = options(dir.path(), 4096, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        for index in 0..50u64 {
            store
                .put(format!("old{index}").as_bytes(), &value_for(index, 200), 0)
                .unwrap();
        }
        let ticket = store.flush_all().unwrap();
        assert!(store.is_empty());
        assert_eq!(store.stats().live_bytes, 0);
        store.put(b"fresh", b"v", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let store = reopen(store, &opts).await;
        assert_eq!(store.len(), 1);
        assert_eq!(must_get(&store, b"fresh", NOW).await, b"v");
        assert!(store.get(b"old1", NOW).await.unwrap().is_none());
    });
}

#[test]
fn failed_flush_rolls_back_unacknowledged_writes() {
    let dir = temp_dir();
    let opts = options(dir.path(), 1 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let ticket = store.put(b"a", b"v1", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let stats_before = store.stats();

        // No await in between: the flusher has not taken these yet, and the
        // injected failure hits exactly them.
        let tickets = [
            store.put(b"b", b"v", 0).unwrap(),
            store.delete(b"a", NOW).unwrap().unwrap(),
            store.flush_all().unwrap(),
            store.put(b"c", b"v", 0).unwrap(),
            store.put(b"a", b"v2", 0).unwrap(),
        ];
        flusher::fail_pending(&store.inner, &StorageError::WriteFailed("injected".into()));

        for ticket in tickets {
            let result = store.wait_durable(ticket).await;
            assert!(
                matches!(
                    result,
                    Err(WriteError::Storage(StorageError::WriteFailed(_)))
                ),
                "{result:?}"
            );
        }
        assert_eq!(must_get(&store, b"a", NOW).await, b"v1");
        assert!(store.get(b"b", NOW).await.unwrap().is_none());
        assert!(store.get(b"c", NOW).await.unwrap().is_none());
        assert_eq!(store.len(), 1);
        let stats = store.stats();
        assert_eq!(stats.live_bytes, stats_before.live_bytes);
        assert_eq!(stats.dead_bytes, stats_before.dead_bytes);

        // Later writes succeed and land where the failed ones would have.
        let ticket = store.put(b"d", b"v", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let store = reopen(store, &opts).await;
        let report = store.recovery_report();
        assert!(report.corruptions.is_empty() && report.torn_tail.is_none());
        assert_eq!(must_get(&store, b"a", NOW).await, b"v1");
        assert_eq!(must_get(&store, b"d", NOW).await, b"v");
        assert!(store.get(b"b", NOW).await.unwrap().is_none());
        assert_eq!(store.len(), 2);
    });
}

/// A store opened under a relative directory path works: every directory
/// sync (at file creation under `--sync always`) resolves it. glommio
/// fails to open a relative directory on its own (EBADF), which once made
/// the server's default `--dir ./shardcask-data` fail at start.
#[test]
fn relative_directory() {
    let base = temp_dir();
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(base.path(), &cwd).join("store");
    assert!(relative.is_relative());
    let opts = options(&relative, 4096, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        for index in 0..50u32 {
            let key = index.to_be_bytes();
            let ticket = store.put(&key, &value_for(index as u64, 300), 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
        }
        let store = reopen(store, &opts).await;
        for index in 0..50u32 {
            let value = must_get(&store, &index.to_be_bytes(), NOW).await;
            assert_eq!(value, value_for(index as u64, 300));
        }
        store.close().await.unwrap();
    });
}

/// `path` relative to `from` (both absolute), through `..` as needed.
fn pathdiff(path: &std::path::Path, from: &std::path::Path) -> std::path::PathBuf {
    let path: Vec<_> = path.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = path.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut relative = std::path::PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for part in &path[common..] {
        relative.push(part);
    }
    relative
}
