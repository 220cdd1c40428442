//! Keydir memory per key: builds a keydir of N keys of 16 bytes and reports
//! the heap bytes it holds per key, measured by a counting allocator, and
//! the insert rate.
//!
//! `cargo bench --bench keydir` (1M and 10M keys; `KEYDIR_BENCH_KEYS=1000000`
//! for one size). `KEYDIR_BENCH_ONE_SLOT=1` puts every key in one hash slot
//! (a shared hash tag) and also reports the longest single insert, which is
//! where a growing table stalls. `KEYDIR_BENCH_ORDER=1` times the inserts
//! alone, in key order and grouped by hash slot.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use shardcask::storage::keydir::{Entry, Keydir, pack_location};

/// Counts the bytes currently allocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    // Forwarded so large blocks grow the way they do in the server (glibc
    // moves them with mremap instead of copying), which the longest-insert
    // figure depends on.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract; `ptr` came from
        // this allocator, which hands out the system allocator's blocks.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure(nr_keys: u64, one_slot: bool) {
    let before = ALLOCATED.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut keydir = Keydir::new();
    let mut longest = std::time::Duration::ZERO;
    for index in 0..nr_keys {
        let key = if one_slot {
            format!("{{0}}{index:013}")
        } else {
            format!("{index:016}")
        };
        let insert_started = one_slot.then(Instant::now);
        keydir.insert(
            key.as_bytes(),
            Entry {
                location: pack_location((index / 1_000_000) as u32 + 1, index * 64),
                record_len: 64,
                value_len: 16,
                expire_at_ms: 0,
            },
        );
        if let Some(insert_started) = insert_started {
            longest = longest.max(insert_started.elapsed());
        }
    }
    let elapsed = started.elapsed();
    let bytes = ALLOCATED.load(Ordering::Relaxed) - before;
    let per_key = bytes as f64 / nr_keys as f64;
    println!(
        "keydir {nr_keys:>9} keys of 16 B: {:>7.1} MiB heap, {per_key:.1} B/key ({:.1} B beyond the key), {:.0} ns/insert",
        bytes as f64 / (1 << 20) as f64,
        per_key - 16.0,
        elapsed.as_nanos() as f64 / nr_keys as f64
    );
    if one_slot {
        println!(
            "  all in one hash slot; longest insert {:.1} ms",
            longest.as_secs_f64() * 1000.0
        );
    }
    drop(keydir);
}

/// Insert cost alone (keys made beforehand), in key order and grouped by
/// hash slot: how much a loader that groups its inserts by slot would save.
fn measure_order(nr_keys: u64) {
    let keys: Vec<[u8; 16]> = (0..nr_keys)
        .map(|index| {
            let mut key = [0u8; 16];
            key.copy_from_slice(format!("{index:016}").as_bytes());
            key
        })
        .collect();
    let mut by_slot: Vec<u32> = (0..nr_keys as u32).collect();
    by_slot.sort_by_key(|&index| shardcask::keyspace::key_slot(&keys[index as usize]));
    for (name, order) in [
        ("key order", (0..nr_keys as u32).collect::<Vec<u32>>()),
        ("by slot", by_slot),
    ] {
        let started = Instant::now();
        let mut keydir = Keydir::new();
        for &index in &order {
            let index = index as u64;
            keydir.insert(
                &keys[index as usize],
                Entry {
                    location: pack_location(1, index * 64),
                    record_len: 64,
                    value_len: 16,
                    expire_at_ms: 0,
                },
            );
        }
        println!(
            "  {nr_keys} inserts, {name}: {:.0} ns/insert",
            started.elapsed().as_nanos() as f64 / nr_keys as f64
        );
    }
}

fn main() {
    let sizes: Vec<u64> = match std::env::var("KEYDIR_BENCH_KEYS") {
        Ok(text) => text
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => vec![1_000_000, 10_000_000],
    };
    let one_slot = std::env::var("KEYDIR_BENCH_ONE_SLOT").is_ok_and(|text| text == "1");
    let order = std::env::var("KEYDIR_BENCH_ORDER").is_ok_and(|text| text == "1");
    for nr_keys in sizes {
        if order {
            measure_order(nr_keys);
            continue;
        }
        measure(nr_keys, one_slot);
    }
}
