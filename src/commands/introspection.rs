//! Parsers of Redis's introspection commands: SLOWLOG, LATENCY and
//! CLIENT KILL's filters.

use bytes::Bytes;

use super::{Command, check_arity, int_arg, is, unknown_subcommand};
use crate::protocol::Reply;

/// True when `wanted` (as a client typed it) names the command `name`
/// (`client|list` and `CLIENT` both name the CLIENT container).
pub fn command_name_matches(wanted: &[u8], name: &str) -> bool {
    let base = wanted.split(|&b| b == b'|').next().unwrap_or_default();
    base.eq_ignore_ascii_case(name.as_bytes())
}

/// Sub-commands of SLOWLOG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlowlogSub {
    /// `SLOWLOG GET [count]`: the newest `count` entries (default 10, -1 all).
    Get(i64),
    /// SLOWLOG LEN
    Len,
    /// SLOWLOG RESET
    Reset,
    /// SLOWLOG HELP
    Help,
}

/// Sub-commands of LATENCY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatencySub {
    /// LATENCY LATEST
    Latest,
    /// LATENCY HISTORY event
    History(Bytes),
    /// `LATENCY RESET [event ...]`
    Reset(Vec<Bytes>),
    /// `LATENCY HISTOGRAM [command ...]`
    Histogram(Vec<Bytes>),
    /// LATENCY HELP
    Help,
}

/// The connections CLIENT KILL closes: every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientKillFilter {
    /// ID client-id
    pub id: Option<u64>,
    /// ADDR ip:port (or the old `CLIENT KILL ip:port` form)
    pub addr: Option<Bytes>,
    /// LADDR ip:port
    pub laddr: Option<Bytes>,
    /// SKIPME yes|no (default yes): spare the connection that asks.
    pub skip_me: bool,
    /// The old form (`CLIENT KILL addr`): replies +OK or an error instead
    /// of a count.
    pub old_form: bool,
}

pub(super) fn slowlog(args: &[Bytes]) -> Result<Command, Reply> {
    let sub = &args[1];
    let parsed = if is(sub, "get") {
        check_arity_max(args, 3, "slowlog|get")?;
        let count = match args.get(2) {
            Some(count) => {
                let count = int_arg(count)?;
                if count < -1 {
                    return Err(Reply::err(
                        "ERR count should be greater than or equal to -1",
                    ));
                }
                count
            }
            None => 10,
        };
        SlowlogSub::Get(count)
    } else if is(sub, "len") {
        check_arity(args, 2, "slowlog|len")?;
        SlowlogSub::Len
    } else if is(sub, "reset") {
        check_arity(args, 2, "slowlog|reset")?;
        SlowlogSub::Reset
    } else if is(sub, "help") {
        check_arity(args, 2, "slowlog|help")?;
        SlowlogSub::Help
    } else {
        return Err(unknown_subcommand(args));
    };
    Ok(Command::Slowlog(parsed))
}

pub(super) fn latency(args: &[Bytes]) -> Result<Command, Reply> {
    let sub = &args[1];
    let parsed = if is(sub, "latest") {
        check_arity(args, 2, "latency|latest")?;
        LatencySub::Latest
    } else if is(sub, "history") {
        check_arity(args, 3, "latency|history")?;
        LatencySub::History(args[2].clone())
    } else if is(sub, "reset") {
        LatencySub::Reset(args[2..].to_vec())
    } else if is(sub, "histogram") {
        LatencySub::Histogram(args[2..].to_vec())
    } else if is(sub, "help") {
        check_arity(args, 2, "latency|help")?;
        LatencySub::Help
    } else {
        return Err(unknown_subcommand(args));
    };
    Ok(Command::Latency(parsed))
}

/// CLIENT KILL addr | CLIENT KILL <filter value> ...
pub(super) fn client_kill(args: &[Bytes]) -> Result<ClientKillFilter, Reply> {
    const SYNTAX: Reply = Reply::err("ERR syntax error");
    if args.len() < 3 {
        return Err(super::wrong_arity("client|kill"));
    }
    if args.len() == 3 {
        return Ok(ClientKillFilter {
            addr: Some(args[2].clone()),
            skip_me: false,
            old_form: true,
            ..Default::default()
        });
    }
    let mut filter = ClientKillFilter {
        skip_me: true,
        ..Default::default()
    };
    let mut rest = &args[2..];
    while let [name, value, tail @ ..] = rest {
        if is(name, "id") {
            let id = int_arg(value)
                .ok()
                .filter(|&id| id > 0)
                .ok_or(Reply::err("ERR client-id should be greater than 0"))?;
            filter.id = Some(id as u64);
        } else if is(name, "addr") {
            filter.addr = Some(value.clone());
        } else if is(name, "laddr") {
            filter.laddr = Some(value.clone());
        } else if is(name, "skipme") {
            filter.skip_me = if is(value, "yes") {
                true
            } else if is(value, "no") {
                false
            } else {
                return Err(SYNTAX);
            };
        } else if is(name, "type") || is(name, "user") || is(name, "maxage") {
            // Every connection is a normal client of the default user.
            if is(name, "type") && !is(value, "normal") {
                filter.id = Some(0);
            }
        } else {
            return Err(SYNTAX);
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(SYNTAX);
    }
    Ok(filter)
}

fn check_arity_max(args: &[Bytes], max: usize, full_name: &str) -> Result<(), Reply> {
    if args.len() > max {
        Err(super::wrong_arity(full_name))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, Reply> {
        Command::parse(
            line.split_whitespace()
                .map(|w| Bytes::from(w.to_string()))
                .collect(),
        )
    }

    #[test]
    fn slowlog_and_latency() {
        assert_eq!(
            parse("slowlog get"),
            Ok(Command::Slowlog(SlowlogSub::Get(10)))
        );
        assert_eq!(
            parse("SLOWLOG GET -1"),
            Ok(Command::Slowlog(SlowlogSub::Get(-1)))
        );
        assert!(parse("slowlog get -2").is_err());
        assert_eq!(parse("slowlog len"), Ok(Command::Slowlog(SlowlogSub::Len)));
        assert!(parse("slowlog nope").is_err());
        assert!(parse("slowlog").is_err());
        assert_eq!(
            parse("latency latest"),
            Ok(Command::Latency(LatencySub::Latest))
        );
        assert_eq!(
            parse("latency histogram get set"),
            Ok(Command::Latency(LatencySub::Histogram(vec![
                Bytes::from("get"),
                Bytes::from("set")
            ])))
        );
    }

    #[test]
    fn client_kill_filters() {
        let Ok(Command::Client(super::super::ClientSub::Kill(filter))) =
            parse("client kill id 7 skipme no")
        else {
            panic!("parses");
        };
        assert_eq!(filter.id, Some(7));
        assert!(!filter.skip_me);
        let Ok(Command::Client(super::super::ClientSub::Kill(old))) =
            parse("client kill 127.0.0.1:5000")
        else {
            panic!("parses");
        };
        assert!(old.old_form);
        assert!(parse("client kill id 0").is_err());
        assert!(parse("client kill id 1 bogus").is_err());
    }
}
