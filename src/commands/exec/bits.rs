//! The bitmap commands on one shard: SETBIT, GETBIT, BITCOUNT, BITPOS.
//! Bit 0 is the most significant bit of the first byte, as in Redis.

use bytes::BytesMut;

use super::{ExecCtx, MAX_ATTEMPTS, contention, write_if};
use crate::commands::{BitRange, LateError};
use crate::protocol::Reply;
use crate::storage::{StorageError, Store};

fn bit_at(data: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    data.get(byte)
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

pub(super) async fn setbit(
    store: &Store,
    key: &[u8],
    offset: u64,
    bit: bool,
    ctx: &mut ExecCtx,
) -> Result<Reply, StorageError> {
    let byte = (offset >> 3) as usize;
    if let Err(reply) = super::strings::check_length(byte as u64, 1, ctx) {
        return Ok(reply);
    }
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let old_data = old.as_ref().map_or(&[][..], |old| &old.data[..]);
        let was = bit_at(old_data, offset);
        let mut value = BytesMut::zeroed(old_data.len().max(byte + 1));
        value[..old_data.len()].copy_from_slice(old_data);
        let mask = 0x80 >> (offset & 7);
        if bit {
            value[byte] |= mask;
        } else {
            value[byte] &= !mask;
        }
        // SETBIT keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, &value, expire_at_ms, expected, ctx)? {
            return Ok(Reply::Integer(i64::from(was)));
        }
    }
    Err(contention())
}

pub(super) async fn getbit(
    store: &Store,
    key: &[u8],
    offset: u64,
    ctx: &ExecCtx,
) -> Result<Reply, StorageError> {
    let value = store.get(key, ctx.now_ms).await?;
    let data = value.as_ref().map_or(&[][..], |value| &value.data[..]);
    Ok(Reply::Integer(i64::from(bit_at(data, offset))))
}

/// Clamps `start..=end` (negative: from the end) to `0..total` as Redis's
/// BITCOUNT and BITPOS do; `None` when the range is empty.
fn clamp(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
    let resolve = |index: i64| {
        if index < 0 {
            (total + index).max(0)
        } else {
            index
        }
    };
    let (start, end) = (resolve(start), resolve(end).min(total - 1));
    (start <= end).then_some((start, end))
}

/// The first and last bit (inclusive) a range names in `data`.
fn bit_span(range: &BitRange, end: i64, len: usize) -> Option<(u64, u64)> {
    let total = len as i64 * if range.bits { 8 } else { 1 };
    let (start, end) = clamp(range.start, end, total)?;
    Some(if range.bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    })
}

fn count_bits(data: &[u8], first: u64, last: u64) -> i64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut count: i64 = data[first_byte..=last_byte]
        .iter()
        .map(|b| i64::from(b.count_ones()))
        .sum();
    // Take off the bits of the edge bytes outside the range.
    count -= i64::from((data[first_byte] & !(0xFFu8 >> (first & 7))).count_ones());
    count -= i64::from((data[last_byte] & (0x7Fu8 >> (last & 7))).count_ones());
    count
}

pub(super) async fn bitcount(
    store: &Store,
    key: &[u8],
    range: Result<Option<BitRange>, LateError>,
    ctx: &ExecCtx,
) -> Result<Reply, StorageError> {
    let Some(value) = store.get(key, ctx.now_ms).await? else {
        return Ok(Reply::Integer(0));
    };
    let data = &value.data[..];
    let range = match range {
        Ok(range) => range,
        Err(error) => return Ok(error.reply()),
    };
    let span = match range {
        None if data.is_empty() => None,
        None => Some((0, data.len() as u64 * 8 - 1)),
        Some(range) => {
            let end = range.end.unwrap_or(-1);
            // Both negative and start past end: empty, before clamping.
            if range.start < 0 && end < 0 && range.start > end {
                None
            } else {
                bit_span(&range, end, data.len())
            }
        }
    };
    Ok(Reply::Integer(
        span.map_or(0, |(first, last)| count_bits(data, first, last)),
    ))
}

pub(super) async fn bitpos(
    store: &Store,
    key: &[u8],
    bit: bool,
    range: Result<Option<BitRange>, LateError>,
    ctx: &ExecCtx,
) -> Result<Reply, StorageError> {
    let Some(value) = store.get(key, ctx.now_ms).await? else {
        return Ok(Reply::Integer(if bit { -1 } else { 0 }));
    };
    let data = &value.data[..];
    let range = match range {
        Ok(range) => range,
        Err(error) => return Ok(error.reply()),
    };
    let end_given = range.is_some_and(|range| range.end.is_some());
    let range = range.unwrap_or(BitRange {
        start: 0,
        end: None,
        bits: false,
    });
    let Some((first, last)) = bit_span(&range, range.end.unwrap_or(-1), data.len()) else {
        return Ok(Reply::Integer(-1));
    };
    if let Some(found) = (first..=last).find(|&offset| bit_at(data, offset) == bit) {
        return Ok(Reply::Integer(found as i64));
    }
    // Looking for a clear bit without an end: the string counts as padded
    // with zeros on the right.
    Ok(Reply::Integer(if !bit && !end_given {
        last as i64 + 1
    } else {
        -1
    }))
}
