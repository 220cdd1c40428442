//! Big values over real TCP: requests of several MiB pipelined back to back
//! in one write, sent in small slow pieces, and mixed with small requests on
//! the same connection; every value must read back byte for byte.
//!
//! The connection sizes its input buffer by the request it is receiving and
//! reuses it for the next one, so a value that still pointed into that
//! buffer after its request was done would be overwritten by the next
//! request: reading every value back after all of them were sent catches
//! that.

mod common;

use std::io::Write;
use std::thread;
use std::time::Duration;

use common::{Server, read_n, resp};

/// A value of `len` bytes that differs from every other key's.
fn value_of(key: &str, len: usize) -> Vec<u8> {
    let seed = key
        .bytes()
        .fold(7u8, |acc, b| acc.wrapping_mul(31).wrapping_add(b));
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

fn bulk(value: &[u8]) -> Vec<u8> {
    [
        format!("${}\r\n", value.len()).into_bytes(),
        value.to_vec(),
        b"\r\n".to_vec(),
    ]
    .concat()
}

/// Reads every key back over a fresh connection and compares.
fn assert_values(server: &Server, values: &[(String, Vec<u8>)]) {
    let mut stream = server.raw();
    for (key, value) in values {
        stream.write_all(&resp(&[b"GET", key.as_bytes()])).unwrap();
        let expected = bulk(value);
        let got = read_n(&mut stream, expected.len());
        assert!(
            got == expected,
            "GET {key}: {} bytes back, expected {} (first difference at {:?})",
            got.len(),
            expected.len(),
            got.iter().zip(&expected).position(|(a, b)| a != b)
        );
    }
}

#[test]
fn big_values_pipelined_in_one_write_read_back_equal() {
    let server = Server::start(2, &[]);
    let sizes = [
        1 << 20,
        3 << 20,
        100,
        (5 << 20) + 7,
        64 * 1024,
        (1 << 20) + 1,
        2,
    ];
    let values: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let key = format!("big:{i}");
            let value = value_of(&key, len);
            (key, value)
        })
        .collect();
    let mut request = Vec::new();
    for (key, value) in &values {
        request.extend(resp(&[b"SET", key.as_bytes(), value]));
        request.extend(resp(&[b"PING"]));
    }
    let mut stream = server.raw();
    stream.write_all(&request).unwrap();
    let expected = b"+OK\r\n+PONG\r\n".repeat(values.len());
    assert_eq!(
        String::from_utf8_lossy(&read_n(&mut stream, expected.len())),
        String::from_utf8_lossy(&expected)
    );
    // The same keys again on the same connection, overwritten with other
    // values, while the first connection's buffer is reused.
    let values2: Vec<(String, Vec<u8>)> = values
        .iter()
        .map(|(key, value)| (key.clone(), value_of(&format!("{key}/2"), value.len())))
        .collect();
    for (key, value) in &values2 {
        stream
            .write_all(&resp(&[b"SET", key.as_bytes(), value]))
            .unwrap();
        assert_eq!(read_n(&mut stream, 5), b"+OK\r\n");
    }
    assert_values(&server, &values2);
    // Again: the big values now come from the cache, which holds the
    // buffers their disk reads filled.
    assert_values(&server, &values2);
}

#[test]
fn big_values_in_slow_small_pieces_and_one_request_at_a_time() {
    let server = Server::start(1, &[]);
    let mut values = Vec::new();
    let mut stream = server.raw();
    // One request at a time, as a client with pipeline 1 sends them: the
    // buffer grown for the first is reused by the next ones.
    for i in 0..6 {
        let key = format!("one:{i}");
        let value = value_of(&key, (1 << 20) + i * 4097);
        stream
            .write_all(&resp(&[b"SET", key.as_bytes(), &value]))
            .unwrap();
        assert_eq!(read_n(&mut stream, 5), b"+OK\r\n");
        values.push((key, value));
    }
    // A 2 MiB value trickled in 1000-byte pieces with pauses (reads see
    // small pieces), followed by a small request in the same pieces.
    let key = "slow".to_string();
    let value = value_of(&key, 2 << 20);
    let request = [
        resp(&[b"SET", key.as_bytes(), &value]),
        resp(&[b"SET", b"after", b"small"]),
    ]
    .concat();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            for (i, piece) in request.chunks(1000).enumerate() {
                stream.write_all(piece).unwrap();
                if i % 256 == 0 {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    assert_eq!(read_n(&mut stream, 10), b"+OK\r\n+OK\r\n");
    writer.join().unwrap();
    values.push((key, value));
    values.push(("after".into(), b"small".to_vec()));
    assert_values(&server, &values);
}

#[test]
fn big_values_through_a_client_library() {
    let server = Server::start(2, &[]);
    let mut client = server.client();
    let mut expected = Vec::new();
    for i in 0..8 {
        let key = format!("lib:{i}");
        // Big and small alternate on one connection.
        let len = if i % 2 == 0 { (3 << 20) + i } else { 10 + i };
        let value = value_of(&key, len);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query(&mut client)
            .unwrap();
        expected.push((key, value));
    }
    for (key, value) in &expected {
        let got: Vec<u8> = redis::cmd("GET").arg(key).query(&mut client).unwrap();
        assert!(&got == value, "GET {key} differs");
    }
}
