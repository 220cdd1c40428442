//! One client connection: builds requests into a reusable write buffer,
//! keeps up to `pipeline` of them in flight, and parses replies in place as
//! they stream in.
//!
//! The connection is a plain nonblocking socket driven by its thread's
//! event loop ([`crate::driver`]): it reads whenever the socket is readable
//! (so a server that stops reading while its replies are not consumed
//! cannot deadlock it), refills the window after every batch of replies,
//! and writes what it built in one `write`. Nothing is allocated per
//! request once the buffers have reached their working size.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::args::{Config, Distribution};
use crate::cluster::{SlotMap, moved_target};
use crate::ctx::{InFlight, ThreadCtx, version};
use crate::judge::{follow_moved, judge_reply};
use crate::keys::{KeyChooser, Rng, write_key};
use crate::poll::{Poller, Ready};
use crate::resp::{self, Reply, ReplyParser};
use crate::schedule::{RatePlan, SendSchedule, Slot};
use crate::stats::{Op, ThreadStats};
use crate::value;

/// Bytes read per `recv`.
const READ_BUFFER_SIZE: usize = 64 * 1024;
/// Reads in a row on one readiness event while each fills the buffer (large
/// values), before the other connections get their turn.
const MAX_READS_PER_EVENT: usize = 16;
/// Consecutive failed (re)connections after which a connection gives up.
const MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// Pause between reconnection attempts.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// Longest wait for one connect (blocking: on loopback a connect completes
/// or fails at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// What to send.
    pub mix: OpMix,
    /// Which keys.
    pub distribution: Distribution,
}

impl Phase {
    /// No more sends: the deadline has passed or the budget is spent.
    fn over(&self, now: Instant, budget: u64) -> bool {
        self.deadline.is_some_and(|d| now >= d) || budget == 0
    }
}

/// Where a connection is in its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Sending and receiving.
    Active,
    /// Without a socket; (re)connects at this time.
    Reconnecting(Instant),
    /// Finished with this phase (or given up).
    Done,
}

/// One connection and its buffers, reused across phases and reconnects.
pub struct Conn {
    /// Global connection index (0..connections).
    pub conn_index: usize,
    /// Its index in its thread's list: the event loop's token.
    token: u64,
    /// The server it talks to: `--addr`, or with `--cluster` its primary.
    addr: String,
    /// With `--cluster`: the slot map and this connection's primary, whose
    /// keys it sends (key indexes are positions in that primary's list).
    primary: Option<(Arc<SlotMap>, usize)>,
    stream: Option<TcpStream>,
    /// The poller also reports room to write (a write did not go out whole).
    watching_writes: bool,
    write_buf: Vec<u8>,
    /// Bytes of `write_buf` already written.
    write_pos: usize,
    read_buf: Box<[u8]>,
    parser: ReplyParser,
    in_flight: VecDeque<InFlight>,
    rng: Rng,
    key_buf: Vec<u8>,
    /// Replies since the last (re)connect: tells a flapping server from a
    /// one-off failure.
    replies_since_connect: u64,
    /// `-MOVED` replies of the last read, followed after parsing it.
    redirects: Vec<(InFlight, String)>,
    /// This phase's key chooser.
    keys: Option<KeyChooser>,
    /// This phase's intended send times (`--rate`).
    schedule: Option<SendSchedule>,
    /// Which of the phase's budgets this connection draws from.
    budget_slot: usize,
    /// More requests may follow in this phase (false once it is over for
    /// this connection: it only waits for its replies then).
    sending: bool,
    /// Where it is in the phase.
    pub state: State,
    consecutive_failures: u32,
    /// Last time bytes moved (or the window went from empty to not empty):
    /// the reply timeout counts from here.
    last_progress: Instant,
    /// The wake-up the event loop holds for this connection.
    pub timer_at: Option<Instant>,
}

impl Conn {
    /// A connection that is not connected yet; `token` is its index in its
    /// thread's list.
    pub fn new(config: &Config, conn_index: usize, token: usize, seed: u64) -> Conn {
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
            token: token as u64,
            addr: primary
                .as_ref()
                .map_or_else(|| config.addr.clone(), |(map, p)| map.primaries[*p].clone()),
            primary,
            stream: None,
            watching_writes: false,
            write_buf: Vec::with_capacity(4096),
            write_pos: 0,
            read_buf: vec![0u8; READ_BUFFER_SIZE].into_boxed_slice(),
            parser: ReplyParser::new(capture_limit),
            in_flight: VecDeque::with_capacity(config.pipeline.max(64)),
            rng: Rng::new(seed),
            key_buf: Vec::with_capacity(config.key_prefix.len() + 20),
            replies_since_connect: 0,
            redirects: Vec::new(),
            keys: None,
            schedule: None,
            budget_slot: 0,
            sending: false,
            state: State::Done,
            consecutive_failures: 0,
            last_progress: Instant::now(),
            timer_at: None,
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

    /// Opens the socket and registers it with `poller`; failures are
    /// counted in `stats`.
    pub fn connect(&mut self, stats: &mut ThreadStats, poller: &Poller) -> bool {
        match self.open() {
            Ok(stream) => match poller.add(stream.as_raw_fd(), self.token, false) {
                Ok(()) => {
                    self.stream = Some(stream);
                    self.watching_writes = false;
                    self.replies_since_connect = 0;
                    true
                }
                Err(error) => {
                    stats.connect_failures += 1;
                    stats.note_error(|| format!("epoll_ctl for {}: {error}", self.addr));
                    false
                }
            },
            Err(error) => {
                stats.connect_failures += 1;
                stats.note_error(|| format!("connect to {}: {error}", self.addr));
                false
            }
        }
    }

    fn open(&self) -> io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = self.addr.to_socket_addrs()?.collect();
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_nonblocking(true)?;
                    return Ok(stream);
                }
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// Starts a phase: this phase's keys and schedule, drawing on budget
    /// `budget_slot`. The connection's first step is its timer at `now`.
    pub fn begin_phase(
        &mut self,
        config: &Config,
        phase: &Phase,
        budget_slot: usize,
        now: Instant,
    ) {
        let (nr_keys, index, nr_conns) = self.key_space(config);
        self.keys = Some(KeyChooser::new(
            phase.distribution,
            nr_keys,
            index,
            nr_conns,
        ));
        self.schedule = phase
            .rate
            .map(|plan| plan.schedule(phase.start, self.conn_index, phase.deadline));
        self.budget_slot = budget_slot;
        self.sending = true;
        self.consecutive_failures = 0;
        self.last_progress = now;
        self.timer_at = None;
        self.state = if self.stream.is_some() {
            State::Active
        } else {
            State::Reconnecting(now)
        };
    }

    /// When the event loop should next call [`Conn::on_timer`].
    pub fn next_wake(&self, phase: &Phase) -> Option<Instant> {
        match self.state {
            State::Reconnecting(at) => Some(at),
            State::Done => None,
            // Past the phase's end the schedule's next time lies in the
            // past and means nothing: no wake-up (it would fire forever).
            State::Active if self.sending && self.in_flight.len() < phase.pipeline => {
                self.schedule.as_ref().map(SendSchedule::next_at)
            }
            State::Active => None,
        }
    }

    /// Its timer fired: (re)connect when due, else send what is due.
    pub fn on_timer(
        &mut self,
        ctx: &mut ThreadCtx,
        poller: &Poller,
        phase: &Phase,
        budgets: &mut [u64],
        now: Instant,
    ) -> io::Result<()> {
        match self.state {
            State::Reconnecting(at) if now >= at => {
                if phase.over(now, budgets[self.budget_slot]) {
                    self.state = State::Done;
                } else if self.connect(&mut ctx.stats, poller) {
                    self.state = State::Active;
                    self.last_progress = now;
                    self.pump(ctx, poller, phase, budgets, now)?;
                } else {
                    self.consecutive_failures += 1;
                    self.state = if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                        State::Done
                    } else {
                        State::Reconnecting(now + RECONNECT_PAUSE)
                    };
                }
                Ok(())
            }
            State::Active => self.pump(ctx, poller, phase, budgets, now),
            _ => Ok(()),
        }
    }

    /// The socket is ready: write what is pending, read and account for
    /// replies, then refill the window.
    pub fn on_ready(
        &mut self,
        ctx: &mut ThreadCtx,
        ready: Ready,
        poller: &Poller,
        phase: &Phase,
        budgets: &mut [u64],
        now: Instant,
    ) -> io::Result<()> {
        if self.state != State::Active {
            // Between phases nothing is expected: a close or stray bytes
            // just drop the socket (the next phase reconnects).
            if ready.readable && self.stream.is_some() {
                let mut probe = [0u8; 64];
                let stream = self.stream.as_mut().expect("checked");
                match stream.read(&mut probe) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    _ => self.stream = None,
                }
            }
            return Ok(());
        }
        let mut now = now;
        if ready.writable && self.watching_writes {
            self.flush(&mut ctx.stats, poller, now)?;
        }
        if ready.readable
            && let Some(received_at) = self.read_replies(ctx)?
        {
            now = received_at;
        }
        self.pump(ctx, poller, phase, budgets, now)
    }

    /// No reply for `timeout`: an error to fail the connection with.
    pub fn check_timeout(&self, now: Instant, timeout: Duration) -> io::Result<()> {
        if self.state == State::Active
            && !self.in_flight.is_empty()
            && now >= self.last_progress + timeout
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no reply for {:.1} s", timeout.as_secs_f64()),
            ));
        }
        Ok(())
    }

    /// Ends a phase for a connection whose window is empty once the phase
    /// is over (a fixed-rate connection asleep on its next send).
    pub fn finish_if_over(&mut self, phase: &Phase, budgets: &[u64], now: Instant) {
        if self.state == State::Active
            && self.in_flight.is_empty()
            && phase.over(now, budgets[self.budget_slot])
        {
            self.state = State::Done;
        }
    }

    /// The connection broke: its requests in flight are lost; it reconnects
    /// after a pause, or gives up after too many failures in a row.
    pub fn fail(&mut self, stats: &mut ThreadStats, error: io::Error, now: Instant) {
        let lost = self.in_flight.len();
        stats.disconnects += 1;
        stats.lose_requests(lost);
        if error.kind() == io::ErrorKind::TimedOut {
            stats.timed_out += lost as u64;
        }
        stats.note_error(|| format!("connection {}: {error}", self.conn_index));
        self.in_flight.clear();
        self.write_buf.clear();
        self.write_pos = 0;
        self.parser.reset();
        // Closing the socket also takes it out of the epoll set.
        self.stream = None;
        self.watching_writes = false;
        if self.replies_since_connect == 0 {
            self.consecutive_failures += 1;
        } else {
            self.consecutive_failures = 1;
        }
        self.state = if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
            State::Done
        } else {
            State::Reconnecting(now + RECONNECT_PAUSE)
        };
    }

    /// Fills the window and writes; marks the connection done when the
    /// phase is over and every reply is in.
    fn pump(
        &mut self,
        ctx: &mut ThreadCtx,
        poller: &Poller,
        phase: &Phase,
        budgets: &mut [u64],
        now: Instant,
    ) -> io::Result<()> {
        let sending = self.fill(ctx, phase, &mut budgets[self.budget_slot], now);
        self.sending = sending;
        if self.write_pos < self.write_buf.len() && !self.watching_writes {
            self.flush(&mut ctx.stats, poller, now)?;
        }
        if !sending && self.in_flight.is_empty() {
            self.state = State::Done;
        }
        Ok(())
    }

    /// Encodes requests until the window is full, the schedule has nothing
    /// due or the phase is over. Returns false once nothing more will be
    /// sent in this phase.
    fn fill(&mut self, ctx: &mut ThreadCtx, phase: &Phase, budget: &mut u64, now: Instant) -> bool {
        let was_empty = self.in_flight.is_empty();
        let sending = self.encode_due(ctx, phase, budget, now);
        if was_empty && !self.in_flight.is_empty() {
            self.last_progress = now;
        }
        sending
    }

    fn encode_due(
        &mut self,
        ctx: &mut ThreadCtx,
        phase: &Phase,
        budget: &mut u64,
        now: Instant,
    ) -> bool {
        let ThreadCtx {
            config,
            stats,
            pattern,
            next_version,
            thread_id,
        } = ctx;
        let config = &**config;
        let key_list = self.primary.as_ref().map(|(map, p)| &map.keys_of[*p]);
        let keys = self.keys.as_mut().expect("begin_phase sets the keys");
        while self.in_flight.len() < phase.pipeline {
            if phase.over(now, *budget) {
                return false;
            }
            let intended = match self.schedule.as_mut().map(|s| s.take(now)) {
                Some(Slot::Due(intended)) => {
                    let lag = now.saturating_duration_since(intended).as_nanos() as u64;
                    stats.send_lag.saturating_record(lag.max(1));
                    intended
                }
                Some(Slot::NotBefore(_)) => return true,
                Some(Slot::Over) => return false,
                None => now,
            };
            *budget -= 1;
            let op = phase.mix.choose(&mut self.rng);
            let chosen = keys.next_index(&mut self.rng);
            let key_index = key_list.map_or(chosen, |list| list[chosen as usize]);
            self.key_buf.clear();
            write_key(&mut self.key_buf, &config.key_prefix, key_index);
            let mut value_len = 0;
            let out = &mut self.write_buf;
            match op {
                Op::Get => resp::encode_get(out, &self.key_buf),
                Op::Del => resp::encode_del(out, &self.key_buf),
                Op::Set => {
                    let sizes = config.value_size;
                    value_len =
                        sizes.min + self.rng.below((sizes.max - sizes.min) as u64 + 1) as usize;
                    resp::encode_set_start(out, &self.key_buf, value_len);
                    if config.verify {
                        let version = version(next_version, *thread_id);
                        value::append_verified(out, pattern, &self.key_buf, version, value_len);
                    } else {
                        value::append_plain(out, pattern, self.rng.next_u64(), value_len);
                    }
                    resp::encode_set_end(out);
                }
            }
            self.in_flight.push_back(InFlight {
                intended,
                op,
                key_index,
                value_len,
            });
        }
        true
    }

    /// Writes what is pending until done or the socket is full; then asks
    /// the poller for room to write only if something is left.
    fn flush(&mut self, stats: &mut ThreadStats, poller: &Poller, now: Instant) -> io::Result<()> {
        let stream = self
            .stream
            .as_mut()
            .expect("an active connection has a socket");
        while self.write_pos < self.write_buf.len() {
            match stream.write(&self.write_buf[self.write_pos..]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.write_pos += n;
                    stats.bytes_out += n as u64;
                    self.last_progress = now;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        // Drop what has been written, so the buffer stays small.
        if self.write_pos == self.write_buf.len() {
            self.write_buf.clear();
            self.write_pos = 0;
        } else if self.write_pos >= self.write_buf.len() / 2 {
            self.write_buf.copy_within(self.write_pos.., 0);
            self.write_buf
                .truncate(self.write_buf.len() - self.write_pos);
            self.write_pos = 0;
        }
        let want_writes = !self.write_buf.is_empty();
        if want_writes != self.watching_writes {
            poller.modify(stream.as_raw_fd(), self.token, want_writes)?;
            self.watching_writes = want_writes;
        }
        Ok(())
    }

    /// Reads what the socket holds and accounts for every complete reply.
    /// Returns when the last bytes arrived (one clock read per read), or
    /// `None` when there was nothing to read.
    fn read_replies(&mut self, ctx: &mut ThreadCtx) -> io::Result<Option<Instant>> {
        let mut received_at = None;
        for _ in 0..MAX_READS_PER_EVENT {
            let stream = self
                .stream
                .as_mut()
                .expect("an active connection has a socket");
            let n = match stream.read(&mut self.read_buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ));
                }
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            let now = Instant::now();
            received_at = Some(now);
            self.last_progress = now;
            self.account(ctx, n, now)?;
            if n < self.read_buf.len() {
                break;
            }
        }
        Ok(received_at)
    }

    /// Parses `read_buf[..n]` and records every reply it completes.
    fn account(&mut self, ctx: &mut ThreadCtx, n: usize, received_at: Instant) -> io::Result<()> {
        let config = &*ctx.config;
        let expect_presence = config.verify && config.expect_presence();
        let stats = &mut ctx.stats;
        stats.bytes_in += n as u64;
        let Conn {
            read_buf,
            parser,
            in_flight,
            key_buf,
            replies_since_connect,
            redirects,
            ..
        } = self;
        let mut unsolicited = false;
        let fed = parser.feed(&read_buf[..n], |reply| {
            let Some(request) = in_flight.pop_front() else {
                unsolicited = true;
                return;
            };
            *replies_since_connect += 1;
            let latency_ns = received_at
                .saturating_duration_since(request.intended)
                .as_nanos()
                .min(u128::from(u64::MAX)) as u64;
            if let Reply::Error(text) = reply
                && let Some(target) = moved_target(text)
            {
                redirects.push((request, target));
                return;
            }
            let (payload, error) =
                judge_reply(stats, config, expect_presence, key_buf, &request, reply);
            stats.record(request.op, latency_ns, payload, error);
            if let Some(timeline) = stats.timeline.as_mut() {
                timeline.record(request.intended, latency_ns);
            }
        });
        if let Err(error) = fed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                error.to_string(),
            ));
        }
        if unsolicited {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "reply without a request",
            ));
        }
        for (request, target) in self.redirects.drain(..) {
            follow_moved(ctx, &request, &target, expect_presence, &mut self.key_buf);
        }
        Ok(())
    }
}
