//! A shard's socket ring and its driver task: the slots of the operations
//! in flight, one kernel entry per busy turn, completions that wake their
//! tasks. The operations themselves are in `socket`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{Ordering, fence};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::io::BufferedFile;
use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::bufring::BufRing;
use super::file_slots::{FILE, ReadSlots};
use super::inbox::{Inbox, STASH_MAX};
use super::state::State;

/// Submission queue entries; a full queue is submitted early, so this only
/// bounds how many operations one enter carries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (the kernel keeps overflow beyond this).
const CQ_ENTRIES: u32 = 8192;
/// `user_data` bit of link timeouts and cancellations: their completions
/// carry no operation of ours.
pub(super) const AUX: u64 = 1 << 63;
/// `IORING_RECVSEND_POLL_FIRST` (linux/io_uring.h; the io-uring crate does
/// not export it): a receive's `ioprio` flag to wait for data before reading.
pub(super) const RECVSEND_POLL_FIRST: u16 = 1;
/// Longest a busy driver keeps glommio from looking at its own rings
/// (timers, cross-shard channel wakes, DMA completions). glommio polls them
/// only when its task queue empties or its preempt timer fires (100 ms),
/// and a driver that yields to the back of the queue turn after turn keeps
/// it from emptying: a peer's request to a saturated shard waited up to
/// that long (p99 118 ms, against 1.8 ms to the unloaded shard). A shorter
/// preempt timer instead also woke every park longer than it.
const GLOMMIO_POLL_EVERY: Duration = Duration::from_millis(1);
/// A turn shows the receive hook at most this many receives (the first
/// ones): about as many lookups as a core overlaps.
const HOOK_MAX: usize = 16;
/// A receive bigger than this is not shown to the hook: it carries a
/// pipeline (whose batch prefetches its own keys) or a big value.
const HOOK_MAX_LEN: usize = 512;

/// What a turn shows [`Ring::set_receive_hook`]'s hook: the bytes each
/// multishot receive brought in that turn (at least two receives).
pub type ReceiveHook = Box<dyn Fn(&mut dyn Iterator<Item = &[u8]>)>;

/// One operation's state and the buffer it lends the kernel.
pub(super) struct Slot {
    pub(super) state: State,
    /// The operation's `user_data`: generation and slot index.
    pub(super) user_data: u64,
    pub(super) buf: Option<BytesMut>,
    /// A receive (cancelled at shutdown) rather than a send.
    pub(super) recv: bool,
    /// The link timeout's time, read by the kernel at submission.
    pub(super) timeout: Option<Box<types::Timespec>>,
    /// A multishot receive's connection: where its bytes go.
    pub(super) inbox: Option<Rc<RefCell<Inbox>>>,
    /// A completion with exactly this result wakes no one (see
    /// [`Op::quiet_unless_short`](super::Op::quiet_unless_short)).
    pub(super) quiet: Option<i32>,
}

#[derive(Default)]
pub(super) struct Slots {
    pub(super) slots: Vec<Slot>,
    pub(super) free: Vec<u32>,
    pub(super) in_flight: usize,
    /// Bumped per operation: the high half of its `user_data`, so that a
    /// cancellation queued for one operation never hits a later one in the
    /// same slot.
    pub(super) generation: u32,
    /// Operations to cancel, queued while completions are reaped.
    pub(super) cancels: Vec<u64>,
}

impl Slots {
    /// A slot for a new operation: its index and `user_data`.
    pub(super) fn take(
        &mut self,
        buf: Option<BytesMut>,
        recv: bool,
        timeout: Option<Box<types::Timespec>>,
        inbox: Option<Rc<RefCell<Inbox>>>,
    ) -> (u32, u64) {
        self.generation = self.generation.wrapping_add(1);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    state: State::Free,
                    user_data: 0,
                    buf: None,
                    recv: false,
                    timeout: None,
                    inbox: None,
                    quiet: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        // Bits 63 (AUX) and 62 (`reads::FILE`) stay clear.
        let user_data = (u64::from(self.generation & 0x3fff_ffff) << 32) | u64::from(index);
        self.slots[index as usize] = Slot {
            state: State::InFlight(None),
            user_data,
            buf,
            recv,
            timeout,
            inbox,
            quiet: None,
        };
        self.in_flight += 1;
        (index, user_data)
    }

    /// Frees a slot whose operation has completed, returning its buffer.
    pub(super) fn release(&mut self, index: u32) -> Option<BytesMut> {
        let slot = &mut self.slots[index as usize];
        slot.state = State::Free;
        slot.timeout = None;
        slot.inbox = None;
        self.in_flight -= 1;
        self.free.push(index);
        slot.buf.take()
    }
}

/// A shard's ring for its client sockets (see the [module](super) doc).
/// Connections start operations on it through [`Socket`](super::Socket); [`Ring::drive`]
/// submits and completes them.
pub struct Ring {
    uring: RefCell<IoUring>,
    /// Where multishot receives land; `None` where the kernel lacks buffer
    /// rings (receives then go one at a time). Dropped after `uring`.
    pub(super) bufs: Option<RefCell<BufRing>>,
    pub(super) slots: RefCell<Slots>,
    /// Registered with the ring: signalled by a completion while parked.
    eventfd: OwnedFd,
    /// The driver, while parked.
    driver: RefCell<Option<Waker>>,
    parked: Cell<bool>,
    shut_down: Cell<bool>,
    /// Enters the kernel made, for tests and stats.
    enters: Cell<u64>,
    /// Receives wait for data before trying to read (`RECVSEND_POLL_FIRST`,
    /// 5.19): set when the ring has the 6.1 flags.
    pub(super) poll_first: bool,
    /// The store's disk reads (see `reads`).
    pub(super) reads: RefCell<ReadSlots>,
    /// Shown the bytes a turn received, before their connections run.
    hook: RefCell<Option<ReceiveHook>>,
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The kernel may still write into the buffers of operations in
        // flight until the ring is gone: leak them rather than free them
        // under it (this happens only when the executor ends).
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        if slots.in_flight > 0 {
            std::mem::forget(slots);
            std::mem::forget(self.bufs.take());
        }
        let reads = std::mem::take(&mut *self.reads.borrow_mut());
        if reads.in_flight() > 0 {
            std::mem::forget(reads);
        }
    }
}

impl Ring {
    /// Sets up a ring on the calling (executor) thread, with the flags that
    /// keep completions from interrupting it where the kernel has them:
    /// `SINGLE_ISSUER | DEFER_TASKRUN` (6.1), else `COOP_TASKRUN |
    /// TASKRUN_FLAG` (5.19), else none.
    pub fn new() -> io::Result<Rc<Ring>> {
        let attempts: [fn(&mut io_uring::Builder); 3] = [
            |b| {
                b.setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_coop_taskrun()
                    .setup_taskrun_flag()
                    .setup_submit_all();
            },
            |b| {
                b.setup_coop_taskrun().setup_taskrun_flag();
            },
            |_| {},
        ];
        let mut last = None;
        let mut uring = None;
        let mut poll_first = false;
        for (attempt, setup) in attempts.into_iter().enumerate() {
            let mut builder = IoUring::builder();
            builder.setup_cqsize(CQ_ENTRIES);
            setup(&mut builder);
            match builder.build(SQ_ENTRIES) {
                Ok(ring) => {
                    uring = Some(ring);
                    poll_first = attempt == 0;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let uring = match uring {
            Some(uring) => uring,
            None => return Err(last.unwrap_or_else(|| io::Error::other("no io_uring"))),
        };
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
        uring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        let bufs = if poll_first {
            match BufRing::register(&uring) {
                Ok(bufs) => Some(RefCell::new(bufs)),
                Err(e) => {
                    tracing::debug!(error = %e, "socket ring: no buffer ring, one receive at a time");
                    None
                }
            }
        } else {
            None
        };
        let ring = Ring {
            bufs,
            uring: RefCell::new(uring),
            slots: RefCell::default(),
            eventfd,
            driver: RefCell::new(None),
            parked: Cell::new(false),
            shut_down: Cell::new(false),
            enters: Cell::new(0),
            poll_first,
            reads: RefCell::default(),
            hook: RefCell::new(None),
        };
        // Notified only while the driver parks.
        ring.uring.borrow_mut().completion().disable_eventfd();
        Ok(Rc::new(ring))
    }

    /// Registers `region` (address, length) as the ring's buffer 0, which
    /// `READ_FIXED` reads into without pinning pages per read.
    pub(super) fn register_buffer(&self, region: (*mut u8, usize)) -> io::Result<()> {
        let iovec = libc::iovec {
            iov_base: region.0.cast(),
            iov_len: region.1,
        };
        // SAFETY: the kernel pins the region's pages itself; the ring
        // writes into it only for reads whose buffer the caller placed there.
        unsafe { self.uring.borrow().submitter().register_buffers(&[iovec]) }
    }

    /// Sets the hook each turn that reaps two or more small receives calls
    /// with their bytes (a prefix of them), before it wakes their
    /// connections: at pipeline 1 a turn's receives are the requests of as
    /// many connections, run one after another, so the hook can start what
    /// they will wait for (their lookups' cache misses) all at once. The
    /// hook must not use the ring.
    pub fn set_receive_hook(&self, hook: Option<ReceiveHook>) {
        *self.hook.borrow_mut() = hook;
    }

    /// Kernel entries made so far by the driver.
    pub fn enters(&self) -> u64 {
        self.enters.get()
    }

    /// Stops accepting receives: those in flight are cancelled and new ones
    /// fail at once, so every connection ends after its current batch.
    pub fn shut_down(&self) {
        self.shut_down.set(true);
        let in_flight: Vec<u64> = {
            let slots = self.slots.borrow();
            slots
                .slots
                .iter()
                .filter(|slot| slot.recv && matches!(slot.state, State::InFlight(_)))
                .map(|slot| slot.user_data)
                .collect()
        };
        for user_data in in_flight {
            self.cancel(user_data);
        }
        self.notify();
    }

    /// Whether [`Ring::shut_down`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.get()
    }

    /// Queues `entries` (linked ones stay contiguous), submitting first if
    /// the queue lacks room, and wakes a parked driver.
    pub(super) fn push(&self, entries: &[squeue::Entry]) {
        {
            let mut uring = self.uring.borrow_mut();
            loop {
                let mut sq = uring.submission();
                if sq.capacity() - sq.len() >= entries.len() {
                    // SAFETY: every entry points at memory its slot owns
                    // until the operation completes (buffers) or at least
                    // until submission (timespecs).
                    unsafe { sq.push_multiple(entries) }.expect("room was checked");
                    break;
                }
                drop(sq);
                self.enters.set(self.enters.get() + 1);
                if let Err(e) = uring.submit()
                    && e.raw_os_error() != Some(libc::EINTR)
                    && e.raw_os_error() != Some(libc::EBUSY)
                {
                    tracing::warn!(error = %e, "io_uring submit failed");
                }
            }
        }
        self.notify();
    }

    fn notify(&self) {
        if self.parked.get() {
            self.parked.set(false);
            if let Some(waker) = self.driver.borrow_mut().take() {
                waker.wake();
            }
        }
    }

    pub(super) fn cancel(&self, user_data: u64) {
        self.push(&[opcode::AsyncCancel::new(user_data).build().user_data(AUX)]);
    }

    /// Submits what is queued and reaps what completed, entering the kernel
    /// at most once. Returns whether anything was submitted or completed.
    fn turn(&self) -> bool {
        let mut uring = self.uring.borrow_mut();
        let (queued, task_work) = {
            let sq = uring.submission();
            (!sq.is_empty(), sq.taskrun() || sq.cq_overflow())
        };
        if queued || task_work {
            self.enters.set(self.enters.get() + 1);
            // With DEFER_TASKRUN completions are posted only here: submit()
            // asks for them (GETEVENTS) when the ring flags task work.
            if let Err(e) = uring.submit()
                && e.raw_os_error() != Some(libc::EINTR)
                && e.raw_os_error() != Some(libc::EBUSY)
            {
                tracing::warn!(error = %e, "io_uring submit failed");
            }
        }
        let mut completed = false;
        let mut slots = self.slots.borrow_mut();
        let mut reads = self.reads.borrow_mut();
        let mut bufs = self.bufs.as_ref().map(|bufs| bufs.borrow_mut());
        let mut recycled = false;
        let hook = self.hook.borrow();
        // The provided buffers (id, length) received this turn, for the
        // hook: still ours until published below.
        let mut received = [(0u16, 0u32); HOOK_MAX];
        let mut nr_received = 0;
        for cqe in uring.completion() {
            completed = true;
            if cqe.user_data() & (AUX | FILE) == FILE {
                reads.complete(cqe.user_data(), cqe.result());
            } else {
                let bid = complete(&mut slots, bufs.as_deref_mut(), &cqe);
                if let Some(bid) = bid {
                    recycled = true;
                    let len = cqe.result();
                    if hook.is_some()
                        && nr_received < HOOK_MAX
                        && len > 0
                        && len as usize <= HOOK_MAX_LEN
                    {
                        received[nr_received] = (bid, len as u32);
                        nr_received += 1;
                    }
                }
            }
        }
        if let (Some(hook), Some(bufs)) = (hook.as_ref(), &bufs)
            && nr_received >= 2
        {
            hook(
                &mut received[..nr_received]
                    .iter()
                    .map(|&(bid, len)| bufs.data(bid, len as usize)),
            );
        }
        drop(hook);
        if recycled && let Some(bufs) = &bufs {
            bufs.publish();
        }
        let cancels = std::mem::take(&mut slots.cancels);
        drop((bufs, reads, slots, uring));
        for user_data in cancels {
            self.cancel(user_data);
        }
        queued || completed
    }

    /// The driver: runs for the life of the shard (spawn it detached on the
    /// shard's executor). Each busy turn is one kernel entry; an idle driver
    /// parks until the ring's eventfd says a completion is waiting.
    pub async fn drive(self: Rc<Self>) {
        // glommio reads the eventfd (and closes what it holds: a duplicate).
        // SAFETY: dup of a descriptor we own; the file takes the new one.
        let file = unsafe {
            let fd = libc::fcntl(self.eventfd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0);
            if fd < 0 {
                tracing::error!(error = %io::Error::last_os_error(), "socket ring: no eventfd");
                return;
            }
            BufferedFile::from_raw_fd(fd)
        };
        let mut wake: Option<Pin<Box<dyn Future<Output = _> + '_>>> = None;
        let mut polled = Instant::now();
        loop {
            if self.turn() {
                if polled.elapsed() < GLOMMIO_POLL_EVERY {
                    // Woken connections run (and queue their next
                    // operations) before the next turn.
                    futures_lite::future::yield_now().await;
                } else {
                    // Out of glommio's task queue for a moment, so that it
                    // empties and glommio polls its own rings (the timer
                    // is expired by then: no park).
                    glommio::timer::sleep(Duration::from_micros(1)).await;
                    polled = Instant::now();
                }
                continue;
            }
            // Park. (Spinning 30 us first was measured: no fewer interrupts
            // at pipeline 16, more CPU per request at pipeline 1.) With the
            // eventfd enabled, one more turn: work that came before is
            // reaped by it, work that comes after signals the eventfd. The
            // task-work flag alone is not trusted to say there is work: a
            // flag that stayed set after an enter that found nothing once
            // kept this loop spinning without ever yielding (a hung shard).
            self.uring.borrow_mut().completion().enable_eventfd();
            fence(Ordering::SeqCst);
            if self.turn() {
                self.uring.borrow_mut().completion().disable_eventfd();
                futures_lite::future::yield_now().await;
                continue;
            }
            self.parked.set(true);
            let read = wake.get_or_insert_with(|| Box::pin(file.read_at(0, 8)));
            let fired = std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = read.as_mut().poll(cx) {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "socket ring: eventfd read failed");
                    }
                    return Poll::Ready(true);
                }
                if !self.parked.get() {
                    return Poll::Ready(false);
                }
                *self.driver.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            self.parked.set(false);
            // glommio polled its rings while this driver was parked.
            polled = Instant::now();
            self.driver.borrow_mut().take();
            self.uring.borrow_mut().completion().disable_eventfd();
            if fired {
                wake = None;
            }
        }
    }
}

/// Records one completion and wakes the task awaiting it. Returns the
/// provided buffer given back (to be published), if any.
fn complete(slots: &mut Slots, bufs: Option<&mut BufRing>, cqe: &cqueue::Entry) -> Option<u16> {
    let user_data = cqe.user_data();
    if user_data & AUX != 0 {
        return None;
    }
    let index = user_data as u32;
    debug_assert_eq!(slots.slots[index as usize].user_data, user_data);
    let slot = &mut slots.slots[index as usize];
    if let Some(inbox) = slot.inbox.clone() {
        let flags = cqe.flags();
        let result = cqe.result();
        let mut recycled = None;
        let mut inbox = inbox.borrow_mut();
        if let (Some(bid), Some(bufs)) = (cqueue::buffer_select(flags), bufs) {
            if result > 0 && !matches!(slot.state, State::Orphan) {
                inbox.take_in(bufs.data(bid, result as usize));
            }
            bufs.push(bid);
            recycled = Some(bid);
        }
        if !cqueue::more(flags) {
            // The multishot receive ended: the peer closed (0), an error,
            // a cancellation, or no buffer was free (ENOBUFS: armed again
            // by the next receive, the bytes still in the socket).
            inbox.multi = None;
            inbox.stopping = false;
            if result == 0 || (result < 0 && result != -libc::ENOBUFS && result != -libc::ECANCELED)
            {
                inbox.end.get_or_insert(result);
            }
            slots.release(index);
        } else if inbox.stash.len() > STASH_MAX && !inbox.stopping {
            // The connection is not taking its bytes: stop receiving.
            inbox.stopping = true;
            slots.cancels.push(user_data);
        }
        inbox.wake();
        return recycled;
    }
    match std::mem::replace(&mut slot.state, State::Done(cqe.result())) {
        State::InFlight(waker) => {
            if let Some(waker) = waker
                && slot.quiet != Some(cqe.result())
            {
                waker.wake();
            }
        }
        State::Orphan => {
            slots.release(index);
        }
        State::Done(_) | State::Free => {
            debug_assert!(false, "completion of a slot not in flight");
        }
    }
    None
}

#[cfg(test)]
mod tests;
