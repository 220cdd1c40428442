//! Single-threaded one-shot channel and broadcast event, for waiting inside
//! one executor (mesh replies, shutdown). Nothing here is `Send`: both ends
//! live on the same core.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender was dropped without sending.
    closed: bool,
}

/// Sending half of a [`oneshot`].
pub struct Sender<T>(Rc<RefCell<Slot<T>>>);

/// Receiving half of a [`oneshot`]; resolves to `None` if the sender is
/// dropped without sending.
pub struct Receiver<T>(Rc<RefCell<Slot<T>>>);

/// A channel that carries exactly one value on one core.
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
        closed: false,
    }));
    (Sender(slot.clone()), Receiver(slot))
}

impl<T> Sender<T> {
    /// Delivers the value and wakes the receiver.
    pub fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.borrow_mut();
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Some(value));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[derive(Default)]
struct EventState {
    fired: bool,
    wakers: Vec<Waker>,
}

/// A level-triggered event on one core: once [`Event::fire`]d, every current
/// and future [`Event::wait`] resolves. Cloning shares the event.
#[derive(Clone, Default)]
pub struct Event(Rc<RefCell<EventState>>);

impl Event {
    /// A new, unfired event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the event, waking every waiter.
    pub fn fire(&self) {
        let wakers = {
            let mut state = self.0.borrow_mut();
            state.fired = true;
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        self.0.borrow().fired
    }

    /// Resolves once the event has fired.
    pub fn wait(&self) -> impl Future<Output = ()> + 'static {
        let state = self.0.clone();
        std::future::poll_fn(move |cx| {
            let mut state = state.borrow_mut();
            if state.fired {
                Poll::Ready(())
            } else {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneshot_delivers_and_reports_drop() {
        futures_lite::future::block_on(async {
            let (tx, rx) = oneshot();
            tx.send(5);
            assert_eq!(rx.await, Some(5));
            let (tx, rx) = oneshot::<u8>();
            drop(tx);
            assert_eq!(rx.await, None);
        });
    }

    #[test]
    fn event_wakes_waiters() {
        futures_lite::future::block_on(async {
            let event = Event::new();
            let waiter = event.wait();
            assert!(!event.is_fired());
            event.fire();
            waiter.await;
            event.wait().await;
        });
    }
}
