//! Parsing of the string commands: GET, SET, SETNX, GETSET, GETDEL, GETEX,
//! MGET, MSET, MSETNX, STRLEN, APPEND, INCR, DECR, INCRBY, DECRBY, GETRANGE,
//! SETRANGE. Applying them is `exec`'s job.

use bytes::Bytes;

use super::{
    Command, Expiry, GetExExpiry, LateError, LcsMode, NOT_AN_INTEGER, SYNTAX_ERROR, SetCondition,
    SetExpiry, check_arity, int_arg, invalid_expire, is, wall_clock_ms, wrong_arity,
};
use crate::protocol::Reply;

/// `NAME key value`
pub(super) fn key_value(
    args: &[Bytes],
    build: impl FnOnce(Bytes, Bytes) -> Command,
) -> Result<Command, Reply> {
    Ok(build(args[1].clone(), args[2].clone()))
}

/// `NAME key value [key value ...]`
pub(super) fn pairs(args: &[Bytes], name: &str) -> Result<Vec<(Bytes, Bytes)>, Reply> {
    if args.len() < 3 || args.len().is_multiple_of(2) {
        return Err(wrong_arity(name));
    }
    Ok(args[1..]
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect())
}

/// The unit of an EX/PX/EXAT/PXAT option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// The options SET and GETEX share (Redis's
/// `parseExtendedStringArgumentsOrReply`).
#[derive(Debug, Default)]
struct StringOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryUnit, Bytes)>,
}

/// Parses the options from `args[first..]`. `for_set` selects SET's options
/// (NX, XX, GET, KEEPTTL) over GETEX's (PERSIST). Repeating an option is
/// allowed; combining incompatible ones is a syntax error, as in Redis.
fn string_options(args: &[Bytes], first: usize, for_set: bool) -> Result<StringOptions, Reply> {
    let mut options = StringOptions::default();
    let mut next = first;
    while next < args.len() {
        let option = &args[next];
        let value = args.get(next + 1);
        let unit = if is(option, "ex") {
            Some(ExpiryUnit::Ex)
        } else if is(option, "px") {
            Some(ExpiryUnit::Px)
        } else if is(option, "exat") {
            Some(ExpiryUnit::ExAt)
        } else if is(option, "pxat") {
            Some(ExpiryUnit::PxAt)
        } else {
            None
        };
        if let Some(unit) = unit {
            let other_unit = options.expiry.as_ref().is_some_and(|(u, _)| *u != unit);
            match value {
                Some(value) if !options.keep_ttl && !options.persist && !other_unit => {
                    options.expiry = Some((unit, value.clone()));
                    next += 1;
                }
                _ => return Err(SYNTAX_ERROR),
            }
        } else if for_set && is(option, "nx") && !options.xx {
            options.nx = true;
        } else if for_set && is(option, "xx") && !options.nx {
            options.xx = true;
        } else if for_set && is(option, "get") {
            options.get = true;
        } else if for_set && is(option, "keepttl") && options.expiry.is_none() {
            options.keep_ttl = true;
        } else if !for_set && is(option, "persist") && options.expiry.is_none() {
            options.persist = true;
        } else {
            return Err(SYNTAX_ERROR);
        }
        next += 1;
    }
    Ok(options)
}

/// Converts an EX/PX/EXAT/PXAT value to an [`Expiry`] the way Redis's
/// `getExpireMillisecondsOrReply` validates it: an integer, positive, and not
/// overflowing once converted to ms (and, for EX/PX, once added to now).
fn expiry_of(unit: ExpiryUnit, value: &[u8], command: &str) -> Result<Expiry, Reply> {
    let amount = int_arg(value)?;
    let seconds = matches!(unit, ExpiryUnit::Ex | ExpiryUnit::ExAt);
    if amount <= 0 || (seconds && amount > i64::MAX / 1000) {
        return Err(invalid_expire(command));
    }
    let ms = if seconds { amount * 1000 } else { amount } as u64;
    match unit {
        ExpiryUnit::Ex | ExpiryUnit::Px => {
            if ms > i64::MAX as u64 - wall_clock_ms() {
                return Err(invalid_expire(command));
            }
            Ok(Expiry::In(ms))
        }
        ExpiryUnit::ExAt | ExpiryUnit::PxAt => Ok(Expiry::At(ms)),
    }
}

pub(super) fn set(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, -3, "set")?;
    let options = string_options(args, 3, true)?;
    let expiry = match &options.expiry {
        Some((unit, value)) => SetExpiry::Set(expiry_of(*unit, value, "set")?),
        None if options.keep_ttl => SetExpiry::KeepTtl,
        None => SetExpiry::None,
    };
    let condition = if options.nx {
        SetCondition::IfAbsent
    } else if options.xx {
        SetCondition::IfPresent
    } else {
        SetCondition::Always
    };
    Ok(Command::Set {
        key: args[1].clone(),
        value: args[2].clone(),
        condition,
        get: options.get,
        expiry,
    })
}

/// SETEX key seconds value, PSETEX key milliseconds value.
pub(super) fn setex(args: &[Bytes], in_ms: bool) -> Result<Command, Reply> {
    let (unit, name) = if in_ms {
        (ExpiryUnit::Px, "psetex")
    } else {
        (ExpiryUnit::Ex, "setex")
    };
    let expiry = expiry_of(unit, &args[2], name)?;
    Ok(Command::Set {
        key: args[1].clone(),
        value: args[3].clone(),
        condition: SetCondition::Always,
        get: false,
        expiry: SetExpiry::Set(expiry),
    })
}

/// INCRBYFLOAT key increment: the increment must read as a long double.
pub(super) fn incrbyfloat(args: &[Bytes]) -> Result<Command, Reply> {
    if !super::longdouble::is_valid(&args[2]) {
        return Err(super::longdouble::NOT_A_FLOAT);
    }
    Ok(Command::IncrByFloat(args[1].clone(), args[2].clone()))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub(super) fn lcs(args: &[Bytes]) -> Result<Command, Reply> {
    let (mut len, mut idx, mut with_match_len, mut min_match_len) = (false, false, false, 0u64);
    let mut next = 3;
    while next < args.len() {
        let option = &args[next];
        if is(option, "idx") {
            idx = true;
        } else if is(option, "len") {
            len = true;
        } else if is(option, "withmatchlen") {
            with_match_len = true;
        } else if is(option, "minmatchlen") && next + 1 < args.len() {
            min_match_len = int_arg(&args[next + 1])?.max(0) as u64;
            next += 1;
        } else {
            return Err(SYNTAX_ERROR);
        }
        next += 1;
    }
    if len && idx {
        return Err(Reply::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let mode = if idx {
        LcsMode::Idx {
            min_match_len,
            with_match_len,
        }
    } else if len {
        LcsMode::Len
    } else {
        LcsMode::String
    };
    Ok(Command::Lcs {
        a: args[1].clone(),
        b: args[2].clone(),
        mode,
    })
}

pub(super) fn getex(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, -2, "getex")?;
    let options = string_options(args, 2, false)?;
    // Redis validates the time only once it has found the key: a bad time
    // on a missing key answers nil.
    let expiry = match &options.expiry {
        Some((unit, value)) => match expiry_of(*unit, value, "getex") {
            Ok(expiry) => GetExExpiry::Set(expiry),
            Err(reply) if reply == NOT_AN_INTEGER => GetExExpiry::Invalid(LateError::NotAnInteger),
            Err(_) => GetExExpiry::Invalid(LateError::InvalidGetExTime),
        },
        None if options.persist => GetExExpiry::Persist,
        None => GetExExpiry::Keep,
    };
    Ok(Command::GetEx(args[1].clone(), expiry))
}

pub(super) fn incrby(args: &[Bytes], decrement: bool) -> Result<Command, Reply> {
    check_arity(args, 3, if decrement { "decrby" } else { "incrby" })?;
    let delta = int_arg(&args[2])?;
    let delta = if decrement {
        delta
            .checked_neg()
            .ok_or(Reply::err("ERR decrement would overflow"))?
    } else {
        delta
    };
    Ok(Command::IncrBy(args[1].clone(), delta))
}

pub(super) fn getrange(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, 4, "getrange")?;
    let start = int_arg(&args[2])?;
    let end = int_arg(&args[3])?;
    Ok(Command::GetRange(args[1].clone(), start, end))
}

pub(super) fn setrange(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, 4, "setrange")?;
    let offset = int_arg(&args[2])?;
    let offset = u64::try_from(offset).map_err(|_| Reply::err("ERR offset is out of range"))?;
    Ok(Command::SetRange(args[1].clone(), offset, args[3].clone()))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, parse, parse_err};
    use super::*;

    fn set_cmd(condition: SetCondition, get: bool, expiry: SetExpiry) -> Command {
        Command::Set {
            key: b("k"),
            value: b("v"),
            condition,
            get,
            expiry,
        }
    }

    #[test]
    fn get_and_plain_set() {
        assert_eq!(parse("GET k"), Ok(Command::Get(b("k"))));
        assert_eq!(
            parse_err("get"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            parse_err("get a b"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            parse("set k v"),
            Ok(set_cmd(SetCondition::Always, false, SetExpiry::None))
        );
        assert_eq!(
            parse_err("set k"),
            "ERR wrong number of arguments for 'set' command"
        );
    }

    #[test]
    fn set_options() {
        use SetCondition::*;
        assert_eq!(
            parse("set k v nx"),
            Ok(set_cmd(IfAbsent, false, SetExpiry::None))
        );
        assert_eq!(
            parse("set k v XX get"),
            Ok(set_cmd(IfPresent, true, SetExpiry::None))
        );
        assert_eq!(
            parse("set k v nx get"),
            Ok(set_cmd(IfAbsent, true, SetExpiry::None))
        );
        assert_eq!(
            parse("set k v keepttl"),
            Ok(set_cmd(Always, false, SetExpiry::KeepTtl))
        );
        assert_eq!(
            parse("set k v ex 10"),
            Ok(set_cmd(Always, false, SetExpiry::Set(Expiry::In(10_000))))
        );
        assert_eq!(
            parse("set k v px 10 nx"),
            Ok(set_cmd(IfAbsent, false, SetExpiry::Set(Expiry::In(10))))
        );
        assert_eq!(
            parse("set k v exat 10"),
            Ok(set_cmd(Always, false, SetExpiry::Set(Expiry::At(10_000))))
        );
        assert_eq!(
            parse("set k v PXAT 10"),
            Ok(set_cmd(Always, false, SetExpiry::Set(Expiry::At(10))))
        );
        // The same option twice is fine; the last value wins.
        assert_eq!(
            parse("set k v ex 1 ex 2 nx nx"),
            Ok(set_cmd(IfAbsent, false, SetExpiry::Set(Expiry::In(2000))))
        );
    }

    #[test]
    fn set_rejects_what_redis_rejects() {
        for line in [
            "set k v nx xx",
            "set k v xx nx",
            "set k v ex 10 px 10",
            "set k v px 10 exat 10",
            "set k v ex 10 keepttl",
            "set k v keepttl ex 10",
            "set k v ex",
            "set k v persist",
            "set k v foo",
        ] {
            assert_eq!(parse_err(line), "ERR syntax error", "{line}");
        }
        for line in [
            "set k v ex 0",
            "set k v px -1",
            "set k v exat 0",
            "set k v ex 9223372036854776",
            "set k v px 9223372036854775807",
        ] {
            assert_eq!(
                parse_err(line),
                "ERR invalid expire time in 'set' command",
                "{line}"
            );
        }
        assert_eq!(
            parse_err("set k v ex ten"),
            "ERR value is not an integer or out of range"
        );
        // PXAT has no "now" to add, so it only has to be positive.
        assert!(parse("set k v pxat 9223372036854775807").is_ok());
    }

    #[test]
    fn setnx_getset_getdel_getex() {
        assert_eq!(parse("setnx k v"), Ok(Command::SetNx(b("k"), b("v"))));
        assert_eq!(
            parse_err("setnx k"),
            "ERR wrong number of arguments for 'setnx' command"
        );
        assert_eq!(parse("getset k v"), Ok(Command::GetSet(b("k"), b("v"))));
        assert_eq!(
            parse_err("getset k v x"),
            "ERR wrong number of arguments for 'getset' command"
        );
        assert_eq!(parse("getdel k"), Ok(Command::GetDel(b("k"))));
        assert_eq!(
            parse_err("getdel"),
            "ERR wrong number of arguments for 'getdel' command"
        );
        assert_eq!(
            parse("getex k"),
            Ok(Command::GetEx(b("k"), GetExExpiry::Keep))
        );
        assert_eq!(
            parse("getex k persist"),
            Ok(Command::GetEx(b("k"), GetExExpiry::Persist))
        );
        assert_eq!(
            parse("getex k ex 5"),
            Ok(Command::GetEx(b("k"), GetExExpiry::Set(Expiry::In(5000))))
        );
        assert_eq!(
            parse("getex k pxat 5"),
            Ok(Command::GetEx(b("k"), GetExExpiry::Set(Expiry::At(5))))
        );
        for line in [
            "getex k persist ex 5",
            "getex k ex 5 persist",
            "getex k ex 5 px 5",
            "getex k nx",
            "getex k keepttl",
            "getex k get",
            "getex k px",
        ] {
            assert_eq!(parse_err(line), "ERR syntax error", "{line}");
        }
        assert_eq!(
            parse("getex k ex 0"),
            Ok(Command::GetEx(
                b("k"),
                GetExExpiry::Invalid(LateError::InvalidGetExTime)
            ))
        );
        assert_eq!(
            parse_err("getex"),
            "ERR wrong number of arguments for 'getex' command"
        );
    }

    #[test]
    fn multi_key() {
        assert_eq!(
            parse("mget a b a"),
            Ok(Command::MGet(vec![b("a"), b("b"), b("a")]))
        );
        assert_eq!(
            parse_err("mget"),
            "ERR wrong number of arguments for 'mget' command"
        );
        assert_eq!(
            parse("mset a 1 b 2"),
            Ok(Command::MSet(vec![(b("a"), b("1")), (b("b"), b("2"))]))
        );
        assert_eq!(
            parse_err("mset a 1 b"),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            parse_err("mset a"),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            parse("msetnx a 1"),
            Ok(Command::MSetNx(vec![(b("a"), b("1"))]))
        );
        assert_eq!(
            parse_err("msetnx a 1 b"),
            "ERR wrong number of arguments for 'msetnx' command"
        );
    }

    #[test]
    fn counters() {
        assert_eq!(parse("incr k"), Ok(Command::IncrBy(b("k"), 1)));
        assert_eq!(parse("DECR k"), Ok(Command::IncrBy(b("k"), -1)));
        assert_eq!(parse("incrby k -7"), Ok(Command::IncrBy(b("k"), -7)));
        assert_eq!(parse("decrby k 7"), Ok(Command::IncrBy(b("k"), -7)));
        assert_eq!(
            parse("decrby k -9223372036854775807"),
            Ok(Command::IncrBy(b("k"), i64::MAX))
        );
        assert_eq!(
            parse_err("decrby k -9223372036854775808"),
            "ERR decrement would overflow"
        );
        assert_eq!(
            parse_err("incrby k 1.5"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("incrby k 9223372036854775808"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("incr"),
            "ERR wrong number of arguments for 'incr' command"
        );
        assert_eq!(
            parse_err("decr k 1"),
            "ERR wrong number of arguments for 'decr' command"
        );
        assert_eq!(
            parse_err("incrby k"),
            "ERR wrong number of arguments for 'incrby' command"
        );
        assert_eq!(
            parse_err("decrby k"),
            "ERR wrong number of arguments for 'decrby' command"
        );
    }

    #[test]
    fn lengths_and_ranges() {
        assert_eq!(parse("strlen k"), Ok(Command::Strlen(b("k"))));
        assert_eq!(
            parse_err("strlen"),
            "ERR wrong number of arguments for 'strlen' command"
        );
        assert_eq!(parse("append k v"), Ok(Command::Append(b("k"), b("v"))));
        assert_eq!(
            parse_err("append k"),
            "ERR wrong number of arguments for 'append' command"
        );
        assert_eq!(
            parse("getrange k -3 -1"),
            Ok(Command::GetRange(b("k"), -3, -1))
        );
        assert_eq!(
            parse_err("getrange k a 1"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("getrange k 0"),
            "ERR wrong number of arguments for 'getrange' command"
        );
        assert_eq!(
            parse("setrange k 5 v"),
            Ok(Command::SetRange(b("k"), 5, b("v")))
        );
        assert_eq!(parse_err("setrange k -1 v"), "ERR offset is out of range");
        assert_eq!(
            parse_err("setrange k x v"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("setrange k 1"),
            "ERR wrong number of arguments for 'setrange' command"
        );
    }
}
