//! Slot hashing, a leaf module (it imports nothing from the crate, and every
//! layer may use it): key -> hash slot -> shard.
//!
//! Keys are placed exactly as Redis Cluster places them: CRC16 (XMODEM) of the
//! key, or of the first non-empty `{hashtag}` inside it, modulo 16384. Each
//! shard owns one contiguous range of slots, so multi-key commands whose keys
//! share a hashtag always land on one shard, and the slot map could later be
//! handed out to cluster peers unchanged.

/// Number of hash slots, as in Redis Cluster.
pub const NR_SLOTS: u16 = 16384;

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// The CRC of a state `(x, 0)` after two zero bytes, for two-byte steps:
/// by linearity, two steps from `(x, y)` give `PAIR[x] ^ CRC16_TABLE[y]`.
const fn crc16_pair_table(table: &[u16; 256]) -> [u16; 256] {
    let mut pair = [0u16; 256];
    let mut x = 0;
    while x < 256 {
        pair[x] = (table[x] << 8) ^ table[(table[x] >> 8) as usize];
        x += 1;
    }
    pair
}

static CRC16_TABLE: [u16; 256] = crc16_table();
static CRC16_PAIR: [u16; 256] = crc16_pair_table(&CRC16_TABLE);

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster.
/// Two bytes per step with two independent table loads (every request and
/// every replayed record hashes its key).
pub fn crc16(data: &[u8]) -> u16 {
    let mut pairs = data.chunks_exact(2);
    let mut crc = 0u16;
    for pair in &mut pairs {
        let mixed = crc ^ u16::from_be_bytes([pair[0], pair[1]]);
        crc = CRC16_PAIR[(mixed >> 8) as usize] ^ CRC16_TABLE[(mixed & 0xff) as usize];
    }
    pairs.remainder().iter().fold(crc, |crc, &b| {
        (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize]
    })
}

/// The part of the key that is hashed: the content of the first `{...}` when
/// it is non-empty, else the whole key (Redis Cluster's hashtag rule).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_byte(key, b'{')
        && let Some(len) = find_byte(&key[open + 1..], b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The first position of `byte` in `data`, eight bytes per step (every
/// request scans its key for a hashtag; a byte at a time was half of
/// `key_slot`).
fn find_byte(data: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * byte as u64;
    let mut words = data.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let diff = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ pattern;
        // High bit set in each zero byte of `diff`; a byte above a zero one
        // may be flagged falsely, never one below, so the lowest flag is exact.
        let zeros = diff.wrapping_sub(ONES) & !diff & HIGHS;
        if zeros != 0 {
            return Some(base + zeros.trailing_zeros() as usize / 8);
        }
        base += 8;
    }
    let rest = words.remainder();
    rest.iter().position(|&b| b == byte).map(|at| base + at)
}

/// The hash slot of a key, in `0..NR_SLOTS`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (NR_SLOTS - 1)
}

/// The shard that owns `slot` when slots are split into `nr_shards`
/// contiguous ranges.
pub fn shard_for_slot(slot: u16, nr_shards: usize) -> usize {
    (slot as usize * nr_shards) / NR_SLOTS as usize
}

/// The shard that owns `key`.
pub fn shard_for(key: &[u8], nr_shards: usize) -> usize {
    shard_for_slot(key_slot(key), nr_shards)
}

/// The slots owned by `shard_id`: `start..end`.
pub fn slot_range(shard_id: usize, nr_shards: usize) -> std::ops::Range<u16> {
    let bound = |i: usize| (i * NR_SLOTS as usize).div_ceil(nr_shards) as u16;
    bound(shard_id)..bound(shard_id + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_pairs_match_one_byte_steps() {
        let bytewise = |data: &[u8]| {
            data.iter().fold(0u16, |crc, &b| {
                (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize]
            })
        };
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(crc16(&data[..len]), bytewise(&data[..len]), "length {len}");
        }
    }

    #[test]
    fn find_byte_matches_a_plain_scan() {
        let data: Vec<u8> = (0..40u8)
            .map(|i| [b'{', b'}', 0x7a, 0xfb, 0][i as usize % 5] ^ (i & 0x80))
            .collect();
        for start in 0..data.len() {
            for end in start..data.len() {
                let slice = &data[start..end];
                for byte in [b'{', b'}', 0x7a, 0xfb, 0, b'x'] {
                    let plain = slice.iter().position(|&b| b == byte);
                    assert_eq!(find_byte(slice, byte), plain, "{slice:?} {byte}");
                }
            }
        }
        // Every placement of one byte among others that are one below it.
        for len in 1..24 {
            for at in 0..len {
                let mut data = vec![b'{' - 1; len];
                data[at] = b'{';
                assert_eq!(find_byte(&data, b'{'), Some(at));
            }
        }
    }

    #[test]
    fn crc16_matches_redis_reference() {
        // The check value from the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        // Known slots (from `CLUSTER KEYSLOT` in Redis 7).
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") & 16383);
    }

    #[test]
    fn slot_ranges_partition_all_slots() {
        for nr_shards in 1..=7 {
            let mut next = 0u16;
            for shard in 0..nr_shards {
                let range = slot_range(shard, nr_shards);
                assert_eq!(range.start, next);
                for slot in range.clone() {
                    assert_eq!(shard_for_slot(slot, nr_shards), shard);
                }
                next = range.end;
            }
            assert_eq!(next, NR_SLOTS);
        }
    }
}
