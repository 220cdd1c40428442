//! A connection's way out: the replies of a batch, sent without waiting,
//! settled before the next input runs, and the client's CLIENT LIST figures.

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::metrics::bump;
use crate::net::{Op, Socket};
use crate::protocol::input::READ_CHUNK;
use crate::shard::{ClientActivity, Shard};

/// A client's CLIENT LIST figures gathered over a batch, added to its
/// entry's shared figures once per batch.
pub(super) struct Activity {
    /// The client's figures, shared with its entry in the client map.
    pub(super) shared: Rc<ClientActivity>,
    /// The latest command (`cmd`), if any since the last flush.
    pub(super) last_cmd: Option<&'static str>,
    /// Commands since the last flush (`tot-cmds`).
    pub(super) nr_cmds: u64,
    /// Bytes received since the last flush (`tot-net-in`).
    pub(super) net_in: u64,
    /// Bytes sent since the last flush (`tot-net-out`).
    pub(super) net_out: u64,
}

impl Activity {
    /// Nothing gathered yet, for the client whose figures are `shared`.
    pub(super) fn new(shared: Rc<ClientActivity>) -> Activity {
        Activity {
            shared,
            last_cmd: None,
            nr_cmds: 0,
            net_in: 0,
            net_out: 0,
        }
    }

    /// Adds what was gathered to the client's figures; `now` becomes its
    /// last activity if it ran a command.
    pub(super) fn flush(&mut self, now: Instant) {
        let shared = &self.shared;
        bump(&shared.tot_net_in, std::mem::take(&mut self.net_in));
        bump(&shared.tot_net_out, std::mem::take(&mut self.net_out));
        bump(&shared.tot_cmds, std::mem::take(&mut self.nr_cmds));
        if let Some(last_cmd) = self.last_cmd.take() {
            shared.last_cmd.set(last_cmd);
            shared.last_active.set(now);
        }
    }
}

/// A connection's way out: the replies waiting to be written, the socket
/// they go to, and the client's figures that running and writing update.
///
/// A batch's replies go out with one send that does not wait; the
/// connection does not await it but receives right away, and settles it
/// when its next input came or before it writes again. A send that took
/// everything wakes no one (a client sends again once it has its replies,
/// so by then the send is done); one that fell short (the socket was full)
/// or failed wakes the connection, which then finishes it with timed sends
/// while its receive waits ([`Outbox::short_send`]). Replies are all out
/// before the next input runs: a client that does not read holds at most
/// one batch of replies, as before.
pub(super) struct Outbox<'a> {
    /// The client's socket.
    pub(super) socket: &'a Socket,
    /// The client's id (its CLIENT LIST entry).
    pub(super) client_id: u64,
    /// `--client-output-timeout`, if any.
    pub(super) timeout: Option<Duration>,
    /// Encoded replies not yet written.
    pub(super) output: BytesMut,
    /// The last replies' send, not settled yet.
    pub(super) sending: Option<Op>,
    /// That send's outcome, taken by [`Outbox::try_settle`] but left for
    /// [`Outbox::settle`] to finish (it fell short or failed).
    pub(super) done: Option<(std::io::Result<usize>, BytesMut)>,
    /// An empty buffer for the next replies while a send owns `output`'s
    /// previous one.
    pub(super) spare: BytesMut,
    /// CLIENT LIST figures gathered since the last flush.
    pub(super) activity: Activity,
}

impl Outbox<'_> {
    /// Starts writing every pending reply, after settling the previous
    /// write ([`Outbox::settle`]).
    pub(super) async fn write_out(&mut self, shard: &Shard) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        if !self.try_settle() {
            self.settle().await?;
        }
        self.start_send(shard);
        Ok(())
    }

    /// Starts writing every pending reply if the previous write is settled
    /// without waiting ([`Outbox::try_settle`]); `false` (nothing done)
    /// when [`Outbox::write_out`] must wait for it.
    pub(super) fn write_out_now(&mut self, shard: &Shard) -> bool {
        if self.output.is_empty() {
            return true;
        }
        if !self.try_settle() {
            return false;
        }
        self.start_send(shard);
        true
    }

    /// Sends the pending replies (the previous write settled).
    fn start_send(&mut self, shard: &Shard) {
        bump(&shard.stats.net_out, self.output.len() as u64);
        self.activity.net_out += self.output.len() as u64;
        let output = std::mem::replace(&mut self.output, std::mem::take(&mut self.spare));
        let len = output.len();
        let sending = self.socket.try_send(output, 0);
        sending.quiet_unless_short(len);
        self.sending = Some(sending);
    }

    /// Ready with the replies' send once it fell short or failed (a send
    /// that took everything never wakes this), for [`Outbox::finish`].
    /// Pending for ever when nothing is being sent.
    pub(super) fn poll_short_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(std::io::Result<usize>, BytesMut)> {
        let Some(sending) = &mut self.sending else {
            return Poll::Pending;
        };
        let done = std::task::ready!(Pin::new(sending).poll(cx));
        self.sending = None;
        Poll::Ready(done)
    }

    /// Settles the replies' send without waiting if it is done and took
    /// everything (the common case: by the time the client's next request
    /// came, its replies were out): `true` when nothing is left to settle,
    /// `false` when [`Outbox::settle`] must wait or finish it.
    pub(super) fn try_settle(&mut self) -> bool {
        if self.done.is_some() {
            return false;
        }
        let Some(sending) = &mut self.sending else {
            return true;
        };
        let Some((result, buf)) = sending.try_take() else {
            return false;
        };
        self.sending = None;
        match result {
            Ok(n) if n == buf.len() => {
                self.recycle(buf);
                true
            }
            // Put back as done, for `settle` to finish.
            result => {
                self.done = Some((result, buf));
                false
            }
        }
    }

    /// Waits until the replies being written are all out. A client that
    /// accepts no byte of them for `timeout` (`--client-output-timeout`)
    /// fails the write; the caller then drops the connection.
    pub(super) async fn settle(&mut self) -> std::io::Result<()> {
        if let Some((result, buf)) = self.done.take() {
            return self.finish(result, buf).await;
        }
        let Some(sending) = self.sending.take() else {
            return Ok(());
        };
        sending.wake_always();
        let (result, buf) = sending.await;
        self.finish(result, buf).await
    }

    /// Sends what the replies' first send left, if it left anything, and
    /// keeps the buffer for the next replies.
    pub(super) async fn finish(
        &mut self,
        result: std::io::Result<usize>,
        buf: BytesMut,
    ) -> std::io::Result<()> {
        let (result, buf) = match result {
            Ok(n) if n == buf.len() => (Ok(()), buf),
            Ok(0) => (Err(std::io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => self.socket.send_rest(buf, n, self.timeout).await,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                self.socket.send_rest(buf, 0, self.timeout).await
            }
            Err(e) => (Err(e), buf),
        };
        if let Err(error) = &result
            && error.kind() == std::io::ErrorKind::TimedOut
        {
            tracing::info!(
                client_id = self.client_id,
                pending = buf.len(),
                "client did not read its replies within --client-output-timeout, disconnecting"
            );
        }
        self.recycle(buf);
        result
    }

    /// Keeps a sent buffer for the next replies.
    fn recycle(&mut self, mut buf: BytesMut) {
        buf.clear();
        if buf.capacity() > 4 * READ_CHUNK {
            buf = BytesMut::with_capacity(16 * 1024);
        }
        self.spare = buf;
    }
}
