//! The command table: one [`CommandSpec`] per command name, the single
//! place a command's name, arity, flags, key positions, docs, parser and
//! route are given. `Command::parse` finds the row, checks the arity and
//! calls its parser; COMMAND answers from the rows; the connection routes by
//! [`CommandSpec::route`]; `Command::name`/`is_write` read the row that
//! [`Command::spec`] picks for each variant (an exhaustive match: a variant
//! without a row does not compile).

use bytes::Bytes;

use super::docs::Docs;
use super::{ClusterSub, Command, GetExExpiry, specs};
use crate::protocol::Reply;

/// One command, as Redis 7's command table describes it plus how we serve it.
#[derive(Debug)]
pub struct CommandSpec {
    /// What `COMMAND INFO` and `COMMAND DOCS` tell about it.
    pub about: Description,
    /// Turns the arguments (name included, arity already checked) into a
    /// [`Command`] or Redis's error reply.
    pub parse: fn(&[Bytes]) -> Result<Command, Reply>,
    /// Who answers it and, for keyed commands, how split parts gather.
    pub route: Route,
}

/// A command or served sub-command (`config|get`, ...) as Redis 7's command
/// table describes it: the fields of its `COMMAND INFO` and `COMMAND DOCS`
/// entries (cluster clients route `OBJECT ENCODING key` by a sub-command's
/// key spec).
#[derive(Debug)]
pub struct Description {
    /// Lower-case name (`container|sub` for a sub-command).
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments (name included), `n < 0` at
    /// least -n; a sub-command counts the container's name too.
    pub arity: i32,
    /// Command flags (`write`, `readonly`, `fast`, `denyoom`, ...).
    pub flags: &'static [&'static str],
    /// ACL categories (`@read`, `@string`, ...).
    pub acl_categories: &'static [&'static str],
    /// Command tips (`request_policy:multi_shard`, ...): cluster clients read them.
    pub tips: &'static [&'static str],
    /// Key specifications: where the keys are and what is done to them.
    pub key_specs: &'static [KeySpec],
    /// The legacy (first key, last key, step) triple of `COMMAND INFO`.
    pub legacy_keys: (i32, i32, i32),
    /// The group `COMMAND DOCS` reports (`string`, `generic`, `server`, ...).
    pub group: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Time complexity, as Redis documents it.
    pub complexity: &'static str,
    /// The rest of `COMMAND DOCS`: arguments, history, deprecation,
    /// served sub-commands (Redis 7.0.15's).
    pub docs: Docs,
}

/// One key specification: of the `index` + `range` kind, or with `index`
/// 0 of the `unknown` kind (SORT's BY/GET/STORE keys, which only the
/// command itself can find: see [`crate::commands::sort_key_positions`]).
#[derive(Debug)]
pub struct KeySpec {
    /// Redis's note on the spec (empty: none).
    pub notes: &'static str,
    /// Key spec flags (`RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`).
    pub flags: &'static [&'static str],
    /// Argument index of the first key; 0: an `unknown` spec.
    pub index: i32,
    /// Last key relative to `index` (0: just it), or from the end when negative (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub key_step: i32,
    /// With `last_key` -1: 0 all keys, n a 1/n share of the arguments.
    pub limit: i32,
    /// Non-empty: a `keyword` begin search (MIGRATE's `KEYS`) that starts
    /// at `index` (negative: from the end, searching backwards).
    pub keyword: &'static str,
}

/// Who answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The connection's own session state (HELLO, MULTI, ...).
    Session,
    /// The connection's shard, without asking the others (PING, CONFIG GET, ...).
    Here,
    /// Every shard, as a barrier after the keyed commands before it (DBSIZE, INFO, ...).
    Everywhere,
    /// The shard(s) owning its keys.
    Keyed(Gather),
}

/// How the replies of a keyed command's per-shard parts become one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// Never split: its keys must share a slot, or it has one key.
    One,
    /// MGET: place each part's array elements at their argument positions.
    Array,
    /// DEL, UNLINK, EXISTS, TOUCH: add the parts' integers.
    Sum,
    /// MSET: OK when every part is OK.
    AllOk,
    /// MSETNX: the keys are latched on every shard, then all or none written.
    Latched,
    /// RENAME, COPY, BITOP, LCS: the server latches every key the command
    /// names (wherever they live), reads them, computes, writes, releases.
    Computed,
}

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

impl Description {
    /// True when the command has `flag` (`write`, `readonly`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// True when the arguments' count fits the arity.
    pub fn arity_fits(&self, nr_args: usize) -> bool {
        let arity = self.arity as i64;
        let nr_args = nr_args as i64;
        if arity > 0 {
            nr_args == arity
        } else {
            nr_args >= -arity
        }
    }

    /// Its `COMMAND INFO` entry, as Redis 7 shapes it (a container lists
    /// its served sub-commands' entries).
    pub fn info_reply(&self) -> Reply {
        let subcommands = &self.docs.subcommands;
        info_array(
            self.name,
            self.arity,
            self.flags,
            self.legacy_keys,
            self.acl_categories,
            self.tips,
            self.key_specs,
            (!subcommands.is_empty())
                .then(|| Reply::Array(subcommands.iter().map(|sub| sub.info_reply()).collect())),
        )
    }

    /// Its `COMMAND DOCS` entry, as Redis 7 shapes it.
    pub fn docs_reply(&self) -> Reply {
        super::docs::docs_map(self)
    }

    /// The argument positions of the keys in `args` (name at 0), as
    /// `COMMAND GETKEYS` finds them from the key specs.
    pub fn key_positions(&self, nr_args: usize) -> Vec<usize> {
        let mut positions = Vec::new();
        for spec in self.key_specs {
            let first = spec.index as usize;
            if first == 0 || first >= nr_args {
                continue;
            }
            let last = if spec.last_key >= 0 {
                first + spec.last_key as usize
            } else if spec.limit > 1 {
                let available = nr_args - first;
                first + available / spec.limit as usize - 1
            } else {
                (nr_args as i64 + i64::from(spec.last_key)) as usize
            };
            let step = spec.key_step.max(1) as usize;
            let mut position = first;
            while position <= last.min(nr_args - 1) {
                positions.push(position);
                position += step;
            }
        }
        positions
    }
}

/// A `COMMAND INFO` entry: name, arity, flags, the legacy key triple, ACL
/// categories, tips, key specs, sub-commands (`None`: an empty set).
#[allow(clippy::too_many_arguments)]
pub(crate) fn info_array(
    name: &str,
    arity: i32,
    flags: &[&str],
    (first, last, step): (i32, i32, i32),
    acl_categories: &[&str],
    tips: &[&str],
    key_specs: &[KeySpec],
    subcommands: Option<Reply>,
) -> Reply {
    Reply::Array(vec![
        Reply::bulk(name.as_bytes()),
        Reply::Integer(i64::from(arity)),
        statuses_of(flags),
        Reply::Integer(i64::from(first)),
        Reply::Integer(i64::from(last)),
        Reply::Integer(i64::from(step)),
        statuses_of(acl_categories),
        Reply::Set(tips.iter().map(|t| Reply::bulk(t.as_bytes())).collect()),
        Reply::Set(key_specs.iter().map(|k| k.reply()).collect()),
        subcommands.unwrap_or_else(|| Reply::Set(Vec::new())),
    ])
}

fn statuses_of(items: &[&str]) -> Reply {
    Reply::Set(
        items
            .iter()
            .map(|s| Reply::Status(s.to_string().into()))
            .collect(),
    )
}

impl KeySpec {
    /// The common spec: one key at argument `index`, no notes.
    pub const fn single(flags: &'static [&'static str], index: i32) -> KeySpec {
        KeySpec {
            notes: "",
            flags,
            index,
            last_key: 0,
            key_step: 1,
            limit: 0,
            keyword: "",
        }
    }

    /// An `unknown` spec of read-only keys (set `notes`, and `flags` for others).
    pub const UNKNOWN_RO: KeySpec = KeySpec {
        notes: "",
        flags: &["RO", "access"],
        index: 0,
        last_key: 0,
        key_step: 0,
        limit: 0,
        keyword: "",
    };

    fn reply(&self) -> Reply {
        let key = |name: &str| Reply::bulk(name.as_bytes());
        let unknown = || {
            Reply::Map(vec![
                (key("type"), key("unknown")),
                (key("spec"), Reply::Map(Vec::new())),
            ])
        };
        if self.index == 0 {
            let notes = (!self.notes.is_empty()).then(|| (key("notes"), key(self.notes)));
            return Reply::Map(
                notes
                    .into_iter()
                    .chain([
                        (key("flags"), statuses_of(self.flags)),
                        (key("begin_search"), unknown()),
                        (key("find_keys"), unknown()),
                    ])
                    .collect(),
            );
        }
        let notes = (!self.notes.is_empty()).then(|| (key("notes"), key(self.notes)));
        Reply::Map(
            notes
                .into_iter()
                .chain([
                    (
                        key("flags"),
                        Reply::Set(
                            self.flags
                                .iter()
                                .map(|f| Reply::Status(f.to_string().into()))
                                .collect(),
                        ),
                    ),
                    (key("begin_search"), self.begin_search()),
                    (
                        key("find_keys"),
                        Reply::Map(vec![
                            (key("type"), key("range")),
                            (
                                key("spec"),
                                Reply::Map(vec![
                                    (key("lastkey"), Reply::Integer(i64::from(self.last_key))),
                                    (key("keystep"), Reply::Integer(i64::from(self.key_step))),
                                    (key("limit"), Reply::Integer(i64::from(self.limit))),
                                ]),
                            ),
                        ]),
                    ),
                ])
                .collect(),
        )
    }
}

impl KeySpec {
    fn begin_search(&self) -> Reply {
        let key = |name: &str| Reply::bulk(name.as_bytes());
        let (kind, spec) = if self.keyword.is_empty() {
            (
                "index",
                vec![(key("index"), Reply::Integer(i64::from(self.index)))],
            )
        } else {
            (
                "keyword",
                vec![
                    (key("keyword"), key(self.keyword)),
                    (key("startfrom"), Reply::Integer(i64::from(self.index))),
                ],
            )
        };
        Reply::Map(vec![
            (key("type"), key(kind)),
            (key("spec"), Reply::Map(spec)),
        ])
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
