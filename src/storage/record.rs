//! The on-disk record codec.
//!
//! Every log file is a plain sequence of records, one after the other with no
//! padding between them. All integers are little-endian.
//!
//! ```text
//! offset size field
//!      0    4 crc32c       CRC32C (Castagnoli) over bytes [4 .. end of record)
//!      4    2 magic        RECORD_MAGIC (0x4B53, "SK" on disk)
//!      6    1 version      RECORD_VERSION (1)
//!      7    1 flags        bit 0: tombstone, bit 1: flush-all marker; other bits 0
//!      8    8 seq          per-shard sequence number, strictly increasing along the log
//!     16    8 expire_at_ms absolute expiry, ms since the Unix epoch; 0 = never
//!     24    4 key_len      bytes of key that follow the header
//!     28    4 value_len    bytes of value that follow the key
//!     32    .. key         key_len bytes
//!     ..    .. value       value_len bytes
//! ```
//!
//! The header is 32 bytes, so a record is `32 + key_len + value_len` bytes.
//! A tombstone carries the deleted key and an empty value; a flush-all marker
//! has an empty key and value. Decoding validates magic, version, flags and
//! lengths (against the bytes that can possibly follow) *before* anything is
//! trusted or allocated, and only then checks the CRC.
//!
//! Zero bytes where a header would start mean "end of data": a flush pads its
//! last partial block with zeros, and the next flush rewrites that block.

/// Offset of the CRC32C field.
pub const OFF_CRC: usize = 0;
/// Offset of the magic number.
pub const OFF_MAGIC: usize = 4;
/// Offset of the format version byte.
pub const OFF_VERSION: usize = 6;
/// Offset of the flags byte.
pub const OFF_FLAGS: usize = 7;
/// Offset of the sequence number.
pub const OFF_SEQ: usize = 8;
/// Offset of the absolute expiry time.
pub const OFF_EXPIRE_AT: usize = 16;
/// Offset of the key length.
pub const OFF_KEY_LEN: usize = 24;
/// Offset of the value length.
pub const OFF_VALUE_LEN: usize = 28;
/// Size of the fixed header; the key starts here.
pub const HEADER_LEN: usize = 32;

/// Magic number identifying a record header.
pub const RECORD_MAGIC: u16 = 0x4B53;
/// The record format version written by this code.
pub const RECORD_VERSION: u8 = 1;

/// Flag bit: the record deletes its key.
pub const FLAG_TOMBSTONE: u8 = 0b01;
/// Flag bit: the record removes every key written before it.
pub const FLAG_FLUSH_ALL: u8 = 0b10;
const KNOWN_FLAGS: u8 = FLAG_TOMBSTONE | FLAG_FLUSH_ALL;

/// Largest record accepted (the keydir stores record lengths as `u32`).
pub const MAX_RECORD_LEN: u64 = u32::MAX as u64;

/// A decoded, validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The stored CRC32C.
    pub crc: u32,
    /// Flag bits (`FLAG_*`).
    pub flags: u8,
    /// Sequence number.
    pub seq: u64,
    /// Absolute expiry in ms; 0 = none.
    pub expire_at_ms: u64,
    /// Key length in bytes.
    pub key_len: u32,
    /// Value length in bytes.
    pub value_len: u32,
}

impl Header {
    /// Total bytes of the record this header starts.
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + self.key_len as u64 + self.value_len as u64
    }

    /// True for a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.flags & FLAG_TOMBSTONE != 0
    }

    /// True for a flush-all marker.
    pub fn is_flush_all(&self) -> bool {
        self.flags & FLAG_FLUSH_ALL != 0
    }
}

/// Why a header or record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than [`HEADER_LEN`] bytes available.
    Truncated,
    /// The header is all zero bytes: end of data.
    Zero,
    /// Wrong magic number.
    BadMagic,
    /// Unknown format version.
    BadVersion,
    /// Unknown flag bits, or a flag combination that makes no sense.
    BadFlags,
    /// Key + value lengths run past the bytes that can follow.
    BadLength,
    /// The checksum does not match the bytes.
    BadCrc,
}

impl DecodeError {
    /// A short human-readable reason.
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated header",
            DecodeError::Zero => "zero header",
            DecodeError::BadMagic => "bad magic",
            DecodeError::BadVersion => "unknown version",
            DecodeError::BadFlags => "bad flags",
            DecodeError::BadLength => "length out of bounds",
            DecodeError::BadCrc => "checksum mismatch",
        }
    }
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

/// Decodes and validates the header at the start of `bytes`.
///
/// `max_record_len` bounds the record length the header may claim (normally
/// the bytes left in the file from this offset), so a garbage length is
/// rejected instead of trusted.
pub fn decode_header(bytes: &[u8], max_record_len: u64) -> Result<Header, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    let header_bytes = &bytes[..HEADER_LEN];
    if header_bytes.iter().all(|&b| b == 0) {
        return Err(DecodeError::Zero);
    }
    if read_u16(header_bytes, OFF_MAGIC) != RECORD_MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if header_bytes[OFF_VERSION] != RECORD_VERSION {
        return Err(DecodeError::BadVersion);
    }
    let flags = header_bytes[OFF_FLAGS];
    if flags & !KNOWN_FLAGS != 0 || flags == KNOWN_FLAGS {
        return Err(DecodeError::BadFlags);
    }
    let header = Header {
        crc: read_u32(header_bytes, OFF_CRC),
        flags,
        seq: read_u64(header_bytes, OFF_SEQ),
        expire_at_ms: read_u64(header_bytes, OFF_EXPIRE_AT),
        key_len: read_u32(header_bytes, OFF_KEY_LEN),
        value_len: read_u32(header_bytes, OFF_VALUE_LEN),
    };
    let len = header.record_len();
    if len > max_record_len || len > MAX_RECORD_LEN {
        return Err(DecodeError::BadLength);
    }
    if header.is_tombstone() && header.value_len != 0 {
        return Err(DecodeError::BadFlags);
    }
    if header.is_flush_all() && (header.key_len != 0 || header.value_len != 0) {
        return Err(DecodeError::BadFlags);
    }
    Ok(header)
}

/// Checks the CRC of a whole record (`record.len()` must be the header's
/// record length).
pub fn verify(header: &Header, record: &[u8]) -> Result<(), DecodeError> {
    if record.len() as u64 != header.record_len() {
        return Err(DecodeError::BadLength);
    }
    if crc32c::crc32c(&record[OFF_MAGIC..]) != header.crc {
        return Err(DecodeError::BadCrc);
    }
    Ok(())
}

/// Decodes and verifies one complete record (header, length and CRC).
pub fn decode(record: &[u8]) -> Result<Header, DecodeError> {
    let header = decode_header(record, record.len() as u64)?;
    verify(&header, record)?;
    Ok(header)
}

/// The key of a verified record.
pub fn key_of<'a>(header: &Header, record: &'a [u8]) -> &'a [u8] {
    &record[HEADER_LEN..HEADER_LEN + header.key_len as usize]
}

/// Where the value lies in a verified record of `record_len` bytes.
pub fn value_range(header: &Header, record_len: usize) -> std::ops::Range<usize> {
    HEADER_LEN + header.key_len as usize..record_len
}

/// The value of a verified record.
pub fn value_of<'a>(header: &Header, record: &'a [u8]) -> &'a [u8] {
    &record[value_range(header, record.len())]
}

/// Whether the record with `header` has expired at `now_ms` (an
/// `expire_at_ms` of 0 never expires).
pub(super) fn is_expired(header: &Header, now_ms: u64) -> bool {
    header.expire_at_ms != 0 && header.expire_at_ms <= now_ms
}

/// Length of the record that [`encode_into`] would append.
pub fn encoded_len(key: &[u8], value: &[u8]) -> u64 {
    HEADER_LEN as u64 + key.len() as u64 + value.len() as u64
}

/// Appends one encoded record to `out`; returns its length.
///
/// The caller checks the length against [`MAX_RECORD_LEN`] first.
pub fn encode_into(
    out: &mut Vec<u8>,
    flags: u8,
    seq: u64,
    expire_at_ms: u64,
    key: &[u8],
    value: &[u8],
) -> usize {
    let start = out.len();
    let len = encoded_len(key, value) as usize;
    // The header is put together on the stack and copied in once (a push
    // per field checked the capacity ten times per record).
    let mut header = [0u8; HEADER_LEN];
    fill_header(&mut header, flags, seq, expire_at_ms, key, value);
    out.reserve(len);
    out.extend_from_slice(&header);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32c::crc32c(&out[start + OFF_MAGIC..]);
    out[start + OFF_CRC..start + OFF_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    len
}

/// Writes every header field but the CRC into `header` (`HEADER_LEN` bytes);
/// the one layout the three encoders share.
fn fill_header(
    header: &mut [u8],
    flags: u8,
    seq: u64,
    expire_at_ms: u64,
    key: &[u8],
    value: &[u8],
) {
    header[OFF_MAGIC..OFF_VERSION].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
    header[OFF_VERSION] = RECORD_VERSION;
    header[OFF_FLAGS] = flags;
    header[OFF_SEQ..OFF_EXPIRE_AT].copy_from_slice(&seq.to_le_bytes());
    header[OFF_EXPIRE_AT..OFF_KEY_LEN].copy_from_slice(&expire_at_ms.to_le_bytes());
    header[OFF_KEY_LEN..OFF_VALUE_LEN].copy_from_slice(&(key.len() as u32).to_le_bytes());
    header[OFF_VALUE_LEN..HEADER_LEN].copy_from_slice(&(value.len() as u32).to_le_bytes());
}

/// Encodes a record into `out`, which must be exactly
/// [`encoded_len`] bytes long; the CRC is computed over the bytes written,
/// in one pass.
pub fn encode_to_slice(
    out: &mut [u8],
    flags: u8,
    seq: u64,
    expire_at_ms: u64,
    key: &[u8],
    value: &[u8],
) {
    let (header, rest) = out.split_at_mut(HEADER_LEN);
    let (key_out, value_out) = rest.split_at_mut(key.len());
    fill_header(header, flags, seq, expire_at_ms, key, value);
    key_out.copy_from_slice(key);
    value_out.copy_from_slice(value);
    let crc = crc32c::crc32c(&out[OFF_MAGIC..]);
    out[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The header of a record of `key` and `value`, its CRC computed over the
/// header's rest, the key and the value where they lie: the caller copies
/// header, key and value where the record goes (in pieces if it must), with
/// no pass over the copy.
pub fn header_for(
    flags: u8,
    seq: u64,
    expire_at_ms: u64,
    key: &[u8],
    value: &[u8],
) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    fill_header(&mut header, flags, seq, expire_at_ms, key, value);
    let crc = crc32c::crc32c_append(
        crc32c::crc32c_append(crc32c::crc32c(&header[OFF_MAGIC..]), key),
        value,
    );
    header[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(flags: u8, seq: u64, expire: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, flags, seq, expire, key, value);
        out
    }

    #[test]
    fn header_for_and_encode_to_slice_match_encode_into() {
        let record = encode(0, 7, 99, b"key", b"value");
        let header = header_for(0, 7, 99, b"key", b"value");
        assert_eq!(&record[..HEADER_LEN], &header[..]);
        let mut out = vec![0xAA; record.len()];
        encode_to_slice(&mut out, 0, 7, 99, b"key", b"value");
        assert_eq!(out, record);
    }

    #[test]
    fn roundtrip() {
        let record = encode(0, 7, 99, b"key", b"value");
        assert_eq!(record.len(), HEADER_LEN + 3 + 5);
        let header = decode(&record).unwrap();
        assert_eq!(header.seq, 7);
        assert_eq!(header.expire_at_ms, 99);
        assert_eq!(key_of(&header, &record), b"key");
        assert_eq!(value_of(&header, &record), b"value");
        assert!(!header.is_tombstone());
    }

    #[test]
    fn layout_is_little_endian_at_documented_offsets() {
        let record = encode(FLAG_TOMBSTONE, 0x0102, 0x0304, b"k", b"");
        assert_eq!(
            &record[OFF_MAGIC..OFF_MAGIC + 2],
            &RECORD_MAGIC.to_le_bytes()
        );
        assert_eq!(record[OFF_VERSION], RECORD_VERSION);
        assert_eq!(record[OFF_FLAGS], FLAG_TOMBSTONE);
        assert_eq!(record[OFF_SEQ], 0x02);
        assert_eq!(record[OFF_SEQ + 1], 0x01);
        assert_eq!(record[OFF_EXPIRE_AT], 0x04);
        assert_eq!(record[OFF_KEY_LEN], 1);
        assert_eq!(record[OFF_VALUE_LEN], 0);
        assert_eq!(record[HEADER_LEN], b'k');
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let record = encode(0, 1, 0, b"some key", b"some value");
        for byte in 0..record.len() {
            for bit in 0..8 {
                let mut bad = record.clone();
                bad[byte] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "flip at byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn lengths_are_bounded_before_use() {
        let mut record = encode(0, 1, 0, b"k", b"v");
        record[OFF_VALUE_LEN..OFF_VALUE_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_header(&record, record.len() as u64),
            Err(DecodeError::BadLength)
        );
        assert_eq!(decode_header(&[0u8; 40], 40), Err(DecodeError::Zero));
        assert_eq!(decode_header(&[1u8; 10], 10), Err(DecodeError::Truncated));
    }
}
