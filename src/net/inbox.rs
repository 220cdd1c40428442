//! A connection's share of the ring's multishot receives: the bytes its
//! receive brought, and the receive waiting for them.
//!
//! With provided buffers (see `bufring`) a connection keeps one multishot
//! receive armed instead of submitting a receive, and having the kernel arm
//! a poll, per request. The driver copies each completion's bytes out of
//! its provided buffer at once: into the room of the connection's waiting
//! receive, or, when none waits or it is full, into the connection's stash,
//! which is bounded ([`STASH_MAX`]): past it the multishot receive is
//! cancelled, so a client that sends while its replies wait backs up in its
//! own socket as before.

use std::task::Waker;

use bytes::BytesMut;

/// What a connection's multishot receive brought and its receive waits for.
#[derive(Default)]
pub(super) struct Inbox {
    /// The multishot receive in flight (its `user_data`), if any.
    pub(super) multi: Option<u64>,
    /// Received bytes no receive has taken yet (they came while none was
    /// waiting, or did not fit its room).
    pub(super) stash: BytesMut,
    /// The waiting receive's room, lent by its connection; grows by the
    /// bytes copied in.
    pub(super) room: Option<BytesMut>,
    /// The room's length when it was lent (it grows from there).
    pub(super) room_from: usize,
    /// How the stream ended (0: the peer closed, else -errno), once the
    /// stash is drained.
    pub(super) end: Option<i32>,
    /// The waiting receive was cancelled.
    pub(super) cancelled: bool,
    /// The multishot receive is being cancelled.
    pub(super) stopping: bool,
    /// The task of the waiting receive (kept after it completes, for the
    /// next one; see [`Inbox::wake`]).
    pub(super) waker: Option<Waker>,
}

impl Inbox {
    /// Takes received bytes: into the waiting room while it has space (and
    /// nothing is stashed before them), the rest into the stash.
    pub(super) fn take_in(&mut self, mut data: &[u8]) {
        if self.stash.is_empty()
            && let Some(room) = &mut self.room
        {
            let n = data.len().min(room.capacity() - room.len());
            room.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if !data.is_empty() {
            self.stash.extend_from_slice(data);
        }
    }

    /// Moves stashed bytes into the waiting room, as many as fit.
    pub(super) fn drain_stash(&mut self) {
        if self.stash.is_empty() {
            return;
        }
        if let Some(room) = &mut self.room {
            let n = self.stash.len().min(room.capacity() - room.len());
            room.extend_from_slice(&self.stash[..n]);
            let _ = self.stash.split_to(n);
            if self.stash.is_empty() && self.stash.capacity() > STASH_KEPT {
                self.stash = BytesMut::new();
            }
        }
    }

    /// Wakes the waiting receive's task, if a receive waits. The waker is
    /// kept (woken by reference): the connection's next receive is polled
    /// by the same task, so it is neither cloned nor dropped per request.
    pub(super) fn wake(&mut self) {
        if self.room.is_some()
            && let Some(waker) = &self.waker
        {
            waker.wake_by_ref();
        }
    }
}

/// A connection that stashes more than this (received while it was busy)
/// stops receiving until it has taken them: its client's further bytes wait
/// in the socket, as they would with one receive at a time.
pub(super) const STASH_MAX: usize = 64 * 1024;
/// A receive with more room than this receives straight into it.
pub(super) const DIRECT_ROOM: usize = 64 * 1024;
/// A drained stash bigger than this is freed.
const STASH_KEPT: usize = 16 * 1024;
