//! RESP3: `HELLO 3` switches a connection, and every reply kind is encoded
//! as Redis 7 encodes it; checked over raw TCP, with the `redis` crate in
//! RESP3 mode and with redis-py in its default configuration.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::Server;
use redis::Value;

/// Sends `request` and reads until the reply buffer ends with `until`.
fn exchange(stream: &mut std::net::TcpStream, request: &str, until: &str) -> String {
    stream.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with(until) {
        assert!(
            Instant::now() < deadline,
            "no reply ending in {until:?}: {got:?}"
        );
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn hello_3_switches_the_encoding_and_hello_2_switches_back() {
    let server = Server::start(2, &[]);
    let mut raw = server.raw();
    // RESP2 first: a missing key is $-1.
    assert_eq!(exchange(&mut raw, "GET nokey\r\n", "\r\n"), "$-1\r\n");
    let hello = exchange(&mut raw, "HELLO 3 SETNAME conn3\r\n", "*0\r\n");
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert_eq!(exchange(&mut raw, "GET nokey\r\n", "\r\n"), "_\r\n");
    assert_eq!(
        exchange(&mut raw, "MGET nokey {nokey}2\r\n", "_\r\n_\r\n"),
        "*2\r\n_\r\n_\r\n"
    );
    assert_eq!(
        exchange(&mut raw, "CONFIG GET maxclients\r\n", "10000\r\n"),
        "%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    );
    let info = exchange(&mut raw, "CLIENT INFO\r\n", "\n\r\n");
    assert!(
        info.starts_with('=') && info.contains("\r\ntxt:id="),
        "{info}"
    );
    assert!(
        info.contains(" resp=3 ") && info.contains("name=conn3"),
        "{info}"
    );
    let list = exchange(&mut raw, "CLIENT LIST\r\n", "\n\r\n");
    assert!(list.starts_with('=') && list.contains("resp=3"), "{list}");
    let server_info = exchange(&mut raw, "INFO server\r\n", "\r\n");
    assert!(
        server_info.starts_with('='),
        "INFO is verbatim text: {server_info}"
    );
    let command_info = exchange(&mut raw, "COMMAND INFO get\r\n", "\r\n");
    assert!(
        command_info.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n"),
        "{command_info}"
    );
    let hello = exchange(&mut raw, "HELLO 2\r\n", "*0\r\n");
    assert!(hello.starts_with("*14\r\n"), "{hello}");
    assert_eq!(exchange(&mut raw, "GET nokey\r\n", "\r\n"), "$-1\r\n");
    // Bad versions leave the protocol alone.
    assert_eq!(
        exchange(&mut raw, "HELLO 4\r\n", "\r\n"),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        exchange(&mut raw, "HELLO 3 AUTH default anything\r\n", "*0\r\n").get(..2),
        Some("%7")
    );
    assert_eq!(
        exchange(&mut raw, "HELLO 3 AUTH bob pw\r\n", "\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

#[test]
fn a_pipeline_across_hello_encodes_each_reply_in_the_protocol_of_its_time() {
    let server = Server::start(2, &[]);
    let mut raw = server.raw();
    let got = exchange(
        &mut raw,
        "GET a\r\nGET {a}b\r\nHELLO 3\r\nGET a\r\nGET {a}b\r\nHELLO 2\r\nGET a\r\n",
        "*0\r\n$-1\r\n",
    );
    assert!(got.starts_with("$-1\r\n$-1\r\n%7\r\n"), "{got}");
    assert!(got.contains("*0\r\n_\r\n_\r\n*14\r\n"), "{got}");
}

#[test]
fn redis_crate_over_resp3() {
    let server = Server::start(2, &[]);
    let client = redis::Client::open(format!("redis://{}/?protocol=resp3", server.addr)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let value: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some("v"));
    let missing: Value = redis::cmd("GET").arg("nokey").query(&mut con).unwrap();
    assert_eq!(missing, Value::Nil);
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert!(
        matches!(config, Value::Map(ref pairs) if pairs.len() == 1),
        "{config:?}"
    );
    let info: Value = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    match info {
        Value::VerbatimString { text, .. } => assert!(text.contains("resp=3"), "{text}"),
        other => panic!("CLIENT INFO should be verbatim text: {other:?}"),
    }
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("get")
        .query(&mut con)
        .unwrap();
    assert!(matches!(docs, Value::Map(_)), "{docs:?}");
}

#[test]
fn redis_py_default_configuration() {
    let server = Server::start(2, &[]);
    common::run_redis_py(
        &server,
        r#"
import os, redis
for protocol in (None, 2, 3):
    kwargs = {} if protocol is None else {"protocol": protocol}
    r = redis.Redis(port=int(os.environ["PORT"]), **kwargs)
    assert r.set("a", "b") is True
    assert r.get("a") == b"b"
    assert r.get("nokey") is None
    assert r.mget("a", "nokey") == [b"b", None]
    assert r.incr("n") >= 1
    assert r.delete("a") == 1
    assert isinstance(r.config_get("maxclients"), dict)
    assert "redis_version" in r.info()
    info = r.client_info()
    expected = protocol or 3  # redis-py 8 opens with HELLO 3 by default
    assert int(info["resp"]) == expected, info
"#,
    );
}
