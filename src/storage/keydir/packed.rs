//! The packed keydir record: its byte layout in a slot's arena, and reading
//! and writing it.
//!
//! ```text
//! varint   (key_len << 4) | flags      1 byte for keys < 8 B, 2 below 2 KiB
//! u64 LE   location                    (file_id << 40) | offset
//! u32 LE   record_len
//! u32 LE   value_len                   only with FLAG_VALUE_LEN
//! u64 LE   expire_at_ms                only with FLAG_EXPIRY
//! u32 LE   cache slot                  only with FLAG_CACHE
//! [u8]     key
//! ```
//!
//! A record needs no explicit `value_len` when it equals
//! `record_len - HEADER_LEN - key_len`, which holds for every record the
//! engine writes; the flag keeps any other entry exact. A 16-byte key without
//! expiry costs 14 bytes beyond the key here.
//!
//! The cache slot is where the value cache keeps this key's value (see
//! [`crate::storage::cache`]): a GET goes from the keydir record straight to
//! the cached value, with no second lookup. Only keys whose value has been
//! cached carry the field (4 bytes), and they keep it when the value is
//! evicted ([`NO_CACHE`]) or the key rewritten, so a key moving in and out of
//! the cache is not reshaped each time. The slot is a hint: the cache checks
//! that the node it names still holds this record's location.

use super::super::record::HEADER_LEN;
use super::Entry;

/// Record flag: removed or superseded; skipped, reclaimed by compaction.
pub(super) const FLAG_DEAD: u64 = 1;
/// Record flag: an `expire_at_ms` field is present.
pub(super) const FLAG_EXPIRY: u64 = 2;
/// Record flag: a `value_len` field is present.
pub(super) const FLAG_VALUE_LEN: u64 = 4;
/// Record flag: a cache slot field is present.
pub(super) const FLAG_CACHE: u64 = 8;
/// Bits of the first varint taken by flags.
const FLAG_BITS: u32 = 4;

/// Bytes of the location and record length fields.
const FIXED_LEN: usize = 12;

/// The cache slot of a key whose value is not cached.
pub const NO_CACHE: u32 = u32::MAX;

/// Where a record's parts are, parsed from its first bytes.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    /// Flag bits of the header varint.
    pub flags: u64,
    /// Arena offset of the location field.
    pub fields: usize,
    /// Arena offset of the key.
    pub key: usize,
    /// Arena offset one past the record.
    pub end: usize,
}

/// The shape flags `entry` needs next to a key of `key_len` bytes (without
/// [`FLAG_CACHE`], which the caller decides).
pub(super) fn flags_for(key_len: usize, entry: &Entry) -> u64 {
    let mut flags = 0;
    if entry.expire_at_ms != 0 {
        flags |= FLAG_EXPIRY;
    }
    if HEADER_LEN as u64 + key_len as u64 + entry.value_len as u64 != entry.record_len as u64 {
        flags |= FLAG_VALUE_LEN;
    }
    flags
}

/// Arena bytes of a record for a key of `key_len` bytes whose value length
/// is implied by its record length (as for every record the engine writes)
/// and whose value is not cached (as after recovery).
pub(super) fn record_size(key_len: usize, has_expiry: bool) -> usize {
    let header = ((key_len as u64) << FLAG_BITS) | FLAG_EXPIRY;
    let varint_len = (64 - header.leading_zeros() as usize).div_ceil(7);
    varint_len + FIXED_LEN + key_len + if has_expiry { 8 } else { 0 }
}

/// The most bytes a record for a key of `key_len` bytes can take.
pub(super) fn max_record_size(key_len: usize) -> usize {
    10 + FIXED_LEN + key_len + 4 + 8 + 4
}

pub(super) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(super) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Parses the record at `at`.
pub(super) fn layout(arena: &[u8], at: usize) -> Layout {
    let mut header = 0u64;
    let mut shift = 0;
    let mut pos = at;
    loop {
        let byte = arena[pos];
        pos += 1;
        header |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let flags = header & ((1 << FLAG_BITS) - 1);
    let key_len = (header >> FLAG_BITS) as usize;
    let mut key = pos + FIXED_LEN;
    if flags & FLAG_VALUE_LEN != 0 {
        key += 4;
    }
    if flags & FLAG_EXPIRY != 0 {
        key += 8;
    }
    if flags & FLAG_CACHE != 0 {
        key += 4;
    }
    Layout {
        flags,
        fields: pos,
        key,
        end: key + key_len,
    }
}

/// The entry a record holds.
pub(super) fn entry_of(arena: &[u8], layout: &Layout) -> Entry {
    let location = read_u64(arena, layout.fields);
    let record_len = read_u32(arena, layout.fields + 8);
    let mut at = layout.fields + FIXED_LEN;
    let value_len = if layout.flags & FLAG_VALUE_LEN != 0 {
        at += 4;
        read_u32(arena, at - 4)
    } else {
        let key_len = (layout.end - layout.key) as u32;
        record_len - HEADER_LEN as u32 - key_len
    };
    let expire_at_ms = if layout.flags & FLAG_EXPIRY != 0 {
        read_u64(arena, at)
    } else {
        0
    };
    Entry {
        location,
        record_len,
        value_len,
        expire_at_ms,
    }
}

/// The cache slot a record holds ([`NO_CACHE`] without the field).
pub(super) fn cache_of(arena: &[u8], layout: &Layout) -> u32 {
    if layout.flags & FLAG_CACHE == 0 {
        return NO_CACHE;
    }
    read_u32(arena, layout.key - 4)
}

/// Sets the cache slot of a record that has the field.
pub(super) fn set_cache(arena: &mut [u8], layout: &Layout, cache: u32) {
    debug_assert!(layout.flags & FLAG_CACHE != 0);
    arena[layout.key - 4..layout.key].copy_from_slice(&cache.to_le_bytes());
}

/// Writes `entry`'s fields (and `cache`, if the shape has the field) into a
/// record of the same shape.
pub(super) fn write_fields(arena: &mut [u8], layout: &Layout, entry: &Entry, cache: u32) {
    let mut at = layout.fields;
    arena[at..at + 8].copy_from_slice(&entry.location.to_le_bytes());
    arena[at + 8..at + 12].copy_from_slice(&entry.record_len.to_le_bytes());
    at += FIXED_LEN;
    if layout.flags & FLAG_VALUE_LEN != 0 {
        arena[at..at + 4].copy_from_slice(&entry.value_len.to_le_bytes());
        at += 4;
    }
    if layout.flags & FLAG_EXPIRY != 0 {
        arena[at..at + 8].copy_from_slice(&entry.expire_at_ms.to_le_bytes());
    }
    if layout.flags & FLAG_CACHE != 0 {
        set_cache(arena, layout, cache);
    }
}

/// Smallest arena growth step, in bytes.
pub(super) const MIN_ARENA_GROWTH: usize = 128;

/// Appends a record of shape `flags` to `arena`; returns its offset.
///
/// The fields are laid out in a small buffer first, so the arena takes
/// two copies (fields, key) behind one capacity check.
///
/// Panics when the arena would pass 4 GiB; writers check room first.
pub(super) fn append(
    arena: &mut Vec<u8>,
    key: &[u8],
    entry: &Entry,
    flags: u64,
    cache: u32,
) -> u32 {
    // Varint (10 bytes at most), then the fixed and optional fields.
    let mut fields = [0u8; 10 + FIXED_LEN + 4 + 8 + 4];
    let mut header = ((key.len() as u64) << FLAG_BITS) | flags;
    let mut len = 0;
    while header >= 0x80 {
        fields[len] = (header & 0x7f) as u8 | 0x80;
        header >>= 7;
        len += 1;
    }
    fields[len] = header as u8;
    len += 1;
    let mut put = |bytes: &[u8]| {
        fields[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(&entry.location.to_le_bytes());
    put(&entry.record_len.to_le_bytes());
    if flags & FLAG_VALUE_LEN != 0 {
        put(&entry.value_len.to_le_bytes());
    }
    if flags & FLAG_EXPIRY != 0 {
        put(&entry.expire_at_ms.to_le_bytes());
    }
    if flags & FLAG_CACHE != 0 {
        put(&cache.to_le_bytes());
    }
    let record_len = len + key.len();
    let offset = arena.len();
    assert!(
        offset + record_len <= u32::MAX as usize,
        "keydir: one hash slot holds more than 4 GiB of keys"
    );
    if arena.capacity() - offset < record_len {
        // Grow by a quarter, not double: the arena is most of the memory.
        let step = record_len.max(MIN_ARENA_GROWTH).max(offset / 4);
        arena.reserve_exact(step);
    }
    arena.extend_from_slice(&fields[..len]);
    arena.extend_from_slice(key);
    offset as u32
}
