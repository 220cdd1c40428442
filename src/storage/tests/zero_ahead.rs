//! Zeros written (or blocks allocated) ahead of the active log file's tail
//! (see `flusher.rs`), on real files: small synced writes leave the file
//! longer than its data with zeros past it, big ones with allocated blocks
//! past it; a reopen gives them back and serves every record; a sealed file
//! keeps only its data.

use std::path::Path;

use super::super::{Store, SyncMode};
use super::{data_files, must_get, options, run, temp_dir, value_for};

const NOW: u64 = 1_000;

fn key(index: u64) -> Vec<u8> {
    format!("k{index}").into_bytes()
}

/// Writes keys `from..to` one at a time, each waited for (small flushes);
/// returns the end of the front segment's data.
async fn put_each(store: &Store, from: u64, to: u64) -> u64 {
    for index in from..to {
        let ticket = store.put(&key(index), &value_for(index, 100), 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
    }
    store.inner.log.borrow().segments[0].written
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Checks that `path` holds only zeros from `from` to its end.
fn zeros_from(path: &Path, from: u64) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes[from as usize..].iter().all(|&byte| byte == 0)
}

#[test]
fn zeros_run_ahead_of_small_writes_and_reopen_and_seal_give_them_back() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let data_end = put_each(&store, 0, 300).await;
        let first = data_files(&opts.dir).remove(0);
        // At least half a step (4 MiB) of zeros lies ahead of the data.
        assert!(
            file_len(&first) >= data_end + (4 << 20),
            "file {} bytes, data {data_end}",
            file_len(&first)
        );
        assert!(zeros_from(&first, data_end));
        store.close().await.unwrap();
        drop(store);

        let store = Store::open(opts.clone()).await.unwrap();
        assert_eq!(file_len(&first), data_end.next_multiple_of(4096));
        assert!(store.recovery_report().torn_tail.is_none());
        assert!(store.recovery_report().corruptions.is_empty());
        for index in 0..300 {
            assert_eq!(
                must_get(&store, &key(index), NOW).await,
                value_for(index, 100)
            );
        }

        let data_end = put_each(&store, 300, 400).await;
        assert!(file_len(&first) > data_end.next_multiple_of(4096));
        store.roll_over().unwrap();
        put_each(&store, 400, 401).await;
        // Sealed: the zeros past its data are gone.
        assert_eq!(file_len(&first), data_end.next_multiple_of(4096));
        assert_eq!(data_files(&opts.dir).len(), 2);
        for index in 0..401 {
            assert_eq!(
                must_get(&store, &key(index), NOW).await,
                value_for(index, 100)
            );
        }
        store.close().await.unwrap();
    });
}

/// Big writes allocate the file's blocks ahead of the data instead of
/// writing zeros (the file reads zeros past the data either way); a
/// reopen gives the allocation back and serves every record, and so does
/// a seal.
#[test]
fn big_writes_allocate_ahead_and_reopen_and_seal_give_it_back() {
    let dir = temp_dir();
    let opts = options(dir.path(), 256 << 20, SyncMode::Always);
    let value = |index: u64| value_for(index, 256 << 10);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        // Eight 256 KiB records before the flusher runs: a 2 MiB backlog.
        let mut last = None;
        for index in 0..8 {
            last = Some(store.put(&key(index), &value(index), 0).unwrap());
        }
        store.wait_durable(last.unwrap()).await.unwrap();
        let data_end = store.inner.log.borrow().segments[0].written;
        // Closing waits for the allocation in flight.
        store.close().await.unwrap();
        drop(store);
        let first = data_files(&opts.dir).remove(0);
        assert!(
            file_len(&first) >= data_end + (16 << 20),
            "file {} bytes, data {data_end}",
            file_len(&first)
        );
        assert!(zeros_from(&first, data_end));

        let store = Store::open(opts.clone()).await.unwrap();
        assert_eq!(file_len(&first), data_end.next_multiple_of(4096));
        assert!(store.recovery_report().torn_tail.is_none());
        assert!(store.recovery_report().corruptions.is_empty());
        for index in 0..8 {
            assert_eq!(must_get(&store, &key(index), NOW).await, value(index));
        }
        let mut last = None;
        for index in 8..16 {
            last = Some(store.put(&key(index), &value(index), 0).unwrap());
        }
        store.wait_durable(last.unwrap()).await.unwrap();
        let data_end = store.inner.log.borrow().segments[0].written;
        store.roll_over().unwrap();
        let ticket = store.put(&key(16), &value(16), 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        // Sealed: the blocks past its data are given back.
        assert_eq!(file_len(&first), data_end.next_multiple_of(4096));
        for index in 0..17 {
            assert_eq!(must_get(&store, &key(index), NOW).await, value(index));
        }
        store.close().await.unwrap();
    });
}
