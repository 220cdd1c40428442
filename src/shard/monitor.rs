//! MONITOR's shard side: the monitor connections a shard holds, and the
//! count every shard reads to know whether anyone monitors at all.
//!
//! A connection that runs MONITOR registers a [`MonitorSink`] here and
//! counts itself in [`MonitorCount`] (shared by the server's shards, one
//! atomic). While the count is 0 the request path pays one load of it per
//! command; while it is not, every connection formats its commands and
//! hands them to [`Monitors::feed`] on its own shard and, over the mesh
//! (`ShardRequest::MonitorFeed`), on every other shard, which append them to
//! their sinks. A sink is only touched by its own shard's thread: the
//! monitor connection waits on it ([`MonitorSink::ready`]) and writes what
//! gathered.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};

use bytes::BytesMut;

/// How many MONITOR connections the server has, across shards.
#[derive(Debug, Default)]
pub struct MonitorCount(AtomicUsize);

impl MonitorCount {
    /// True when some connection monitors: the one check the request path
    /// makes (a load of an atomic that changes only on MONITOR and when a
    /// monitor leaves).
    #[inline]
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    fn remove(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One monitor connection's queue of lines, filled by its shard.
#[derive(Debug)]
pub struct MonitorSink {
    /// The monitor connection.
    client_id: u64,
    /// Lines not yet written to the monitor, in arrival order.
    lines: RefCell<BytesMut>,
    /// The monitor connection, waiting in [`MonitorSink::ready`].
    waker: RefCell<Option<Waker>>,
    /// Bytes the sink may hold (`--client-output-limit`): a monitor that
    /// does not keep up is disconnected, as Redis does when a monitor's
    /// output buffer passes its limit.
    limit: usize,
    /// Set once the limit was passed (what gathered is dropped).
    overflowed: Cell<bool>,
}

impl MonitorSink {
    fn push(&self, bytes: &[u8]) {
        if self.overflowed.get() {
            return;
        }
        let mut lines = self.lines.borrow_mut();
        if lines.len() + bytes.len() > self.limit {
            self.overflowed.set(true);
            *lines = BytesMut::new();
        } else {
            lines.extend_from_slice(bytes);
        }
        drop(lines);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Resolves once lines wait to be written (or the sink overflowed).
    pub async fn ready(&self) {
        std::future::poll_fn(|cx| {
            if !self.lines.borrow().is_empty() || self.overflowed.get() {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Moves the waiting lines to `out`; `false` when the monitor fell more
    /// than its limit behind and must be disconnected.
    pub fn take_into(&self, out: &mut BytesMut) -> bool {
        if self.overflowed.get() {
            return false;
        }
        out.extend_from_slice(&self.lines.borrow_mut().split());
        true
    }
}

/// The monitor connections of one shard.
#[derive(Debug, Default)]
pub struct Monitors {
    /// Registered sinks, in the order their connections ran MONITOR.
    sinks: RefCell<Vec<Rc<MonitorSink>>>,
}

impl Monitors {
    /// Registers connection `client_id` as a monitor and counts it in
    /// `count` (before its `+OK` is written, so every command any shard runs
    /// after the client read `+OK` reaches it).
    pub fn add(&self, count: &MonitorCount, client_id: u64, limit: usize) -> Rc<MonitorSink> {
        let sink = Rc::new(MonitorSink {
            client_id,
            lines: RefCell::new(BytesMut::new()),
            waker: RefCell::new(None),
            limit: limit.max(1),
            overflowed: Cell::new(false),
        });
        self.sinks.borrow_mut().push(sink.clone());
        count.add();
        sink
    }

    /// Unregisters `sink` (RESET, or its connection closed).
    pub fn remove(&self, count: &MonitorCount, sink: &Rc<MonitorSink>) {
        let mut sinks = self.sinks.borrow_mut();
        if let Some(at) = sinks.iter().position(|s| Rc::ptr_eq(s, sink)) {
            sinks.remove(at);
            count.remove();
        }
    }

    /// Appends formatted lines to every monitor of this shard.
    pub fn feed(&self, lines: &[u8]) {
        for sink in self.sinks.borrow().iter() {
            sink.push(lines);
        }
    }

    /// The client ids of this shard's monitors.
    pub fn client_ids(&self) -> Vec<u64> {
        self.sinks.borrow().iter().map(|s| s.client_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_every_sink_until_it_leaves() {
        let count = MonitorCount::default();
        let monitors = Monitors::default();
        assert!(!count.any());
        let a = monitors.add(&count, 1, 1024);
        let b = monitors.add(&count, 2, 1024);
        assert!(count.any());
        assert_eq!(monitors.client_ids(), [1, 2]);
        monitors.feed(b"+1 [0 x] \"PING\"\r\n");
        monitors.remove(&count, &a);
        monitors.remove(&count, &a);
        monitors.feed(b"+2 [0 x] \"PING\"\r\n");
        let (mut out_a, mut out_b) = (BytesMut::new(), BytesMut::new());
        assert!(a.take_into(&mut out_a));
        assert!(b.take_into(&mut out_b));
        assert_eq!(&out_a[..], b"+1 [0 x] \"PING\"\r\n");
        assert_eq!(&out_b[..], b"+1 [0 x] \"PING\"\r\n+2 [0 x] \"PING\"\r\n");
        assert!(count.any());
        monitors.remove(&count, &b);
        assert!(!count.any());
    }

    #[test]
    fn a_monitor_past_its_limit_is_dropped() {
        let count = MonitorCount::default();
        let monitors = Monitors::default();
        let sink = monitors.add(&count, 1, 10);
        monitors.feed(b"12345");
        monitors.feed(b"123456");
        let mut out = BytesMut::new();
        assert!(!sink.take_into(&mut out));
        assert!(out.is_empty());
    }
}
