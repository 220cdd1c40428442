//! Raw RESP over real TCP: pipelines, inline commands, and every kind of
//! malformed input. After each bad input the server must answer other
//! clients at once and keep the data it had.

mod common;

use std::io::Write;

use common::{Server, read_n, read_to_close, roundtrip};

#[test]
fn pipeline_of_1000_commands_in_one_write() {
    let server = Server::start(2, &[]);
    let mut stream = server.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        let key = format!("pipe:{i}");
        let value = format!("v{i}");
        request.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
        expected.extend_from_slice(b"+OK\r\n");
    }
    for i in 0..500 {
        let key = format!("pipe:{i}");
        let value = format!("v{i}");
        request.extend_from_slice(
            format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        expected.extend_from_slice(format!("${}\r\n{value}\r\n", value.len()).as_bytes());
    }
    let got = roundtrip(&mut stream, &request, expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn pipeline_split_at_every_byte_boundary_still_parses() {
    let server = Server::start(1, &[]);
    let mut stream = server.raw();
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    for &byte in request.iter() {
        stream.write_all(&[byte]).unwrap();
        stream.flush().unwrap();
    }
    assert_eq!(read_n(&mut stream, 5 + 11), b"+OK\r\n$5\r\nhello\r\n");
}

#[test]
fn inline_commands() {
    let server = Server::start(2, &[]);
    let mut stream = server.raw();
    let got = roundtrip(
        &mut stream,
        b"SET inline \"two words\"\r\nGET inline\r\nPING\r\n",
        5 + 15 + 7,
    );
    assert_eq!(got, b"+OK\r\n$9\r\ntwo words\r\n+PONG\r\n");
}

#[test]
fn unknown_command_and_arity_errors_keep_the_connection() {
    let server = Server::start(1, &[]);
    let mut stream = server.raw();
    let request = b"*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n";
    let expected: &[u8] = b"-ERR unknown command 'NOTACMD', with args beginning with: 'x' \r\n-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n";
    assert_eq!(
        String::from_utf8_lossy(&roundtrip(&mut stream, request, expected.len())),
        String::from_utf8_lossy(expected)
    );
}

/// Sends `bad`, expects a protocol error and a closed connection, then checks
/// the server still serves a prepared key to a new client.
fn assert_protocol_error_closes(server: &Server, bad: &[u8], message: &str) {
    let mut stream = server.raw();
    stream.write_all(bad).unwrap();
    let reply = String::from_utf8_lossy(&read_to_close(&mut stream)).to_string();
    assert!(
        reply.starts_with(&format!("-ERR Protocol error: {message}")),
        "input {:?}: got {reply:?}",
        String::from_utf8_lossy(&bad[..bad.len().min(60)])
    );
    let mut other = server.raw();
    assert_eq!(
        roundtrip(&mut other, b"GET keep\r\n", 10),
        b"$4\r\nsafe\r\n"
    );
}

#[test]
fn malformed_input_gets_protocol_errors_and_nothing_else_changes() {
    let server = Server::start(2, &["--max-value-size", "1MiB"]);
    let mut setup = server.raw();
    assert_eq!(roundtrip(&mut setup, b"SET keep safe\r\n", 5), b"+OK\r\n");

    assert_protocol_error_closes(&server, b"*1\r\n$-5\r\n", "invalid bulk length");
    assert_protocol_error_closes(&server, b"*1\r\n$abc\r\n", "invalid bulk length");
    assert_protocol_error_closes(
        &server,
        b"*1\r\n$9223372036854775807\r\n",
        "invalid bulk length",
    );
    // Over --max-value-size: refused from the header, nothing allocated.
    assert_protocol_error_closes(
        &server,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
        "invalid bulk length",
    );
    assert_protocol_error_closes(&server, b"*-9x\r\n", "invalid multibulk length");
    assert_protocol_error_closes(&server, b"*99999999999\r\n", "invalid multibulk length");
    assert_protocol_error_closes(&server, b"*1\r\n+PING\r\n", "expected '$', got '+'");
    assert_protocol_error_closes(&server, b"SET a \"unbalanced\r\n", "unbalanced quotes");
    // Random binary garbage that starts like a multibulk.
    assert_protocol_error_closes(
        &server,
        b"*2\r\n\x00\xff\xfe garbage \x01\r\n",
        "expected '$'",
    );
}

#[test]
fn an_endless_line_without_newline_is_cut_off() {
    let server = Server::start(1, &[]);
    let mut setup = server.raw();
    assert_eq!(roundtrip(&mut setup, b"SET keep safe\r\n", 5), b"+OK\r\n");
    // The server must give up long before 100 MiB; writes fail once it closed.
    let sent = common::stream_endless(
        &server,
        b"",
        b'A',
        "-ERR Protocol error: too big inline request",
    );
    assert!(
        sent < 100 * 1024 * 1024,
        "the server kept reading an endless line"
    );
    let mut other = server.raw();
    assert_eq!(
        roundtrip(&mut other, b"GET keep\r\n", 10),
        b"$4\r\nsafe\r\n"
    );
}

#[test]
fn truncated_frame_then_close_leaves_server_healthy() {
    let server = Server::start(2, &[]);
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk"[..],
        b"*2\r\n$3\r\nGE",
        b"*1",
        b"GET k",
    ] {
        let mut stream = server.raw();
        stream.write_all(partial).unwrap();
        drop(stream);
    }
    let mut other = server.raw();
    assert_eq!(roundtrip(&mut other, b"GET k\r\n", 5), b"$-1\r\n");
}

#[test]
fn too_many_connections_are_refused_with_an_error() {
    let server = Server::start(1, &["--max-connections", "3"]);
    let held: Vec<_> = (0..3)
        .map(|_| {
            let mut s = server.raw();
            assert_eq!(roundtrip(&mut s, b"PING\r\n", 7), b"+PONG\r\n");
            s
        })
        .collect();
    let mut extra = server.raw();
    let reply = String::from_utf8_lossy(&read_to_close(&mut extra)).to_string();
    assert_eq!(reply, "-ERR max number of clients reached\r\n");
    drop(held);
    // Slots free up once clients leave.
    let mut retry = None;
    for _ in 0..100 {
        let mut s = server.raw();
        if roundtrip(&mut s, b"PING\r\n", 7) == b"+PONG\r\n" {
            retry = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(retry.is_some(), "connections were not released");
}
