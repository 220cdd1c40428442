//! A client socket on its shard's [`Ring`], and the operations (receives,
//! sends) its connection awaits.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use io_uring::{opcode, squeue, types};

use super::bufring;
use super::inbox::{DIRECT_ROOM, Inbox, STASH_MAX};
use super::ring::{AUX, RECVSEND_POLL_FIRST, Ring};
use super::state::State;

/// A client socket whose I/O goes through its shard's [`Ring`]. Closed when
/// dropped (with a multishot receive armed, once the driver's next turn has
/// ended it).
pub struct Socket {
    fd: OwnedFd,
    ring: Rc<Ring>,
    /// Its multishot receive's bytes (where the ring has provided buffers;
    /// seen by the ring's tests).
    pub(super) inbox: Option<Rc<RefCell<Inbox>>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The multishot receive holds the socket open: end it (its last
        // bytes are dropped with the inbox).
        if let Some(inbox) = &self.inbox {
            // Its task is done with it: no reference to the task outlives
            // the socket in the inbox (which the ring may hold a while).
            inbox.borrow_mut().waker = None;
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

impl Op {
    /// The operation's outcome if it has completed, without polling it (a
    /// send whose completion woke no one); `None` while it is in flight,
    /// and for a receive from the inbox.
    pub fn try_take(&mut self) -> Option<(io::Result<usize>, BytesMut)> {
        let index = self.index?;
        let mut slots = self.ring.slots.borrow_mut();
        let State::Done(result) = slots.slots[index as usize].state else {
            return None;
        };
        let recv = slots.slots[index as usize].recv;
        let mut buf = slots.release(index).unwrap_or_default();
        if recv && result > 0 {
            // SAFETY: the kernel wrote `result` bytes (at most the spare
            // capacity it was given) right after the length.
            unsafe { buf.set_len(buf.len() + result as usize) };
        }
        drop(slots);
        self.index = None;
        Some((to_result(result), buf))
    }

    /// A receive waiting on its connection's inbox.
    fn poll_inbox(&mut self, cx: &mut Context<'_>) -> Option<Poll<(io::Result<usize>, BytesMut)>> {
        let waiting = self.inbox.as_ref()?;
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
            drop(inbox);
            self.inbox = None;
            return Some(Poll::Ready((to_result(result), buf)));
        }
        if inbox.multi.is_none() && waiting.direct {
            drop(inbox);
            return Some(self.receive_directly(cx));
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
        Some(Poll::Pending)
    }

    /// Nothing came before the multishot receive ended, and the room is
    /// for a big request: receives straight into it.
    #[cold]
    fn receive_directly(&mut self, cx: &mut Context<'_>) -> Poll<(io::Result<usize>, BytesMut)> {
        let waiting = self.inbox.take().expect("a waiting receive");
        let room = {
            let mut inbox = waiting.inbox.borrow_mut();
            inbox.waker = None;
            inbox.room.take().expect("a waiting receive has its room")
        };
        *self = recv_direct(&self.ring, waiting.fd, room);
        Pin::new(self).poll(cx)
    }
}

impl Future for Op {
    type Output = (io::Result<usize>, BytesMut);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some((result, buf)) = self.ready.take() {
            return Poll::Ready((to_result(result), buf));
        }
        if let Some(polled) = self.poll_inbox(cx) {
            return polled;
        }
        let index = self.index.expect("Op polled after it completed");
        if let Some(done) = self.try_take() {
            return Poll::Ready(done);
        }
        let mut slots = self.ring.slots.borrow_mut();
        match &mut slots.slots[index as usize].state {
            State::Done(_) => unreachable!("taken above"),
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
