//! Values: plain filler for speed runs, and self-checking values for
//! `--verify`.
//!
//! A verified value is laid out as (little-endian):
//!
//! | offset          | size | field                                     |
//! |-----------------|------|-------------------------------------------|
//! | 0               | 4    | magic `SCB1`                              |
//! | 4               | 8    | version (unique per SET in this run)      |
//! | 12              | 2    | key length K                              |
//! | 14              | K    | the key the value was written under       |
//! | 14 + K          | ...  | filler from the pattern                   |
//! | len - 4         | 4    | CRC32C of every byte before it            |
//!
//! So a GET can tell a value that belongs to another key (a misrouted or
//! mixed-up record) from a corrupted one (checksum), from one of the wrong
//! length (truncated or padded).

/// First bytes of every verified value.
pub const MAGIC: [u8; 4] = *b"SCB1";
/// Offset of the version.
pub const OFF_VERSION: usize = 4;
/// Offset of the key length.
pub const OFF_KEY_LEN: usize = 12;
/// Offset of the key.
pub const OFF_KEY: usize = 14;
/// Size of the trailing checksum.
pub const CRC_LEN: usize = 4;

/// Filler positions repeat with this period; the pattern is this much
/// longer than the largest value so any start offset below it fits.
const PATTERN_SLACK: usize = 4096;

/// Smallest verified value for a key of `key_len` bytes.
pub fn min_verified_len(key_len: usize) -> usize {
    OFF_KEY + key_len + CRC_LEN
}

/// Random-looking bytes values are cut from (built once per thread).
#[derive(Debug)]
pub struct Pattern {
    bytes: Vec<u8>,
}

impl Pattern {
    /// A pattern for values up to `max_len` bytes.
    pub fn new(max_len: usize, seed: u64) -> Pattern {
        let mut rng = crate::keys::Rng::new(seed ^ 0x5eed);
        let mut bytes = Vec::with_capacity(max_len + PATTERN_SLACK + 8);
        while bytes.len() < max_len + PATTERN_SLACK {
            bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        bytes.truncate(max_len + PATTERN_SLACK);
        Pattern { bytes }
    }

    /// `len` filler bytes starting at `offset % 4096`.
    #[inline]
    pub fn slice(&self, offset: u64, len: usize) -> &[u8] {
        let start = (offset % PATTERN_SLACK as u64) as usize;
        &self.bytes[start..start + len]
    }
}

/// Appends a plain (unchecked) value of `len` bytes.
#[inline]
pub fn append_plain(out: &mut Vec<u8>, pattern: &Pattern, offset: u64, len: usize) {
    out.extend_from_slice(pattern.slice(offset, len));
}

/// Appends a verified value of exactly `len` bytes for `key` at `version`.
/// `len` must be at least [`min_verified_len`] of the key.
#[inline]
pub fn append_verified(out: &mut Vec<u8>, pattern: &Pattern, key: &[u8], version: u64, len: usize) {
    debug_assert!(len >= min_verified_len(key.len()));
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    let filler = len - min_verified_len(key.len());
    out.extend_from_slice(pattern.slice(version, filler));
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Why a value failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// Shorter than a header, or its key length runs past the end.
    TooShort,
    /// Does not start with [`MAGIC`].
    BadMagic,
    /// Carries another key than the one asked for.
    WrongKey,
    /// CRC32C does not match.
    BadChecksum,
    /// Length outside the configured value sizes.
    BadLength,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            VerifyError::TooShort => "value shorter than its header",
            VerifyError::BadMagic => "value has no verify header",
            VerifyError::WrongKey => "value belongs to another key",
            VerifyError::BadChecksum => "value checksum mismatch",
            VerifyError::BadLength => {
                "value length outside --value-size (left by an earlier run? use --preload or a fresh --key-prefix)"
            }
        };
        f.write_str(text)
    }
}

/// Checks a value read back under `key`; returns its version.
pub fn verify(key: &[u8], value: &[u8]) -> Result<u64, VerifyError> {
    if value.len() < OFF_KEY + CRC_LEN {
        return Err(VerifyError::TooShort);
    }
    if value[..OFF_VERSION] != MAGIC {
        return Err(VerifyError::BadMagic);
    }
    let key_len = u16::from_le_bytes([value[OFF_KEY_LEN], value[OFF_KEY_LEN + 1]]) as usize;
    if value.len() < min_verified_len(key_len) {
        return Err(VerifyError::TooShort);
    }
    let (body, crc) = value.split_at(value.len() - CRC_LEN);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != stored {
        return Err(VerifyError::BadChecksum);
    }
    // The checksum passed, so the stored key is what the writer wrote: a
    // different one means the server answered with another key's value.
    if &value[OFF_KEY..OFF_KEY + key_len] != key {
        return Err(VerifyError::WrongKey);
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&value[OFF_VERSION..OFF_KEY_LEN]);
    Ok(u64::from_le_bytes(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_size() {
        let pattern = Pattern::new(4096, 1);
        for len in min_verified_len(5)..600 {
            let mut out = b"prefix".to_vec();
            append_verified(&mut out, &pattern, b"key:7", 99, len);
            assert_eq!(out.len(), 6 + len);
            assert_eq!(verify(b"key:7", &out[6..]), Ok(99));
        }
    }

    #[test]
    fn detects_wrong_key_corruption_and_truncation() {
        let pattern = Pattern::new(1024, 1);
        let mut value = Vec::new();
        append_verified(&mut value, &pattern, b"key:1", 5, 100);
        assert_eq!(verify(b"key:2", &value), Err(VerifyError::WrongKey));
        assert_eq!(verify(b"key:10", &value), Err(VerifyError::WrongKey));

        for position in 0..value.len() {
            let mut corrupt = value.clone();
            corrupt[position] ^= 0x20;
            assert!(verify(b"key:1", &corrupt).is_err(), "flip at {position}");
        }
        assert!(verify(b"key:1", &value[..value.len() - 1]).is_err());
        assert_eq!(verify(b"key:1", &value[..10]), Err(VerifyError::TooShort));
        assert_eq!(
            verify(b"key:1", b"hello world, plain"),
            Err(VerifyError::BadMagic)
        );
    }

    #[test]
    fn versions_change_the_filler() {
        let pattern = Pattern::new(1024, 1);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        append_verified(&mut a, &pattern, b"k", 1, 200);
        append_verified(&mut b, &pattern, b"k", 2, 200);
        assert_ne!(a[30..196], b[30..196]);
    }
}
