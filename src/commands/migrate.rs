//! MIGRATE's arguments: parsing them as Redis 7.0's `migrateCommand` does
//! (options first, then the timeout and the database), the key positions
//! `COMMAND GETKEYS` reports (`migrateGetKeys`), and the request MIGRATE
//! sends to the target. The transfer itself (connect, send, read the
//! replies, delete the moved keys) is `crate::pipeline::migrate`'s.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Command, SYNTAX_ERROR, int_arg, is};
use crate::protocol::Reply;

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password] [AUTH2 username password] [KEYS key ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrate {
    /// The target's host name or address.
    pub host: Bytes,
    /// The target's port, as given (Redis reads it with `atoi`).
    pub port: Bytes,
    /// The keys to move, in argument order (the one `key`, or those after KEYS).
    pub keys: Vec<Bytes>,
    /// The target's database (sent with SELECT).
    pub db: i64,
    /// Connect, write and read timeout in ms (a timeout of 0 or less is 1000).
    pub timeout_ms: u64,
    /// COPY: keep the source keys.
    pub copy: bool,
    /// REPLACE: overwrite the target's keys.
    pub replace: bool,
    /// AUTH password / AUTH2 username password.
    pub auth: Option<(Option<Bytes>, Bytes)>,
}

/// Parses MIGRATE's arguments (name at 0, arity already checked).
pub(crate) fn migrate(args: &[Bytes]) -> Result<Command, Reply> {
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = vec![args[3].clone()];
    let mut next = 6;
    while next < args.len() {
        let option = &args[next];
        let more = args.len() - 1 - next;
        if is(option, "copy") {
            copy = true;
        } else if is(option, "replace") {
            replace = true;
        } else if is(option, "auth") {
            if more < 1 {
                return Err(SYNTAX_ERROR);
            }
            auth = Some((None, args[next + 1].clone()));
            next += 1;
        } else if is(option, "auth2") {
            if more < 2 {
                return Err(SYNTAX_ERROR);
            }
            auth = Some((Some(args[next + 1].clone()), args[next + 2].clone()));
            next += 2;
        } else if is(option, "keys") {
            if !args[3].is_empty() {
                return Err(Reply::err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys = args[next + 1..].to_vec();
            break;
        } else {
            return Err(SYNTAX_ERROR);
        }
        next += 1;
    }
    let timeout = int_arg(&args[5])?;
    let db = int_arg(&args[4])?;
    Ok(Command::Migrate(Box::new(Migrate {
        host: args[1].clone(),
        port: args[2].clone(),
        keys,
        db,
        timeout_ms: if timeout <= 0 { 1000 } else { timeout as u64 },
        copy,
        replace,
        auth,
    })))
}

/// The positions of MIGRATE's keys in `args` (name at 0), as Redis's
/// `migrateGetKeys` finds them: `key`, or everything after KEYS (the
/// options before it skipped with their arguments).
pub fn migrate_key_positions(args: &[Bytes]) -> Vec<usize> {
    let mut next = 6;
    while next < args.len() {
        let option = &args[next];
        if is(option, "keys") {
            if !args[3].is_empty() {
                return Vec::new();
            }
            return (next + 1..args.len()).collect();
        }
        if is(option, "auth") {
            next += 1;
        } else if is(option, "auth2") {
            next += 2;
        }
        next += 1;
    }
    vec![3]
}

/// One key to send: its name, the RESTORE payload and the TTL in ms (0: none).
pub struct Outgoing<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Its DUMP payload.
    pub payload: &'a [u8],
    /// Its remaining time to live in ms (0: no expiry).
    pub ttl_ms: u64,
}

impl Migrate {
    /// The request MIGRATE writes to the target: AUTH (if asked), SELECT
    /// (always: no connection is cached between MIGRATEs, and Redis selects
    /// on every new one), then one RESTORE per key, with REPLACE if asked.
    pub fn request(&self, keys: &[Outgoing<'_>]) -> BytesMut {
        let mut out = BytesMut::new();
        if let Some((username, password)) = &self.auth {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(username.as_deref());
            args.push(password);
            put_request(&mut out, &args);
        }
        put_request(&mut out, &[b"SELECT", self.db.to_string().as_bytes()]);
        for key in keys {
            let ttl = key.ttl_ms.to_string();
            let mut args: Vec<&[u8]> = vec![b"RESTORE", key.key, ttl.as_bytes(), key.payload];
            if self.replace {
                args.push(b"REPLACE");
            }
            put_request(&mut out, &args);
        }
        out
    }

    /// How many status/error lines the target answers before the RESTOREs'.
    pub fn preamble_replies(&self) -> usize {
        1 + usize::from(self.auth.is_some())
    }
}

fn put_request(out: &mut BytesMut, args: &[&[u8]]) {
    out.put_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.put_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::NOT_AN_INTEGER;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|a| {
                Bytes::from(if a == "''" {
                    String::new()
                } else {
                    a.to_string()
                })
            })
            .collect()
    }

    #[test]
    fn parses_options_then_numbers_as_redis() {
        let Ok(Command::Migrate(m)) =
            migrate(&args("migrate h 1 '' 0 0 copy auth2 u p replace keys a b"))
        else {
            panic!("not parsed");
        };
        assert_eq!(m.keys, [Bytes::from("a"), Bytes::from("b")]);
        assert!(m.copy && m.replace);
        assert_eq!(m.timeout_ms, 1000);
        assert_eq!(m.auth, Some((Some(Bytes::from("u")), Bytes::from("p"))));
        assert_eq!(migrate(&args("migrate h 1 k 0 x bogus")), Err(SYNTAX_ERROR));
        assert_eq!(migrate(&args("migrate h 1 k 0 x")), Err(NOT_AN_INTEGER));
        assert_eq!(migrate(&args("migrate h 1 k 0 1 auth")), Err(SYNTAX_ERROR));
        assert!(migrate(&args("migrate h 1 k 0 1 keys a")).is_err());
    }

    #[test]
    fn key_positions_follow_migrate_get_keys() {
        assert_eq!(migrate_key_positions(&args("migrate h 1 k 0 1")), [3]);
        assert_eq!(
            migrate_key_positions(&args("migrate h 1 '' 0 1 auth keys keys a b")),
            [9, 10]
        );
        assert!(migrate_key_positions(&args("migrate h 1 k 0 1 keys a")).is_empty());
    }

    #[test]
    fn request_is_auth_select_restores() {
        let m = Migrate {
            host: Bytes::new(),
            port: Bytes::new(),
            keys: Vec::new(),
            db: 3,
            timeout_ms: 1,
            copy: false,
            replace: true,
            auth: Some((None, Bytes::from("pw"))),
        };
        let out = m.request(&[Outgoing {
            key: b"k",
            payload: b"P",
            ttl_ms: 5,
        }]);
        assert_eq!(
            &out[..],
            &b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n5\r\n$1\r\nP\r\n$7\r\nREPLACE\r\n"[..]
        );
        assert_eq!(m.preamble_replies(), 2);
    }
}
