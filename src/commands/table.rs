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

/// The row of a command name, any case: names of up to 16 bytes (all of
/// ours) are looked up in a collision-free table keyed by the lower-cased
/// name packed in two words (on every request: a multiply and one compare,
/// no string hashing or compares).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static BY_WORDS: std::sync::OnceLock<ByWords> = std::sync::OnceLock::new();
    let words = name_words(name)?;
    let table = BY_WORDS.get_or_init(ByWords::new);
    let row = table.slots[table.slot_of(words)];
    let spec = COMMANDS.get(usize::from(row))?;
    (table.words[usize::from(row)] == words).then_some(*spec)
}

/// A name of up to 16 bytes, lower-cased, packed little-endian into two
/// words, with its length (so `get` and `get\0` differ).
type Words = (u64, u64, usize);

fn name_words(name: &[u8]) -> Option<Words> {
    if name.len() > 16 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    let (lo, hi) = bytes.split_at(8);
    Some((
        u64::from_le_bytes(lo.try_into().expect("8 bytes")),
        u64::from_le_bytes(hi.try_into().expect("8 bytes")),
        name.len(),
    ))
}

/// Slots of the name table (a power of two).
const NAME_SLOTS: usize = 1024;

/// The name table: a row index per slot ([`u8::MAX`] where none), and each
/// row's name words.
struct ByWords {
    multiplier: u64,
    slots: Box<[u8; NAME_SLOTS]>,
    words: Vec<Words>,
}

impl ByWords {
    fn new() -> ByWords {
        let words: Vec<Words> = COMMANDS
            .iter()
            .map(|spec| name_words(spec.about.name.as_bytes()).expect("command names are short"))
            .collect();
        let mut table = ByWords {
            multiplier: 0x9E37_79B9_7F4A_7C15,
            slots: Box::new([u8::MAX; NAME_SLOTS]),
            words,
        };
        // About one multiplier in a hundred places ~100 rows in 1024 slots
        // without a collision.
        for _ in 0..1_000_000 {
            let mut used = [false; NAME_SLOTS];
            let collides = table
                .words
                .iter()
                .any(|&words| std::mem::replace(&mut used[table.slot_of(words)], true));
            if !collides {
                break;
            }
            table.multiplier = table
                .multiplier
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                | 1;
        }
        for (row, &words) in table.words.iter().enumerate() {
            let slot = table.slot_of(words);
            assert_eq!(
                table.slots[slot],
                u8::MAX,
                "a collision-free multiplier exists"
            );
            table.slots[slot] = u8::try_from(row)
                .ok()
                .filter(|&row| row != u8::MAX)
                .expect("fewer than 255 commands");
        }
        table
    }

    fn slot_of(&self, (lo, hi, len): Words) -> usize {
        let mixed = lo ^ hi.rotate_left(29) ^ (len as u64).rotate_left(59);
        (mixed.wrapping_mul(self.multiplier) >> (64 - NAME_SLOTS.trailing_zeros())) as usize
    }
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
            assert!(spec.about.name.len() <= 16);
        }
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(std::ptr::eq(lookup(b"gEt").unwrap(), &specs::GET));
        for near in [&b"ge"[..], b"get\0", b"gett", b"", b"get ", b"\0get"] {
            assert!(lookup(near).is_none(), "{near:?}");
        }
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
