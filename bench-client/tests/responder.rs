//! The client against a tiny in-test RESP responder over real loopback TCP:
//! replies, error replies, verify mismatches, INFO deltas, dead servers and
//! dropped connections are all counted, and nothing panics.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use clap::Parser;
use shardcask_bench::{Args, Config, Report};

mod common;
use common::{RUN_DEADLINE, run_binary};

/// `shardcask_bench::run` on a thread of its own, failing the test if it
/// has not returned by [`RUN_DEADLINE`] (the stuck thread is left behind;
/// the test process ends anyway).
fn run(config: Config) -> Result<Report, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(shardcask_bench::run(config));
    });
    match rx.recv_timeout(RUN_DEADLINE) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the bench run did not return within {RUN_DEADLINE:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the bench run panicked"),
    }
}

/// How the responder answers.
#[derive(Clone, Copy)]
enum Mode {
    /// SET +OK, GET a fixed bulk or nil, DEL :1; every `n`th command of a
    /// connection gets `-ERR injected` instead.
    ErrEvery(u64),
    /// A real in-memory map; with `corrupt`, every 5th GET hit has one
    /// byte flipped.
    Store { corrupt: bool },
    /// Like `ErrEvery(0)`, but the connection is closed (unanswered) at its
    /// `n`th command.
    CloseAt(u64),
    /// Like `ErrEvery(0)`, but every `n`th command of a connection gets
    /// `-MOVED 0 127.0.0.1:port` (counted in `errors_sent`).
    MovedEvery(u64, u16),
    /// Like `ErrEvery(0)`, but each reply goes out this many milliseconds
    /// after its command was read (one command at a time).
    SlowMs(u64),
}

/// What the responder saw.
#[derive(Default)]
struct Seen {
    commands: AtomicU64,
    errors_sent: AtomicU64,
}

fn start_responder(mode: Mode) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    let store = Arc::new(Mutex::new(HashMap::<Vec<u8>, Vec<u8>>::new()));
    let seen_ = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (seen, store) = (seen_.clone(), store.clone());
            std::thread::spawn(move || serve(stream, mode, &seen, &store));
        }
    });
    (addr, seen)
}

fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    Some(line.trim_end().to_string())
}

fn read_command(reader: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let header = read_line(reader)?;
    let count: usize = header.strip_prefix('*')?.parse().ok()?;
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        let len: usize = read_line(reader)?.strip_prefix('$')?.parse().ok()?;
        let mut part = vec![0u8; len + 2];
        reader.read_exact(&mut part).ok()?;
        part.truncate(len);
        parts.push(part);
    }
    Some(parts)
}

fn bulk(out: &mut impl Write, bytes: &[u8]) {
    write!(out, "${}\r\n", bytes.len()).unwrap();
    out.write_all(bytes).unwrap();
    out.write_all(b"\r\n").unwrap();
}

fn serve(stream: TcpStream, mode: Mode, seen: &Seen, store: &Mutex<HashMap<Vec<u8>, Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = BufWriter::new(stream);
    let mut nr_commands = 0u64;
    let mut nr_hits = 0u64;
    while let Some(command) = read_command(&mut reader) {
        let name = command[0].to_ascii_uppercase();
        if name == b"INFO" {
            let count = seen.commands.load(Ordering::SeqCst);
            let text = format!(
                "# Server\r\nredis_version:0\r\n\r\n# Stats\r\ntotal_commands_processed:{count}\r\n\
                 instantaneous_ops_per_sec:3\r\n\r\n# Cores\r\ncore0:ops={count},get=0,fwd_in=0\r\n\
                 core1:ops=0,get=0,fwd_in=0\r\n"
            );
            bulk(&mut writer, text.as_bytes());
            writer.flush().unwrap();
            continue;
        }
        nr_commands += 1;
        match mode {
            Mode::CloseAt(n) if nr_commands == n => return,
            Mode::ErrEvery(n) if n > 0 && nr_commands.is_multiple_of(n) => {
                seen.commands.fetch_add(1, Ordering::SeqCst);
                seen.errors_sent.fetch_add(1, Ordering::SeqCst);
                writer.write_all(b"-ERR injected\r\n").unwrap();
            }
            Mode::MovedEvery(n, port) if nr_commands.is_multiple_of(n) => {
                seen.errors_sent.fetch_add(1, Ordering::SeqCst);
                write!(writer, "-MOVED 0 127.0.0.1:{port}\r\n").unwrap();
            }
            Mode::SlowMs(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                seen.commands.fetch_add(1, Ordering::SeqCst);
                writer.write_all(b"+OK\r\n").unwrap();
                writer.flush().unwrap();
            }
            Mode::ErrEvery(_) | Mode::CloseAt(_) | Mode::MovedEvery(..) => {
                seen.commands.fetch_add(1, Ordering::SeqCst);
                match &name[..] {
                    b"SET" => writer.write_all(b"+OK\r\n").unwrap(),
                    b"DEL" => writer.write_all(b":1\r\n").unwrap(),
                    _ if nr_commands.is_multiple_of(2) => writer.write_all(b"$-1\r\n").unwrap(),
                    _ => bulk(&mut writer, b"hello"),
                }
            }
            Mode::Store { corrupt } => {
                seen.commands.fetch_add(1, Ordering::SeqCst);
                let mut store = store.lock().unwrap();
                match &name[..] {
                    b"SET" => {
                        store.insert(command[1].clone(), command[2].clone());
                        writer.write_all(b"+OK\r\n").unwrap();
                    }
                    b"DEL" => {
                        let removed = store.remove(&command[1]).is_some();
                        write!(writer, ":{}\r\n", u8::from(removed)).unwrap();
                    }
                    _ => match store.get(&command[1]) {
                        None => writer.write_all(b"$-1\r\n").unwrap(),
                        Some(value) => {
                            nr_hits += 1;
                            let mut value = value.clone();
                            if corrupt && nr_hits.is_multiple_of(5) {
                                let middle = value.len() / 2;
                                value[middle] ^= 1;
                            }
                            bulk(&mut writer, &value);
                        }
                    },
                }
            }
        }
        // Flush once the pipelined batch has been read.
        if reader.buffer().is_empty() && writer.flush().is_err() {
            return;
        }
    }
}

fn config(addr: &str, extra: &[&str]) -> Config {
    let mut argv = vec![
        "shardcask-bench",
        "--addr",
        addr,
        "--quiet",
        "--timeout",
        "5",
    ];
    argv.extend_from_slice(extra);
    Config::from_args(&Args::try_parse_from(argv).unwrap()).unwrap()
}

#[test]
fn counts_replies_and_error_replies() {
    let (addr, seen) = start_responder(Mode::ErrEvery(10));
    let report = run(config(
        &addr,
        &[
            "--requests",
            "2000",
            "--connections",
            "4",
            "--threads",
            "2",
            "--pipeline",
            "8",
            "--del",
            "10",
            "--server-stats",
        ],
    ))
    .unwrap();
    let total = report.total();
    assert_eq!(total.total_ops(), 2000);
    assert_eq!(seen.commands.load(Ordering::SeqCst), 2000);
    assert_eq!(total.error_replies, seen.errors_sent.load(Ordering::SeqCst));
    assert!(total.error_replies >= 190, "{}", total.error_replies);
    assert_eq!(total.total_errors(), total.error_replies);
    assert_eq!(total.lost_requests, 0);
    let gets = total.per_op[1].ops - total.per_op[1].errors;
    assert_eq!(total.get_hits + total.get_misses, gets);
    assert!(total.per_op[2].ops > 100, "DELs were sent");
    assert_eq!(report.threads.len(), 2);
    assert!(!report.failed());

    let server = report.server.as_ref().unwrap();
    assert_eq!(server.error, None);
    let delta = |name: &str, key: &str| {
        server
            .deltas
            .iter()
            .find(|d| d.name == name && d.key == key)
            .map(|d| d.delta())
    };
    assert_eq!(delta("total_commands_processed", ""), Some(2000.0));
    assert_eq!(
        delta("instantaneous_ops_per_sec", ""),
        None,
        "gauges are skipped"
    );
    assert_eq!(delta("core0", "ops"), Some(2000.0));
    assert_eq!(delta("core1", "ops"), Some(0.0));
    let table = shardcask_bench::report::format_table(&report);
    assert!(table.contains("cores (sum)"), "{table}");
    let json = shardcask_bench::report::format_json(&report);
    assert!(json.contains("\"cores_ops\":2000"), "{json}");
}

#[test]
fn verified_values_round_trip_through_a_store() {
    let (addr, _) = start_responder(Mode::Store { corrupt: false });
    let report = run(config(
        &addr,
        &[
            "--requests",
            "3000",
            "--connections",
            "3",
            "--pipeline",
            "4",
            "--keys",
            "300",
            "--preload",
            "--verify",
            "--value-size",
            "64-300",
            "--ratio",
            "1:3",
        ],
    ))
    .unwrap();
    let total = report.total();
    let (preload, _) = report.preload_total().unwrap();
    assert_eq!(preload.total_ops(), 300);
    assert_eq!(total.total_ops(), 3000);
    assert_eq!(total.mismatches, 0, "{:?}", total.first_mismatch);
    assert_eq!(total.get_misses, 0, "preloaded");
    assert_eq!(total.verified, total.get_hits);
    assert!(total.verified > 1500);
    assert!(!report.failed());
}

#[test]
fn corrupted_values_fail_the_run() {
    let (addr, _) = start_responder(Mode::Store { corrupt: true });
    let output = run_binary(&[
        "--addr",
        &addr,
        "--requests",
        "1000",
        "--connections",
        "2",
        "--keys",
        "100",
        "--preload",
        "--verify",
        "--value-size",
        "100",
        "--json",
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("\"mismatches\":0,"), "{stdout}");
    assert!(stdout.contains("value checksum mismatch"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("verify mismatches"));
}

#[test]
fn dead_server_is_counted_not_a_panic() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let report = run(config(&addr, &["--requests", "10", "--connections", "2"])).unwrap();
    let total = report.total();
    assert_eq!(total.total_ops(), 0);
    assert!(total.connect_failures >= 2);
    assert!(report.failed());
}

#[test]
fn dropped_connections_are_counted_and_reconnected() {
    let (addr, seen) = start_responder(Mode::CloseAt(50));
    let report = run(config(
        &addr,
        &["--requests", "400", "--connections", "2", "--pipeline", "4"],
    ))
    .unwrap();
    let total = report.total();
    assert!(total.disconnects >= 2, "{}", total.disconnects);
    assert!(total.lost_requests >= total.disconnects);
    assert_eq!(total.total_ops() + total.lost_requests, 400);
    assert_eq!(total.total_ops(), seen.commands.load(Ordering::SeqCst));
}

#[test]
fn moved_replies_are_followed_to_the_named_node() {
    let (other, other_seen) = start_responder(Mode::ErrEvery(0));
    let port: u16 = other.rsplit(':').next().unwrap().parse().unwrap();
    let (addr, seen) = start_responder(Mode::MovedEvery(4, port));
    let report = run(config(
        &addr,
        &["--requests", "400", "--connections", "2", "--pipeline", "4"],
    ))
    .unwrap();
    let total = report.total();
    let moved = seen.errors_sent.load(Ordering::SeqCst);
    assert_eq!(moved, 100, "every 4th of 200 commands per connection");
    assert_eq!(total.moved, moved);
    assert_eq!(other_seen.commands.load(Ordering::SeqCst), moved);
    assert_eq!(total.total_ops(), 400);
    assert_eq!(total.total_errors(), 0);
    assert_eq!(total.lost_requests, 0);
}

#[test]
fn fixed_rate_never_sends_ahead_of_its_schedule() {
    // How close a run comes to the asked rate is a speed figure (the report
    // prints it; see schedule.rs for the schedule's exact arithmetic). What
    // cannot depend on load: no request is sent before its intended time,
    // so a 1 s run at 2000/s sends at most its 2000 scheduled requests.
    // The same with --tick-us: sends wait for the tick after they are due.
    for tick in ["0", "200"] {
        let (addr, seen) = start_responder(Mode::ErrEvery(0));
        let report = run(config(
            &addr,
            &[
                "--rate",
                "2000",
                "--duration",
                "1",
                "--connections",
                "4",
                "--pipeline",
                "2",
                "--tick-us",
                tick,
            ],
        ))
        .unwrap();
        let total = report.total();
        let ops = total.total_ops();
        assert!(ops > 0 && ops <= 2000, "{ops} ops at 2000/s for 1 s");
        assert_eq!(ops, seen.commands.load(Ordering::SeqCst));
        assert_eq!(total.total_errors(), 0);
        let table = shardcask_bench::report::format_table(&report);
        assert!(
            table.contains("fixed rate: asked 2000 ops/s, achieved "),
            "{table}"
        );
    }
}

#[test]
fn a_fixed_rate_run_ends_while_replies_are_still_coming() {
    // The server answers slower than the rate: when the phase ends every
    // connection still has requests in flight, and its next intended send
    // lies in the past. (That once re-armed a timer at a time already
    // passed, forever, and the run never ended.)
    let (addr, seen) = start_responder(Mode::SlowMs(25));
    let report = run(config(
        &addr,
        &[
            "--rate",
            "200",
            "--duration",
            "0.5",
            "--connections",
            "2",
            "--pipeline",
            "4",
            "--ratio",
            "1:0",
        ],
    ))
    .unwrap();
    let total = report.total();
    assert!(total.total_ops() > 0);
    assert_eq!(total.total_ops(), seen.commands.load(Ordering::SeqCst));
    assert_eq!(total.lost_requests, 0);
}

#[test]
fn bursts_keep_the_rate_and_every_send_has_a_lag() {
    // With --burst the same rate goes out in groups: still never ahead of
    // the schedule, and each request's send lag is recorded once.
    let (addr, seen) = start_responder(Mode::ErrEvery(0));
    let report = run(config(
        &addr,
        &[
            "--rate",
            "2000",
            "--burst",
            "4",
            "--duration",
            "1",
            "--connections",
            "4",
            "--pipeline",
            "4",
        ],
    ))
    .unwrap();
    let total = report.total();
    let ops = total.total_ops();
    assert!(ops > 0 && ops <= 2000, "{ops} ops at 2000/s for 1 s");
    assert_eq!(ops, seen.commands.load(Ordering::SeqCst));
    assert_eq!(total.send_lag.len(), ops);
    let table = shardcask_bench::report::format_table(&report);
    assert!(table.contains("in bursts of 4"), "{table}");
    assert!(table.contains("client send lag"), "{table}");
    let json = shardcask_bench::report::format_json(&report);
    assert!(json.contains("\"send_lag_us\":{\"p50\":"), "{json}");
    // Linux tells each thread its own CPU and run-queue time.
    let sched = report.sched().expect("/proc/thread-self/schedstat");
    assert!(sched.on_cpu > std::time::Duration::ZERO);
    assert!(table.contains("client threads: on CPU "), "{table}");
    assert!(json.contains("\"client_sched\":{\"on_cpu_s\":"), "{json}");
}

#[test]
fn a_burst_needs_a_rate_and_a_deep_enough_pipeline() {
    let parse = |extra: &[&str]| {
        let mut argv = vec!["x"];
        argv.extend_from_slice(extra);
        Config::from_args(&Args::parse_from(argv))
    };
    assert!(parse(&["--burst", "4", "--pipeline", "4"]).is_err());
    assert!(parse(&["--rate", "100", "--burst", "8", "--pipeline", "4"]).is_err());
    assert!(parse(&["--rate", "100", "--burst", "0"]).is_err());
    assert_eq!(
        parse(&["--rate", "100", "--burst", "4", "--pipeline", "4"])
            .unwrap()
            .burst,
        4
    );
}
