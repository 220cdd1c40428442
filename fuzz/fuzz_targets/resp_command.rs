//! Fuzzes the request path up to routing: RESP parsing (multibulk and
//! inline), `Command::parse`, and splitting a keyed command across shards.
//!
//! Properties: nothing panics; every parse step either consumes bytes or
//! reports `Incomplete` without consuming any; feeding the input in two
//! pieces (split where the first byte says) yields the same requests as
//! feeding it whole.
//!
//! Run (nightly):
//!     cd fuzz && cargo +nightly fuzz run resp_command -- -max_total_time=300
//! A crash is saved under fuzz/artifacts/resp_command/; copy it to
//! fuzz/regressions/ and `cargo test --test parse_fuzz` replays it in CI.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shardcask::pipeline::selfcheck::check_split_feed(data);
});
