//! The command table: one [`CommandSpec`] row per command name (the rows
//! are in `specs/`), the single place a command's name, arity, flags, key
//! positions, docs, parser and route are given. `Command::parse` finds the
//! row, checks the arity and calls its parser; COMMAND answers from the rows;
//! the connection routes by [`CommandSpec::route`]; `Command::name`/`is_write`
//! read the row that [`Command::spec`] picks for each variant (an exhaustive
//! match: a variant without a row does not compile).

use super::row::CommandSpec;
use super::{ClusterSub, Command, GetExExpiry, specs};

/// Every command, sorted by name.
pub static COMMANDS: &[&CommandSpec] = &[
    &specs::APPEND,
    &specs::ASKING,
    &specs::BGREWRITEAOF,
    &specs::BITCOUNT,
    &specs::BITFIELD,
    &specs::BITFIELD_RO,
    &specs::BITOP,
    &specs::BITPOS,
    &specs::CLIENT,
    &specs::CLUSTER,
    &specs::COMMAND,
    &specs::CONFIG,
    &specs::COPY,
    &specs::DBSIZE,
    &specs::DECR,
    &specs::DECRBY,
    &specs::DEL,
    &specs::DISCARD,
    &specs::DUMP,
    &specs::ECHO,
    &specs::EXEC,
    &specs::EXISTS,
    &specs::EXPIRE,
    &specs::EXPIREAT,
    &specs::EXPIRETIME,
    &specs::FLUSHALL,
    &specs::FLUSHDB,
    &specs::GET,
    &specs::GETBIT,
    &specs::GETDEL,
    &specs::GETEX,
    &specs::GETRANGE,
    &specs::GETSET,
    &specs::HELLO,
    &specs::INCR,
    &specs::INCRBY,
    &specs::INCRBYFLOAT,
    &specs::INFO,
    &specs::KEYS,
    &specs::LATENCY,
    &specs::LCS,
    &specs::MEMORY,
    &specs::MERGE,
    &specs::MGET,
    &specs::MIGRATE,
    &specs::MONITOR,
    &specs::MOVE,
    &specs::MSET,
    &specs::MSETNX,
    &specs::MULTI,
    &specs::OBJECT,
    &specs::PERSIST,
    &specs::PEXPIRE,
    &specs::PEXPIREAT,
    &specs::PEXPIRETIME,
    &specs::PING,
    &specs::PSETEX,
    &specs::PTTL,
    &specs::QUIT,
    &specs::RANDOMKEY,
    &specs::READONLY,
    &specs::READWRITE,
    &specs::RENAME,
    &specs::RENAMENX,
    &specs::RESET,
    &specs::RESTORE,
    &specs::RESTORE_ASKING,
    &specs::SCAN,
    &specs::SELECT,
    &specs::SET,
    &specs::SETBIT,
    &specs::SETEX,
    &specs::SETNX,
    &specs::SETRANGE,
    &specs::SHUTDOWN,
    &specs::SLOWLOG,
    &specs::SORT,
    &specs::SORT_RO,
    &specs::STRLEN,
    &specs::SUBSTR,
    &specs::TIME,
    &specs::TOUCH,
    &specs::TTL,
    &specs::TYPE,
    &specs::UNLINK,
    &specs::UNWATCH,
    &specs::WAIT,
    &specs::WATCH,
];

/// The row of a command name, any case: one hash of the lower-cased name
/// (on every request, so no binary search of string compares).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static BY_NAME: std::sync::OnceLock<ahash::AHashMap<&'static [u8], &'static CommandSpec>> =
        std::sync::OnceLock::new();
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let lower: &[u8] = lower;
    BY_NAME
        .get_or_init(|| {
            COMMANDS
                .iter()
                .map(|spec| (spec.about.name.as_bytes(), *spec))
                .collect()
        })
        .get(lower)
        .copied()
}

impl Command {
    /// The table row of this command. (Variants that several names parse
    /// into, such as `IncrBy` from INCR/DECR/INCRBY/DECRBY, answer with the
    /// row of the general form.)
    pub fn spec(&self) -> &'static CommandSpec {
        use Command as C;
        match self {
            C::Ping(_) => &specs::PING,
            C::Echo(_) => &specs::ECHO,
            C::Quit => &specs::QUIT,
            C::Monitor => &specs::MONITOR,
            C::Reset => &specs::RESET,
            C::Select(_) => &specs::SELECT,
            C::Hello { .. } => &specs::HELLO,
            C::Command(_) => &specs::COMMAND,
            C::Client(_) => &specs::CLIENT,
            C::ConfigGet(_) | C::ConfigSet(_) | C::ConfigOther(_) => &specs::CONFIG,
            C::Info(_) => &specs::INFO,
            C::Time => &specs::TIME,
            C::Slowlog(_) => &specs::SLOWLOG,
            C::Latency(_) => &specs::LATENCY,
            C::DbSize => &specs::DBSIZE,
            C::FlushAll => &specs::FLUSHALL,
            C::Shutdown => &specs::SHUTDOWN,
            C::Merge { background: false } => &specs::MERGE,
            C::Merge { background: true } => &specs::BGREWRITEAOF,
            C::Keys(_) => &specs::KEYS,
            C::Scan { .. } => &specs::SCAN,
            C::Multi => &specs::MULTI,
            C::Exec => &specs::EXEC,
            C::Discard => &specs::DISCARD,
            C::Watch(_) => &specs::WATCH,
            C::Unwatch => &specs::UNWATCH,
            C::Cluster(sub) => match sub {
                ClusterSub::ReadOnly => &specs::READONLY,
                ClusterSub::ReadWrite => &specs::READWRITE,
                ClusterSub::Asking => &specs::ASKING,
                ClusterSub::Slots
                | ClusterSub::Shards
                | ClusterSub::Nodes
                | ClusterSub::Info
                | ClusterSub::MyId
                | ClusterSub::KeySlot(_)
                | ClusterSub::CountKeysInSlot(_)
                | ClusterSub::GetKeysInSlot(..)
                | ClusterSub::Reload => &specs::CLUSTER,
            },
            C::RandomKey => &specs::RANDOMKEY,
            C::Wait { .. } => &specs::WAIT,
            C::Rename { nx: false, .. } => &specs::RENAME,
            C::Rename { nx: true, .. } => &specs::RENAMENX,
            C::Copy { .. } => &specs::COPY,
            C::Migrate(_) => &specs::MIGRATE,
            C::BitOp { .. } => &specs::BITOP,
            C::Lcs { .. } => &specs::LCS,
            C::Sort {
                read_only: false, ..
            } => &specs::SORT,
            C::Sort {
                read_only: true, ..
            } => &specs::SORT_RO,
            C::IncrByFloat(..) => &specs::INCRBYFLOAT,
            C::SetBit(..) => &specs::SETBIT,
            C::GetBit(..) => &specs::GETBIT,
            C::BitCount(..) => &specs::BITCOUNT,
            C::BitPos(..) => &specs::BITPOS,
            C::Object(..) | C::ObjectHelp => &specs::OBJECT,
            C::MemoryUsage(_) => &specs::MEMORY,
            C::Dump(_) => &specs::DUMP,
            C::BitField {
                read_only: false, ..
            } => &specs::BITFIELD,
            C::BitField {
                read_only: true, ..
            } => &specs::BITFIELD_RO,
            C::Restore { .. } => &specs::RESTORE,
            C::Get(_) => &specs::GET,
            C::Set { .. } => &specs::SET,
            C::SetNx(..) => &specs::SETNX,
            C::GetSet(..) => &specs::GETSET,
            C::GetDel(_) => &specs::GETDEL,
            C::GetEx(..) => &specs::GETEX,
            C::MGet(_) => &specs::MGET,
            C::MSet(_) => &specs::MSET,
            C::MSetNx(_) => &specs::MSETNX,
            C::Del(_) => &specs::DEL,
            C::Unlink(_) => &specs::UNLINK,
            C::Exists(_) => &specs::EXISTS,
            C::Type(_) => &specs::TYPE,
            C::Strlen(_) => &specs::STRLEN,
            C::Append(..) => &specs::APPEND,
            C::IncrBy(..) => &specs::INCRBY,
            C::GetRange(..) => &specs::GETRANGE,
            C::SetRange(..) => &specs::SETRANGE,
            C::Expire(..) => &specs::EXPIRE,
            C::Ttl(_, false) => &specs::TTL,
            C::Ttl(_, true) => &specs::PTTL,
            C::ExpireTime(_, false) => &specs::EXPIRETIME,
            C::ExpireTime(_, true) => &specs::PEXPIRETIME,
            C::Persist(_) => &specs::PERSIST,
        }
    }

    /// The lower-case command name, for stats and errors.
    pub fn name(&self) -> &'static str {
        self.spec().about.name
    }

    /// True for commands that may write: the row's `write` flag, except a
    /// GETEX without options, which only reads.
    pub fn is_write(&self) -> bool {
        match self {
            Command::GetEx(_, GetExExpiry::Keep) => false,
            other => other.spec().about.has_flag("write"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_every_name_is_found() {
        for pair in COMMANDS.windows(2) {
            assert!(
                pair[0].about.name < pair[1].about.name,
                "{} before {}",
                pair[0].about.name,
                pair[1].about.name
            );
        }
        for spec in COMMANDS {
            assert!(std::ptr::eq(
                lookup(spec.about.name.to_uppercase().as_bytes()).unwrap(),
                *spec
            ));
            assert!(spec.about.name.len() <= 32);
        }
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }

    #[test]
    fn key_positions_follow_the_key_specs() {
        assert_eq!(specs::GET.about.key_positions(2), vec![1]);
        assert_eq!(specs::MSET.about.key_positions(7), vec![1, 3, 5]);
        assert_eq!(specs::DEL.about.key_positions(4), vec![1, 2, 3]);
        assert!(specs::PING.about.key_positions(1).is_empty());
    }
}
