//! The generic commands whose answers follow from having only strings, one
//! database and no replicas: SORT/SORT_RO (WRONGTYPE, or an empty list and
//! a deleted STORE destination), MOVE (Redis's answers with `databases 1`),
//! WAIT (blocks for its timeout when asked for replicas, never in MULTI).

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{Server, resp};
use redis::Value;

fn exists(con: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(con).unwrap() == 1
}

#[test]
fn sort_sees_only_strings_and_store_deletes_its_destination() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("s").arg("3").query(&mut con).unwrap();
    let error = redis::cmd("SORT")
        .arg("s")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(error.to_string().contains("WRONGTYPE"), "{error}");
    let got: Vec<String> = redis::cmd("SORT")
        .arg("nokey")
        .arg("BY")
        .arg("w_*")
        .arg("GET")
        .arg("#")
        .arg("LIMIT")
        .arg(0)
        .arg(10)
        .arg("DESC")
        .arg("ALPHA")
        .query(&mut con)
        .unwrap();
    assert!(got.is_empty());
    let error = redis::cmd("SORT_RO")
        .arg("nokey")
        .arg("STORE")
        .arg("d")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(error.to_string().contains("syntax error"), "{error}");

    // STORE of an empty list deletes the destination, wherever it lives
    // (ten destinations: both shards own some).
    for i in 0..10 {
        let destination = format!("dest:{i}");
        let _: () = redis::cmd("SET")
            .arg(&destination)
            .arg("x")
            .query(&mut con)
            .unwrap();
        let stored: i64 = redis::cmd("SORT")
            .arg("nokey")
            .arg("STORE")
            .arg(&destination)
            .query(&mut con)
            .unwrap();
        assert_eq!(stored, 0);
        assert!(!exists(&mut con, &destination), "{destination} survived");
    }
    // A string source fails before anything is written.
    let _: () = redis::cmd("SET")
        .arg("dest:0")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let error = redis::cmd("SORT")
        .arg("s")
        .arg("STORE")
        .arg("dest:0")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(error.to_string().contains("WRONGTYPE"), "{error}");
    assert!(exists(&mut con, "dest:0"));

    // Inside a transaction too.
    let (stored, sorted): (i64, Vec<String>) = redis::pipe()
        .atomic()
        .cmd("SORT")
        .arg("nokey")
        .arg("STORE")
        .arg("dest:0")
        .cmd("SORT_RO")
        .arg("nokey")
        .query(&mut con)
        .unwrap();
    assert_eq!((stored, sorted.len()), (0, 0));
    assert!(!exists(&mut con, "dest:0"));

    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("SORT")
        .arg("a")
        .arg("BY")
        .arg("w_*")
        .arg("STORE")
        .arg("b")
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn move_answers_as_redis_with_one_database() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let error = |con: &mut redis::Connection, db: &str| {
        redis::cmd("MOVE")
            .arg("k")
            .arg(db)
            .query::<Value>(con)
            .unwrap_err()
            .to_string()
    };
    assert!(error(&mut con, "1").contains("DB index is out of range"));
    assert!(error(&mut con, "0").contains("source and destination objects are the same"));
    assert!(error(&mut con, "x").contains("value is not an integer or out of range"));
    let got: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(got, "v");
}

#[test]
fn wait_blocks_for_its_timeout_but_not_in_multi() {
    let server = Server::start(2, &[]);
    let mut con = server.client();
    let replicas: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut con).unwrap();
    assert_eq!(replicas, 0);
    let started = Instant::now();
    let replicas: i64 = redis::cmd("WAIT").arg(1).arg(300).query(&mut con).unwrap();
    assert_eq!(replicas, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "WAIT 1 300 answered after {:?}",
        started.elapsed()
    );

    // In MULTI nothing blocks: WAIT 1 0 (for ever outside) answers 0 at EXEC.
    let (replicas, pong): (i64, String) = redis::pipe()
        .atomic()
        .cmd("WAIT")
        .arg(1)
        .arg(0)
        .cmd("PING")
        .query(&mut con)
        .unwrap();
    assert_eq!((replicas, pong.as_str()), (0, "PONG"));

    // A blocked client holds up only itself; its pipeline resumes after.
    let mut blocked = server.raw();
    std::io::Write::write_all(
        &mut blocked,
        &[resp(&[b"WAIT", b"2", b"1500"]), resp(&[b"PING"])].concat(),
    )
    .unwrap();
    let _: () = redis::cmd("SET")
        .arg("other")
        .arg("1")
        .query(&mut con)
        .unwrap();
    blocked
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        blocked.read(&mut buf).is_err(),
        "WAIT answered before its timeout"
    );
    blocked
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let expected = b":0\r\n+PONG\r\n";
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let n = blocked.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, expected);
}
