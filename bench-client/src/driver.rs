//! One client thread's event loop: one `epoll_pwait2` per turn for all of
//! its connections, a heap of wake-up times for fixed-rate sends and
//! reconnects, a sweep for reply timeouts, and a progress snapshot every
//! second.
//!
//! A turn reads the clock once after the wait (and once before it while
//! timers are pending), and once more per read: replies that arrive in one
//! read share one receive time.
//! Everything that happens to a connection goes through [`Conn`]'s
//! methods; this loop only decides whose turn it is.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::time::{Duration, Instant};

use crate::conn::{Conn, Phase, State};
use crate::ctx::ThreadCtx;
use crate::poll::Poller;
use crate::stats::ThreadStats;

/// How often connections are checked for `--timeout`.
const SWEEP: Duration = Duration::from_millis(100);
/// How often the progress callback runs.
const SNAPSHOT: Duration = Duration::from_secs(1);

/// Wake-up times, earliest first: (time, connection token). An entry is
/// live while the connection's `timer_at` still holds its time.
type Timers = BinaryHeap<Reverse<(Instant, usize)>>;

/// Runs one phase over `conns` until each is done (phase over and every
/// reply in, or given up). Connection `i` draws requests from
/// `budgets[budget_slot(i)]`. `on_second` gets the thread's counters every
/// second, with the length of the interval.
pub fn run_phase(
    ctx: &mut ThreadCtx,
    poller: &mut Poller,
    conns: &mut [Conn],
    phase: &Phase,
    budgets: &mut [u64],
    budget_slot: impl Fn(usize) -> usize,
    on_second: &mut dyn FnMut(&mut ThreadStats, f64),
) {
    let config = ctx.config.clone();
    let (spin, tick) = (config.spin_before_park, config.tick);
    if !tick.is_zero() {
        // Naps of a tick, not a tick plus the default 50 us of slack.
        // SAFETY: plain prctl on the calling thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    }
    let mut timers = Timers::new();
    let mut now = Instant::now();
    let mut nr_active = 0;
    for (token, conn) in conns.iter_mut().enumerate() {
        conn.begin_phase(&config, phase, budget_slot(token), now);
        let result = conn.on_timer(ctx, poller, phase, budgets, now);
        settle(ctx, conn, token, result, phase, &mut timers, now);
        nr_active += usize::from(conn.state != State::Done);
    }
    let mut last_snapshot = now;
    let mut next_sweep = now + SWEEP;
    while nr_active > 0 {
        let mut wake = (last_snapshot + SNAPSHOT).min(next_sweep);
        if let Some(Reverse((at, _))) = timers.peek() {
            wake = wake.min(*at);
        }
        // With timers pending (fixed-rate sends), the turn's work counts
        // against the wait: read the clock again so sends are not late by it.
        if !timers.is_empty() {
            now = Instant::now();
        }
        let timeout = wake.saturating_duration_since(now);
        let ready = match wait(poller, timeout, spin, tick, now) {
            Ok(ready) => ready,
            Err(error) => {
                ctx.stats.note_error(|| format!("epoll_pwait2: {error}"));
                return;
            }
        };
        now = Instant::now();
        for index in 0..ready {
            let event = poller.ready(index);
            let token = event.token as usize;
            let conn = &mut conns[token];
            let was_active = conn.state != State::Done;
            let result = conn.on_ready(ctx, event, poller, phase, budgets, now);
            settle(ctx, conn, token, result, phase, &mut timers, now);
            nr_active -= usize::from(was_active && conn.state == State::Done);
        }
        while let Some(&Reverse((at, token))) = timers.peek() {
            if at > now {
                break;
            }
            timers.pop();
            let conn = &mut conns[token];
            if conn.timer_at != Some(at) {
                continue;
            }
            conn.timer_at = None;
            let was_active = conn.state != State::Done;
            let result = conn.on_timer(ctx, poller, phase, budgets, now);
            settle(ctx, conn, token, result, phase, &mut timers, now);
            nr_active -= usize::from(was_active && conn.state == State::Done);
        }
        if now >= next_sweep {
            next_sweep = now + SWEEP;
            for (token, conn) in conns.iter_mut().enumerate() {
                let was_active = conn.state != State::Done;
                let result = conn.check_timeout(now, config.timeout);
                conn.finish_if_over(phase, budgets, now);
                settle(ctx, conn, token, result, phase, &mut timers, now);
                nr_active -= usize::from(was_active && conn.state == State::Done);
            }
        }
        if now >= last_snapshot + SNAPSHOT {
            on_second(
                &mut ctx.stats,
                now.duration_since(last_snapshot).as_secs_f64(),
            );
            last_snapshot = now;
        }
    }
}

/// After a connection's step: a failure breaks it; then its next wake-up
/// goes on the heap if it is earlier than the one it holds.
fn settle(
    ctx: &mut ThreadCtx,
    conn: &mut Conn,
    token: usize,
    result: io::Result<()>,
    phase: &Phase,
    timers: &mut Timers,
    now: Instant,
) {
    if let Err(error) = result {
        conn.fail(&mut ctx.stats, error, now);
    }
    if let Some(at) = conn.next_wake(phase)
        && conn.timer_at.is_none_or(|armed| at < armed)
    {
        conn.timer_at = Some(at);
        timers.push(Reverse((at, token)));
    }
}

/// Waits for ready sockets up to `timeout`; with `--spin-us`, looks without
/// sleeping for up to that long first (a sleeping thread wakes late on a
/// loaded machine); with `--tick-us`, naps a tick and then looks (replies
/// wait in their sockets meanwhile).
fn wait(
    poller: &mut Poller,
    timeout: Duration,
    spin: Duration,
    tick: Duration,
    now: Instant,
) -> io::Result<usize> {
    if !tick.is_zero() {
        if !timeout.is_zero() {
            std::thread::sleep(tick);
        }
        return poller.wait(Some(Duration::ZERO));
    }
    if !spin.is_zero() && !timeout.is_zero() {
        let spin_until = now + spin.min(timeout);
        loop {
            let ready = poller.wait(Some(Duration::ZERO))?;
            if ready > 0 {
                return Ok(ready);
            }
            let at = Instant::now();
            if at >= spin_until {
                return poller.wait(Some(timeout.saturating_sub(at - now)));
            }
            std::hint::spin_loop();
        }
    }
    poller.wait(Some(timeout))
}
