//! RESP parse and encode, per command.
//!
//! Parsing is measured on the wire bytes a client sends (`GET`, `SET` with a
//! 100 B value, a pipeline of 16 GETs in one buffer), both the frame parse
//! alone and frame parse + `Command::parse` (what the connection loop does
//! per request). Encoding is measured per reply kind. Prints ns per command
//! and, for bulk payloads, MB/s.
//!
//! Run: `cargo bench --bench resp` (`BENCH_SECS=2` for longer runs).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shardcask::commands::Command;
use shardcask::protocol::{ParseLimits, Parsed, Reply, parse_request};

/// Time budget of one measurement (`BENCH_SECS`, default 0.3 s).
fn budget() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.3);
    Duration::from_secs_f64(secs)
}

/// Calls `round` (which does some operations and returns how many) until the
/// budget is spent; prints the cost per operation and, with `bytes_per_op`,
/// the throughput.
fn measure(name: &str, bytes_per_op: usize, mut round: impl FnMut() -> u64) {
    for _ in 0..100 {
        round();
    }
    let budget = budget();
    let started = Instant::now();
    let mut nr_ops = 0u64;
    while started.elapsed() < budget {
        for _ in 0..64 {
            nr_ops += round();
        }
    }
    let elapsed = started.elapsed();
    let ns_per_op = elapsed.as_nanos() as f64 / nr_ops as f64;
    if bytes_per_op > 0 {
        let mb_per_s = bytes_per_op as f64 * nr_ops as f64 / elapsed.as_secs_f64() / 1e6;
        println!("{name:<44} {ns_per_op:>9.1} ns/op {mb_per_s:>9.0} MB/s");
    } else {
        println!("{name:<44} {ns_per_op:>9.1} ns/op");
    }
}

/// The multibulk encoding of `args`, as a client sends it.
fn wire(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses every request in `input` (refilled into one reused buffer);
/// returns the number of requests. With `to_command`, also turns each into
/// a `Command`.
fn parse_all(buf: &mut BytesMut, input: &[u8], limits: &ParseLimits, to_command: bool) -> u64 {
    buf.extend_from_slice(input);
    let mut nr_requests = 0;
    loop {
        match parse_request(buf, limits) {
            Ok(Parsed::Command(args)) => {
                nr_requests += 1;
                if to_command {
                    black_box(Command::parse(args).ok());
                } else {
                    black_box(args);
                }
            }
            Ok(Parsed::Empty) => {}
            Ok(Parsed::Incomplete) => return nr_requests,
            Err(error) => panic!("bench input does not parse: {error}"),
        }
    }
}

fn bench_parse() {
    let limits = ParseLimits::default();
    let value = vec![b'v'; 100];
    let get = wire(&[b"GET", b"key:000012345"]);
    let set = wire(&[b"SET", b"key:000012345", &value]);
    let pipeline: Vec<u8> = (0..16).flat_map(|_| get.clone()).collect();
    let mset_args: Vec<Vec<u8>> = (0..10)
        .flat_map(|i| [format!("key:{i:09}").into_bytes(), value.clone()])
        .collect();
    let mut mset: Vec<&[u8]> = vec![b"MSET"];
    mset.extend(mset_args.iter().map(Vec::as_slice));
    let mset = wire(&mset);

    let mut buf = BytesMut::with_capacity(64 * 1024);
    for (name, input) in [
        ("GET", &get),
        ("SET 100 B", &set),
        ("GET x16 in one buffer (per GET)", &pipeline),
        ("MSET 10 x 100 B", &mset),
    ] {
        let nr = parse_all(&mut buf, input, &limits, false);
        let bytes_per_op = input.len() / nr as usize;
        measure(&format!("parse frame: {name}"), bytes_per_op, || {
            parse_all(&mut buf, input, &limits, false)
        });
        measure(
            &format!("parse frame + command: {name}"),
            bytes_per_op,
            || parse_all(&mut buf, input, &limits, true),
        );
    }
}

fn bench_encode() {
    let small = Bytes::from(vec![b'v'; 100]);
    let medium = Bytes::from(vec![b'v'; 4096]);
    let large = Bytes::from(vec![b'v'; 1 << 20]);
    let array = Reply::Array((0..16).map(|_| Reply::Bulk(small.clone())).collect());
    let cases: Vec<(&str, Reply, usize)> = vec![
        ("+OK", Reply::OK, 0),
        (":12345", Reply::Integer(12345), 0),
        ("$-1 (nil)", Reply::Nil, 0),
        ("bulk 100 B", Reply::Bulk(small.clone()), 100),
        ("bulk 4 KiB", Reply::Bulk(medium), 4096),
        ("bulk 1 MiB", Reply::Bulk(large), 1 << 20),
        ("array of 16 x bulk 100 B (MGET)", array, 1600),
    ];
    let mut out = BytesMut::with_capacity(2 << 20);
    for (name, reply, payload) in cases {
        // Encode 16 replies per round into one buffer, as a pipelined batch
        // is written, then clear it (the connection reuses its buffer).
        measure(&format!("encode: {name}"), payload, || {
            for _ in 0..16 {
                black_box(&reply).encode(&mut out, shardcask::protocol::Protocol::Resp2);
            }
            black_box(&out);
            out.clear();
            16
        });
    }
}

fn main() {
    println!(
        "# RESP parse and encode (per command; BENCH_SECS={:?})",
        budget()
    );
    bench_parse();
    bench_encode();
}
