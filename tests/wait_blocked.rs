//! A client blocked in `WAIT 1 0` (no replicas: blocked until shutdown)
//! leaves as soon as CLIENT KILL shuts it down or it hangs up: its
//! connection ends and CLIENT LIST no longer shows it.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use common::redis_server::{Conn, V};

fn call(conn: &mut Conn, args: &[&str]) -> V {
    conn.send(&[args.iter().map(|a| a.as_bytes().to_vec()).collect()]);
    conn.read()
}

fn client_list(conn: &mut Conn) -> String {
    match call(conn, &["CLIENT", "LIST"]) {
        V::Bulk(text) | V::Verbatim(_, text) => String::from_utf8(text).unwrap(),
        other => panic!("CLIENT LIST: {other:?}"),
    }
}

/// A connection blocked in WAIT 1 0, and its client id once CLIENT LIST
/// shows it running WAIT.
fn blocked_client(server: &Server, watcher: &mut Conn) -> (Conn, i64) {
    let mut blocked = Conn::open(server.addr.port());
    let V::Int(id) = call(&mut blocked, &["CLIENT", "ID"]) else {
        panic!("CLIENT ID");
    };
    blocked.send(&[vec![b"WAIT".to_vec(), b"1".to_vec(), b"0".to_vec()]]);
    let line_start = format!("id={id} ");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = client_list(watcher);
        if list
            .lines()
            .any(|line| line.starts_with(&line_start) && line.contains(" cmd=wait"))
        {
            return (blocked, id);
        }
        assert!(Instant::now() < deadline, "never blocked in WAIT:\n{list}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 20 s) for client `id` to leave CLIENT LIST.
fn assert_leaves(watcher: &mut Conn, id: i64) {
    let line_start = format!("id={id} ");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = client_list(watcher);
        if !list.lines().any(|line| line.starts_with(&line_start)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "client {id} is still listed:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_client_blocked_in_wait_is_freed_by_client_kill_and_by_hanging_up() {
    let server = Server::start(2, &[]);
    let mut watcher = Conn::open(server.addr.port());

    let (_killed, id) = blocked_client(&server, &mut watcher);
    assert_eq!(
        call(&mut watcher, &["CLIENT", "KILL", "ID", &id.to_string()]),
        V::Int(1)
    );
    assert_leaves(&mut watcher, id);

    let (hung_up, id) = blocked_client(&server, &mut watcher);
    drop(hung_up);
    assert_leaves(&mut watcher, id);

    // The server still serves, and a WAIT with a timeout still times out.
    assert_eq!(call(&mut watcher, &["WAIT", "1", "10"]), V::Int(0));
}
