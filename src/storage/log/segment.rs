//! The write buffer of one log file: [`Segment`], a chain of DMA [`Chunk`]s
//! (see the parent module's notes on the write buffer and the tail block).

use std::collections::VecDeque;

use bytes::Bytes;

use super::super::io::{Backend, SharedBuf, WriteBuf};

/// Largest capacity of a chunk of the write buffer (see [`Chunk`]), and so
/// the largest single log write. A multiple of any write alignment.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Smallest capacity of a chunk that starts at a block boundary: small
/// records do not take a megabyte each time a flush seals their chunk.
const MIN_CHUNK_BYTES: usize = 64 << 10;

/// The buffer of a [`Chunk`].
pub enum ChunkBuf {
    /// Appends go here.
    Open(WriteBuf),
    /// Handed to a write: read-only from then on.
    Sealed(SharedBuf),
}

/// A piece of the write buffer: an aligned DMA buffer that holds the file's
/// bytes from `start` on. Records are encoded straight into chunks (one
/// record may run across several), and the flusher writes each chunk from
/// its own buffer: no copy between a value's arrival and the disk.
///
/// A chunk is sealed when a flush writes it (padded with zeros to the
/// block); appends then go to a new chunk. Every chunk but a sealed one is
/// full when the next one starts, so the next starts where it ends (at a
/// block boundary), except after a sealed chunk that ends inside a block:
/// the next chunk is that one block, starting with a copy of the sealed
/// chunk's bytes in it (the tail block, rewritten by the next flush), and
/// the chunk after it starts at the block boundary. The tail block is
/// written alone because ext4 completes a direct write without a worker
/// thread only when its blocks are all written, or all allocated ahead and
/// not yet written (see the flusher's `reserve_ahead`).
pub struct Chunk {
    /// File offset of the chunk's first byte; block-aligned.
    pub start: u64,
    /// Bytes of data from `start`.
    pub len: usize,
    /// The bytes.
    pub buf: ChunkBuf,
}

impl Chunk {
    /// File offset just past the chunk's data.
    pub fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    /// The chunk's data.
    pub fn bytes(&self) -> &[u8] {
        match &self.buf {
            ChunkBuf::Open(buf) => &buf.as_bytes()[..self.len],
            ChunkBuf::Sealed(buf) => &buf.as_bytes()[..self.len],
        }
    }

    /// True once a flush has taken it.
    pub fn is_sealed(&self) -> bool {
        matches!(self.buf, ChunkBuf::Sealed(_))
    }

    /// Bytes that can still be appended.
    fn room(&self) -> usize {
        match &self.buf {
            ChunkBuf::Open(buf) => buf.len() - self.len,
            ChunkBuf::Sealed(_) => 0,
        }
    }

    /// Seals the chunk for a write: zeros after the data up to the next
    /// multiple of `alignment` (they mark the end of data), the buffer cut
    /// there. Returns what to write at `start`.
    pub fn seal(&mut self, alignment: u64) -> SharedBuf {
        let placeholder = ChunkBuf::Sealed(SharedBuf::Mem(Default::default()));
        let shared = match std::mem::replace(&mut self.buf, placeholder) {
            ChunkBuf::Sealed(shared) => shared,
            ChunkBuf::Open(mut buf) => {
                let padded = (self.len as u64).next_multiple_of(alignment) as usize;
                buf.as_bytes_mut()[self.len..padded].fill(0);
                buf.trim(padded);
                buf.share()
            }
        };
        self.buf = ChunkBuf::Sealed(shared.clone());
        shared
    }
}

/// The unretired part of one log file.
pub struct Segment {
    /// The log file this segment belongs to.
    pub file_id: u32,
    /// The buffered bytes, in file order (see [`Chunk`]); they reach from
    /// the block of the tail to the end of the appended data.
    pub chunks: VecDeque<Chunk>,
    /// File offset just past the appended data.
    end: u64,
    /// File offset below which the bytes count as gone (written: reads go
    /// to the disk), though their chunk may still be held.
    retired: u64,
    /// File offset up to which the data has been written to the device.
    pub written: u64,
    /// File offset up to which writes are acknowledged (written, and for
    /// `SyncMode::Always` also synced); a failed flush rewinds to here.
    pub acked: u64,
    /// The ticket of the byte at `end()`.
    pub end_ticket: u64,
    /// File offset (block-aligned) up to which a write may have put bytes
    /// on the device. A failed write can leave records there that were
    /// rolled back; the next flush writes zeros up to here so they can
    /// never be recovered.
    pub dirty_end: u64,
    /// End of the zeros written (or blocks allocated) ahead of the data
    /// (see the flusher's `reserve_ahead`), so appends overwrite laid-out
    /// blocks; `u64::MAX` once reserving failed.
    pub reserved: u64,
    /// The next record may be padded (see [`Segment::padding`]): the last
    /// record appended carries the sequence number before the next one.
    /// Not after a rollback (the failed records took numbers) nor right
    /// after a reopen.
    pub may_pad: bool,
}

impl Segment {
    /// A segment for a new, empty file whose first byte will carry
    /// `end_ticket`.
    pub fn empty(file_id: u32, end_ticket: u64) -> Segment {
        Segment {
            file_id,
            chunks: VecDeque::new(),
            end: 0,
            retired: 0,
            written: 0,
            acked: 0,
            end_ticket,
            dirty_end: 0,
            reserved: 0,
            may_pad: false,
        }
    }

    /// The segment of a file reopened with `tail` (the bytes of its last
    /// partial block, at `tail_start`) at the end of its data.
    pub fn reopened(
        file_id: u32,
        tail_start: u64,
        tail: &[u8],
        dirty_end: u64,
        backend: &Backend,
    ) -> Segment {
        let end = tail_start + tail.len() as u64;
        let mut segment = Segment {
            file_id,
            chunks: VecDeque::new(),
            end: tail_start,
            retired: tail_start,
            written: end,
            acked: end,
            end_ticket: 0,
            dirty_end,
            reserved: 0,
            may_pad: false,
        };
        segment.push(&[tail], 1, backend);
        segment
    }

    /// File offset just past the appended data.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// File offset of the first byte still buffered.
    pub fn start(&self) -> u64 {
        self.chunks
            .front()
            .map_or(self.end, |chunk| chunk.start)
            .max(self.retired)
    }

    /// The next `len` bytes of the last chunk, if it has room for them all:
    /// a record that fits is encoded there in one pass (its CRC computed
    /// over the bytes as written).
    pub(super) fn contiguous(&mut self, len: usize) -> Option<&mut [u8]> {
        let chunk = self.chunks.back_mut()?;
        if chunk.room() < len {
            return None;
        }
        let ChunkBuf::Open(buf) = &mut chunk.buf else {
            return None;
        };
        let from = chunk.len;
        chunk.len += len;
        self.end += len as u64;
        Some(&mut buf.as_bytes_mut()[from..from + len])
    }

    /// Appends the concatenation of `parts`, opening chunks as they fill.
    pub(super) fn push(&mut self, parts: &[&[u8]], alignment: u64, backend: &Backend) {
        let mut left: usize = parts.iter().map(|part| part.len()).sum();
        for mut bytes in parts.iter().copied() {
            while !bytes.is_empty() {
                let room = self.chunks.back().map_or(0, Chunk::room);
                if room == 0 {
                    self.open_chunk(left, alignment, backend);
                    continue;
                }
                let len = room.min(bytes.len());
                let chunk = self.chunks.back_mut().expect("a chunk with room");
                if let ChunkBuf::Open(buf) = &mut chunk.buf {
                    buf.as_bytes_mut()[chunk.len..chunk.len + len].copy_from_slice(&bytes[..len]);
                }
                chunk.len += len;
                self.end += len as u64;
                bytes = &bytes[len..];
                left -= len;
            }
        }
    }

    /// Zero bytes that put the next record at the next multiple of
    /// `alignment` when the data ends inside a block a flush has taken (see
    /// the parent module's notes on padding); 0 otherwise.
    pub(super) fn padding(&self, alignment: u64) -> u64 {
        let sealed = self.chunks.back().is_some_and(Chunk::is_sealed);
        if sealed && self.may_pad {
            self.end.next_multiple_of(alignment) - self.end
        } else {
            0
        }
    }

    /// Skips `len` bytes of padding (see [`Segment::padding`]): the sealed
    /// chunk holds them as the zeros it was padded with.
    pub(super) fn pad(&mut self, len: u64) {
        self.end += len;
    }

    /// Starts a chunk at the end of the data, for `want` more bytes: at
    /// its block, with a copy of the bytes already in that block (then the
    /// chunk is that one block).
    fn open_chunk(&mut self, want: usize, alignment: u64, backend: &Backend) {
        let start = self.end - self.end % alignment;
        let kept = (self.end - start) as usize;
        let capacity = if kept > 0 {
            alignment as usize
        } else {
            want.next_power_of_two()
                .clamp(MIN_CHUNK_BYTES, CHUNK_BYTES)
                .next_multiple_of(alignment as usize)
        };
        let mut buf = backend.alloc_buffer(capacity);
        if kept > 0 {
            let last = self.chunks.back().expect("the tail block is buffered");
            let bytes = last.bytes();
            buf.as_bytes_mut()[..kept].copy_from_slice(&bytes[bytes.len() - kept..]);
        }
        self.chunks.push_back(Chunk {
            start,
            len: kept,
            buf: ChunkBuf::Open(buf),
        });
    }

    /// Makes the next flush write the tail block again, when the data ends
    /// inside one that a flush has taken.
    pub fn reopen_tail(&mut self, alignment: u64, backend: &Backend) {
        if !self.end.is_multiple_of(alignment) && self.chunks.back().is_some_and(Chunk::is_sealed) {
            self.open_chunk(0, alignment, backend);
        }
    }

    /// Retires the bytes before `offset` (written ones): the chunks that
    /// end there go.
    pub fn consume(&mut self, offset: u64) {
        self.retired = self.retired.max(offset);
        while self
            .chunks
            .front()
            .is_some_and(|chunk| chunk.end() <= offset)
        {
            self.chunks.pop_front();
        }
    }

    /// Drops the data from file offset `end` on.
    pub fn truncate(&mut self, end: u64) {
        while self.chunks.back().is_some_and(|chunk| chunk.start >= end) {
            self.chunks.pop_back();
        }
        if let Some(last) = self.chunks.back_mut()
            && last.end() > end
        {
            last.len = (end - last.start) as usize;
        }
        self.end = end;
    }

    /// The ticket of file offset `offset` (which must lie within the bytes
    /// appended since the store opened, or at their start).
    pub fn ticket_at(&self, offset: u64) -> u64 {
        self.end_ticket - (self.end() - offset)
    }

    /// A copy of the bytes of `[offset, offset + len)` if they are still
    /// buffered.
    pub fn read(&self, offset: u64, len: u64) -> Option<Bytes> {
        if offset < self.start() || offset + len > self.end() {
            return None;
        }
        // The newest chunk that starts at or before `offset` holds it.
        let first = self
            .chunks
            .iter()
            .rposition(|chunk| chunk.start <= offset)?;
        let chunk = &self.chunks[first];
        let from = (offset - chunk.start) as usize;
        if offset + len <= chunk.end() {
            return Some(Bytes::copy_from_slice(
                &chunk.bytes()[from..from + len as usize],
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        let (mut at, end) = (offset, offset + len);
        for chunk in self.chunks.range(first..) {
            if at >= end {
                break;
            }
            if chunk.end() <= at {
                continue;
            }
            let from = (at - chunk.start) as usize;
            let upto = (chunk.end().min(end) - chunk.start) as usize;
            out.extend_from_slice(&chunk.bytes()[from..upto]);
            at = chunk.start + upto as u64;
        }
        Some(Bytes::from(out))
    }
}
