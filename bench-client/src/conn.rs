//! One client connection: builds requests into a reusable write buffer,
//! keeps up to `pipeline` of them in flight, and parses replies in place as
//! they stream in.
//!
//! A single task drives the socket both ways: it writes while it reads, so a
//! server that stops reading while its replies are not consumed (large
//! values, deep pipelines) cannot deadlock it. Nothing is allocated per
//! request once the buffers have reached their working size.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_lite::future::poll_fn;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use glommio::timer::Timer;

use crate::args::Config;
use crate::cluster::{SlotMap, moved_target};
use crate::keys::{KeyChooser, Rng, write_key};
use crate::resp::{self, Reply, ReplyParser};
use crate::schedule::{RatePlan, SendSchedule, Slot};
use crate::stats::{Op, ThreadStats};
use crate::value::{self, Pattern};

/// Bytes read per `recv`.
const READ_BUFFER_SIZE: usize = 64 * 1024;
/// Consecutive failed (re)connections after which a connection gives up.
const MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// Pause between reconnection attempts.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// Longest wait for one connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connects tried in a row when each one times out.
const CONNECT_ATTEMPTS: u32 = 3;

/// What one client thread shares between its connections.
#[derive(Debug)]
pub struct ThreadCtx {
    /// Run settings.
    pub config: std::sync::Arc<Config>,
    /// This thread's index.
    pub thread_id: usize,
    /// Counters of the current phase.
    pub stats: RefCell<ThreadStats>,
    /// Filler bytes values are cut from.
    pub pattern: Pattern,
    /// Counter behind the versions of verified values.
    pub next_version: Cell<u64>,
}

impl ThreadCtx {
    /// A unique version for a verified SET: a per-thread counter with the
    /// thread id in the low 16 bits, so threads never collide.
    fn take_version(&self) -> u64 {
        let counter = self.next_version.get() + 1;
        self.next_version.set(counter);
        (counter << 16) | self.thread_id as u64
    }
}

/// Request mix: DEL share, then SET:GET weights.
#[derive(Debug, Clone, Copy)]
pub struct OpMix {
    /// DELs per million requests.
    pub del_ppm: u64,
    /// SET weight.
    pub set: u64,
    /// GET weight.
    pub get: u64,
}

impl OpMix {
    /// The mix asked for on the command line.
    pub fn of_config(config: &Config) -> OpMix {
        OpMix {
            del_ppm: (config.del_percent * 10_000.0).round() as u64,
            set: u64::from(config.ratio.set),
            get: u64::from(config.ratio.get),
        }
    }

    /// Only SETs (preload).
    pub fn only_sets() -> OpMix {
        OpMix {
            del_ppm: 0,
            set: 1,
            get: 0,
        }
    }

    #[inline]
    fn choose(&self, rng: &mut Rng) -> Op {
        if self.del_ppm > 0 && rng.below(1_000_000) < self.del_ppm {
            return Op::Del;
        }
        if self.get == 0 || (self.set > 0 && rng.below(self.set + self.get) < self.set) {
            Op::Set
        } else {
            Op::Get
        }
    }
}

/// How one phase (preload or the measured run) is driven.
#[derive(Debug, Clone)]
pub struct Phase {
    /// When the phase started.
    pub start: Instant,
    /// Stop sending at this time.
    pub deadline: Option<Instant>,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// The fixed-rate plan (`--rate`); `None` sends whenever the window
    /// has room.
    pub rate: Option<RatePlan>,
}

/// A request sent (or queued to send) and not yet answered.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// When it was meant to be sent; latency is measured from here.
    intended: Instant,
    op: Op,
    key_index: u64,
    /// Value bytes of a SET.
    value_len: usize,
}

/// What woke the connection up.
enum Event {
    Io { wrote: usize, read: usize },
    Timer,
}

/// One connection and its buffers, reused across phases and reconnects.
pub struct Conn {
    /// Global connection index (0..connections).
    pub conn_index: usize,
    /// The server it talks to: `--addr`, or with `--cluster` its primary.
    addr: String,
    /// With `--cluster`: the slot map and this connection's primary, whose
    /// keys it sends (key indexes are positions in that primary's list).
    primary: Option<(std::sync::Arc<SlotMap>, usize)>,
    stream: Option<TcpStream>,
    write_buf: Vec<u8>,
    /// Bytes of `write_buf` already written.
    write_pos: usize,
    read_buf: Box<[u8]>,
    parser: ReplyParser,
    in_flight: VecDeque<InFlight>,
    rng: Rng,
    key_buf: Vec<u8>,
    timer: Option<Timer>,
    /// Replies since the last (re)connect: tells a flapping server from a
    /// one-off failure.
    replies_since_connect: u64,
}

impl Conn {
    /// A connection that is not connected yet.
    pub fn new(config: &Config, conn_index: usize, seed: u64) -> Conn {
        let capture_limit = if config.verify {
            config.value_size.max
        } else {
            0
        };
        let primary = config.cluster.as_ref().map(|map| {
            let primary = map.primary_of_conn(conn_index);
            (map.clone(), primary)
        });
        Conn {
            conn_index,
            addr: primary
                .as_ref()
                .map_or_else(|| config.addr.clone(), |(map, p)| map.primaries[*p].clone()),
            primary,
            stream: None,
            write_buf: Vec::with_capacity(4096),
            write_pos: 0,
            read_buf: vec![0u8; READ_BUFFER_SIZE].into_boxed_slice(),
            parser: ReplyParser::new(capture_limit),
            in_flight: VecDeque::with_capacity(config.pipeline.max(64)),
            rng: Rng::new(seed),
            key_buf: Vec::with_capacity(config.key_prefix.len() + 20),
            timer: None,
            replies_since_connect: 0,
        }
    }

    /// The keys this connection draws from: (number of keys, this
    /// connection's index and the number of connections sharing them), for
    /// [`KeyChooser::new`] and the preload stripes.
    pub fn key_space(&self, config: &Config) -> (u64, usize, usize) {
        match &self.primary {
            None => (config.nr_keys, self.conn_index, config.nr_connections),
            Some((map, primary)) => {
                let (rank, count) = map.rank_of_conn(self.conn_index, config.nr_connections);
                (map.keys_of[*primary].len() as u64, rank, count)
            }
        }
    }

    /// True when a socket is open.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Opens the socket; failures are counted in `stats`.
    pub async fn connect(&mut self, ctx: &ThreadCtx) -> bool {
        // A connect on loopback completes at once or fails at once; one that
        // hangs (seen once: the connect's completion never reached the
        // executor, and the whole run waited forever) is given up and tried
        // again, so the client cannot hang before its first request.
        let mut attempt = 1;
        let connected = loop {
            let connect = async { Some(TcpStream::connect(self.addr.as_str()).await) };
            let timeout = async {
                glommio::timer::sleep(CONNECT_TIMEOUT).await;
                None
            };
            match futures_lite::future::or(connect, timeout).await {
                Some(result) => break result,
                None if attempt < CONNECT_ATTEMPTS => attempt += 1,
                None => {
                    break Err(glommio::GlommioError::TimedOut(
                        CONNECT_TIMEOUT * CONNECT_ATTEMPTS,
                    ));
                }
            }
        };
        match connected {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                self.stream = Some(stream);
                self.replies_since_connect = 0;
                true
            }
            Err(error) => {
                let mut stats = ctx.stats.borrow_mut();
                stats.connect_failures += 1;
                stats.note_error(|| format!("connect to {}: {error}", self.addr));
                false
            }
        }
    }

    /// Runs one phase until its deadline or `budget` requests, reconnecting
    /// after failures.
    pub async fn run_phase(
        &mut self,
        ctx: &ThreadCtx,
        phase: &Phase,
        budget: &Cell<u64>,
        mix: OpMix,
        keys: &mut KeyChooser,
    ) {
        let mut schedule = phase
            .rate
            .map(|plan| plan.schedule(phase.start, self.conn_index, phase.deadline));
        let mut consecutive_failures = 0;
        if self.timer.is_none() {
            self.timer = Some(Timer::new(Duration::from_secs(3600)));
        }
        loop {
            let over = phase.deadline.is_some_and(|d| Instant::now() >= d) || budget.get() == 0;
            if over {
                return;
            }
            if self.stream.is_none() {
                if consecutive_failures > 0 {
                    glommio::timer::sleep(RECONNECT_PAUSE).await;
                }
                if !self.connect(ctx).await {
                    consecutive_failures += 1;
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                        return;
                    }
                    continue;
                }
            }
            match self
                .drive(ctx, phase, budget, mix, keys, &mut schedule)
                .await
            {
                Ok(()) => return,
                Err(error) => {
                    let lost = self.in_flight.len();
                    {
                        let mut stats = ctx.stats.borrow_mut();
                        stats.disconnects += 1;
                        stats.lose_requests(lost);
                        if error.kind() == io::ErrorKind::TimedOut {
                            stats.timed_out += lost as u64;
                        }
                        stats.note_error(|| format!("connection {}: {error}", self.conn_index));
                    }
                    self.in_flight.clear();
                    self.write_buf.clear();
                    self.write_pos = 0;
                    self.parser.reset();
                    self.stream = None;
                    if self.replies_since_connect == 0 {
                        consecutive_failures += 1;
                        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                            return;
                        }
                    } else {
                        consecutive_failures = 1;
                    }
                }
            }
        }
    }

    /// The request loop over one live socket. Returns `Ok` when the phase
    /// is over and every reply is in.
    async fn drive(
        &mut self,
        ctx: &ThreadCtx,
        phase: &Phase,
        budget: &Cell<u64>,
        mix: OpMix,
        keys: &mut KeyChooser,
        schedule: &mut Option<SendSchedule>,
    ) -> io::Result<()> {
        let config = &*ctx.config;
        let timeout = config.timeout;
        let expect_presence = config.verify && config.expect_presence();
        let Conn {
            stream,
            write_buf,
            write_pos,
            read_buf,
            parser,
            in_flight,
            rng,
            key_buf,
            timer,
            replies_since_connect,
            primary,
            ..
        } = self;
        // With --cluster, key choices index this primary's key list.
        let key_list = primary.as_ref().map(|(map, p)| &map.keys_of[*p]);
        let mut redirects: Vec<(InFlight, String)> = Vec::new();
        let stream = stream.as_mut().expect("drive needs a connected socket");
        let timer = timer.as_mut().expect("timer made in run_phase");
        let mut timer_at: Option<Instant> = None;
        let mut last_progress = Instant::now();
        loop {
            // A connection whose socket always has work never returns
            // Pending; let the others (and the reactor) run.
            glommio::yield_if_needed().await;
            let mut now = Instant::now();
            // Drop what has been written, so the buffer stays small.
            if *write_pos == write_buf.len() {
                write_buf.clear();
                *write_pos = 0;
            } else if *write_pos > 0 && *write_pos >= write_buf.len() / 2 {
                write_buf.copy_within(*write_pos.., 0);
                write_buf.truncate(write_buf.len() - *write_pos);
                *write_pos = 0;
            }

            // Fill the window.
            let mut sending = true;
            while in_flight.len() < phase.pipeline {
                if phase.deadline.is_some_and(|d| now >= d) || budget.get() == 0 {
                    sending = false;
                    break;
                }
                let intended = match schedule.as_mut().map(|s| s.take(now)) {
                    Some(Slot::Due(intended)) => {
                        let lag = now.saturating_duration_since(intended).as_nanos() as u64;
                        ctx.stats
                            .borrow_mut()
                            .send_lag
                            .saturating_record(lag.max(1));
                        intended
                    }
                    Some(Slot::NotBefore(_)) => break,
                    Some(Slot::Over) => {
                        sending = false;
                        break;
                    }
                    None => now,
                };
                budget.set(budget.get() - 1);
                let op = mix.choose(rng);
                let chosen = keys.next_index(rng);
                let key_index = key_list.map_or(chosen, |list| list[chosen as usize]);
                key_buf.clear();
                write_key(key_buf, &config.key_prefix, key_index);
                let mut value_len = 0;
                match op {
                    Op::Get => resp::encode_get(write_buf, key_buf),
                    Op::Del => resp::encode_del(write_buf, key_buf),
                    Op::Set => {
                        let sizes = config.value_size;
                        value_len =
                            sizes.min + rng.below((sizes.max - sizes.min) as u64 + 1) as usize;
                        resp::encode_set_start(write_buf, key_buf, value_len);
                        if config.verify {
                            let version = ctx.take_version();
                            value::append_verified(
                                write_buf,
                                &ctx.pattern,
                                key_buf,
                                version,
                                value_len,
                            );
                        } else {
                            value::append_plain(write_buf, &ctx.pattern, rng.next_u64(), value_len);
                        }
                        resp::encode_set_end(write_buf);
                    }
                }
                in_flight.push_back(InFlight {
                    intended,
                    op,
                    key_index,
                    value_len,
                });
            }
            if in_flight.is_empty() && !sending {
                return Ok(());
            }

            // Sleep until: the reply timeout, or (at a fixed rate) the next
            // intended send when the window has room.
            let mut wake_at = (!in_flight.is_empty()).then(|| last_progress + timeout);
            if sending
                && in_flight.len() < phase.pipeline
                && let Some(next) = schedule.as_ref().map(SendSchedule::next_at)
            {
                wake_at = Some(wake_at.map_or(next, |at| at.min(next)));
            }
            if let Some(at) = wake_at
                && timer_at.is_none_or(|armed| at < armed)
            {
                timer.reset(at.saturating_duration_since(now));
                timer_at = Some(at);
            }

            let want_read = !in_flight.is_empty();
            let timer_armed = timer_at.is_some();
            let event = poll_fn(|cx| {
                let mut wrote = 0;
                let mut read = 0;
                if *write_pos < write_buf.len() {
                    match Pin::new(&mut *stream).poll_write(cx, &write_buf[*write_pos..]) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero)));
                        }
                        Poll::Ready(Ok(n)) => wrote = n,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Pending => {}
                    }
                }
                if want_read {
                    match Pin::new(&mut *stream).poll_read(cx, &mut read_buf[..]) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "server closed the connection",
                            )));
                        }
                        Poll::Ready(Ok(n)) => read = n,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Pending => {}
                    }
                }
                if wrote > 0 || read > 0 {
                    return Poll::Ready(Ok(Event::Io { wrote, read }));
                }
                if timer_armed && Pin::new(&mut *timer).poll(cx).is_ready() {
                    return Poll::Ready(Ok(Event::Timer));
                }
                Poll::Pending
            })
            .await?;

            match event {
                Event::Timer => {
                    timer_at = None;
                    now = Instant::now();
                    if !in_flight.is_empty() && now >= last_progress + timeout {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no reply for {:.1} s", timeout.as_secs_f64()),
                        ));
                    }
                }
                Event::Io { wrote, read } => {
                    *write_pos += wrote;
                    last_progress = Instant::now();
                    // The stats borrow ends before any MOVED is followed.
                    {
                        let mut stats_guard = ctx.stats.borrow_mut();
                        stats_guard.bytes_out += wrote as u64;
                        stats_guard.bytes_in += read as u64;
                        if read == 0 {
                            continue;
                        }
                        let received_at = last_progress;
                        let stats = &mut *stats_guard;
                        let mut unsolicited = false;
                        let fed = parser.feed(&read_buf[..read], |reply| {
                            let Some(request) = in_flight.pop_front() else {
                                unsolicited = true;
                                return;
                            };
                            *replies_since_connect += 1;
                            let latency_ns = received_at
                                .saturating_duration_since(request.intended)
                                .as_nanos()
                                .min(u128::from(u64::MAX))
                                as u64;
                            if let Reply::Error(text) = reply
                                && let Some(target) = moved_target(text)
                            {
                                redirects.push((request, target));
                                return;
                            }
                            let (payload, error) = judge_reply(
                                stats,
                                config,
                                expect_presence,
                                key_buf,
                                &request,
                                reply,
                            );
                            stats.record(request.op, latency_ns, payload, error);
                            if let Some(timeline) = stats.timeline.as_mut() {
                                timeline.record(request.intended, latency_ns);
                            }
                        });
                        match fed {
                            Err(error) => {
                                return Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    error.to_string(),
                                ));
                            }
                            Ok(_) if unsolicited => {
                                return Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    "reply without a request",
                                ));
                            }
                            Ok(_) => {}
                        }
                    }
                    for (request, target) in redirects.drain(..) {
                        follow_moved(ctx, &request, &target, expect_presence, key_buf).await;
                    }
                }
            }
        }
    }
}

/// Sends a request that got `-MOVED` again, to the address named, on a
/// connection of its own, and records its reply (latency from the first
/// send). A SET is sent again with a fresh value.
async fn follow_moved(
    ctx: &ThreadCtx,
    request: &InFlight,
    target: &str,
    expect_presence: bool,
    key_buf: &mut Vec<u8>,
) {
    let config = &*ctx.config;
    ctx.stats.borrow_mut().moved += 1;
    key_buf.clear();
    write_key(key_buf, &config.key_prefix, request.key_index);
    let mut out = Vec::with_capacity(request.value_len + 64);
    match request.op {
        Op::Get => resp::encode_get(&mut out, key_buf),
        Op::Del => resp::encode_del(&mut out, key_buf),
        Op::Set => {
            resp::encode_set_start(&mut out, key_buf, request.value_len);
            if config.verify {
                let version = ctx.take_version();
                value::append_verified(&mut out, &ctx.pattern, key_buf, version, request.value_len);
            } else {
                value::append_plain(&mut out, &ctx.pattern, 0, request.value_len);
            }
            resp::encode_set_end(&mut out);
        }
    }
    let capture = if config.verify {
        config.value_size.max
    } else {
        0
    };
    let mut parser = ReplyParser::new(capture);
    let mut buf = vec![0u8; READ_BUFFER_SIZE];
    let answered = async {
        let mut stream = TcpStream::connect(target)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        futures_lite::AsyncWriteExt::write_all(&mut stream, &out).await?;
        loop {
            let n = futures_lite::AsyncReadExt::read(&mut stream, &mut buf).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            let mut done = false;
            let mut stats = ctx.stats.borrow_mut();
            parser
                .feed(&buf[..n], |reply| {
                    done = true;
                    let latency_ns = request.intended.elapsed().as_nanos() as u64;
                    let (payload, error) =
                        judge_reply(&mut stats, config, expect_presence, key_buf, request, reply);
                    stats.record(request.op, latency_ns, payload, error);
                })
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if done {
                return Ok(());
            }
        }
    };
    let timeout = async {
        glommio::timer::sleep(config.timeout).await;
        Err(io::Error::from(io::ErrorKind::TimedOut))
    };
    if let Err(error) = futures_lite::future::or(answered, timeout).await {
        let mut stats = ctx.stats.borrow_mut();
        stats.lose_requests(1);
        stats.note_error(|| format!("following MOVED to {target}: {error}"));
    }
}

/// Checks one reply against its request; returns (payload bytes, is error).
fn judge_reply(
    stats: &mut ThreadStats,
    config: &Config,
    expect_presence: bool,
    key_buf: &mut Vec<u8>,
    request: &InFlight,
    reply: Reply<'_>,
) -> (usize, bool) {
    match (request.op, reply) {
        (_, Reply::Error(text)) => {
            stats.error_replies += 1;
            stats.note_error(|| {
                format!("{}: -{}", request.op.name(), String::from_utf8_lossy(text))
            });
            (0, true)
        }
        (Op::Set, Reply::Status(_)) => (request.value_len, false),
        (Op::Del, Reply::Integer(_)) => (0, false),
        (Op::Get, Reply::Nil) => {
            stats.get_misses += 1;
            if expect_presence {
                key_buf.clear();
                write_key(key_buf, &config.key_prefix, request.key_index);
                stats.note_mismatch(|| {
                    format!(
                        "{}: nil after preload (no DELs in this run)",
                        String::from_utf8_lossy(key_buf)
                    )
                });
            }
            (0, false)
        }
        (Op::Get, Reply::Bulk { len, data }) => {
            stats.get_hits += 1;
            if config.verify {
                key_buf.clear();
                write_key(key_buf, &config.key_prefix, request.key_index);
                let sizes = config.value_size;
                let verdict = match data {
                    Some(_) if len < sizes.min || len > sizes.max => {
                        Err(value::VerifyError::BadLength)
                    }
                    Some(bytes) => value::verify(key_buf, bytes).map(|_| ()),
                    None => Err(value::VerifyError::BadLength),
                };
                match verdict {
                    Ok(()) => stats.verified += 1,
                    Err(error) => stats.note_mismatch(|| {
                        format!(
                            "{} ({len} bytes): {error}",
                            String::from_utf8_lossy(key_buf)
                        )
                    }),
                }
            }
            (len, false)
        }
        (op, other) => {
            stats.unexpected_replies += 1;
            stats.note_error(|| format!("{}: unexpected reply {other:?}", op.name()));
            (0, true)
        }
    }
}
