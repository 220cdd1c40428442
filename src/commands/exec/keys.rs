//! The generic key commands on one shard: DEL, UNLINK, EXISTS, TYPE, the
//! EXPIRE family, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.

use bytes::Bytes;

use super::{ExecCtx, MAX_ATTEMPTS, contention, expire_at, write_if};
use crate::commands::{ExpireCondition, Expiry};
use crate::protocol::Reply;
use crate::storage::{StorageError, Store};

/// DEL and UNLINK (deletion is cheap here, so they are the same): the number
/// of keys that existed. A key given twice is deleted, and counted, once.
pub(super) fn del(store: &Store, keys: &[Bytes], ctx: &mut ExecCtx) -> Result<Reply, StorageError> {
    let mut deleted = 0;
    for key in keys {
        if let Some(ticket) = store.delete(key, ctx.now_ms)? {
            ctx.wrote(ticket);
            deleted += 1;
        }
    }
    Ok(Reply::Integer(deleted))
}

/// EXISTS: the number of given keys that exist, a key given twice counting
/// twice.
pub(super) fn exists(store: &Store, keys: &[Bytes], ctx: &ExecCtx) -> Reply {
    let found = keys
        .iter()
        .filter(|key| store.meta(key, ctx.now_ms).is_some())
        .count();
    Reply::Integer(found as i64)
}

/// TYPE: every value is a string.
pub(super) fn type_of(store: &Store, key: &[u8], ctx: &ExecCtx) -> Reply {
    let name = if store.meta(key, ctx.now_ms).is_some() {
        "string"
    } else {
        "none"
    };
    Reply::Status(name.into())
}

/// TTL/PTTL (`absolute` false) and EXPIRETIME/PEXPIRETIME (`absolute` true):
/// -2 when the key is absent, -1 when it has no expiry; seconds are rounded
/// to the nearest, as Redis does.
pub(super) fn ttl(store: &Store, key: &[u8], in_ms: bool, absolute: bool, ctx: &ExecCtx) -> Reply {
    let Some(meta) = store.meta(key, ctx.now_ms) else {
        return Reply::Integer(-2);
    };
    if meta.expire_at_ms == 0 {
        return Reply::Integer(-1);
    }
    let ms = if absolute {
        meta.expire_at_ms
    } else {
        meta.expire_at_ms.saturating_sub(ctx.now_ms)
    };
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    Reply::Integer(if in_ms {
        ms
    } else {
        ms.saturating_add(500) / 1000
    })
}

/// Whether EXPIRE's condition lets the new expiry `when` replace `current`
/// (`None` = no expiry, which counts as infinite for GT and LT).
fn condition_allows(condition: ExpireCondition, current: Option<u64>, when: u64) -> bool {
    match condition {
        ExpireCondition::Always => true,
        ExpireCondition::IfNoExpiry => current.is_none(),
        ExpireCondition::IfHasExpiry => current.is_some(),
        ExpireCondition::IfGreater => current.is_some_and(|current| when > current),
        ExpireCondition::IfLess => current.is_none_or(|current| when < current),
        ExpireCondition::IfHasExpiryAndLess => current.is_some_and(|current| when < current),
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: 1 when the expiry was set (or the
/// key deleted because the time has passed), 0 when the key is absent or the
/// condition failed.
pub(super) async fn expire(
    store: &Store,
    key: &[u8],
    expiry: Expiry,
    condition: ExpireCondition,
    ctx: &mut ExecCtx,
) -> Result<Reply, StorageError> {
    let when = expire_at(expiry, ctx.now_ms);
    for _ in 0..MAX_ATTEMPTS {
        let Some(meta) = store.meta(key, ctx.now_ms) else {
            return Ok(Reply::Integer(0));
        };
        let current = (meta.expire_at_ms != 0).then_some(meta.expire_at_ms);
        if !condition_allows(condition, current, when) {
            return Ok(Reply::Integer(0));
        }
        if when <= ctx.now_ms {
            // In the past: delete, synchronously after the meta check.
            if let Some(ticket) = store.delete(key, ctx.now_ms)? {
                ctx.wrote(ticket);
            }
            return Ok(Reply::Integer(1));
        }
        // Changing the expiry rewrites the record, which needs the value.
        let Some(value) = store.get(key, ctx.now_ms).await? else {
            continue;
        };
        if value.meta.version != meta.version {
            // Rewritten while reading: check the condition again.
            continue;
        }
        if write_if(store, key, &value.data, when, Some(meta.version), ctx)? {
            return Ok(Reply::Integer(1));
        }
    }
    Err(contention())
}

/// PERSIST: 1 when an expiry was removed, 0 when the key is absent or has
/// none.
pub(super) async fn persist(
    store: &Store,
    key: &[u8],
    ctx: &mut ExecCtx,
) -> Result<Reply, StorageError> {
    for _ in 0..MAX_ATTEMPTS {
        match store.meta(key, ctx.now_ms) {
            Some(meta) if meta.expire_at_ms != 0 => {}
            _ => return Ok(Reply::Integer(0)),
        }
        let Some(value) = store.get(key, ctx.now_ms).await? else {
            return Ok(Reply::Integer(0));
        };
        if value.meta.expire_at_ms == 0 {
            // Persisted by someone else while reading; re-check.
            continue;
        }
        if write_if(store, key, &value.data, 0, Some(value.meta.version), ctx)? {
            return Ok(Reply::Integer(1));
        }
    }
    Err(contention())
}
