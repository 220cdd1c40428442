//! MONITOR, the connection side: which requests a monitor sees and in what
//! words, how they reach the monitors of every shard, and the monitor
//! connection's own loop turn (wait for input or lines, write the lines).
//!
//! Redis's rules (7.0, `call()` and `replicationFeedMonitors`):
//! - each command is one line, `+<seconds>.<micros> [<db> <ip:port>] "arg"
//!   "arg"...`, the arguments as the client sent them, quoted and escaped as
//!   `sdscatrepr` does (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, other
//!   bytes outside 0x20..=0x7e as `\xNN`);
//! - requests rejected before they run are not shown (unknown command,
//!   wrong number of arguments, unknown sub-command, a cluster redirect, a
//!   monitor touching the keyspace), nor admin commands (CONFIG, SLOWLOG,
//!   LATENCY, CLIENT LIST/KILL/..., SHUTDOWN, MONITOR, ...); commands that
//!   fail while running are (`INCR` of a string);
//! - HELLO's AUTH username and password are shown as `"(redacted)"`;
//! - commands queued in MULTI are shown at EXEC, before the EXEC line
//!   (none when EXEC answers EXECABORT);
//! - a monitor may still run commands that leave the keyspace alone (PING,
//!   INFO, CLIENT ...); the others get `ERR Replica can't interact with the
//!   keyspace`. QUIT and RESET end monitoring.
//!
//! Unlike Redis 7, the line is made when the request is planned, before it
//! runs (Redis 6's moment), so its time stamp is the request's arrival and
//! a transaction's commands are shown at EXEC even when a WATCHed key makes
//! EXEC answer nil. A second MONITOR answers `+OK`; Redis answers nothing.
//! Lines are gathered per connection and handed on once per batch, to this
//! shard's monitors and over the mesh to the other shards'; a client's lines
//! therefore arrive in its order. While no connection monitors, the request
//! path checks one shared count per request and one length per batch.

use std::io::Write;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::commands::{Command, CommandSpec};
use crate::net::Op;
use crate::protocol::Reply;
use crate::router::ShardRequest;
use crate::shard::Shard;
use crate::shard::monitor::MonitorSink;

/// A connection's MONITOR state: whether it monitors, and the lines of its
/// own commands not yet handed to the monitors.
#[derive(Debug, Default)]
pub struct ClientMonitor {
    /// Its queue of lines, while this connection monitors.
    sink: Option<Rc<MonitorSink>>,
    /// Lines of this connection's commands, handed on once per batch.
    tap: BytesMut,
    /// Arguments of commands queued since MULTI: shown at EXEC.
    held: Vec<Vec<Bytes>>,
    /// The client's address as the lines show it (`ip:port`).
    peer: Option<String>,
}

impl ClientMonitor {
    /// The sink, while this connection monitors.
    pub fn sink(&self) -> Option<&Rc<MonitorSink>> {
        self.sink.as_ref()
    }

    /// True when lines of this connection's commands wait to be handed on
    /// ([`deliver`]): the one check per batch.
    #[inline]
    pub fn has_lines(&self) -> bool {
        !self.tap.is_empty()
    }
}

/// The error a monitor gets for a command that reads or writes keys.
const KEYSPACE_REFUSED: Reply = Reply::err("ERR Replica can't interact with the keyspace");

/// Where the connection's session stands, as the monitor line needs it.
#[derive(Debug, Clone, Copy)]
pub struct InTransaction {
    /// Inside MULTI: commands are held until EXEC.
    pub in_multi: bool,
    /// The coming EXEC aborts (a queued command failed): it runs none.
    pub exec_aborts: bool,
}

/// Notes a request for the monitors; called for every request while some
/// connection monitors (`shard.shared.monitors.any()`). `Some(reply)`
/// refuses the request (a monitor touching the keyspace).
pub fn on_request(
    shard: &Shard,
    client_id: u64,
    shard_port: Option<usize>,
    (monitor, transaction): (&mut ClientMonitor, InTransaction),
    args: &[Bytes],
) -> Option<Reply> {
    // Unknown commands and wrong arities are rejected before they run.
    let spec = Command::check(args).ok()?;
    if monitor.sink.is_some() && touches_keyspace(spec) {
        return Some(KEYSPACE_REFUSED);
    }
    if is_admin(spec, args) {
        return None;
    }
    match (spec.parse)(args) {
        Ok(command) if shard.cluster.check(shard_port, command.keys()).is_some() => return None,
        Err(Reply::Error(text)) if is_lookup_error(&text) => return None,
        _ => {}
    }
    let InTransaction {
        in_multi,
        exec_aborts,
    } = transaction;
    if monitor.peer.is_none() {
        monitor.peer = shard
            .clients
            .borrow()
            .get(&client_id)
            .map(|c| c.addr.clone());
    }
    let peer = monitor.peer.as_deref().unwrap_or("?");
    if in_multi {
        match spec.about.name {
            "exec" => {
                for held in std::mem::take(&mut monitor.held) {
                    // EXECABORT runs none of them.
                    if !exec_aborts {
                        write_line(&mut monitor.tap, peer, &held);
                    }
                }
            }
            "discard" => monitor.held.clear(),
            "multi" | "watch" | "quit" | "reset" => {}
            _ => {
                monitor.held.push(args.to_vec());
                return None;
            }
        }
    }
    write_line(&mut monitor.tap, peer, args);
    None
}

/// Hands the connection's gathered lines to the monitors of every shard
/// (this one's directly, the others' over the mesh, one message each),
/// waiting for each so the next batch's lines follow them.
pub async fn deliver(shard: &Shard, monitor: &mut ClientMonitor) {
    let lines = monitor.tap.split().freeze();
    if lines.is_empty() || !shard.shared.monitors.any() {
        return;
    }
    shard.monitors.feed(&lines);
    for peer in (0..shard.nr_shards).filter(|&peer| peer != shard.id) {
        // `None`: the peer is gone (shutdown); its monitors are too.
        let _ = shard
            .mesh
            .call(peer, ShardRequest::MonitorFeed(lines.clone()))
            .await;
    }
}

/// MONITOR: this connection starts receiving every command's line.
pub fn start(shard: &Shard, client_id: u64, monitor: &mut ClientMonitor) -> Reply {
    if monitor.sink.is_none() {
        let limit = shard.shared.settings.client_output_limit(&shard.config);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        monitor.sink = Some(shard.monitors.add(&shard.shared.monitors, client_id, limit));
    }
    Reply::OK
}

/// RESET, or the connection closing: it stops monitoring.
pub fn leave(shard: &Shard, monitor: &mut ClientMonitor) {
    if let Some(sink) = monitor.sink.take() {
        shard.monitors.remove(&shard.shared.monitors, &sink);
    }
    monitor.held.clear();
}

/// A monitor's wait for input: `recv`'s result, or, when lines come first,
/// `recv` cancelled (with whatever it received meanwhile).
pub async fn recv_or_lines(
    sink: &MonitorSink,
    mut recv: Op,
) -> <Op as std::future::Future>::Output {
    let done = futures_lite::future::or(async { Some((&mut recv).await) }, async {
        sink.ready().await;
        None
    })
    .await;
    match done {
        Some(done) => done,
        None => {
            recv.cancel();
            recv.await
        }
    }
}

/// Moves a monitor's waiting lines to `output`; `false` when it fell
/// further behind than its output limit and must be disconnected.
pub fn take_lines(monitor: &ClientMonitor, output: &mut BytesMut) -> bool {
    monitor
        .sink
        .as_ref()
        .is_none_or(|sink| sink.take_into(output))
}

/// Redis refuses a monitor (a replica, to Redis) commands flagged as
/// reading or writing keys.
fn touches_keyspace(spec: &CommandSpec) -> bool {
    spec.about.has_flag("readonly")
        || spec.about.has_flag("write")
        || spec.about.has_flag("may_replicate")
}

/// Commands Redis 7 flags `admin` (by sub-command for containers), which it
/// never shows to monitors.
fn is_admin(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if spec.about.has_flag("admin") || spec.about.has_flag("skip_monitor") {
        return true;
    }
    let admin_subs: &[&str] = match spec.about.name {
        "config" | "slowlog" | "latency" => return true,
        "client" => &["kill", "list", "no-evict", "pause", "unblock", "unpause"],
        "cluster" => &[
            "addslots",
            "addslotsrange",
            "bumpepoch",
            "count-failure-reports",
            "delslots",
            "delslotsrange",
            "failover",
            "flushslots",
            "forget",
            "meet",
            "replicas",
            "replicate",
            "reset",
            "saveconfig",
            "set-config-epoch",
            "setslot",
            "slaves",
            // Ours: re-reads --cluster-config.
            "reload",
        ],
        _ => return false,
    };
    args.get(1).is_some_and(|sub| {
        admin_subs
            .iter()
            .any(|name| sub.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// An error Redis gives while looking a sub-command up (so before the
/// command runs): an unknown sub-command, or a sub-command's arity.
fn is_lookup_error(text: &str) -> bool {
    text.starts_with("ERR unknown subcommand")
        || (text.starts_with("ERR wrong number of arguments for '") && text.contains('|'))
}

/// Appends one line: `+<secs>.<micros> [0 <peer>] "arg" ...\r\n`.
fn write_line(out: &mut BytesMut, peer: &str, args: &[Bytes]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut line =
        Vec::with_capacity(32 + peer.len() + args.iter().map(|a| a.len() + 3).sum::<usize>());
    let _ = write!(
        line,
        "+{}.{:06} [0 {peer}]",
        now.as_secs(),
        now.subsec_micros()
    );
    let redacted = redacted_positions(args);
    for (position, arg) in args.iter().enumerate() {
        line.push(b' ');
        if redacted.contains(&position) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(&mut line, arg);
        }
    }
    line.extend_from_slice(b"\r\n");
    out.extend_from_slice(&line);
}

/// Arguments Redis hides from monitors: HELLO's `AUTH <user> <password>`.
fn redacted_positions(args: &[Bytes]) -> Vec<usize> {
    let mut hidden = Vec::new();
    if args
        .first()
        .is_some_and(|name| name.eq_ignore_ascii_case(b"hello"))
    {
        let mut at = 2;
        while at < args.len() {
            if args[at].eq_ignore_ascii_case(b"auth") && at + 2 < args.len() {
                hidden.extend([at + 1, at + 2]);
                at += 3;
            } else if args[at].eq_ignore_ascii_case(b"setname") {
                at += 2;
            } else {
                at += 1;
            }
        }
    }
    hidden
}

/// `arg` quoted as Redis's `sdscatrepr` quotes it.
fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &byte in arg {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(byte),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&[u8]]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
    }

    fn line(words: &[&[u8]]) -> String {
        let mut out = BytesMut::new();
        write_line(&mut out, "127.0.0.1:5000", &args(words));
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn lines_quote_and_escape_as_redis_does() {
        // The same bytes redis-server 7.0.15 printed for this SET.
        let text = line(&[b"set", b"k", b"v\"\\\n\x01\xff "]);
        let (stamp, rest) = text.split_once(' ').unwrap();
        assert_eq!(
            rest,
            "[0 127.0.0.1:5000] \"set\" \"k\" \"v\\\"\\\\\\n\\x01\\xff \"\r\n"
        );
        let (secs, micros) = stamp.strip_prefix('+').unwrap().split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
        assert_eq!(micros.len(), 6);
        assert!(
            line(&[b"ECHO", b"\t\r\x07\x08~\x7f"]).ends_with("\"ECHO\" \"\\t\\r\\a\\b~\\x7f\"\r\n")
        );
        assert!(line(&[b"PING"]).ends_with("] \"PING\"\r\n"));
    }

    #[test]
    fn hello_auth_is_redacted() {
        assert!(
            line(&[b"HELLO", b"2", b"AUTH", b"default", b"pw", b"SETNAME", b"x"]).ends_with(
                "\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"x\"\r\n"
            )
        );
        assert!(
            line(&[b"hello", b"3", b"setname", b"auth"])
                .ends_with("\"hello\" \"3\" \"setname\" \"auth\"\r\n")
        );
    }

    #[test]
    fn admin_commands_are_hidden() {
        let spec = |words: &[&[u8]]| Command::check(&args(words)).unwrap();
        for words in [
            &[&b"CONFIG"[..], b"GET", b"maxmemory"][..],
            &[b"slowlog", b"len"],
            &[b"CLIENT", b"LIST"],
            &[b"client", b"kill", b"id", b"3"],
            &[b"SHUTDOWN"],
            &[b"BGREWRITEAOF"],
        ] {
            assert!(is_admin(spec(words), &args(words)), "{words:?}");
        }
        for words in [
            &[&b"CLIENT"[..], b"SETNAME", b"x"][..],
            &[b"INFO"],
            &[b"GET", b"k"],
            &[b"PING"],
            &[b"CLUSTER", b"SLOTS"],
        ] {
            assert!(!is_admin(spec(words), &args(words)), "{words:?}");
        }
        assert!(touches_keyspace(spec(&[b"GET", b"k"])));
        assert!(touches_keyspace(spec(&[b"SET", b"k", b"v"])));
        assert!(!touches_keyspace(spec(&[b"PING"])));
        assert!(!touches_keyspace(spec(&[b"ECHO", b"x"])));
    }
}
