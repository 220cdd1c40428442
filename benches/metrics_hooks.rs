//! What the per-command metrics cost on the request path: for batches of
//! 16 commands (a pipeline as a connection runs it), the command's index
//! (`CommandIndex::of`), the slot's note (`BatchCommands::push`), the
//! reply's check (`replied`), the batch's record (`finish`: calls, time and
//! one histogram update per run of equal commands) and the slow-log test
//! (`Introspection::is_slow`). `metrics_hooks` is its own function so that
//! `valgrind --tool=callgrind --toggle-collect='*metrics_hooks*'` counts
//! its instructions alone; divide by the commands printed.
//!
//! Run: `cargo bench --bench metrics_hooks` (`HOOK_BATCHES=N`, default
//! 200,000; `HOOK_MIX=1` alternates GET and SET inside each batch, the
//! worst case for the run-length histogram update).

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use shardcask::commands::Command;
use shardcask::metrics::commands::{BatchCommands, CommandStats};
use shardcask::metrics::slowlog::Introspection;
use shardcask::protocol::Reply;

const BATCH: usize = 16;

#[inline(never)]
fn metrics_hooks(
    stats: &CommandStats,
    slowlog: &Introspection,
    batch: &[Command],
    replies: &[Reply],
    batches: usize,
) -> u64 {
    let mut noted = 0;
    for round in 0..batches {
        let mut commands = BatchCommands::with_capacity(BATCH);
        for command in batch {
            commands.push(Some(stats.index.of(command)));
        }
        for (position, reply) in replies.iter().enumerate() {
            commands.replied(stats, position, reply);
        }
        let latency_us = 50 + (round % 100) as u64;
        commands.finish(stats, latency_us);
        if slowlog.is_slow(latency_us) {
            noted += 1;
        }
    }
    noted
}

fn main() {
    let batches: usize = std::env::var("HOOK_BATCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mixed = std::env::var("HOOK_MIX").is_ok_and(|v| v == "1");
    let parse = |words: &[&str]| {
        Command::parse(words.iter().map(|w| Bytes::from(w.to_string())).collect()).unwrap()
    };
    let batch: Vec<Command> = (0..BATCH)
        .map(|i| {
            if mixed && i % 2 == 1 {
                parse(&["SET", "key:000000000001", "v"])
            } else {
                parse(&["GET", "key:000000000001"])
            }
        })
        .collect();
    let replies: Vec<Reply> = (0..BATCH).map(|_| Reply::bulk(&[b'x'; 100])).collect();
    let stats = CommandStats::default();
    let slowlog = Introspection::new(0, 1, 10_000, 128, 0);
    let started = Instant::now();
    let noted = metrics_hooks(
        &stats,
        &slowlog,
        black_box(&batch),
        black_box(&replies),
        batches,
    );
    let elapsed = started.elapsed();
    let commands = batches * BATCH;
    println!(
        "{commands} commands ({}): {:.1} ns per command, {noted} slow batches",
        if mixed {
            "GET/SET alternating"
        } else {
            "all GET"
        },
        elapsed.as_nanos() as f64 / commands as f64
    );
}
