//! Planning: which shard(s) a keyed command goes to, how a multi-key command
//! is split into per-shard parts, and how the parts' replies are gathered
//! back in argument order.

use bytes::Bytes;

pub use crate::commands::Gather;
use crate::commands::{Command, Keys, Route};
use crate::keyspace::shard_for;
use crate::protocol::Reply;

/// The key of a single-key command; `None` for multi-key and server-level
/// commands. The common case of routing, without allocating.
pub fn single_key(command: &Command) -> Option<&Bytes> {
    match command.keys() {
        Keys::One(key) => Some(key),
        Keys::None | Keys::Two(..) | Keys::List(_) | Keys::Pairs(_) => None,
    }
}

/// The keys a keyed command touches; empty for server-level commands.
pub fn keys_of(command: &Command) -> Vec<&Bytes> {
    command.keys().to_vec()
}

/// One shard's part of a split command.
pub struct Part {
    /// The owning shard.
    pub shard: usize,
    /// The command restricted to that shard's keys.
    pub command: Command,
    /// Argument positions (key index) of those keys in the original command.
    pub positions: Vec<usize>,
}

/// The routing of one keyed command.
pub enum Split {
    /// The whole command goes to one shard.
    One(usize, Command),
    /// Parts for several shards, gathered into one reply.
    Parts {
        /// The parts, one per shard involved.
        parts: Vec<Part>,
        /// How to combine their replies.
        gather: Gather,
        /// Number of keys in the original command.
        nr_keys: usize,
    },
    /// A command that must see and change all its keys at once: MSETNX
    /// whose keys span shards, and the computed commands (RENAME, COPY,
    /// BITOP, LCS) wherever their keys are. The server latches the keys.
    Latched(Command),
}

/// Routes a keyed command among `nr_shards` shards.
pub fn split(command: Command, nr_shards: usize) -> Split {
    // Fast path (every GET and SET): no allocation for a single key, no
    // hashing with one shard.
    if let Some(key) = single_key(&command) {
        let target = if nr_shards == 1 {
            0
        } else {
            shard_for(key, nr_shards)
        };
        return Split::One(target, command);
    }
    if command.spec().route == Route::Keyed(Gather::Computed) {
        return Split::Latched(command);
    }
    if nr_shards == 1 {
        return Split::One(0, command);
    }
    let keys = keys_of(&command);
    let first = keys.first().map_or(0, |k| shard_for(k, nr_shards));
    if keys.iter().all(|k| shard_for(k, nr_shards) == first) {
        return Split::One(first, command);
    }
    let gather = match command.spec().route {
        Route::Keyed(Gather::Latched | Gather::Computed) => return Split::Latched(command),
        Route::Keyed(gather @ (Gather::Array | Gather::Sum | Gather::AllOk)) => gather,
        // Keys that must share a slot: the owner of the first answers (a
        // CROSSSLOT check belongs in front of this).
        Route::Keyed(Gather::One) | Route::Session | Route::Here | Route::Everywhere => {
            return Split::One(first, command);
        }
    };
    let nr_keys = keys.len();
    let mut positions = vec![Vec::new(); nr_shards];
    for (index, key) in keys.iter().enumerate() {
        positions[shard_for(key, nr_shards)].push(index);
    }
    let parts = positions
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(shard, positions)| Part {
            shard,
            command: command.with_keys(&positions),
            positions,
        })
        .collect();
    Split::Parts {
        parts,
        gather,
        nr_keys,
    }
}

/// Combines the replies of a split command's parts, given with their parts'
/// argument positions.
pub fn gather(gather: Gather, nr_keys: usize, parts: Vec<(Vec<usize>, Reply)>) -> Reply {
    if let Some((_, error)) = parts.iter().find(|(_, r)| r.is_error()) {
        return error.clone();
    }
    match gather {
        Gather::Array => {
            let mut out = vec![Reply::Nil; nr_keys];
            for (positions, reply) in parts {
                let Reply::Array(items) = reply else {
                    return Reply::err("ERR internal error: bad MGET part reply");
                };
                for (position, item) in positions.into_iter().zip(items) {
                    out[position] = item;
                }
            }
            Reply::Array(out)
        }
        Gather::Sum => Reply::Integer(
            parts
                .iter()
                .map(|(_, r)| if let Reply::Integer(n) = r { *n } else { 0 })
                .sum(),
        ),
        Gather::AllOk => Reply::OK,
        // Never split, so never gathered: one part answers for all.
        Gather::One | Gather::Latched | Gather::Computed => parts.into_iter().next().map_or(
            Reply::err("ERR internal error: no part answered"),
            |(_, r)| r,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<Bytes> {
        names
            .iter()
            .map(|n| Bytes::copy_from_slice(n.as_bytes()))
            .collect()
    }

    #[test]
    fn hashtagged_keys_stay_together() {
        match split(Command::MGet(keys(&["{u}a", "{u}b", "{u}c"])), 4) {
            Split::One(_, Command::MGet(k)) => assert_eq!(k.len(), 3),
            _ => panic!("hashtagged keys must go to one shard"),
        }
    }

    #[test]
    fn split_and_gather_keep_argument_order() {
        let names: Vec<String> = (0..20).map(|i| format!("key:{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let Split::Parts {
            parts,
            gather: how,
            nr_keys,
        } = split(Command::MGet(keys(&refs)), 3)
        else {
            panic!("20 keys over 3 shards must split");
        };
        assert!(parts.len() > 1);
        // Answer each part with its own keys as values and check the order.
        let answered = parts
            .into_iter()
            .map(|part| {
                let Command::MGet(ks) = part.command else {
                    unreachable!()
                };
                (
                    part.positions,
                    Reply::Array(ks.into_iter().map(Reply::Bulk).collect()),
                )
            })
            .collect();
        assert_eq!(
            gather(how, nr_keys, answered),
            Reply::Array(keys(&refs).into_iter().map(Reply::Bulk).collect())
        );
    }

    #[test]
    fn sums_and_errors() {
        let parts = vec![(vec![0], Reply::Integer(2)), (vec![1], Reply::Integer(3))];
        assert_eq!(gather(Gather::Sum, 2, parts), Reply::Integer(5));
        let parts = vec![(vec![0], Reply::OK), (vec![1], Reply::err("ERR boom"))];
        assert_eq!(gather(Gather::AllOk, 2, parts), Reply::err("ERR boom"));
    }
}
