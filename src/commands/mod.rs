//! Commands: parsing a request's arguments into a [`Command`], and applying
//! keyed commands to one shard's store.
//!
//! CONTRACT (the router and server are written against it):
//! - [`table`] holds one [`CommandSpec`] per command name: its
//!   [`Description`] (arity, flags, key specs and docs as Redis 7 gives
//!   them, see [`docs`]), its parser and its [`Route`].
//!   [`Command::parse`] finds the row, checks the arity and runs the parser,
//!   giving a `Command` or the exact Redis 7 error reply. COMMAND, routing,
//!   `is_write` and the per-command name come from the row
//!   ([`Command::spec`]).
//! - [`exec::execute`] applies a *keyed* command to one shard's store.
//!   Multi-key commands arrive there already split: a `MGet`/`Del`/
//!   `Exists`/`MSet`... holding only this shard's keys.
//! - The other commands are answered by `crate::pipeline`, never by
//!   `exec::execute`.
//!
//! Adding a command: a row in `specs/<group>.rs` (copy Redis's `COMMAND
//! INFO`/`DOCS` for it), a variant here, and its arm in each exhaustive
//! match the compiler then points at: [`Command::spec`], [`Command::keys`]
//! (keyed.rs, with the `keyed_command!`/`server_command!` patterns), and the
//! one that answers it (`exec` for keyed commands, `crate::pipeline` for the
//! rest). Nothing matches the command type with a wildcard, so a command
//! that is not routed does not compile.
//!
//! Every type here is `Send`: commands travel between cores over the mesh.

mod bits;
mod cluster;
mod connection;
pub mod docs;
pub mod exec;
mod glob;
pub mod introspection;
mod keyed;
mod keys;
mod longdouble;
mod migrate;
mod row;
mod server;
mod sort;
mod specs;
mod strings;
pub mod table;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::protocol::Reply;

pub use cluster::ClusterSub;
pub use docs::{Description, KeySpec};
pub use glob::glob_match;
pub use introspection::{ClientKillFilter, LatencySub, SlowlogSub, command_name_matches};
pub use keyed::Keys;
pub(crate) use keyed::{keyed_command, server_command};
pub use migrate::{Migrate, Outgoing, migrate_key_positions};
pub use row::{CommandSpec, Gather, Route};
pub use sort::sort_key_positions;
pub use table::{COMMANDS, lookup};

/// When an expiry is given relative to now or as an absolute time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Milliseconds from now (EX seconds * 1000, PX).
    In(u64),
    /// Milliseconds since the Unix epoch (EXAT * 1000, PXAT).
    At(u64),
}

/// The expiry clause of SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetExpiry {
    /// No clause: the key loses any TTL it had.
    None,
    /// EX/PX/EXAT/PXAT.
    Set(Expiry),
    /// KEEPTTL: keep the TTL the key has.
    KeepTtl,
}

/// The NX/XX clause of SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// Always write.
    Always,
    /// NX: only if the key does not exist.
    IfAbsent,
    /// XX: only if the key exists.
    IfPresent,
}

/// The expiry clause of GETEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExExpiry {
    /// No option: plain GET.
    Keep,
    /// EX/PX/EXAT/PXAT.
    Set(Expiry),
    /// PERSIST: remove the TTL.
    Persist,
    /// A time Redis rejects, but only once it found the key (a missing key
    /// answers nil).
    Invalid(LateError),
}

/// NX/XX/GT/LT option of EXPIRE (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCondition {
    /// No option.
    Always,
    /// NX: only when the key has no expiry.
    IfNoExpiry,
    /// XX: only when the key has an expiry.
    IfHasExpiry,
    /// GT: only when the new expiry is greater than the current one (no expiry = infinite).
    IfGreater,
    /// LT: only when the new expiry is less than the current one (no expiry = infinite).
    IfLess,
    /// XX and LT together: only when the key has an expiry and the new one is
    /// less. (XX with GT needs no variant of its own: GT already fails on a
    /// key without expiry.)
    IfHasExpiryAndLess,
}

/// Sub-commands of COMMAND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSub {
    /// COMMAND with no argument: the full table.
    All,
    /// COMMAND COUNT
    Count,
    /// COMMAND DOCS [name ...]
    Docs(Vec<Bytes>),
    /// COMMAND INFO [name ...]
    Info(Vec<Bytes>),
    /// COMMAND LIST
    List,
    /// COMMAND GETKEYS command [arg ...]
    GetKeys(Vec<Bytes>),
}

/// The range option of BITCOUNT and BITPOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First byte or bit (negative: from the end).
    pub start: i64,
    /// Last byte or bit, inclusive; `None`: to the end (BITPOS only).
    pub end: Option<i64>,
    /// BIT: the indexes count bits, not bytes.
    pub bits: bool,
}

/// An argument error Redis reports only once it found the key (BITCOUNT,
/// BITPOS: on a missing key they answer 0 or -1 whatever follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateError {
    /// `ERR value is not an integer or out of range`
    NotAnInteger,
    /// `ERR syntax error`
    Syntax,
    /// `ERR invalid expire time in 'getex' command`
    InvalidGetExTime,
}

impl LateError {
    /// The error reply.
    pub fn reply(self) -> Reply {
        match self {
            LateError::NotAnInteger => NOT_AN_INTEGER,
            LateError::Syntax => SYNTAX_ERROR,
            LateError::InvalidGetExTime => invalid_expire("getex"),
        }
    }
}

/// What one BITFIELD operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitFieldAction {
    /// GET: read the field.
    Get,
    /// SET value: write it, answer the old value.
    Set(i64),
    /// INCRBY increment: add, answer the new value.
    IncrBy(i64),
}

/// BITFIELD's OVERFLOW modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// WRAP (the default): modulo arithmetic.
    Wrap,
    /// SAT: stop at the type's minimum or maximum.
    Sat,
    /// FAIL: no write, a null reply.
    Fail,
}

/// One BITFIELD operation on a field of `bits` bits at bit `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitFieldOp {
    /// What it does.
    pub action: BitFieldAction,
    /// `i` (signed, 1..=64 bits) or `u` (unsigned, 1..=63 bits).
    pub signed: bool,
    /// Width of the field.
    pub bits: u32,
    /// First bit of the field (`#n` already multiplied by the width).
    pub offset: u64,
    /// The OVERFLOW mode in force for this operation.
    pub overflow: Overflow,
}

/// The operation of BITOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOpKind {
    /// AND
    And,
    /// OR
    Or,
    /// XOR
    Xor,
    /// NOT (one source)
    Not,
}

/// What LCS answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcsMode {
    /// The common subsequence itself.
    String,
    /// LEN: its length.
    Len,
    /// IDX: the matching ranges and the length.
    Idx {
        /// MINMATCHLEN: ranges shorter than this are left out.
        min_match_len: u64,
        /// WITHMATCHLEN: each range carries its length.
        with_match_len: bool,
    },
}

/// Sub-commands of OBJECT that look at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectSub {
    /// OBJECT ENCODING
    Encoding,
    /// OBJECT FREQ
    Freq,
    /// OBJECT IDLETIME
    IdleTime,
    /// OBJECT REFCOUNT
    RefCount,
}

/// Sub-commands of CLIENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSub {
    /// CLIENT SETNAME name
    SetName(Bytes),
    /// CLIENT GETNAME
    GetName,
    /// CLIENT ID
    Id,
    /// CLIENT SETINFO LIB-NAME|LIB-VER value
    SetInfo(Bytes, Bytes),
    /// CLIENT LIST
    List,
    /// CLIENT INFO
    Info,
    /// CLIENT KILL addr | CLIENT KILL filter value ...
    Kill(ClientKillFilter),
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    // ---- answered by the server layer ----
    /// `PING [message]`
    Ping(Option<Bytes>),
    /// ECHO message
    Echo(Bytes),
    /// QUIT
    Quit,
    /// MONITOR: stream every command the server runs to this connection
    Monitor,
    /// RESET: the connection's state back to a new connection's
    Reset,
    /// SELECT index (only 0 exists)
    Select(i64),
    /// HELLO [protover [AUTH user pass] [SETNAME name]]
    Hello {
        /// Requested protocol version, if given.
        protover: Option<i64>,
        /// SETNAME argument, if given.
        setname: Option<Bytes>,
    },
    /// COMMAND ...
    Command(CommandSub),
    /// CLIENT ...
    Client(ClientSub),
    /// CONFIG GET pattern [pattern ...]
    ConfigGet(Vec<Bytes>),
    /// CONFIG SET name value [name value ...]
    ConfigSet(Vec<(Bytes, Bytes)>),
    /// CONFIG RESETSTAT/REWRITE.
    ConfigOther(Bytes),
    /// INFO [section ...]
    Info(Vec<Bytes>),
    /// SLOWLOG GET|LEN|RESET|HELP
    Slowlog(SlowlogSub),
    /// LATENCY LATEST|HISTORY|RESET|HISTOGRAM|HELP
    Latency(LatencySub),
    /// TIME
    Time,
    /// DBSIZE
    DbSize,
    /// FLUSHALL / FLUSHDB [ASYNC|SYNC]
    FlushAll,
    /// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`
    Shutdown,
    /// MERGE (ours: compact every shard's log now and wait), or
    /// BGREWRITEAOF (the same, started in the background).
    Merge {
        /// BGREWRITEAOF: reply at once, merge in the background.
        background: bool,
    },
    /// CLUSTER ..., READONLY, READWRITE, ASKING
    Cluster(ClusterSub),
    /// KEYS pattern
    Keys(Bytes),
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    Scan {
        /// The cursor as given (0 starts a scan).
        cursor: u64,
        /// MATCH pattern.
        pattern: Option<Bytes>,
        /// COUNT hint (default 10).
        count: usize,
        /// TYPE filter (only "string" matches anything).
        type_filter: Option<Bytes>,
    },

    /// MULTI
    Multi,
    /// EXEC
    Exec,
    /// DISCARD
    Discard,
    /// WATCH key [key ...]
    Watch(Vec<Bytes>),
    /// UNWATCH
    Unwatch,
    /// RANDOMKEY
    RandomKey,
    /// WAIT numreplicas timeout: there are no replicas, so it answers 0,
    /// at once for 0 replicas, else after the timeout (0: never).
    Wait {
        /// Replicas to wait for.
        numreplicas: i64,
        /// Milliseconds to block at most; 0 blocks until shutdown.
        timeout_ms: u64,
    },

    // ---- computed by the server under latches on every key they name ----
    /// RENAME / RENAMENX source destination
    Rename {
        /// Source key.
        from: Bytes,
        /// Destination key.
        to: Bytes,
        /// RENAMENX: only if the destination does not exist.
        nx: bool,
    },
    /// `COPY source destination [DB 0] [REPLACE]`
    Copy {
        /// Source key.
        from: Bytes,
        /// Destination key.
        to: Bytes,
        /// REPLACE: overwrite an existing destination.
        replace: bool,
    },
    /// MIGRATE: moves keys to another server (boxed: it is large and rare).
    Migrate(Box<Migrate>),
    /// BITOP op destkey key [key ...]
    BitOp {
        /// The operation.
        op: BitOpKind,
        /// The destination first, then the sources.
        keys: Vec<Bytes>,
    },
    /// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...]
    /// [ASC|DESC] [ALPHA] [STORE destination]` and SORT_RO (no STORE).
    /// Only strings exist here, which SORT refuses (WRONGTYPE): a missing
    /// key sorts as an empty list, so the options, checked when parsed,
    /// change nothing else, and BY/GET never read a key.
    Sort {
        /// The key to sort.
        key: Bytes,
        /// STORE destination: deleted (an empty list is no key).
        store: Option<Bytes>,
        /// SORT_RO.
        read_only: bool,
    },
    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
    Lcs {
        /// First key.
        a: Bytes,
        /// Second key.
        b: Bytes,
        /// What to answer.
        mode: LcsMode,
    },

    // ---- keyed: applied by `exec::execute` on the owning shard ----
    /// GET key
    Get(Bytes),
    /// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]`
    Set {
        /// Key.
        key: Bytes,
        /// Value.
        value: Bytes,
        /// NX/XX.
        condition: SetCondition,
        /// GET: reply with the old value.
        get: bool,
        /// Expiry clause.
        expiry: SetExpiry,
    },
    /// SETNX key value
    SetNx(Bytes, Bytes),
    /// GETSET key value
    GetSet(Bytes, Bytes),
    /// GETDEL key
    GetDel(Bytes),
    /// GETEX key [EX|PX|EXAT|PXAT|PERSIST]
    GetEx(Bytes, GetExExpiry),
    /// MGET key [key ...] (on a shard: only its keys, in order)
    MGet(Vec<Bytes>),
    /// MSET key value [key value ...]
    MSet(Vec<(Bytes, Bytes)>),
    /// MSETNX key value [key value ...]
    MSetNx(Vec<(Bytes, Bytes)>),
    /// DEL key [key ...]
    Del(Vec<Bytes>),
    /// UNLINK key [key ...]
    Unlink(Vec<Bytes>),
    /// EXISTS key [key ...] (a key given twice counts twice)
    Exists(Vec<Bytes>),
    /// TYPE key
    Type(Bytes),
    /// STRLEN key
    Strlen(Bytes),
    /// APPEND key value
    Append(Bytes, Bytes),
    /// `INCR/DECR/INCRBY/DECRBY key [delta]`
    IncrBy(Bytes, i64),
    /// GETRANGE key start end
    GetRange(Bytes, i64, i64),
    /// SETRANGE key offset value
    SetRange(Bytes, u64, Bytes),
    /// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]
    Expire(Bytes, Expiry, ExpireCondition),
    /// TTL/PTTL key (`true` = milliseconds)
    Ttl(Bytes, bool),
    /// EXPIRETIME/PEXPIRETIME key (`true` = milliseconds)
    ExpireTime(Bytes, bool),
    /// PERSIST key
    Persist(Bytes),
    /// INCRBYFLOAT key increment (the increment as given, checked when parsed)
    IncrByFloat(Bytes, Bytes),
    /// SETBIT key offset 0|1
    SetBit(Bytes, u64, bool),
    /// GETBIT key offset
    GetBit(Bytes, u64),
    /// BITCOUNT key [start end [BYTE|BIT]]
    BitCount(Bytes, Result<Option<BitRange>, LateError>),
    /// BITPOS key bit [start [end [BYTE|BIT]]]
    BitPos(Bytes, bool, Result<Option<BitRange>, LateError>),
    /// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key
    Object(ObjectSub, Bytes),
    /// OBJECT HELP
    ObjectHelp,
    /// MEMORY USAGE key [SAMPLES count]
    MemoryUsage(Bytes),
    /// DUMP key
    Dump(Bytes),
    /// BITFIELD / BITFIELD_RO key [GET|SET|INCRBY|OVERFLOW ...]
    BitField {
        /// Key.
        key: Bytes,
        /// The operations, in order (OVERFLOW folded into each).
        ops: Vec<BitFieldOp>,
        /// BITFIELD_RO (only GET).
        read_only: bool,
    },
    /// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`
    Restore {
        /// Key.
        key: Bytes,
        /// The TTL as given (checked once the key is known absent, as Redis does).
        ttl: Bytes,
        /// The DUMP payload.
        payload: Bytes,
        /// REPLACE: overwrite an existing key.
        replace: bool,
        /// ABSTTL: the TTL is a Unix time in ms.
        absttl: bool,
    },
}

impl Command {
    /// Parses one request. `args[0]` is the command name (any case).
    ///
    /// Errors are the replies Redis 7 gives for the same input, word for word.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        (Command::check(&args)?.parse)(&args)
    }

    /// The first step of [`Command::parse`]: the command's row, or the error
    /// for an unknown command or a wrong number of arguments (the errors
    /// that, inside MULTI, fail the transaction at once; the row's parser's
    /// errors are answered at EXEC, as Redis does).
    pub fn check(args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
        let Some(first) = args.first() else {
            return Err(Reply::err("ERR empty command"));
        };
        let Some(spec) = lookup(first) else {
            return Err(unknown_command(args));
        };
        if !spec.about.arity_fits(args.len()) {
            return Err(wrong_arity(spec.about.name));
        }
        Ok(spec)
    }
}

// ---- helpers shared by the parsers of every command family ----

/// `ERR syntax error`
pub(crate) const SYNTAX_ERROR: Reply = Reply::err("ERR syntax error");

/// `ERR value is not an integer or out of range`
pub(crate) const NOT_AN_INTEGER: Reply = Reply::err("ERR value is not an integer or out of range");

/// Redis's arity check: `arity > 0` means exactly that many arguments
/// (counting the name), `arity < 0` at least `-arity`. `full_name` is the
/// lower-case name Redis prints, `container|sub` for sub-commands.
pub(crate) fn check_arity(args: &[Bytes], arity: i32, full_name: &str) -> Result<(), Reply> {
    let nr_args = args.len() as i64;
    let arity = arity as i64;
    if (arity > 0 && nr_args != arity) || (arity < 0 && nr_args < -arity) {
        return Err(wrong_arity(full_name));
    }
    Ok(())
}

/// `ERR wrong number of arguments for '<name>' command`
pub(crate) fn wrong_arity(full_name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{full_name}' command"
    ))
}

/// `ERR invalid expire time in '<name>' command`
pub(crate) fn invalid_expire(full_name: &str) -> Reply {
    Reply::error(format!("ERR invalid expire time in '{full_name}' command"))
}

/// Case-insensitive comparison of an argument with a lower-case keyword.
pub(crate) fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does: an
/// optional `-`, no `+`, no spaces, no leading zeros, nothing out of range.
pub(crate) fn parse_i64(arg: &[u8]) -> Option<i64> {
    let (negative, digits) = match arg {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, arg),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    // Accumulate as a negative number so that i64::MIN fits.
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_sub(i64::from(digit - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// [`parse_i64`] with Redis's error reply.
pub(crate) fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or(NOT_AN_INTEGER)
}

/// The wall clock in ms since the Unix epoch; used only where Redis checks
/// for overflow against the current time while parsing.
pub(crate) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Formats like C's `%.Ns`: at most `max` bytes, stopping at a NUL.
fn push_c_string(out: &mut Vec<u8>, arg: &[u8], max: usize) {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    out.extend_from_slice(&arg[..end.min(max)]);
}

/// Turns a formatted error message into a reply the way Redis's
/// `rejectCommandFormat` does: CR and LF become spaces so that the error line
/// stays one line.
fn reject(message: Vec<u8>) -> Reply {
    let message: Vec<u8> = message
        .into_iter()
        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    Reply::error(String::from_utf8_lossy(&message).into_owned())
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub(crate) fn unknown_command(args: &[Bytes]) -> Reply {
    let mut listed = Vec::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        push_c_string(&mut listed, arg, room);
        listed.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    push_c_string(&mut message, &args[0], 128);
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&listed);
    reject(message)
}

/// `ERR unknown subcommand 'foo'. Try CLIENT HELP.`
pub(crate) fn unknown_subcommand(args: &[Bytes]) -> Reply {
    let mut message = b"ERR unknown subcommand '".to_vec();
    push_c_string(&mut message, &args[1], 128);
    message.extend_from_slice(b"'. Try ");
    message.extend_from_slice(&args[0].to_ascii_uppercase());
    message.extend_from_slice(b" HELP.");
    reject(message)
}

#[cfg(test)]
pub(crate) mod test_util {
    use bytes::Bytes;

    use super::Command;
    use crate::protocol::Reply;

    /// Splits a command line on spaces into arguments.
    pub fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    /// Parses a command line.
    pub fn parse(line: &str) -> Result<Command, Reply> {
        Command::parse(args(line))
    }

    /// Parses a command line that must fail, returning the error text.
    pub fn parse_err(line: &str) -> String {
        match parse(line) {
            Err(Reply::Error(text)) => text.into_owned(),
            other => panic!("{line:?} should fail, got {other:?}"),
        }
    }

    /// Shorthand for a `Bytes` from a string.
    pub fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"1.5",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn unknown_command_text_matches_redis() {
        assert_eq!(
            parse_err("foo a b"),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            parse_err("FooBar"),
            "ERR unknown command 'FooBar', with args beginning with: "
        );
        let err = Command::parse(vec![b("x\r\ny"), b("a\nb")]).unwrap_err();
        assert_eq!(
            err,
            Reply::err("ERR unknown command 'x  y', with args beginning with: 'a b' ")
        );
        // The argument list stops growing once it reaches 128 bytes.
        let long = "z".repeat(200);
        let err = parse_err(&format!("nope {long} more"));
        assert_eq!(
            err,
            format!(
                "ERR unknown command 'nope', with args beginning with: '{}' ",
                "z".repeat(128)
            )
        );
        assert!(Command::parse(Vec::new()).is_err());
    }

    #[test]
    fn names_and_write_flags() {
        assert_eq!(parse("get k").unwrap().name(), "get");
        assert_eq!(parse("DECR k").unwrap().name(), "incrby");
        assert_eq!(parse("pttl k").unwrap().name(), "pttl");
        assert_eq!(parse("flushdb").unwrap().name(), "flushall");
        assert!(parse("set k v").unwrap().is_write());
        assert!(parse("getex k persist").unwrap().is_write());
        assert!(!parse("getex k").unwrap().is_write());
        assert!(!parse("get k").unwrap().is_write());
        assert!(!parse("ping").unwrap().is_write());
        assert!(parse("flushall").unwrap().is_write());
    }
}
