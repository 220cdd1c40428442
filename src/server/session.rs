//! Per-connection protocol state, kept out of the connection loop: the RESP
//! version `HELLO` chose. The loop calls one hook, [`Session::intercept`],
//! on every parsed command before routing it, and encodes its replies in
//! [`Session::protocol`].

use super::admin::REDIS_COMPAT_VERSION;
use super::shard::Shard;
use crate::commands::Command;
use crate::protocol::{Protocol, Reply};

/// What one connection remembers between its commands.
#[derive(Debug, Default)]
pub struct Session {
    /// The protocol replies are encoded in; `HELLO 2|3` switches it.
    pub protocol: Protocol,
}

/// What the connection does with a command after [`Session::intercept`].
pub enum Intercepted {
    /// The session answered it.
    Answered(Reply),
    /// Not a session command: route it as usual.
    Route(Command),
}

impl Session {
    /// A new connection's session (RESP2).
    pub fn new() -> Session {
        Session::default()
    }

    /// The hook: answers the commands that change this connection's state.
    pub fn intercept(&mut self, shard: &Shard, client_id: u64, command: Command) -> Intercepted {
        match command {
            Command::Hello { protover, setname } => {
                Intercepted::Answered(self.hello(shard, client_id, protover, setname))
            }
            other => Intercepted::Route(other),
        }
    }

    fn hello(
        &mut self,
        shard: &Shard,
        client_id: u64,
        protover: Option<i64>,
        setname: Option<bytes::Bytes>,
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
