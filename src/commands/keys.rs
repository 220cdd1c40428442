//! Parsing of the generic key commands: DEL, UNLINK, EXISTS, TYPE, the
//! EXPIRE family, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST. Applying them
//! is `exec`'s job.

use bytes::Bytes;

use super::{
    Command, ExpireCondition, Expiry, ObjectSub, check_arity, int_arg, invalid_expire, is,
    wall_clock_ms,
};
use crate::protocol::Reply;

/// RENAME / RENAMENX source destination
pub(super) fn rename(args: &[Bytes], nx: bool) -> Result<Command, Reply> {
    Ok(Command::Rename {
        from: args[1].clone(),
        to: args[2].clone(),
        nx,
    })
}

/// COPY source destination [DB destination-db] [REPLACE]
pub(super) fn copy(args: &[Bytes]) -> Result<Command, Reply> {
    let mut replace = false;
    let mut next = 3;
    while next < args.len() {
        let option = &args[next];
        if is(option, "replace") {
            replace = true;
        } else if is(option, "db") && next + 1 < args.len() {
            // Redis reads a C int; only database 0 exists here.
            let db = int_arg(&args[next + 1])?;
            if i32::try_from(db).is_err() {
                return Err(super::NOT_AN_INTEGER);
            }
            if db != 0 {
                return Err(Reply::err("ERR DB index is out of range"));
            }
            next += 1;
        } else {
            return Err(super::SYNTAX_ERROR);
        }
        next += 1;
    }
    if args[1] == args[2] {
        return Err(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    Ok(Command::Copy {
        from: args[1].clone(),
        to: args[2].clone(),
        replace,
    })
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP
pub(super) fn object(args: &[Bytes]) -> Result<Command, Reply> {
    let sub = args[1].to_ascii_lowercase();
    let (object_sub, full_name) = match sub.as_slice() {
        b"help" => {
            check_arity(args, 2, "object|help")?;
            return Ok(Command::ObjectHelp);
        }
        b"encoding" => (ObjectSub::Encoding, "object|encoding"),
        b"freq" => (ObjectSub::Freq, "object|freq"),
        b"idletime" => (ObjectSub::IdleTime, "object|idletime"),
        b"refcount" => (ObjectSub::RefCount, "object|refcount"),
        _ => return Err(super::unknown_subcommand(args)),
    };
    check_arity(args, 3, full_name)?;
    Ok(Command::Object(object_sub, args[2].clone()))
}

/// MEMORY USAGE key [SAMPLES count]
pub(super) fn memory(args: &[Bytes]) -> Result<Command, Reply> {
    if !is(&args[1], "usage") {
        return Err(super::unknown_subcommand(args));
    }
    check_arity(args, -3, "memory|usage")?;
    let mut next = 3;
    while next < args.len() {
        if is(&args[next], "samples") && next + 1 < args.len() {
            if int_arg(&args[next + 1])? < 0 {
                return Err(super::SYNTAX_ERROR);
            }
            next += 2;
        } else {
            return Err(super::SYNTAX_ERROR);
        }
    }
    Ok(Command::MemoryUsage(args[2].clone()))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]:
/// the options are checked here, the rest once the key is looked up.
pub(super) fn restore(args: &[Bytes]) -> Result<Command, Reply> {
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, false, false);
    let mut next = 4;
    while next < args.len() {
        let option = &args[next];
        let more = next + 1 < args.len();
        if is(option, "replace") {
            replace = true;
        } else if is(option, "absttl") {
            absttl = true;
        } else if is(option, "idletime") && more && !freq {
            if int_arg(&args[next + 1])? < 0 {
                return Err(Reply::err("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = true;
            next += 1;
        } else if is(option, "freq") && more && !idle {
            if !(0..=255).contains(&int_arg(&args[next + 1])?) {
                return Err(Reply::err(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = true;
            next += 1;
        } else {
            return Err(super::SYNTAX_ERROR);
        }
        next += 1;
    }
    Ok(Command::Restore {
        key: args[1].clone(),
        ttl: args[2].clone(),
        payload: args[3].clone(),
        replace,
        absttl,
    })
}

/// WAIT numreplicas timeout: validated as Redis does; there are no replicas.
pub(super) fn wait(args: &[Bytes]) -> Result<Command, Reply> {
    let numreplicas = int_arg(&args[1])?;
    let timeout = super::parse_i64(&args[2])
        .ok_or(Reply::err("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    Ok(Command::Wait {
        numreplicas,
        timeout_ms: timeout as u64,
    })
}

/// How the time argument of an EXPIRE-family command is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeKind {
    /// EXPIRE: seconds from now.
    RelativeSeconds,
    /// PEXPIRE: ms from now.
    RelativeMs,
    /// EXPIREAT: a Unix time in seconds.
    AbsoluteSeconds,
    /// PEXPIREAT: a Unix time in ms.
    AbsoluteMs,
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT ...], checked in
/// Redis's order: options first, then the integer, then overflow.
///
/// A time at or before now (EXPIRE with a negative number, EXPIREAT in the
/// past) becomes `In(0)` / `At(0)`: either way the key is deleted.
pub(super) fn expire(args: &[Bytes], name: &str, kind: TimeKind) -> Result<Command, Reply> {
    check_arity(args, -3, name)?;
    let condition = expire_condition(&args[3..])?;
    let amount = int_arg(&args[2])?;
    let ms = match kind {
        TimeKind::RelativeSeconds | TimeKind::AbsoluteSeconds => amount
            .checked_mul(1000)
            .ok_or_else(|| invalid_expire(name))?,
        TimeKind::RelativeMs | TimeKind::AbsoluteMs => amount,
    };
    let expiry = match kind {
        TimeKind::RelativeSeconds | TimeKind::RelativeMs => {
            // Redis adds the time to now and rejects an overflow.
            if ms > 0 && ms as u64 > i64::MAX as u64 - wall_clock_ms() {
                return Err(invalid_expire(name));
            }
            Expiry::In(ms.max(0) as u64)
        }
        TimeKind::AbsoluteSeconds | TimeKind::AbsoluteMs => Expiry::At(ms.max(0) as u64),
    };
    Ok(Command::Expire(args[1].clone(), expiry, condition))
}

/// The NX/XX/GT/LT options (any number, any case).
fn expire_condition(options: &[Bytes]) -> Result<ExpireCondition, Reply> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        if is(option, "nx") {
            nx = true;
        } else if is(option, "xx") {
            xx = true;
        } else if is(option, "gt") {
            gt = true;
        } else if is(option, "lt") {
            lt = true;
        } else {
            return Err(Reply::error(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::IfNoExpiry,
        // GT already fails on a key without expiry, so XX adds nothing.
        (_, _, true, _) => ExpireCondition::IfGreater,
        (_, true, _, true) => ExpireCondition::IfHasExpiryAndLess,
        (_, true, _, _) => ExpireCondition::IfHasExpiry,
        (_, _, _, true) => ExpireCondition::IfLess,
        _ => ExpireCondition::Always,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, parse, parse_err};
    use super::*;

    #[test]
    fn del_unlink_exists_type() {
        assert_eq!(parse("del a b"), Ok(Command::Del(vec![b("a"), b("b")])));
        assert_eq!(parse("UNLINK a"), Ok(Command::Unlink(vec![b("a")])));
        assert_eq!(
            parse("exists a a"),
            Ok(Command::Exists(vec![b("a"), b("a")]))
        );
        for name in ["del", "unlink", "exists", "type"] {
            assert_eq!(
                parse_err(name),
                format!("ERR wrong number of arguments for '{name}' command")
            );
        }
        assert_eq!(parse("type k"), Ok(Command::Type(b("k"))));
        assert_eq!(
            parse_err("type a b"),
            "ERR wrong number of arguments for 'type' command"
        );
    }

    #[test]
    fn expire_times() {
        use ExpireCondition::Always;
        assert_eq!(
            parse("expire k 10"),
            Ok(Command::Expire(b("k"), Expiry::In(10_000), Always))
        );
        assert_eq!(
            parse("PEXPIRE k 10"),
            Ok(Command::Expire(b("k"), Expiry::In(10), Always))
        );
        assert_eq!(
            parse("expireat k 10"),
            Ok(Command::Expire(b("k"), Expiry::At(10_000), Always))
        );
        assert_eq!(
            parse("pexpireat k 10"),
            Ok(Command::Expire(b("k"), Expiry::At(10), Always))
        );
        // Past times are allowed (they delete the key).
        assert_eq!(
            parse("expire k -5"),
            Ok(Command::Expire(b("k"), Expiry::In(0), Always))
        );
        assert_eq!(
            parse("expire k 0"),
            Ok(Command::Expire(b("k"), Expiry::In(0), Always))
        );
        assert_eq!(
            parse("pexpireat k -5"),
            Ok(Command::Expire(b("k"), Expiry::At(0), Always))
        );
        assert_eq!(
            parse_err("expire k 9223372036854776"),
            "ERR invalid expire time in 'expire' command"
        );
        assert_eq!(
            parse_err("expireat k -9223372036854776"),
            "ERR invalid expire time in 'expireat' command"
        );
        assert_eq!(
            parse_err("pexpire k 9223372036854775807"),
            "ERR invalid expire time in 'pexpire' command"
        );
        assert!(parse("pexpireat k 9223372036854775807").is_ok());
        assert_eq!(
            parse_err("expire k soon"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("expire k"),
            "ERR wrong number of arguments for 'expire' command"
        );
        assert_eq!(
            parse_err("pexpireat k"),
            "ERR wrong number of arguments for 'pexpireat' command"
        );
    }

    #[test]
    fn expire_options() {
        use ExpireCondition::*;
        let condition = |line: &str| match parse(line) {
            Ok(Command::Expire(_, _, condition)) => condition,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(condition("expire k 1 nx"), IfNoExpiry);
        assert_eq!(condition("expire k 1 XX"), IfHasExpiry);
        assert_eq!(condition("expire k 1 gt"), IfGreater);
        assert_eq!(condition("expire k 1 lt"), IfLess);
        assert_eq!(condition("expire k 1 xx gt"), IfGreater);
        assert_eq!(condition("expire k 1 lt xx"), IfHasExpiryAndLess);
        assert_eq!(condition("expire k 1 nx nx"), IfNoExpiry);
        for line in ["expire k 1 nx xx", "expire k 1 nx gt", "expire k 1 lt nx"] {
            assert_eq!(
                parse_err(line),
                "ERR NX and XX, GT or LT options at the same time are not compatible"
            );
        }
        assert_eq!(
            parse_err("expire k 1 gt lt"),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(parse_err("expire k 1 foo"), "ERR Unsupported option foo");
        // Options are checked before the time.
        assert_eq!(parse_err("expire k x foo"), "ERR Unsupported option foo");
    }

    #[test]
    fn ttl_family_and_persist() {
        assert_eq!(parse("ttl k"), Ok(Command::Ttl(b("k"), false)));
        assert_eq!(parse("PTTL k"), Ok(Command::Ttl(b("k"), true)));
        assert_eq!(
            parse("expiretime k"),
            Ok(Command::ExpireTime(b("k"), false))
        );
        assert_eq!(
            parse("pexpiretime k"),
            Ok(Command::ExpireTime(b("k"), true))
        );
        assert_eq!(parse("persist k"), Ok(Command::Persist(b("k"))));
        for name in ["ttl", "pttl", "expiretime", "pexpiretime", "persist"] {
            assert_eq!(
                parse_err(&format!("{name} a b")),
                format!("ERR wrong number of arguments for '{name}' command")
            );
        }
    }
}
