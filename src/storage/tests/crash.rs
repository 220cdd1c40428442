//! Damaged logs: torn tails at every offset of the last record, garbled
//! tails, flipped bytes in the middle of a log, corruption seen by `get`.

use std::path::{Path, PathBuf};

use super::super::keydir::MAX_OFFSET;
use super::super::{ReadError, StorageError, Store, SyncMode, WriteError};
use super::{data_files, must_get, options, run, temp_dir, value_for};

const NOW: u64 = 1_000;
const KEYS: u64 = 20;

/// Writes `KEYS` records plus a final record `last`; returns the log file,
/// the offset and length of `last`.
fn write_log(dir: &Path) -> (PathBuf, u64, u64) {
    let opts = options(dir, 64 << 20, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        for index in 0..KEYS {
            let key = format!("key{index}");
            let len = (index as usize * 97) % 700;
            store
                .put(key.as_bytes(), &value_for(index, len), 0)
                .unwrap();
        }
        store.put(b"last", &value_for(99, 150), 0).unwrap();
        let entry = store.inner.keydir.borrow().get(b"last").unwrap();
        store.close().await.unwrap();
        sender
            .send((entry.offset(), entry.record_len as u64))
            .unwrap();
    });
    let (offset, len) = receiver.recv().unwrap();
    let files = data_files(dir);
    assert_eq!(files.len(), 1);
    (files[0].clone(), offset, len)
}

async fn check_earlier_keys(store: &Store) {
    for index in 0..KEYS {
        let key = format!("key{index}");
        let len = (index as usize * 97) % 700;
        assert_eq!(
            must_get(store, key.as_bytes(), NOW).await,
            value_for(index, len)
        );
    }
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record() {
    let source = temp_dir();
    let (log_path, last_offset, last_len) = write_log(source.path());
    let original = std::fs::read(&log_path).unwrap();
    let scratch = temp_dir();
    let scratch_path = scratch.path().to_path_buf();
    run(move || async move {
        for cut in last_offset..last_offset + last_len {
            let dir = scratch_path.join(format!("cut{cut}"));
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(log_path.file_name().unwrap());
            std::fs::write(&file, &original[..cut as usize]).unwrap();

            let opts = options(&dir, 64 << 20, SyncMode::Always);
            let store = Store::open(opts.clone()).await.unwrap();
            let report = store.recovery_report();
            let partial = &original[last_offset as usize..cut as usize];
            if partial.iter().any(|&b| b != 0) {
                assert_eq!(
                    report.torn_tail,
                    Some((file.clone(), last_offset, cut - last_offset)),
                    "cut at {cut}"
                );
            } else {
                assert!(report.torn_tail.is_none(), "cut at {cut}");
            }
            assert!(report.corruptions.is_empty(), "cut at {cut}: {report:?}");
            assert_eq!(std::fs::metadata(&file).unwrap().len(), last_offset);
            check_earlier_keys(&store).await;
            assert!(store.get(b"last", NOW).await.unwrap().is_none());
            assert_eq!(store.len(), KEYS as usize);

            // New appends go where the torn record was, and survive.
            store.put(b"after", b"x", 0).unwrap();
            store.close().await.unwrap();
            drop(store);
            let store = Store::open(opts).await.unwrap();
            let report = store.recovery_report();
            assert!(report.torn_tail.is_none() && report.corruptions.is_empty());
            assert_eq!(must_get(&store, b"after", NOW).await, b"x");
            check_earlier_keys(&store).await;
            std::fs::remove_dir_all(&dir).unwrap();
        }
    });
}

#[test]
fn garbled_tail_is_truncated_and_never_reappears() {
    let dir = temp_dir();
    let (log_path, last_offset, last_len) = write_log(dir.path());
    let mut bytes = std::fs::read(&log_path).unwrap();
    let file_len = bytes.len() as u64;
    let end = (last_offset + last_len) as usize;
    bytes[end - 8..end].fill(0xA5);
    // Garbage also in the zero padding after the data.
    if end + 100 < bytes.len() {
        bytes[end + 50..end + 100].fill(0x5A);
    }
    std::fs::write(&log_path, &bytes).unwrap();

    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let report = store.recovery_report();
        assert_eq!(
            report.torn_tail,
            Some((log_path.clone(), last_offset, file_len - last_offset))
        );
        check_earlier_keys(&store).await;
        assert!(store.get(b"last", NOW).await.unwrap().is_none());
        store.put(b"new", b"v", 0).unwrap();
        store.close().await.unwrap();
        drop(store);
        let store = Store::open(opts).await.unwrap();
        let report = store.recovery_report();
        assert!(report.torn_tail.is_none(), "{report:?}");
        assert!(report.corruptions.is_empty(), "{report:?}");
        assert_eq!(must_get(&store, b"new", NOW).await, b"v");
        assert!(store.get(b"last", NOW).await.unwrap().is_none());
        check_earlier_keys(&store).await;
    });
}

#[test]
fn flipped_byte_mid_log_is_reported_and_later_records_served() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    let write_opts = opts.clone();
    run(move || async move {
        let store = Store::open(write_opts).await.unwrap();
        for index in 0..100u64 {
            store
                .put(format!("k{index}").as_bytes(), &value_for(index, 300), 0)
                .unwrap();
        }
        let entry = store.inner.keydir.borrow().get(b"k50").unwrap();
        store.close().await.unwrap();
        sender
            .send((entry.location & MAX_OFFSET, entry.record_len as u64))
            .unwrap();
    });
    let (offset, len) = receiver.recv().unwrap();
    let log_path = data_files(dir.path())[0].clone();
    let mut bytes = std::fs::read(&log_path).unwrap();
    bytes[(offset + len / 2) as usize] ^= 0x10;
    std::fs::write(&log_path, &bytes).unwrap();

    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let report = store.recovery_report();
        assert_eq!(report.corruptions, vec![(log_path.clone(), offset, len)]);
        assert!(report.torn_tail.is_none());
        assert_eq!(report.records_scanned, 99);
        for index in (0..100u64).filter(|&index| index != 50) {
            let value = must_get(&store, format!("k{index}").as_bytes(), NOW).await;
            assert_eq!(value, value_for(index, 300));
        }
        assert!(store.get(b"k50", NOW).await.unwrap().is_none());
    });
}

#[test]
fn get_reports_corruption_instead_of_a_wrong_value() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let path = dir.path().to_path_buf();
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        let ticket = store.put(b"victim", &value_for(1, 5000), 0).unwrap();
        store.put(b"bystander", b"fine", 0).unwrap();
        store.wait_durable(ticket).await.unwrap();
        store.close().await.unwrap();
        let entry = store.inner.keydir.borrow().get(b"victim").unwrap();

        // Damage the value on disk behind the store's back.
        let log_path = data_files(&path)[0].clone();
        let mut bytes = std::fs::read(&log_path).unwrap();
        bytes[(entry.offset() + 4000) as usize] ^= 0xFF;
        std::fs::write(&log_path, &bytes).unwrap();

        match store.get(b"victim", NOW).await {
            Err(ReadError::Corrupt { file, offset, .. }) => {
                assert_eq!(file, log_path);
                assert_eq!(offset, entry.offset());
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(must_get(&store, b"bystander", NOW).await, b"fine");
    });
}

/// Unmounts (lazily) a test mount when dropped.
struct Unmount(std::ffi::CString);

impl Drop for Unmount {
    fn drop(&mut self) {
        // SAFETY: `self.0` is a valid NUL-terminated path for the call.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Mounts a tiny tmpfs at `path`; `None` when not permitted (not root).
fn mount_small_tmpfs(path: &Path) -> Option<Unmount> {
    use std::os::unix::ffi::OsStrExt;
    let target = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives
    // the call; flags 0 asks for a plain new mount.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=256k".as_ptr().cast(),
        )
    };
    (rc == 0).then_some(Unmount(target))
}

#[test]
fn disk_full_fails_writes_and_keeps_acknowledged_data() {
    let mount_point = temp_dir();
    let Some(_unmount) = mount_small_tmpfs(mount_point.path()) else {
        eprintln!("skipped: cannot mount a small tmpfs (needs root)");
        return;
    };
    let opts = options(
        &mount_point.path().join("shard-0"),
        1 << 20,
        SyncMode::Always,
    );
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let mut acknowledged = 0u64;
        let mut failure = None;
        for index in 0..1000u64 {
            let key = format!("k{index}");
            let ticket = store
                .put(key.as_bytes(), &value_for(index, 4000), 0)
                .unwrap();
            match store.wait_durable(ticket).await {
                Ok(()) => acknowledged += 1,
                Err(error) => {
                    failure = Some((index, error));
                    break;
                }
            }
        }
        let (failed_index, error) = failure.expect("a 256 KiB disk fills up");
        assert!(
            matches!(error, WriteError::Storage(StorageError::WriteFailed(_))),
            "{error:?}"
        );
        assert!(acknowledged > 10);
        // The failed write is rolled back; reads go on.
        assert!(
            store
                .get(format!("k{failed_index}").as_bytes(), NOW)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.len() as u64, acknowledged);
        for index in 0..acknowledged {
            let value = must_get(&store, format!("k{index}").as_bytes(), NOW).await;
            assert_eq!(value, value_for(index, 4000));
        }
        // Still full: another big write fails too, and changes nothing.
        let ticket = store.put(b"again", &value_for(7, 4000), 0).unwrap();
        assert!(store.wait_durable(ticket).await.is_err());
        assert!(store.get(b"again", NOW).await.unwrap().is_none());
        store.close().await.unwrap();
        drop(store);

        let store = Store::open(opts).await.unwrap();
        let report = store.recovery_report();
        assert!(report.corruptions.is_empty(), "{report:?}");
        assert_eq!(store.len() as u64, acknowledged);
        for index in 0..acknowledged {
            let value = must_get(&store, format!("k{index}").as_bytes(), NOW).await;
            assert_eq!(value, value_for(index, 4000));
        }
    });
}

/// A kill during a hint file's write leaves it empty. Recovery reads hint
/// files before any log file, so glommio's one-time polled-I/O probe must
/// not fall on it: a probe read that ends at EOF says polling works, and
/// every later read then fails with EOPNOTSUPP on a device without poll
/// queues (the crash test met this after a kill -9).
#[test]
fn an_empty_hint_file_does_not_break_the_reads_after_it() {
    let dir = temp_dir();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let reopen = opts.clone();
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        for index in 0..KEYS {
            let key = format!("key{index}");
            store
                .put(key.as_bytes(), &value_for(index, 1000), 0)
                .unwrap();
        }
        store.close().await.unwrap();
    });
    let files = data_files(dir.path());
    assert!(std::fs::metadata(&files[0]).unwrap().len() >= 4096);
    std::fs::write(files[0].with_extension("hint"), b"").unwrap();
    run(move || async move {
        let store = Store::open(reopen).await.unwrap();
        for index in 0..KEYS {
            let key = format!("key{index}");
            assert_eq!(
                must_get(&store, key.as_bytes(), NOW).await,
                value_for(index, 1000)
            );
        }
        store.close().await.unwrap();
    });
}
