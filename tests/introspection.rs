//! Redis's introspection commands against a real server: SLOWLOG, LATENCY,
//! CLIENT LIST figures and CLIENT KILL.

mod common;

use common::Server;
use redis::Value;

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn slowlog_logs_batches_in_redis_format() {
    let server = Server::start(
        2,
        &["--slowlog-log-slower-than", "0", "--slowlog-max-len", "5"],
    );
    let mut con = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("slowpoke")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let mut pipe = redis::pipe();
    for i in 0..10 {
        pipe.cmd("GET").arg(format!("k{i}"));
    }
    let _: Vec<Option<String>> = pipe.query(&mut con).unwrap();
    let entries: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert!(!entries.is_empty());
    let Value::Array(newest) = &entries[0] else {
        panic!("entry {:?}", entries[0])
    };
    assert_eq!(newest.len(), 6, "id, time, duration, args, addr, name");
    let Value::Array(args) = &newest[3] else {
        panic!("args {:?}", newest[3])
    };
    // The newest entry: the pipeline of ten GETs (possibly split into
    // batches by the reads), named by its command.
    assert_eq!(text(&args[0]), "GET");
    assert_eq!(text(&newest[5]), "slowpoke");
    assert!(text(&newest[4]).starts_with("127.0.0.1:"));
    let all: Vec<String> = entries
        .iter()
        .map(|e| match e {
            Value::Array(fields) => match &fields[3] {
                Value::Array(args) => text(&args[0]),
                _ => panic!(),
            },
            _ => panic!(),
        })
        .collect();
    assert!(all.contains(&"SET".to_string()), "{all:?}");
    // Unique ids, newest first.
    let ids: Vec<i64> = entries
        .iter()
        .map(|e| match e {
            Value::Array(fields) => match fields[0] {
                Value::Int(id) => id,
                _ => panic!(),
            },
            _ => panic!(),
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert!((2..=10).contains(&len), "at most max-len per shard: {len}");
    let two: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(two.len(), 2);
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    // Only the batch of the LEN query's predecessor (RESET ran after its own
    // batch was noted) can be there.
    assert!(len <= 1, "{len}");
    let error = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-5)
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("count should be greater than or equal to -1")
    );
}

#[test]
fn latency_histogram_latest_and_history() {
    let server = Server::start(1, &["--latency-monitor-threshold", "1"]);
    let mut con = server.client();
    const KEYS: usize = 20_000;
    for chunk in 0..(KEYS / 1000) {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET")
                .arg(format!("key:{chunk}:{i}"))
                .arg("v")
                .ignore();
        }
        let () = pipe.query(&mut con).unwrap();
    }
    // KEYS over 20,000 keys takes well over a millisecond.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(keys.len(), KEYS);
    let histogram: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .query(&mut con)
        .unwrap();
    let flat = format!("{histogram:?}");
    assert!(flat.contains("\"set\"") || flat.contains("set"), "{flat}");
    let Value::Array(pairs) = histogram else {
        panic!("{histogram:?}")
    };
    assert_eq!(pairs.len(), 2, "only the command asked for: {pairs:?}");
    let Value::Array(fields) = &pairs[1] else {
        panic!()
    };
    assert_eq!(text(&fields[0]), "calls");
    assert_eq!(fields[1], Value::Int(KEYS as i64));
    let Value::Array(buckets) = &fields[3] else {
        panic!()
    };
    let last = match buckets.last() {
        Some(Value::Int(n)) => *n,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        last, KEYS as i64,
        "cumulative: the last bucket holds every call"
    );

    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    assert_eq!(latest[0].0, "command");
    assert!(latest[0].2 >= 1 && latest[0].3 >= latest[0].2);
    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(!history.is_empty());
    let reset: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut con).unwrap();
    assert_eq!(reset, 1);
    let latest: Vec<Value> = redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert!(latest.is_empty());
}

#[test]
fn client_list_figures_and_kill() {
    let server = Server::start(2, &[]);
    let mut victim = server.client();
    let mut killer = server.client();
    let victim_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();
    for i in 0..5 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .query(&mut victim)
            .unwrap();
    }
    let victim_line = |killer: &mut redis::Connection| -> String {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(killer).unwrap();
        list.lines()
            .find(|l| l.starts_with(&format!("id={victim_id} ")))
            .unwrap_or_else(|| panic!("{list}"))
            .to_string()
    };
    let field = |line: &str, name: &str| -> u64 {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = victim_line(&mut killer);
    assert!(before.contains("cmd=set"), "{before}");
    for i in 0..3 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut victim)
            .unwrap();
    }
    let after = victim_line(&mut killer);
    assert!(after.contains("cmd=get"), "{after}");
    assert_eq!(field(&after, "tot-cmds"), field(&before, "tot-cmds") + 3);
    // Each GET is 21 bytes on the wire (`*2 $3 GET $2 kN`) and gets `$1 v`.
    assert_eq!(
        field(&after, "tot-net-in"),
        field(&before, "tot-net-in") + 3 * 21
    );
    assert_eq!(
        field(&after, "tot-net-out"),
        field(&before, "tot-net-out") + 3 * 7
    );

    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query(&mut killer)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(redis::cmd("PING").query::<String>(&mut victim).is_err());
    // SKIPME yes by default: the killer survives a filter that matches it.
    let own: i64 = redis::cmd("CLIENT").arg("ID").query(&mut killer).unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(own)
        .query(&mut killer)
        .unwrap();
    assert_eq!(killed, 0);
    // The old form: by address, +OK or an error.
    let mut other = server.client();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut other).unwrap();
    let addr = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    let ok: String = redis::cmd("CLIENT")
        .arg("KILL")
        .arg(&addr)
        .query(&mut killer)
        .unwrap();
    assert_eq!(ok, "OK");
    assert!(redis::cmd("PING").query::<String>(&mut other).is_err());
    let error = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("10.9.9.9:1")
        .query::<String>(&mut killer)
        .unwrap_err();
    assert!(error.to_string().contains("No such client"), "{error}");
}

/// `cmdstat_<name>`'s calls, rejected_calls and failed_calls in an INFO
/// commandstats text (usec left out: timings differ).
fn command_counts(info: &[u8], name: &str) -> Option<(u64, u64, u64)> {
    let info = String::from_utf8_lossy(info);
    let line = info
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:")))?;
    let field = |key: &str| -> u64 {
        line.split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {line}"))
            .parse()
            .unwrap()
    };
    Some((
        field("calls"),
        field("rejected_calls"),
        field("failed_calls"),
    ))
}

#[test]
fn commandstats_count_rejected_and_failed_calls_as_redis_does() {
    use common::redis_server::{Conn, Redis, V};
    let Some(redis) = Redis::start() else { return };
    let server = Server::start(2, &[]);
    // (request, or for the memory/disk limit each server's own CONFIG SET)
    let run = |port: u16, limit: &[&str]| -> Vec<u8> {
        let mut conn = Conn::open(port);
        let words = |words: &[&str]| words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let requests: Vec<Vec<Vec<u8>>> = vec![
            words(&["SET", "k", "v"]),
            // Wrong number of arguments: rejected before running.
            words(&["GET", "k", "extra"]),
            words(&["MSET", "a"]),
            // Unknown command and sub-command: no command's.
            words(&["NOSUCH", "x"]),
            words(&["CLIENT", "NOSUCH"]),
            // Failing while running: calls that failed.
            words(&["SET", "k", "v", "EX", "x"]),
            words(&["INCR", "k"]),
            words(&["GET", "k"]),
            // Queued commands are calls when EXEC runs them, and not when
            // DISCARD or EXECABORT drops them.
            words(&["MULTI"]),
            words(&["SET", "t", "1"]),
            words(&["INCR", "k"]),
            words(&["EXEC"]),
            words(&["MULTI"]),
            words(&["SET", "t", "2"]),
            words(&["DISCARD"]),
            words(&["MULTI"]),
            words(&["SET", "t", "3"]),
            words(&["GET"]),
            words(&["EXEC"]),
            words(limit),
            // Over the memory (disk) limit: a write is rejected, DEL runs.
            words(&["SET", "k2", "v"]),
            words(&["DEL", "k"]),
        ];
        for request in requests {
            conn.send(&[request]);
            conn.read();
        }
        conn.send(&[words(&["INFO", "commandstats"])]);
        match conn.read() {
            V::Bulk(text) => text,
            other => panic!("{other:?}"),
        }
    };
    let theirs = run(redis.port, &["CONFIG", "SET", "maxmemory", "1"]);
    let ours = run(server.addr.port(), &["CONFIG", "SET", "max-disk", "1"]);
    for (name, expected) in [
        ("set", (3, 1, 1)),
        ("get", (1, 2, 0)),
        ("mset", (0, 1, 0)),
        ("incr", (2, 0, 2)),
        ("del", (1, 0, 0)),
        ("multi", (3, 0, 0)),
        ("exec", (2, 0, 1)),
        ("discard", (1, 0, 0)),
    ] {
        assert_eq!(
            command_counts(&theirs, name),
            Some(expected),
            "redis {name}"
        );
        assert_eq!(command_counts(&ours, name), Some(expected), "ours {name}");
    }
    assert_eq!(command_counts(&ours, "nosuch"), None);
    assert_eq!(command_counts(&theirs, "nosuch"), None);
}
