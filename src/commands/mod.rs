//! Commands: parsing a request's arguments into a [`Command`], and applying
//! keyed commands to one shard's store.
//!
//! CONTRACT (the router and server are written against it):
//! - [`Command::parse`] turns the argument vector of one request into a
//!   `Command`, or the exact Redis 7 error reply (unknown command, wrong
//!   arity, syntax error, not an integer, invalid expire time, ...).
//! - [`exec::execute`] applies a *keyed* command (every variant from `Get`
//!   down) to one shard's store. Multi-key commands arrive there already
//!   split: a `MGet`/`Del`/`Exists`/`MSet`... holding only this shard's keys.
//! - The server-level variants (from `Ping` to `Scan`) are answered by
//!   `crate::server`, never by `exec::execute`.
//!
//! Every type here is `Send`: commands travel between cores over the mesh.

pub mod exec;

use bytes::Bytes;

use crate::protocol::Reply;

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
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    // ---- answered by the server layer ----
    /// PING [message]
    Ping(Option<Bytes>),
    /// ECHO message
    Echo(Bytes),
    /// QUIT
    Quit,
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
    /// CONFIG SET/RESETSTAT/REWRITE: accepted names only, else an error.
    ConfigOther(Bytes),
    /// INFO [section ...]
    Info(Vec<Bytes>),
    /// TIME
    Time,
    /// DBSIZE
    DbSize,
    /// FLUSHALL / FLUSHDB [ASYNC|SYNC]
    FlushAll,
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
    Shutdown,
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

    // ---- keyed: applied by `exec::execute` on the owning shard ----
    /// GET key
    Get(Bytes),
    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]
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
    /// INCR/DECR/INCRBY/DECRBY key [delta]
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
}

impl Command {
    /// Parses one request. `args[0]` is the command name (any case).
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        let _ = args;
        todo!()
    }

    /// The lower-case command name, for stats and errors.
    pub fn name(&self) -> &'static str {
        todo!()
    }

    /// True for commands that may write.
    pub fn is_write(&self) -> bool {
        todo!()
    }
}
