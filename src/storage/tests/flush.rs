//! The flusher's disk path: two writes in flight for a large flush, space
//! reserved ahead of the tail and given back, and a failure while a second
//! write is in flight.

use super::super::io::{Backend, SimDisk, SimOp, Tear};
use super::super::{StorageError, Store, StoreOptions, SyncMode};
use super::{data_files, must_get, options, reopen, run, temp_dir, value_for};

const NOW: u64 = 1_000;

#[test]
fn a_large_flush_goes_out_as_two_writes_in_flight_and_reopens_whole() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let small = store.put(b"small", b"v", 0).unwrap();
        store.wait_durable(small).await.unwrap();
        let before = store.stats();
        // One record of 300 KiB: its whole blocks, then its tail block,
        // both in flight at once.
        let big = value_for(1, 300 << 10);
        let ticket = store.put(b"big", &big, 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let stats = store.stats();
        assert_eq!(stats.writes - before.writes, 2, "{stats:?}");
        assert_eq!(stats.syncs - before.syncs, 2, "{stats:?}");
        // 2.5 MiB: two pieces of 1 MiB, then whole blocks and the tail.
        let huge = value_for(3, 5 << 19);
        let ticket = store.put(b"huge", &huge, 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let stats = store.stats();
        assert_eq!(stats.writes - before.writes, 2 + 4, "{stats:?}");
        // Small writes still go out whole, one write each.
        let ticket = store.put(b"after", b"w", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        assert_eq!(store.stats().writes - stats.writes, 1);
        // The file was reserved ahead of the data; used_disk counts data.
        let file = &data_files(dir.path())[0];
        let size = std::fs::metadata(file).unwrap().len();
        assert!(
            size > stats.disk_bytes,
            "reserved: {size} vs {}",
            stats.disk_bytes
        );
        let store = reopen(store, &opts).await;
        let report = store.recovery_report();
        assert!(
            report.corruptions.is_empty() && report.torn_tail.is_none(),
            "{report:?}"
        );
        assert_eq!(must_get(&store, b"big", NOW).await, big);
        assert_eq!(must_get(&store, b"huge", NOW).await, huge);
        assert_eq!(must_get(&store, b"small", NOW).await, b"v");
        assert_eq!(must_get(&store, b"after", NOW).await, b"w");
        // Recovery gave the reserve back.
        let size = std::fs::metadata(file).unwrap().len();
        assert_eq!(size, store.stats().disk_bytes);
        // Sealing a file gives its reserve back too.
        store.roll_over().unwrap();
        let ticket = store.put(b"next", b"x", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        let sealed = std::fs::metadata(file).unwrap().len();
        assert_eq!(sealed % 4096, 0);
        assert!(sealed < (300 << 10) + (5 << 19) + 8192, "{sealed}");
    });
}

#[test]
fn a_failed_write_beside_a_second_one_rolls_both_back() {
    let disk = SimDisk::new(512);
    let opts = StoreOptions {
        backend: Backend::Sim(disk.clone()),
        ..options(
            std::path::Path::new("/sim/shard-0"),
            64 << 20,
            SyncMode::Always,
        )
    };
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let ticket = store.put(b"kept", b"v", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        // The first of the two writes fails; the second lands and is synced.
        disk.fail_next(SimOp::Write, libc::EIO);
        let ticket = store.put(b"big", &value_for(2, 200 << 10), 0).unwrap();
        let result = store.wait_durable(ticket).await;
        assert!(
            matches!(result, Err(StorageError::WriteFailed(_))),
            "{result:?}"
        );
        assert!(store.get(b"big", NOW).await.unwrap().is_none());
        // The next flush covers what the second write left with zeros.
        let ticket = store.put(b"later", b"w", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        drop(store);
        disk.dirty_reboot(Tear::Forget);
        let store = Store::open(opts.clone()).await.unwrap();
        let report = store.recovery_report();
        assert!(
            report.corruptions.is_empty() && report.torn_tail.is_none(),
            "{report:?}"
        );
        assert!(store.get(b"big", NOW).await.unwrap().is_none());
        assert_eq!(must_get(&store, b"kept", NOW).await, b"v");
        assert_eq!(must_get(&store, b"later", NOW).await, b"w");
        assert_eq!(store.len(), 2);
    });
}
