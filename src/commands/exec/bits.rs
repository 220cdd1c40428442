//! The bitmap commands on one shard: SETBIT, GETBIT, BITCOUNT, BITPOS.
//! Bit 0 is the most significant bit of the first byte, as in Redis.

use bytes::BytesMut;

use super::{ExecCtx, ExecError, MAX_ATTEMPTS, contention, write_if};
use crate::commands::{BitFieldAction, BitFieldOp, BitRange, LateError, Overflow};
use crate::protocol::Reply;
use crate::storage::Store;

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
) -> Result<Reply, ExecError> {
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
) -> Result<Reply, ExecError> {
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
) -> Result<Reply, ExecError> {
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
) -> Result<Reply, ExecError> {
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

/// The `bits`-bit field at bit `offset` of `data` (zero past its end), most
/// significant bit first.
fn get_field(data: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |value, j| {
        (value << 1) | u64::from(bit_at(data, offset + j))
    })
}

fn set_field(data: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = offset + j;
        let mask = 0x80u8 >> (bit & 7);
        if (value >> (u64::from(bits) - 1 - j)) & 1 == 1 {
            data[(bit >> 3) as usize] |= mask;
        } else {
            data[(bit >> 3) as usize] &= !mask;
        }
    }
}

fn sign_extend(value: u64, bits: u32) -> i64 {
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `Some(limit)` on overflow (the
/// wrapped or saturated value; FAIL uses only the fact).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max: u64 = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if overflow == Overflow::Sat {
            max
        } else {
            wrap()
        })
    } else if incr < 0 && incr < min_incr {
        Some(if overflow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`.
fn signed_overflow(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let sum = (value as u64).wrapping_add(incr as u64);
        sign_extend(
            if bits < 64 {
                sum & !(u64::MAX << bits)
            } else {
                sum
            },
            bits,
        )
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Some(if overflow == Overflow::Sat {
            max
        } else {
            wrap()
        })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(if overflow == Overflow::Sat {
            min
        } else {
            wrap()
        })
    } else {
        None
    }
}

/// BITFIELD: the operations in order on one copy of the value, written
/// back (TTL kept) once if any wrote. Like Redis, a command with a write
/// first grows the string (creating the key) to its farthest written bit,
/// even when OVERFLOW FAIL then writes nothing.
pub(super) async fn bitfield(
    store: &Store,
    key: &[u8],
    ops: &[BitFieldOp],
    ctx: &mut ExecCtx,
) -> Result<Reply, ExecError> {
    let farthest = ops
        .iter()
        .filter(|op| op.action != BitFieldAction::Get)
        .map(|op| op.offset + u64::from(op.bits) - 1)
        .max();
    if let Some(bit) = farthest
        && let Err(reply) = super::strings::check_length(bit >> 3, 1, ctx)
    {
        return Ok(reply);
    }
    for _ in 0..MAX_ATTEMPTS {
        let old = store.get(key, ctx.now_ms).await?;
        let old_data = old.as_ref().map_or(&[][..], |old| &old.data[..]);
        let mut data = old_data.to_vec();
        if let Some(bit) = farthest {
            let len = (bit >> 3) as usize + 1;
            if data.len() < len {
                data.resize(len, 0);
            }
        }
        let mut replies = Vec::with_capacity(ops.len());
        for op in ops {
            let current = get_field(&data, op.offset, op.bits);
            let reply = match (op.action, op.signed) {
                (BitFieldAction::Get, true) => Reply::Integer(sign_extend(current, op.bits)),
                (BitFieldAction::Get, false) => Reply::Integer(current as i64),
                (action, true) => {
                    let old_value = sign_extend(current, op.bits);
                    let (new_value, answer, overflowed) = match action {
                        BitFieldAction::IncrBy(incr) => {
                            match signed_overflow(old_value, incr, op.bits, op.overflow) {
                                Some(limit) => (limit, limit, true),
                                None => (
                                    old_value.wrapping_add(incr),
                                    old_value.wrapping_add(incr),
                                    false,
                                ),
                            }
                        }
                        _ => {
                            let value = match action {
                                BitFieldAction::Set(value) => value,
                                _ => 0,
                            };
                            match signed_overflow(value, 0, op.bits, op.overflow) {
                                Some(limit) => (limit, old_value, true),
                                None => (value, old_value, false),
                            }
                        }
                    };
                    if overflowed && op.overflow == Overflow::Fail {
                        Reply::Nil
                    } else {
                        set_field(&mut data, op.offset, op.bits, new_value as u64);
                        Reply::Integer(answer)
                    }
                }
                (action, false) => {
                    let (new_value, answer, overflowed) = match action {
                        BitFieldAction::IncrBy(incr) => {
                            match unsigned_overflow(current, incr, op.bits, op.overflow) {
                                Some(limit) => (limit, limit, true),
                                None => {
                                    let sum = current.wrapping_add(incr as u64);
                                    (sum, sum, false)
                                }
                            }
                        }
                        _ => {
                            let value = match action {
                                BitFieldAction::Set(value) => value as u64,
                                _ => 0,
                            };
                            match unsigned_overflow(value, 0, op.bits, op.overflow) {
                                Some(limit) => (limit, current, true),
                                None => (value, current, false),
                            }
                        }
                    };
                    if overflowed && op.overflow == Overflow::Fail {
                        Reply::Nil
                    } else {
                        set_field(&mut data, op.offset, op.bits, new_value);
                        Reply::Integer(answer as i64)
                    }
                }
            };
            replies.push(reply);
        }
        if farthest.is_none() || (old.is_some() && data == old_data) {
            return Ok(Reply::Array(replies));
        }
        // BITFIELD keeps the key's TTL.
        let expire_at_ms = old.as_ref().map_or(0, |old| old.meta.expire_at_ms);
        let expected = old.as_ref().map(|old| old.meta.version);
        if write_if(store, key, &data, expire_at_ms, expected, ctx)? {
            return Ok(Reply::Array(replies));
        }
    }
    Err(contention())
}
