//! Record encode and decode (header validation + CRC32C over the record),
//! for 100 B, 4 KiB and 1 MiB values. Prints ns per record and MB/s of
//! record bytes.
//!
//! Run: `cargo bench --bench record` (`BENCH_SECS=2` for longer runs).

use std::hint::black_box;
use std::time::{Duration, Instant};

use shardcask::storage::record;

/// Time budget of one measurement (`BENCH_SECS`, default 0.3 s).
fn budget() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.3);
    Duration::from_secs_f64(secs)
}

/// Runs `op` until the budget is spent (checking the clock every `batch`
/// calls); prints ns per call and MB/s of `bytes_per_op`.
fn measure(name: &str, bytes_per_op: usize, batch: u64, mut op: impl FnMut()) {
    for _ in 0..batch.min(100) {
        op();
    }
    let budget = budget();
    let started = Instant::now();
    let mut nr_ops = 0u64;
    while started.elapsed() < budget {
        for _ in 0..batch {
            op();
        }
        nr_ops += batch;
    }
    let elapsed = started.elapsed();
    let ns_per_op = elapsed.as_nanos() as f64 / nr_ops as f64;
    if bytes_per_op == 0 {
        println!("{name:<36} {ns_per_op:>11.1} ns/record");
        return;
    }
    let mb_per_s = bytes_per_op as f64 * nr_ops as f64 / elapsed.as_secs_f64() / 1e6;
    println!("{name:<36} {ns_per_op:>11.1} ns/record {mb_per_s:>8.0} MB/s");
}

fn main() {
    println!(
        "# record codec: encode (with CRC32C) and decode + verify (BENCH_SECS={:?})",
        budget()
    );
    let key = b"key:000012345";
    for (label, value_len) in [("100 B", 100usize), ("4 KiB", 4096), ("1 MiB", 1 << 20)] {
        let value = vec![0xA5u8; value_len];
        let record_len = record::encoded_len(key, &value) as usize;
        let batch = if value_len >= 1 << 20 { 4 } else { 1024 };

        // Encoding appends to the write buffer; the bench reuses one Vec.
        let mut out = Vec::with_capacity(record_len);
        let mut seq = 0u64;
        measure(&format!("encode {label}"), record_len, batch, || {
            out.clear();
            seq += 1;
            record::encode_into(&mut out, 0, seq, 0, key, &value);
            black_box(&out);
        });

        // A GET after a DMA read: validate the header, check the CRC, slice
        // out the value.
        let mut encoded = Vec::new();
        record::encode_into(&mut encoded, 0, 1, 0, key, &value);
        measure(
            &format!("decode + verify {label}"),
            record_len,
            batch,
            || {
                let header = record::decode(black_box(&encoded)).expect("valid record");
                black_box(record::value_of(&header, &encoded));
            },
        );

        // Recovery scans headers first: header validation alone.
        measure(&format!("decode header only {label}"), 0, batch, || {
            black_box(record::decode_header(black_box(&encoded), encoded.len() as u64).ok());
        });
    }
}
