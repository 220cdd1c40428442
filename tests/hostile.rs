//! Hostile clients over real TCP: absurd lengths, random garbage, endless
//! lines, oversized values, truncated frames, hundreds of slow clients, a
//! client that never reads its replies, thousands of connections.
//!
//! After every case the server must answer another client at once, still
//! hold a key written before, and not have grown its memory without bound
//! (RSS of the server process, from /proc).
//!
//! Random cases print their seed; `SHARDCASK_HOSTILE_SEED=<seed>` replays
//! one, `SHARDCASK_HOSTILE_CASES=<n>` runs more garbage cases (default 300).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::{Rng, Server, read_n, read_to_close, resp, roundtrip, rss_kib};

/// The value of the key every case checks afterwards.
const KEEP_VALUE: &[u8] = b"intact-before-the-attack";

/// How much RSS may grow across a case (KiB). The attacks below would cost
/// far more if anything were buffered without bound (100 MiB lines, seconds
/// of unread replies, thousands of connections).
const RSS_SLACK_KIB: u64 = 64 * 1024;

/// Writes `keep` and returns the server's RSS once it has served a little.
fn prepare(server: &Server) -> u64 {
    let mut stream = server.raw();
    assert_eq!(
        roundtrip(&mut stream, &resp(&[b"SET", b"keep", KEEP_VALUE]), 5),
        b"+OK\r\n"
    );
    rss_kib(server.pid())
}

/// The server answers a new client at once and `keep` is intact; its RSS is
/// within `RSS_SLACK_KIB` of `baseline`.
fn assert_healthy(server: &Server, baseline_kib: u64, case: &str) {
    let started = Instant::now();
    let mut stream = server.raw();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let expected = [
        format!("${}\r\n", KEEP_VALUE.len()).into_bytes(),
        KEEP_VALUE.to_vec(),
        b"\r\n".to_vec(),
    ]
    .concat();
    let got = roundtrip(&mut stream, &resp(&[b"GET", b"keep"]), expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "after {case}: the key written before must be intact"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "after {case}: the server took {:?} to answer",
        started.elapsed()
    );
    let rss = rss_kib(server.pid());
    assert!(
        rss < baseline_kib + RSS_SLACK_KIB,
        "after {case}: RSS grew from {baseline_kib} KiB to {rss} KiB"
    );
}

/// Sends `bad` and expects a protocol error reply and a closed connection.
fn expect_protocol_error(server: &Server, bad: &[u8]) -> String {
    let mut stream = server.raw();
    // The server may close before it read everything: a failed write is fine.
    let _ = stream.write_all(bad);
    let reply = String::from_utf8_lossy(&read_to_close(&mut stream)).to_string();
    assert!(
        reply.starts_with("-ERR Protocol error: "),
        "input {:?}: got {reply:?}",
        String::from_utf8_lossy(&bad[..bad.len().min(80)])
    );
    reply
}

#[test]
fn absurd_negative_and_non_numeric_lengths() {
    let server = Server::start(2, &["--max-value-size", "1MiB"]);
    let baseline = prepare(&server);
    let cases: &[&[u8]] = &[
        b"*1\r\n$-2\r\n",
        b"*1\r\n$-9223372036854775808\r\n",
        b"*1\r\n$9223372036854775807\r\n",
        b"*1\r\n$18446744073709551616\r\n",
        b"*1\r\n$99999999999999999999999999\r\n",
        b"*1\r\n$1048577\r\n",
        b"*2\r\n$3\r\nGET\r\n$4294967296\r\n",
        b"*1\r\n$\r\n",
        b"*1\r\n$-\r\n",
        b"*1\r\n$+5\r\n",
        b"*1\r\n$ 5\r\n",
        b"*1\r\n$5 \r\n",
        b"*1\r\n$0x10\r\n",
        b"*1\r\n$1e3\r\n",
        b"*1\r\n$5\x00\r\n",
        b"*\r\n",
        b"*-\r\n",
        b"*+1\r\n",
        b"*1.5\r\n",
        b"*abc\r\n",
        b"*4294967297\r\n",
        b"*9223372036854775807\r\n",
        b"*-9223372036854775809\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"*2\r\n$3\r\nGET\r\n*1\r\n",
        // (A bulk string followed by two bytes other than CRLF is not an
        // error: Redis skips those two bytes unread, and so does shardcask.)
    ];
    let mut checked = 0;
    for case in cases {
        expect_protocol_error(&server, case);
        checked += 1;
    }
    // A header that claims a huge (but allowed) length and never delivers:
    // nothing is allocated for the claim.
    let mut held = Vec::new();
    for _ in 0..50 {
        let mut stream = server.raw();
        stream
            .write_all(b"*2\r\n$3\r\nSET\r\n$1048576\r\nabc")
            .unwrap();
        held.push(stream);
    }
    assert_healthy(&server, baseline, "absurd lengths");
    drop(held);
    println!("absurd lengths: {checked} protocol-error cases + 50 unfulfilled claims");
}

/// One piece of random input: raw bytes, or RESP-shaped token soup that
/// reaches deeper into the parser. Tokens avoid commands that would change
/// `keep` or stop the server.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\n",
        b"\r",
        b"-1",
        b"0",
        b"1",
        b"3",
        b"-",
        b"99999999999",
        b"GET",
        b"SET",
        b"PING",
        b"ECHO",
        b"MGET",
        b"EXISTS",
        b"INCR",
        b"APPEND",
        b"k",
        b"k2",
        b"{t}",
        b"\"",
        b"'",
        b"\\x4",
        b"\\",
        b" ",
        b"\x00",
        b"\xff",
        b"EX",
        b"PX",
        b"1000",
        b"GETRANGE",
        b"SETRANGE",
        b"CLIENT",
        b"SETNAME",
        b"HELLO",
        b"3",
        b"COMMAND",
        b"SCAN",
        b"INFO",
    ];
    let mut out = Vec::new();
    match rng.below(3) {
        0 => {
            let len = rng.below(4096) as usize;
            out = rng.bytes(len);
        }
        1 => {
            for _ in 0..rng.below(200) {
                out.extend_from_slice(TOKENS[rng.below(TOKENS.len() as u64) as usize]);
            }
        }
        _ => {
            // A valid pipeline with a few random bytes flipped.
            for i in 0..rng.below(20) + 1 {
                let key = format!("k{}", rng.below(8));
                let len = rng.below(64) as usize;
                let value = rng.bytes(len);
                match i % 3 {
                    0 => out.extend(resp(&[b"SET", key.as_bytes(), &value])),
                    1 => out.extend(resp(&[b"GET", key.as_bytes()])),
                    _ => out.extend(resp(&[b"MGET", key.as_bytes(), b"k1", b"{t}x"])),
                }
            }
            for _ in 0..rng.below(4) + 1 {
                let at = rng.below(out.len() as u64) as usize;
                out[at] = rng.next_u64() as u8;
            }
        }
    }
    out
}

#[test]
fn random_binary_garbage_never_hurts_the_server() {
    let server = Server::start(2, &[]);
    let baseline = prepare(&server);
    let seed = Rng::seed_from_env("SHARDCASK_HOSTILE_SEED");
    let cases: u64 = common::env_count("SHARDCASK_HOSTILE_CASES", 300);
    println!(
        "random garbage: seed {seed} (replay with SHARDCASK_HOSTILE_SEED={seed}), {cases} cases"
    );
    let mut rng = Rng::new(seed);
    for case in 0..cases {
        let input = garbage(&mut rng);
        let mut stream = server.raw();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(&input);
        // Closing our half makes the server finish what it has and close.
        let _ = stream.shutdown(Shutdown::Write);
        let started = Instant::now();
        let mut sink = Vec::new();
        match stream.read_to_end(&mut sink) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "case {case} (seed {seed}): no close after {:?}: {e}",
                started.elapsed()
            ),
        }
        if case % 50 == 49 {
            assert_healthy(
                &server,
                baseline,
                &format!("garbage case {case} (seed {seed})"),
            );
        }
    }
    assert_healthy(&server, baseline, &format!("random garbage (seed {seed})"));
}

#[test]
fn endless_lines_of_every_kind_are_cut_off() {
    let server = Server::start(1, &[]);
    let baseline = prepare(&server);
    for (prefix, filler, what) in [
        (&b""[..], b'A', "inline line"),
        (b"*", b'1', "multibulk count"),
        (b"*1\r\n$", b'7', "bulk length"),
        (b"PING", b' ', "inline spaces"),
    ] {
        let sent = common::stream_endless(&server, prefix, filler, "-ERR Protocol error: too big");
        assert!(
            sent < 100 * 1024 * 1024,
            "the server kept reading an endless {what}"
        );
        assert_healthy(&server, baseline, &format!("endless {what}"));
    }
}

#[test]
fn values_and_keys_over_the_limits() {
    let server = Server::start(2, &["--max-value-size", "1MiB", "--max-key-size", "1KiB"]);
    let baseline = prepare(&server);
    // A value over the limit, actually sent in full: refused from its header.
    let mut stream = server.raw();
    let value = vec![b'v'; 3 << 20];
    let request = resp(&[b"SET", b"big", &value]);
    let _ = stream.write_all(&request);
    let reply = String::from_utf8_lossy(&read_to_close(&mut stream)).to_string();
    assert!(
        reply.starts_with("-ERR Protocol error: invalid bulk length"),
        "got {reply:?}"
    );
    // Exactly at the limit is fine.
    let mut stream = server.raw();
    let value = vec![b'v'; 1 << 20];
    let reply = roundtrip(&mut stream, &resp(&[b"SET", b"edge", &value]), 5);
    assert_eq!(reply, b"+OK\r\n");
    // A key over its limit is an error reply; the connection stays usable.
    let key = vec![b'k'; 2048];
    let request = [resp(&[b"SET", &key, b"v"]), resp(&[b"PING"])].concat();
    stream.write_all(&request).unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(b"+PONG\r\n") {
        let mut byte = [0u8; 256];
        let n = stream.read(&mut byte).unwrap();
        assert!(n > 0, "closed after an oversized key");
        reply.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("-ERR key is too large"), "got {text:?}");
    // APPEND/SETRANGE may not grow a value past the limit either.
    let reply = roundtrip(&mut stream, &resp(&[b"APPEND", b"edge", b"x"]), 4);
    assert_eq!(&reply[..4], b"-ERR", "APPEND past --max-value-size");
    let mut rest = [0u8; 512];
    let _ = stream.read(&mut rest);
    assert_healthy(&server, baseline, "values over the limit");
}

#[test]
fn truncated_frames_then_close_at_every_cut() {
    let server = Server::start(2, &[]);
    let baseline = prepare(&server);
    let full = [
        resp(&[b"SET", b"{a}trunc", b"complete-value"]),
        resp(&[b"MSET", b"{a}x", b"1", b"{b}y", b"2"]),
        b"SET inline 'quoted value'\r\n".to_vec(),
    ]
    .concat();
    let mut handles = Vec::new();
    for cut in 0..full.len() {
        let mut stream = server.raw();
        stream.write_all(&full[..cut]).unwrap();
        handles.push(stream);
        if handles.len() >= 32 {
            handles.clear(); // close a wave of them at once
        }
    }
    drop(handles);
    // The complete frames of a cut pipeline ran; the torn one never did.
    let mut stream = server.raw();
    let got = roundtrip(&mut stream, &resp(&[b"GET", b"{a}trunc"]), 21);
    assert_eq!(got, b"$14\r\ncomplete-value\r\n");
    println!("truncated frames: {} cuts", full.len());
    assert_healthy(&server, baseline, "truncated frames");
}

#[test]
fn five_hundred_slow_clients_holding_partial_frames() {
    common::raise_nofile_limit();
    let server = Server::start(2, &[]);
    let baseline = prepare(&server);
    let nr_clients = 500;
    let mut clients = Vec::new();
    let requests: Vec<Vec<u8>> = (0..nr_clients)
        .map(|i| {
            let key = format!("slow:{i}");
            let value = format!("value-of-{i}-").repeat(20);
            resp(&[b"SET", key.as_bytes(), value.as_bytes()])
        })
        .collect();
    for (i, request) in requests.iter().enumerate() {
        let mut stream = server.raw();
        // Each holds a different partial prefix.
        let cut = 1 + i % (request.len() - 1);
        stream.write_all(&request[..cut]).unwrap();
        clients.push((stream, cut));
    }
    // Meanwhile the server serves everyone else at once.
    assert_healthy(&server, baseline, "500 slow clients (holding)");
    // They trickle the rest in a few pieces, then all get their replies.
    for step in 0..3 {
        for ((stream, cut), request) in clients.iter_mut().zip(&requests) {
            let end = if step == 2 {
                request.len()
            } else {
                (*cut + (request.len() - *cut) / 3).min(request.len())
            };
            stream.write_all(&request[*cut..end]).unwrap();
            *cut = end;
        }
    }
    for (stream, _) in clients.iter_mut() {
        assert_eq!(read_n(stream, 5), b"+OK\r\n");
    }
    let mut check = server.raw();
    for i in (0..nr_clients).step_by(37) {
        let value = format!("value-of-{i}-").repeat(20);
        let expected = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
        let got = roundtrip(
            &mut check,
            &resp(&[b"GET", format!("slow:{i}").as_bytes()]),
            expected.len(),
        );
        assert_eq!(got, expected);
    }
    assert_healthy(&server, baseline, "500 slow clients");
}

/// Pipelined GETs of a 64 KiB value, without reading one reply: the server
/// stops reading, holds at most a batch of replies, and hangs up on the
/// client after `--client-output-timeout`.
#[test]
fn a_client_that_never_reads_is_bounded_and_disconnected() {
    let server = Server::start(2, &["--client-output-timeout", "2"]);
    let baseline = prepare(&server);
    let value = vec![b'x'; 64 * 1024];
    let mut setup = server.raw();
    assert_eq!(
        roundtrip(&mut setup, &resp(&[b"SET", b"big", &value]), 5),
        b"+OK\r\n"
    );
    let request: Vec<u8> = (0..256).flat_map(|_| resp(&[b"GET", b"big"])).collect();
    let mut stream = server.raw();
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut sent = 0usize;
    let mut peak_rss = 0;
    let disconnected = loop {
        match stream.write(&request) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true, // reset or broken pipe: the server hung up
        }
        peak_rss = peak_rss.max(rss_kib(server.pid()));
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        if started.elapsed() > Duration::from_secs(1) && started.elapsed().as_millis() % 500 < 120 {
            // Others are served at once while this client is stuck.
            let mut other = server.raw();
            other
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            assert_eq!(roundtrip(&mut other, b"PING\r\n", 7), b"+PONG\r\n");
        }
    };
    println!(
        "non-reading client: sent {} GETs of a 64 KiB value ({} KiB of requests, most never read by the server), disconnected after {:?}, peak RSS {} KiB (baseline {baseline} KiB)",
        sent / resp(&[b"GET", b"big"]).len(),
        sent / 1024,
        started.elapsed(),
        peak_rss
    );
    assert!(
        disconnected,
        "the server never disconnected a client that does not read"
    );
    assert!(
        peak_rss < baseline + RSS_SLACK_KIB,
        "RSS peaked at {peak_rss} KiB"
    );
    assert_healthy(&server, baseline, "a client that never reads");
}

/// The other side of the output limit: a client that reads slowly but
/// steadily gets every reply of a big pipeline.
#[test]
fn a_slow_but_steady_reader_gets_every_reply() {
    let server = Server::start(
        2,
        &[
            "--client-output-timeout",
            "2",
            "--client-output-limit",
            "1MiB",
        ],
    );
    let baseline = prepare(&server);
    let value = vec![b'y'; 64 * 1024];
    let mut stream = server.raw();
    assert_eq!(
        roundtrip(&mut stream, &resp(&[b"SET", b"big", &value]), 5),
        b"+OK\r\n"
    );
    let nr_gets = 300;
    let request: Vec<u8> = (0..nr_gets).flat_map(|_| resp(&[b"GET", b"big"])).collect();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&request).unwrap())
    };
    let reply_len = value.len() + 10;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received = Vec::with_capacity(nr_gets * reply_len);
    while received.len() < nr_gets * reply_len {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "disconnected after {} bytes", received.len());
        received.extend_from_slice(&buffer[..n]);
        std::thread::sleep(Duration::from_millis(2));
    }
    writer.join().unwrap();
    let one = [
        format!("${}\r\n", value.len()).into_bytes(),
        value,
        b"\r\n".to_vec(),
    ]
    .concat();
    for (i, reply) in received.chunks(reply_len).enumerate() {
        assert!(reply == one.as_slice(), "reply {i} is wrong");
    }
    assert_healthy(&server, baseline, "a slow reader");
}

#[test]
fn thousands_of_connections_past_the_limit_are_refused() {
    let limit = common::raise_nofile_limit();
    let nr_allowed = 1000;
    let nr_total = 2500usize.min(limit.saturating_sub(200) as usize);
    let server = Server::start(2, &["--max-connections", &nr_allowed.to_string()]);
    let baseline = prepare(&server);
    let mut streams = Vec::new();
    for _ in 0..nr_total {
        streams.push(server.raw());
    }
    let (mut served, mut refused) = (0, 0);
    for stream in streams.iter_mut() {
        let _ = stream.write_all(b"PING\r\n");
        let mut reply = [0u8; 64];
        let mut got = Vec::new();
        loop {
            match stream.read(&mut reply) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&reply[..n]),
            }
            if got.ends_with(b"\r\n") {
                break;
            }
        }
        match got.as_slice() {
            b"+PONG\r\n" => served += 1,
            b"-ERR max number of clients reached\r\n" => {
                refused += 1;
                // ...and then closed.
                assert!(read_to_close(stream).is_empty());
            }
            other => panic!("unexpected reply {:?}", String::from_utf8_lossy(other)),
        }
    }
    println!("{nr_total} connections: {served} served, {refused} refused");
    // `keep`'s own connection from prepare() was closed before; the limit
    // admits exactly nr_allowed at once (a just-closed one may still count).
    assert!(
        (nr_allowed - 1..=nr_allowed).contains(&served),
        "served {served}"
    );
    assert_eq!(served + refused, nr_total);
    drop(streams);
    // Slots free up once they leave.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = server.raw();
        if roundtrip(&mut stream, b"PING\r\n", 7) == b"+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "connections were not released");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_healthy(&server, baseline, "thousands of connections");
}
