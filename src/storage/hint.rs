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
//!       0    8 magic       "SKHINT02"
//!       8    4 file_id     the log file this hint describes
//!      12    4 flags       bit 0: the file holds a flush-all marker (replay
//!                          clears the keydir before applying the entries)
//!      16    8 file_len    size of the log file when the hint was written
//!      24    8 data_end    offset just past the file's last record
//!      32    8 max_seq     highest record sequence number in the file
//!      40    8 nr_entries  entries that follow
//!      48    8 hint_len    bytes of the hint, trailer included
//! entries, each 6 to 43 bytes + key (LEB128 varints, 7 bits per byte)
//!          1 flags       the record's flags (tombstone)
//!     varint key_len
//!     varint value_len
//!     varint offset      minus the previous entry's offset (entries are in
//!                        log order; the first counts from 0)
//!     varint expire_at   absolute expiry in ms; 0 = never
//!     varint seq         zigzag of the difference from the previous entry's
//!                        sequence number (the first from 0)
//!         .. key
//! trailer
//!       0    4 crc32c      over every byte before it
//! ```
//!
//! Entries are in log order. A hint lists every tombstone and every expired
//! record of its file (they hide older records of their key), and the puts
//! the keydir pointed at, or no longer held, when the hint was built (a key
//! the reaper removed, by a clock that may be ahead of the builder's, is
//! hidden only by its expiring record); a put superseded by a newer record
//! is left out, because that newer record is replayed after it anyway. A typical entry of a 16-byte key takes 23 bytes (version 01,
//! with fixed-width fields, took 49; a version-01 hint is now ignored like
//! any unreadable one and rewritten after the scan). Zero bytes pad the
//! file to the DMA block size. A hint whose CRC,
//! header or lengths do not check out, or whose `file_len` differs from the
//! log file's size, is ignored and the log file is scanned instead.

use std::path::Path;

use super::StorageError;
use super::files::os_err;
use super::io::{Backend, OpenMode};
use super::record::{HEADER_LEN, Header};

/// Magic bytes at the start of a hint file.
pub const HINT_MAGIC: [u8; 8] = *b"SKHINT02";
/// Bytes of the hint header.
pub const HINT_HEADER_LEN: usize = 56;
/// Fewest bytes an entry takes (flags and five one-byte varints).
pub const ENTRY_MIN_LEN: usize = 6;
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

impl<'a> HintEntry<'a> {
    /// The entry of the record with `header` and `key` at `offset`.
    pub fn of_record(header: &Header, key: &'a [u8], offset: u64) -> HintEntry<'a> {
        HintEntry {
            flags: header.flags,
            key,
            value_len: header.value_len,
            offset,
            expire_at_ms: header.expire_at_ms,
            seq: header.seq,
        }
    }

    /// Length of the record this entry describes.
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + self.key.len() as u64 + self.value_len as u64
    }
}

/// Builds a hint in memory.
pub struct HintWriter {
    bytes: Vec<u8>,
    nr_entries: u64,
    /// Offset and sequence number of the last entry (deltas start here).
    last_offset: u64,
    last_seq: u64,
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
            last_offset: 0,
            last_seq: 0,
        }
    }

    /// Appends an entry. Entries must come in log order (offsets never
    /// decrease).
    pub fn push(&mut self, entry: &HintEntry<'_>) {
        debug_assert!(
            entry.offset >= self.last_offset,
            "hint entries out of log order"
        );
        let out = &mut self.bytes;
        out.push(entry.flags);
        put_varint(out, entry.key.len() as u64);
        put_varint(out, entry.value_len as u64);
        put_varint(out, entry.offset - self.last_offset);
        put_varint(out, entry.expire_at_ms);
        put_varint(out, zigzag(entry.seq.wrapping_sub(self.last_seq) as i64));
        out.extend_from_slice(entry.key);
        self.last_offset = entry.offset;
        self.last_seq = entry.seq;
        self.nr_entries += 1;
    }

    /// Drops every entry (a flush-all marker makes earlier ones moot).
    pub fn clear(&mut self) {
        self.bytes.truncate(HINT_HEADER_LEN);
        self.nr_entries = 0;
        self.last_offset = 0;
        self.last_seq = 0;
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

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The varint at `*at` in `bytes`, advancing `*at`; `None` if it runs past
/// the end or does not fit 64 bits.
fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        let bits = (byte & 0x7f) as u64;
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
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
    let (mut offset, mut seq) = (0u64, 0u64);
    for _ in 0..header.nr_entries {
        let Some(&flags) = body.get(at) else {
            return Err("entry runs past the end");
        };
        at += 1;
        let mut field = || get_varint(body, &mut at).ok_or("entry runs past the end");
        let key_len = field()?;
        let value_len = u32::try_from(field()?).map_err(|_| "value length out of range")?;
        offset = offset.checked_add(field()?).ok_or("offset out of range")?;
        let expire_at_ms = field()?;
        seq = seq.wrapping_add(unzigzag(field()?) as u64);
        if ((body.len() - at) as u64) < key_len {
            return Err("key runs past the end");
        }
        let key_len = key_len as usize;
        let entry = HintEntry {
            flags,
            key: &body[at..at + key_len],
            value_len,
            offset,
            expire_at_ms,
            seq,
        };
        if entry
            .offset
            .checked_add(entry.record_len())
            .is_none_or(|end| end > header.data_end)
        {
            return Err("entry points past the data");
        }
        f(&entry);
        at += key_len;
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
    let room = len.saturating_sub(HINT_HEADER_LEN as u64 + 4) / ENTRY_MIN_LEN as u64;
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
    fn wide_fields_and_deltas_roundtrip() {
        let key = vec![b'k'; 300];
        let entries = [
            HintEntry {
                flags: 0,
                key: b"",
                value_len: u32::MAX,
                offset: 0,
                expire_at_ms: u64::MAX,
                seq: u64::MAX,
            },
            HintEntry {
                flags: 1,
                key: &key,
                value_len: 0,
                offset: 1 << 40,
                expire_at_ms: 0,
                seq: 3,
            },
            HintEntry {
                flags: 0,
                key: b"x",
                value_len: 7,
                offset: (1 << 40) + 5,
                expire_at_ms: 1,
                seq: 2,
            },
        ];
        let mut writer = HintWriter::new();
        for entry in &entries {
            writer.push(entry);
        }
        let header = HintHeader {
            file_id: 9,
            flush_all: false,
            file_len: u64::MAX,
            data_end: u64::MAX,
            max_seq: u64::MAX,
            nr_entries: writer.len(),
        };
        let bytes = writer.finish(header);
        let header = check(&bytes, 9, u64::MAX).unwrap();
        let mut seen = Vec::new();
        for_each_entry(&bytes, &header, &mut |entry| {
            seen.push((
                entry.flags,
                entry.key.to_vec(),
                entry.value_len,
                entry.offset,
                entry.expire_at_ms,
                entry.seq,
            ))
        })
        .unwrap();
        let expected: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.flags,
                    e.key.to_vec(),
                    e.value_len,
                    e.offset,
                    e.expire_at_ms,
                    e.seq,
                )
            })
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn clear_restarts_the_deltas() {
        let mut writer = HintWriter::new();
        let entry = |offset, seq| HintEntry {
            flags: 0,
            key: b"a",
            value_len: 1,
            offset,
            expire_at_ms: 0,
            seq,
        };
        writer.push(&entry(1000, 50));
        writer.clear();
        writer.push(&entry(10, 5));
        let nr_entries = writer.len();
        let bytes = writer.finish(HintHeader {
            file_id: 1,
            flush_all: true,
            file_len: 4096,
            data_end: 4096,
            max_seq: 50,
            nr_entries,
        });
        let header = check(&bytes, 1, 4096).unwrap();
        let mut seen = Vec::new();
        for_each_entry(&bytes, &header, &mut |e| seen.push((e.offset, e.seq))).unwrap();
        assert_eq!(seen, vec![(10, 5)]);
    }

    #[test]
    fn bad_varints_are_refused() {
        let mut at = 0;
        assert_eq!(
            get_varint(&[0x80, 0x80], &mut at),
            None,
            "runs past the end"
        );
        let mut at = 0;
        assert_eq!(get_varint(&[0xff; 10], &mut at), None, "more than 64 bits");
        let mut at = 0;
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(get_varint(&max, &mut at), Some(u64::MAX));
        assert_eq!(at, max.len());
        for value in [0i64, 1, -1, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
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
