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

/// Where an operation is.
enum State {
    /// Submitted or queued; the waker of the task awaiting it.
    InFlight(Option<Waker>),
    /// Completed with this result (bytes, or a negative errno).
    Done(i32),
    /// Its [`Op`] was dropped before it completed: the slot (and the
    /// buffer the kernel may still write) is freed by its completion.
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
}

impl Slots {
    /// A slot for a new operation: its index and `user_data`.
    fn take(
        &mut self,
        buf: BytesMut,
        recv: bool,
        timeout: Option<Box<types::Timespec>>,
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
                });
                (self.slots.len() - 1) as u32
            }
        };
        let user_data = (u64::from(self.generation & 0x7fff_ffff) << 32) | u64::from(index);
        self.slots[index as usize] = Slot {
            state: State::InFlight(None),
            user_data,
            buf: Some(buf),
            recv,
            timeout,
        };
        self.in_flight += 1;
        (index, user_data)
    }

    /// Frees a slot whose operation has completed, returning its buffer.
    fn release(&mut self, index: u32) -> Option<BytesMut> {
        let slot = &mut self.slots[index as usize];
        slot.state = State::Free;
        slot.timeout = None;
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
        let ring = Ring {
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
        for cqe in uring.completion() {
            completed = true;
            if cqe.user_data() & (AUX | FILE) == FILE {
                reads.complete(cqe.user_data(), cqe.result());
            } else {
                complete(&mut slots, &cqe);
            }
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

/// Records one completion and wakes the task awaiting it.
fn complete(slots: &mut Slots, cqe: &cqueue::Entry) {
    let user_data = cqe.user_data();
    if user_data & AUX != 0 {
        return;
    }
    let index = user_data as u32;
    debug_assert_eq!(slots.slots[index as usize].user_data, user_data);
    let slot = &mut slots.slots[index as usize];
    match std::mem::replace(&mut slot.state, State::Done(cqe.result())) {
        State::InFlight(waker) => {
            if let Some(waker) = waker {
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
}

/// A client socket whose I/O goes through its shard's [`Ring`]. Closed when
/// dropped.
pub struct Socket {
    fd: OwnedFd,
    ring: Rc<Ring>,
}

impl Socket {
    /// Takes over a connected socket.
    pub fn new(ring: Rc<Ring>, fd: OwnedFd) -> Socket {
        Socket { fd, ring }
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
    /// A connection receives again right after answering, before its
    /// client can have sent more, so the kernel is asked to wait for data
    /// first (`RECVSEND_POLL_FIRST`) rather than try a read that finds
    /// nothing and then wait: one socket read per receive instead of two.
    pub fn recv(&self, mut buf: BytesMut) -> Op {
        if self.ring.is_shut_down() {
            return Op::ready(&self.ring, -libc::ECANCELED, buf);
        }
        let spare = buf.spare_capacity_mut();
        let len = spare.len().min(u32::MAX as usize) as u32;
        let ptr = spare.as_mut_ptr().cast::<u8>();
        let (index, user_data) = self.ring.slots.borrow_mut().take(buf, true, None);
        let ioprio = if self.ring.poll_first {
            RECVSEND_POLL_FIRST
        } else {
            0
        };
        self.ring.push(
            &[opcode::Recv::new(types::Fd(self.fd.as_raw_fd()), ptr, len)
                .ioprio(ioprio)
                .build()
                .user_data(user_data)],
        );
        Op::new(&self.ring, index)
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
        let (index, user_data) = self.ring.slots.borrow_mut().take(buf, false, timespec);
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
    /// timed sends.
    pub async fn send_all(
        &self,
        buf: BytesMut,
        timeout: Option<Duration>,
    ) -> (io::Result<()>, BytesMut) {
        let mut buf = buf;
        let mut sent = 0;
        if !buf.is_empty() {
            let (result, back) = self.try_send(buf, 0).await;
            buf = back;
            match result {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => sent = n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) => return (Err(e), buf),
            }
        }
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

/// An operation in flight: completes with its result and its buffer back.
/// Dropping it before it completes cancels it (the buffer is freed once the
/// kernel is done with it; a dropped receive may still have taken bytes, so
/// connections never drop one). Use [`Op::cancel`] and then await it to get the
/// buffer and whatever was received before the cancellation took effect.
pub struct Op {
    ring: Rc<Ring>,
    index: Option<u32>,
    ready: Option<(i32, BytesMut)>,
}

impl Op {
    fn new(ring: &Rc<Ring>, index: u32) -> Op {
        Op {
            ring: ring.clone(),
            index: Some(index),
            ready: None,
        }
    }

    fn ready(ring: &Rc<Ring>, result: i32, buf: BytesMut) -> Op {
        Op {
            ring: ring.clone(),
            index: None,
            ready: Some((result, buf)),
        }
    }

    /// Asks the kernel to cancel the operation; it then completes, with
    /// `ECANCELED` or with what it did before.
    pub fn cancel(&self) {
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
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::IntoRawFd;

    use super::*;

    /// Runs `test` on a glommio executor with a ring and its driver.
    fn with_ring<F, Fut>(test: F)
    where
        F: FnOnce(Rc<Ring>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let ring = Ring::new().expect("a ring");
                glommio::spawn_local(ring.clone().drive()).detach();
                test(ring).await;
            })
            .expect("executor")
            .join()
            .expect("test finishes without panicking");
    }

    /// A connected pair: the ring's end and a plain blocking peer.
    fn pair(ring: &Rc<Ring>) -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        // SAFETY: a descriptor we own, handed over whole.
        let fd = unsafe { OwnedFd::from_raw_fd(ours.into_raw_fd()) };
        (Socket::new(ring.clone(), fd), peer)
    }

    fn room(len: usize) -> BytesMut {
        BytesMut::with_capacity(len)
    }

    #[test]
    fn bytes_go_both_ways_in_order() {
        with_ring(|ring| async move {
            let (socket, mut peer) = pair(&ring);
            let echo = std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = peer.read(&mut buf).unwrap();
                    if n == 0 {
                        return;
                    }
                    peer.write_all(&buf[..n]).unwrap();
                }
            });
            for round in 0..500u32 {
                let message: Vec<u8> = (0..(round % 97 + 1)).map(|i| (i ^ round) as u8).collect();
                let (sent, _) = socket
                    .send_all(BytesMut::from(&message[..]), Some(Duration::from_secs(10)))
                    .await;
                sent.unwrap();
                let mut got = Vec::new();
                while got.len() < message.len() {
                    let (n, buf) = socket.recv(room(4096)).await;
                    let n = n.unwrap();
                    assert!(n > 0, "the echo closed early");
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(got, message, "round {round}");
            }
            drop(socket);
            echo.join().unwrap();
            assert!(ring.enters() > 0);
        });
    }

    #[test]
    fn a_cancelled_receive_gives_its_buffer_back_and_the_next_one_gets_the_data() {
        with_ring(|ring| async move {
            let (socket, mut peer) = pair(&ring);
            let mut recv = socket.recv(room(64));
            let waited = futures_lite::future::or(async { Some((&mut recv).await) }, async {
                glommio::timer::sleep(Duration::from_millis(20)).await;
                None
            })
            .await;
            assert!(waited.is_none(), "nothing was sent");
            recv.cancel();
            let (result, buf) = recv.await;
            assert_eq!(
                result.unwrap_err().raw_os_error(),
                Some(libc::ECANCELED),
                "nothing arrived before the cancellation"
            );
            assert_eq!((buf.len(), buf.capacity()), (0, 64));
            peer.write_all(b"after").unwrap();
            let (n, buf) = socket.recv(buf).await;
            assert_eq!(n.unwrap(), 5);
            assert_eq!(&buf[..], b"after", "the buffer grew by the bytes received");
        });
    }

    #[test]
    fn a_dropped_operation_leaves_the_ring_working() {
        with_ring(|ring| async move {
            let (socket, mut peer) = pair(&ring);
            drop(socket.recv(room(64)));
            // Its cancellation goes out with the next turn (bytes that came
            // before it would have been the dropped receive's: nothing is
            // sent until then); the slot is then reused by later operations
            // without mixing them up.
            glommio::timer::sleep(Duration::from_millis(20)).await;
            for round in 0..20u8 {
                peer.write_all(&[round]).unwrap();
                let (n, buf) = socket.recv(room(64)).await;
                assert_eq!(&buf[..n.unwrap()], &[round]);
            }
        });
    }

    #[test]
    fn shutting_down_fails_pending_and_new_receives() {
        with_ring(|ring| async move {
            let (socket, _peer) = pair(&ring);
            let recv = socket.recv(room(64));
            let stopper = ring.clone();
            glommio::spawn_local(async move { stopper.shut_down() }).detach();
            let (result, _) = recv.await;
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            assert!(socket.is_shut_down());
            let (result, buf) = socket.recv(room(8)).await;
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
            assert_eq!(buf.capacity(), 8);
        });
    }

    #[test]
    fn a_send_that_must_not_wait_says_so_when_the_socket_is_full() {
        with_ring(|ring| async move {
            let (socket, mut peer) = pair(&ring);
            let chunk = BytesMut::from(&vec![3u8; 1 << 20][..]);
            let mut queued = 0usize;
            let mut buf = chunk;
            loop {
                let (result, back) = socket.try_send(buf, 0).await;
                buf = back;
                match result {
                    Ok(n) => queued += n,
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
                        break;
                    }
                }
                assert!(queued < 1 << 30, "the socket never filled up");
            }
            assert!(queued > 0, "an empty socket takes bytes at once");
            // What was queued arrives whole; the waiting send finishes
            // once the peer reads.
            let reader = std::thread::spawn(move || {
                let mut all = Vec::new();
                let mut chunk = vec![0u8; 1 << 16];
                while all.len() < queued + (1 << 20) {
                    let n = peer.read(&mut chunk).unwrap();
                    assert!(n > 0);
                    all.extend_from_slice(&chunk[..n]);
                }
                all.iter().all(|&b| b == 3)
            });
            let (sent, _) = socket.send_all(buf, Some(Duration::from_secs(10))).await;
            sent.unwrap();
            assert!(reader.join().unwrap());
        });
    }

    #[test]
    fn a_peer_that_reads_nothing_times_the_send_out() {
        with_ring(|ring| async move {
            let (socket, peer) = pair(&ring);
            // Far more than the socket buffers hold; the peer never reads.
            let big = BytesMut::from(&vec![7u8; 64 << 20][..]);
            let (result, _) = socket.send_all(big, Some(Duration::from_millis(200))).await;
            assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
            drop(peer);
        });
    }
}
