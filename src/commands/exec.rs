//! Applying keyed commands to one shard's store, with Redis 7 semantics.
//!
//! Atomicity: a shard runs one task at a time, but `Store::get` may await a
//! disk read, and another connection's command may run meanwhile. So:
//! - checks that need only metadata use the synchronous `Store::meta` and
//!   write in the same synchronous stretch (SET NX/XX/KEEPTTL, SETNX, MSETNX,
//!   EXPIRE's delete, TTL...);
//! - read-modify-write commands read the value with its version, compute, and
//!   write with `Store::put_if(.., expected_version, ..)`, retrying from the
//!   read when another write got in between (`PutIf::Conflict`). A delete
//!   after a read first re-checks the version with `meta`, synchronously.
//!
//! Durability is not awaited here: every write's ticket goes into
//! [`ExecCtx::wrote`] and the caller waits once per batch.
//!
//! The string commands live in `strings`, the generic key commands in
//! `keys`.

mod bits;
pub mod computed;
pub mod dump;
mod errors;
mod keys;
mod strings;
#[cfg(test)]
mod tests;

pub use self::errors::{ErrorReply, ExecError, error_reply};
use crate::commands::{Command, server_command};
use crate::protocol::Reply;
use crate::storage::{Entry, KeyHash, PutIf, Resident, Store, Ticket, Version};

/// Per-batch execution context on one shard.
#[derive(Debug, Clone)]
pub struct ExecCtx {
    /// The current time in ms since the Unix epoch (one reading per batch).
    pub now_ms: u64,
    /// Largest value a command may create (APPEND, SETRANGE): `--max-value-size`.
    pub max_value_size: u64,
    /// The highest ticket of any write this batch made; the caller waits for
    /// it to be durable before replying.
    pub ticket: Option<Ticket>,
    /// The [`KeyHash`] of the key of the SET about to run, when the batch's
    /// prefetch computed it: its write takes it instead of hashing again.
    /// The caller sets it for that one command and clears it after.
    pub key_hash: Option<KeyHash>,
}

impl ExecCtx {
    /// Records that a write with `ticket` was made.
    pub fn wrote(&mut self, ticket: Ticket) {
        self.ticket = Some(self.ticket.map_or(ticket, |t| t.max(ticket)));
    }
}

/// Applies a keyed command to `store`. Server-level commands are a bug here
/// and get an error reply.
pub async fn execute(store: &Store, cmd: Command, ctx: &mut ExecCtx) -> Reply {
    match apply(store, cmd, ctx).await {
        Ok(reply) => reply,
        Err(error) => error_reply(&error),
    }
}

/// What [`execute_resident`] found for a command.
pub enum Resolved {
    /// The reply, given without waiting (a GET answered from memory).
    Reply(Reply),
    /// A GET whose value is on disk at this entry: [`read_on_disk`] it,
    /// before any write of the batch, for the answer of the lookup.
    OnDisk(Entry),
    /// Anything else: [`execute`] it.
    Execute,
}

/// The reply of `cmd` if it can be given without waiting (a GET whose
/// answer is in memory), else what to do instead. Cheaper than a future
/// per command when a pipeline of GETs hits memory, and a GET that misses
/// keeps its keydir entry so the read looks nothing up again. `at`: the
/// GET's key hash when [`Store::prefetch`] computed it.
#[inline]
pub fn execute_resident(
    store: &Store,
    cmd: &Command,
    at: Option<KeyHash>,
    ctx: &ExecCtx,
) -> Resolved {
    match cmd {
        Command::Get(key) => match match at {
            Some(at) => store.get_resident_at(key, at, ctx.now_ms),
            None => store.get_resident(key, ctx.now_ms),
        } {
            Resident::Found(value) => Resolved::Reply(strings::into_bulk_or_nil(value)),
            Resident::OnDisk(entry) => Resolved::OnDisk(entry),
        },
        _ => Resolved::Execute,
    }
}

/// The reply of a GET of `key` that [`execute_resident`] found on disk at
/// `entry`.
pub async fn read_on_disk(store: &Store, key: &[u8], entry: Entry) -> Reply {
    match store.read_on_disk(key, entry).await {
        Ok(value) => strings::into_bulk_or_nil(value),
        Err(error) => error_reply(&ExecError::from(error)),
    }
}

/// How many times a read-modify-write starts over after losing a race before
/// it gives up with an error (each retry means another write made progress).
const MAX_ATTEMPTS: usize = 1000;

/// The error after [`MAX_ATTEMPTS`] lost races.
fn contention() -> ExecError {
    ExecError::Contention
}

async fn apply(store: &Store, cmd: Command, ctx: &mut ExecCtx) -> Result<Reply, ExecError> {
    use Command as C;
    Ok(match cmd {
        C::Get(key) => strings::get(store, &key, ctx).await?,
        C::Set {
            key,
            value,
            condition,
            get,
            expiry,
        } => strings::set(store, &key, &value, condition, get, expiry, ctx).await?,
        C::SetNx(key, value) => strings::setnx(store, &key, &value, ctx)?,
        C::GetSet(key, value) => strings::getset(store, &key, &value, ctx).await?,
        C::GetDel(key) => strings::getdel(store, &key, ctx).await?,
        C::GetEx(key, expiry) => strings::getex(store, &key, expiry, ctx).await?,
        C::MGet(keys) => strings::mget(store, &keys, ctx).await?,
        C::MSet(pairs) => strings::mset(store, &pairs, ctx)?,
        C::MSetNx(pairs) => strings::msetnx(store, &pairs, ctx)?,
        C::Strlen(key) => Reply::Integer(
            store
                .meta(&key, ctx.now_ms)
                .map_or(0, |meta| i64::from(meta.value_len)),
        ),
        C::Append(key, tail) => strings::append(store, &key, &tail, ctx).await?,
        C::IncrBy(key, delta) => strings::incr_by(store, &key, delta, ctx).await?,
        C::GetRange(key, start, end) => strings::getrange(store, &key, start, end, ctx).await?,
        C::SetRange(key, offset, patch) => {
            strings::setrange(store, &key, offset, &patch, ctx).await?
        }
        C::Del(keys) | C::Unlink(keys) => keys::del(store, &keys, ctx)?,
        C::Exists(keys) => keys::exists(store, &keys, ctx),
        C::Type(key) => keys::type_of(store, &key, ctx),
        C::Expire(key, expiry, condition) => {
            keys::expire(store, &key, expiry, condition, ctx).await?
        }
        C::Ttl(key, in_ms) => keys::ttl(store, &key, in_ms, false, ctx),
        C::ExpireTime(key, in_ms) => keys::ttl(store, &key, in_ms, true, ctx),
        C::Persist(key) => keys::persist(store, &key, ctx).await?,
        C::IncrByFloat(key, increment) => {
            strings::incr_by_float(store, &key, &increment, ctx).await?
        }
        C::SetBit(key, offset, bit) => bits::setbit(store, &key, offset, bit, ctx).await?,
        C::GetBit(key, offset) => bits::getbit(store, &key, offset, ctx).await?,
        C::BitCount(key, range) => bits::bitcount(store, &key, range, ctx).await?,
        C::BitPos(key, bit, range) => bits::bitpos(store, &key, bit, range, ctx).await?,
        C::Object(sub, key) => keys::object(store, sub, &key, ctx).await?,
        C::ObjectHelp => keys::object_help(),
        C::MemoryUsage(key) => keys::memory_usage(store, &key, ctx).await?,
        C::BitField { key, ops, .. } => bits::bitfield(store, &key, &ops, ctx).await?,
        C::Dump(key) => match store.get(&key, ctx.now_ms).await? {
            Some(value) => Reply::Bulk(dump::dump(&value.data)),
            None => Reply::Nil,
        },
        C::Restore {
            key,
            ttl,
            payload,
            replace,
            absttl,
        } => keys::restore(store, &key, &ttl, &payload, replace, absttl, ctx)?,
        server_level @ server_command!() => Reply::error(format!(
            "ERR '{}' is a server command and cannot run on a shard",
            server_level.name()
        )),
    })
}

/// Applies a computed command's writes (`Some((value, expire_at_ms))`) and
/// deletes (`None`) to this shard's store; the tickets go into `ctx`.
pub fn write_raw(
    store: &Store,
    writes: &[(bytes::Bytes, Option<(bytes::Bytes, u64)>)],
    ctx: &mut ExecCtx,
) -> Result<(), ExecError> {
    for (key, value) in writes {
        match value {
            Some((value, expire_at_ms)) => write(store, key, value, *expire_at_ms, ctx)?,
            None => {
                if let Some(ticket) = store.delete(key, ctx.now_ms)? {
                    ctx.wrote(ticket);
                }
            }
        }
    }
    Ok(())
}

/// The absolute expiry of `expiry` at `now_ms` (saturating: parsing already
/// rejected times that overflow).
fn expire_at(expiry: crate::commands::Expiry, now_ms: u64) -> u64 {
    match expiry {
        crate::commands::Expiry::In(ms) => now_ms.saturating_add(ms),
        crate::commands::Expiry::At(ms) => ms,
    }
}

/// True when an absolute expiry (0 = none) is already reached: writing the
/// key with it would only create a dead record, so the key is deleted
/// instead, as Redis does.
fn already_expired(expire_at_ms: u64, now_ms: u64) -> bool {
    expire_at_ms != 0 && expire_at_ms <= now_ms
}

/// Writes `key = value` with `expire_at_ms` (0 = none) if the key is still at
/// `expected` (`None` = absent), or deletes it when `expire_at_ms` has
/// already passed. Returns false when the key changed since it was read (the
/// caller starts over).
fn write_if(
    store: &Store,
    key: &[u8],
    value: &[u8],
    expire_at_ms: u64,
    expected: Option<Version>,
    ctx: &mut ExecCtx,
) -> Result<bool, ExecError> {
    if already_expired(expire_at_ms, ctx.now_ms) {
        return delete_if(store, key, expected, ctx);
    }
    match store.put_if(key, value, expire_at_ms, expected, ctx.now_ms)? {
        PutIf::Written(ticket) => {
            ctx.wrote(ticket);
            Ok(true)
        }
        PutIf::Conflict => Ok(false),
    }
}

/// Deletes `key` if it is still at `expected` (`None` = absent: nothing to
/// do). Returns false when the key changed since it was read.
fn delete_if(
    store: &Store,
    key: &[u8],
    expected: Option<Version>,
    ctx: &mut ExecCtx,
) -> Result<bool, ExecError> {
    let current = store.meta(key, ctx.now_ms).map(|meta| meta.version);
    if current != expected {
        return Ok(false);
    }
    if current.is_some()
        && let Some(ticket) = store.delete(key, ctx.now_ms)?
    {
        ctx.wrote(ticket);
    }
    Ok(true)
}

/// Writes unconditionally (or deletes when `expire_at_ms` has passed).
fn write(
    store: &Store,
    key: &[u8],
    value: &[u8],
    expire_at_ms: u64,
    ctx: &mut ExecCtx,
) -> Result<(), ExecError> {
    if already_expired(expire_at_ms, ctx.now_ms) {
        if let Some(ticket) = store.delete(key, ctx.now_ms)? {
            ctx.wrote(ticket);
        }
    } else {
        let ticket = store.put_at(key, ctx.key_hash.take(), value, expire_at_ms)?;
        ctx.wrote(ticket);
    }
    Ok(())
}
