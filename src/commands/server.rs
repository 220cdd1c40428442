//! Parsing of the server-level commands: connection (PING, ECHO, QUIT,
//! SELECT, HELLO, CLIENT), introspection (COMMAND, CONFIG, INFO, TIME,
//! DBSIZE), keyspace-wide (FLUSHALL, FLUSHDB, KEYS, SCAN) and SHUTDOWN.
//! They are answered by `crate::server`, never by a shard's `exec`.

use bytes::Bytes;

use super::{
    ClientSub, Command, CommandSub, SYNTAX_ERROR, check_arity, int_arg, is, unknown_subcommand,
    wrong_arity,
};
use crate::protocol::Reply;

/// Parses `args` if `name` (lower case) is a server-level command.
pub(super) fn parse(name: &[u8], args: &[Bytes]) -> Option<Result<Command, Reply>> {
    Some(match name {
        b"ping" => ping(args),
        b"echo" => check_arity(args, 2, "echo").map(|()| Command::Echo(args[1].clone())),
        b"quit" => Ok(Command::Quit),
        b"select" => select(args),
        b"hello" => hello(args),
        b"command" => command(args),
        b"client" => client(args),
        b"config" => config(args),
        b"info" => Ok(Command::Info(args[1..].iter().map(lower).collect())),
        b"time" => check_arity(args, 1, "time").map(|()| Command::Time),
        b"dbsize" => check_arity(args, 1, "dbsize").map(|()| Command::DbSize),
        b"flushall" | b"flushdb" => flush(args),
        b"shutdown" => shutdown(args),
        b"keys" => check_arity(args, 2, "keys").map(|()| Command::Keys(args[1].clone())),
        b"scan" => scan(args),
        _ => return None,
    })
}

fn lower(arg: &Bytes) -> Bytes {
    Bytes::from(arg.to_ascii_lowercase())
}

fn ping(args: &[Bytes]) -> Result<Command, Reply> {
    if args.len() > 2 {
        return Err(wrong_arity("ping"));
    }
    Ok(Command::Ping(args.get(1).cloned()))
}

fn select(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, 2, "select")?;
    // Redis reads the index as a C int.
    let index = int_arg(&args[1])?;
    if i32::try_from(index).is_err() {
        return Err(super::NOT_AN_INTEGER);
    }
    if index != 0 {
        return Err(Reply::err("ERR DB index is out of range"));
    }
    Ok(Command::Select(index))
}

/// Client names and CLIENT SETINFO values: printable ASCII without spaces.
fn is_valid_client_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_CLIENT_NAME: Reply =
    Reply::err("ERR Client names cannot contain spaces, newlines or special characters.");

fn hello(args: &[Bytes]) -> Result<Command, Reply> {
    let mut protover = None;
    let mut next = 1;
    if let Some(version) = args.get(1) {
        let version = super::parse_i64(version).ok_or(Reply::err(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&version) {
            return Err(Reply::err("NOPROTO unsupported protocol version"));
        }
        protover = Some(version);
        next = 2;
    }
    let mut auth_user = None;
    let mut setname = None;
    while next < args.len() {
        let more = args.len() - 1 - next;
        let option = &args[next];
        if is(option, "auth") && more >= 2 {
            auth_user = Some(&args[next + 1]);
            next += 3;
        } else if is(option, "setname") && more >= 1 {
            setname = Some(args[next + 1].clone());
            next += 2;
        } else {
            return Err(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            )));
        }
    }
    // There are no ACL users: only the default user, which needs no
    // password, can authenticate.
    if auth_user.is_some_and(|user| user.as_ref() != b"default") {
        return Err(Reply::err(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    }
    if setname
        .as_ref()
        .is_some_and(|name| !is_valid_client_attr(name))
    {
        return Err(BAD_CLIENT_NAME);
    }
    Ok(Command::Hello { protover, setname })
}

fn command(args: &[Bytes]) -> Result<Command, Reply> {
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

fn client(args: &[Bytes]) -> Result<Command, Reply> {
    check_arity(args, -2, "client")?;
    let sub = args[1].to_ascii_lowercase();
    let parsed = match sub.as_slice() {
        b"setname" => {
            check_arity(args, 3, "client|setname")?;
            if !is_valid_client_attr(&args[2]) {
                return Err(BAD_CLIENT_NAME);
            }
            ClientSub::SetName(args[2].clone())
        }
        b"getname" => check_arity(args, 2, "client|getname").map(|()| ClientSub::GetName)?,
        b"id" => check_arity(args, 2, "client|id").map(|()| ClientSub::Id)?,
        b"info" => check_arity(args, 2, "client|info").map(|()| ClientSub::Info)?,
        b"setinfo" => {
            check_arity(args, 4, "client|setinfo")?;
            let attr = &args[2];
            let attr_name = String::from_utf8_lossy(attr);
            if !is(attr, "lib-name") && !is(attr, "lib-ver") {
                return Err(Reply::error(format!(
                    "ERR Unrecognized option '{attr_name}'"
                )));
            }
            if !is_valid_client_attr(&args[3]) {
                return Err(Reply::error(format!(
                    "ERR {attr_name} cannot contain spaces, newlines or special characters."
                )));
            }
            ClientSub::SetInfo(lower(attr), args[3].clone())
        }
        b"list" => {
            client_list_filters(&args[2..])?;
            ClientSub::List
        }
        _ => return Err(unknown_subcommand(args)),
    };
    Ok(Command::Client(parsed))
}

/// Validates CLIENT LIST [TYPE type] [ID id ...] like Redis. The filters are
/// checked but not carried: the server lists every connection.
fn client_list_filters(filters: &[Bytes]) -> Result<(), Reply> {
    match filters {
        [] => Ok(()),
        [kind, client_type] if is(kind, "type") => {
            if ["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|t| is(client_type, t))
            {
                Ok(())
            } else {
                Err(Reply::error(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(client_type)
                )))
            }
        }
        [kind, ids @ ..] if is(kind, "id") && !ids.is_empty() => {
            if ids
                .iter()
                .all(|id| super::parse_i64(id).is_some_and(|id| id > 0))
            {
                Ok(())
            } else {
                Err(Reply::err("ERR Invalid client ID"))
            }
        }
        _ => Err(SYNTAX_ERROR),
    }
}

fn config(args: &[Bytes]) -> Result<Command, Reply> {
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
            Ok(Command::ConfigOther(Bytes::from_static(b"set")))
        }
        b"resetstat" => check_arity(args, 2, "config|resetstat")
            .map(|()| Command::ConfigOther(Bytes::from_static(b"resetstat"))),
        b"rewrite" => check_arity(args, 2, "config|rewrite")
            .map(|()| Command::ConfigOther(Bytes::from_static(b"rewrite"))),
        _ => Err(unknown_subcommand(args)),
    }
}

fn flush(args: &[Bytes]) -> Result<Command, Reply> {
    match &args[1..] {
        [] => Ok(Command::FlushAll),
        [mode] if is(mode, "sync") || is(mode, "async") => Ok(Command::FlushAll),
        _ => Err(SYNTAX_ERROR),
    }
}

fn shutdown(args: &[Bytes]) -> Result<Command, Reply> {
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

fn scan(args: &[Bytes]) -> Result<Command, Reply> {
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
    fn ping_echo_quit_select() {
        assert_eq!(parse("PING"), Ok(Command::Ping(None)));
        assert_eq!(parse("ping hi"), Ok(Command::Ping(Some(b("hi")))));
        assert_eq!(
            parse_err("ping a b"),
            "ERR wrong number of arguments for 'ping' command"
        );
        assert_eq!(parse("EcHo x"), Ok(Command::Echo(b("x"))));
        assert_eq!(
            parse_err("echo"),
            "ERR wrong number of arguments for 'echo' command"
        );
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("select 0"), Ok(Command::Select(0)));
        assert_eq!(parse_err("select 1"), "ERR DB index is out of range");
        assert_eq!(parse_err("select -1"), "ERR DB index is out of range");
        assert_eq!(
            parse_err("select x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("select 4294967296"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("select"),
            "ERR wrong number of arguments for 'select' command"
        );
    }

    #[test]
    fn hello() {
        assert_eq!(
            parse("hello"),
            Ok(Command::Hello {
                protover: None,
                setname: None
            })
        );
        assert_eq!(
            parse("HELLO 3 setname app"),
            Ok(Command::Hello {
                protover: Some(3),
                setname: Some(b("app"))
            })
        );
        assert_eq!(
            parse("hello 2 AUTH default secret"),
            Ok(Command::Hello {
                protover: Some(2),
                setname: None
            })
        );
        assert_eq!(
            parse_err("hello x"),
            "ERR Protocol version is not an integer or out of range"
        );
        assert_eq!(parse_err("hello 4"), "NOPROTO unsupported protocol version");
        assert_eq!(parse_err("hello 1"), "NOPROTO unsupported protocol version");
        assert_eq!(
            parse_err("hello 3 bogus"),
            "ERR Syntax error in HELLO option 'bogus'"
        );
        assert_eq!(
            parse_err("hello 3 auth user"),
            "ERR Syntax error in HELLO option 'auth'"
        );
        assert_eq!(
            parse_err("hello 3 auth bob pw"),
            "WRONGPASS invalid username-password pair or user is disabled."
        );
        assert_eq!(
            Command::parse(vec![b("hello"), b("3"), b("setname"), b("a b")]).unwrap_err(),
            BAD_CLIENT_NAME
        );
    }

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
    fn client_subcommands() {
        assert_eq!(
            parse("client setname conn1"),
            Ok(Command::Client(ClientSub::SetName(b("conn1"))))
        );
        assert_eq!(
            parse("client setname "),
            Ok(Command::Client(ClientSub::SetName(b(""))))
        );
        let spaced = Command::parse(vec![b("client"), b("setname"), b("a b")]);
        assert_eq!(
            spaced,
            Err(Reply::err(
                "ERR Client names cannot contain spaces, newlines or special characters."
            ))
        );
        assert_eq!(
            parse_err("client setname"),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            parse("CLIENT GETNAME"),
            Ok(Command::Client(ClientSub::GetName))
        );
        assert_eq!(parse("client id"), Ok(Command::Client(ClientSub::Id)));
        assert_eq!(parse("client info"), Ok(Command::Client(ClientSub::Info)));
        assert_eq!(
            parse_err("client id 1"),
            "ERR wrong number of arguments for 'client|id' command"
        );
        assert_eq!(
            parse("client setinfo LIB-NAME redis-py"),
            Ok(Command::Client(ClientSub::SetInfo(
                b("lib-name"),
                b("redis-py")
            )))
        );
        assert_eq!(
            parse_err("client setinfo lib-foo x"),
            "ERR Unrecognized option 'lib-foo'"
        );
        assert_eq!(
            Command::parse(vec![b("client"), b("setinfo"), b("lib-ver"), b("1 2")]).unwrap_err(),
            Reply::err("ERR lib-ver cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(parse("client list"), Ok(Command::Client(ClientSub::List)));
        assert_eq!(
            parse("client list type normal"),
            Ok(Command::Client(ClientSub::List))
        );
        assert_eq!(
            parse("client list id 1 2"),
            Ok(Command::Client(ClientSub::List))
        );
        assert_eq!(
            parse_err("client list type x"),
            "ERR Unknown client type 'x'"
        );
        assert_eq!(parse_err("client list id 0"), "ERR Invalid client ID");
        assert_eq!(parse_err("client list foo"), "ERR syntax error");
        assert_eq!(
            parse_err("client"),
            "ERR wrong number of arguments for 'client' command"
        );
        assert_eq!(
            parse_err("client kill x"),
            "ERR unknown subcommand 'kill'. Try CLIENT HELP."
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
        assert_eq!(parse("CONFIG SET a b"), Ok(Command::ConfigOther(b("set"))));
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
