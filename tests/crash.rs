//! The kill -9 harness: the real server binary under concurrent SET/DEL load
//! is SIGKILLed at a random moment, restarted on the same directory, and
//! every key is checked against what the clients were told.
//!
//! Each writer owns its keys and pipelines writes to distinct keys, so at
//! most one write per key is in flight. For every key the writer keeps the
//! history of its writes with the moment each was acknowledged. After the
//! restart a key must hold:
//! - its last acknowledged state, or the state of the write in flight at the
//!   kill (fully: values carry their own key, version and length, and are
//!   regenerated and compared byte for byte);
//! - with `--sync batch`, possibly an older acknowledged state, but only if
//!   every newer acknowledged write was acknowledged within the sync
//!   interval (plus slack) before the kill. The losses are printed.
//!
//! Nothing else: never an older value outside that window, never garbage,
//! never a key that was not written, and recovery must not report
//! corruption before the tail.
//!
//! CI runs a bounded number of rounds. The long mode runs as many as asked:
//!
//! ```sh
//! SHARDCASK_CRASH_ROUNDS=1000 cargo test --release --test crash -- --nocapture
//! ```
//!
//! `SHARDCASK_CRASH_SEED=<seed>` replays a run (the seed is printed).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, Server, resp};

/// Writer threads (one connection each).
const NR_WRITERS: usize = 4;
/// Keys each writer owns.
const KEYS_PER_WRITER: usize = 48;
/// Writes a writer sends before reading their replies (distinct keys).
const PIPELINE_DEPTH: usize = 4;

/// What a key holds: absent, or the value of write number `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Value(u64),
}

/// One write a client sent.
#[derive(Debug, Clone, Copy)]
struct SentWrite {
    state: State,
    /// When its reply arrived; `None` while in flight.
    acked_at: Option<Instant>,
}

/// The history of one key in the current round: its durable state at the
/// start of the round, then every write sent, oldest first.
#[derive(Debug, Clone)]
struct KeyHistory {
    start: State,
    writes: Vec<SentWrite>,
}

fn key_name(writer: usize, index: usize) -> String {
    // Hash tags spread writers' keys over both shards and several slots.
    format!("crash:{writer}:{index}")
}

/// The value of write `n` to `key`: self-describing so a restart can tell a
/// whole value from a torn, mixed-up or stale one. Sizes are mixed: mostly
/// small, some around a block, some up to 64 KiB, and one in twenty up to
/// 256 KiB (big records start at a block, and two flush rounds can be in
/// flight).
fn value_for(key: &str, n: u64) -> Vec<u8> {
    let mut rng = Rng::new(n ^ hash(key.as_bytes()));
    let len = match rng.below(20) {
        0..=11 => 8 + rng.below(200),
        12..=16 => 1000 + rng.below(8 * 1024),
        17..=18 => 16 * 1024 + rng.below(48 * 1024),
        _ => 64 * 1024 + rng.below(192 * 1024),
    } as usize;
    let mut value = format!("{key}|{n}|{len}|").into_bytes();
    while value.len() < len {
        value.push(b'a' + (rng.next_u64() % 26) as u8);
    }
    value
}

fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Which write a stored value claims to be, after checking it byte for byte.
fn decode_value(key: &str, value: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(&value[..value.len().min(200)]).to_string();
    let mut parts = text.splitn(4, '|');
    let (Some(k), Some(n)) = (parts.next(), parts.next()) else {
        return Err(format!("unparseable value {text:?}"));
    };
    if k != key {
        return Err(format!("value of another key: {text:?}"));
    }
    let n: u64 = n.parse().map_err(|_| format!("bad version in {text:?}"))?;
    if value_for(key, n) != value {
        return Err(format!(
            "value of write {n} is damaged ({} bytes, expected {})",
            value.len(),
            value_for(key, n).len()
        ));
    }
    Ok(n)
}

/// A minimal RESP reply reader.
enum Reply {
    Status(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Error(String),
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    let bad = || std::io::Error::other(format!("bad reply line {line:?}"));
    let (kind, rest) = line.split_at(1.min(line.len()));
    Ok(match kind {
        "+" => Reply::Status(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Integer(rest.parse().map_err(|_| bad())?),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                Reply::Bulk(None)
            } else {
                let mut data = vec![0u8; len as usize + 2];
                reader.read_exact(&mut data)?;
                data.truncate(len as usize);
                Reply::Bulk(Some(data))
            }
        }
        _ => return Err(bad()),
    })
}

/// One writer: pipelines SET/DEL over its own keys until the connection
/// dies (the kill) or `stop` is set. Returns the histories of its keys.
fn run_writer(
    stream: TcpStream,
    writer: usize,
    mut histories: Vec<KeyHistory>,
    seed: u64,
    next_n: Arc<AtomicU64>,
    acked_total: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Vec<KeyHistory> {
    let mut rng = Rng::new(seed);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while !stop.load(Ordering::SeqCst) {
        // Distinct keys for one pipeline: at most one write per key in flight.
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < PIPELINE_DEPTH {
            let index = rng.below(KEYS_PER_WRITER as u64) as usize;
            if !picked.contains(&index) {
                picked.push(index);
            }
        }
        let mut request = Vec::new();
        for &index in &picked {
            let key = key_name(writer, index);
            let state = if rng.below(5) == 0 {
                request.extend(resp(&[b"DEL", key.as_bytes()]));
                State::Absent
            } else {
                let n = next_n.fetch_add(1, Ordering::Relaxed);
                request.extend(resp(&[b"SET", key.as_bytes(), &value_for(&key, n)]));
                State::Value(n)
            };
            histories[index].writes.push(SentWrite {
                state,
                acked_at: None,
            });
        }
        if out.write_all(&request).is_err() {
            return histories;
        }
        for &index in &picked {
            let reply = match read_reply(&mut reader) {
                Ok(reply) => reply,
                Err(_) => return histories, // killed: the rest stay in flight
            };
            let write = histories[index].writes.last_mut().unwrap();
            match (reply, write.state) {
                (Reply::Status(s), State::Value(_)) if s == "OK" => {}
                (Reply::Integer(0 | 1), State::Absent) => {}
                (Reply::Error(e), _) => panic!("writer {writer}: write refused: {e}"),
                (_, state) => panic!("writer {writer}: unexpected reply to {state:?}"),
            }
            write.acked_at = Some(Instant::now());
            acked_total.fetch_add(1, Ordering::Relaxed);
        }
    }
    histories
}

/// Reads every key back over one pipelined connection.
fn read_all(addr: SocketAddr) -> HashMap<String, State> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let keys: Vec<String> = (0..NR_WRITERS)
        .flat_map(|w| (0..KEYS_PER_WRITER).map(move |i| key_name(w, i)))
        .collect();
    let request: Vec<u8> = keys
        .iter()
        .flat_map(|key| resp(&[b"GET", key.as_bytes()]))
        .collect();
    out.write_all(&request).unwrap();
    let mut found = HashMap::new();
    for key in keys {
        let reply = read_reply(&mut reader).unwrap_or_else(|e| {
            panic!("{key}: reading the GET reply after the restart failed: {e}")
        });
        let state = match reply {
            Reply::Bulk(None) => State::Absent,
            Reply::Bulk(Some(value)) => match decode_value(&key, &value) {
                Ok(n) => State::Value(n),
                Err(e) => panic!("{key}: corrupt after restart: {e}"),
            },
            Reply::Error(e) => panic!("{key}: GET failed after restart: {e}"),
            _ => panic!("{key}: unexpected reply to GET"),
        };
        found.insert(key, state);
    }
    // Nothing appears that was never written.
    let extra = scan_keys(&mut out, &mut reader);
    for key in extra {
        assert!(
            found.contains_key(&key),
            "key {key:?} appeared that was never written"
        );
    }
    found
}

/// Every key the server has (KEYS *).
fn scan_keys(out: &mut TcpStream, reader: &mut BufReader<TcpStream>) -> Vec<String> {
    out.write_all(&resp(&[b"KEYS", b"*"])).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let count: usize = line.trim_end().trim_start_matches('*').parse().unwrap();
    (0..count)
        .map(|_| match read_reply(reader).unwrap() {
            Reply::Bulk(Some(key)) => String::from_utf8(key).unwrap(),
            _ => panic!("bad KEYS reply"),
        })
        .collect()
}

/// What one round found for its keys.
#[derive(Debug, Default)]
struct RoundOutcome {
    acked: u64,
    in_flight: u64,
    in_flight_landed: u64,
    /// Acknowledged writes superseded by an older state after the restart.
    lost: u64,
    /// How long before the kill the oldest lost write was acknowledged.
    oldest_lost: Duration,
    /// MERGEs completed while writers ran (merging rounds only).
    merges: u64,
}

/// Checks `found` against one key's history; returns the new start state.
fn check_key(
    key: &str,
    history: &KeyHistory,
    found: State,
    killed_at: Instant,
    loss_window: Duration,
    outcome: &mut RoundOutcome,
) -> Result<State, String> {
    let acked: Vec<&SentWrite> = history
        .writes
        .iter()
        .filter(|w| w.acked_at.is_some())
        .collect();
    let last_acked = acked.last().map_or(history.start, |w| w.state);
    let in_flight = history.writes.iter().find(|w| w.acked_at.is_none());
    outcome.acked += acked.len() as u64;
    outcome.in_flight += u64::from(in_flight.is_some());
    if found == last_acked {
        return Ok(found);
    }
    if let Some(write) = in_flight
        && write.state == found
    {
        outcome.in_flight_landed += 1;
        return Ok(found);
    }
    // An older state: allowed only if everything newer that was
    // acknowledged is inside the loss window (batch sync).
    let matches_at = history
        .writes
        .iter()
        .rposition(|w| w.acked_at.is_some() && w.state == found)
        .map(|i| i as isize)
        .or_else(|| (history.start == found).then_some(-1));
    let Some(position) = matches_at else {
        return Err(format!(
            "{key}: holds {found:?}, which was never acknowledged nor in flight (last acked {last_acked:?}, in flight {:?})",
            in_flight.map(|w| w.state)
        ));
    };
    for write in &history.writes[(position + 1) as usize..] {
        if let Some(acked_at) = write.acked_at {
            let age = killed_at.saturating_duration_since(acked_at);
            if age > loss_window {
                return Err(format!(
                    "{key}: lost {:?}, acknowledged {age:?} before the kill (allowed: {loss_window:?}); holds {found:?}",
                    write.state
                ));
            }
            outcome.lost += 1;
            outcome.oldest_lost = outcome.oldest_lost.max(age);
        }
    }
    Ok(found)
}

fn rounds_from_env(default: usize) -> usize {
    common::env_count("SHARDCASK_CRASH_ROUNDS", default)
}

/// Sends MERGE over and over until the connection dies or `stop` is set;
/// returns how many merges completed.
fn run_merger(stream: TcpStream, stop: Arc<AtomicBool>) -> u64 {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut merges = 0;
    while !stop.load(Ordering::SeqCst) {
        if out.write_all(&resp(&[b"MERGE"])).is_err() {
            break;
        }
        match read_reply(&mut reader) {
            Ok(Reply::Error(e)) => panic!("MERGE failed: {e}"),
            Ok(_) => merges += 1,
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    merges
}

/// Runs `rounds` kill -9 rounds against one data directory.
fn crash_rounds(sync: &str, extra: &[&str], rounds: usize, loss_window: Duration) -> RoundOutcome {
    crash_rounds_with(sync, extra, rounds, loss_window, false)
}

/// [`crash_rounds`], optionally with a client running MERGE throughout.
fn crash_rounds_with(
    sync: &str,
    extra: &[&str],
    rounds: usize,
    loss_window: Duration,
    merging: bool,
) -> RoundOutcome {
    let seed = Rng::seed_from_env("SHARDCASK_CRASH_SEED");
    println!(
        "crash test --sync {sync}: {rounds} rounds, seed {seed} (replay with SHARDCASK_CRASH_SEED={seed})"
    );
    let mut rng = Rng::new(seed);
    let mut args = vec!["--sync", sync, "--max-file-size", "4MiB"];
    args.extend_from_slice(extra);
    let mut server = Server::start(2, &args);
    let next_n = Arc::new(AtomicU64::new(1));
    let mut durable: Vec<Vec<State>> = vec![vec![State::Absent; KEYS_PER_WRITER]; NR_WRITERS];
    let mut total = RoundOutcome::default();
    let started = Instant::now();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let acked_total = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..NR_WRITERS)
            .map(|writer| {
                let histories = durable[writer]
                    .iter()
                    .map(|&start| KeyHistory {
                        start,
                        writes: Vec::new(),
                    })
                    .collect();
                // Connected here, before the kill can happen: a thread that
                // connected later could reach another test's server on a
                // reused port.
                let stream = TcpStream::connect(server.addr).expect("writer connects");
                let seed = rng.next_u64();
                let (next_n, acked_total, stop) =
                    (next_n.clone(), acked_total.clone(), stop.clone());
                std::thread::spawn(move || {
                    run_writer(stream, writer, histories, seed, next_n, acked_total, stop)
                })
            })
            .collect();
        let merger = merging.then(|| {
            let stream = TcpStream::connect(server.addr).expect("merger connects");
            let stop = stop.clone();
            std::thread::spawn(move || run_merger(stream, stop))
        });
        // Kill at a random moment once some writes were acknowledged.
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked_total.load(Ordering::Relaxed) < 20 {
            assert!(Instant::now() < deadline, "round {round}: no progress");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.below(400_000)));
        let killed_at = Instant::now();
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        let histories: Vec<Vec<KeyHistory>> =
            writers.into_iter().map(|w| w.join().unwrap()).collect();
        if let Some(merger) = merger {
            total.merges += merger.join().unwrap();
        }

        server.restart();
        let stderr = server.stderr_text();
        assert!(
            !stderr.contains("corrupt region") && !stderr.contains("garbage at the end"),
            "round {round} (seed {seed}): recovery found corruption before the tail:\n{stderr}"
        );
        let found = match std::panic::catch_unwind(|| read_all(server.addr)) {
            Ok(found) => found,
            Err(panic) => {
                let stderr = server.stderr_text();
                let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "round {round} (seed {seed}): reading back failed: {panic:?}; server stderr (last lines):\n{}",
                    tail.join("\n")
                );
            }
        };
        let mut outcome = RoundOutcome::default();
        for (writer, keys) in histories.iter().enumerate() {
            for (index, history) in keys.iter().enumerate() {
                let key = key_name(writer, index);
                match check_key(
                    &key,
                    history,
                    found[&key],
                    killed_at,
                    loss_window,
                    &mut outcome,
                ) {
                    Ok(state) => durable[writer][index] = state,
                    Err(e) => panic!("round {round} (seed {seed}): {e}"),
                }
            }
        }
        total.acked += outcome.acked;
        total.in_flight += outcome.in_flight;
        total.in_flight_landed += outcome.in_flight_landed;
        total.lost += outcome.lost;
        total.oldest_lost = total.oldest_lost.max(outcome.oldest_lost);
    }
    println!(
        "crash test --sync {sync}: {rounds} kills survived in {:?}; {} acknowledged writes \
         (final state of {} keys checked after every kill), \
         {} lost (oldest acknowledged {:?} before its kill; window {loss_window:?}); \
         {} writes in flight at the kills, {} of them landed whole, the rest absent; \
         {} merges completed; 0 wrong",
        started.elapsed(),
        total.acked,
        NR_WRITERS * KEYS_PER_WRITER,
        total.lost,
        total.oldest_lost,
        total.in_flight,
        total.in_flight_landed,
        total.merges
    );
    total
}

/// `--sync always`: not one acknowledged write may be lost.
#[test]
fn kill_nine_with_sync_always_loses_nothing_acknowledged() {
    let rounds = rounds_from_env(30);
    assert!(rounds > 0);
    let outcome = crash_rounds("always", &[], rounds, Duration::ZERO);
    assert_eq!(outcome.lost, 0);
}

/// `--sync batch`: losses (if any) are bounded by the sync interval.
///
/// A kill -9 is not a power cut: data the server handed to the kernel
/// survives it, so even batch mode is expected to lose nothing here; a
/// dirty reboot's losses are tested through the storage I/O seam.
#[test]
fn kill_nine_with_sync_batch_loses_at_most_the_last_interval() {
    let interval_ms = 200u64;
    let rounds = rounds_from_env(20).div_ceil(2);
    let slack = Duration::from_millis(300);
    let interval = interval_ms.to_string();
    let outcome = crash_rounds(
        "batch",
        &["--sync-interval-ms", &interval],
        rounds,
        Duration::from_millis(interval_ms) + slack,
    );
    println!(
        "--sync batch every {interval_ms} ms: lost {} of {} acknowledged writes over {rounds} kills",
        outcome.lost, outcome.acked
    );
}

/// `--sync always` with a client running MERGE all the time, so kills land
/// in the middle of merges (and of their file swaps): still nothing lost,
/// nothing deleted comes back.
#[test]
fn kill_nine_during_merges_loses_nothing_acknowledged() {
    let rounds = rounds_from_env(20).div_ceil(2);
    let outcome = crash_rounds_with("always", &[], rounds, Duration::ZERO, true);
    assert_eq!(outcome.lost, 0);
}
