//! The request path's fuzzing property, shared by the cargo-fuzz target
//! (`fuzz/fuzz_targets/resp_command.rs`) and its seeded CI stand-in
//! (`tests/parse_fuzz.rs`), so both check exactly the same thing.
//!
//! Properties: nothing panics; every parse step either consumes bytes or
//! reports `Incomplete` without consuming any; feeding the input in two
//! pieces yields the same requests as feeding it whole.

use bytes::BytesMut;

use super::plan::split;
use crate::commands::Command;
use crate::protocol::{ParseLimits, Parsed, parse_request};

/// Small limits so that the limit paths are reachable by a fuzzer.
pub const LIMITS: ParseLimits = ParseLimits {
    max_bulk_len: 1 << 16,
    max_args: 1 << 10,
    max_inline_len: 512,
};

/// Parses as much of `buf` as possible, also parsing and routing every
/// command; pushes one entry per request or error. Returns false once a
/// protocol error ended the stream.
pub fn drain(buf: &mut BytesMut, out: &mut Vec<String>) -> bool {
    loop {
        let before = buf.len();
        match parse_request(buf, &LIMITS) {
            Ok(Parsed::Command(args)) => {
                assert!(buf.len() < before, "a request consumed nothing");
                out.push(format!("{args:?}"));
                match Command::parse(args) {
                    Ok(command) => {
                        let _ = command.name();
                        let _ = split(command, 3);
                    }
                    Err(reply) => {
                        let mut encoded = BytesMut::new();
                        reply.encode(&mut encoded, crate::protocol::Protocol::Resp2);
                        assert!(!encoded.is_empty());
                    }
                }
            }
            Ok(Parsed::Empty) => {
                assert!(buf.len() < before, "an empty request consumed nothing");
                out.push("empty".into());
            }
            Ok(Parsed::Incomplete) => {
                assert_eq!(buf.len(), before, "Incomplete consumed bytes");
                return true;
            }
            Err(error) => {
                out.push(format!("error {error}"));
                return false;
            }
        }
    }
}

/// Checks one input: its first byte says where to cut the rest in two; the
/// whole and the two-piece parse must agree. Panics on a violation.
pub fn check_split_feed(input: &[u8]) {
    let Some((&cut, data)) = input.split_first() else {
        return;
    };
    let mut whole = Vec::new();
    drain(&mut BytesMut::from(data), &mut whole);
    let cut = (cut as usize * data.len()) / 255;
    let mut pieces = Vec::new();
    let mut buf = BytesMut::from(&data[..cut]);
    if drain(&mut buf, &mut pieces) {
        buf.extend_from_slice(&data[cut..]);
        drain(&mut buf, &mut pieces);
    }
    // A protocol error can only come earlier when the input is cut (a line
    // that is too long can be seen before its end), never differ otherwise.
    if !pieces.last().is_some_and(|p| p.starts_with("error"))
        && !whole.last().is_some_and(|p| p.starts_with("error"))
    {
        assert_eq!(whole, pieces, "split at {cut} changed the parse");
    }
}
