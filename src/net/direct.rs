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

/// Memory alignment of a direct-read buffer: a page, which every device's
/// O_DIRECT alignment divides.
const BUF_ALIGN: usize = 4096;
/// Buffers of this capacity are kept for reuse after a read: a record of
/// a value of up to ~7.5 KiB, the GETs a disk serves at its highest rate.
const POOLED_CAP: usize = 8192;
/// Most pooled buffers kept per thread (a few hundred KiB).
const POOL_MAX: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<AlignedBuf>> = const { RefCell::new(Vec::new()) };
}

/// An owned, page-aligned buffer a direct read fills. Its bytes are not
/// initialized until a read wrote them.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
}

// SAFETY: an `AlignedBuf` owns its allocation alone, like a `Box<[u8]>`;
// dropped on another thread, a pooled one joins that thread's pool (the
// allocator is global).
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// A buffer of at least `len` bytes (from this thread's pool when small).
    pub fn with_capacity(len: usize) -> AlignedBuf {
        if len <= POOLED_CAP
            && let Some(buf) = POOL.with(|pool| pool.borrow_mut().pop())
        {
            return buf;
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
        AlignedBuf { ptr, cap }
    }

    /// Its capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Where a read may write (`capacity` bytes).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
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
        if self.cap == POOLED_CAP {
            let kept = POOL
                .try_with(|pool| {
                    let mut pool = pool.borrow_mut();
                    if pool.len() < POOL_MAX {
                        pool.push(AlignedBuf {
                            ptr: self.ptr,
                            cap: self.cap,
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
/// error) and the buffer back.
pub type DirectRead<'a> = Pin<Box<dyn Future<Output = (std::io::Result<usize>, AlignedBuf)> + 'a>>;

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
}
