//! Pacing for background work (merge, hint builds): short CPU slices, one
//! short disk I/O per group commit, and a rest after each step that costs
//! the foreground through the filesystem (deleting a merged file), so
//! foreground requests keep their latency.

use std::time::{Duration, Instant};

use super::state::Inner;
use super::wait_ticket;

/// Longest stretch of CPU the merge (or a hint build) takes before it lets
/// the shard's requests run.
const SLICE: Duration = Duration::from_micros(200);
/// Length of each read and write of a merge or hint build. Short, because
/// the device serves a foreground I/O queued behind a background one only
/// after it: a 1 MiB merge read took 11 ms (median) next to a foreground
/// load here, and every commit's write and fdatasync and every disk GET in
/// the queue waited for it.
pub(super) const BACKGROUND_IO: usize = 128 << 10;
/// A background step whose cost falls on the foreground through the
/// filesystem (deleting a merged file: its freed blocks, and their discard
/// on a filesystem mounted with `discard`, go into the next journal commit,
/// which every foreground fdatasync waits for) is followed by a rest this
/// many times as long as the step took.
const REST_FACTOR: u32 = 4;
/// How long a pause lasts: any timer ends the executor's run of task
/// queues, so the shortest one will do.
const PAUSE: Duration = Duration::from_micros(1);

/// Bounds the time the merge runs without letting requests in.
///
/// `glommio::yield_if_needed` yields only when the preempt timer has fired
/// (100 ms when no task queue asks for lower latency), and even a yield
/// does not help: the executor keeps running task queues until none is
/// runnable or the timer fires, and only then polls for I/O, so a request
/// whose socket became readable meanwhile waits for the merge. A pause parks
/// the merge on a timer instead: the executor runs out of runnable work,
/// polls I/O, runs the requests that woke (their queue has 100 times the
/// share), and resumes the merge when they are done.
pub(super) struct Pacer {
    /// When the merge last got the CPU back.
    slice_start: Instant,
}

impl Pacer {
    pub(super) fn new() -> Pacer {
        Pacer {
            slice_start: Instant::now(),
        }
    }

    /// True once this slice is used up.
    pub(super) fn used_up(&self) -> bool {
        self.slice_start.elapsed() >= SLICE
    }

    /// Pauses if this slice is used up.
    pub(super) async fn tick(&mut self) {
        if self.used_up() {
            self.pause().await;
        }
    }

    /// Lets everything runnable go first.
    pub(super) async fn pause(&mut self) {
        glommio::timer::sleep(PAUSE).await;
        self.slice_start = Instant::now();
    }

    /// Rests [`REST_FACTOR`] times `work` (the time a step just took), so
    /// such steps take at most a fifth of the time and the foreground can
    /// drain what queued up behind each one before the next.
    pub(super) async fn rest_after(&mut self, work: Duration) {
        glommio::timer::sleep(work * REST_FACTOR).await;
        self.slice_start = Instant::now();
    }

    /// Starts a new slice: the merge was parked anyway (on its own I/O).
    pub(super) fn resumed(&mut self) {
        self.slice_start = Instant::now();
    }

    /// Takes a turn at the disk: waits until the log writes appended so far
    /// are resolved (written, and synced under `--sync always`). Called
    /// around every merge I/O, so under write load the merge issues one I/O
    /// per group commit instead of flooding the device queue and the write
    /// cache every commit's fdatasync must drain; with no writes pending it
    /// returns at once and the merge runs at disk speed.
    pub(super) async fn io_turn(&mut self, inner: &Inner) {
        let target = inner.log.borrow().next_ticket;
        // A failed flush is the writers' error; the merge notices rollbacks
        // in its settle step.
        let _ = wait_ticket(inner, target).await;
        self.resumed();
    }
}
