//! Parsing of the bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.
//! Applying them is `exec`'s job (BITOP's: the server's, see `Route`).

use bytes::Bytes;

use super::{
    BitFieldAction, BitFieldOp, BitOpKind, BitRange, Command, LateError, Overflow, SYNTAX_ERROR,
    is, parse_i64, wrong_arity,
};
use crate::protocol::Reply;

/// Redis's limit on a bit offset: within a 512 MB string (proto-max-bulk-len).
const MAX_BIT_OFFSET: u64 = 512 * 1024 * 1024 * 8;

/// A bit offset as Redis's `getBitOffsetFromArgument` reads it.
fn bit_offset(arg: &[u8]) -> Result<u64, Reply> {
    parse_i64(arg)
        .and_then(|offset| u64::try_from(offset).ok())
        .filter(|&offset| offset < MAX_BIT_OFFSET)
        .ok_or(Reply::err(
            "ERR bit offset is not an integer or out of range",
        ))
}

pub(super) fn setbit(args: &[Bytes]) -> Result<Command, Reply> {
    let offset = bit_offset(&args[2])?;
    let bit = match args[3].as_ref() {
        b"0" => false,
        b"1" => true,
        _ => return Err(Reply::err("ERR bit is not an integer or out of range")),
    };
    Ok(Command::SetBit(args[1].clone(), offset, bit))
}

pub(super) fn getbit(args: &[Bytes]) -> Result<Command, Reply> {
    Ok(Command::GetBit(args[1].clone(), bit_offset(&args[2])?))
}

/// `[BYTE|BIT]` at the end of a range.
fn unit(arg: Option<&Bytes>) -> Result<bool, LateError> {
    match arg {
        None => Ok(false),
        Some(arg) if is(arg, "bit") => Ok(true),
        Some(arg) if is(arg, "byte") => Ok(false),
        Some(_) => Err(LateError::Syntax),
    }
}

fn late_int(arg: &[u8]) -> Result<i64, LateError> {
    parse_i64(arg).ok_or(LateError::NotAnInteger)
}

pub(super) fn bitcount(args: &[Bytes]) -> Result<Command, Reply> {
    let range = match args.len() {
        2 => Ok(None),
        4 | 5 => (|| {
            let start = late_int(&args[2])?;
            let end = late_int(&args[3])?;
            // Both from the end and crossed: 0, before the unit is read.
            let bits = if start < 0 && end < 0 && start > end {
                false
            } else {
                unit(args.get(4))?
            };
            Ok(Some(BitRange {
                start,
                end: Some(end),
                bits,
            }))
        })(),
        _ => Err(LateError::Syntax),
    };
    Ok(Command::BitCount(args[1].clone(), range))
}

pub(super) fn bitpos(args: &[Bytes]) -> Result<Command, Reply> {
    let bit = match parse_i64(&args[2]) {
        Some(0) => false,
        Some(1) => true,
        Some(_) => return Err(Reply::err("ERR The bit argument must be 1 or 0.")),
        None => return Err(super::NOT_AN_INTEGER),
    };
    let range = match args.len() {
        3 => Ok(None),
        4..=6 => (|| {
            // Redis reads the unit before the end.
            let start = late_int(&args[3])?;
            let bits = unit(args.get(5))?;
            let end = args.get(4).map(|end| late_int(end)).transpose()?;
            Ok(Some(BitRange { start, end, bits }))
        })(),
        _ => Err(LateError::Syntax),
    };
    Ok(Command::BitPos(args[1].clone(), bit, range))
}

pub(super) fn bitop(args: &[Bytes]) -> Result<Command, Reply> {
    let op = &args[1];
    let op = if is(op, "and") {
        BitOpKind::And
    } else if is(op, "or") {
        BitOpKind::Or
    } else if is(op, "xor") {
        BitOpKind::Xor
    } else if is(op, "not") {
        BitOpKind::Not
    } else {
        return Err(SYNTAX_ERROR);
    };
    if op == BitOpKind::Not && args.len() != 4 {
        return Err(Reply::err(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    if args.len() < 4 {
        return Err(wrong_arity("bitop"));
    }
    Ok(Command::BitOp {
        op,
        keys: args[2..].to_vec(),
    })
}

/// A BITFIELD type, `i1`..`i64` or `u1`..`u63`: (signed, bits).
fn bitfield_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let invalid = Reply::err(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    );
    let signed = match arg.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(invalid),
    };
    match parse_i64(&arg[1..]) {
        Some(bits) if bits >= 1 && bits <= if signed { 64 } else { 63 } => {
            Ok((signed, bits as u32))
        }
        _ => Err(invalid),
    }
}

/// A BITFIELD offset: `n` bits, or `#n` fields of `bits` bits.
fn bitfield_offset(arg: &[u8], bits: u32) -> Result<u64, Reply> {
    let error = Reply::err("ERR bit offset is not an integer or out of range");
    let (by_field, digits) = match arg {
        [b'#', rest @ ..] => (true, rest),
        _ => (false, arg),
    };
    let mut offset = parse_i64(digits).ok_or(error.clone())?;
    if by_field {
        offset = offset.checked_mul(i64::from(bits)).ok_or(error.clone())?;
    }
    u64::try_from(offset)
        .ok()
        .filter(|&offset| offset < MAX_BIT_OFFSET)
        .ok_or(error)
}

/// BITFIELD and BITFIELD_RO, checked in Redis's order: every operation in
/// turn (name and argument count, type, offset, value), then BITFIELD_RO's
/// GET-only rule.
pub(super) fn bitfield(args: &[Bytes], read_only: bool) -> Result<Command, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut next = 2;
    while next < args.len() {
        let remaining = args.len() - next - 1;
        let name = &args[next];
        let takes_value = if is(name, "get") && remaining >= 2 {
            false
        } else if (is(name, "set") || is(name, "incrby")) && remaining >= 3 {
            true
        } else if is(name, "overflow") && remaining >= 1 {
            let mode = &args[next + 1];
            overflow = if is(mode, "wrap") {
                Overflow::Wrap
            } else if is(mode, "sat") {
                Overflow::Sat
            } else if is(mode, "fail") {
                Overflow::Fail
            } else {
                return Err(Reply::err("ERR Invalid OVERFLOW type specified"));
            };
            next += 2;
            continue;
        } else {
            return Err(SYNTAX_ERROR);
        };
        let (signed, bits) = bitfield_type(&args[next + 1])?;
        let offset = bitfield_offset(&args[next + 2], bits)?;
        let action = if takes_value {
            let value = parse_i64(&args[next + 3]).ok_or(super::NOT_AN_INTEGER)?;
            if is(name, "set") {
                BitFieldAction::Set(value)
            } else {
                BitFieldAction::IncrBy(value)
            }
        } else {
            BitFieldAction::Get
        };
        ops.push(BitFieldOp {
            action,
            signed,
            bits,
            offset,
            overflow,
        });
        next += if takes_value { 4 } else { 3 };
    }
    if read_only && ops.iter().any(|op| op.action != BitFieldAction::Get) {
        return Err(Reply::err(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(Command::BitField {
        key: args[1].clone(),
        ops,
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, parse, parse_err};
    use super::*;

    #[test]
    fn bit_commands_parse_like_redis() {
        assert_eq!(parse("setbit k 7 1"), Ok(Command::SetBit(b("k"), 7, true)));
        assert_eq!(
            parse_err("setbit k -1 1"),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(
            parse_err("setbit k 4294967296 1"),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(
            parse_err("setbit k 1 2"),
            "ERR bit is not an integer or out of range"
        );
        assert_eq!(
            parse("getbit k 4294967295"),
            Ok(Command::GetBit(b("k"), 4294967295))
        );
        assert_eq!(
            parse("bitcount k a b"),
            Ok(Command::BitCount(b("k"), Err(LateError::NotAnInteger)))
        );
        assert_eq!(
            parse("bitcount k 1"),
            Ok(Command::BitCount(b("k"), Err(LateError::Syntax)))
        );
        assert_eq!(
            parse_err("bitpos k 2"),
            "ERR The bit argument must be 1 or 0."
        );
        assert_eq!(parse_err("bitop foo d s"), "ERR syntax error");
        assert_eq!(
            parse_err("bitop not d s s"),
            "ERR BITOP NOT must be called with a single source key."
        );
        assert_eq!(
            parse_err("bitop and d"),
            "ERR wrong number of arguments for 'bitop' command"
        );
    }
}
