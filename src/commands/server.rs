//! Parsing of the server-level commands other than the connection ones:
//! introspection (COMMAND, CONFIG, INFO, TIME, DBSIZE), keyspace-wide
//! (FLUSHALL, FLUSHDB, KEYS, SCAN) and SHUTDOWN.
//! They are answered by `crate::pipeline`, never by a shard's `exec`.

use bytes::Bytes;

use super::{
    Command, CommandSub, SYNTAX_ERROR, check_arity, int_arg, is, unknown_subcommand, wrong_arity,
};
use crate::protocol::Reply;

pub(super) fn lower(arg: &Bytes) -> Bytes {
    Bytes::from(arg.to_ascii_lowercase())
}

pub(super) fn command(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.get(1) else {
        return Ok(Command::Command(CommandSub::All));
    };
    let sub = sub.to_ascii_lowercase();
    let parsed = match sub.as_slice() {
        b"count" => {
            check_arity(args, 2, "command|count")?;
            CommandSub::Count
        }
        b"docs" => CommandSub::Docs(args[2..].to_vec()),
        b"getkeys" => {
            check_arity(args, -3, "command|getkeys")?;
            CommandSub::GetKeys(args[2..].to_vec())
        }
        b"info" => CommandSub::Info(args[2..].to_vec()),
        b"list" => {
            // FILTERBY MODULE|ACLCAT|PATTERN value is accepted; the filter
            // is not applied.
            match &args[2..] {
                [] => {}
                [filterby, kind, _]
                    if is(filterby, "filterby")
                        && ["module", "aclcat", "pattern"].iter().any(|k| is(kind, k)) => {}
                _ => return Err(SYNTAX_ERROR),
            }
            CommandSub::List
        }
        _ => return Err(unknown_subcommand(args)),
    };
    Ok(Command::Command(parsed))
}

pub(super) fn config(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, -2, "config")?;
    let sub = args[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"get" => {
            check_arity(args, -3, "config|get")?;
            Ok(Command::ConfigGet(args[2..].to_vec()))
        }
        b"set" => {
            if args.len() < 4 || args.len() % 2 == 1 {
                return Err(wrong_arity("config|set"));
            }
            Ok(Command::ConfigSet(
                args[2..]
                    .chunks_exact(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
            ))
        }
        b"resetstat" => check_arity(args, 2, "config|resetstat")
            .map(|()| Command::ConfigOther(Bytes::from_static(b"resetstat"))),
        b"rewrite" => check_arity(args, 2, "config|rewrite")
            .map(|()| Command::ConfigOther(Bytes::from_static(b"rewrite"))),
        _ => Err(unknown_subcommand(args)),
    }
}

pub(super) fn flush(args: &[Bytes]) -> Result<Command, Reply> {
    match &args[1..] {
        [] => Ok(Command::FlushAll),
        [mode] if is(mode, "sync") || is(mode, "async") => Ok(Command::FlushAll),
        _ => Err(SYNTAX_ERROR),
    }
}

pub(super) fn shutdown(args: &[Bytes]) -> Result<Command, Reply> {
    let (mut save, mut nosave, mut other_flag, mut abort) = (false, false, false, false);
    for option in &args[1..] {
        if is(option, "nosave") {
            nosave = true;
        } else if is(option, "save") {
            save = true;
        } else if is(option, "now") || is(option, "force") {
            other_flag = true;
        } else if is(option, "abort") {
            abort = true;
        } else {
            return Err(SYNTAX_ERROR);
        }
    }
    if (abort && (save || nosave || other_flag)) || (save && nosave) {
        return Err(SYNTAX_ERROR);
    }
    if abort {
        // Shutdown is immediate here: there is never one to abort.
        return Err(Reply::err("ERR No shutdown in progress."));
    }
    Ok(Command::Shutdown)
}

pub(super) fn scan(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, -2, "scan")?;
    let cursor = parse_cursor(&args[1]).ok_or(Reply::err("ERR invalid cursor"))?;
    let mut pattern = None;
    let mut count = 10;
    let mut type_filter = None;
    let mut next = 2;
    while next < args.len() {
        let option = &args[next];
        let value = args.get(next + 1);
        match value {
            Some(value) if is(option, "count") => {
                let wanted = int_arg(value)?;
                if wanted < 1 {
                    return Err(SYNTAX_ERROR);
                }
                count = usize::try_from(wanted).unwrap_or(usize::MAX);
            }
            // MATCH * filters nothing.
            Some(value) if is(option, "match") => {
                pattern = (value.as_ref() != b"*").then(|| value.clone());
            }
            Some(value) if is(option, "type") => type_filter = Some(value.clone()),
            _ => return Err(SYNTAX_ERROR),
        }
        next += 2;
    }
    Ok(Command::Scan {
        cursor,
        pattern,
        count,
        type_filter,
    })
}

/// A SCAN cursor: an unsigned 64-bit decimal.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, parse, parse_err};
    use super::*;

    #[test]
    fn command_subcommands() {
        assert_eq!(parse("command"), Ok(Command::Command(CommandSub::All)));
        assert_eq!(
            parse("COMMAND count"),
            Ok(Command::Command(CommandSub::Count))
        );
        assert_eq!(
            parse_err("command count x"),
            "ERR wrong number of arguments for 'command|count' command"
        );
        assert_eq!(
            parse("command docs get set"),
            Ok(Command::Command(CommandSub::Docs(vec![b("get"), b("set")])))
        );
        assert_eq!(
            parse("command info"),
            Ok(Command::Command(CommandSub::Info(vec![])))
        );
        assert_eq!(
            parse("command list"),
            Ok(Command::Command(CommandSub::List))
        );
        assert_eq!(
            parse("command list filterby pattern g*"),
            Ok(Command::Command(CommandSub::List))
        );
        assert_eq!(parse_err("command list x"), "ERR syntax error");
        assert_eq!(
            parse_err("command nope"),
            "ERR unknown subcommand 'nope'. Try COMMAND HELP."
        );
    }

    #[test]
    fn config_info_time_dbsize() {
        assert_eq!(
            parse("config get maxmemory save"),
            Ok(Command::ConfigGet(vec![b("maxmemory"), b("save")]))
        );
        assert_eq!(
            parse_err("config get"),
            "ERR wrong number of arguments for 'config|get' command"
        );
        assert_eq!(
            parse("CONFIG SET a b"),
            Ok(Command::ConfigSet(vec![(b("a"), b("b"))]))
        );
        assert_eq!(
            parse_err("config set a"),
            "ERR wrong number of arguments for 'config|set' command"
        );
        assert_eq!(
            parse_err("config set a b c"),
            "ERR wrong number of arguments for 'config|set' command"
        );
        assert_eq!(
            parse("config resetstat"),
            Ok(Command::ConfigOther(b("resetstat")))
        );
        assert_eq!(
            parse("config rewrite"),
            Ok(Command::ConfigOther(b("rewrite")))
        );
        assert_eq!(
            parse_err("config"),
            "ERR wrong number of arguments for 'config' command"
        );
        assert_eq!(
            parse_err("config foo"),
            "ERR unknown subcommand 'foo'. Try CONFIG HELP."
        );
        assert_eq!(parse("info"), Ok(Command::Info(vec![])));
        assert_eq!(
            parse("info Server stats"),
            Ok(Command::Info(vec![b("server"), b("stats")]))
        );
        assert_eq!(parse("time"), Ok(Command::Time));
        assert_eq!(
            parse_err("time x"),
            "ERR wrong number of arguments for 'time' command"
        );
        assert_eq!(parse("dbsize"), Ok(Command::DbSize));
        assert_eq!(
            parse_err("dbsize x"),
            "ERR wrong number of arguments for 'dbsize' command"
        );
    }

    #[test]
    fn flush_and_shutdown() {
        assert_eq!(parse("flushall"), Ok(Command::FlushAll));
        assert_eq!(parse("FLUSHDB async"), Ok(Command::FlushAll));
        assert_eq!(parse("flushall SYNC"), Ok(Command::FlushAll));
        assert_eq!(parse_err("flushall later"), "ERR syntax error");
        assert_eq!(parse_err("flushdb sync async"), "ERR syntax error");
        assert_eq!(parse("shutdown"), Ok(Command::Shutdown));
        assert_eq!(parse("MERGE"), Ok(Command::Merge { background: false }));
        assert_eq!(
            parse("bgrewriteaof"),
            Ok(Command::Merge { background: true })
        );
        assert!(parse("merge now").is_err());
        assert_eq!(parse("shutdown NOSAVE now force"), Ok(Command::Shutdown));
        assert_eq!(parse_err("shutdown save nosave"), "ERR syntax error");
        assert_eq!(parse_err("shutdown abort now"), "ERR syntax error");
        assert_eq!(parse_err("shutdown please"), "ERR syntax error");
        assert_eq!(parse_err("shutdown abort"), "ERR No shutdown in progress.");
    }

    #[test]
    fn keys_and_scan() {
        assert_eq!(parse("keys user:*"), Ok(Command::Keys(b("user:*"))));
        assert_eq!(
            parse_err("keys"),
            "ERR wrong number of arguments for 'keys' command"
        );
        assert_eq!(
            parse("scan 0"),
            Ok(Command::Scan {
                cursor: 0,
                pattern: None,
                count: 10,
                type_filter: None
            })
        );
        assert_eq!(
            parse("SCAN 18446744073709551615 match k* COUNT 100 type string"),
            Ok(Command::Scan {
                cursor: u64::MAX,
                pattern: Some(b("k*")),
                count: 100,
                type_filter: Some(b("string"))
            })
        );
        assert_eq!(
            parse("scan 5 match *"),
            Ok(Command::Scan {
                cursor: 5,
                pattern: None,
                count: 10,
                type_filter: None
            })
        );
        assert_eq!(parse_err("scan -1"), "ERR invalid cursor");
        assert_eq!(parse_err("scan abc"), "ERR invalid cursor");
        assert_eq!(parse_err("scan 0 count 0"), "ERR syntax error");
        assert_eq!(parse_err("scan 0 count -5"), "ERR syntax error");
        assert_eq!(
            parse_err("scan 0 count x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(parse_err("scan 0 match"), "ERR syntax error");
        assert_eq!(parse_err("scan 0 bogus 1"), "ERR syntax error");
        assert_eq!(
            parse_err("scan"),
            "ERR wrong number of arguments for 'scan' command"
        );
    }
}
