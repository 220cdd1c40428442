//! A hole in the active file's tail with intact records after it (the
//! write in flight landed in part) is a torn tail;
//! damage further back, or of non-zero bytes, stays loud corruption.

use std::path::{Path, PathBuf};

use super::super::{Store, SyncMode};
use super::{data_files, must_get, options, run, temp_dir, value_for};

const NOW: u64 = 1_000;
const VALUE_LEN: usize = 1000;

fn key(index: usize) -> Vec<u8> {
    format!("k{index}").into_bytes()
}

/// Writes `count` records; returns the log file's bytes, its name and each
/// record's offset and length.
fn write_log(dir: &Path, count: usize) -> (Vec<u8>, PathBuf, Vec<(u64, u64)>) {
    let opts = options(dir, 64 << 20, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    run(move || async move {
        let store = Store::open(opts).await.unwrap();
        for index in 0..count {
            let value = value_for(index as u64, VALUE_LEN);
            store.put(&key(index), &value, 0).unwrap();
        }
        let records = (0..count)
            .map(|index| {
                let entry = store.inner.keydir.borrow().get(&key(index)).unwrap();
                (entry.offset(), entry.record_len as u64)
            })
            .collect::<Vec<_>>();
        store.close().await.unwrap();
        sender.send(records).unwrap();
    });
    let records = receiver.recv().unwrap();
    let files = data_files(dir);
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    (bytes, files[0].file_name().unwrap().into(), records)
}

/// Overwrites the 4 KiB block after record `at`'s start with `fill`;
/// returns the block's range.
fn damage(bytes: &mut [u8], records: &[(u64, u64)], at: usize, fill: u8) -> (u64, u64) {
    let start = records[at].0.next_multiple_of(4096);
    bytes[start as usize..start as usize + 4096].fill(fill);
    (start, start + 4096)
}

/// The records that `[start, end)` touches: first and one past the last.
fn touched(records: &[(u64, u64)], (start, end): (u64, u64)) -> (usize, usize) {
    let first = records
        .iter()
        .position(|&(offset, len)| offset + len > start)
        .unwrap();
    let last = records
        .iter()
        .position(|&(offset, _)| offset >= end)
        .unwrap();
    (first, last)
}

/// What a reopen of `bytes` (as log `name` in a fresh directory) reports;
/// checks every record is served or absent as `served(index)` says and
/// that the store appends and reopens cleanly afterwards; returns the
/// report and the file's path.
fn reopen(
    bytes: Vec<u8>,
    name: PathBuf,
    count: usize,
    served: impl Fn(usize) -> bool + Send + 'static,
) -> (super::super::RecoveryReport, PathBuf) {
    let dir = temp_dir();
    let path = dir.path().join(name);
    std::fs::write(&path, &bytes).unwrap();
    let opts = options(dir.path(), 64 << 20, SyncMode::Always);
    let (sender, receiver) = std::sync::mpsc::channel();
    run(move || async move {
        let store = Store::open(opts.clone()).await.unwrap();
        let report = store.recovery_report();
        for index in 0..count {
            if served(index) {
                let want = value_for(index as u64, VALUE_LEN);
                assert_eq!(must_get(&store, &key(index), NOW).await, want, "{index}");
            } else {
                let got = store.get(&key(index), NOW).await.unwrap();
                assert!(got.is_none(), "{index} should be gone");
            }
        }
        // Appends after the recovery reopen cleanly.
        store.put(b"after", b"reopen", 0).unwrap();
        store.close().await.unwrap();
        let store = Store::open(opts).await.unwrap();
        assert_eq!(must_get(&store, b"after", NOW).await, b"reopen");
        let again = store.recovery_report();
        assert!(again.corruptions.len() <= report.corruptions.len());
        assert!(again.torn_tail.is_none(), "{again:?}");
        store.close().await.unwrap();
        sender.send(report).unwrap();
    });
    let report = receiver.recv().unwrap();
    if let Some((_, offset, _)) = report.torn_tail {
        // The reopen appended one record at the cut.
        assert!(std::fs::metadata(&path).unwrap().len() > offset);
    }
    (report, path)
}

#[test]
fn hole_then_intact_records_at_the_tail_is_a_torn_tail() {
    let source = temp_dir();
    let count = 300;
    let (original, name, records) = write_log(source.path(), count);
    // Holes near the end, in the middle, and well before it: all within
    // the one round that can be in flight (about 300 KiB here).
    for at in [count - 20, count / 2, 3] {
        let mut bytes = original.clone();
        let hole = damage(&mut bytes, &records, at, 0);
        let (first, _) = touched(&records, hole);
        let file_len = bytes.len() as u64;
        let (report, path) = reopen(bytes, name.clone(), count, move |index| index < first);
        let cut_at = records[first].0;
        assert_eq!(
            report.torn_tail,
            Some((path, cut_at, file_len - cut_at)),
            "hole at record {at}"
        );
        assert!(report.corruptions.is_empty(), "{report:?}");
    }
}

#[test]
fn hole_with_records_up_to_two_rounds_after_it_is_a_torn_tail() {
    let source = temp_dir();
    // About 9 MiB of records: a hole near the start has more than one round
    // (8 MiB) of intact records after it, but less than the two rounds that
    // can be in flight together (16 MiB): the second round landed, the
    // first in part. None of it was acknowledged.
    let count = 9000;
    let (mut bytes, name, records) = write_log(source.path(), count);
    let hole = damage(&mut bytes, &records, 100, 0);
    let (first, _) = touched(&records, hole);
    assert!(records[count - 1].0 - hole.0 > 8 << 20);
    let file_len = bytes.len() as u64;
    let (report, path) = reopen(bytes, name, count, move |index| index < first);
    let cut_at = records[first].0;
    assert_eq!(report.torn_tail, Some((path, cut_at, file_len - cut_at)));
    assert!(report.corruptions.is_empty(), "{report:?}");
}

#[test]
fn damage_before_the_in_flight_span_or_not_zeros_stays_loud() {
    let source = temp_dir();
    // About 18 MiB of records: a hole near the start has more than two
    // rounds in flight (16 MiB) of intact records after it.
    let count = 18000;
    let (original, name, records) = write_log(source.path(), count);
    let cases = [(100, 0u8), (count - 20, 0xA5)];
    for (at, fill) in cases {
        let mut bytes = original.clone();
        let damaged = damage(&mut bytes, &records, at, fill);
        let (first, last) = touched(&records, damaged);
        let (report, path) = reopen(bytes, name.clone(), count, move |index| {
            index < first || index >= last
        });
        let (from, to) = (records[first].0, records[last].0);
        assert_eq!(
            report.corruptions,
            vec![(path, from, to - from)],
            "damage at record {at}, fill {fill:#x}"
        );
        assert!(report.torn_tail.is_none(), "{report:?}");
    }
}
