//! One client connection: read, parse every complete request in the buffer,
//! route the commands, write the replies of the batch in request order with
//! one write.
//!
//! Keyed commands of one batch are grouped per owning shard; each shard runs
//! its group in order (so a client's commands on one key keep their order)
//! and acknowledges it once its writes are durable. Commands that look at
//! every shard (DBSIZE, KEYS, SCAN, INFO, FLUSHALL, ...) act as barriers: the
//! keyed commands before them finish first.
//!
//! Output is bounded per client, like Redis's client-output-buffer-limit:
//! - a batch is cut at [`MAX_BATCH`] commands, and at fewer when the last
//!   batch's replies were big, so one batch's replies stay near
//!   `--client-output-limit` (only a single reply larger than that can pass
//!   it);
//! - while replies wait for the socket, the connection neither reads nor
//!   runs anything, so a client that does not read its replies holds at most
//!   one batch of them (its further requests back up in its own socket);
//! - a client whose socket accepts no byte of its pending replies for
//!   `--client-output-timeout` seconds is disconnected.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::groups::Groups;
use super::plan::{keys_of, single_key};
use super::session::Session;
use super::{admin, cluster_cmd, monitor};
use crate::commands::{Command, Route};
use crate::metrics::bump;
use crate::metrics::commands::{BatchCommands, Counted};
use crate::metrics::shard::latency_us;
use crate::net::{Op, Socket};
use crate::protocol::input::{BIG_BUFFER, READ_CHUNK};
use crate::protocol::{InputBuffer, ParseLimits, Parsed, Protocol, Reply, parse_request_into};
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::{ClientInfo, Shard};

/// Most commands run as one batch before replies are written.
pub const MAX_BATCH: usize = 512;
/// A request with more arguments than this gives its argument vector back
/// afterwards instead of keeping it for the next request.
const MAX_KEPT_ARGS: usize = 256;
/// A connection idle this long gives back a big input buffer.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// A client's CLIENT LIST figures gathered over a batch, written with one
/// lookup in the shard's client map per batch instead of one per command.
#[derive(Default)]
struct Activity {
    /// The latest command (`cmd`), if any since the last flush.
    last_cmd: Option<&'static str>,
    /// Commands since the last flush (`tot-cmds`).
    nr_cmds: u64,
    /// Bytes received since the last flush (`tot-net-in`).
    net_in: u64,
    /// Bytes sent since the last flush (`tot-net-out`).
    net_out: u64,
}

impl Activity {
    /// Adds what was gathered to the client's entry; `now` becomes its last
    /// activity if it ran a command.
    fn flush(&mut self, shard: &Shard, client_id: u64, now: Instant) {
        if let Some(client) = shard.clients.borrow_mut().get_mut(&client_id) {
            client.tot_net_in += self.net_in;
            client.tot_net_out += self.net_out;
            client.tot_cmds += self.nr_cmds;
            if let Some(last_cmd) = self.last_cmd {
                client.last_cmd = last_cmd;
                client.last_active = now;
            }
        }
        *self = Activity::default();
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
struct Outbox<'a> {
    /// The client's socket.
    socket: &'a Socket,
    /// The client's id (its CLIENT LIST entry).
    client_id: u64,
    /// `--client-output-timeout`, if any.
    timeout: Option<Duration>,
    /// Encoded replies not yet written.
    output: BytesMut,
    /// The last replies' send, not settled yet.
    sending: Option<Op>,
    /// An empty buffer for the next replies while a send owns `output`'s
    /// previous one.
    spare: BytesMut,
    /// CLIENT LIST figures gathered since the last flush.
    activity: Activity,
}

impl Outbox<'_> {
    /// Starts writing every pending reply, after settling the previous
    /// write ([`Outbox::settle`]).
    async fn write_out(&mut self, shard: &Shard) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        self.settle().await?;
        bump(&shard.stats.net_out, self.output.len() as u64);
        self.activity.net_out += self.output.len() as u64;
        let output = std::mem::replace(&mut self.output, std::mem::take(&mut self.spare));
        let len = output.len();
        let sending = self.socket.try_send(output, 0);
        sending.quiet_unless_short(len);
        self.sending = Some(sending);
        Ok(())
    }

    /// Resolves with the replies' send once it fell short or failed (a
    /// send that took everything never wakes this), for
    /// [`Outbox::finish`]. Pending for ever when nothing is being sent.
    /// Nothing is lost if it is dropped unresolved.
    async fn short_send(&mut self) -> (std::io::Result<usize>, BytesMut) {
        match &mut self.sending {
            Some(sending) => {
                let done = sending.await;
                self.sending = None;
                done
            }
            None => std::future::pending().await,
        }
    }

    /// Waits until the replies being written are all out. A client that
    /// accepts no byte of them for `timeout` (`--client-output-timeout`)
    /// fails the write; the caller then drops the connection.
    async fn settle(&mut self) -> std::io::Result<()> {
        let Some(sending) = self.sending.take() else {
            return Ok(());
        };
        sending.wake_always();
        let (result, buf) = sending.await;
        self.finish(result, buf).await
    }

    /// Sends what the replies' first send left, if it left anything, and
    /// keeps the buffer for the next replies.
    async fn finish(
        &mut self,
        result: std::io::Result<usize>,
        buf: BytesMut,
    ) -> std::io::Result<()> {
        let (result, mut buf) = match result {
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
        buf.clear();
        if buf.capacity() > 4 * READ_CHUNK {
            buf = BytesMut::with_capacity(16 * 1024);
        }
        self.spare = buf;
        result
    }
}

/// The commands collected so far, before they run. One per connection,
/// emptied by [`run_batch`] and reused: its vectors are not allocated again
/// per batch.
struct Batch {
    /// The connection it belongs to (for the slow log).
    client_id: u64,
    /// The commands, grouped per shard; added to only through
    /// [`Batch::push_ready`] and [`Batch::push_keyed`], which keep
    /// `commands` aligned with it.
    groups: Groups,
    /// The command of each slot, for per-command stats.
    commands: BatchCommands,
    /// Each shard's replies to its group, while they are gathered.
    results: Vec<Vec<Reply>>,
}

impl Batch {
    fn new(nr_shards: usize, client_id: u64) -> Batch {
        Batch {
            client_id,
            groups: Groups::new(nr_shards, FIRST_BATCH),
            commands: BatchCommands::with_capacity(FIRST_BATCH),
            results: (0..nr_shards).map(|_| Vec::new()).collect(),
        }
    }

    /// Adds a known reply of `command_index`'s command (`None`: a request
    /// that did not parse).
    fn push_ready(&mut self, command_index: Option<usize>, reply: Reply) {
        self.commands.push(command_index);
        self.groups.push_ready(reply);
    }

    /// Adds the reply of a request refused before it ran (or that made no
    /// command), counted as `counted` says.
    fn push_refused(&mut self, counted: Counted, reply: Reply) {
        self.commands.push_counted(counted);
        self.groups.push_ready(reply);
    }

    /// Adds a keyed command to its shard's group (or its parts); gives it
    /// back when it must run latched.
    fn push_keyed(
        &mut self,
        command_index: Option<usize>,
        command: Command,
    ) -> Result<(), Command> {
        self.groups.push_keyed(command)?;
        self.commands.push(command_index);
        Ok(())
    }
}

/// What the connection does after a batch.
#[derive(PartialEq, Eq)]
enum After {
    Continue,
    Close,
}

/// Serves one client until it disconnects, misbehaves, or the server stops
/// (the shard's [`Ring`](crate::net::Ring) is shut down). `shard_port` is
/// `Some(shard id)` on the shard's own port (`--shard-ports`), `None` on the
/// shared port: it decides which keys are served here.
pub async fn serve(
    shard: Rc<Shard>,
    socket: Socket,
    client_id: u64,
    addr: String,
    laddr: String,
    shard_port: Option<usize>,
) {
    let now = Instant::now();
    shard.clients.borrow_mut().insert(
        client_id,
        ClientInfo {
            addr,
            laddr,
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            since: now,
            last_active: now,
            last_cmd: "NULL",
            protocol: Protocol::Resp2,
            tot_cmds: 0,
            tot_net_in: 0,
            tot_net_out: 0,
            fd: socket.raw_fd(),
        },
    );
    let limits = ParseLimits {
        max_bulk_len: shard.config.max_value_size.max(shard.config.max_key_size),
        ..ParseLimits::default()
    };
    let timeout = shard.shared.settings.client_output_timeout(&shard.config);
    let timeout = (timeout > 0).then(|| Duration::from_secs(timeout));
    let mut sizer = BatchSizer::new(shard.shared.settings.client_output_limit(&shard.config));
    // Read straight into, sized by the request being received, and kept
    // while big requests keep coming (see `protocol::input`).
    let mut input = InputBuffer::new();
    let mut outbox = Outbox {
        socket: &socket,
        client_id,
        timeout,
        output: BytesMut::with_capacity(16 * 1024),
        sending: None,
        spare: BytesMut::with_capacity(16 * 1024),
        activity: Activity::default(),
    };
    let mut session = Session::new();
    let mut batch = Batch::new(shard.nr_shards, client_id);
    // The arguments of the request at hand, the vector kept from one
    // request to the next.
    let mut args = Vec::new();
    'connection: loop {
        let holds_big = input.allocated() > BIG_BUFFER;
        let monitoring = session.monitor.sink().is_some();
        // A monitor (waiting for lines too) or a connection holding a big
        // buffer (waiting for idleness too) settles its replies first.
        if (monitoring || holds_big) && outbox.settle().await.is_err() {
            break;
        }
        let mut recv = socket.recv(input.lend_room(&limits));
        // Replies the socket did not take at once go out while input is
        // awaited (a send that took them all does not wake this).
        let mut early = None;
        if outbox.sending.is_some() {
            let waited = futures_lite::future::or(async { Ok((&mut recv).await) }, async {
                Err(outbox.short_send().await)
            })
            .await;
            match waited {
                Ok(done) => early = Some(done),
                Err((result, buf)) => {
                    if outbox.finish(result, buf).await.is_err() {
                        break;
                    }
                }
            }
        }
        let (result, room) = if let Some(done) = early {
            done
        } else if let Some(sink) = session.monitor.sink() {
            monitor::recv_or_lines(sink, recv).await
        } else if holds_big {
            let done = futures_lite::future::or(async { Some((&mut recv).await) }, async {
                glommio::timer::sleep(IDLE_RELEASE).await;
                None
            })
            .await;
            match done {
                Some(done) => done,
                None => {
                    // Idle: cancel, keeping whatever arrived meanwhile.
                    recv.cancel();
                    recv.await
                }
            }
        } else {
            recv.await
        };
        // A monitor writes the lines that came (even if input came too).
        if session.monitor.sink().is_some()
            && (!monitor::take_lines(&session.monitor, &mut outbox.output)
                || outbox.write_out(&shard).await.is_err())
        {
            input.return_room(room, 0);
            break;
        }
        let n = match result {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) && !socket.is_shut_down() => {
                input.return_room(room, 0);
                input.release();
                continue;
            }
            Err(_) => break,
        };
        input.return_room(room, n);
        if n == 0 {
            break;
        }
        // The last replies are out before this input runs.
        if outbox.settle().await.is_err() {
            break;
        }
        bump(&shard.stats.net_in, n as u64);
        outbox.activity.net_in += n as u64;

        // One clock read per read of input: batch latency and activity.
        let started = Instant::now();
        // Whether anyone monitors, looked at once per read of input (a
        // MONITOR that starts meanwhile sees the next one on).
        let monitored = shard.shared.monitors.any();
        let mut after = After::Continue;
        loop {
            match parse_request_into(input.pending(), &limits, &mut args) {
                Ok(Parsed::Command(())) => {
                    let planned = plan(
                        &shard,
                        shard_port,
                        monitored,
                        &mut session,
                        &args,
                        &mut batch,
                        &mut outbox,
                    )
                    .await;
                    if args.capacity() > MAX_KEPT_ARGS {
                        args = Vec::new();
                    }
                    if planned == After::Close {
                        after = After::Close;
                        break;
                    }
                    if (batch.groups.len() >= sizer.cap
                        || outbox.output.len() as u64 >= sizer.limit)
                        && flush_and_write(
                            &shard,
                            &mut session,
                            &mut batch,
                            &mut outbox,
                            started,
                            &mut sizer,
                        )
                        .await
                        .is_err()
                    {
                        break 'connection;
                    }
                }
                Ok(Parsed::Empty) => continue,
                Ok(Parsed::Incomplete) => break,
                Err(error) => {
                    flush_batch(
                        &shard,
                        &session,
                        &mut batch,
                        &mut outbox.output,
                        started,
                        &mut sizer,
                    )
                    .await;
                    bump(&shard.stats.protocol_errors, 1);
                    tracing::debug!(client_id, %error, "protocol error, closing connection");
                    Reply::error(error.message()).encode(&mut outbox.output, session.protocol);
                    after = After::Close;
                    break;
                }
            }
        }
        if flush_and_write(
            &shard,
            &mut session,
            &mut batch,
            &mut outbox,
            started,
            &mut sizer,
        )
        .await
        .is_err()
            || after == After::Close
        {
            break;
        }
        outbox.activity.flush(&shard, client_id, started);
    }
    // The last replies (QUIT's, a protocol error's) go out before the close.
    let _ = outbox.settle().await;
    drop(outbox);
    drop(socket);
    monitor::leave(&shard, &mut session.monitor);
    shard.clients.borrow_mut().remove(&client_id);
}

/// Runs the batch collected so far, hands MONITOR the lines it made, and
/// writes every pending reply.
async fn flush_and_write(
    shard: &Rc<Shard>,
    session: &mut Session,
    batch: &mut Batch,
    outbox: &mut Outbox<'_>,
    started: Instant,
    sizer: &mut BatchSizer,
) -> std::io::Result<()> {
    flush_batch(shard, session, batch, &mut outbox.output, started, sizer).await;
    if session.monitor.has_lines() {
        monitor::deliver(shard, &mut session.monitor).await;
    }
    outbox.write_out(shard).await
}

/// Runs the batch collected so far (leaving it empty) and lets the sizer
/// learn from the size of its replies.
async fn flush_batch(
    shard: &Rc<Shard>,
    session: &Session,
    batch: &mut Batch,
    output: &mut BytesMut,
    started: Instant,
    sizer: &mut BatchSizer,
) {
    let before = output.len();
    let nr_commands = batch.groups.len();
    run_batch(shard, batch, output, started, session.protocol).await;
    sizer.observe(output.len().saturating_sub(before), nr_commands);
}

/// Sizes batches so that one batch's replies stay near the output limit:
/// after each batch, the cap becomes the number of replies of the size just
/// seen that fit in the limit (at least one, at most [`MAX_BATCH`]). It
/// starts at [`FIRST_BATCH`] and at most doubles per batch, so a client's
/// first pipeline of big replies cannot overshoot before anything was seen.
struct BatchSizer {
    /// `--client-output-limit`.
    limit: u64,
    /// Most commands the next batch may hold.
    cap: usize,
}

/// The batch cap of a new connection.
const FIRST_BATCH: usize = 16;

impl BatchSizer {
    fn new(limit: u64) -> BatchSizer {
        BatchSizer {
            limit: limit.max(1),
            cap: FIRST_BATCH,
        }
    }

    /// Learns from a batch of `nr_commands` whose replies took `bytes`.
    fn observe(&mut self, bytes: usize, nr_commands: usize) {
        if nr_commands == 0 {
            return;
        }
        let per_reply = (bytes as u64 / nr_commands as u64).max(1);
        let fits = (self.limit / per_reply).clamp(1, MAX_BATCH as u64) as usize;
        self.cap = fits.min(self.cap.saturating_mul(2));
    }
}

/// Adds one request to the batch, or answers it at once. Barrier commands
/// run the batch first and write their reply straight to `output`.
/// `monitored`: whether anyone runs MONITOR (looked at once per batch).
async fn plan(
    shard: &Rc<Shard>,
    shard_port: Option<usize>,
    monitored: bool,
    session: &mut Session,
    args: &[bytes::Bytes],
    batch: &mut Batch,
    outbox: &mut Outbox<'_>,
) -> After {
    let client_id = outbox.client_id;
    let output = &mut outbox.output;
    let activity = &mut outbox.activity;
    if monitored
        && let Some(refused) =
            monitor::on_request(shard, client_id, shard_port, session.for_monitor(), args)
    {
        let refused_call = Counted::rejected(&shard.stats.commands, args);
        batch.push_refused(refused_call, refused);
        return After::Continue;
    }
    let (spec, command) = match Command::check(args).map(|spec| (spec, (spec.parse)(args))) {
        Ok((spec, Ok(command))) => (spec, command),
        // Inside MULTI a command with bad arguments is queued, to fail at
        // EXEC; an unknown sub-command or a sub-command's wrong arity fails
        // the transaction at once, as Redis looks sub-commands up first.
        Ok((spec, Err(reply))) if session.in_multi() && !is_lookup_error(&reply) => {
            run_batch(shard, batch, output, Instant::now(), session.protocol).await;
            let index = shard.stats.commands.index.of_spec(spec);
            session.queued_calls.queued(index);
            session.queue_failed(reply).encode(output, session.protocol);
            return After::Continue;
        }
        Ok((_, Err(reply))) | Err(reply) => {
            session.reject();
            let counted = Counted::of_refusal(&shard.stats.commands, args, &reply);
            batch.push_refused(counted, reply);
            return After::Continue;
        }
    };
    // Counted under the name asked for (INCR, DECR and INCRBY are one
    // command once parsed).
    let index = Some(shard.stats.commands.index.of_spec(spec));
    // Cluster hook: a key of another node (or, on a shard port, of another
    // shard) is redirected instead of served; inside MULTI that also makes
    // EXEC fail (EXECABORT), as in Redis Cluster.
    if let Some(reply) = shard.cluster.check(shard_port, command.keys()) {
        session.reject();
        let refused_call = Counted::rejected(&shard.stats.commands, args);
        batch.push_refused(refused_call, reply);
        return After::Continue;
    }
    // The session's hook (HELLO, MULTI/EXEC, WATCH, and everything queued
    // inside MULTI): the commands before it run first, in the protocol they
    // were asked in.
    if session.wants(&command) {
        run_batch(shard, batch, output, Instant::now(), session.protocol).await;
        let started = Instant::now();
        let was_queuing = session.in_multi();
        let reply = session.answer(shard, client_id, command).await;
        let queuing = (was_queuing, session.in_multi());
        let elapsed_us = latency_us(started.elapsed());
        if !session
            .queued_calls
            .answered(&shard.stats.commands, index, queuing, &reply, elapsed_us)
        {
            record_one(shard, client_id, index, started, &reply);
        }
        reply.encode(output, session.protocol);
        return After::Continue;
    }
    let protocol = session.protocol;
    activity.last_cmd = Some(command.name());
    activity.nr_cmds += 1;
    if !matches!(command.spec().route, Route::Keyed(_)) {
        // What is not keyed may look at this client (CLIENT LIST, INFO): its
        // figures are brought up to date first (keyed ones once per batch).
        activity.flush(shard, client_id, Instant::now());
    }
    // Cluster hook: CLUSTER's answers depend on the port asked.
    if let Command::Cluster(sub) = command {
        bump(&shard.stats.others, 1);
        if let Some(reply) = cluster_cmd::immediate(shard, shard_port, &sub) {
            batch.push_ready(index, reply);
            return After::Continue;
        }
        run_batch(shard, batch, output, Instant::now(), protocol).await;
        cluster_cmd::with_shards(shard, sub)
            .await
            .encode(output, protocol);
        return After::Continue;
    }
    // Cluster hook: on a shard port DBSIZE, KEYS and SCAN see that shard's
    // keys only, as a Redis Cluster primary sees its own (a cluster client
    // sums or chains them over the primaries).
    if let Some(own) = shard_port
        && cluster_cmd::is_shard_scoped(&command)
    {
        run_batch(shard, batch, output, Instant::now(), protocol).await;
        let started = Instant::now();
        let reply = cluster_cmd::shard_scoped(shard, own, command).await;
        record_one(shard, client_id, index, started, &reply);
        reply.encode(output, protocol);
        return After::Continue;
    }
    match command.spec().route {
        Route::Keyed(_) => plan_keyed(shard, index, command, batch, output, protocol).await,
        Route::Here => match admin::immediate(shard, client_id, &command) {
            Some(reply) => {
                batch.push_ready(index, reply);
                bump(&shard.stats.others, 1);
                if command == Command::Quit {
                    After::Close
                } else {
                    After::Continue
                }
            }
            // CLIENT LIST: a container answered here whose sub-command asks every shard.
            None => barrier(shard, command, batch, output, protocol).await,
        },
        Route::Everywhere => barrier(shard, command, batch, output, protocol).await,
        Route::Session => {
            batch.push_ready(
                index,
                Reply::error(format!(
                    "ERR '{}' is a connection command and was not answered by the session",
                    command.name()
                )),
            );
            After::Continue
        }
    }
}

/// Adds a keyed command to the batch: whole to its shard, split in parts, or
/// (latched across shards) run as a barrier.
async fn plan_keyed(
    shard: &Rc<Shard>,
    index: Option<usize>,
    command: Command,
    batch: &mut Batch,
    output: &mut BytesMut,
    protocol: Protocol,
) -> After {
    let max_key = shard.config.max_key_size as usize;
    let too_long = match single_key(&command) {
        Some(key) => key.len() > max_key,
        None => keys_of(&command).iter().any(|k| k.len() > max_key),
    };
    if too_long {
        batch.push_ready(
            index,
            Reply::error(format!(
                "ERR key is too large (the limit is {max_key} bytes, --max-key-size)"
            )),
        );
        return After::Continue;
    }
    match batch.push_keyed(index, command) {
        Ok(()) => After::Continue,
        Err(command) => barrier(shard, command, batch, output, protocol).await,
    }
}

/// An error Redis gives while looking a command up, before queueing or
/// running it: an unknown sub-command, or a sub-command's arity (`'object|encoding'`).
fn is_lookup_error(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(text)
        if text.starts_with("ERR unknown subcommand")
            || (text.starts_with("ERR wrong number of arguments for '") && text.contains('|')))
}

/// Runs everything batched so far, then `command`, appending both replies.
async fn barrier(
    shard: &Rc<Shard>,
    command: Command,
    batch: &mut Batch,
    output: &mut BytesMut,
    protocol: Protocol,
) -> After {
    run_batch(shard, batch, output, Instant::now(), protocol).await;
    let started = Instant::now();
    let index = Some(shard.stats.commands.index.of(&command));
    let client_id = batch.client_id;
    let reply = admin::with_shards(shard, client_id, command).await;
    match reply {
        Some(reply) => {
            record_one(shard, client_id, index, started, &reply);
            reply.encode(output, protocol);
            After::Continue
        }
        None => After::Close,
    }
}

/// Sends each shard its group (the own shard's runs inline), then encodes
/// every reply in request order, leaving the batch empty.
async fn run_batch(
    shard: &Rc<Shard>,
    batch: &mut Batch,
    output: &mut BytesMut,
    started: Instant,
    protocol: Protocol,
) {
    if batch.groups.is_empty() {
        return;
    }
    let nr_commands = batch.groups.len() as u64;
    let mut local = false;
    let mut remote = Vec::new();
    for target in 0..shard.nr_shards {
        if batch.groups.group_mut(target).is_empty() {
            continue;
        }
        if target == shard.id {
            local = true;
        } else {
            let commands = batch.groups.take_group(target);
            bump(&shard.stats.fwd_out, commands.len() as u64);
            remote.push((target, commands));
        }
    }
    if !local && remote.len() == 1 {
        // One peer and nothing local: no need for a separate task.
        let (target, commands) = remote.pop().expect("one remote group");
        batch.results[target] =
            replies_of(shard.mesh.call(target, ShardRequest::Batch(commands)).await);
    } else {
        let tasks: Vec<_> = remote
            .into_iter()
            .map(|(target, commands)| {
                let me = shard.clone();
                let task = glommio::spawn_local(async move {
                    me.mesh.call(target, ShardRequest::Batch(commands)).await
                });
                (target, task)
            })
            .collect();
        if local {
            let commands = batch.groups.group_mut(shard.id);
            shard
                .execute_batch_into(commands, &mut batch.results[shard.id])
                .await;
        }
        for (target, task) in tasks {
            batch.results[target] = replies_of(task.await);
        }
    }
    let commands = &batch.commands;
    batch.groups.gather(&mut batch.results, |position, reply| {
        commands.replied(&shard.stats.commands, position, &reply);
        reply.encode(output, protocol);
    });
    let elapsed = started.elapsed();
    shard.stats.record_latency(elapsed, nr_commands);
    let elapsed_us = latency_us(elapsed);
    batch.commands.finish(&shard.stats.commands, elapsed_us);
    if shard.introspection.is_slow(elapsed_us) {
        shard.note_slow(batch.client_id, &batch.commands, elapsed_us);
    }
    batch.commands.clear();
}

/// Records one command answered outside a batch (a barrier, HELLO).
fn record_one(
    shard: &Shard,
    client_id: u64,
    index: Option<usize>,
    started: Instant,
    reply: &Reply,
) {
    let mut one = BatchCommands::default();
    one.push(index);
    one.replied(&shard.stats.commands, 0, reply);
    let elapsed_us = latency_us(started.elapsed());
    one.finish(&shard.stats.commands, elapsed_us);
    if shard.introspection.is_slow(elapsed_us) {
        shard.note_slow(client_id, &one, elapsed_us);
    }
}

fn replies_of(response: Option<ShardResponse>) -> Vec<Reply> {
    match response {
        Some(ShardResponse::Replies(replies)) => replies,
        _ => Vec::new(),
    }
}

/// Writes the refusal a connection past `--max-connections` gets.
pub async fn refuse(mut stream: TcpStream) {
    let mut out = BytesMut::new();
    out.put_slice(b"-ERR max number of clients reached\r\n");
    let _ = stream.write_all(&out).await;
    let _ = stream.close().await;
}
