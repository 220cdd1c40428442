//! Startup time: writes N keys (16 B keys, 16 B values) into one shard's
//! store, then reopens it with hint files and again after deleting them
//! (every log file scanned), and prints both times.
//!
//! `STARTUP_BENCH_KEYS=10000000 cargo bench --bench startup` (default 1M).
//! `STARTUP_BENCH_VALUE=4096` writes values of that many bytes instead of 16
//! (is the log scan bound by the disk or by the CPU?).
//! `STARTUP_BENCH_DIR` picks the parent directory (default /tmp; a temporary
//! directory is made and removed in it). `STARTUP_BENCH_STORE=PATH` uses and
//! keeps that store instead: written only when it has no data yet, so a
//! profile of the opens can skip the writing. `STARTUP_BENCH_OPENS=N` opens
//! with hints N times (default 1); `STARTUP_BENCH_HINTS_ONLY=1` skips the
//! open without hints (which deletes the hint files).

use std::path::{Path, PathBuf};
use std::time::Instant;

use glommio::{LocalExecutorBuilder, Placement};
use shardcask::storage::{Store, StoreOptions, SyncMode};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn has_data(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "data"))
    })
}

fn main() {
    let nr_keys = env_u64("STARTUP_BENCH_KEYS", 1_000_000);
    let value_len = env_u64("STARTUP_BENCH_VALUE", 16) as usize;
    let opens = env_u64("STARTUP_BENCH_OPENS", 1).max(1);
    let hints_only = std::env::var_os("STARTUP_BENCH_HINTS_ONLY").is_some();
    let mut _temp = None;
    let path: PathBuf = match std::env::var_os("STARTUP_BENCH_STORE") {
        Some(path) => PathBuf::from(path),
        None => {
            let base = std::env::var("STARTUP_BENCH_DIR").unwrap_or_else(|_| "/tmp".into());
            let dir = tempfile::Builder::new()
                .prefix("shardcask-startup-")
                .tempdir_in(base)
                .expect("temp dir");
            let path = dir.path().join("shard-0");
            _temp = Some(dir);
            path
        }
    };
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            let opts = StoreOptions {
                dir: path.clone(),
                sync: SyncMode::Never,
                max_file_size: 256 << 20,
                ..Default::default()
            };
            if has_data(&path) {
                println!("reusing the store in {}", path.display());
            } else {
                write_keys(&opts, nr_keys, value_len).await;
            }
            let expected = {
                let store = Store::open(opts.clone()).await.expect("open");
                let hints = store.write_pending_hints().await.expect("hints");
                store.close().await.expect("close");
                println!("hint files written: {hints}");
                store.len()
            };

            for _ in 0..opens {
                let started = Instant::now();
                let store = Store::open(opts.clone()).await.expect("open with hints");
                let with_hints = started.elapsed();
                let report = store.recovery_report();
                assert_eq!(store.len(), expected);
                println!(
                    "open with hints:    {:.2} s ({} files from hints, {} scanned, {} keys)",
                    with_hints.as_secs_f64(),
                    report.hints_loaded,
                    report.files_scanned,
                    report.keys_loaded
                );
                store.close().await.expect("close");
            }
            if hints_only {
                return;
            }

            for entry in std::fs::read_dir(&path).expect("list") {
                let entry = entry.expect("entry");
                if entry.path().extension().is_some_and(|ext| ext == "hint") {
                    std::fs::remove_file(entry.path()).expect("remove hint");
                }
            }
            let started = Instant::now();
            let cpu_before = thread_cpu_seconds();
            let store = Store::open(opts.clone()).await.expect("open without hints");
            let without = started.elapsed();
            let cpu = thread_cpu_seconds() - cpu_before;
            let report = store.recovery_report();
            let stats = store.stats();
            println!(
                "open without hints: {:.2} s ({} files scanned, {:.0} MiB read, {:.0} MiB/s, \
                 CPU busy {:.0}% of the time: near 100% means CPU-bound, lower means the disk)",
                without.as_secs_f64(),
                report.files_scanned,
                stats.bytes_read as f64 / (1 << 20) as f64,
                stats.bytes_read as f64 / (1 << 20) as f64 / without.as_secs_f64(),
                cpu / without.as_secs_f64() * 100.0
            );
            assert_eq!(store.len(), expected);
        })
        .expect("executor")
        .join()
        .expect("bench finishes");
}

/// CPU time (user + system) of the calling thread, in seconds.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Writes `nr_keys` keys of 16 B with `value_len`-byte values, then one
/// more key in a new file so every file holding the keys is sealed (and gets
/// a hint).
async fn write_keys(opts: &StoreOptions, nr_keys: u64, value_len: usize) {
    let started = Instant::now();
    let store = Store::open(opts.clone()).await.expect("open");
    let value = vec![7u8; value_len];
    for index in 0..nr_keys {
        let key = format!("{index:016}");
        let ticket = store.put(key.as_bytes(), &value, 0).expect("put");
        if index % 1_000 == 999 {
            // Let the flusher keep up (bounded buffer) when values are big.
            store.wait_durable(ticket).await.expect("flush");
        }
    }
    store.roll_over().expect("roll over");
    store.put(b"last", b"x", 0).expect("put");
    store.close().await.expect("close");
    println!(
        "wrote {nr_keys} keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
