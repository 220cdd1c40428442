//! Where each command keeps its keys: the one exhaustive listing the router
//! reads to find a command's shard and to split a multi-key command into
//! per-shard parts. (A variant missing here does not compile.)

use bytes::Bytes;

use super::Command;

/// The keys of one command.
#[derive(Debug, Clone, Copy)]
pub enum Keys<'a> {
    /// A server-level command: no key.
    None,
    /// One key.
    One(&'a Bytes),
    /// Two keys (RENAME, COPY, LCS).
    Two(&'a Bytes, &'a Bytes),
    /// A list of keys (MGET, DEL, UNLINK, EXISTS, ...).
    List(&'a [Bytes]),
    /// Key/value pairs (MSET, MSETNX).
    Pairs(&'a [(Bytes, Bytes)]),
}

impl<'a> Keys<'a> {
    /// The keys, in argument order.
    pub fn to_vec(self) -> Vec<&'a Bytes> {
        match self {
            Keys::None => Vec::new(),
            Keys::One(key) => vec![key],
            Keys::Two(first, second) => vec![first, second],
            Keys::List(keys) => keys.iter().collect(),
            Keys::Pairs(pairs) => pairs.iter().map(|(key, _)| key).collect(),
        }
    }
}

/// A pattern matching every keyed command (the ones a shard's `exec`
/// applies); for the exhaustive matches of the server layer.
macro_rules! keyed_command {
    () => {
        $crate::commands::Command::Get(_)
            | $crate::commands::Command::Set { .. }
            | $crate::commands::Command::SetNx(..)
            | $crate::commands::Command::GetSet(..)
            | $crate::commands::Command::GetDel(_)
            | $crate::commands::Command::GetEx(..)
            | $crate::commands::Command::MGet(_)
            | $crate::commands::Command::MSet(_)
            | $crate::commands::Command::MSetNx(_)
            | $crate::commands::Command::Del(_)
            | $crate::commands::Command::Unlink(_)
            | $crate::commands::Command::Exists(_)
            | $crate::commands::Command::Type(_)
            | $crate::commands::Command::Strlen(_)
            | $crate::commands::Command::Append(..)
            | $crate::commands::Command::IncrBy(..)
            | $crate::commands::Command::GetRange(..)
            | $crate::commands::Command::SetRange(..)
            | $crate::commands::Command::Expire(..)
            | $crate::commands::Command::Ttl(..)
            | $crate::commands::Command::ExpireTime(..)
            | $crate::commands::Command::Persist(_)
            | $crate::commands::Command::IncrByFloat(..)
            | $crate::commands::Command::SetBit(..)
            | $crate::commands::Command::GetBit(..)
            | $crate::commands::Command::BitCount(..)
            | $crate::commands::Command::BitPos(..)
            | $crate::commands::Command::Object(..)
            | $crate::commands::Command::ObjectHelp
            | $crate::commands::Command::MemoryUsage(_)
            | $crate::commands::Command::Dump(_)
            | $crate::commands::Command::BitField { .. }
            | $crate::commands::Command::Restore { .. }
    };
}
pub(crate) use keyed_command;

/// A pattern matching every command answered by the server layer, never
/// by a shard's `exec`: the server-level ones and those the server computes
/// under latches (RENAME, COPY, BITOP, LCS).
macro_rules! server_command {
    () => {
        $crate::commands::Command::Ping(_)
            | $crate::commands::Command::Echo(_)
            | $crate::commands::Command::Quit
            | $crate::commands::Command::Monitor
            | $crate::commands::Command::Reset
            | $crate::commands::Command::Select(_)
            | $crate::commands::Command::Hello { .. }
            | $crate::commands::Command::Command(_)
            | $crate::commands::Command::Client(_)
            | $crate::commands::Command::ConfigGet(_)
            | $crate::commands::Command::ConfigSet(_)
            | $crate::commands::Command::ConfigOther(_)
            | $crate::commands::Command::Info(_)
            | $crate::commands::Command::Slowlog(_)
            | $crate::commands::Command::Latency(_)
            | $crate::commands::Command::Time
            | $crate::commands::Command::DbSize
            | $crate::commands::Command::FlushAll
            | $crate::commands::Command::Shutdown
            | $crate::commands::Command::Merge { .. }
            | $crate::commands::Command::Keys(_)
            | $crate::commands::Command::Scan { .. }
            | $crate::commands::Command::Multi
            | $crate::commands::Command::Exec
            | $crate::commands::Command::Discard
            | $crate::commands::Command::Watch(_)
            | $crate::commands::Command::Unwatch
            | $crate::commands::Command::Cluster(_)
            | $crate::commands::Command::RandomKey
            | $crate::commands::Command::Wait { .. }
            | $crate::commands::Command::Rename { .. }
            | $crate::commands::Command::Copy { .. }
            | $crate::commands::Command::Migrate(_)
            | $crate::commands::Command::BitOp { .. }
            | $crate::commands::Command::Lcs { .. }
            | $crate::commands::Command::Sort { .. }
    };
}
pub(crate) use server_command;

fn pick<T: Clone>(items: &[T], positions: &[usize]) -> Vec<T> {
    positions.iter().map(|&i| items[i].clone()).collect()
}

impl Command {
    /// The keys this command touches.
    pub fn keys(&self) -> Keys<'_> {
        use Command as C;
        match self {
            C::Ping(_)
            | C::Echo(_)
            | C::Quit
            | C::Monitor
            | C::Reset
            | C::Select(_)
            | C::Hello { .. }
            | C::Command(_)
            | C::Client(_)
            | C::ConfigGet(_)
            | C::ConfigSet(_)
            | C::ConfigOther(_)
            | C::Info(_)
            | C::Slowlog(_)
            | C::Latency(_)
            | C::Time
            | C::DbSize
            | C::FlushAll
            | C::Shutdown
            | C::Merge { .. }
            | C::Keys(_)
            | C::Scan { .. }
            | C::Multi
            | C::Exec
            | C::Discard
            | C::Unwatch
            | C::Cluster(_)
            | C::RandomKey
            | C::Wait { .. }
            | C::ObjectHelp => Keys::None,
            C::Rename { from, to, .. } | C::Copy { from, to, .. } => Keys::Two(from, to),
            C::Lcs { a, b, .. } => Keys::Two(a, b),
            C::Sort {
                key,
                store: Some(destination),
                ..
            } => Keys::Two(key, destination),
            // A list of one, not `One`: the single-key fast path would send
            // it to a shard's executor, and SORT is computed under a latch.
            C::Sort {
                key, store: None, ..
            } => Keys::List(std::slice::from_ref(key)),
            C::BitOp { keys, .. } => Keys::List(keys),
            C::Migrate(migrate) => Keys::List(&migrate.keys),
            C::IncrByFloat(key, _)
            | C::SetBit(key, ..)
            | C::GetBit(key, _)
            | C::BitCount(key, _)
            | C::BitPos(key, ..)
            | C::Object(_, key)
            | C::MemoryUsage(key)
            | C::Dump(key)
            | C::BitField { key, .. }
            | C::Restore { key, .. } => Keys::One(key),
            C::Watch(keys) => Keys::List(keys),
            C::Get(key)
            | C::GetDel(key)
            | C::GetEx(key, _)
            | C::Type(key)
            | C::Strlen(key)
            | C::IncrBy(key, _)
            | C::GetRange(key, _, _)
            | C::Ttl(key, _)
            | C::ExpireTime(key, _)
            | C::Persist(key)
            | C::Expire(key, _, _)
            | C::Set { key, .. }
            | C::SetNx(key, _)
            | C::GetSet(key, _)
            | C::Append(key, _)
            | C::SetRange(key, _, _) => Keys::One(key),
            C::MGet(keys) | C::Del(keys) | C::Unlink(keys) | C::Exists(keys) => Keys::List(keys),
            C::MSet(pairs) | C::MSetNx(pairs) => Keys::Pairs(pairs),
        }
    }

    /// The part of a multi-key command holding only the keys at `positions`
    /// (indexes into [`Command::keys`]); a command of one key or none comes
    /// back whole.
    pub fn with_keys(&self, positions: &[usize]) -> Command {
        use Command as C;
        match self {
            C::MGet(keys) => C::MGet(pick(keys, positions)),
            C::Del(keys) => C::Del(pick(keys, positions)),
            C::Unlink(keys) => C::Unlink(pick(keys, positions)),
            C::Exists(keys) => C::Exists(pick(keys, positions)),
            C::MSet(pairs) => C::MSet(pick(pairs, positions)),
            C::MSetNx(pairs) => C::MSetNx(pick(pairs, positions)),
            C::Ping(_)
            | C::Echo(_)
            | C::Quit
            | C::Monitor
            | C::Reset
            | C::Select(_)
            | C::Hello { .. }
            | C::Command(_)
            | C::Client(_)
            | C::ConfigGet(_)
            | C::ConfigSet(_)
            | C::ConfigOther(_)
            | C::Info(_)
            | C::Slowlog(_)
            | C::Latency(_)
            | C::Time
            | C::DbSize
            | C::FlushAll
            | C::Shutdown
            | C::Merge { .. }
            | C::Keys(_)
            | C::Scan { .. }
            | C::Multi
            | C::Exec
            | C::Discard
            | C::Watch(_)
            | C::Unwatch
            | C::Cluster(_)
            | C::RandomKey
            | C::Wait { .. }
            | C::ObjectHelp
            | C::Rename { .. }
            | C::Copy { .. }
            | C::Migrate(_)
            | C::Lcs { .. }
            | C::Sort { .. }
            | C::BitOp { .. }
            | C::IncrByFloat(..)
            | C::SetBit(..)
            | C::GetBit(..)
            | C::BitCount(..)
            | C::BitPos(..)
            | C::Object(..)
            | C::MemoryUsage(_)
            | C::Dump(_)
            | C::BitField { .. }
            | C::Restore { .. }
            | C::Get(_)
            | C::GetDel(_)
            | C::GetEx(..)
            | C::Type(_)
            | C::Strlen(_)
            | C::IncrBy(..)
            | C::GetRange(..)
            | C::Ttl(..)
            | C::ExpireTime(..)
            | C::Persist(_)
            | C::Expire(..)
            | C::Set { .. }
            | C::SetNx(..)
            | C::GetSet(..)
            | C::Append(..)
            | C::SetRange(..) => self.clone(),
        }
    }
}
