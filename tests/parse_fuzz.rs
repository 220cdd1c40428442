//! The libFuzzer-free half of the parser fuzzing: the properties of the
//! `fuzz/` target (`resp_command`) checked over seeded random inputs on every
//! `cargo test`, plus a replay of every saved crash in `fuzz/regressions/`.
//!
//! The coverage-guided run is one command (nightly):
//!
//! ```sh
//! cd fuzz && cargo +nightly fuzz run resp_command -- -max_total_time=300
//! ```
//!
//! `SHARDCASK_PARSE_FUZZ_CASES=<n>` runs more random cases (default 20000),
//! `SHARDCASK_PARSE_FUZZ_SEED=<seed>` replays a run.

mod common;

use common::{Rng, resp};
use shardcask::pipeline::selfcheck::check_split_feed;

/// The fuzz target's body: the first byte picks where to cut the rest.
fn check_one(input: &[u8]) {
    check_split_feed(input);
}

/// Random bytes, RESP-shaped token soup, or valid requests of every command
/// family with bytes flipped.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\n",
        b"\r",
        b"-1",
        b"0",
        b"1",
        b"2",
        b"3",
        b"-",
        b"99999999999",
        b"9223372036854775808",
        b" ",
        b"\"",
        b"'",
        b"\\x4",
        b"\\x41",
        b"\\",
        b"\x00",
        b"\xff",
        b"GET",
        b"SET",
        b"EX",
        b"PX",
        b"NX",
        b"XX",
        b"KEEPTTL",
        b"GET",
        b"PXAT",
        b"MSET",
        b"MSETNX",
        b"MGET",
        b"DEL",
        b"EXISTS",
        b"INCRBY",
        b"DECRBY",
        b"GETRANGE",
        b"SETRANGE",
        b"EXPIRE",
        b"GT",
        b"LT",
        b"SCAN",
        b"MATCH",
        b"COUNT",
        b"KEYS",
        b"CLIENT",
        b"SETNAME",
        b"HELLO",
        b"CONFIG",
        b"COMMAND",
        b"INFO",
        b"{t}",
        b"k",
        b"*?[a-",
        b"\\",
    ];
    let mut out = vec![rng.next_u64() as u8];
    match rng.below(3) {
        0 => {
            let len = rng.below(600) as usize;
            out.extend(rng.bytes(len));
        }
        1 => {
            for _ in 0..rng.below(120) {
                out.extend_from_slice(TOKENS[rng.below(TOKENS.len() as u64) as usize]);
            }
        }
        _ => {
            for _ in 0..rng.below(6) + 1 {
                let nr_args = rng.below(6) as usize + 1;
                let args: Vec<Vec<u8>> = (0..nr_args)
                    .map(|_| {
                        if rng.below(3) == 0 {
                            rng.next_u64().to_string().into_bytes()
                        } else {
                            TOKENS[rng.below(TOKENS.len() as u64) as usize].to_vec()
                        }
                    })
                    .collect();
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                out.extend(resp(&refs));
            }
            for _ in 0..rng.below(3) {
                let at = 1 + rng.below(out.len() as u64 - 1) as usize;
                out[at] = rng.next_u64() as u8;
            }
        }
    }
    out
}

#[test]
fn random_requests_never_panic_and_parse_the_same_in_pieces() {
    let seed = Rng::seed_from_env("SHARDCASK_PARSE_FUZZ_SEED");
    let cases: u64 = common::env_count("SHARDCASK_PARSE_FUZZ_CASES", 20_000);
    println!(
        "parse fuzz: {cases} cases, seed {seed} (replay with SHARDCASK_PARSE_FUZZ_SEED={seed})"
    );
    let mut rng = Rng::new(seed);
    for case in 0..cases {
        let input = random_input(&mut rng);
        let result = std::panic::catch_unwind(|| check_one(&input));
        if let Err(panic) = result {
            let path = std::env::temp_dir().join(format!("shardcask-parse-crash-{seed}-{case}"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "case {case} (seed {seed}) failed; input saved to {} (copy it into fuzz/regressions/): {panic:?}",
                path.display()
            );
        }
    }
}

#[test]
fn saved_fuzz_crashes_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            continue;
        }
        check_one(&std::fs::read(entry.path()).unwrap());
        replayed += 1;
    }
    println!("replayed {replayed} saved fuzz inputs");
}
