//! The generic key commands on one shard: DEL, UNLINK, EXISTS, TYPE, the
//! EXPIRE family, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.

use bytes::Bytes;

use super::{ExecCtx, ExecError, MAX_ATTEMPTS, contention, expire_at, write_if};
use crate::commands::{ExpireCondition, Expiry, ObjectSub};
use crate::protocol::Reply;
use crate::storage::Store;

/// DEL and UNLINK (deletion is cheap here, so they are the same): the number
/// of keys that existed. A key given twice is deleted, and counted, once.
pub(super) fn del(store: &Store, keys: &[Bytes], ctx: &mut ExecCtx) -> Result<Reply, ExecError> {
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
) -> Result<Reply, ExecError> {
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
) -> Result<Reply, ExecError> {
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

/// How Redis would encode a string value it stored as given: `int` for a
/// 64-bit integer of at most 20 characters, `embstr` up to 44 bytes, `raw`
/// beyond. (Redis also answers `raw` for short values grown by APPEND,
/// SETRANGE or SETBIT; that history is not kept here.)
fn encoding_of(data: &[u8]) -> &'static str {
    if data.len() <= 20 && crate::commands::parse_i64(data).is_some() {
        "int"
    } else if data.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

pub(super) async fn object(
    store: &Store,
    sub: ObjectSub,
    key: &[u8],
    ctx: &ExecCtx,
) -> Result<Reply, ExecError> {
    let Some(value) = store.get(key, ctx.now_ms).await? else {
        return Ok(Reply::Nil);
    };
    Ok(match sub {
        ObjectSub::Encoding => Reply::bulk(encoding_of(&value.data).as_bytes()),
        ObjectSub::Freq => Reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
        // Access times are not tracked, so every key counts as just used.
        // Tracking them would cost every key 2-4 bytes in the packed keydir
        // record (14 bytes beside a 16-byte key today) and turn every read
        // into a write of its keydir line; the value cache could carry one
        // for cached keys only, which would be half an answer.
        ObjectSub::IdleTime => Reply::Integer(0),
        // Redis shares the integers 0..10000 (refcount INT_MAX).
        ObjectSub::RefCount => match crate::commands::parse_i64(&value.data) {
            Some(n) if (0..10_000).contains(&n) && value.data.len() <= 20 => {
                Reply::Integer(i64::from(i32::MAX))
            }
            _ => Reply::Integer(1),
        },
    })
}

/// OBJECT HELP, as Redis 7 words it.
pub(super) fn object_help() -> Reply {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(
        LINES
            .iter()
            .map(|line| Reply::Status((*line).into()))
            .collect(),
    )
}

/// MEMORY USAGE: an estimate in Redis's terms (key and value bytes plus
/// the per-key overhead of a Redis dict entry and string object).
pub(super) async fn memory_usage(
    store: &Store,
    key: &[u8],
    ctx: &ExecCtx,
) -> Result<Reply, ExecError> {
    Ok(match store.meta(key, ctx.now_ms) {
        Some(meta) => Reply::Integer(40 + key.len() as i64 + i64::from(meta.value_len)),
        None => Reply::Nil,
    })
}

/// RESTORE, checking in Redis's order: the key's absence (unless REPLACE),
/// the TTL, the payload.
pub(super) fn restore(
    store: &Store,
    key: &[u8],
    ttl: &[u8],
    payload: &[u8],
    replace: bool,
    absttl: bool,
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    let exists = store.meta(key, ctx.now_ms).is_some();
    if exists && !replace {
        return Ok(Reply::err("BUSYKEY Target key name already exists."));
    }
    let Some(ttl) = crate::commands::parse_i64(ttl) else {
        return Ok(crate::commands::NOT_AN_INTEGER);
    };
    if ttl < 0 {
        return Ok(Reply::err("ERR Invalid TTL value, must be >= 0"));
    }
    let value = match super::dump::restore(payload, ctx.max_value_size) {
        Ok(value) => value,
        Err(super::dump::PayloadError::VersionOrChecksum) => {
            return Ok(Reply::err("ERR DUMP payload version or checksum are wrong"));
        }
        Err(super::dump::PayloadError::BadFormat) => {
            return Ok(Reply::err("ERR Bad data format"));
        }
    };
    let expire_at_ms = match (ttl, absttl) {
        (0, _) => 0,
        (ttl, true) => ttl as u64,
        (ttl, false) => ctx.now_ms.saturating_add(ttl as u64),
    };
    // An already passed expiry deletes the key (super::write does).
    super::write(store, key, &value, expire_at_ms, ctx)?;
    Ok(Reply::OK)
}
