//! MONITOR over real TCP: the lines a monitor reads for the same requests
//! match a real redis-server's (time stamps and ports aside); a monitor on
//! one shard sees the commands of clients served by every shard, each
//! client's in its order; QUIT and RESET end monitoring.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::redis_server::{Conn, Redis};
use common::{Server, read_to_close, resp};
use shardcask::keyspace::shard_for;

/// A connection in MONITOR mode, read line by line.
struct Monitor {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Monitor {
    fn start(addr: SocketAddr) -> Monitor {
        let stream = TcpStream::connect(addr).unwrap();
        // A bound on a hang, not a timing assertion: every read below
        // expects bytes the server owes.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut monitor = Monitor {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        monitor.send(&[b"MONITOR"]);
        assert_eq!(monitor.line(), "+OK");
        monitor
    }

    fn send(&mut self, args: &[&[u8]]) {
        self.writer.write_all(&resp(args)).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "truncated line {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("monitor lines are ASCII")
    }

    /// The next command line, split into the client address and the quoted
    /// arguments, after checking the time stamp's form.
    fn command(&mut self) -> (String, String) {
        let line = self.line();
        let rest = line
            .strip_prefix('+')
            .unwrap_or_else(|| panic!("not a status line: {line}"));
        let (stamp, rest) = rest.split_once(' ').unwrap();
        let (secs, micros) = stamp.split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{line}");
        assert!(micros.len() == 6 && micros.parse::<u32>().is_ok(), "{line}");
        let rest = rest.strip_prefix("[0 ").unwrap_or_else(|| panic!("{line}"));
        let (addr, args) = rest.split_once("] ").unwrap();
        (addr.to_string(), args.to_string())
    }
}

fn bytes(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

/// Runs `requests` one at a time on a fresh connection to `port` (each
/// reply read before the next request) with a monitor watching, then a
/// monitor's own requests; returns the monitor's lines without time stamps
/// and addresses, and the replies the monitor got to its own requests.
fn monitored(port: u16, requests: &[&[&[u8]]]) -> (Vec<String>, Vec<String>) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut monitor = Monitor::start(addr);
    let mut client = Conn::open(port);
    for request in requests {
        client.send(&[bytes(request)]);
        client.read();
    }
    client.send(&[bytes(&[b"ECHO", b"end"])]);
    client.read();
    let mut lines = Vec::new();
    loop {
        let (_, args) = monitor.command();
        let end = args == "\"ECHO\" \"end\"";
        lines.push(args);
        if end {
            break;
        }
    }
    // The monitor's own requests: its PING is shown to it after the
    // reply, a keyspace command is refused.
    monitor.send(&[b"PING"]);
    let mut replies = vec![monitor.line()];
    lines.push(monitor.command().1);
    monitor.send(&[b"GET", b"k"]);
    replies.push(monitor.line());
    (lines, replies)
}

#[test]
fn monitor_lines_match_redis_servers() {
    let Some(redis) = Redis::start() else { return };
    let server = Server::start(1, &[]);
    let requests: &[&[&[u8]]] = &[
        &[b"set", b"k", b"v\"\\\n\x01\xff "],
        // Rejected before running: not shown.
        &[b"GET", b"k", b"extra"],
        &[b"nosuch", b"x"],
        &[b"CLIENT", b"NOSUCH"],
        // A transaction: its commands are shown at EXEC, before EXEC.
        &[b"MULTI"],
        &[b"SET", b"a", b"1"],
        &[b"get", b"a"],
        &[b"EXEC"],
        &[b"MULTI"],
        &[b"SET", b"b", b"2"],
        &[b"DISCARD"],
        // EXECABORT: its queued commands never run, and are not shown.
        &[b"MULTI"],
        &[b"SET", b"c", b"3"],
        &[b"GET"],
        &[b"EXEC"],
        // Admin commands: not shown.
        &[b"CONFIG", b"GET", b"maxmemory"],
        &[b"SLOWLOG", b"LEN"],
        &[b"CLIENT", b"LIST"],
        &[b"LATENCY", b"LATEST"],
        // Failing while running: shown.
        &[b"INCR", b"k"],
        &[b"SET", b"k", b"v", b"EX", b"x"],
        &[b"CLIENT", b"SETNAME", b"x"],
        &[b"PING"],
        &[b"MSET", b"m1", b"1", b"m2", b"2"],
        &[b"DEL", b"m1", b"m2", b"nope"],
        &[b"INFO", b"server"],
    ];
    let (ours, our_replies) = monitored(server.addr.port(), requests);
    let (theirs, their_replies) = monitored(redis.port, requests);
    assert_eq!(ours, theirs);
    assert_eq!(our_replies, their_replies);
    assert_eq!(
        our_replies,
        ["+PONG", "-ERR Replica can't interact with the keyspace"]
    );
    assert_eq!(ours[0], "\"set\" \"k\" \"v\\\"\\\\\\n\\x01\\xff \"");
    assert_eq!(
        ours[1..5],
        [
            "\"MULTI\"",
            "\"SET\" \"a\" \"1\"",
            "\"get\" \"a\"",
            "\"EXEC\""
        ]
    );
}

/// Two ports in a row that were free a moment ago.
fn free_ports(count: u16) -> u16 {
    for _ in 0..200 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base.checked_add(count).is_none() {
            continue;
        }
        let held: Vec<_> = (base..base + count)
            .map_while(|port| TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.len() == count as usize {
            return base;
        }
    }
    panic!("no {count} consecutive free ports");
}

/// A key owned by `shard` of 2.
fn key_of_shard(shard: usize, n: usize) -> String {
    (0..)
        .map(|i| format!("key:{shard}:{n}:{i}"))
        .find(|key| shard_for(key.as_bytes(), 2) == shard)
        .unwrap()
}

#[test]
fn a_monitor_sees_both_shards_clients_in_order_and_leaves_on_reset_and_quit() {
    let base = free_ports(2);
    let _server = Server::start(2, &["--shard-ports", &base.to_string()]);
    let shard_addr = |shard: u16| SocketAddr::from(([127, 0, 0, 1], base + shard));
    // The monitor is served by shard 1; the clients by shard 0 and shard 1.
    let mut monitor = Monitor::start(shard_addr(1));
    let mut clients: Vec<(TcpStream, String)> = (0..2)
        .map(|shard| {
            let stream = TcpStream::connect(shard_addr(shard)).unwrap();
            let local = stream.local_addr().unwrap().to_string();
            (stream, local)
        })
        .collect();
    // Each client pipelines its commands, interleaved with the other's.
    let rounds = 20;
    for round in 0..rounds {
        for (shard, (stream, _)) in clients.iter_mut().enumerate() {
            let key = key_of_shard(shard, round);
            let mut batch = resp(&[b"SET", key.as_bytes(), format!("{round}").as_bytes()]);
            batch.extend(resp(&[b"GET", key.as_bytes()]));
            batch.extend(resp(&[b"ECHO", format!("{shard}-{round}").as_bytes()]));
            stream.write_all(&batch).unwrap();
        }
    }
    let mut seen: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    while seen.iter().map(Vec::len).sum::<usize>() < 2 * 3 * rounds {
        let (addr, args) = monitor.command();
        let client = clients
            .iter()
            .position(|(_, local)| *local == addr)
            .unwrap_or_else(|| panic!("a line from an unknown client {addr}: {args}"));
        seen[client].push(args);
    }
    for (shard, lines) in seen.iter().enumerate() {
        let expected: Vec<String> = (0..rounds)
            .flat_map(|round| {
                let key = key_of_shard(shard, round);
                [
                    format!("\"SET\" \"{key}\" \"{round}\""),
                    format!("\"GET\" \"{key}\""),
                    format!("\"ECHO\" \"{shard}-{round}\""),
                ]
            })
            .collect();
        assert_eq!(*lines, expected, "client of shard {shard}");
    }

    // RESET: the connection is a plain client again; its PING's reply is
    // the next thing it reads (a line owed to it would come first), and it
    // may touch the keyspace again.
    monitor.send(&[b"RESET"]);
    assert_eq!(monitor.line(), "+RESET");
    let (stream, _) = &mut clients[0];
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut replies = BufReader::new(stream.try_clone().unwrap());
    // Drain the 3 * rounds replies of the pipelined commands.
    for _ in 0..rounds {
        for _ in 0..5 {
            let mut line = Vec::new();
            replies.read_until(b'\n', &mut line).unwrap();
        }
    }
    let after = key_of_shard(0, rounds);
    stream
        .write_all(&resp(&[b"SET", after.as_bytes(), b"reset"]))
        .unwrap();
    let mut line = Vec::new();
    replies.read_until(b'\n', &mut line).unwrap();
    assert_eq!(line, b"+OK\r\n");
    monitor.send(&[b"PING"]);
    assert_eq!(monitor.line(), "+PONG");
    monitor.send(&[b"SET", key_of_shard(1, rounds).as_bytes(), b"y"]);
    assert_eq!(monitor.line(), "+OK");

    // QUIT from a monitor: +OK and the connection closes.
    let mut quitter = Monitor::start(shard_addr(0));
    quitter.send(&[b"QUIT"]);
    assert_eq!(quitter.line(), "+OK");
    assert!(read_to_close(&mut quitter.writer).is_empty());
}
