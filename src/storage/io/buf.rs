//! The buffers reads fill and writes drain, for either backend.

use std::ops::Deref;
use std::rc::Rc;

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
