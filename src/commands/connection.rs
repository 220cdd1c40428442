//! Parsing of the connection commands: PING, ECHO, QUIT, SELECT, HELLO and
//! CLIENT. They are answered by `crate::pipeline`, never by a shard's `exec`.

use bytes::Bytes;

use super::server::lower;
use super::{
    ClientSub, Command, SYNTAX_ERROR, check_arity, int_arg, is, unknown_subcommand, wrong_arity,
};
use crate::protocol::Reply;

pub(super) fn ping(args: &[Bytes]) -> Result<Command, Reply> {
    if args.len() > 2 {
        return Err(wrong_arity("ping"));
    }
    Ok(Command::Ping(args.get(1).cloned()))
}

pub(super) fn select(args: &[Bytes]) -> Result<Command, Reply> {
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

pub(super) fn hello(args: &[Bytes]) -> Result<Command, Reply> {
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

pub(super) fn client(args: &[Bytes]) -> Result<Command, Reply> {
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
        b"kill" => ClientSub::Kill(super::introspection::client_kill(args)?),
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
            parse_err("client pause x"),
            "ERR unknown subcommand 'pause'. Try CLIENT HELP."
        );
    }
}
