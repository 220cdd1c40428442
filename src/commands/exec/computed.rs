//! The commands the server computes under latches (RENAME, RENAMENX, COPY,
//! BITOP, LCS, SORT): a pure function from the values of the keys the command
//! names to its reply and the writes to make. The server reads the inputs
//! and applies the writes on the keys' owning shards while it holds every
//! key latched, so the command is atomic wherever its keys live.

use bytes::{Bytes, BytesMut};

use crate::commands::{BitOpKind, Command, LcsMode};
use crate::protocol::Reply;

/// A key's value and absolute expiry in ms (0: none); `None`: absent.
pub type RawValue = Option<(Bytes, u64)>;

/// A write a computed command makes: the key, and its new value and expiry
/// (`None`: delete it).
pub type RawWrite = (Bytes, Option<(Bytes, u64)>);

/// Computes `command` from `inputs`, the values of `command.keys()` in
/// order. `max_value_size` bounds LCS's working memory as Redis bounds it
/// by proto-max-bulk-len.
pub fn compute(
    command: &Command,
    inputs: &[RawValue],
    max_value_size: u64,
) -> (Reply, Vec<RawWrite>) {
    let input = |index: usize| inputs.get(index).cloned().flatten();
    match command {
        Command::Rename { from, to, nx } => {
            let Some(source) = input(0) else {
                return (Reply::err("ERR no such key"), Vec::new());
            };
            if from == to {
                return (if *nx { Reply::Integer(0) } else { Reply::OK }, Vec::new());
            }
            if *nx && input(1).is_some() {
                return (Reply::Integer(0), Vec::new());
            }
            let writes = vec![(to.clone(), Some(source)), (from.clone(), None)];
            (if *nx { Reply::Integer(1) } else { Reply::OK }, writes)
        }
        Command::Copy { to, replace, .. } => {
            let Some(source) = input(0) else {
                return (Reply::Integer(0), Vec::new());
            };
            if input(1).is_some() && !replace {
                return (Reply::Integer(0), Vec::new());
            }
            (Reply::Integer(1), vec![(to.clone(), Some(source))])
        }
        Command::BitOp { op, keys } => {
            let sources: Vec<Bytes> = (1..keys.len())
                .map(|index| input(index).map_or_else(Bytes::new, |(value, _)| value))
                .collect();
            let result = bitop(*op, &sources);
            let len = result.len() as i64;
            let destination = keys[0].clone();
            let write = if result.is_empty() {
                // An empty result deletes the destination (if it exists).
                if input(0).is_some() {
                    vec![(destination, None)]
                } else {
                    Vec::new()
                }
            } else {
                vec![(destination, Some((result, 0)))]
            };
            (Reply::Integer(len), write)
        }
        Command::Sort { store, .. } => {
            // Strings are all there is, and SORT sorts lists, sets and
            // sorted sets: a key that exists has the wrong type, a missing
            // one is an empty list (stored as no key at all).
            if input(0).is_some() {
                return (
                    Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value"),
                    Vec::new(),
                );
            }
            match store {
                None => (Reply::Array(Vec::new()), Vec::new()),
                Some(destination) => {
                    let delete = input(1).map(|_| (destination.clone(), None));
                    (Reply::Integer(0), delete.into_iter().collect())
                }
            }
        }
        Command::Lcs { mode, .. } => {
            let value = |index: usize| input(index).map_or_else(Bytes::new, |(value, _)| value);
            (lcs(&value(0), &value(1), *mode, max_value_size), Vec::new())
        }
        other => (
            Reply::error(format!(
                "ERR internal error: '{}' is not computed",
                other.name()
            )),
            Vec::new(),
        ),
    }
}

/// BITOP over `sources` (missing keys are empty strings): the result is as
/// long as the longest source, shorter ones count as zero-padded.
fn bitop(op: BitOpKind, sources: &[Bytes]) -> Bytes {
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let byte = |source: &Bytes, index: usize| source.get(index).copied().unwrap_or(0);
    let mut out = BytesMut::zeroed(len);
    for (index, slot) in out.iter_mut().enumerate() {
        let mut bytes = sources.iter().map(|source| byte(source, index));
        let first = bytes.next().unwrap_or(0);
        *slot = match op {
            BitOpKind::Not => !first,
            BitOpKind::And => bytes.fold(first, |acc, b| acc & b),
            BitOpKind::Or => bytes.fold(first, |acc, b| acc | b),
            BitOpKind::Xor => bytes.fold(first, |acc, b| acc ^ b),
        };
    }
    out.freeze()
}

/// LCS with Redis's table, walk and replies (the walk goes from the ends of
/// both strings; on a tie between the two directions it moves in `b`).
fn lcs(a: &[u8], b: &[u8], mode: LcsMode, max_value_size: u64) -> Reply {
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Reply::err("ERR String too long for LCS");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > max_value_size {
        return Reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let width = blen + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let total = table[alen * width + blen];
    if mode == LcsMode::Len {
        return Reply::Integer(i64::from(total));
    }
    let (min_match_len, with_match_len) = match mode {
        LcsMode::Idx {
            min_match_len,
            with_match_len,
        } => (min_match_len, with_match_len),
        LcsMode::String | LcsMode::Len => (0, false),
    };
    let mut common = vec![0u8; total as usize];
    let mut remaining = total as usize;
    let mut matches = Vec::new();
    // The range being extended backwards; `a_start == alen` means none.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[remaining - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            remaining -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as u64;
            if min_match_len == 0 || match_len >= min_match_len {
                let range = |start: usize, end: usize| {
                    Reply::Array(vec![
                        Reply::Integer(start as i64),
                        Reply::Integer(end as i64),
                    ])
                };
                let mut entry = vec![range(a_start, a_end), range(b_start, b_end)];
                if with_match_len {
                    entry.push(Reply::Integer(match_len as i64));
                }
                matches.push(Reply::Array(entry));
            }
            a_start = alen;
        }
    }
    match mode {
        LcsMode::Idx { .. } => Reply::Map(vec![
            (Reply::bulk(b"matches"), Reply::Array(matches)),
            (Reply::bulk(b"len"), Reply::Integer(i64::from(total))),
        ]),
        LcsMode::String | LcsMode::Len => Reply::Bulk(Bytes::from(common)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_matches_redis_examples() {
        // The examples of Redis's LCS documentation.
        let (a, b) = (b"ohmytext", b"mynewtext");
        assert_eq!(lcs(a, b, LcsMode::String, 1 << 20), Reply::bulk(b"mytext"));
        assert_eq!(lcs(a, b, LcsMode::Len, 1 << 20), Reply::Integer(6));
        let idx = lcs(
            a,
            b,
            LcsMode::Idx {
                min_match_len: 4,
                with_match_len: true,
            },
            1 << 20,
        );
        let range = |s: i64, e: i64| Reply::Array(vec![Reply::Integer(s), Reply::Integer(e)]);
        assert_eq!(
            idx,
            Reply::Map(vec![
                (
                    Reply::bulk(b"matches"),
                    Reply::Array(vec![Reply::Array(vec![
                        range(4, 7),
                        range(5, 8),
                        Reply::Integer(4)
                    ])])
                ),
                (Reply::bulk(b"len"), Reply::Integer(6)),
            ])
        );
    }

    #[test]
    fn bitop_pads_and_negates() {
        let sources = [Bytes::from_static(b"\xff\x0f"), Bytes::from_static(b"\x0f")];
        assert_eq!(&bitop(BitOpKind::And, &sources)[..], b"\x0f\x00");
        assert_eq!(&bitop(BitOpKind::Or, &sources)[..], b"\xff\x0f");
        assert_eq!(&bitop(BitOpKind::Xor, &sources)[..], b"\xf0\x0f");
        assert_eq!(&bitop(BitOpKind::Not, &sources[1..])[..], b"\xf0");
    }
}
