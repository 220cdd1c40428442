//! Where one operation on a shard's socket ring is, shared by the socket
//! operations ([`super::socket`]) and the file reads and writes
//! ([`super::file_slots`]), below the ring that completes both.

use std::task::Waker;

/// Where an operation (a socket's, or a file read's) is.
pub(super) enum State {
    /// Submitted or queued; the waker of the task awaiting it.
    InFlight(Option<Waker>),
    /// Completed with this result (bytes, or a negative errno).
    Done(i32),
    /// Its [`Op`](super::Op) (or the store's file read) was dropped before it
    /// completed: the slot (and the buffer the kernel may still write) is
    /// freed by its completion.
    Orphan,
    /// Unused.
    Free,
}
