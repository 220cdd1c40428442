//! The ring's provided buffers: where multishot receives land.
//!
//! A fixed pool of small buffers handed to the kernel through a buffer ring
//! (`IORING_REGISTER_PBUF_RING`, 5.19). A multishot receive takes one per
//! completion; the driver copies the bytes out to their connection at once
//! and gives the buffer back, so the pool bounds only what one kernel entry
//! receives, never what a connection holds.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::IoUring;
use io_uring::types::BufRingEntry;

/// The buffer group of the receives.
pub(super) const GROUP: u16 = 0;
/// Buffers in the pool (a power of two).
const NR_BUFFERS: u16 = 256;
/// Bytes per buffer: a pipeline of small requests fits one.
pub(super) const BUFFER_SIZE: usize = 4096;

/// The pool and the ring of entries that lends it to the kernel.
pub(super) struct BufRing {
    /// `NR_BUFFERS` entries, page-aligned (mmap), shared with the kernel.
    entries: *mut BufRingEntry,
    entries_len: usize,
    /// The buffers, back to back.
    memory: Box<[u8]>,
    /// Entries added so far (wrapping); published through the ring's tail.
    tail: u16,
}

impl BufRing {
    /// Sets up the pool and registers it with `uring` as [`GROUP`].
    pub(super) fn register(uring: &IoUring) -> io::Result<BufRing> {
        let entries_len = usize::from(NR_BUFFERS) * size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                entries_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut ring = BufRing {
            entries: ptr.cast(),
            entries_len,
            memory: vec![0u8; usize::from(NR_BUFFERS) * BUFFER_SIZE].into_boxed_slice(),
            tail: 0,
        };
        // SAFETY: the entries and the buffers live as long as the BufRing,
        // which the Ring drops only after its uring (field order).
        unsafe {
            uring.submitter().register_buf_ring_with_flags(
                ring.entries as u64,
                NR_BUFFERS,
                GROUP,
                0,
            )?;
        }
        for bid in 0..NR_BUFFERS {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    /// The `len` bytes the kernel put in buffer `bid`.
    pub(super) fn data(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * BUFFER_SIZE;
        &self.memory[start..start + len.min(BUFFER_SIZE)]
    }

    /// Queues buffer `bid` for the kernel again (seen after [`publish`]).
    ///
    /// [`publish`]: BufRing::publish
    pub(super) fn push(&mut self, bid: u16) {
        let index = usize::from(self.tail & (NR_BUFFERS - 1));
        let addr = self.memory.as_ptr() as u64 + u64::from(bid) * BUFFER_SIZE as u64;
        // SAFETY: index < NR_BUFFERS entries of the mapping; the kernel
        // reads an entry only once the tail passes it.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(BUFFER_SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Hands the kernel every buffer pushed so far.
    pub(super) fn publish(&self) {
        // SAFETY: the tail field of the first entry, shared with the kernel
        // (which reads it with acquire semantics).
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `register`.
        unsafe { libc::munmap(self.entries.cast(), self.entries_len) };
    }
}
