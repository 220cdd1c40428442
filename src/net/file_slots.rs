//! The file operations in flight on a shard's socket ring: their slots,
//! the buffers and descriptors they hold until the kernel is done, and
//! their completions. The ring routes a completion here by its `user_data`
//! tag ([`FILE`]); [`super::reads`] makes the operations.

use std::any::Any;
use std::rc::Rc;

use super::direct::AlignedBuf;
use super::state::State;

/// `user_data` bit of file reads (the low half is the slot index).
pub(super) const FILE: u64 = 1 << 62;

pub(super) struct Slot {
    pub(super) state: State,
    /// A read's buffer (none for a write).
    buf: Option<AlignedBuf>,
    /// What keeps the descriptor (and a write's bytes) alive until the
    /// kernel is done.
    file: Option<Rc<dyn Any>>,
}

/// The reads of one ring.
#[derive(Default)]
pub(super) struct ReadSlots {
    pub(super) slots: Vec<Slot>,
    free: Vec<u32>,
    in_flight: usize,
    /// The buffer region registered with the ring for `READ_FIXED`
    /// ([`super::direct::fixed_region`]): `None` until the first read
    /// tries, `Some(None)` where registering failed.
    pub(super) fixed: Option<Option<(*mut u8, usize)>>,
    /// Reads made into the registered region (for tests).
    pub(super) fixed_reads: u64,
}

impl ReadSlots {
    /// Reads the kernel may still write into (their buffers must outlive the ring).
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub(super) fn take(&mut self, buf: Option<AlignedBuf>, file: Rc<dyn Any>) -> u32 {
        let slot = Slot {
            state: State::InFlight(None),
            buf,
            file: Some(file),
        };
        self.in_flight += 1;
        match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub(super) fn release(&mut self, index: u32) -> Option<AlignedBuf> {
        let slot = &mut self.slots[index as usize];
        slot.state = State::Free;
        slot.file = None;
        self.in_flight -= 1;
        self.free.push(index);
        slot.buf.take()
    }

    /// Records the completion of the read `user_data` names and wakes its task.
    pub(super) fn complete(&mut self, user_data: u64, result: i32) {
        let index = user_data as u32;
        let slot = &mut self.slots[index as usize];
        match std::mem::replace(&mut slot.state, State::Done(result)) {
            State::InFlight(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            State::Orphan => {
                self.release(index);
            }
            State::Done(_) | State::Free => {
                debug_assert!(false, "completion of a read not in flight");
            }
        }
    }
}
