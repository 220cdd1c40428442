//! `--rate`: when each connection means to send.
//!
//! A fixed total rate is split evenly over the connections: connection `i`
//! sends at `start + i * stagger + k * interval` for k = 0, 1, ..., where
//! `interval = nr_connections / rate` and `stagger = 1 / rate`, so the
//! connections' sends interleave into one even stream. Sends stop at the
//! deadline. Latency is measured from these intended times, so a server
//! that stalls is charged for the sends it delayed (coordinated omission).
//!
//! With a burst of `b` (`--burst`), each intended time carries `b`
//! requests of the connection (sent in one write), and the times are `b`
//! times further apart: the same rate, arriving the way a pipelining
//! client's requests arrive.
//!
//! The schedule is plain arithmetic, so tests check it exactly; whether a
//! run kept up with it is a speed question the report answers
//! ([`crate::report`] prints the achieved rate next to the asked one).

use std::time::{Duration, Instant};

/// The fixed-rate plan shared by a phase's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePlan {
    /// Time between two intended sends of one connection.
    pub interval: Duration,
    /// Offset between the first sends of consecutive connections.
    pub stagger: Duration,
    /// Requests per intended send time.
    pub burst: u32,
}

impl RatePlan {
    /// The plan for `rate` requests per second in total over
    /// `nr_connections` connections (`rate` > 0, `nr_connections` > 0).
    pub fn new(rate: f64, nr_connections: usize) -> RatePlan {
        RatePlan::with_burst(rate, nr_connections, 1)
    }

    /// The plan for `rate` requests per second in bursts of `burst`
    /// requests per intended send time (`burst` > 0).
    pub fn with_burst(rate: f64, nr_connections: usize, burst: usize) -> RatePlan {
        let burst = burst.max(1);
        RatePlan {
            interval: Duration::from_secs_f64(nr_connections as f64 * burst as f64 / rate),
            stagger: Duration::from_secs_f64(burst as f64 / rate),
            burst: burst as u32,
        }
    }

    /// Connection `conn_index`'s schedule in a phase that starts at `start`
    /// and stops sending at `deadline` (if any).
    pub fn schedule(
        &self,
        start: Instant,
        conn_index: usize,
        deadline: Option<Instant>,
    ) -> SendSchedule {
        SendSchedule {
            next: start + self.stagger * conn_index as u32,
            interval: self.interval,
            deadline,
            burst: self.burst.max(1),
            taken: 0,
        }
    }
}

/// One connection's intended send times, consumed in order.
#[derive(Debug, Clone)]
pub struct SendSchedule {
    /// The next intended send.
    next: Instant,
    /// Time between two sends.
    interval: Duration,
    /// No send is intended at or after this.
    deadline: Option<Instant>,
    /// Requests per intended time.
    burst: u32,
    /// Requests already taken at `next`.
    taken: u32,
}

/// What the schedule says at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Send now; the request was meant to go at this time.
    Due(Instant),
    /// Nothing is due before this time.
    NotBefore(Instant),
    /// The schedule has no more sends (the deadline is reached).
    Over,
}

impl SendSchedule {
    /// Takes the next send if it is due at `now`.
    pub fn take(&mut self, now: Instant) -> Slot {
        if self.deadline.is_some_and(|deadline| self.next >= deadline) {
            return Slot::Over;
        }
        if self.next > now {
            return Slot::NotBefore(self.next);
        }
        let intended = self.next;
        self.taken += 1;
        if self.taken == self.burst {
            self.taken = 0;
            self.next += self.interval;
        }
        Slot::Due(intended)
    }

    /// When the next send is intended (for the connection's wake-up timer).
    pub fn next_at(&self) -> Instant {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every intended send of connection `i` (a deadline is required).
    fn sends_of(plan: &RatePlan, start: Instant, i: usize, deadline: Instant) -> Vec<Instant> {
        let mut schedule = plan.schedule(start, i, Some(deadline));
        let mut sends = Vec::new();
        // `now` far past the deadline: everything left is due at once.
        while let Slot::Due(at) = schedule.take(deadline + Duration::from_secs(3600)) {
            sends.push(at);
        }
        assert_eq!(
            schedule.take(deadline + Duration::from_secs(3600)),
            Slot::Over
        );
        sends
    }

    #[test]
    fn the_rate_times_the_duration_is_the_number_of_sends() {
        let start = Instant::now();
        for (rate, nr_connections, millis) in [
            (2000.0, 4, 1000),
            (1000.0, 1, 250),
            (333.0, 3, 3000),
            (50_000.0, 16, 200),
            (7.0, 2, 2000),
        ] {
            let plan = RatePlan::new(rate, nr_connections);
            let deadline = start + Duration::from_millis(millis);
            let total: usize = (0..nr_connections)
                .map(|i| sends_of(&plan, start, i, deadline).len())
                .sum();
            let expected = rate * millis as f64 / 1000.0;
            // Each connection's last slot may fall either side of the
            // deadline: within one send per connection of the exact figure.
            assert!(
                (total as f64 - expected).abs() <= nr_connections as f64,
                "{total} sends at {rate}/s over {nr_connections} connections for {millis} ms"
            );
        }
        // Where the arithmetic is exact, so is the count.
        let plan = RatePlan::new(2000.0, 4);
        let deadline = start + Duration::from_secs(1);
        let per_conn: Vec<usize> = (0..4)
            .map(|i| sends_of(&plan, start, i, deadline).len())
            .collect();
        assert_eq!(per_conn, [500, 500, 500, 500]);
    }

    #[test]
    fn the_connections_interleave_into_one_even_stream() {
        let start = Instant::now();
        let plan = RatePlan::new(4000.0, 4);
        assert_eq!(plan.interval, Duration::from_millis(1));
        assert_eq!(plan.stagger, Duration::from_micros(250));
        let deadline = start + Duration::from_millis(100);
        let mut all: Vec<Instant> = (0..4)
            .flat_map(|i| sends_of(&plan, start, i, deadline))
            .collect();
        all.sort();
        assert_eq!(all.len(), 400);
        assert_eq!(all[0], start);
        for pair in all.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_micros(250));
        }
        assert!(*all.last().unwrap() < deadline);
    }

    #[test]
    fn a_burst_shares_its_intended_time_and_keeps_the_rate() {
        let start = Instant::now();
        let plan = RatePlan::with_burst(4000.0, 4, 4);
        assert_eq!(plan.interval, Duration::from_millis(4));
        assert_eq!(plan.stagger, Duration::from_millis(1));
        let deadline = start + Duration::from_millis(100);
        let mut all: Vec<Instant> = (0..4)
            .flat_map(|i| sends_of(&plan, start, i, deadline))
            .collect();
        assert_eq!(all.len(), 400);
        all.sort();
        for (k, group) in all.chunks(4).enumerate() {
            assert!(group.iter().all(|&at| at == group[0]), "burst {k} split");
            assert_eq!(group[0], start + Duration::from_millis(k as u64));
        }
    }

    #[test]
    fn nothing_is_due_before_its_time() {
        let start = Instant::now();
        let plan = RatePlan::new(100.0, 2);
        let mut schedule = plan.schedule(start, 1, None);
        let first = start + Duration::from_millis(10);
        assert_eq!(schedule.take(start), Slot::NotBefore(first));
        assert_eq!(schedule.next_at(), first);
        // Late: the sends come due one by one, each at its intended time.
        let late = start + Duration::from_millis(55);
        assert_eq!(schedule.take(late), Slot::Due(first));
        assert_eq!(
            schedule.take(late),
            Slot::Due(first + Duration::from_millis(20))
        );
        assert_eq!(
            schedule.take(late),
            Slot::Due(first + Duration::from_millis(40))
        );
        assert_eq!(
            schedule.take(late),
            Slot::NotBefore(first + Duration::from_millis(60))
        );
        // Without a deadline the schedule never ends.
        assert!(matches!(
            schedule.take(start + Duration::from_secs(3600)),
            Slot::Due(_)
        ));
    }
}
