//! The small wake-up primitives the flusher and the waiters use.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

/// A single-waiter wake-up flag (the flusher waits on it; appends set it).
#[derive(Default)]
pub struct Notify {
    /// Set when there is something new to look at.
    pending: Cell<bool>,
    /// The parked waiter.
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    /// Sets the flag and wakes the waiter, if any.
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Resolves once the flag is set (consuming it).
    pub async fn wait(&self) {
        futures_lite::future::poll_fn(|cx: &mut Context<'_>| self.poll_wait(cx)).await
    }

    /// Ready when the flag is set (consuming it); otherwise parks `cx`'s task.
    pub fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending.replace(false) {
            Poll::Ready(())
        } else {
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A task parked until the log resolves its ticket.
struct Parked {
    /// Wake once `resolved_ticket` reaches this.
    ticket: u64,
    /// The task.
    waker: Waker,
}

/// Tasks waiting for tickets, smallest ticket first: a flush wakes only the
/// tasks it resolved, not every waiter.
///
/// A queue ordered by ticket rather than a heap: a writer parks right after
/// its append, so tickets arrive almost always in order and go to the back;
/// a flush takes its waiters off the front.
#[derive(Default)]
pub struct Waiters {
    /// Parked tasks, by ticket.
    parked: RefCell<VecDeque<Parked>>,
}

impl Waiters {
    /// Parks `cx`'s task until `resolved_ticket` reaches `ticket` (a task
    /// that waits for something else passes a ticket already resolved and
    /// is woken by the next change).
    pub fn register(&self, ticket: u64, cx: &Context<'_>) {
        let mut parked = self.parked.borrow_mut();
        let task = Parked {
            ticket,
            waker: cx.waker().clone(),
        };
        if parked.back().is_none_or(|last| last.ticket <= ticket) {
            parked.push_back(task);
        } else {
            let at = parked.partition_point(|other| other.ticket <= ticket);
            parked.insert(at, task);
        }
    }

    /// Wakes every task whose ticket is at most `resolved_ticket`.
    pub fn wake_resolved(&self, resolved_ticket: u64) {
        loop {
            let task = {
                let mut parked = self.parked.borrow_mut();
                match parked.front() {
                    Some(task) if task.ticket <= resolved_ticket => parked.pop_front(),
                    _ => None,
                }
            };
            // Not under the borrow: a waker may run code that parks again.
            match task {
                Some(task) => task.waker.wake(),
                None => break,
            }
        }
    }
}
