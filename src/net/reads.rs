//! The store's disk reads on the socket ring ([`DirectReader`]): a GET that
//! misses memory reads its record in the same kernel entry that sends the
//! replies before it, and its completion is reaped with the requests that
//! came meanwhile, never interrupting the shard (the ring defers
//! completions to its enters; glommio's ring would raise an IPI per read).

use std::any::Any;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use io_uring::{opcode, squeue, types};

use super::direct::{self, AlignedBuf, DirectRead, DirectReader, DirectWrite};
use super::file_slots::FILE;
use super::ring::Ring;
use super::state::State;

impl DirectReader for Ring {
    fn read(
        &self,
        fd: RawFd,
        file: Rc<dyn Any>,
        mut buf: AlignedBuf,
        len: usize,
        pos: u64,
    ) -> DirectRead<'_> {
        let len = len.min(buf.capacity()).min(u32::MAX as usize) as u32;
        let ptr = buf.as_mut_ptr();
        let fixed = self
            .fixed_region()
            .is_some_and(|region| buf.in_region(region));
        let index = {
            let mut reads = self.reads.borrow_mut();
            reads.fixed_reads += u64::from(fixed);
            reads.take(Some(buf), file)
        };
        let entry = if fixed {
            opcode::ReadFixed::new(types::Fd(fd), ptr, len, 0)
                .offset(pos)
                .build()
        } else {
            opcode::Read::new(types::Fd(fd), ptr, len)
                .offset(pos)
                .build()
        };
        self.push(&[entry.user_data(FILE | u64::from(index))]);
        DirectRead::new(self, index)
    }

    fn poll_read(
        &self,
        slot: u32,
        cx: &mut Context<'_>,
    ) -> Poll<(std::io::Result<usize>, AlignedBuf)> {
        poll_slot(self, slot, cx)
            .map(|(result, buf)| (result, buf.expect("a read's slot holds its buffer")))
    }

    fn forget_read(&self, slot: u32) {
        forget_slot(self, slot);
    }

    unsafe fn write(
        &self,
        fd: RawFd,
        keep: Rc<dyn Any>,
        bytes: *const u8,
        len: usize,
        pos: u64,
    ) -> DirectWrite<'_> {
        let len = len.min(u32::MAX as usize) as u32;
        let index = self.reads.borrow_mut().take(None, keep);
        self.push(&[opcode::Write::new(types::Fd(fd), bytes, len)
            .offset(pos)
            .build()
            .user_data(FILE | u64::from(index))]);
        Box::pin(FileWrite {
            ring: self,
            index: Some(index),
        })
    }

    unsafe fn write_and_sync(
        &self,
        fd: RawFd,
        keep: Rc<dyn Any>,
        iovecs: *const libc::iovec,
        nr: usize,
        pos: u64,
    ) -> DirectWrite<'_> {
        // SAFETY: the caller keeps `iovecs[..nr]` valid.
        let want: usize = unsafe { std::slice::from_raw_parts(iovecs, nr) }
            .iter()
            .map(|iovec| iovec.iov_len)
            .sum();
        let (write_index, sync_index) = {
            let mut slots = self.reads.borrow_mut();
            (slots.take(None, Rc::clone(&keep)), slots.take(None, keep))
        };
        // One push: a link must not be cut by a submission between the
        // two entries, or the sync could run before the write.
        self.push(&[
            opcode::Writev::new(types::Fd(fd), iovecs, nr.min(u32::MAX as usize) as u32)
                .offset(pos)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(FILE | u64::from(write_index)),
            opcode::Fsync::new(types::Fd(fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(FILE | u64::from(sync_index)),
        ]);
        let write = FileWrite {
            ring: self,
            index: Some(write_index),
        };
        let sync = FileWrite {
            ring: self,
            index: Some(sync_index),
        };
        Box::pin(async move {
            // The sync completes last: awaiting it first wakes the task
            // once, and the write's result is then already there.
            let synced = sync.await;
            let written = write.await?;
            match synced {
                Ok(_) => Ok(written),
                // A short write breaks the link: the caller sees it short
                // and fails the round. A whole write whose sync was
                // cancelled is not durable: that is the sync's error.
                Err(error) if written < want && error.raw_os_error() == Some(libc::ECANCELED) => {
                    Ok(written)
                }
                Err(error) => Err(error),
            }
        })
    }
}

impl Ring {
    /// The thread's slab of read buffers ([`direct::fixed_region`]), as
    /// registered with this ring on its first read; `None` where the
    /// kernel refused it (reads then pin their pages each time).
    fn fixed_region(&self) -> Option<(*mut u8, usize)> {
        if let Some(fixed) = self.reads.borrow().fixed {
            return fixed;
        }
        let region = direct::fixed_region();
        let fixed = match self.register_buffer(region) {
            Ok(()) => Some(region),
            Err(error) => {
                tracing::debug!(%error, "socket ring: no registered read buffers");
                None
            }
        };
        self.reads.borrow_mut().fixed = Some(fixed);
        fixed
    }
}

/// A write (or a sync) in flight on the ring; reads are
/// [`DirectRead`]s, completed through the same slot calls.
struct FileWrite<'a> {
    ring: &'a Ring,
    index: Option<u32>,
}

impl Future for FileWrite<'_> {
    type Output = std::io::Result<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index.expect("FileWrite polled after it completed");
        let done = poll_slot(self.ring, index, cx);
        if done.is_ready() {
            self.index = None;
        }
        done.map(|(result, _)| result)
    }
}

impl Drop for FileWrite<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.index {
            forget_slot(self.ring, index);
        }
    }
}

/// The result of the file operation in slot `index` (and a read's buffer
/// back), freeing the slot, or `Pending` with the task's waker kept.
fn poll_slot(
    ring: &Ring,
    index: u32,
    cx: &mut Context<'_>,
) -> Poll<(std::io::Result<usize>, Option<AlignedBuf>)> {
    let mut reads = ring.reads.borrow_mut();
    match &mut reads.slots[index as usize].state {
        State::Done(result) => {
            let result = *result;
            let buf = reads.release(index);
            let result = if result < 0 {
                Err(std::io::Error::from_raw_os_error(-result))
            } else {
                Ok(result as usize)
            };
            Poll::Ready((result, buf))
        }
        State::InFlight(waker) => {
            match waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
        State::Orphan | State::Free => unreachable!("an awaited read's slot is in flight"),
    }
}

/// The future of slot `index` was dropped before taking its result.
fn forget_slot(ring: &Ring, index: u32) {
    let mut reads = ring.reads.borrow_mut();
    if let State::Done(_) = reads.slots[index as usize].state {
        reads.release(index);
    } else {
        // Not cancelled: a disk read ends soon, and its buffer is freed
        // by its completion.
        reads.slots[index as usize].state = State::Orphan;
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;

    use super::*;

    /// A 4 KiB aligned buffer of `fill` bytes.
    fn block_of(fill: u8) -> AlignedBuf {
        let mut buf = AlignedBuf::with_capacity(4096);
        // SAFETY: the buffer holds at least 4096 bytes.
        unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), fill, 4096) };
        buf
    }

    /// Runs `body` on an executor of its own with a driven ring and the
    /// file at `path` opened with `O_DIRECT` for reading and writing.
    fn on_ring<F, Fut>(path: std::path::PathBuf, body: F)
    where
        F: FnOnce(Rc<Ring>, std::fs::File) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let ring = Ring::new().expect("a ring");
                glommio::spawn_local(Rc::clone(&ring).drive()).detach();
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(&path)
                    .unwrap();
                body(ring, file).await;
            })
            .expect("executor")
            .join()
            .expect("test finishes without panicking");
    }

    #[test]
    fn direct_reads_come_back_whole_short_at_the_end_and_survive_a_dropped_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let data: Vec<u8> = (0..40_000u32).map(|i| ((i * 7) ^ (i >> 9)) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        on_ring(path, move |ring, file| async move {
            let fd = file.as_raw_fd();
            let keep: Rc<dyn Any> = Rc::new(());
            let read = |pos: u64, len: usize| {
                let ring = Rc::clone(&ring);
                let keep = Rc::clone(&keep);
                async move {
                    let buf = AlignedBuf::with_capacity(len);
                    let (result, buf) = ring.read(fd, keep, buf, len, pos).await;
                    let n = result.expect("the read succeeds");
                    // SAFETY: the read wrote `n` bytes.
                    unsafe { buf.filled(n) }.to_vec()
                }
            };
            // Pooled and unpooled buffers; the last read ends past the
            // end of the file and is short.
            for (pos, len) in [(0, 4096), (512 * 5, 512), (8192, 16384), (36_864, 8192)] {
                let got = read(pos, len).await;
                let end = (pos as usize + len).min(data.len());
                assert_eq!(got.len(), end - pos as usize, "read at {pos}");
                assert!(got == data[pos as usize..end], "bytes of the read at {pos}");
            }
            // From the second read on, small reads go into the slab the
            // ring registered: READ_FIXED, no pages pinned per read.
            assert_eq!(
                ring.reads.borrow().fixed_reads,
                2,
                "the 512 B and 8 KiB reads"
            );
            // Many at once, as a pipelined batch submits them: each is
            // queued when made, and one enter carries them all.
            let reads: Vec<_> = (0..9u64)
                .map(|i| {
                    ring.read(
                        fd,
                        Rc::clone(&keep),
                        AlignedBuf::with_capacity(4096),
                        4096,
                        i * 4096,
                    )
                })
                .collect();
            for (i, pending) in reads.into_iter().enumerate() {
                let (result, buf) = pending.await;
                let n = result.expect("the read succeeds");
                let from = i * 4096;
                // SAFETY: the read wrote `n` bytes.
                assert!(unsafe { buf.filled(n) } == &data[from..(from + 4096).min(data.len())]);
            }
            assert_eq!(ring.reads.borrow().fixed_reads, 11, "nine more in the slab");
            // A read dropped before it completes keeps its buffer until
            // the kernel is done; the ring goes on.
            // It also holds what keeps its descriptor open until then.
            let file_kept = Rc::new(());
            drop(ring.read(
                fd,
                file_kept.clone(),
                AlignedBuf::with_capacity(4096),
                4096,
                0,
            ));
            assert_eq!(
                Rc::strong_count(&file_kept),
                2,
                "held while the read is queued"
            );
            assert!(read(4096, 4096).await == data[4096..8192]);
            while Rc::strong_count(&file_kept) > 1 {
                glommio::yield_if_needed().await;
                glommio::executor().yield_task_queue_now().await;
            }
            // A bad descriptor fails the read, not the ring.
            let (result, _) = ring
                .read(-1, Rc::clone(&keep), AlignedBuf::with_capacity(512), 512, 0)
                .await;
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert!(read(0, 512).await == data[..512]);
            drop(file);
        });
    }

    #[test]
    fn direct_writes_land_where_asked_and_hold_their_bytes_until_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, vec![0u8; 16384]).unwrap();
        let check = path.clone();
        on_ring(path, move |ring, file| async move {
            let fd = file.as_raw_fd();
            let block = |fill: u8| {
                let mut buf = block_of(fill);
                let ptr = buf.as_mut_ptr().cast_const();
                (Rc::new(buf), ptr)
            };
            // Two writes queued together, then awaited; the second is
            // dropped at once and still lands, its bytes kept alive.
            let ((first, at_first), (second, at_second)) = (block(0xA1), block(0xB2));
            // SAFETY (each write): `keep` is the buffer itself, never changed.
            let one = unsafe { ring.write(fd, first.clone(), at_first, 4096, 4096) };
            let two = unsafe { ring.write(fd, second.clone(), at_second, 4096, 12288) };
            drop(two);
            drop(second);
            assert_eq!(one.await.expect("the write succeeds"), 4096);
            // A bad descriptor fails the write, not the ring.
            let (bad, at_bad) = block(0);
            let result = unsafe { ring.write(-1, bad, at_bad, 4096, 0) }.await;
            assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
            // The dropped write is done once the ring let go of its buffer.
            while ring.reads.borrow().in_flight() > 0 {
                glommio::yield_if_needed().await;
                glommio::executor().yield_task_queue_now().await;
            }
            drop(file);
        });
        let bytes = std::fs::read(check).unwrap();
        assert!(bytes[..4096].iter().all(|&b| b == 0));
        assert!(bytes[4096..8192].iter().all(|&b| b == 0xA1));
        assert!(bytes[8192..12288].iter().all(|&b| b == 0));
        assert!(bytes[12288..].iter().all(|&b| b == 0xB2));
    }

    #[test]
    fn a_write_linked_to_its_sync_lands_whole_and_fails_as_the_write_failed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, vec![0u8; 16384]).unwrap();
        let check = path.clone();
        on_ring(path, move |ring, file| async move {
            let fd = file.as_raw_fd();
            let mut bufs = Vec::new();
            let mut iovecs = Vec::new();
            for fill in [0xC3u8, 0xD4] {
                let mut buf = block_of(fill);
                iovecs.push(libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: 4096,
                });
                bufs.push(buf);
            }
            let (ptr, nr) = (iovecs.as_ptr(), iovecs.len());
            let keep: Rc<dyn Any> = Rc::new((bufs, iovecs));
            // SAFETY: `keep` holds the iovecs and their buffers, unchanged.
            let written = unsafe { ring.write_and_sync(fd, Rc::clone(&keep), ptr, nr, 4096) };
            assert_eq!(written.await.expect("write and sync succeed"), 8192);
            // A failed write is the error, not its cancelled sync's.
            // SAFETY: as above.
            let failed = unsafe { ring.write_and_sync(-1, keep, ptr, nr, 0) }.await;
            assert_eq!(failed.unwrap_err().raw_os_error(), Some(libc::EBADF));
            assert_eq!(ring.reads.borrow().in_flight(), 0, "both slots released");
            drop(file);
        });
        let bytes = std::fs::read(check).unwrap();
        assert!(bytes[..4096].iter().all(|&b| b == 0));
        assert!(bytes[4096..8192].iter().all(|&b| b == 0xC3));
        assert!(bytes[8192..12288].iter().all(|&b| b == 0xD4));
        assert!(bytes[12288..].iter().all(|&b| b == 0));
    }
}
