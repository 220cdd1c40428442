//! DUMP and RESTORE payloads in Redis's serialization format, for strings:
//! the RDB type byte (0, string), the value in RDB string encoding, the RDB
//! version (2 bytes, little-endian) and a CRC-64 (Jones polynomial,
//! reflected, as Redis's crc64.c) of everything before it (8 bytes,
//! little-endian).
//!
//! DUMP writes a value of at most 11 characters that is the canonical
//! decimal form of a 32-bit integer as Redis's integer encoding, and any
//! other value as length + bytes. (Redis LZF-compresses values over 20 bytes
//! when that saves space; such payloads differ from Redis's byte for byte
//! but restore the same anywhere.) RESTORE reads every string encoding:
//! 6/14/32/64-bit lengths, 8/16/32-bit integers and LZF.

use bytes::Bytes;

/// The RDB version DUMP writes: Redis 7.0's, so that Redis 7.0 and later
/// restore our payloads.
pub const RDB_VERSION: u16 = 10;
/// The newest RDB version RESTORE accepts (Redis 7.4's).
const MAX_RDB_VERSION: u16 = 12;
/// The RDB type of a string value.
const RDB_TYPE_STRING: u8 = 0;

/// Why a payload could not be restored.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short, a version we do not know, or a checksum that does not match.
    VersionOrChecksum,
    /// Not a string, or the encoding is broken.
    BadFormat,
}

/// CRC-64/Jones as Redis computes it (`crc64(0, data, len)`).
pub fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95AC_9329_AC4B_C9B5; // 0xad93d23594c935a9 reflected
    let mut crc: u64 = 0;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// The DUMP payload of a string value.
pub fn dump(value: &[u8]) -> Bytes {
    let mut out = vec![RDB_TYPE_STRING];
    match small_integer(value) {
        Some(n) if i8::try_from(n).is_ok() => {
            out.push(0xC0);
            out.push(n as i8 as u8);
        }
        Some(n) if i16::try_from(n).is_ok() => {
            out.push(0xC1);
            out.extend_from_slice(&(n as i16).to_le_bytes());
        }
        Some(n) => {
            out.push(0xC2);
            out.extend_from_slice(&n.to_le_bytes());
        }
        None => {
            put_len(&mut out, value.len() as u64);
            out.extend_from_slice(value);
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(out)
}

/// The value as a 32-bit integer when Redis would store it integer-encoded:
/// at most 11 characters, and exactly the integer's decimal form.
fn small_integer(value: &[u8]) -> Option<i32> {
    if value.len() > 11 {
        return None;
    }
    let n = crate::commands::parse_i64(value)?;
    i32::try_from(n).ok()
}

fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The string value a RESTORE payload holds.
pub fn restore(payload: &[u8], max_len: u64) -> Result<Bytes, PayloadError> {
    if payload.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    if version > MAX_RDB_VERSION || crc64(&payload[..payload.len() - 8]) != crc {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut reader = Reader { data: body, pos: 0 };
    if reader.byte()? != RDB_TYPE_STRING {
        return Err(PayloadError::BadFormat);
    }
    reader.string(max_len)
}

/// A cursor over a payload's body; every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length, or one of the special string encodings.
enum Len {
    Plain(u64),
    Int8,
    Int16,
    Int32,
    Lzf,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PayloadError> {
        let end = self.pos.checked_add(n).ok_or(PayloadError::BadFormat)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or(PayloadError::BadFormat)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PayloadError> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<Len, PayloadError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3F)),
            1 => Len::Plain((u64::from(first & 0x3F) << 8) | u64::from(self.byte()?)),
            2 if first == 0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().expect("4"),
            ))),
            2 if first == 0x81 => {
                Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().expect("8")))
            }
            3 => match first & 0x3F {
                0 => Len::Int8,
                1 => Len::Int16,
                2 => Len::Int32,
                3 => Len::Lzf,
                _ => return Err(PayloadError::BadFormat),
            },
            _ => return Err(PayloadError::BadFormat),
        })
    }

    fn plain_len(&mut self) -> Result<u64, PayloadError> {
        match self.len()? {
            Len::Plain(len) => Ok(len),
            _ => Err(PayloadError::BadFormat),
        }
    }

    fn string(&mut self, max_len: u64) -> Result<Bytes, PayloadError> {
        Ok(match self.len()? {
            Len::Int8 => Bytes::from((self.byte()? as i8).to_string()),
            Len::Int16 => {
                let n = i16::from_le_bytes(self.take(2)?.try_into().expect("2"));
                Bytes::from(n.to_string())
            }
            Len::Int32 => {
                let n = i32::from_le_bytes(self.take(4)?.try_into().expect("4"));
                Bytes::from(n.to_string())
            }
            Len::Plain(len) => {
                if len > max_len {
                    return Err(PayloadError::BadFormat);
                }
                Bytes::copy_from_slice(self.take(len as usize)?)
            }
            Len::Lzf => {
                let compressed_len = self.plain_len()?;
                let len = self.plain_len()?;
                if len > max_len || compressed_len > self.data.len() as u64 {
                    return Err(PayloadError::BadFormat);
                }
                let compressed = self.take(compressed_len as usize)?;
                Bytes::from(lzf_decompress(compressed, len as usize)?)
            }
        })
    }
}

/// LZF decompression (the format of Marc Lehmann's liblzf, which Redis
/// uses): a control byte below 32 starts a literal run of ctrl+1 bytes;
/// otherwise its top 3 bits (7: plus the next byte) + 2 give a length, and
/// its low 5 bits with the next byte a distance back into the output.
fn lzf_decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    let next = |ip: &mut usize| -> Result<u8, PayloadError> {
        let byte = *input.get(*ip).ok_or(PayloadError::BadFormat)?;
        *ip += 1;
        Ok(byte)
    };
    while ip < input.len() {
        let ctrl = usize::from(next(&mut ip)?);
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(ip..ip + run).ok_or(PayloadError::BadFormat)?;
            if out.len() + run > out_len {
                return Err(PayloadError::BadFormat);
            }
            out.extend_from_slice(literal);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(next(&mut ip)?);
            }
            len += 2;
            let back = ((ctrl & 0x1F) << 8) + usize::from(next(&mut ip)?) + 1;
            if back > out.len() || out.len() + len > out_len {
                return Err(PayloadError::BadFormat);
            }
            let start = out.len() - back;
            for index in 0..len {
                let byte = out[start + index];
                out.push(byte);
            }
        }
    }
    if out.len() != out_len {
        return Err(PayloadError::BadFormat);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_match_redis_byte_for_byte() {
        // DUMP of redis-server 7.0.15 for the same values.
        assert_eq!(&dump(b"123")[..], b"\x00\xc0{\n\x00H\xe2S\xe1\x00zg\xb9");
        assert_eq!(&dump(b"hello")[..], b"\x00\x05hello\n\x00cr\xdfve4 \n");
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn restore_reads_every_encoding() {
        for value in [
            &b""[..],
            b"0",
            b"-1",
            b"127",
            b"-129",
            b"40000",
            b"-2147483648",
            b"0123",
            b"x",
        ] {
            assert_eq!(&restore(&dump(value), 1 << 20).unwrap()[..], value);
        }
        let long = vec![b'z'; 20_000];
        assert_eq!(&restore(&dump(&long), 1 << 20).unwrap()[..], &long[..]);
        // An LZF payload made by redis-server 7.0.15 (105 times 'a').
        let lzf = b"\x00\xc3\t@i\x01aa\xe0\\\x00\x01aa\n\x00\xf2\xc9\xc5\xb9\xff/qk";
        assert_eq!(&restore(lzf, 1 << 20).unwrap()[..], &[b'a'; 105][..]);
        let mut corrupt = dump(b"hello").to_vec();
        corrupt[2] ^= 1;
        assert_eq!(
            restore(&corrupt, 1 << 20),
            Err(PayloadError::VersionOrChecksum)
        );
        assert_eq!(
            restore(b"short", 1 << 20),
            Err(PayloadError::VersionOrChecksum)
        );
    }
}
