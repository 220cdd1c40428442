//! Damaged log files: truncation at every offset of the last record, bytes
//! flipped anywhere in the middle of a log, garbage appended after the tail.
//!
//! Expected, every time: a torn tail is truncated silently (reported as a
//! torn tail, not as corruption); damage before the tail is reported with
//! the file and the offset of the damaged record, and every intact record is
//! still served; never a panic, never a wrong value.
//!
//! Most cases run through the library (`Store::open` in a glommio executor)
//! because they need hundreds of reopenings; the last tests run the same
//! damage through the real binary and check what it reports and serves.
//!
//! `SHARDCASK_CORRUPTION_FLIPS=<n>` flips more random bytes (default 150);
//! `SHARDCASK_CORRUPTION_SEED=<seed>` replays a run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Rng, Server, resp, roundtrip};
use shardcask::storage::record::{HEADER_LEN, OFF_KEY_LEN, OFF_VALUE_LEN};
use shardcask::storage::{RecoveryReport, Store, StoreOptions, SyncMode};

/// One record found by walking a log file with the documented layout.
#[derive(Debug, Clone)]
struct RecordSpan {
    offset: usize,
    len: usize,
    key: Vec<u8>,
}

/// Walks the records of a log file until the zero padding.
fn records_of(data: &[u8]) -> Vec<RecordSpan> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at + HEADER_LEN <= data.len() && data[at..at + HEADER_LEN].iter().any(|&b| b != 0) {
        let field = |off: usize| {
            u32::from_le_bytes(data[at + off..at + off + 4].try_into().unwrap()) as usize
        };
        let (key_len, value_len) = (field(OFF_KEY_LEN), field(OFF_VALUE_LEN));
        let len = HEADER_LEN + key_len + value_len;
        spans.push(RecordSpan {
            offset: at,
            len,
            key: data[at + HEADER_LEN..at + HEADER_LEN + key_len].to_vec(),
        });
        at += len;
    }
    spans
}

fn options(dir: &Path) -> StoreOptions {
    StoreOptions {
        dir: dir.to_path_buf(),
        shard_id: 0,
        max_file_size: 1 << 30,
        sync: SyncMode::Always,
        ..Default::default()
    }
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    glommio::LocalExecutorBuilder::default()
        .make()
        .expect("a glommio executor (io_uring, locked memory)")
        .run(future)
}

/// The value of key `i`: self-describing, mixed sizes.
fn value_of(i: usize) -> Vec<u8> {
    let len = [12, 300, 4000, 9000, 40][i % 5];
    let mut value = format!("value-{i}-").into_bytes();
    while value.len() < len {
        value.push(b'a' + (value.len() % 26) as u8);
    }
    value
}

fn key_of(i: usize) -> Vec<u8> {
    format!("key:{i:03}").into_bytes()
}

/// A log of `nr_keys` distinct keys, written and closed; returns its files.
fn write_log(dir: &Path, nr_keys: usize) {
    run(async {
        let store = Store::open(options(dir)).await.unwrap();
        let mut last = None;
        for i in 0..nr_keys {
            last = Some(store.put(&key_of(i), &value_of(i), 0).unwrap());
        }
        store.wait_durable(last.unwrap()).await.unwrap();
        store.close().await.unwrap();
    });
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    files
}

/// Copies a store directory (every regular file) to a fresh one.
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = common::data_dir();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
        }
    }
    to
}

/// Opens `dir`, reads keys `0..nr_keys`, and (optionally) writes one more
/// key and reopens to check that appends after the repair survive.
fn open_and_read(
    dir: &Path,
    nr_keys: usize,
    write_after: bool,
) -> (RecoveryReport, BTreeMap<usize, Option<Vec<u8>>>) {
    run(async {
        let store = Store::open(options(dir)).await.unwrap();
        let report = store.recovery_report();
        let mut found = BTreeMap::new();
        for i in 0..nr_keys {
            let value = store
                .get(&key_of(i), 0)
                .await
                .unwrap_or_else(|e| panic!("GET key {i} failed after recovery: {e}"));
            found.insert(i, value.map(|v| v.data.to_vec()));
        }
        if write_after {
            let ticket = store.put(b"after-repair", b"fresh", 0).unwrap();
            store.wait_durable(ticket).await.unwrap();
            store.close().await.unwrap();
            drop(store);
            let store = Store::open(options(dir)).await.unwrap();
            let got = store.get(b"after-repair", 0).await.unwrap();
            assert_eq!(got.map(|v| v.data.to_vec()), Some(b"fresh".to_vec()));
            // A repaired tail stays repaired; damage before the tail is
            // left in place and reported the same way again.
            assert_eq!(
                store.recovery_report().corruptions,
                report.corruptions,
                "reopening after the repair: {:?}",
                store.recovery_report()
            );
            assert!(store.recovery_report().torn_tail.is_none());
            for i in 0..nr_keys {
                let again = store.get(&key_of(i), 0).await.unwrap();
                assert_eq!(
                    again.map(|v| v.data.to_vec()),
                    found[&i],
                    "key {i} changed across a second reopen"
                );
            }
            store.close().await.unwrap();
        }
        (report, found)
    })
}

/// Every key is served with its own value, except `missing` (absent).
fn assert_served(found: &BTreeMap<usize, Option<Vec<u8>>>, missing: &[usize], case: &str) {
    for (&i, value) in found {
        if missing.contains(&i) {
            assert_eq!(
                value, &None,
                "{case}: damaged key {i} must be absent, not wrong"
            );
        } else {
            assert_eq!(
                value.as_deref(),
                Some(value_of(i).as_slice()),
                "{case}: intact key {i} must be served with its value"
            );
        }
    }
}

#[test]
fn truncation_at_every_offset_of_the_last_record() {
    // The last record is key 39's: 40 bytes of value, a 79-byte record.
    truncate_last_record(40, |_| true);
}

#[test]
fn truncation_across_a_multi_block_last_record() {
    // The last record is key 38's: 9000 bytes of value, spanning three 4 KiB
    // blocks. Cut at every offset near its ends and the 512 B / 4 KiB
    // boundaries, and at every 61st offset elsewhere.
    truncate_last_record(39, |relative| {
        let near = |mark: usize| relative.abs_diff(mark) <= 2;
        !(48..=9000 - 16).contains(&relative)
            || relative % 61 == 0
            || (0..20).any(|k| near(k * 512))
    });
}

/// Truncates the last record of a log of `nr_keys` keys at every offset
/// (relative to the record's start) that `pick` selects.
fn truncate_last_record(nr_keys: usize, pick: impl Fn(usize) -> bool) {
    let original = common::data_dir();
    write_log(original.path(), nr_keys);
    let file = data_files(original.path()).pop().unwrap();
    let data = std::fs::read(&file).unwrap();
    let records = records_of(&data);
    assert_eq!(records.len(), nr_keys);
    let last = records.last().unwrap().clone();
    assert_eq!(last.key, key_of(nr_keys - 1));
    let mut cases = 0;
    for cut in (last.offset..last.offset + last.len).filter(|cut| pick(cut - last.offset)) {
        let copy = copy_dir(original.path());
        let path = copy.path().join(file.file_name().unwrap());
        std::fs::write(&path, &data[..cut]).unwrap();
        let case = format!(
            "cut at {cut} (last record {}..{})",
            last.offset,
            last.offset + last.len
        );
        let (report, found) = open_and_read(copy.path(), nr_keys, cut % 9 == 0);
        assert!(
            report.corruptions.is_empty(),
            "{case}: a torn tail is not corruption: {report:?}"
        );
        if cut > last.offset {
            let (torn_file, offset, bytes) = report
                .torn_tail
                .clone()
                .unwrap_or_else(|| panic!("{case}: torn tail not reported: {report:?}"));
            assert_eq!(torn_file.file_name(), file.file_name(), "{case}");
            assert_eq!(offset, last.offset as u64, "{case}");
            assert_eq!(bytes, (cut - last.offset) as u64, "{case}");
        }
        assert_served(&found, &[nr_keys - 1], &case);
        cases += 1;
    }
    // The whole record (and the padding after it) is fine, of course.
    let (report, found) = open_and_read(original.path(), nr_keys, false);
    assert!(report.torn_tail.is_none() && report.corruptions.is_empty());
    assert_served(&found, &[], "untouched");
    println!(
        "truncation: {cases} cuts of a {}-byte record, 0 lost, 0 wrong",
        last.len
    );
}

#[test]
fn garbage_appended_after_the_tail_is_cut_away() {
    let nr_keys = 30;
    let original = common::data_dir();
    write_log(original.path(), nr_keys);
    let file = data_files(original.path()).pop().unwrap();
    let data = std::fs::read(&file).unwrap();
    let end = {
        let last = records_of(&data).pop().unwrap();
        last.offset + last.len
    };
    let mut rng = Rng::new(7);
    // A plausible header: right magic and version, lengths that fit, bad CRC.
    let mut fake_header = data[0..HEADER_LEN].to_vec();
    fake_header[0] ^= 0x55;
    let garbages: Vec<(String, Vec<u8>)> = vec![
        ("1 byte".into(), vec![0x01]),
        ("a fake header".into(), fake_header.clone()),
        (
            "a fake header and a body".into(),
            [fake_header, rng.bytes(200)].concat(),
        ),
        ("513 random bytes".into(), rng.bytes(513)),
        ("9000 random bytes".into(), rng.bytes(9000)),
        ("0xff x 4096".into(), vec![0xff; 4096]),
    ];
    let mut cases = 0;
    for (what, garbage) in &garbages {
        for at in [end, data.len()] {
            let copy = copy_dir(original.path());
            let path = copy.path().join(file.file_name().unwrap());
            let mut damaged = data[..at].to_vec();
            damaged.extend_from_slice(garbage);
            std::fs::write(&path, &damaged).unwrap();
            let case = format!("{what} at {at}");
            let (report, found) = open_and_read(copy.path(), nr_keys, true);
            assert!(report.corruptions.is_empty(), "{case}: {report:?}");
            assert!(
                report.torn_tail.is_some(),
                "{case}: garbage must be reported as a torn tail"
            );
            assert_served(&found, &[], &case);
            cases += 1;
        }
    }
    println!("garbage appended: {cases} cases, 0 lost, 0 wrong");
}

#[test]
fn flipped_bytes_in_the_middle_are_reported_and_skipped() {
    let nr_keys = 60;
    let original = common::data_dir();
    write_log(original.path(), nr_keys);
    let file = data_files(original.path()).pop().unwrap();
    let data = std::fs::read(&file).unwrap();
    let records = records_of(&data);
    let last_offset = records.last().unwrap().offset;
    let seed = Rng::seed_from_env("SHARDCASK_CORRUPTION_SEED");
    let nr_flips: usize = common::env_count("SHARDCASK_CORRUPTION_FLIPS", 150);
    println!(
        "flips: seed {seed} (replay with SHARDCASK_CORRUPTION_SEED={seed}), {nr_flips} random + every byte of one header"
    );
    let mut rng = Rng::new(seed);
    // Every byte of one record's header and key, then random positions in
    // any record before the last.
    let middle = &records[nr_keys / 2];
    let mut positions: Vec<usize> =
        (middle.offset..middle.offset + HEADER_LEN + middle.key.len()).collect();
    for _ in 0..nr_flips {
        positions.push(rng.below(last_offset as u64) as usize);
    }
    for &position in &positions {
        let damaged_index = records.iter().rposition(|r| r.offset <= position).unwrap();
        let damaged = &records[damaged_index];
        let copy = copy_dir(original.path());
        let path = copy.path().join(file.file_name().unwrap());
        let mut bytes = data.clone();
        bytes[position] ^= 1 << rng.below(8);
        std::fs::write(&path, &bytes).unwrap();
        let case = format!(
            "bit flipped at {position} (record {damaged_index} at {}, seed {seed})",
            damaged.offset
        );
        let (report, found) = open_and_read(copy.path(), nr_keys, false);
        assert!(report.torn_tail.is_none(), "{case}: not a tail: {report:?}");
        assert_eq!(report.corruptions.len(), 1, "{case}: {report:?}");
        let (corrupt_file, offset, skipped) = &report.corruptions[0];
        assert_eq!(corrupt_file.file_name(), file.file_name(), "{case}");
        assert_eq!(*offset, damaged.offset as u64, "{case}: reported offset");
        assert_eq!(*skipped, damaged.len as u64, "{case}: bytes skipped");
        assert_served(&found, &[damaged_index], &case);
    }
    println!(
        "flips: {} positions, each reported at its record's offset, 0 lost intact records, 0 wrong",
        positions.len()
    );
}

/// Sealed files: damage in an older file is reported and the newer files
/// (and the rest of the damaged one) are still served.
#[test]
fn damage_in_a_sealed_file_is_reported_and_the_rest_served() {
    let nr_keys = 120;
    let original = common::data_dir();
    run(async {
        let mut opts = options(original.path());
        opts.max_file_size = 64 * 1024;
        let store = Store::open(opts).await.unwrap();
        let mut last = None;
        for i in 0..nr_keys {
            last = Some(store.put(&key_of(i), &value_of(i), 0).unwrap());
        }
        store.wait_durable(last.unwrap()).await.unwrap();
        store.close().await.unwrap();
    });
    let files = data_files(original.path());
    assert!(
        files.len() >= 3,
        "expected several log files, got {files:?}"
    );
    let sealed = &files[0];
    let data = std::fs::read(sealed).unwrap();
    let records = records_of(&data);
    let victim = &records[records.len() / 2];
    let victim_key: usize = String::from_utf8_lossy(&victim.key)[4..].parse().unwrap();
    let copy = copy_dir(original.path());
    let mut bytes = data.clone();
    bytes[victim.offset + HEADER_LEN + 2] ^= 0x20;
    // And garbage after the sealed file's last record.
    let end = records.last().map(|r| r.offset + r.len).unwrap();
    bytes.truncate(end);
    bytes.extend_from_slice(b"trailing garbage in a sealed file");
    std::fs::write(copy.path().join(sealed.file_name().unwrap()), &bytes).unwrap();
    let (report, found) = open_and_read(copy.path(), nr_keys, true);
    assert_eq!(report.corruptions.len(), 2, "{report:?}");
    assert_eq!(report.corruptions[0].1, victim.offset as u64);
    assert_eq!(report.corruptions[1].1, end as u64);
    assert!(
        report
            .corruptions
            .iter()
            .all(|c| c.0.file_name() == sealed.file_name())
    );
    assert_served(&found, &[victim_key], "sealed file damage");
}

/// The same damage through the real binary: what it reports on stderr and
/// what it serves over RESP.
#[test]
fn the_server_reports_damage_with_file_and_offset_and_serves_the_rest() {
    let mut server = Server::start(1, &[]);
    let nr_keys = 30;
    let mut stream = server.raw();
    for i in 0..nr_keys {
        let reply = roundtrip(&mut stream, &resp(&[b"SET", &key_of(i), &value_of(i)]), 5);
        assert_eq!(reply, b"+OK\r\n");
    }
    drop(stream);
    assert!(server.stop().success());
    let file = data_files(&server.dir.join("shard-0")).pop().unwrap();
    let data = std::fs::read(&file).unwrap();
    let records = records_of(&data);
    let victim = &records[10];
    let last = records.last().unwrap().clone();
    let mut bytes = data.clone();
    bytes[victim.offset + victim.len - 3] ^= 0x01;
    // A torn tail too: the last record loses its second half.
    bytes.truncate(last.offset + last.len / 2);
    std::fs::write(&file, &bytes).unwrap();

    server.restart();
    let stderr = strip_ansi(&server.stderr_text());
    let file_name = file.file_name().unwrap().to_string_lossy().to_string();
    let reported = stderr
        .lines()
        .find(|line| line.contains("corrupt"))
        .unwrap_or_else(|| panic!("no corruption reported; stderr:\n{stderr}"));
    assert!(
        reported.contains(&file_name) && reported.contains(&format!("offset={}", victim.offset)),
        "the report must name the file and offset: {reported}"
    );
    assert!(stderr.contains("torn tail"), "stderr:\n{stderr}");
    let mut stream = server.raw();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for i in 0..nr_keys {
        let expected = if i == 10 || i == nr_keys - 1 {
            b"$-1\r\n".to_vec()
        } else {
            let value = value_of(i);
            [
                format!("${}\r\n", value.len()).into_bytes(),
                value,
                b"\r\n".to_vec(),
            ]
            .concat()
        };
        let got = roundtrip(&mut stream, &resp(&[b"GET", &key_of(i)]), expected.len());
        assert_eq!(got, expected, "key {i}");
    }
}

/// Removes terminal colour codes (`ESC [ ... m`) from log text.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes a multi-file log with overwrites and deletes, waits until the
/// maintenance task has written hint files for the sealed files, closes.
/// Returns the expected contents (key index -> value, `None` = deleted).
fn write_hinted_log(dir: &Path) -> BTreeMap<usize, Option<Vec<u8>>> {
    let nr_keys = 150;
    run(async {
        let mut opts = options(dir);
        opts.max_file_size = 64 * 1024;
        let store = Store::open(opts).await.unwrap();
        let mut expected = BTreeMap::new();
        let mut last = None;
        for round in 0..2 {
            for i in 0..nr_keys {
                if round == 1 && i % 4 == 0 {
                    last = store.delete(&key_of(i), 0).unwrap().or(last);
                    expected.insert(i, None);
                } else if round == 1 && i % 4 == 1 {
                    continue; // written once: its record lives in an early file
                } else {
                    let value = [value_of(i), format!("-round-{round}").into_bytes()].concat();
                    last = Some(store.put(&key_of(i), &value, 0).unwrap());
                    expected.insert(i, Some(value));
                }
            }
        }
        store.wait_durable(last.unwrap()).await.unwrap();
        // Hints are written in the background once a file is sealed.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let nr_data = data_files(dir).len();
            let nr_hints = hint_files(dir).len();
            if nr_data >= 3 && nr_hints + 1 >= nr_data {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no hint files after 30 s ({nr_data} data files, {nr_hints} hints)"
            );
            glommio::timer::sleep(Duration::from_millis(20)).await;
        }
        store.close().await.unwrap();
        expected
    })
}

fn hint_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "hint"))
        .collect();
    files.sort();
    files
}

/// Opens `dir` and checks every key against `expected`.
fn open_and_check(
    dir: &Path,
    expected: &BTreeMap<usize, Option<Vec<u8>>>,
    case: &str,
) -> RecoveryReport {
    run(async {
        let store = Store::open(options(dir)).await.unwrap();
        for (&i, value) in expected {
            let got = store
                .get(&key_of(i), 0)
                .await
                .unwrap_or_else(|e| panic!("{case}: GET key {i} failed: {e}"));
            assert_eq!(
                got.map(|v| v.data.to_vec()).as_ref(),
                value.as_ref(),
                "{case}: key {i}"
            );
        }
        let report = store.recovery_report();
        store.close().await.unwrap();
        report
    })
}

#[test]
fn a_damaged_hint_file_falls_back_to_the_log() {
    let original = common::data_dir();
    let expected = write_hinted_log(original.path());
    let hints = hint_files(original.path());
    let clean = open_and_check(original.path(), &expected, "intact hints");
    assert!(clean.hints_loaded >= 2, "hints were not used: {clean:?}");
    assert!(
        clean.bad_hints.is_empty() && clean.corruptions.is_empty(),
        "{clean:?}"
    );

    let seed = Rng::seed_from_env("SHARDCASK_CORRUPTION_SEED");
    let mut rng = Rng::new(seed ^ 0x4849_4e54);
    let mut cases = 0;
    // The first, a middle and the last hint file.
    let sample = [0, hints.len() / 2, hints.len() - 1];
    for hint in sample.iter().map(|&i| &hints[i]) {
        let data = std::fs::read(hint).unwrap();
        let end = data.iter().rposition(|&b| b != 0).unwrap_or(0) + 1;
        let mut damaged: Vec<(String, Vec<u8>)> = Vec::new();
        // Every byte of the header, then random bytes of the entries and trailer.
        let positions: Vec<usize> = (0..56.min(end))
            .step_by(3)
            .chain((0..10).map(|_| rng.below(end as u64) as usize))
            .collect();
        for position in positions {
            let mut bytes = data.clone();
            bytes[position] ^= 1 << rng.below(8);
            damaged.push((format!("bit flipped at {position}"), bytes));
        }
        damaged.push(("truncated to half".into(), data[..end / 2].to_vec()));
        damaged.push(("empty".into(), Vec::new()));
        damaged.push(("garbage".into(), rng.bytes(end)));
        // Another file's (valid) hint under this name.
        let other = hints.iter().find(|h| *h != hint).unwrap();
        damaged.push(("another file's hint".into(), std::fs::read(other).unwrap()));
        for (what, bytes) in damaged {
            let copy = copy_dir(original.path());
            let path = copy.path().join(hint.file_name().unwrap());
            std::fs::write(&path, &bytes).unwrap();
            let case = format!("{} {what} (seed {seed})", hint.display());
            let report = open_and_check(copy.path(), &expected, &case);
            assert!(report.corruptions.is_empty(), "{case}: {report:?}");
            assert_eq!(
                report.bad_hints.len(),
                1,
                "{case}: the bad hint must be reported: {report:?}"
            );
            assert_eq!(report.hints_loaded, clean.hints_loaded - 1, "{case}");
            cases += 1;
        }
    }
    println!(
        "damaged hints: {cases} cases over {} of {} hint files, each fell back to its log, 0 lost, 0 wrong",
        sample.len(),
        hints.len()
    );
}

/// GETs that read through the socket ring, as the server's do, are checked
/// like glommio's reads: every value comes back from the disk, and a record
/// damaged under the open store is reported with its offset, not served.
#[test]
fn reads_on_the_socket_ring_are_checked_like_any_other() {
    use std::os::unix::fs::FileExt;

    let nr_keys = 40;
    let dir = common::data_dir();
    write_log(dir.path(), nr_keys);
    let file = data_files(dir.path()).pop().unwrap();
    let records = records_of(&std::fs::read(&file).unwrap());
    // Key 8 has a 9,000-byte value: a read too big for a pooled buffer.
    let damaged = records[8].clone();
    assert_eq!(damaged.key, key_of(8));
    run(async move {
        let store = Store::open(StoreOptions {
            cache_bytes: 0,
            ..options(dir.path())
        })
        .await
        .unwrap();
        let ring = shardcask::net::Ring::new().expect("a socket ring");
        glommio::spawn_local(ring.clone().drive()).detach();
        store.set_direct_reader(Some(ring.clone()));
        let reads_before = store.stats().reads;
        for i in 0..nr_keys {
            let got = store.get(&key_of(i), 0).await.unwrap();
            assert_eq!(got.map(|v| v.data.to_vec()), Some(value_of(i)), "key {i}");
        }
        // All but the records of the tail block, which the log keeps in memory.
        let reads = store.stats().reads - reads_before;
        assert!(reads >= nr_keys as u64 - 1, "{reads} GETs read the disk");
        let handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        let at = (damaged.offset + damaged.len - 100) as u64;
        handle.write_at(b"X", at).unwrap();
        handle.sync_all().unwrap();
        match store.get(&damaged.key, 0).await {
            Err(shardcask::storage::ReadError::Corrupt { offset, .. }) => {
                assert_eq!(offset, damaged.offset as u64, "the damaged record's offset")
            }
            other => panic!("a damaged record was not reported: {other:?}"),
        }
        for i in (0..nr_keys).filter(|&i| i != 8) {
            let got = store.get(&key_of(i), 0).await.unwrap();
            assert_eq!(got.map(|v| v.data.to_vec()), Some(value_of(i)), "key {i}");
        }
        store.close().await.unwrap();
    });
}
