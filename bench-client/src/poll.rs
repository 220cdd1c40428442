//! A thin, level-triggered epoll set: one per client thread, one kernel
//! entry per loop turn for every connection that has replies waiting.
//!
//! Why not io_uring (glommio, which the client used before): a one-shot
//! poll request per socket completes through task work, which the sending
//! side (the server) pays for and which interrupts a busy client with a
//! reschedule IPI; an epoll wake-up of a client that is running costs the
//! sender a list insertion. redis-benchmark's loop is the same shape.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Readable (or closed, or failed): always asked for.
const READ_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;

/// What one ready socket reported.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    /// The token it was registered with.
    pub token: u64,
    /// Data (or EOF, or an error) to read.
    pub readable: bool,
    /// Room to write.
    pub writable: bool,
}

/// An epoll instance and its event buffer.
pub struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
    nr_ready: usize,
    /// `epoll_pwait2` is missing (ENOSYS: kernels before 5.11, valgrind):
    /// wait with `epoll_wait`'s whole milliseconds, rounded up.
    millisecond_waits: bool,
}

impl Poller {
    /// A new epoll set reporting up to `capacity` sockets per wait.
    pub fn new(capacity: usize) -> io::Result<Poller> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: `fd` was just returned by the kernel and is owned here.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
            nr_ready: 0,
            millisecond_waits: false,
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, writable: bool) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: READ_EVENTS | if writable { libc::EPOLLOUT as u32 } else { 0 },
            u64: token,
        };
        // SAFETY: `event` lives across the call; the fds are valid.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watches `fd` for reading (always) and writing (when `writable`).
    pub fn add(&self, fd: RawFd, token: u64, writable: bool) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, writable)
    }

    /// Changes whether `fd` is watched for writing.
    pub fn modify(&self, fd: RawFd, token: u64, writable: bool) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, writable)
    }

    /// Waits until a socket is ready or `timeout` passes (`None`: forever;
    /// zero: just looks). Returns the number of ready sockets, read with
    /// [`Poller::ready`].
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let n = if self.millisecond_waits {
            self.wait_ms(timeout)
        } else {
            self.wait_ns(timeout)
        };
        if n < 0 {
            self.nr_ready = 0;
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                Some(libc::EINTR) => Ok(0),
                Some(libc::ENOSYS) if !self.millisecond_waits => {
                    self.millisecond_waits = true;
                    self.wait(timeout)
                }
                _ => Err(error),
            };
        }
        self.nr_ready = n as usize;
        Ok(self.nr_ready)
    }

    fn wait_ms(&mut self, timeout: Option<Duration>) -> libc::c_int {
        let millis = timeout.map_or(-1, |t| {
            t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int
        });
        // SAFETY: the buffer holds `events.len()` entries.
        unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                millis,
            )
        }
    }

    fn wait_ns(&mut self, timeout: Option<Duration>) -> libc::c_int {
        let spec = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s as *const _);
        // SAFETY: the buffer holds `events.len()` entries; `spec_ptr` is null
        // or points at `spec`, alive across the call.
        unsafe {
            libc::epoll_pwait2(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                spec_ptr,
                std::ptr::null(),
            )
        }
    }

    /// The `index`-th ready socket of the last [`Poller::wait`].
    pub fn ready(&self, index: usize) -> Ready {
        debug_assert!(index < self.nr_ready);
        let event = self.events[index];
        let bits = event.events;
        let failed = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
        Ready {
            token: event.u64,
            readable: bits & (READ_EVENTS | failed) != 0,
            writable: bits & (libc::EPOLLOUT as u32 | failed) != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    #[test]
    fn reports_readable_sockets_by_token_and_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut poller = Poller::new(4).unwrap();
        poller.add(client.as_raw_fd(), 7, false).unwrap();

        let started = Instant::now();
        assert_eq!(poller.wait(Some(Duration::from_millis(20))).unwrap(), 0);
        assert!(started.elapsed() >= Duration::from_millis(20));

        server.write_all(b"+OK\r\n").unwrap();
        assert_eq!(poller.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        let ready = poller.ready(0);
        assert_eq!(ready.token, 7);
        assert!(ready.readable);
        assert!(!ready.writable);

        poller.modify(client.as_raw_fd(), 7, true).unwrap();
        assert_eq!(poller.wait(Some(Duration::ZERO)).unwrap(), 1);
        assert!(poller.ready(0).writable);
    }
}
