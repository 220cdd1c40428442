//! The value cache on the GET path, on one `storage::Store` with a real file.
//!
//! Two figures:
//! - the hit rate of a SET-then-GET mix (`HOT_KEYS` keys, default 20,000, of
//!   100 B; one SET for every four GETs, keys at random, every SET waited on
//!   as a client would): a write that leaves its value in the cache keeps
//!   the GETs after it off the disk;
//! - the hot GET loop (every key set and read twice, so the cache is warm),
//!   in batches of 16 as a shard serves a pipeline: prefetch, then
//!   `get_resident` each. `hot_gets` is its own function so that
//!   `valgrind --tool=callgrind --toggle-collect='*hot_gets*'` counts its
//!   instructions alone; divide by the GETs printed.
//!
//! Run: `cargo bench --bench hot_get` (`HOT_ROUNDS=N` rounds over the keys
//! in the hot loop, default 20). The store lives under `BENCH_DIR` (default:
//! the system temp dir).

use std::rc::Rc;
use std::time::Instant;

use glommio::{LocalExecutorBuilder, Placement};
use shardcask::storage::{Resident, Store, StoreOptions, SyncMode};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn key_of(index: usize) -> Vec<u8> {
    format!("key:{index:012}").into_bytes()
}

/// A small xorshift generator: the same sequence on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// SET:GET 1:4 over random keys; returns the cache hit rate of its GETs.
async fn set_then_get(store: &Store, keys: &[Vec<u8>], ops: usize) -> f64 {
    let before = store.stats();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let value = vec![b'v'; 100];
    for _ in 0..ops {
        let key = &keys[rng.below(keys.len())];
        if rng.below(5) == 0 {
            let ticket = store.put(key, &value, 0).expect("put");
            store.wait_durable(ticket).await.expect("durable");
        } else {
            store.get(key, 0).await.expect("get");
        }
    }
    let after = store.stats();
    let hits = (after.cache_hits - before.cache_hits) as f64;
    let misses = (after.cache_misses - before.cache_misses) as f64;
    hits / (hits + misses).max(1.0)
}

/// `rounds` passes of batched resident GETs over `keys`; returns the hits.
#[inline(never)]
fn hot_gets(store: &Store, keys: &[Vec<u8>], rounds: usize) -> usize {
    let mut hits = 0;
    let mut hashes = Vec::new();
    for _ in 0..rounds {
        for batch in keys.chunks(16) {
            hashes.clear();
            store.prefetch(batch.iter().map(|key| key.as_slice()), &mut hashes);
            for (key, &at) in batch.iter().zip(&hashes) {
                if let Resident::Found(Some(value)) = store.get_resident_at(key, at, 0) {
                    hits += std::hint::black_box(value).data.len().min(1);
                }
            }
        }
    }
    hits
}

fn main() {
    let base = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("hot-get-bench")
        .tempdir_in(base)
        .expect("temp dir");
    let path = dir.path().to_path_buf();
    let nr_keys = env_or("HOT_KEYS", 20_000);
    let rounds = env_or("HOT_ROUNDS", 20);
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            let store: Rc<Store> = Store::open(StoreOptions {
                dir: path,
                sync: SyncMode::Never,
                ..StoreOptions::default()
            })
            .await
            .expect("open");
            let keys: Vec<Vec<u8>> = (0..nr_keys).map(key_of).collect();
            let value = vec![b'v'; 100];
            let mut ticket = None;
            for key in &keys {
                ticket = Some(store.put(key, &value, 0).expect("put"));
            }
            store
                .wait_durable(ticket.expect("keys"))
                .await
                .expect("durable");
            let hit_rate = set_then_get(&store, &keys, 5 * nr_keys).await;
            println!("SET then GET (1:4, {nr_keys} keys, 100 B): cache hit rate {hit_rate:.3}");
            // Warm: every key read twice (into the cache, then protected).
            for _ in 0..2 {
                for key in &keys {
                    store.get(key, 0).await.expect("get");
                }
            }
            let started = Instant::now();
            let hits = hot_gets(&store, &keys, rounds);
            let elapsed = started.elapsed();
            let gets = keys.len() * rounds;
            println!(
                "hot GET: {gets} GETs ({hits} answered from memory) in {:.1} ms, {:.0} ns/GET",
                elapsed.as_secs_f64() * 1e3,
                elapsed.as_secs_f64() * 1e9 / gets as f64
            );
            store.close().await.expect("close");
        })
        .expect("executor")
        .join()
        .expect("join");
}
