//! A sliding window over one log file's bytes, filled by aligned DMA reads:
//! how recovery, hint building and merge walk a file record by record.
//!
//! A window can read ahead ([`Window::with_read_ahead`]): chunks after the
//! one being worked on are already being read, so a scan at open is bound
//! by the slower of the disk and the CPU instead of their sum.

use std::collections::VecDeque;
use std::rc::Rc;

use glommio::Task;

use super::StorageError;
use super::files::os_err;
use super::io::{LogFile, ReadBuf};
use super::record::{self, HEADER_LEN, Header};

/// Bytes read per DMA read while scanning.
pub const SCAN_CHUNK: u64 = 1 << 20;
/// Values at least this long are not read back by a hint build (see
/// [`Window::large_record_head`]): half of a background scan's read.
pub(super) const LARGE_VALUE: u64 = 64 << 10;
/// Longest run of zeros [`Window::after_padding`] steps over: more than any
/// block a log file is padded to.
const MAX_PADDING: u64 = 64 << 10;
/// Padding ends at a multiple of this (every log alignment is one).
const PADDING_UNIT: u64 = 512;

/// A sliding window of one file's bytes, filled by aligned DMA reads.
///
/// The window is the read buffers themselves, in file order: a record that
/// lies inside one buffer is looked at where the disk put it, and only one
/// that straddles two buffers is copied out (into `joined`).
pub(super) struct Window {
    pub(super) file: Rc<LogFile>,
    pub(super) file_len: u64,
    /// Contiguous read buffers: file offset of each and its bytes.
    chunks: VecDeque<(u64, ReadBuf)>,
    /// A copy of the range last asked for that straddles chunks.
    joined: Vec<u8>,
    /// File offset of `joined[0]`.
    joined_start: u64,
    pub(super) bytes_read: u64,
    pub(super) reads: u64,
    /// Length of one read (at least; a record longer than it is read whole).
    chunk: u64,
    /// Chunks to keep in flight ahead of the window (0: none).
    read_ahead: usize,
    /// Reads in flight ahead of the window, in file order: offset and task.
    ahead: VecDeque<(u64, Task<std::io::Result<ReadBuf>>)>,
}

impl Window {
    pub(super) fn new(file: Rc<LogFile>, file_len: u64) -> Window {
        Window {
            file,
            file_len,
            chunks: VecDeque::new(),
            joined: Vec::new(),
            joined_start: 0,
            bytes_read: 0,
            reads: 0,
            chunk: SCAN_CHUNK,
            read_ahead: 0,
            ahead: VecDeque::new(),
        }
    }

    /// Keeps `chunks` reads in flight ahead of a window that moves
    /// forward, for a scan that has the disk to itself (open).
    pub(super) fn with_read_ahead(mut self, chunks: usize) -> Window {
        self.read_ahead = chunks;
        self
    }

    /// Reads `len` bytes at a time instead of [`SCAN_CHUNK`]: background
    /// scans keep each of their reads short, because every foreground I/O
    /// queued behind one in the device waits for it.
    pub(super) fn with_chunk(mut self, len: u64) -> Window {
        assert!(len > 0, "a window reads something");
        self.chunk = len;
        self
    }

    /// File offset one past the window's last byte (0 when it holds none).
    fn end(&self) -> u64 {
        self.chunks
            .back()
            .map_or(0, |(start, bytes)| start + bytes.len() as u64)
    }

    /// The read at `pos` if it was started ahead; any other read ahead is
    /// dropped (the window jumped).
    fn take_ahead(&mut self, pos: u64) -> Option<Task<std::io::Result<ReadBuf>>> {
        match self.ahead.front() {
            Some((at, _)) if *at == pos => self.ahead.pop_front().map(|(_, task)| task),
            Some(_) => {
                self.ahead.clear();
                None
            }
            None => None,
        }
    }

    /// Starts reads of the chunks after `next` until `read_ahead` are in
    /// flight. A task only queues its read when this one next waits, and
    /// the executor submits all queued reads at once: so while the window's
    /// owner works on one chunk, the disk is reading the next ones.
    fn queue_ahead(&mut self, next: u64) {
        let chunk = self.chunk;
        let mut pos = self.ahead.back().map_or(next, |(at, _)| at + chunk);
        while self.ahead.len() < self.read_ahead && pos < self.file_len {
            let file = self.file.clone();
            let task =
                glommio::spawn_local(
                    async move { file.read_at_aligned(pos, chunk as usize).await },
                );
            self.ahead.push_back((pos, task));
            pos += chunk;
        }
    }

    /// Makes `[offset, offset + len)` available to [`Window::slice`]; false
    /// if it runs past the end of the file.
    pub(super) async fn ensure(&mut self, offset: u64, len: u64) -> Result<bool, StorageError> {
        self.fill(offset, len, self.chunk).await
    }

    /// [`Window::ensure`] with reads of at least `min_read` bytes (rounded
    /// up to the file's alignment) instead of the window's chunk.
    async fn fill(&mut self, offset: u64, len: u64, min_read: u64) -> Result<bool, StorageError> {
        let wanted_end = offset + len;
        if wanted_end > self.file_len {
            return Ok(false);
        }
        let alignment = self.file.alignment();
        let start = self.chunks.front().map_or(u64::MAX, |(start, _)| *start);
        if offset < start || offset > self.end() {
            self.chunks.clear();
        }
        // Buffers wholly before `offset` are done with.
        while self.chunks.front().is_some_and(|(start, bytes)| {
            start + bytes.len() as u64 <= offset && self.chunks.len() > 1
        }) {
            self.chunks.pop_front();
        }
        let mut read_from = match self.chunks.is_empty() {
            true => offset - offset % alignment,
            false => self.end(),
        };
        while read_from < wanted_end {
            let missing = wanted_end - read_from;
            let read_len = missing.max(min_read);
            let read_len = read_len.div_ceil(alignment) * alignment;
            let result = if let Some(task) = self.take_ahead(read_from) {
                task.await
            } else if read_from.is_multiple_of(alignment) {
                self.file
                    .read_at_aligned(read_from, read_len as usize)
                    .await
            } else {
                self.file.read_at(read_from, read_len as usize).await
            }
            .map_err(os_err)?;
            self.reads += 1;
            self.bytes_read += result.len() as u64;
            if result.is_empty() {
                return Ok(false);
            }
            let next = read_from + result.len() as u64;
            if self.read_ahead > 0 && read_from.is_multiple_of(self.chunk) {
                self.queue_ahead(next);
            }
            self.chunks.push_back((read_from, result));
            read_from = next;
        }
        if len > 0 && self.within_one_chunk(offset, wanted_end).is_none() {
            let joined_end = self.joined_start + self.joined.len() as u64;
            if !(self.joined_start <= offset && wanted_end <= joined_end) {
                self.joined.clear();
                for (start, bytes) in &self.chunks {
                    let end = start + bytes.len() as u64;
                    if end <= offset || *start >= wanted_end {
                        continue;
                    }
                    let from = offset.max(*start) - start;
                    let to = wanted_end.min(end) - start;
                    self.joined
                        .extend_from_slice(&bytes[from as usize..to as usize]);
                }
                self.joined_start = offset;
            }
        }
        Ok(true)
    }

    /// The chunk holding all of `[offset, end)`, if one does.
    fn within_one_chunk(&self, offset: u64, end: u64) -> Option<&[u8]> {
        self.chunks.iter().find_map(|(start, bytes)| {
            let chunk_end = start + bytes.len() as u64;
            (*start <= offset && end <= chunk_end)
                .then(|| &bytes[(offset - start) as usize..(end - start) as usize])
        })
    }

    /// Bytes `[offset, offset + len)`, made available by [`Window::ensure`].
    pub(super) fn slice(&self, offset: u64, len: u64) -> &[u8] {
        if len == 0 {
            // `ensure` reads nothing for an empty range, so no chunk may
            // hold `offset` (say, the aligned end of data after a torn tail).
            return &[];
        }
        let end = offset + len;
        if let Some(bytes) = self.within_one_chunk(offset, end) {
            return bytes;
        }
        let from = (offset - self.joined_start) as usize;
        &self.joined[from..from + len as usize]
    }

    /// The valid record at `offset`, if there is one with a sequence number
    /// above `min_seq`.
    pub(super) async fn record_at(
        &mut self,
        offset: u64,
        min_seq: u64,
    ) -> Result<Option<Header>, StorageError> {
        let remaining = self.file_len - offset;
        if remaining < HEADER_LEN as u64 || !self.ensure(offset, HEADER_LEN as u64).await? {
            return Ok(None);
        }
        let header = match record::decode_header(self.slice(offset, HEADER_LEN as u64), remaining) {
            Ok(header) if header.seq > min_seq => header,
            _ => return Ok(None),
        };
        if !self.ensure(offset, header.record_len()).await? {
            return Ok(None);
        }
        match record::verify(&header, self.slice(offset, header.record_len())) {
            Ok(()) => Ok(Some(header)),
            Err(_) => Ok(None),
        }
    }

    /// The record at `offset` when it is a large one (a value of at least
    /// [`LARGE_VALUE`] bytes) with a valid header and a sequence number above
    /// `min_seq`, having read only its header and key: what a hint build
    /// needs, without reading the value back (a sealed file of 1 MiB values
    /// was read back whole, doubling the disk traffic of the writes that
    /// filled it). The value's CRC is not checked here: a GET checks it.
    /// `None` for any other record, which [`Window::record_at`] then reads
    /// and checks whole. A header not in the window yet is read with one
    /// short read only when `expect_large` (the previous record was large),
    /// so files of small records keep their long reads.
    pub(super) async fn large_record_head(
        &mut self,
        offset: u64,
        min_seq: u64,
        expect_large: bool,
    ) -> Result<Option<Header>, StorageError> {
        let remaining = self.file_len - offset;
        if remaining < HEADER_LEN as u64 {
            return Ok(None);
        }
        let header_len = HEADER_LEN as u64;
        let in_window = self.within_one_chunk(offset, offset + header_len).is_some();
        let readable = in_window || (expect_large && self.fill(offset, header_len, 0).await?);
        if !readable {
            return Ok(None);
        }
        let header = match record::decode_header(self.slice(offset, header_len), remaining) {
            Ok(header) if header.seq > min_seq && u64::from(header.value_len) >= LARGE_VALUE => {
                header
            }
            _ => return Ok(None),
        };
        let head_len = header_len + u64::from(header.key_len);
        if !self.fill(offset, head_len, 0).await? {
            return Ok(None);
        }
        Ok(Some(header))
    }

    /// Where the next record starts when `offset`, just past the record
    /// with sequence number `last_seq`, begins the zeros that the log's
    /// writer left before a big record (see "Padding" in `log.rs`): zeros
    /// up to a multiple of [`PADDING_UNIT`] within [`MAX_PADDING`], where a
    /// record header carries `last_seq + 1`. `None` otherwise. Only the
    /// header is checked; the caller reads the record there as any other.
    ///
    /// The sequence number makes this safe against a torn write: zeros
    /// left by a write that did not land cover at least one record, so the
    /// record after them carries a later number.
    pub(super) async fn after_padding(
        &mut self,
        offset: u64,
        last_seq: u64,
    ) -> Result<Option<u64>, StorageError> {
        if last_seq == 0 {
            return Ok(None);
        }
        let header_len = HEADER_LEN as u64;
        let mut next = (offset + 1).next_multiple_of(PADDING_UNIT);
        let mut zeros_to = offset;
        while next - offset <= MAX_PADDING {
            // Short reads: a hint build reads only headers of big records.
            if !self.fill(offset, next + header_len - offset, 0).await? {
                return Ok(None);
            }
            let bytes = self.slice(offset, next + header_len - offset);
            let at = (next - offset) as usize;
            if bytes[(zeros_to - offset) as usize..at]
                .iter()
                .any(|&byte| byte != 0)
            {
                return Ok(None);
            }
            zeros_to = next;
            if record::decode_header(&bytes[at..], self.file_len - next)
                .is_ok_and(|header| header.seq == last_seq + 1)
            {
                return Ok(Some(next));
            }
            next += PADDING_UNIT;
        }
        Ok(None)
    }

    /// Searches `(from, file_len)` for the next good record; returns its
    /// offset and whether every byte skipped on the way was zero.
    pub(super) async fn resync(
        &mut self,
        from: u64,
        min_seq: u64,
    ) -> Result<(Option<u64>, bool), StorageError> {
        let mut all_zero = true;
        let mut offset = from;
        while offset < self.file_len {
            let chunk = (self.file_len - offset).min(self.chunk);
            if !self.ensure(offset, chunk).await? {
                break;
            }
            let bytes = self.slice(offset, chunk).to_vec();
            for (index, &byte) in bytes.iter().enumerate() {
                let candidate = offset + index as u64;
                if candidate > from
                    && byte != 0
                    && self.record_at(candidate, min_seq).await?.is_some()
                {
                    return Ok((Some(candidate), all_zero));
                }
                all_zero &= byte == 0;
            }
            offset += chunk;
        }
        Ok((None, all_zero))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::files::open_sealed;
    use crate::storage::io::Backend;
    use crate::storage::tests::{run, temp_dir};

    /// Any range comes back as the file's bytes: inside a chunk, across two
    /// chunks, after jumping back, and empty (even where no chunk is held).
    #[test]
    fn slices_match_the_file_wherever_they_fall() {
        let dir = temp_dir();
        let path = dir.path().join("bytes");
        let content: Vec<u8> = (0..3 * SCAN_CHUNK as usize + 777)
            .map(|at| (at * 31 % 251) as u8)
            .collect();
        std::fs::write(&path, &content).unwrap();
        run(move || async move {
            let file = open_sealed(&Backend::Dma, &path).await.unwrap();
            for (read_ahead, read_len) in [(0, SCAN_CHUNK), (4, SCAN_CHUNK), (0, 64 << 10)] {
                let mut window = Window::new(file.clone(), content.len() as u64)
                    .with_read_ahead(read_ahead)
                    .with_chunk(read_len);
                let chunk = SCAN_CHUNK;
                let ranges = [
                    (0, 100),
                    (chunk - 10, 20),       // straddles two chunks
                    (2 * chunk - 5, chunk), // straddles, a chunk long
                    (4096, 0),              // empty, behind the window
                    (5000, 3000),           // jumps back
                    (3 * chunk, 777),       // to the very end
                ];
                for (offset, len) in ranges {
                    assert!(window.ensure(offset, len).await.unwrap(), "{offset}+{len}");
                    let want = &content[offset as usize..(offset + len) as usize];
                    assert!(window.slice(offset, len) == want, "{offset}+{len}");
                }
                assert!(
                    !window.ensure(3 * chunk, 778).await.unwrap(),
                    "past the end"
                );
            }
        });
    }

    /// A scan the way a hint build walks a file finds every record and
    /// key, and reads large values only when it cannot tell a record is
    /// large (the first one); a damaged large header is not taken for one.
    #[test]
    fn large_records_are_found_by_their_heads() {
        let dir = temp_dir();
        let path = dir.path().join("records");
        let sizes = [10usize, 300 << 10, 1 << 20, 70 << 10, 5, 1 << 20, 20];
        let mut content = Vec::new();
        let mut offsets = Vec::new();
        for (seq, &size) in sizes.iter().enumerate() {
            offsets.push(content.len() as u64);
            let key = format!("key{seq}");
            let value = vec![seq as u8 + 1; size];
            record::encode_into(&mut content, 0, seq as u64 + 1, 0, key.as_bytes(), &value);
        }
        let data_end = content.len() as u64;
        content.resize(content.len().next_multiple_of(4096) + 4096, 0);
        std::fs::write(&path, &content).unwrap();
        run(move || async move {
            let file = open_sealed(&Backend::Dma, &path).await.unwrap();
            let mut window = Window::new(file, content.len() as u64).with_chunk(128 << 10);
            let (mut offset, mut seq, mut large, mut found) = (0u64, 0u64, false, Vec::new());
            while offset < data_end {
                let head = window.large_record_head(offset, seq, large).await.unwrap();
                large = head.is_some();
                let header = match head {
                    Some(header) => header,
                    None => window
                        .record_at(offset, seq)
                        .await
                        .unwrap()
                        .expect("a record"),
                };
                let head_len = HEADER_LEN as u64 + u64::from(header.key_len);
                let key = record::key_of(&header, window.slice(offset, head_len)).to_vec();
                found.push((offset, String::from_utf8(key).unwrap(), header.value_len));
                seq = header.seq;
                offset += header.record_len();
            }
            let want: Vec<_> = sizes
                .iter()
                .enumerate()
                .map(|(seq, &size)| (offsets[seq], format!("key{seq}"), size as u32))
                .collect();
            assert_eq!(found, want);
            // One 128 KiB read at the start, then a block per record head:
            // no large value is read past what the first read covered.
            assert!(
                window.bytes_read <= (128 << 10) + 6 * 4096,
                "read {} of {data_end} bytes",
                window.bytes_read
            );

            // A large record whose header is damaged is not taken for one.
            let mut damaged = content.clone();
            damaged[offsets[2] as usize + record::OFF_MAGIC] ^= 0xff;
            let path = dir.path().join("damaged");
            std::fs::write(&path, &damaged).unwrap();
            let file = open_sealed(&Backend::Dma, &path).await.unwrap();
            let mut window = Window::new(file, damaged.len() as u64).with_chunk(128 << 10);
            assert!(
                window
                    .large_record_head(offsets[2], 2, true)
                    .await
                    .unwrap()
                    .is_none(),
                "a bad magic is no large record"
            );
            assert!(window.record_at(offsets[2], 2).await.unwrap().is_none());
        });
    }
}
