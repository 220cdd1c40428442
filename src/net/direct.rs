//! Disk reads of the GET path, and the log's writes, on a ring the store
//! does not own.
//!
//! glommio's `DmaFile::read_at` costs a disk GET about twice what the read
//! costs fio: glommio's ring has neither `COOP_TASKRUN` nor
//! `DEFER_TASKRUN`, so each completion (raised on the CPU that takes the
//! disk's interrupt) interrupts the shard with an IPI, the read is a task
//! wake-up through glommio's reactor, and every reactor turn enters the
//! kernel again for glommio's own timers. A shard's socket ring already
//! enters the kernel once per busy turn with completions deferred to that
//! enter; a [`DirectReader`] lets the store put its reads there too, so the
//! reads a batch misses go out in the same enter as the replies before
//! them and complete in the same enter as the requests after them.
//!
//! The interface and its buffers live here, at the ground floor beside the
//! ring that implements them (`reads`), so the store reads through them
//! without the ring reaching up into the store. The shard hands its ring to
//! its store with [`Store::set_direct_reader`](crate::storage::Store::set_direct_reader);
//! without one, reads go through glommio as before.

use std::alloc::{Layout, alloc, dealloc};
use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Memory alignment of a direct-read buffer: a page, which every device's
/// O_DIRECT alignment divides.
const BUF_ALIGN: usize = 4096;
/// Buffers of this capacity are kept for reuse after a read: a record of
/// a value of up to ~7.5 KiB, the GETs a disk serves at its highest rate.
const POOLED_CAP: usize = 8192;
/// Most pooled buffers kept per thread (a few hundred KiB).
const POOL_MAX: usize = 64;
/// Buffers of the thread's slab (see [`fixed_region`]): as many reads as
/// a shard keeps in flight at queue depth 64, in 512 KiB.
const SLAB_BUFS: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<AlignedBuf>> = const { RefCell::new(Vec::new()) };
    static SLAB: RefCell<Option<Slab>> = const { RefCell::new(None) };
}

/// The thread's buffers of [`POOLED_CAP`] bytes in one allocation, which
/// the shard's ring registers with the kernel: a read into one of them
/// (`READ_FIXED`) pins no pages, where a read into any other buffer pins
/// and unpins its pages each time (~0.3 µs of a 4 KiB read here).
struct Slab {
    base: NonNull<u8>,
    /// Its buffers not handed out.
    free: Vec<NonNull<u8>>,
}

impl Slab {
    const LEN: usize = SLAB_BUFS * POOLED_CAP;

    fn layout() -> Layout {
        Layout::from_size_align(Slab::LEN, BUF_ALIGN).expect("a valid slab layout")
    }

    fn new() -> Slab {
        // SAFETY: the layout is not empty.
        let ptr = unsafe { alloc(Slab::layout()) };
        let Some(base) = NonNull::new(ptr) else {
            std::alloc::handle_alloc_error(Slab::layout());
        };
        // Handed out from the lowest address up.
        let free = (0..SLAB_BUFS)
            .rev()
            // SAFETY: each offset lies inside the allocation.
            .map(|i| unsafe { base.add(i * POOLED_CAP) })
            .collect();
        Slab { base, free }
    }

    fn holds(&self, ptr: NonNull<u8>) -> bool {
        let at = ptr.as_ptr() as usize;
        let base = self.base.as_ptr() as usize;
        at >= base && at < base + Slab::LEN
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // A buffer still out (its read in flight when the thread ended)
        // would be written into or dropped later: then the slab is leaked.
        if self.free.len() == SLAB_BUFS {
            // SAFETY: allocated with this layout, every buffer is back.
            unsafe { dealloc(self.base.as_ptr(), Slab::layout()) };
        }
    }
}

/// The calling thread's slab of read buffers, made on the first call: the
/// address and length to register with a ring (`IORING_REGISTER_BUFFERS`)
/// on this thread. From then on [`AlignedBuf::with_capacity`] hands out
/// its small buffers from the slab first; [`AlignedBuf::in_region`] tells a
/// ring whether a buffer lies in what it registered.
pub fn fixed_region() -> (*mut u8, usize) {
    SLAB.with(|slab| {
        let mut slab = slab.borrow_mut();
        let slab = slab.get_or_insert_with(Slab::new);
        (slab.base.as_ptr(), Slab::LEN)
    })
}

/// An owned, page-aligned buffer a direct read fills. Its bytes are not
/// initialized until a read wrote them.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    /// Part of a thread's [`Slab`], not an allocation of its own.
    in_slab: bool,
}

// SAFETY: an `AlignedBuf` owns its bytes alone, like a `Box<[u8]>`;
// dropped on another thread, a heap one joins that thread's pool (the
// allocator is global) and a slab one goes home only on its own thread
// (elsewhere it is leaked, never freed as an allocation of its own).
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// A buffer of at least `len` bytes (from this thread's slab or pool
    /// when small).
    pub fn with_capacity(len: usize) -> AlignedBuf {
        if len <= POOLED_CAP {
            let slab = SLAB.with(|slab| slab.borrow_mut().as_mut().and_then(|s| s.free.pop()));
            if let Some(ptr) = slab {
                return AlignedBuf {
                    ptr,
                    cap: POOLED_CAP,
                    in_slab: true,
                };
            }
            if let Some(buf) = POOL.with(|pool| pool.borrow_mut().pop()) {
                return buf;
            }
        }
        let cap = if len <= POOLED_CAP {
            POOLED_CAP
        } else {
            len.next_multiple_of(BUF_ALIGN)
        };
        let layout = Layout::from_size_align(cap, BUF_ALIGN).expect("a valid buffer layout");
        // SAFETY: `cap` is at least one page, so the layout is not empty.
        let ptr = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            std::alloc::handle_alloc_error(layout);
        };
        AlignedBuf {
            ptr,
            cap,
            in_slab: false,
        }
    }

    /// Its capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Where a read may write (`capacity` bytes).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Whether the whole buffer lies in `region` (`(address, length)`, as
    /// [`fixed_region`] gave it).
    pub fn in_region(&self, region: (*mut u8, usize)) -> bool {
        let (at, base) = (self.ptr.as_ptr() as usize, region.0 as usize);
        at >= base && at + self.cap <= base + region.1
    }

    /// The first `len` bytes, which a read must have written.
    ///
    /// # Safety
    /// `len <= capacity` and the bytes up to `len` were written.
    pub unsafe fn filled(&self, len: usize) -> &[u8] {
        debug_assert!(len <= self.cap);
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.in_slab {
            let ptr = self.ptr;
            // Not home (another thread's, or the thread is ending): leaked.
            let _ = SLAB.try_with(|slab| {
                if let Ok(mut slab) = slab.try_borrow_mut()
                    && let Some(slab) = slab.as_mut()
                    && slab.holds(ptr)
                {
                    slab.free.push(ptr);
                }
            });
            return;
        }
        if self.cap == POOLED_CAP {
            let kept = POOL
                .try_with(|pool| {
                    let mut pool = pool.borrow_mut();
                    if pool.len() < POOL_MAX {
                        pool.push(AlignedBuf {
                            ptr: self.ptr,
                            cap: self.cap,
                            in_slab: false,
                        });
                        true
                    } else {
                        false
                    }
                })
                .unwrap_or(false);
            if kept {
                return;
            }
        }
        let layout = Layout::from_size_align(self.cap, BUF_ALIGN).expect("a valid buffer layout");
        // SAFETY: allocated with this very layout and not freed since.
        unsafe { dealloc(self.ptr.as_ptr(), layout) };
    }
}

/// The completion of a [`DirectReader::read`]: the bytes read (or the
/// error) and the buffer back. The reader keeps the read's state in a slot
/// this names, so a read allocates no future of its own (a boxed future
/// per disk GET was a malloc and a free on the hot path).
pub struct DirectRead<'a> {
    reader: &'a dyn DirectReader,
    /// The reader's slot of the read; `None` once its result was taken.
    slot: Option<u32>,
}

impl<'a> DirectRead<'a> {
    /// For a [`DirectReader`]'s `read`: the future of the read it keeps in
    /// `slot`, completed through [`DirectReader::poll_read`] and, when
    /// dropped first, left to the reader through [`DirectReader::forget_read`].
    pub fn new(reader: &'a dyn DirectReader, slot: u32) -> DirectRead<'a> {
        DirectRead {
            reader,
            slot: Some(slot),
        }
    }
}

impl Future for DirectRead<'_> {
    type Output = (std::io::Result<usize>, AlignedBuf);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot.expect("DirectRead polled after it completed");
        let done = self.reader.poll_read(slot, cx);
        if done.is_ready() {
            self.slot = None;
        }
        done
    }
}

impl Drop for DirectRead<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.reader.forget_read(slot);
        }
    }
}

/// The completion of a [`DirectReader::write`]: the bytes written, or the error.
pub type DirectWrite<'a> = Pin<Box<dyn Future<Output = std::io::Result<usize>> + 'a>>;

/// Reads (and writes) files opened with `O_DIRECT` on a ring outside
/// glommio (see the module doc).
pub trait DirectReader {
    /// Reads up to `len` bytes (`len <= buf.capacity()`, aligned like
    /// `pos` to the file's DMA alignment) at `pos` of `fd` into `buf`.
    /// `file` is what keeps `fd` open: the reader holds it until the
    /// kernel is done with the read, so a future dropped before its read
    /// was even submitted cannot let the descriptor be closed and reused
    /// under it. Dropping the future leaves the buffer (and `file`) to the
    /// reader until the read completes.
    fn read(
        &self,
        fd: RawFd,
        file: Rc<dyn Any>,
        buf: AlignedBuf,
        len: usize,
        pos: u64,
    ) -> DirectRead<'_>;

    /// [`DirectRead`]'s poll of the read in `slot`: its result and buffer
    /// once done (the slot is then free), else `Pending` with the task's
    /// waker kept.
    fn poll_read(
        &self,
        slot: u32,
        cx: &mut Context<'_>,
    ) -> Poll<(std::io::Result<usize>, AlignedBuf)>;

    /// [`DirectRead`] dropped before its result was taken: the reader
    /// frees the slot (and the buffer) once the kernel is done with it.
    fn forget_read(&self, slot: u32);

    /// Writes the `len` bytes at `bytes` (aligned, like `pos`, to the
    /// file's DMA alignment) at `pos` of `fd`. The write is queued when
    /// this is called, so writes made one after another go out together.
    /// `keep` holds both the descriptor and the bytes: the reader keeps it
    /// until the kernel is done with the write, even if the future is
    /// dropped first.
    ///
    /// # Safety
    /// `bytes..bytes + len` stays valid and unchanged for as long as
    /// `keep` lives.
    unsafe fn write(
        &self,
        fd: RawFd,
        keep: Rc<dyn Any>,
        bytes: *const u8,
        len: usize,
        pos: u64,
    ) -> DirectWrite<'_>;

    /// Writes the `nr` buffers `iovecs` describes (aligned, like `pos`)
    /// at `pos` of `fd`, then makes the file's writes durable
    /// (fdatasync): one linked pair queued together, so the sync starts
    /// only once the write is done, without the caller waking in between.
    /// Resolves when the sync is done, to the bytes written; a short write
    /// is returned as such (its sync was not made, the caller must fail
    /// the round), a failed write or sync as its error. `keep` holds the
    /// descriptor, the iovecs and the bytes they point at until the kernel
    /// is done with both.
    ///
    /// # Safety
    /// `iovecs[..nr]` and every byte range they describe stay valid and
    /// unchanged for as long as `keep` lives.
    unsafe fn write_and_sync(
        &self,
        fd: RawFd,
        keep: Rc<dyn Any>,
        iovecs: *const libc::iovec,
        nr: usize,
        pos: u64,
    ) -> DirectWrite<'_>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_small_ones_are_reused() {
        let mut small = AlignedBuf::with_capacity(4608);
        assert_eq!(small.capacity(), POOLED_CAP);
        assert_eq!(small.as_mut_ptr() as usize % BUF_ALIGN, 0);
        let first = small.as_mut_ptr();
        drop(small);
        let mut again = AlignedBuf::with_capacity(512);
        assert_eq!(again.as_mut_ptr(), first, "the pooled buffer came back");
        let mut big = AlignedBuf::with_capacity(POOLED_CAP + 1);
        assert_eq!(big.capacity(), POOLED_CAP + BUF_ALIGN);
        assert_eq!(big.as_mut_ptr() as usize % BUF_ALIGN, 0);
    }

    #[test]
    fn the_slab_hands_out_its_buffers_first_and_takes_back_only_its_own() {
        std::thread::spawn(|| {
            let region = fixed_region();
            assert_eq!(region, fixed_region(), "one slab per thread");
            let mut first = AlignedBuf::with_capacity(4096);
            assert!(first.in_region(region));
            assert_eq!(first.as_mut_ptr(), region.0, "lowest address first");
            let bufs: Vec<AlignedBuf> = (1..SLAB_BUFS)
                .map(|_| AlignedBuf::with_capacity(512))
                .collect();
            assert!(bufs.iter().all(|buf| buf.in_region(region)));
            let spill = AlignedBuf::with_capacity(512);
            assert!(!spill.in_region(region), "a full slab: a buffer of its own");
            assert!(!AlignedBuf::with_capacity(POOLED_CAP + 1).in_region(region));
            drop(first);
            let mut again = AlignedBuf::with_capacity(4096);
            assert_eq!(again.as_mut_ptr(), region.0, "back in the slab");
            // Dropped on a thread with a slab of its own, a buffer of this
            // slab does not join that one.
            let home = region.0 as usize;
            std::thread::spawn(move || {
                let other = fixed_region();
                drop(again);
                let mut mine: Vec<AlignedBuf> = (0..SLAB_BUFS)
                    .map(|_| AlignedBuf::with_capacity(4096))
                    .collect();
                assert!(mine.iter().all(|buf| buf.in_region(other)));
                assert!(!AlignedBuf::with_capacity(4096).in_region(other));
                assert!(mine.iter_mut().all(|buf| buf.as_mut_ptr() as usize != home));
            })
            .join()
            .unwrap();
            drop(bufs);
        })
        .join()
        .unwrap();
    }
}
