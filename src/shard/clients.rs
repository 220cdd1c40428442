//! The connections a shard serves: what CLIENT LIST shows of each, and
//! CLIENT KILL.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use super::Shard;
use crate::commands::ClientKillFilter;

/// What CLIENT LIST shows about one connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Remote address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// CLIENT SETNAME name.
    pub name: Bytes,
    /// CLIENT SETINFO lib-name.
    pub lib_name: Bytes,
    /// CLIENT SETINFO lib-ver.
    pub lib_ver: Bytes,
    /// When the connection was accepted.
    pub since: Instant,
    /// The protocol it speaks (HELLO).
    pub protocol: crate::protocol::Protocol,
    /// What its connection updates as it runs, shared with it (no lookup
    /// in the client map per batch).
    pub activity: Rc<ClientActivity>,
    /// Its socket, which CLIENT KILL shuts down (valid while this entry
    /// exists: the connection removes it right after closing the socket).
    pub fd: std::os::fd::RawFd,
}

/// A connection's running figures in CLIENT LIST, updated by the
/// connection itself through its share.
#[derive(Debug)]
pub struct ClientActivity {
    /// When it last sent a command.
    pub last_active: Cell<Instant>,
    /// Name of the last command.
    pub last_cmd: Cell<&'static str>,
    /// Commands it sent.
    pub tot_cmds: Cell<u64>,
    /// Bytes read from it.
    pub tot_net_in: Cell<u64>,
    /// Bytes written to it.
    pub tot_net_out: Cell<u64>,
}

impl ClientActivity {
    /// A connection accepted at `now` that has done nothing yet.
    pub fn new(now: Instant) -> ClientActivity {
        ClientActivity {
            last_active: Cell::new(now),
            last_cmd: Cell::new("NULL"),
            tot_cmds: Cell::new(0),
            tot_net_in: Cell::new(0),
            tot_net_out: Cell::new(0),
        }
    }
}

impl Shard {
    /// Fires the kill switch of every connection matching `filter`.
    pub(super) fn kill_clients(&self, filter: &ClientKillFilter, requester: u64) -> u64 {
        let clients = self.clients.borrow();
        let mut killed = 0;
        for (id, client) in clients.iter() {
            let matches = filter.id.is_none_or(|wanted| wanted == *id)
                && filter
                    .addr
                    .as_ref()
                    .is_none_or(|addr| addr[..] == *client.addr.as_bytes())
                && filter
                    .laddr
                    .as_ref()
                    .is_none_or(|laddr| laddr[..] == *client.laddr.as_bytes())
                && !(filter.skip_me && *id == requester);
            if matches {
                // The pending receive completes with end of file and the
                // connection closes after its current batch.
                // SAFETY: shutdown(2) on a descriptor the connection owns.
                unsafe { libc::shutdown(client.fd, libc::SHUT_RDWR) };
                killed += 1;
            }
        }
        killed
    }

    pub(super) fn client_lines(&self) -> Vec<String> {
        let now = Instant::now();
        self.clients
            .borrow()
            .iter()
            .map(|(id, c)| {
                format!(
                    "id={id} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={} tot-net-in={} tot-net-out={} tot-cmds={} shard={}",
                    c.addr,
                    c.laddr,
                    String::from_utf8_lossy(&c.name),
                    now.duration_since(c.since).as_secs(),
                    now.duration_since(c.activity.last_active.get()).as_secs(),
                    c.activity.last_cmd.get(),
                    c.protocol.version(),
                    String::from_utf8_lossy(&c.lib_name),
                    String::from_utf8_lossy(&c.lib_ver),
                    c.activity.tot_net_in.get(),
                    c.activity.tot_net_out.get(),
                    c.activity.tot_cmds.get(),
                    self.id
                )
            })
            .collect()
    }
}
