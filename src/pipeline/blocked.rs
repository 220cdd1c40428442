//! A client blocked in a command (WAIT for replicas that do not exist) is
//! not reading its socket, so its connection would not notice a hang-up or
//! CLIENT KILL (which shuts the socket down) until the command ends: with
//! `WAIT n 0`, never before shutdown. [`client_gone`] watches the socket
//! meanwhile, so the blocked command can end and the connection close and
//! leave CLIENT LIST, as Redis frees a blocked client that disconnects.

use std::time::Duration;

use crate::shard::Shard;

/// How often a blocked client's socket is looked at: a hang-up is noticed
/// within this long (the check is one non-blocking poll(2)).
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// Resolves once client `client_id`'s peer has closed the connection
/// (its end of file is pending behind any unread requests), CLIENT KILL has
/// shut the socket down, or the client is no longer listed.
pub async fn client_gone(shard: &Shard, client_id: u64) {
    loop {
        let Some(fd) = shard.clients.borrow().get(&client_id).map(|c| c.fd) else {
            return;
        };
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: `fd` is the connection's socket, valid while its client
        // entry exists (checked just above, on this thread); a zero timeout
        // never blocks.
        let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
        let hung_up = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
        if ready > 0 && pollfd.revents & hung_up != 0 {
            return;
        }
        glommio::timer::sleep(CHECK_EVERY).await;
    }
}
