//! The group-commit path with a real file: N concurrent writers, each doing
//! `put` + `wait_durable` in a loop on one `storage::Store` with
//! `SyncMode::Always`. Prints acknowledged writes per second, latency per
//! write as one writer sees it, and how many DMA writes and fdatasyncs each
//! acknowledged write cost: the busier the shard, the fewer syscalls per
//! write.
//!
//! The store lives in a fresh directory under `BENCH_DIR` (default: the
//! system temp dir). Put it on the disk you care about; on tmpfs the DMA
//! probe falls back and fdatasync is free.
//!
//! The same runs on the storage layer's in-memory device (`Backend::Sim`,
//! the crash-test disk) show the cost of the path itself, without the
//! device: the difference is what the disk and its fdatasync cost.
//!
//! Run: `cargo bench --bench group_commit` (`BENCH_SECS=3` for longer runs).

use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};
use shardcask::storage::io::{Backend, SimDisk};
use shardcask::storage::{Store, StoreOptions, SyncMode};

/// Time budget of one measurement (`BENCH_SECS`, default 0.5 s).
fn budget() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.5);
    Duration::from_secs_f64(secs)
}

/// One run: `nr_writers` tasks writing `value_len`-byte values until the
/// budget is spent.
async fn run(store: Rc<Store>, label: &str, nr_writers: usize, value_len: usize) {
    let before = store.stats();
    let budget = budget();
    let started = Instant::now();
    let writers: Vec<_> = (0..nr_writers)
        .map(|writer| {
            let store = store.clone();
            glommio::spawn_local(async move {
                let value = vec![b'v'; value_len];
                let mut nr_writes = 0u64;
                while started.elapsed() < budget {
                    let key = format!("w{writer}:{}", nr_writes % 1000);
                    let ticket = store.put(key.as_bytes(), &value, 0).expect("put");
                    store.wait_durable(ticket).await.expect("durable");
                    nr_writes += 1;
                }
                nr_writes
            })
        })
        .collect();
    let mut nr_writes = 0u64;
    for writer in writers {
        nr_writes += writer.await;
    }
    let elapsed = started.elapsed();
    let after = store.stats();
    let dma_writes = (after.writes - before.writes) as f64;
    let syncs = (after.syncs - before.syncs) as f64;
    let per_write = nr_writes as f64;
    println!(
        "{label:<14} {nr_writers:>4} writers {value_len:>6} B: {:>9.0} writes/s {:>9.1} us/write \
         (per writer) {:>6.3} DMA writes/write {:>6.3} fdatasyncs/write {:>7.1} writes/flush",
        per_write / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 * nr_writers as f64 / per_write,
        dma_writes / per_write,
        syncs / per_write,
        per_write / dma_writes.max(1.0),
    );
}

fn main() {
    let base = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("shardcask-group-commit-")
        .tempdir_in(&base)
        .expect("temp dir under BENCH_DIR");
    println!(
        "# group commit on a real file in {} (BENCH_SECS={:?})",
        dir.path().display(),
        budget()
    );
    let path = dir.path().to_path_buf();
    LocalExecutorBuilder::new(Placement::Unbound)
        .name("group-commit-bench")
        .make()
        .expect("executor starts (is `ulimit -l` large enough?)")
        .run(async move {
            let memory = Backend::Sim(SimDisk::default());
            for (label, sync, backend) in [
                ("file", SyncMode::Always, Backend::Dma),
                (
                    "file",
                    SyncMode::Batch {
                        interval: Duration::from_secs(1),
                    },
                    Backend::Dma,
                ),
                ("memory", SyncMode::Always, memory),
            ] {
                let mode = match sync {
                    SyncMode::Always => "always",
                    SyncMode::Batch { .. } => "batch",
                    SyncMode::Never => "never",
                };
                let store = Store::open(StoreOptions {
                    dir: path.join(format!("{label}-{mode}")),
                    shard_id: 0,
                    max_file_size: 256 << 20,
                    sync,
                    backend,
                    ..Default::default()
                })
                .await
                .expect("store opens");
                let writer_counts: &[usize] = match (label, sync) {
                    ("file", SyncMode::Always) => &[1, 4, 16, 64, 256],
                    _ => &[1, 16, 256],
                };
                let label = format!("{label}/{mode}");
                for &nr_writers in writer_counts {
                    run(store.clone(), &label, nr_writers, 100).await;
                }
                if sync == SyncMode::Always {
                    run(store.clone(), &label, 16, 4096).await;
                }
                store.close().await.expect("store closes");
            }
        });
}
