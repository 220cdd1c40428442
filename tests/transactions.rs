//! MULTI/EXEC/DISCARD/WATCH/UNWATCH with Redis semantics, against a
//! two-shard server: queued replies, EXECABORT, WATCH aborts (writes by
//! others, deletes, expiry), atomicity across shards, durability of EXEC
//! under `--sync always`, and the transactional pipelines of the `redis`
//! crate and redis-py.

mod common;

use common::Server;
use redis::Value;
use shardcask::keyspace::shard_for;

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(con)
}

fn ok(con: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(con, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    let error = cmd(con, args).expect_err("expected an error");
    format!(
        "{} {}",
        error.code().unwrap_or("?"),
        error.detail().unwrap_or("")
    )
}

/// Two keys owned by different shards of a two-shard server.
fn keys_on_two_shards() -> (String, String) {
    let first = "tx:a".to_string();
    let other = (0..)
        .map(|i| format!("tx:b{i}"))
        .find(|k| shard_for(k.as_bytes(), 2) != shard_for(first.as_bytes(), 2))
        .unwrap();
    (first, other)
}

#[test]
fn queued_replies_and_errors() {
    let server = Server::start(2, &[]);
    let mut raw = server.raw();
    let (a, b) = keys_on_two_shards();
    let request = format!(
        "MULTI\r\nSET {a} 1\r\nINCR {a}\r\nSET {b} x\r\nGET {b}\r\nMGET {a} {b} nokey\r\nINCR {b}\r\nPING\r\nEXEC\r\n"
    );
    let expected = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*7\r\n+OK\r\n:2\r\n+OK\r\n$1\r\nx\r\n*3\r\n$1\r\n2\r\n$1\r\nx\r\n$-1\r\n-ERR value is not an integer or out of range\r\n+PONG\r\n";
    let got = common::roundtrip(&mut raw, request.as_bytes(), expected.len());
    assert_eq!(String::from_utf8_lossy(&got), expected);

    let mut con = server.client();
    assert_eq!(err(&mut con, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(err(&mut con, &["DISCARD"]), "ERR DISCARD without MULTI");
    ok(&mut con, &["MULTI"]);
    assert_eq!(
        err(&mut con, &["MULTI"]),
        "ERR MULTI calls can not be nested"
    );
    assert_eq!(
        err(&mut con, &["WATCH", "x"]),
        "ERR WATCH inside MULTI is not allowed"
    );
    ok(&mut con, &["SET", "d", "1"]);
    assert_eq!(ok(&mut con, &["DISCARD"]), Value::Okay);
    assert_eq!(ok(&mut con, &["EXISTS", "d"]), Value::Int(0));

    // A queueing error (unknown command, wrong arity) aborts the EXEC.
    ok(&mut con, &["MULTI"]);
    ok(&mut con, &["SET", "e", "1"]);
    assert!(err(&mut con, &["NOSUCH", "x"]).starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(
        err(&mut con, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        err(&mut con, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(ok(&mut con, &["EXISTS", "e"]), Value::Int(0));
    // Bad arguments are queued and fail at EXEC alone, as in Redis; an
    // unknown sub-command fails the transaction.
    let mut raw = server.raw();
    let expected = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n";
    let got = common::roundtrip(
        &mut raw,
        b"MULTI\r\nINCRBY f abc\r\nSET f 1\r\nEXEC\r\n",
        expected.len(),
    );
    assert_eq!(String::from_utf8_lossy(&got), expected);
    ok(&mut con, &["MULTI"]);
    assert_eq!(
        err(&mut con, &["OBJECT", "FOO", "f"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert!(err(&mut con, &["EXEC"]).starts_with("EXECABORT"));
    // The connection is out of MULTI again.
    assert_eq!(ok(&mut con, &["SET", "e", "1"]), Value::Okay);
}

#[test]
fn watch_aborts_on_writes_deletes_and_expiry_by_anyone() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    let mut other = server.client();
    let (a, b) = keys_on_two_shards();
    let exec_after =
        |con: &mut redis::Connection, watch: &[&str], body: &dyn Fn(&mut redis::Connection)| {
            let mut args = vec!["WATCH"];
            args.extend_from_slice(watch);
            ok(con, &args);
            body(con);
            ok(con, &["MULTI"]);
            ok(con, &["SET", "result", "done"]);
            ok(con, &["EXEC"])
        };

    // Untouched: runs.
    ok(&mut con, &["SET", &a, "1"]);
    let reply = exec_after(&mut con, &[&a, &b], &|_| {});
    assert_eq!(reply, Value::Array(vec![Value::Okay]));
    // Written by another client: aborted, nothing ran.
    ok(&mut con, &["DEL", "result"]);
    let reply = exec_after(&mut con, &[&a, &b], &|_| {
        ok(&mut other_client(&server), &["SET", &b, "changed"]);
    });
    assert_eq!(reply, Value::Nil);
    assert_eq!(ok(&mut con, &["EXISTS", "result"]), Value::Int(0));
    // Written by itself before MULTI: aborted as in Redis.
    let reply = exec_after(&mut con, &[&a], &|c| {
        ok(c, &["INCR", &a]);
    });
    assert_eq!(reply, Value::Nil);
    // A missing key created by another client.
    let reply = exec_after(&mut con, &["fresh"], &|_| {
        ok(&mut other_client(&server), &["SET", "fresh", "1"]);
    });
    assert_eq!(reply, Value::Nil);
    // Deleted by another client.
    let reply = exec_after(&mut con, &["fresh"], &|_| {
        ok(&mut other_client(&server), &["DEL", "fresh"]);
    });
    assert_eq!(reply, Value::Nil);
    // Expired between WATCH and EXEC.
    ok(&mut other, &["SET", "short", "1", "PX", "30"]);
    let reply = exec_after(&mut con, &["short"], &|c| {
        while ok(c, &["PTTL", "short"]) != Value::Int(-2) {
            std::thread::yield_now();
        }
    });
    assert_eq!(reply, Value::Nil);
    // UNWATCH forgets; DISCARD and EXEC unwatch too.
    ok(&mut con, &["WATCH", &a]);
    ok(&mut other, &["SET", &a, "again"]);
    ok(&mut con, &["UNWATCH"]);
    ok(&mut con, &["MULTI"]);
    ok(&mut con, &["GET", &a]);
    assert_eq!(
        ok(&mut con, &["EXEC"]),
        Value::Array(vec![Value::BulkString(b"again".to_vec())])
    );
}

fn other_client(server: &Server) -> redis::Connection {
    server.client()
}

/// A transaction incrementing two keys on two shards, racing a reader that
/// reads one key and then the other: once the reader sees the first key's
/// new value, the second key's read (later) must show its new value too.
#[test]
fn no_client_sees_half_of_a_cross_shard_transaction() {
    let server = Server::start(2, &[]);
    let (a, b) = keys_on_two_shards();
    let mut writer = server.client();
    ok(&mut writer, &["MSET", &a, "0", &b, "0"]);
    let rounds = 300;
    let reader = {
        let (a, b) = (a.clone(), b.clone());
        let mut con = server.client();
        std::thread::spawn(move || {
            let mut checks = 0;
            loop {
                let first: i64 = redis::cmd("GET").arg(&a).query(&mut con).unwrap();
                let second: i64 = redis::cmd("GET").arg(&b).query(&mut con).unwrap();
                assert!(second >= first, "saw {a}={first} and then {b}={second}");
                checks += 1;
                if first >= rounds {
                    return checks;
                }
            }
        })
    };
    for _ in 0..rounds {
        let replies: Vec<i64> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&a)
            .cmd("INCR")
            .arg(&b)
            .query(&mut writer)
            .unwrap();
        assert_eq!(replies[0], replies[1]);
    }
    let checks = reader.join().unwrap();
    assert!(checks > 0);
}

#[test]
fn exec_is_durable_when_it_replies() {
    let mut server = Server::start(2, &["--sync", "always"]);
    let (a, b) = keys_on_two_shards();
    let mut con = server.client();
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&a)
        .arg("1")
        .ignore()
        .cmd("SET")
        .arg(&b)
        .arg("2")
        .ignore()
        .query(&mut con)
        .unwrap();
    server.kill9();
    server.restart();
    let mut con = server.client();
    let values: Vec<String> = redis::cmd("MGET").arg(&a).arg(&b).query(&mut con).unwrap();
    assert_eq!(values, ["1", "2"]);
}

#[test]
fn redis_py_default_pipeline_is_a_transaction() {
    let server = Server::start(2, &[]);
    common::run_redis_py(
        &server,
        r#"
import os, redis
r = redis.Redis(port=int(os.environ["PORT"]))
p = r.pipeline()
p.set("a", 1).incr("a").get("a").mget("a", "b", "c").delete("a")
assert p.execute() == [True, 2, b"2", [b"2", None, None], 1], "pipeline"
r.set("w", 1)
with r.pipeline() as p:
    p.watch("w")
    redis.Redis(port=int(os.environ["PORT"])).set("w", 2)
    p.multi()
    p.set("w", 3)
    try:
        p.execute()
        raise SystemExit("EXEC should have been aborted by WATCH")
    except redis.WatchError:
        pass
assert r.get("w") == b"2"
def incr(pipe):
    value = int(pipe.get("counter") or 0)
    pipe.multi()
    pipe.set("counter", value + 1)
assert r.transaction(incr, "counter") == [True]
assert r.get("counter") == b"1"
p = r.pipeline()
p.set("x", 1).lpush("x", 1)
try:
    p.execute()
    raise SystemExit("an unknown command in a pipeline must fail it")
except redis.ResponseError as e:
    assert "EXECABORT" in str(e) or "unknown command" in str(e), str(e)
"#,
    );
}
