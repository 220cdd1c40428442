//! A shard's socket ring, its driver task, and the operations connections
//! await.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{Ordering, fence};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use glommio::io::BufferedFile;
use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::bufring::{self, BufRing};
use super::inbox::{DIRECT_ROOM, Inbox, STASH_MAX};
use super::reads::{FILE, ReadSlots};

/// Submission queue entries; a full queue is submitted early, so this only
/// bounds how many operations one enter carries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (the kernel keeps overflow beyond this).
const CQ_ENTRIES: u32 = 8192;
/// `user_data` bit of link timeouts and cancellations: their completions
/// carry no operation of ours.
const AUX: u64 = 1 << 63;
/// `IORING_RECVSEND_POLL_FIRST` (linux/io_uring.h; the io-uring crate does
/// not export it): a receive's `ioprio` flag to wait for data before reading.
const RECVSEND_POLL_FIRST: u16 = 1;
/// Busy driver turns in a row before the driver lets glommio poll its own
/// rings (DMA files, timers, channels): a busy shard would otherwise run
/// turn after turn and glommio would look at its I/O only when its
/// preemption timer fires.
const TURNS_PER_POLL: u32 = 4;

/// Where an operation (a socket's, or a file read's) is.
pub(super) enum State {
    /// Submitted or queued; the waker of the task awaiting it.
    InFlight(Option<Waker>),
    /// Completed with this result (bytes, or a negative errno).
    Done(i32),
    /// Its [`Op`] (or the store's file read) was dropped before it
    /// completed: the slot (and the buffer the kernel may still write) is
    /// freed by its completion.
    Orphan,
    /// Unused.
    Free,
}

/// One operation's state and the buffer it lends the kernel.
struct Slot {
    state: State,
    /// The operation's `user_data`: generation and slot index.
    user_data: u64,
    buf: Option<BytesMut>,
    /// A receive (cancelled at shutdown) rather than a send.
    recv: bool,
    /// The link timeout's time, read by the kernel at submission.
    timeout: Option<Box<types::Timespec>>,
    /// A multishot receive's connection: where its bytes go.
    inbox: Option<Rc<RefCell<Inbox>>>,
    /// A completion with exactly this result wakes no one (see
    /// [`Op::quiet_unless_short`]).
    quiet: Option<i32>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
    in_flight: usize,
    /// Bumped per operation: the high half of its `user_data`, so that a
    /// cancellation queued for one operation never hits a later one in the
    /// same slot.
    generation: u32,
    /// Operations to cancel, queued while completions are reaped.
    cancels: Vec<u64>,
}

impl Slots {
    /// A slot for a new operation: its index and `user_data`.
    fn take(
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
    fn release(&mut self, index: u32) -> Option<BytesMut> {
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
/// Connections start operations on it through [`Socket`]; [`Ring::drive`]
/// submits and completes them.
pub struct Ring {
    uring: RefCell<IoUring>,
    /// Where multishot receives land; `None` where the kernel lacks buffer
    /// rings (receives then go one at a time). Dropped after `uring`.
    bufs: Option<RefCell<BufRing>>,
    slots: RefCell<Slots>,
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
    poll_first: bool,
    /// The store's disk reads (see `reads`).
    pub(super) reads: RefCell<ReadSlots>,
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
        };
        // Notified only while the driver parks.
        ring.uring.borrow_mut().completion().disable_eventfd();
        Ok(Rc::new(ring))
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

    fn cancel(&self, user_data: u64) {
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
        for cqe in uring.completion() {
            completed = true;
            if cqe.user_data() & (AUX | FILE) == FILE {
                reads.complete(cqe.user_data(), cqe.result());
            } else {
                recycled |= complete(&mut slots, bufs.as_deref_mut(), &cqe);
            }
        }
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
        let mut busy_turns = 0u32;
        loop {
            if self.turn() {
                busy_turns += 1;
                if busy_turns.is_multiple_of(TURNS_PER_POLL) {
                    glommio::timer::sleep(Duration::ZERO).await;
                } else {
                    // Woken connections run (and queue their next
                    // operations) before the next turn.
                    futures_lite::future::yield_now().await;
                }
                continue;
            }
            busy_turns = 0;
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
            self.driver.borrow_mut().take();
            self.uring.borrow_mut().completion().disable_eventfd();
            if fired {
                wake = None;
            }
        }
    }
}

/// Records one completion and wakes the task awaiting it. Returns whether a
/// provided buffer was given back (to be published).
fn complete(slots: &mut Slots, bufs: Option<&mut BufRing>, cqe: &cqueue::Entry) -> bool {
    let user_data = cqe.user_data();
    if user_data & AUX != 0 {
        return false;
    }
    let index = user_data as u32;
    debug_assert_eq!(slots.slots[index as usize].user_data, user_data);
    let slot = &mut slots.slots[index as usize];
    if let Some(inbox) = slot.inbox.clone() {
        let flags = cqe.flags();
        let result = cqe.result();
        let mut recycled = false;
        let mut inbox = inbox.borrow_mut();
        if let (Some(bid), Some(bufs)) = (cqueue::buffer_select(flags), bufs) {
            if result > 0 && !matches!(slot.state, State::Orphan) {
                inbox.take_in(bufs.data(bid, result as usize));
            }
            bufs.push(bid);
            recycled = true;
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
    false
}

/// A client socket whose I/O goes through its shard's [`Ring`]. Closed when
/// dropped (with a multishot receive armed, once the driver's next turn has
/// ended it).
pub struct Socket {
    fd: OwnedFd,
    ring: Rc<Ring>,
    /// Its multishot receive's bytes (where the ring has provided buffers).
    inbox: Option<Rc<RefCell<Inbox>>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The multishot receive holds the socket open: end it (its last
        // bytes are dropped with the inbox).
        if let Some(inbox) = &self.inbox {
            let multi = inbox.borrow().multi;
            if let Some(user_data) = multi {
                let index = user_data as u32;
                self.ring.slots.borrow_mut().slots[index as usize].state = State::Orphan;
                self.ring.cancel(user_data);
            }
        }
    }
}

impl Socket {
    /// Takes over a connected socket.
    pub fn new(ring: Rc<Ring>, fd: OwnedFd) -> Socket {
        let inbox = ring.bufs.as_ref().map(|_| Rc::default());
        Socket { fd, ring, inbox }
    }

    /// The descriptor.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the ring was shut down (receives fail from then on).
    pub fn is_shut_down(&self) -> bool {
        self.ring.is_shut_down()
    }

    /// Receives into `buf`'s spare capacity (after its length), which need
    /// not be initialized: the kernel writes only what it received, so
    /// nothing is zeroed or touched beyond that. Completes with the bytes
    /// received (0: the peer closed) and the buffer, grown by them. After
    /// [`Ring::shut_down`] it fails at once.
    ///
    /// Where the ring has provided buffers, the bytes come from the
    /// socket's multishot receive, armed by its first receive and kept
    /// armed (no submission and no poll armed per request; the bytes are
    /// copied once more, from the provided buffer), except that a room
    /// bigger than an ordinary read (a big request) receives straight into
    /// it. Otherwise, and for those big rooms, one receive is submitted: a
    /// connection receives again right after answering, before its client
    /// can have sent more, so the kernel is asked to wait for data first
    /// (`RECVSEND_POLL_FIRST`) rather than try a read that finds nothing and
    /// then wait: one socket read per receive instead of two.
    pub fn recv(&self, buf: BytesMut) -> Op {
        if self.ring.is_shut_down() {
            return Op::ready(&self.ring, -libc::ECANCELED, buf);
        }
        let fd = self.fd.as_raw_fd();
        let Some(inbox) = &self.inbox else {
            return recv_direct(&self.ring, fd, buf);
        };
        // A room bigger than an ordinary read is for a big request: its
        // bytes are received straight into it, not copied through the
        // provided buffers (the multishot receive is ended first).
        let direct = buf.capacity() - buf.len() > DIRECT_ROOM;
        let arm = {
            let mut inbox = inbox.borrow_mut();
            debug_assert!(inbox.room.is_none(), "one receive at a time");
            inbox.room_from = buf.len();
            inbox.room = Some(buf);
            inbox.cancelled = false;
            inbox.drain_stash();
            if direct {
                if let Some(user_data) = inbox.multi
                    && !inbox.stopping
                {
                    inbox.stopping = true;
                    self.ring.cancel(user_data);
                }
                false
            } else {
                inbox.stash.len() <= STASH_MAX && inbox.end.is_none()
            }
        };
        if arm {
            arm_multi(&self.ring, fd, inbox);
        }
        Op {
            ring: self.ring.clone(),
            index: None,
            ready: None,
            inbox: Some(Waiting {
                inbox: inbox.clone(),
                fd,
                direct,
            }),
        }
    }

    /// Sends `buf[from..]`; completes with the bytes sent and the buffer.
    /// With a `timeout`, a send that gets no byte out for that long fails
    /// with `ECANCELED`.
    pub fn send(&self, buf: BytesMut, from: usize, timeout: Option<Duration>) -> Op {
        self.send_with(buf, from, Wait::Up(timeout))
    }

    /// Sends what of `buf[from..]` the socket takes now, without waiting
    /// (`MSG_DONTWAIT`): completes with the bytes sent, or `EAGAIN` when the
    /// socket has no room.
    pub fn try_send(&self, buf: BytesMut, from: usize) -> Op {
        self.send_with(buf, from, Wait::Never)
    }

    fn send_with(&self, buf: BytesMut, from: usize, wait: Wait) -> Op {
        let pending = &buf[from..];
        let len = pending.len().min(u32::MAX as usize) as u32;
        let ptr = pending.as_ptr();
        let (flags, timeout) = match wait {
            Wait::Never => (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT, None),
            Wait::Up(timeout) => (libc::MSG_NOSIGNAL, timeout),
        };
        let timespec = timeout.map(|t| {
            Box::new(
                types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos()),
            )
        });
        let timespec_ptr = timespec.as_deref().map(|t| t as *const types::Timespec);
        let (index, user_data) =
            self.ring
                .slots
                .borrow_mut()
                .take(Some(buf), false, timespec, None);
        // A send that must wait found the socket full (see `send_all`):
        // wait for room before trying, as receives do.
        let ioprio = if self.ring.poll_first && matches!(wait, Wait::Up(_)) {
            RECVSEND_POLL_FIRST
        } else {
            0
        };
        let send = opcode::Send::new(types::Fd(self.fd.as_raw_fd()), ptr, len)
            .flags(flags)
            .ioprio(ioprio)
            .build()
            .user_data(user_data);
        match timespec_ptr {
            Some(timespec) => self.ring.push(&[
                send.flags(squeue::Flags::IO_LINK),
                opcode::LinkTimeout::new(timespec).build().user_data(AUX),
            ]),
            None => self.ring.push(&[send]),
        }
        Op::new(&self.ring, index)
    }

    /// Sends all of `buf`, each send allowed `timeout` to make progress
    /// (`TimedOut` otherwise). Returns the buffer, cleared.
    ///
    /// The first send does not wait and carries no timeout: a reply
    /// nearly always fits in the socket, and a linked timeout would cost
    /// an entry, a timer armed and cancelled, and a completion per reply.
    /// Only what that send leaves (the socket was full) goes out with
    /// timed sends ([`Socket::send_rest`]).
    pub async fn send_all(
        &self,
        buf: BytesMut,
        timeout: Option<Duration>,
    ) -> (io::Result<()>, BytesMut) {
        if buf.is_empty() {
            return (Ok(()), buf);
        }
        let (result, buf) = self.try_send(buf, 0).await;
        match result {
            Ok(0) => (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => self.send_rest(buf, n, timeout).await,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                self.send_rest(buf, 0, timeout).await
            }
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends `buf[sent..]`, each send allowed `timeout` to make progress
    /// (`TimedOut` otherwise). Returns the buffer, cleared once all is sent.
    pub async fn send_rest(
        &self,
        buf: BytesMut,
        sent: usize,
        timeout: Option<Duration>,
    ) -> (io::Result<()>, BytesMut) {
        let mut buf = buf;
        let mut sent = sent;
        while sent < buf.len() {
            let (result, back) = self.send(buf, sent, timeout).await;
            buf = back;
            match result {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => sent += n,
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                    return (Err(io::ErrorKind::TimedOut.into()), buf);
                }
                Err(e) => return (Err(e), buf),
            }
        }
        buf.clear();
        (Ok(()), buf)
    }
}

/// How long a send may wait for room in the socket.
#[derive(Clone, Copy)]
enum Wait {
    /// Not at all (`MSG_DONTWAIT`).
    Never,
    /// Up to this long for each byte of progress (`None`: for ever).
    Up(Option<Duration>),
}

/// Receives once into `buf`'s spare capacity.
fn recv_direct(ring: &Rc<Ring>, fd: RawFd, mut buf: BytesMut) -> Op {
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(u32::MAX as usize) as u32;
    let ptr = spare.as_mut_ptr().cast::<u8>();
    let (index, user_data) = ring.slots.borrow_mut().take(Some(buf), true, None, None);
    let ioprio = if ring.poll_first {
        RECVSEND_POLL_FIRST
    } else {
        0
    };
    ring.push(&[opcode::Recv::new(types::Fd(fd), ptr, len)
        .ioprio(ioprio)
        .build()
        .user_data(user_data)]);
    Op::new(ring, index)
}

/// Starts a multishot receive for `inbox` if none is in flight.
fn arm_multi(ring: &Rc<Ring>, fd: RawFd, inbox: &Rc<RefCell<Inbox>>) {
    if inbox.borrow().multi.is_some() {
        return;
    }
    let (_, user_data) = ring
        .slots
        .borrow_mut()
        .take(None, true, None, Some(inbox.clone()));
    inbox.borrow_mut().multi = Some(user_data);
    ring.push(&[opcode::RecvMulti::new(types::Fd(fd), bufring::GROUP)
        .build()
        .user_data(user_data)]);
}

/// A receive waiting on its connection's [`Inbox`].
struct Waiting {
    inbox: Rc<RefCell<Inbox>>,
    /// The socket, to receive from again.
    fd: RawFd,
    /// Its room is for a big request: once the multishot receive has ended
    /// (and left nothing), it receives straight into the room.
    direct: bool,
}

/// An operation in flight: completes with its result and its buffer back.
/// Dropping it before it completes cancels it (the buffer is freed once the
/// kernel is done with it; a dropped receive may still have taken bytes, so
/// connections never drop one). Use [`Op::cancel`] and then await it to get the
/// buffer and whatever was received before the cancellation took effect.
pub struct Op {
    ring: Rc<Ring>,
    index: Option<u32>,
    ready: Option<(i32, BytesMut)>,
    /// A receive from a multishot receive's inbox.
    inbox: Option<Waiting>,
}

impl Op {
    fn new(ring: &Rc<Ring>, index: u32) -> Op {
        Op {
            ring: ring.clone(),
            index: Some(index),
            ready: None,
            inbox: None,
        }
    }

    fn ready(ring: &Rc<Ring>, result: i32, buf: BytesMut) -> Op {
        Op {
            ring: ring.clone(),
            index: None,
            ready: Some((result, buf)),
            inbox: None,
        }
    }

    /// Makes a send's completion wake its task only if it sent less than
    /// all of its `len` bytes or failed; a full send is seen the next time
    /// the operation is polled. For a send its task does not wait for but
    /// must hear about when it falls short (the socket was full); call it
    /// before the operation is first polled, and [`Op::wake_always`] before
    /// awaiting it for its completion.
    pub fn quiet_unless_short(&self, len: usize) {
        if let Some(index) = self.index {
            self.ring.slots.borrow_mut().slots[index as usize].quiet = i32::try_from(len).ok();
        }
    }

    /// Undoes [`Op::quiet_unless_short`]: any completion wakes the task.
    pub fn wake_always(&self) {
        if let Some(index) = self.index {
            self.ring.slots.borrow_mut().slots[index as usize].quiet = None;
        }
    }

    /// Asks the kernel to cancel the operation; it then completes, with
    /// `ECANCELED` or with what it did before.
    pub fn cancel(&self) {
        if let Some(waiting) = &self.inbox {
            let mut inbox = waiting.inbox.borrow_mut();
            inbox.cancelled = true;
            inbox.wake();
            return;
        }
        let Some(index) = self.index else { return };
        let user_data = {
            let slots = self.ring.slots.borrow();
            let slot = &slots.slots[index as usize];
            matches!(slot.state, State::InFlight(_)).then_some(slot.user_data)
        };
        if let Some(user_data) = user_data {
            self.ring.cancel(user_data);
        }
    }
}

fn to_result(result: i32) -> io::Result<usize> {
    if result < 0 {
        Err(io::Error::from_raw_os_error(-result))
    } else {
        Ok(result as usize)
    }
}

impl Future for Op {
    type Output = (io::Result<usize>, BytesMut);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some((result, buf)) = self.ready.take() {
            return Poll::Ready((to_result(result), buf));
        }
        if let Some(waiting) = &self.inbox {
            let mut inbox = waiting.inbox.borrow_mut();
            inbox.drain_stash();
            let got = inbox.room.as_ref().map_or(0, BytesMut::len) - inbox.room_from;
            let result = if got > 0 {
                Some(got as i32)
            } else if let Some(end) = inbox.end {
                Some(end)
            } else if inbox.cancelled || self.ring.is_shut_down() {
                Some(-libc::ECANCELED)
            } else {
                None
            };
            if let Some(result) = result {
                let buf = inbox.room.take().expect("a waiting receive has its room");
                inbox.waker = None;
                drop(inbox);
                self.inbox = None;
                return Poll::Ready((to_result(result), buf));
            }
            if inbox.multi.is_none() && waiting.direct {
                // Nothing came before the multishot receive ended.
                let room = inbox.room.take().expect("a waiting receive has its room");
                inbox.waker = None;
                drop(inbox);
                let fd = waiting.fd;
                self.inbox = None;
                *self = recv_direct(&self.ring, fd, room);
                return self.poll(cx);
            }
            match &inbox.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => inbox.waker = Some(cx.waker().clone()),
            }
            // A multishot receive that ended (no buffer was free, or it was
            // stopped) is armed again.
            let rearm = inbox.multi.is_none() && inbox.stash.len() <= STASH_MAX;
            drop(inbox);
            if rearm {
                arm_multi(&self.ring, waiting.fd, &waiting.inbox);
            }
            return Poll::Pending;
        }
        let index = self.index.expect("Op polled after it completed");
        let mut slots = self.ring.slots.borrow_mut();
        match &mut slots.slots[index as usize].state {
            State::Done(result) => {
                let result = *result;
                let recv = slots.slots[index as usize].recv;
                let mut buf = slots.release(index).unwrap_or_default();
                if recv && result > 0 {
                    // SAFETY: the kernel wrote `result` bytes (at most the
                    // spare capacity it was given) right after the length.
                    unsafe { buf.set_len(buf.len() + result as usize) };
                }
                drop(slots);
                self.index = None;
                Poll::Ready((to_result(result), buf))
            }
            State::InFlight(waker) => {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Orphan | State::Free => unreachable!("an awaited Op's slot is in flight"),
        }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if let Some(waiting) = self.inbox.take() {
            let mut inbox = waiting.inbox.borrow_mut();
            inbox.room = None;
            inbox.waker = None;
            return;
        }
        let Some(index) = self.index else { return };
        let in_flight = {
            let mut slots = self.ring.slots.borrow_mut();
            if let State::Done(_) = slots.slots[index as usize].state {
                slots.release(index);
                None
            } else {
                let slot = &mut slots.slots[index as usize];
                slot.state = State::Orphan;
                Some(slot.user_data)
            }
        };
        if let Some(user_data) = in_flight {
            self.ring.cancel(user_data);
        }
    }
}

#[cfg(test)]
mod tests;
