//! The string commands on one shard: GET, SET, SETNX, GETSET, GETDEL, GETEX,
//! MGET, MSET, MSETNX, APPEND, INCRBY (and INCR, DECR, DECRBY), GETRANGE,
//! SETRANGE.

use bytes::{Bytes, BytesMut};

use super::{ExecCtx, ExecError, MAX_ATTEMPTS, contention, delete_if, expire_at, write, write_if};
use crate::commands::{GetExExpiry, SetCondition, SetExpiry, parse_i64};
use crate::protocol::Reply;
use crate::storage::{PutIf, Store, Value};

/// The reply for a value that may be absent.
pub(super) fn bulk_or_nil(value: Option<&Value>) -> Reply {
    value.map_or(Reply::Nil, |value| Reply::Bulk(value.data.clone()))
}

/// [`bulk_or_nil`] for a value in hand: moved, not cloned (cloning a
/// `Bytes` made from a `Vec` allocates its shared header: one more
/// allocation per GET).
pub(super) fn into_bulk_or_nil(value: Option<Value>) -> Reply {
    value.map_or(Reply::Nil, |value| Reply::Bulk(value.data))
}

/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)` unless a
/// value of `old_len + added` bytes is allowed.
pub(super) fn check_length(old_len: u64, added: u64, ctx: &ExecCtx) -> Result<(), Reply> {
    // The store keeps value lengths in a u32.
    let limit = ctx.max_value_size.min(u64::from(u32::MAX));
    match old_len.checked_add(added) {
        Some(total) if total <= limit => Ok(()),
        _ => Err(Reply::err(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

pub(super) async fn get(store: &Store, key: &[u8], ctx: &ExecCtx) -> Result<Reply, ExecError> {
    Ok(into_bulk_or_nil(store.get(key, ctx.now_ms).await?))
}

pub(super) async fn set(
    store: &Store,
    key: &[u8],
    value: &[u8],
    condition: SetCondition,
    get: bool,
    expiry: SetExpiry,
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    let now_ms = ctx.now_ms;
    let new_expiry = |old_expire_at_ms: Option<u64>| match expiry {
        SetExpiry::None => 0,
        SetExpiry::KeepTtl => old_expire_at_ms.unwrap_or(0),
        SetExpiry::Set(expiry) => expire_at(expiry, now_ms),
    };
    let skip = |exists: bool| match condition {
        SetCondition::Always => false,
        SetCondition::IfAbsent => exists,
        SetCondition::IfPresent => !exists,
    };
    if !get {
        // A plain SET (no condition, no KEEPTTL) needs nothing of the old
        // entry: no lookup before the write's own.
        if condition == SetCondition::Always && !matches!(expiry, SetExpiry::KeepTtl) {
            write(store, key, value, new_expiry(None), ctx)?;
            return Ok(Reply::OK);
        }
        // Metadata is enough: check and write with no await in between.
        let old = store.meta(key, ctx.now_ms);
        if skip(old.is_some()) {
            return Ok(Reply::Nil);
        }
        let expire_at_ms = new_expiry(old.map(|meta| meta.expire_at_ms));
        write(store, key, value, expire_at_ms, ctx)?;
        return Ok(Reply::OK);
    }
    // GET needs the old value, which may take a disk read.
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let reply = bulk_or_nil(old.as_ref());
        let old_meta = old.map(|old| old.meta);
        if skip(old_meta.is_some()) {
            return Ok(reply);
        }
        let expire_at_ms = new_expiry(old_meta.map(|meta| meta.expire_at_ms));
        let expected = old_meta.map(|meta| meta.version);
        if write_if(store, key, value, expire_at_ms, expected, ctx)? {
            return Ok(reply);
        }
    }
    Err(contention())
}

pub(super) fn setnx(
    store: &Store,
    key: &[u8],
    value: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    Ok(match store.put_if(key, value, 0, None, ctx.now_ms)? {
        PutIf::Written(ticket) => {
            ctx.wrote(ticket);
            Reply::Integer(1)
        }
        PutIf::Conflict => Reply::Integer(0),
    })
}

pub(super) async fn getset(
    store: &Store,
    key: &[u8],
    value: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, value, 0, expected, ctx)? {
            return Ok(bulk_or_nil(old.as_ref()));
        }
    }
    Err(contention())
}

pub(super) async fn getdel(
    store: &Store,
    key: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(old) = store.get(key, ctx.now_ms).await? else {
            return Ok(Reply::Nil);
        };
        if delete_if(store, key, Some(old.meta.version), ctx)? {
            return Ok(Reply::Bulk(old.data));
        }
    }
    Err(contention())
}

pub(super) async fn getex(
    store: &Store,
    key: &[u8],
    expiry: GetExExpiry,
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(old) = store.get(key, ctx.now_ms).await? else {
            return Ok(Reply::Nil);
        };
        let expire_at_ms = match expiry {
            GetExExpiry::Keep => return Ok(Reply::Bulk(old.data)),
            // Nothing to change: no write.
            GetExExpiry::Persist if old.meta.expire_at_ms == 0 => {
                return Ok(Reply::Bulk(old.data));
            }
            GetExExpiry::Persist => 0,
            GetExExpiry::Set(expiry) => expire_at(expiry, ctx.now_ms),
            GetExExpiry::Invalid(error) => return Ok(error.reply()),
        };
        let expected = Some(old.meta.version);
        if write_if(store, key, &old.data, expire_at_ms, expected, ctx)? {
            return Ok(Reply::Bulk(old.data));
        }
    }
    Err(contention())
}

/// MGET returns a consistent snapshot: after reading every key it checks,
/// synchronously, that none changed meanwhile, and reads again if one did.
pub(super) async fn mget(store: &Store, keys: &[Bytes], ctx: &ExecCtx) -> Result<Reply, ExecError> {
    let mut values = Vec::with_capacity(keys.len());
    for _ in 0..MAX_ATTEMPTS {
        values.clear();
        for key in keys {
            values.push(store.get(key, ctx.now_ms).await?);
        }
        let unchanged = keys.iter().zip(&values).all(|(key, value)| {
            store.meta(key, ctx.now_ms).map(|meta| meta.version)
                == value.as_ref().map(|value| value.meta.version)
        });
        if unchanged {
            return Ok(Reply::Array(
                values
                    .iter()
                    .map(|value| bulk_or_nil(value.as_ref()))
                    .collect(),
            ));
        }
    }
    Err(contention())
}

pub(super) fn mset(
    store: &Store,
    pairs: &[(Bytes, Bytes)],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for (key, value) in pairs {
        ctx.wrote(store.put(key, value, 0)?);
    }
    Ok(Reply::OK)
}

/// MSETNX on this shard's keys: all are checked and all are written with no
/// await in between, so the command is atomic on the shard.
pub(super) fn msetnx(
    store: &Store,
    pairs: &[(Bytes, Bytes)],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    if pairs
        .iter()
        .any(|(key, _)| store.meta(key, ctx.now_ms).is_some())
    {
        return Ok(Reply::Integer(0));
    }
    mset(store, pairs, ctx)?;
    Ok(Reply::Integer(1))
}

pub(super) async fn append(
    store: &Store,
    key: &[u8],
    tail: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let old_len = old.as_ref().map_or(0, |old| old.data.len());
        if let Err(reply) = check_length(old_len as u64, tail.len() as u64, ctx) {
            return Ok(reply);
        }
        let mut value = BytesMut::with_capacity(old_len + tail.len());
        if let Some(old) = &old {
            value.extend_from_slice(&old.data);
        }
        value.extend_from_slice(tail);
        // APPEND keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, &value, expire_at_ms, expected, ctx)? {
            return Ok(Reply::Integer(value.len() as i64));
        }
    }
    Err(contention())
}

pub(super) async fn incr_by(
    store: &Store,
    key: &[u8],
    delta: i64,
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let current = match &old {
            None => 0,
            Some(old) => match parse_i64(&old.data) {
                Some(current) => current,
                None => return Ok(crate::commands::NOT_AN_INTEGER),
            },
        };
        let Some(updated) = current.checked_add(delta) else {
            return Ok(Reply::err("ERR increment or decrement would overflow"));
        };
        // INCR keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        let digits = updated.to_string();
        if write_if(store, key, digits.as_bytes(), expire_at_ms, expected, ctx)? {
            return Ok(Reply::Integer(updated));
        }
    }
    Err(contention())
}

pub(super) async fn getrange(
    store: &Store,
    key: &[u8],
    start: i64,
    end: i64,
    ctx: &ExecCtx,
) -> Result<Reply, ExecError> {
    let empty = Reply::Bulk(Bytes::new());
    let Some(value) = store.get(key, ctx.now_ms).await? else {
        return Ok(empty);
    };
    Ok(match byte_range(value.data.len(), start, end) {
        Some((first, last)) => Reply::Bulk(value.data.slice(first..=last)),
        None => empty,
    })
}

/// The inclusive byte range GETRANGE returns for a value of `len` bytes,
/// resolving negative indexes from the end like Redis; `None` when empty.
pub(super) fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let resolve = |index: i64| {
        if index < 0 {
            (len + index).max(0)
        } else {
            index
        }
    };
    let start = resolve(start);
    let end = resolve(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

pub(super) async fn setrange(
    store: &Store,
    key: &[u8],
    offset: u64,
    patch: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let old_len = old.as_ref().map_or(0, |old| old.data.len());
        if patch.is_empty() {
            // Nothing to write: an absent key stays absent.
            return Ok(Reply::Integer(old_len as i64));
        }
        if let Err(reply) = check_length(offset, patch.len() as u64, ctx) {
            return Ok(reply);
        }
        // Fits in usize: checked against a u32 limit above.
        let offset = offset as usize;
        let new_len = old_len.max(offset + patch.len());
        let mut value = BytesMut::zeroed(new_len);
        if let Some(old) = &old {
            value[..old_len].copy_from_slice(&old.data);
        }
        value[offset..offset + patch.len()].copy_from_slice(patch);
        // SETRANGE keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, &value, expire_at_ms, expected, ctx)? {
            return Ok(Reply::Integer(new_len as i64));
        }
    }
    Err(contention())
}

pub(super) async fn incr_by_float(
    store: &Store,
    key: &[u8],
    increment: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let updated = match crate::commands::longdouble::increment(
            old.as_ref().map(|old| &old.data[..]),
            increment,
        ) {
            Ok(updated) => updated,
            Err(reply) => return Ok(reply),
        };
        // INCRBYFLOAT keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, updated.as_bytes(), expire_at_ms, expected, ctx)? {
            return Ok(Reply::Bulk(Bytes::from(updated)));
        }
    }
    Err(contention())
}
