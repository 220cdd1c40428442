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

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

pub use super::batch::MAX_BATCH;
use super::batch::{Batch, BatchSizer, record_one, run_batch, run_batch_now};
use super::outbox::{Activity, Outbox};
use super::plan::{keys_of, single_key};
use super::session::Session;
use super::{admin, cluster_cmd, monitor};
use crate::commands::{ClusterSub, Command, CommandSpec, Route};
use crate::metrics::bump;
use crate::metrics::commands::Counted;
use crate::metrics::shard::latency_us;
use crate::net::Socket;
use crate::protocol::input::BIG_BUFFER;
use crate::protocol::{InputBuffer, ParseLimits, Parsed, Protocol, Reply, parse_request_into};
use crate::shard::{ClientActivity, ClientInfo, Shard};

/// A request with more arguments than this gives its argument vector back
/// afterwards instead of keeping it for the next request.
const MAX_KEPT_ARGS: usize = 256;
/// A connection idle this long gives back a big input buffer.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

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
    let activity = Rc::new(ClientActivity::new(now));
    shard.clients.borrow_mut().insert(
        client_id,
        ClientInfo {
            addr,
            laddr,
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            since: now,
            protocol: Protocol::Resp2,
            activity: activity.clone(),
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
        done: None,
        spare: BytesMut::with_capacity(16 * 1024),
        activity: Activity::new(activity),
    };
    let mut session = Session::new();
    let mut batch = Batch::new(shard.id, shard.nr_shards, client_id);
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
            let waited = std::future::poll_fn(|cx| {
                if let Poll::Ready(done) = Pin::new(&mut recv).poll(cx) {
                    return Poll::Ready(Ok(done));
                }
                outbox.poll_short_send(cx).map(Err)
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
        if !outbox.try_settle() && outbox.settle().await.is_err() {
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
                    let planned = match plan(
                        &shard,
                        shard_port,
                        monitored,
                        &mut session,
                        &args,
                        &mut batch,
                        &mut outbox.activity,
                    ) {
                        Planned::Done(after) => after,
                        Planned::Later(later) => {
                            plan_later(&shard, later, &mut session, &mut batch, &mut outbox.output)
                                .await
                        }
                    };
                    if args.capacity() > MAX_KEPT_ARGS {
                        args = Vec::new();
                    }
                    if planned == After::Close {
                        after = After::Close;
                        break;
                    }
                    if (batch.len() >= sizer.cap || outbox.output.len() as u64 >= sizer.limit)
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
        let written = flush_and_write_now(
            &shard,
            &session,
            &mut batch,
            &mut outbox,
            started,
            &mut sizer,
        ) || flush_and_write(
            &shard,
            &mut session,
            &mut batch,
            &mut outbox,
            started,
            &mut sizer,
        )
        .await
        .is_ok();
        if !written || after == After::Close {
            break;
        }
        outbox.activity.flush(started);
    }
    // The last replies (QUIT's, a protocol error's) go out before the close.
    let _ = outbox.settle().await;
    drop(outbox);
    drop(socket);
    monitor::leave(&shard, &mut session.monitor);
    shard.clients.borrow_mut().remove(&client_id);
}

/// [`flush_and_write`] when nothing has to wait (a GET at pipeline 1
/// whose last replies are out): `false`, with nothing run or sent, when
/// `flush_and_write` must do it.
fn flush_and_write_now(
    shard: &Shard,
    session: &Session,
    batch: &mut Batch,
    outbox: &mut Outbox<'_>,
    started: Instant,
    sizer: &mut BatchSizer,
) -> bool {
    if session.monitor.has_lines() || !outbox.try_settle() {
        return false;
    }
    let before = outbox.output.len();
    let nr_commands = batch.len();
    if !run_batch_now(shard, batch, &mut outbox.output, started, session.protocol) {
        return false;
    }
    sizer.observe(outbox.output.len().saturating_sub(before), nr_commands);
    outbox.write_out_now(shard)
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
    let nr_commands = batch.len();
    run_batch(shard, batch, output, started, session.protocol).await;
    sizer.observe(output.len().saturating_sub(before), nr_commands);
}

/// What [`plan`] left to do that waits: run the batch so far, then this.
enum Later {
    /// Inside MULTI, a command with bad arguments (its row, its error):
    /// queued to fail at EXEC.
    QueueFailed(&'static CommandSpec, Reply),
    /// The session answers it (HELLO, MULTI/EXEC, WATCH, queued commands).
    Session(Option<usize>, Command),
    /// CLUSTER, asking every shard.
    Cluster(ClusterSub),
    /// DBSIZE, KEYS or SCAN on a shard port: that shard's keys only.
    ShardScoped(usize, Option<usize>, Command),
    /// Everything batched so far runs first, then this.
    Barrier(Command),
}

/// What [`plan`] did with a request.
enum Planned {
    /// Batched or answered; what the connection does next.
    Done(After),
    /// Left for [`plan_later`].
    Later(Later),
}

/// Adds one request to the batch, or answers it at once; what must wait
/// (barrier commands, the session's) is handed back for [`plan_later`].
/// Synchronous, so the common request (a keyed command joining the batch)
/// builds no future. `monitored`: whether anyone runs MONITOR (looked at
/// once per batch).
fn plan(
    shard: &Rc<Shard>,
    shard_port: Option<usize>,
    monitored: bool,
    session: &mut Session,
    args: &[bytes::Bytes],
    batch: &mut Batch,
    activity: &mut Activity,
) -> Planned {
    let client_id = batch.client_id;
    if monitored
        && let Some(refused) =
            monitor::on_request(shard, client_id, shard_port, session.for_monitor(), args)
    {
        let refused_call = Counted::rejected(&shard.stats.commands, args);
        batch.push_refused(refused_call, refused);
        return Planned::Done(After::Continue);
    }
    let (spec, command) = match Command::check(args).map(|spec| (spec, (spec.parse)(args))) {
        Ok((spec, Ok(command))) => (spec, command),
        // Inside MULTI a command with bad arguments is queued, to fail at
        // EXEC; an unknown sub-command or a sub-command's wrong arity fails
        // the transaction at once, as Redis looks sub-commands up first.
        Ok((spec, Err(reply))) if session.in_multi() && !is_lookup_error(&reply) => {
            return Planned::Later(Later::QueueFailed(spec, reply));
        }
        Ok((_, Err(reply))) | Err(reply) => {
            session.reject();
            let counted = Counted::of_refusal(&shard.stats.commands, args, &reply);
            batch.push_refused(counted, reply);
            return Planned::Done(After::Continue);
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
        return Planned::Done(After::Continue);
    }
    // The session's hook (HELLO, MULTI/EXEC, WATCH, and everything queued
    // inside MULTI): the commands before it run first, in the protocol they
    // were asked in.
    if session.wants(&command) {
        return Planned::Later(Later::Session(index, command));
    }
    let route = command.spec().route;
    activity.last_cmd = Some(command.name());
    activity.nr_cmds += 1;
    if !matches!(route, Route::Keyed(_)) {
        // What is not keyed may look at this client (CLIENT LIST, INFO): its
        // figures are brought up to date first (keyed ones once per batch).
        activity.flush(Instant::now());
    }
    // Cluster hook: CLUSTER's answers depend on the port asked.
    if let Command::Cluster(sub) = command {
        bump(&shard.stats.others, 1);
        if let Some(reply) = cluster_cmd::immediate(shard, shard_port, &sub) {
            batch.push_ready(index, reply);
            return Planned::Done(After::Continue);
        }
        return Planned::Later(Later::Cluster(sub));
    }
    // Cluster hook: on a shard port DBSIZE, KEYS and SCAN see that shard's
    // keys only, as a Redis Cluster primary sees its own (a cluster client
    // sums or chains them over the primaries).
    if let Some(own) = shard_port
        && cluster_cmd::is_shard_scoped(&command)
    {
        return Planned::Later(Later::ShardScoped(own, index, command));
    }
    match route {
        Route::Keyed(_) => plan_keyed(shard, index, command, batch),
        Route::Here => match admin::immediate(shard, client_id, &command) {
            Some(reply) => {
                batch.push_ready(index, reply);
                bump(&shard.stats.others, 1);
                if command == Command::Quit {
                    Planned::Done(After::Close)
                } else {
                    Planned::Done(After::Continue)
                }
            }
            // CLIENT LIST: a container answered here whose sub-command asks every shard.
            None => Planned::Later(Later::Barrier(command)),
        },
        Route::Everywhere => Planned::Later(Later::Barrier(command)),
        Route::Session => {
            batch.push_ready(
                index,
                Reply::error(format!(
                    "ERR '{}' is a connection command and was not answered by the session",
                    command.name()
                )),
            );
            Planned::Done(After::Continue)
        }
    }
}

/// Does what [`plan`] left: runs the batch so far, then answers the
/// request, writing its reply straight to the output.
async fn plan_later(
    shard: &Rc<Shard>,
    later: Later,
    session: &mut Session,
    batch: &mut Batch,
    output: &mut BytesMut,
) -> After {
    let client_id = batch.client_id;
    let protocol = session.protocol;
    match later {
        Later::QueueFailed(spec, reply) => {
            run_batch(shard, batch, output, Instant::now(), protocol).await;
            let index = shard.stats.commands.index.of_spec(spec);
            session.queued_calls.queued(index);
            session.queue_failed(reply).encode(output, protocol);
            After::Continue
        }
        Later::Session(index, command) => {
            run_batch(shard, batch, output, Instant::now(), protocol).await;
            let started = Instant::now();
            let was_queuing = session.in_multi();
            let reply = session.answer(shard, client_id, command).await;
            let queuing = (was_queuing, session.in_multi());
            let elapsed_us = latency_us(started.elapsed());
            if !session.queued_calls.answered(
                &shard.stats.commands,
                index,
                queuing,
                &reply,
                elapsed_us,
            ) {
                record_one(shard, client_id, index, started, &reply);
            }
            reply.encode(output, session.protocol);
            After::Continue
        }
        Later::Cluster(sub) => {
            run_batch(shard, batch, output, Instant::now(), protocol).await;
            cluster_cmd::with_shards(shard, sub)
                .await
                .encode(output, protocol);
            After::Continue
        }
        Later::ShardScoped(own, index, command) => {
            run_batch(shard, batch, output, Instant::now(), protocol).await;
            let started = Instant::now();
            let reply = cluster_cmd::shard_scoped(shard, own, command).await;
            record_one(shard, client_id, index, started, &reply);
            reply.encode(output, protocol);
            After::Continue
        }
        Later::Barrier(command) => barrier(shard, command, batch, output, protocol).await,
    }
}

/// Adds a keyed command to the batch: whole to its shard, or split in
/// parts; one latched across shards is handed back to run as a barrier.
fn plan_keyed(shard: &Shard, index: Option<usize>, command: Command, batch: &mut Batch) -> Planned {
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
        return Planned::Done(After::Continue);
    }
    match batch.push_keyed(index, command) {
        Ok(()) => Planned::Done(After::Continue),
        Err(command) => Planned::Later(Later::Barrier(command)),
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

/// Writes the refusal a connection past `--max-connections` gets.
pub async fn refuse(mut stream: TcpStream) {
    let mut out = BytesMut::new();
    out.put_slice(b"-ERR max number of clients reached\r\n");
    let _ = stream.write_all(&out).await;
    let _ = stream.close().await;
}
