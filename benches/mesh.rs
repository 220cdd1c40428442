//! A mesh hop: the cost of serving a request on the own shard (a direct call
//! of the request handler) against forwarding it to another executor over
//! `router::mesh` and getting the reply back.
//!
//! Two glommio executors (pinned to CPUs 0 and 1 when the machine has two)
//! join a two-peer mesh. Executor 0 drives; executor 1 only serves. The
//! handler answers `+OK` per command without touching storage, so what is
//! measured is the routing: message, foreign wake, receiver task, reply.
//!
//! `SPIN_US=N` makes both executors busy-poll N µs before parking (what a
//! loaded server effectively does); the default 0 shows the cost of waking
//! a parked peer. A watchdog fails the bench (exit status 2) when no round
//! trip completes for 5 s: a lost wake-up, not a slow machine.
//!
//! Run: `cargo bench --bench mesh` (`BENCH_SECS=2` for longer runs).

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};
use shardcask::commands::Command;
use shardcask::protocol::Reply;
use shardcask::router::mesh::{self, Mesh, RequestHandler};
use shardcask::router::{ShardRequest, ShardResponse};

/// Time budget of one measurement (`BENCH_SECS`, default 0.3 s).
fn budget() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.3);
    Duration::from_secs_f64(secs)
}

/// Round trips completed so far, watched by the main thread.
static PROGRESS: AtomicU64 = AtomicU64::new(0);

fn report(name: &str, nr_commands: u64, elapsed: Duration) {
    let ns = elapsed.as_nanos() as f64 / nr_commands as f64;
    let per_sec = nr_commands as f64 / elapsed.as_secs_f64();
    println!("{name:<52} {ns:>9.0} ns/command {per_sec:>11.0} commands/s");
}

/// A batch of `len` GETs, as a connection sends one shard's group.
fn batch(len: usize) -> ShardRequest {
    ShardRequest::Batch(
        (0..len)
            .map(|_| Command::Get(Bytes::from_static(b"key:000012345")))
            .collect(),
    )
}

/// Answers `+OK` per command of a batch.
fn handler() -> RequestHandler {
    Rc::new(|request| {
        Box::pin(async move {
            match request {
                ShardRequest::Batch(commands) => {
                    ShardResponse::Replies(commands.iter().map(|_| Reply::OK).collect())
                }
                _ => ShardResponse::Count(0),
            }
        })
    })
}

/// Runs `round` (one request of `commands_per_round` commands) until the
/// budget is spent and reports per command.
async fn measure<F, Fut>(name: &str, commands_per_round: u64, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..100 {
        round().await;
    }
    let budget = budget();
    let started = Instant::now();
    let mut nr_rounds = 0u64;
    while started.elapsed() < budget {
        for _ in 0..32 {
            round().await;
        }
        nr_rounds += 32;
    }
    report(name, nr_rounds * commands_per_round, started.elapsed());
}

async fn drive(mesh: Rc<Mesh>, handler: RequestHandler) {
    let peer = 1 - mesh.shard_id();
    for len in [1usize, 16] {
        let handler = handler.clone();
        measure(
            &format!("local: direct handler call, {len} GET/request"),
            len as u64,
            || {
                let reply = handler(batch(len));
                async move {
                    std::hint::black_box(reply.await);
                }
            },
        )
        .await;
        let mesh_ref = mesh.clone();
        measure(
            &format!("forwarded: round trip, {len} GET/request"),
            len as u64,
            || {
                let mesh = mesh_ref.clone();
                async move {
                    let response = mesh.call(peer, batch(len)).await;
                    assert!(response.is_some(), "peer answered");
                    PROGRESS.fetch_add(1, Ordering::Relaxed);
                }
            },
        )
        .await;
    }
    // Many requests in flight, as many connections forwarding at once.
    for in_flight in [16usize, 128] {
        let budget = budget();
        let started = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let mesh = mesh.clone();
                glommio::spawn_local(async move {
                    let mut nr_calls = 0u64;
                    while started.elapsed() < budget {
                        mesh.call(peer, batch(1)).await.expect("peer answered");
                        PROGRESS.fetch_add(1, Ordering::Relaxed);
                        nr_calls += 1;
                    }
                    nr_calls
                })
            })
            .collect();
        let mut nr_calls = 0;
        for task in tasks {
            nr_calls += task.await;
        }
        report(
            &format!("forwarded: {in_flight} requests in flight, 1 GET/request"),
            nr_calls,
            started.elapsed(),
        );
    }
}

fn main() {
    println!(
        "# mesh hop: local vs forwarded (BENCH_SECS={:?}, SPIN_US={})",
        budget(),
        std::env::var("SPIN_US").unwrap_or_else(|_| "0".into())
    );
    let nr_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let builder = mesh::builder(2);
    let done = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|index| {
            let builder = builder.clone();
            let done = done.clone();
            let placement = if nr_cpus >= 2 {
                Placement::Fixed(index)
            } else {
                Placement::Unbound
            };
            std::thread::spawn(move || {
                let spin_us = std::env::var("SPIN_US")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                LocalExecutorBuilder::new(placement)
                    .name(&format!("mesh-bench-{index}"))
                    .spin_before_park(Duration::from_micros(spin_us))
                    .make()
                    .expect("executor starts (is `ulimit -l` large enough?)")
                    .run(async move {
                        let (mesh, receivers) = Mesh::join(builder).await.expect("mesh joins");
                        let handler = handler();
                        mesh.start_receivers(receivers, handler.clone());
                        if mesh.shard_id() == 0 {
                            drive(mesh.clone(), handler).await;
                            done.store(true, Ordering::Release);
                        } else {
                            while !done.load(Ordering::Acquire) {
                                glommio::timer::sleep(Duration::from_millis(5)).await;
                            }
                        }
                        mesh.close();
                    });
            })
        })
        .collect();
    // Watchdog: the driver counts round trips; five seconds without one
    // (outside the local-only phases, which are short) is a hang.
    let mut last = (PROGRESS.load(Ordering::Relaxed), Instant::now());
    while !threads.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        let now = PROGRESS.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) + 4 * budget() {
            println!("HANG: no forwarded round trip completed for 5 s (lost wake-up in the mesh)");
            std::process::exit(2);
        }
    }
    for thread in threads {
        thread.join().expect("bench executor");
    }
}
