//! The buffers reads fill and writes drain, for either backend.

use std::ops::{Deref, Range};
use std::rc::Rc;

use bytes::Bytes;
use glommio::io::{DmaBuffer, ReadResult};

use crate::net::direct::AlignedBuf;

/// Bytes read from a file.
pub enum ReadBuf {
    /// A DMA read result.
    Dma(ReadResult),
    /// A copy out of a simulated file.
    Mem(Vec<u8>),
    /// A read through a [`DirectReader`](crate::net::direct::DirectReader): `len` bytes from `from` of `buf`.
    Direct {
        /// The buffer the read filled from an aligned position.
        buf: AlignedBuf,
        /// Where the bytes asked for start in it.
        from: usize,
        /// How many of them were read.
        len: usize,
    },
}

impl Deref for ReadBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ReadBuf::Dma(result) => result,
            ReadBuf::Mem(bytes) => bytes,
            // SAFETY: the read wrote `from + len` bytes (see `read_direct`).
            ReadBuf::Direct { buf, from, len } => unsafe { &buf.filled(from + len)[*from..] },
        }
    }
}

impl ReadBuf {
    /// `self[range]` as [`Bytes`]. A direct read's bytes are not copied:
    /// the `Bytes` owns the read's buffer (a 1 MiB GET copied its value
    /// out of it, ~14% of its CPU); so do a simulated read's. glommio's
    /// read buffers cannot leave the thread, so theirs are copied.
    pub fn into_bytes(self, range: Range<usize>) -> Bytes {
        match self {
            ReadBuf::Dma(result) => Bytes::copy_from_slice(&result[range]),
            ReadBuf::Mem(bytes) => Bytes::from(bytes).slice(range),
            ReadBuf::Direct { buf, from, len } => {
                assert!(range.end <= len, "a range of the bytes read");
                Bytes::from_owner(Filled {
                    buf,
                    len: from + len,
                })
                .slice(from + range.start..from + range.end)
            }
        }
    }
}

/// A direct read's buffer and how much of it the read wrote, owned by
/// the [`Bytes`] of [`ReadBuf::into_bytes`].
struct Filled {
    buf: AlignedBuf,
    len: usize,
}

impl AsRef<[u8]> for Filled {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the read wrote `len` bytes (see `read_direct`).
        unsafe { self.buf.filled(self.len) }
    }
}

/// An aligned buffer to write from.
pub enum WriteBuf {
    /// A DMA buffer.
    Dma(DmaBuffer),
    /// A plain buffer for a simulated file.
    Mem(Vec<u8>),
}

impl WriteBuf {
    /// The bytes to fill.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            WriteBuf::Dma(buffer) => buffer.as_bytes_mut(),
            WriteBuf::Mem(bytes) => bytes,
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WriteBuf::Dma(buffer) => buffer.as_bytes(),
            WriteBuf::Mem(bytes) => bytes,
        }
    }

    /// Cuts the buffer to its first `len` bytes (a write writes it whole).
    pub fn trim(&mut self, len: usize) {
        match self {
            WriteBuf::Dma(buffer) => buffer.trim_to_size(len),
            WriteBuf::Mem(bytes) => bytes.truncate(len),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            WriteBuf::Dma(buffer) => buffer.len(),
            WriteBuf::Mem(bytes) => bytes.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A filled buffer that is written many times (the flusher's zeros ahead
/// of the log's tail): filled once, not once per write.
#[derive(Clone)]
pub enum SharedBuf {
    /// A DMA buffer.
    Dma(Rc<DmaBuffer>),
    /// A plain buffer for a simulated file.
    Mem(Rc<Vec<u8>>),
}

impl WriteBuf {
    /// Freezes the buffer for [`LogFile::write_shared_at`](super::LogFile::write_shared_at).
    pub fn share(self) -> SharedBuf {
        match self {
            WriteBuf::Dma(buffer) => SharedBuf::Dma(Rc::new(buffer)),
            WriteBuf::Mem(bytes) => SharedBuf::Mem(Rc::new(bytes)),
        }
    }
}

impl SharedBuf {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SharedBuf::Dma(buffer) => buffer.as_bytes(),
            SharedBuf::Mem(bytes) => bytes,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            SharedBuf::Dma(buffer) => buffer.len(),
            SharedBuf::Mem(bytes) => bytes.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes come from the read's buffer at the right place, for both
    /// buffer sizes, and outlive the `ReadBuf` on another thread.
    #[test]
    fn into_bytes_keeps_the_read_buffer_and_its_range() {
        for cap in [4096, 1 << 20] {
            let mut buf = AlignedBuf::with_capacity(cap);
            let filled: Vec<u8> = (0..cap).map(|i| (i * 7 + i / 251) as u8).collect();
            // SAFETY: `filled` has `capacity` bytes at most, the buffer at least.
            unsafe {
                std::ptr::copy_nonoverlapping(filled.as_ptr(), buf.as_mut_ptr(), filled.len())
            };
            let (from, len) = (100, cap - 300);
            let read = ReadBuf::Direct { buf, from, len };
            assert!(read[..] == filled[from..from + len]);
            let ptr = read.as_ptr();
            let bytes = read.into_bytes(10..len - 5);
            assert_eq!(bytes.as_ptr(), ptr.wrapping_add(10), "not copied");
            assert!(bytes[..] == filled[from + 10..from + len - 5]);
            let expected = filled[from + 10..from + len - 5].to_vec();
            std::thread::spawn(move || assert!(bytes[..] == expected[..]))
                .join()
                .unwrap();
        }
        let mem = ReadBuf::Mem(b"header:value".to_vec());
        assert_eq!(&mem.into_bytes(7..12)[..], b"value");
    }
}
