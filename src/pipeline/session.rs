//! Per-connection protocol state, kept out of the connection loop: the RESP
//! version `HELLO` chose, and the transaction being queued (MULTI) with the
//! keys it WATCHes. The loop asks [`Session::wants`] of every parsed
//! command; those it wants go to [`Session::answer`] (after the commands
//! before them ran), and every reply is encoded in [`Session::protocol`].
//! A request that fails to parse is reported with [`Session::reject`].

use std::rc::Rc;

use bytes::Bytes;

use super::admin::REDIS_COMPAT_VERSION;
use super::monitor::{self, ClientMonitor, InTransaction};
use super::transaction::{self, Queued, Watched};
use crate::commands::{Command, Route};
use crate::metrics::commands::QueuedCalls;
use crate::protocol::{Protocol, Reply};
use crate::shard::Shard;

/// What one connection remembers between its commands.
#[derive(Debug, Default)]
pub struct Session {
    /// The protocol replies are encoded in; `HELLO 2|3` switches it.
    pub protocol: Protocol,
    /// Commands queued since MULTI; `None` outside a transaction.
    queued: Option<Vec<Queued>>,
    /// A command failed to queue: EXEC answers EXECABORT.
    dirty: bool,
    /// WATCHed keys and their versions when watched.
    watched: Vec<Watched>,
    /// MONITOR: whether this connection monitors, and the lines of its
    /// commands for the monitors (see [`super::monitor`]).
    pub monitor: ClientMonitor,
    /// The commands queued since MULTI, for commandstats (counted when
    /// EXEC runs them).
    pub queued_calls: QueuedCalls,
}

impl Session {
    /// A new connection's session (RESP2, no transaction).
    pub fn new() -> Session {
        Session::default()
    }

    /// True when the session answers `command` itself: the connection
    /// commands (HELLO, MULTI, EXEC, DISCARD, WATCH, UNWATCH) and, inside
    /// MULTI, every command but QUIT (it is queued).
    pub fn wants(&self, command: &Command) -> bool {
        command.spec().route == Route::Session
            || (self.queued.is_some() && *command != Command::Quit)
    }

    /// True between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.queued.is_some()
    }

    /// True when EXEC will answer EXECABORT (a command failed to queue).
    pub fn exec_aborts(&self) -> bool {
        self.dirty
    }

    /// The connection's monitor state and where its transaction stands, for
    /// [`monitor::on_request`].
    pub fn for_monitor(&mut self) -> (&mut ClientMonitor, InTransaction) {
        let transaction = InTransaction {
            in_multi: self.in_multi(),
            exec_aborts: self.exec_aborts(),
        };
        (&mut self.monitor, transaction)
    }

    /// Inside MULTI, queues a command whose arguments were rejected: EXEC
    /// answers `error` in its place. Returns the reply to give now.
    pub fn queue_failed(&mut self, error: Reply) -> Reply {
        match &mut self.queued {
            Some(queued) => {
                queued.push(Queued::Failed(error));
                Reply::Status("QUEUED".into())
            }
            None => error,
        }
    }

    /// An unknown command or a wrong number of arguments: inside MULTI, the
    /// transaction is dirty (EXEC answers EXECABORT).
    pub fn reject(&mut self) {
        if self.queued.is_some() {
            self.dirty = true;
        }
    }

    /// Answers a command [`Session::wants`].
    pub async fn answer(&mut self, shard: &Rc<Shard>, client_id: u64, command: Command) -> Reply {
        // Redis runs RESET at once, inside MULTI too.
        if command == Command::Reset {
            return self.reset(shard, client_id);
        }
        if let Some(queued) = &mut self.queued {
            return match command {
                Command::Exec => {
                    let queued = self.queued.take().unwrap_or_default();
                    let watched = std::mem::take(&mut self.watched);
                    if std::mem::take(&mut self.dirty) {
                        return Reply::err(
                            "EXECABORT Transaction discarded because of previous errors.",
                        );
                    }
                    transaction::exec(shard, client_id, queued, watched).await
                }
                Command::Discard => {
                    self.queued = None;
                    self.dirty = false;
                    self.watched.clear();
                    Reply::OK
                }
                Command::Multi => Reply::err("ERR MULTI calls can not be nested"),
                Command::Watch(_) => Reply::err("ERR WATCH inside MULTI is not allowed"),
                other => {
                    let max_key = shard.config.max_key_size as usize;
                    if other.keys().to_vec().iter().any(|key| key.len() > max_key) {
                        self.dirty = true;
                        return Reply::error(format!(
                            "ERR key is too large (the limit is {max_key} bytes, --max-key-size)"
                        ));
                    }
                    queued.push(Queued::Command(other));
                    Reply::Status("QUEUED".into())
                }
            };
        }
        match command {
            Command::Hello { protover, setname } => self.hello(shard, client_id, protover, setname),
            Command::Multi => {
                self.queued = Some(Vec::new());
                Reply::OK
            }
            Command::Exec => Reply::err("ERR EXEC without MULTI"),
            Command::Discard => Reply::err("ERR DISCARD without MULTI"),
            Command::Watch(keys) => {
                let versions = transaction::versions(shard, &keys).await;
                for (key, version) in keys.into_iter().zip(versions) {
                    if !self.watched.iter().any(|(watched, _)| *watched == key) {
                        self.watched.push((key, version));
                    }
                }
                Reply::OK
            }
            Command::Unwatch => {
                self.watched.clear();
                Reply::OK
            }
            Command::Monitor => monitor::start(shard, client_id, &mut self.monitor),
            other => Reply::error(format!(
                "ERR internal error: '{}' is not a session command",
                other.name()
            )),
        }
    }

    /// RESET, as Redis does it: no transaction, no watched keys, no
    /// monitoring, RESP2, no client name.
    fn reset(&mut self, shard: &Shard, client_id: u64) -> Reply {
        self.queued = None;
        self.dirty = false;
        self.watched.clear();
        self.protocol = Protocol::Resp2;
        monitor::leave(shard, &mut self.monitor);
        if let Some(client) = shard.clients.borrow_mut().get_mut(&client_id) {
            client.protocol = Protocol::Resp2;
            client.name = Bytes::new();
        }
        Reply::Status("RESET".into())
    }

    fn hello(
        &mut self,
        shard: &Shard,
        client_id: u64,
        protover: Option<i64>,
        setname: Option<Bytes>,
    ) -> Reply {
        match protover {
            Some(2) => self.protocol = Protocol::Resp2,
            Some(3) => self.protocol = Protocol::Resp3,
            Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
            None => {}
        }
        if let Some(client) = shard.clients.borrow_mut().get_mut(&client_id) {
            client.protocol = self.protocol;
            if let Some(name) = setname {
                client.name = name;
            }
        }
        let field = |name: &str, value: Reply| (Reply::bulk(name.as_bytes()), value);
        Reply::Map(vec![
            field("server", Reply::bulk(b"redis")),
            field("version", Reply::bulk(REDIS_COMPAT_VERSION.as_bytes())),
            field("proto", Reply::Integer(self.protocol.version())),
            field("id", Reply::Integer(client_id as i64)),
            field("mode", Reply::bulk(b"standalone")),
            field("role", Reply::bulk(b"master")),
            field("modules", Reply::Array(Vec::new())),
        ])
    }
}
