//! Every command through a real Redis client (the `redis` crate) against a
//! two-shard server, checked against Redis 7 semantics.

mod common;

use std::collections::HashSet;

use common::Server;
use redis::{Commands, Value};

fn start() -> (Server, redis::Connection) {
    let server = Server::start(2, &[]);
    let con = server.client();
    (server, con)
}

fn err_text(result: redis::RedisResult<Value>) -> String {
    let error = result.expect_err("expected an error reply");
    format!(
        "{} {}",
        error.code().unwrap_or("?"),
        error.detail().unwrap_or("")
    )
}

#[test]
fn connection_and_server_commands() {
    let (_server, mut con) = start();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("PING").arg("hi").query(&mut con).unwrap();
    assert_eq!(echo, "hi");
    let echo: String = redis::cmd("ECHO")
        .arg("hello world")
        .query(&mut con)
        .unwrap();
    assert_eq!(echo, "hello world");
    let ok: String = redis::cmd("SELECT").arg(0).query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    assert!(
        err_text(redis::cmd("SELECT").arg(1).query(&mut con)).contains("DB index is out of range")
    );
    let hello: Vec<Value> = redis::cmd("HELLO").arg(2).query(&mut con).unwrap();
    assert_eq!(hello.len(), 14);
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    assert!(count >= 40, "COMMAND COUNT {count}");
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .query(&mut con)
        .unwrap();
    assert_eq!(info.len(), 1);
    let _: Value = redis::cmd("COMMAND").arg("DOCS").query(&mut con).unwrap();

    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut con)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, "tester");
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(id > 0);
    let _: () = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("mylib")
        .query(&mut con)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(
        list.contains("name=tester") && list.contains("lib-name=mylib"),
        "{list}"
    );

    let config: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(config, vec!["maxclients".to_string(), "10000".to_string()]);
    let unknown: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("no-such-setting")
        .query(&mut con)
        .unwrap();
    assert!(unknown.is_empty());
    let time: Vec<String> = redis::cmd("TIME").query(&mut con).unwrap();
    assert_eq!(time.len(), 2);

    let _: () = con.set("info-key", "v").unwrap();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Stats",
        "# Persistence",
        "# Keyspace",
        "# Cores",
    ] {
        assert!(info.contains(section), "INFO lacks {section}");
    }
    assert!(info.contains("core0:") && info.contains("core1:"));
    assert!(info.contains("db0:keys=1"));
    let only: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(only.contains("# Keyspace") && !only.contains("# Server"));
}

#[test]
fn set_and_get_family() {
    let (_server, mut con) = start();
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    let _: () = con.set("k", "v1").unwrap();
    let got: String = con.get("k").unwrap();
    assert_eq!(got, "v1");

    // NX / XX / GET
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("NX")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("XX")
        .query(&mut con)
        .unwrap();
    assert_eq!(r.as_deref(), Some("OK"));
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v3")
        .arg("GET")
        .query(&mut con)
        .unwrap();
    assert_eq!(r.as_deref(), Some("v2"));
    let r: Option<String> = redis::cmd("SET")
        .arg("absent")
        .arg("x")
        .arg("XX")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, None);
    assert!(
        err_text(
            redis::cmd("SET")
                .arg("k")
                .arg("v")
                .arg("NX")
                .arg("XX")
                .query(&mut con)
        )
        .contains("syntax error")
    );
    assert!(
        err_text(
            redis::cmd("SET")
                .arg("k")
                .arg("v")
                .arg("EX")
                .arg(0)
                .query(&mut con)
        )
        .contains("invalid expire time")
    );
    assert!(
        err_text(
            redis::cmd("SET")
                .arg("k")
                .arg("v")
                .arg("EX")
                .arg("abc")
                .query(&mut con)
        )
        .contains("not an integer")
    );

    // KEEPTTL keeps, plain SET clears.
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("a")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("b")
        .arg("KEEPTTL")
        .query(&mut con)
        .unwrap();
    let ttl: i64 = con.ttl("t").unwrap();
    assert!(ttl > 90);
    let _: () = con.set("t", "c").unwrap();
    let ttl: i64 = con.ttl("t").unwrap();
    assert_eq!(ttl, -1);

    let n: i64 = redis::cmd("SETNX")
        .arg("k")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("SETNX")
        .arg("fresh")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let old: Option<String> = redis::cmd("GETSET")
        .arg("fresh")
        .arg("y")
        .query(&mut con)
        .unwrap();
    assert_eq!(old.as_deref(), Some("x"));
    let old: Option<String> = redis::cmd("GETDEL").arg("fresh").query(&mut con).unwrap();
    assert_eq!(old.as_deref(), Some("y"));
    let gone: Option<String> = con.get("fresh").unwrap();
    assert_eq!(gone, None);

    let _: () = con.set("gx", "v").unwrap();
    let v: String = redis::cmd("GETEX")
        .arg("gx")
        .arg("EX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    assert_eq!(v, "v");
    let ttl: i64 = con.ttl("gx").unwrap();
    assert!((40..=50).contains(&ttl));
    let _: String = redis::cmd("GETEX")
        .arg("gx")
        .arg("PERSIST")
        .query(&mut con)
        .unwrap();
    let ttl: i64 = con.ttl("gx").unwrap();
    assert_eq!(ttl, -1);

    let len: i64 = con.strlen("k").unwrap();
    assert_eq!(len, 2);
    let len: i64 = con.append("k", "++").unwrap();
    assert_eq!(len, 4);
    let len: i64 = con.append("newappend", "abc").unwrap();
    assert_eq!(len, 3);
    let _: () = con.set("range", "Hello World").unwrap();
    let part: String = con.getrange("range", 0, 4).unwrap();
    assert_eq!(part, "Hello");
    let part: String = con.getrange("range", -5, -1).unwrap();
    assert_eq!(part, "World");
    let len: i64 = con.setrange("range", 6, "Redis").unwrap();
    assert_eq!(len, 11);
    let whole: String = con.get("range").unwrap();
    assert_eq!(whole, "Hello Redis");
    let len: i64 = con.setrange("padded", 3, "x").unwrap();
    assert_eq!(len, 4);
    let padded: Vec<u8> = con.get("padded").unwrap();
    assert_eq!(padded, b"\0\0\0x");
    let kind: String = redis::cmd("TYPE").arg("range").query(&mut con).unwrap();
    assert_eq!(kind, "string");
    let kind: String = redis::cmd("TYPE").arg("nothing").query(&mut con).unwrap();
    assert_eq!(kind, "none");
}

#[test]
fn counters() {
    let (_server, mut con) = start();
    let n: i64 = con.incr("c", 1).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("INCRBY")
        .arg("c")
        .arg(41)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 42);
    let n: i64 = redis::cmd("DECR").arg("c").query(&mut con).unwrap();
    assert_eq!(n, 41);
    let n: i64 = redis::cmd("DECRBY")
        .arg("c")
        .arg(50)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, -9);
    let _: () = con.set("text", "abc").unwrap();
    assert!(err_text(redis::cmd("INCR").arg("text").query(&mut con)).contains("not an integer"));
    let _: () = con.set("max", i64::MAX).unwrap();
    assert!(err_text(redis::cmd("INCR").arg("max").query(&mut con)).contains("overflow"));
    let still: i64 = con.get("max").unwrap();
    assert_eq!(still, i64::MAX);
}

#[test]
fn counters_are_atomic_under_concurrency() {
    let server = Server::start(2, &[]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let _: i64 = con.incr("shared-counter", 1).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut con = server.client();
    let total: i64 = con.get("shared-counter").unwrap();
    assert_eq!(total, 800);
}

#[test]
fn multi_key_commands_across_shards() {
    let (_server, mut con) = start();
    let keys: Vec<String> = (0..50).map(|i| format!("mk:{i}")).collect();
    let pairs: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.clone(), format!("val-{k}")))
        .collect();
    let _: () = con.mset(&pairs).unwrap();
    let mut query: Vec<String> = keys.clone();
    query.insert(10, "missing".into());
    let values: Vec<Option<String>> = con.mget(&query).unwrap();
    assert_eq!(values.len(), 51);
    for (key, value) in query.iter().zip(&values) {
        if key == "missing" {
            assert_eq!(value, &None);
        } else {
            assert_eq!(value.as_deref(), Some(format!("val-{key}").as_str()));
        }
    }
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys[..10])
        .arg("missing")
        .arg(&keys[0])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 11, "duplicates count twice");
    let n: i64 = con.del(&keys[..20]).unwrap();
    assert_eq!(n, 20);
    let n: i64 = redis::cmd("UNLINK")
        .arg(&keys[15..30])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 10);
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 20);

    // MSETNX across shards is all or nothing.
    let n: i64 = redis::cmd("MSETNX")
        .arg("nx:a")
        .arg("1")
        .arg("nx:b")
        .arg("2")
        .arg("nx:c")
        .arg("3")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("MSETNX")
        .arg("nx:d")
        .arg("4")
        .arg("nx:b")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    let d: Option<String> = con.get("nx:d").unwrap();
    assert_eq!(
        d, None,
        "MSETNX must not write anything when one key exists"
    );
    let b: String = con.get("nx:b").unwrap();
    assert_eq!(b, "2");
}

#[test]
fn expiry_commands() {
    let (_server, mut con) = start();
    let _: () = con.set("e", "v").unwrap();
    let ttl: i64 = con.ttl("e").unwrap();
    assert_eq!(ttl, -1);
    let ttl: i64 = con.ttl("absent").unwrap();
    assert_eq!(ttl, -2);
    let n: i64 = con.expire("e", 100).unwrap();
    assert_eq!(n, 1);
    let pttl: i64 = con.pttl("e").unwrap();
    assert!((95_000..=100_000).contains(&pttl));
    let n: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(50)
        .arg("GT")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(50)
        .arg("LT")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(50)
        .arg("NX")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    let at: i64 = redis::cmd("EXPIRETIME").arg("e").query(&mut con).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now + 45..=now + 51).contains(&at));
    let n: i64 = con.persist("e").unwrap();
    assert_eq!(n, 1);
    let n: i64 = con.persist("e").unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("PEXPIRE")
        .arg("e")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    // Wait on the server's own answer rather than a fixed sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v: Option<String> = con.get("e").unwrap();
        if v.is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "key did not expire");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let exists: i64 = con.exists("e").unwrap();
    assert_eq!(exists, 0);
    // EXPIREAT in the past deletes at once.
    let _: () = con.set("past", "v").unwrap();
    let n: i64 = redis::cmd("EXPIREAT")
        .arg("past")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let v: Option<String> = con.get("past").unwrap();
    assert_eq!(v, None);
    let _: () = redis::cmd("SET")
        .arg("pxat")
        .arg("v")
        .arg("PXAT")
        .arg((now + 100) * 1000)
        .query(&mut con)
        .unwrap();
    let ttl: i64 = con.ttl("pxat").unwrap();
    assert!((95..=100).contains(&ttl));
}

#[test]
fn keys_scan_and_flushall() {
    let (_server, mut con) = start();
    for i in 0..300 {
        let _: () = con.set(format!("user:{i}"), i).unwrap();
    }
    for i in 0..20 {
        let _: () = con.set(format!("other:{i}"), i).unwrap();
    }
    let mut keys: Vec<String> = con.keys("user:1*").unwrap();
    keys.sort();
    let mut expected: Vec<String> = (0..300)
        .map(|i| format!("user:{i}"))
        .filter(|k| k.starts_with("user:1"))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);

    // SCAN returns every key exactly once, even with writes in between.
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut rounds = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("user:*")
            .arg("COUNT")
            .arg(25)
            .query(&mut con)
            .unwrap();
        for key in batch {
            assert!(seen.insert(key.clone()), "SCAN returned {key} twice");
        }
        let _: () = con.set(format!("new:{rounds}"), 1).unwrap();
        rounds += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(rounds < 10_000, "SCAN does not terminate");
    }
    assert_eq!(seen.len(), 300);

    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 0);
    let v: Option<String> = con.get("user:1").unwrap();
    assert_eq!(v, None);
}

#[test]
fn binary_keys_and_values_and_large_values() {
    let (_server, mut con) = start();
    let key: Vec<u8> = (0..=255u8).collect();
    let value: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let _: () = con.set(&key, &value).unwrap();
    let got: Vec<u8> = con.get(&key).unwrap();
    assert_eq!(got, value);
    let big = vec![b'x'; 3 * 1024 * 1024];
    let _: () = con.set("big", &big).unwrap();
    let got: Vec<u8> = con.get("big").unwrap();
    assert_eq!(got.len(), big.len());
    assert_eq!(got, big);
}

#[test]
fn shutdown_command_stops_the_server_cleanly() {
    let mut server = Server::start(2, &[]);
    let mut con = server.client();
    let _: () = con.set("before-shutdown", "kept").unwrap();
    let _ = redis::cmd("SHUTDOWN").query::<Value>(&mut con);
    let status = server
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("server exits after SHUTDOWN");
    assert!(status.success());
    server.restart();
    let mut con = server.client();
    let v: String = con.get("before-shutdown").unwrap();
    assert_eq!(v, "kept");
}

#[test]
fn per_core_stats_table_is_printed_every_interval() {
    let server = Server::start(2, &["--stats-interval", "1"]);
    let mut con = server.client();
    for i in 0..200 {
        let _: () = con.set(format!("s:{i}"), i).unwrap();
    }
    // Poll the server's stdout (with a deadline) until a table with a row
    // per core and a total row that saw the writes has been printed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = server.stdout_text();
        let has_header = text
            .lines()
            .any(|l| l.contains("ops/s") && l.contains("p99us"));
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with(['0', '1']))
            .collect();
        let keys_total = text
            .lines()
            .filter(|l| l.trim_start().starts_with("total"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .max();
        if has_header && rows.len() >= 2 && keys_total == Some(200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no complete stats table in stdout:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn client_list_shows_each_clients_latest_command() {
    // Keyed commands update a client's figures once per batch of input, the
    // others at once: both must show in CLIENT LIST.
    let (server, mut con) = start();
    let mut other = server.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut other).unwrap();
    let _: () = other.set("latest-command", "x").unwrap();
    let line = |con: &mut redis::Connection| -> String {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
        list.lines()
            .find(|line| line.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("client {id} missing from {list}"))
            .to_string()
    };
    let after_set = line(&mut con);
    assert!(after_set.contains(" cmd=set "), "{after_set}");
    let _: Option<String> = other.get("latest-command").unwrap();
    let after_get = line(&mut con);
    assert!(after_get.contains(" cmd=get "), "{after_get}");
    let _: i64 = redis::cmd("DBSIZE").query(&mut other).unwrap();
    let after_dbsize = line(&mut con);
    assert!(after_dbsize.contains(" cmd=dbsize "), "{after_dbsize}");
}
