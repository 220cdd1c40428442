//! Hint files: a compact summary of one sealed log file, so that opening a
//! shard reads keys and locations instead of every value.
//!
//! `NNNNNNNN.hint` sits beside `NNNNNNNN.data`. It is written when a log file
//! is sealed (by the maintenance task, in the background) and when a merge
//! writes a file. Layout, all integers little-endian:
//!
//! ```text
//! header (56 bytes)
//!  offset size field
//!       0    8 magic       "SKHINT01"
//!       8    4 file_id     the log file this hint describes
//!      12    4 flags       bit 0: the file holds a flush-all marker (replay
//!                          clears the keydir before applying the entries)
//!      16    8 file_len    size of the log file when the hint was written
//!      24    8 data_end    offset just past the file's last record
//!      32    8 max_seq     highest record sequence number in the file
//!      40    8 nr_entries  entries that follow
//!      48    8 hint_len    bytes of the hint, trailer included
//! entries, each 33 bytes + key
//!       0    1 flags       the record's flags (tombstone)
//!       1    4 key_len
//!       5    4 value_len
//!       9    8 offset      of the record in the log file
//!      17    8 expire_at   absolute expiry in ms; 0 = never
//!      25    8 seq         the record's sequence number
//!      33    .. key
//! trailer
//!       0    4 crc32c      over every byte before it
//! ```
//!
//! Entries are in log order. A hint lists every tombstone and every expired
//! record of its file (they hide older records of their key), and the puts
//! the keydir pointed at when the hint was built; a put superseded by a
//! newer record is left out, because that newer record is replayed after it
//! anyway. Zero bytes pad the file to the DMA block size. A hint whose CRC,
//! header or lengths do not check out, or whose `file_len` differs from the
//! log file's size, is ignored and the log file is scanned instead.

use std::path::Path;

use super::StorageError;
use super::files::os_err;
use super::io::{Backend, OpenMode};
use super::record::HEADER_LEN;

/// Magic bytes at the start of a hint file.
pub const HINT_MAGIC: [u8; 8] = *b"SKHINT01";
/// Bytes of the hint header.
pub const HINT_HEADER_LEN: usize = 56;
/// Bytes of an entry before its key.
pub const ENTRY_FIXED_LEN: usize = 33;
/// Header flag: the file holds a flush-all marker.
pub const HINT_FLAG_FLUSH_ALL: u32 = 1;
/// Chunk size for writing and reading hint files.
const IO_CHUNK: usize = 4 << 20;

/// What a hint's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintHeader {
    /// The log file described.
    pub file_id: u32,
    /// The file holds a flush-all marker.
    pub flush_all: bool,
    /// Size of the log file.
    pub file_len: u64,
    /// End of the file's records.
    pub data_end: u64,
    /// Highest sequence number in the file.
    pub max_seq: u64,
    /// Number of entries.
    pub nr_entries: u64,
}

/// One entry of a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintEntry<'a> {
    /// Record flags.
    pub flags: u8,
    /// The key.
    pub key: &'a [u8],
    /// Value length.
    pub value_len: u32,
    /// Offset of the record in the log file.
    pub offset: u64,
    /// Absolute expiry in ms; 0 = never.
    pub expire_at_ms: u64,
    /// Sequence number.
    pub seq: u64,
}

impl HintEntry<'_> {
    /// Length of the record this entry describes.
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + self.key.len() as u64 + self.value_len as u64
    }
}

/// Builds a hint in memory.
pub struct HintWriter {
    bytes: Vec<u8>,
    nr_entries: u64,
}

impl Default for HintWriter {
    fn default() -> Self {
        HintWriter::new()
    }
}

impl HintWriter {
    /// An empty hint.
    pub fn new() -> HintWriter {
        HintWriter {
            bytes: vec![0; HINT_HEADER_LEN],
            nr_entries: 0,
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: &HintEntry<'_>) {
        let out = &mut self.bytes;
        out.push(entry.flags);
        out.extend_from_slice(&(entry.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&entry.value_len.to_le_bytes());
        out.extend_from_slice(&entry.offset.to_le_bytes());
        out.extend_from_slice(&entry.expire_at_ms.to_le_bytes());
        out.extend_from_slice(&entry.seq.to_le_bytes());
        out.extend_from_slice(entry.key);
        self.nr_entries += 1;
    }

    /// Drops every entry (a flush-all marker makes earlier ones moot).
    pub fn clear(&mut self) {
        self.bytes.truncate(HINT_HEADER_LEN);
        self.nr_entries = 0;
    }

    /// Entries so far.
    pub fn len(&self) -> u64 {
        self.nr_entries
    }

    /// True when no entry was pushed.
    pub fn is_empty(&self) -> bool {
        self.nr_entries == 0
    }

    /// The finished hint bytes.
    pub fn finish(mut self, header: HintHeader) -> Vec<u8> {
        let hint_len = self.bytes.len() as u64 + 4;
        let flags = if header.flush_all {
            HINT_FLAG_FLUSH_ALL
        } else {
            0
        };
        let h = &mut self.bytes[..HINT_HEADER_LEN];
        h[0..8].copy_from_slice(&HINT_MAGIC);
        h[8..12].copy_from_slice(&header.file_id.to_le_bytes());
        h[12..16].copy_from_slice(&flags.to_le_bytes());
        h[16..24].copy_from_slice(&header.file_len.to_le_bytes());
        h[24..32].copy_from_slice(&header.data_end.to_le_bytes());
        h[32..40].copy_from_slice(&header.max_seq.to_le_bytes());
        h[40..48].copy_from_slice(&self.nr_entries.to_le_bytes());
        h[48..56].copy_from_slice(&hint_len.to_le_bytes());
        let crc = crc32c::crc32c(&self.bytes);
        self.bytes.extend_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks a hint for log file `file_id` of size `file_len`; returns its
/// header, or why it is unusable.
pub fn check(bytes: &[u8], file_id: u32, file_len: u64) -> Result<HintHeader, &'static str> {
    if bytes.len() < HINT_HEADER_LEN + 4 || bytes[0..8] != HINT_MAGIC {
        return Err("bad magic or truncated");
    }
    let hint_len = u64_at(bytes, 48);
    if hint_len < (HINT_HEADER_LEN + 4) as u64 || hint_len > bytes.len() as u64 {
        return Err("bad length");
    }
    let hint_len = hint_len as usize;
    let stored_crc = u32_at(bytes, hint_len - 4);
    if crc32c::crc32c(&bytes[..hint_len - 4]) != stored_crc {
        return Err("checksum mismatch");
    }
    let header = HintHeader {
        file_id: u32_at(bytes, 8),
        flush_all: u32_at(bytes, 12) & HINT_FLAG_FLUSH_ALL != 0,
        file_len: u64_at(bytes, 16),
        data_end: u64_at(bytes, 24),
        max_seq: u64_at(bytes, 32),
        nr_entries: u64_at(bytes, 40),
    };
    if header.file_id != file_id {
        return Err("hint of another file");
    }
    if header.file_len != file_len || header.data_end > file_len {
        return Err("log file changed since the hint was written");
    }
    Ok(header)
}

/// Calls `f` for every entry of a hint that passed [`check`]; fails on an
/// entry that runs past the end or points past the file's data.
pub fn for_each_entry(
    bytes: &[u8],
    header: &HintHeader,
    f: &mut dyn FnMut(&HintEntry<'_>),
) -> Result<(), &'static str> {
    let hint_len = u64_at(bytes, 48) as usize;
    let body = &bytes[..hint_len - 4];
    let mut at = HINT_HEADER_LEN;
    for _ in 0..header.nr_entries {
        if body.len() < at + ENTRY_FIXED_LEN {
            return Err("entry runs past the end");
        }
        let key_len = u32_at(body, at + 1) as usize;
        let key_start = at + ENTRY_FIXED_LEN;
        if body.len() - key_start < key_len {
            return Err("key runs past the end");
        }
        let entry = HintEntry {
            flags: body[at],
            key: &body[key_start..key_start + key_len],
            value_len: u32_at(body, at + 5),
            offset: u64_at(body, at + 9),
            expire_at_ms: u64_at(body, at + 17),
            seq: u64_at(body, at + 25),
        };
        if entry.offset + entry.record_len() > header.data_end {
            return Err("entry points past the data");
        }
        f(&entry);
        at = key_start + key_len;
    }
    if at != body.len() {
        return Err("trailing bytes");
    }
    Ok(())
}

/// Writes `bytes` as the hint file `path` (replacing it) and syncs it.
pub async fn write_file(backend: &Backend, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    backend.remove(path).await?;
    let file = backend.open(path, OpenMode::ReadWriteCreate).await?;
    let alignment = file.alignment() as usize;
    let mut at = 0usize;
    while at < bytes.len() {
        let chunk = (bytes.len() - at).min(IO_CHUNK);
        let aligned = chunk.next_multiple_of(alignment);
        let mut buffer = file.alloc_buffer(aligned);
        let target = buffer.as_bytes_mut();
        target[..chunk].copy_from_slice(&bytes[at..at + chunk]);
        target[chunk..].fill(0);
        let written = file.write_at(buffer, at as u64).await.map_err(os_err)?;
        if written < chunk {
            return Err(StorageError::WriteFailed(format!(
                "short write of hint file {}",
                path.display()
            )));
        }
        at += chunk;
    }
    file.fdatasync().await.map_err(os_err)?;
    Ok(())
}

/// The number of entries a hint file's header claims, unchecked (the CRC
/// covers the whole file), capped at what the file's size can hold: only a
/// size estimate, for presizing the keydir.
pub async fn claimed_entries(backend: &Backend, path: &Path) -> Result<u64, StorageError> {
    let file = backend.open(path, OpenMode::Read).await?;
    let len = file.file_size().await.map_err(os_err)?;
    let block = file.alignment().max(HINT_HEADER_LEN as u64) as usize;
    let read = file.read_at_aligned(0, block).await.map_err(os_err)?;
    if read.len() < HINT_HEADER_LEN || read[0..8] != HINT_MAGIC {
        return Ok(0);
    }
    let room = len.saturating_sub(HINT_HEADER_LEN as u64 + 4) / ENTRY_FIXED_LEN as u64;
    Ok(u64_at(&read, 40).min(room))
}

/// Reads a whole hint file.
pub async fn read_file(backend: &Backend, path: &Path) -> Result<Vec<u8>, StorageError> {
    let mut bytes = Vec::new();
    read_file_into(backend, path, &mut bytes).await?;
    Ok(bytes)
}

/// Reads a whole hint file into `bytes` (replacing its contents; its
/// memory is reused).
pub async fn read_file_into(
    backend: &Backend,
    path: &Path,
    bytes: &mut Vec<u8>,
) -> Result<(), StorageError> {
    let file = backend.open(path, OpenMode::Read).await?;
    let len = file.file_size().await.map_err(os_err)?;
    let alignment = file.alignment();
    bytes.clear();
    bytes.reserve_exact(len as usize);
    let mut at = 0u64;
    while at < len {
        let chunk = ((len - at).min(IO_CHUNK as u64)).next_multiple_of(alignment);
        let read = file
            .read_at_aligned(at, chunk as usize)
            .await
            .map_err(os_err)?;
        if read.is_empty() {
            break;
        }
        bytes.extend_from_slice(&read);
        at += read.len() as u64;
    }
    bytes.truncate(len as usize);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut writer = HintWriter::new();
        writer.push(&HintEntry {
            flags: 0,
            key: b"alpha",
            value_len: 10,
            offset: 0,
            expire_at_ms: 0,
            seq: 1,
        });
        writer.push(&HintEntry {
            flags: 1,
            key: b"beta",
            value_len: 0,
            offset: 47,
            expire_at_ms: 5,
            seq: 2,
        });
        writer.finish(HintHeader {
            file_id: 3,
            flush_all: false,
            file_len: 512,
            data_end: 83,
            max_seq: 2,
            nr_entries: 2,
        })
    }

    #[test]
    fn roundtrip() {
        let bytes = sample();
        let header = check(&bytes, 3, 512).unwrap();
        assert_eq!(header.nr_entries, 2);
        let mut keys = Vec::new();
        for_each_entry(&bytes, &header, &mut |entry| keys.push(entry.key.to_vec())).unwrap();
        assert_eq!(keys, vec![b"alpha".to_vec(), b"beta".to_vec()]);
    }

    #[test]
    fn damage_is_detected() {
        let bytes = sample();
        assert!(check(&bytes, 4, 512).is_err());
        assert!(check(&bytes, 3, 1024).is_err());
        for index in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[index] ^= 0x10;
            assert!(check(&bad, 3, 512).is_err(), "flip at {index}");
        }
        assert!(check(&bytes[..bytes.len() - 1], 3, 512).is_err());
    }
}
