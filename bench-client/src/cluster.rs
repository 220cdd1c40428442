//! `--cluster`: the slot map of a Redis Cluster (or of shardcask with
//! `--shard-ports` or `--cluster-config`), read once with CLUSTER SLOTS
//! before the run, so each connection talks to one primary and sends it
//! only keys of its slots; a `-MOVED` reply is followed (the request is sent
//! again to the address it names) and counted.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::keys::write_key;

/// Number of hash slots.
pub const NR_SLOTS: usize = 16384;

/// Who owns each slot, and which keys of the run each primary holds.
#[derive(Debug)]
pub struct SlotMap {
    /// Primary addresses (`ip:port`), in CLUSTER SLOTS order of first appearance.
    pub primaries: Vec<String>,
    /// Slot -> index in `primaries`.
    pub slot_owner: Vec<u16>,
    /// For each primary, the key indexes (0..nr_keys) whose slot it owns.
    pub keys_of: Vec<Vec<u64>>,
}

impl SlotMap {
    /// Asks `addr` for CLUSTER SLOTS and sorts the run's `nr_keys` keys
    /// (`prefix` + index) by owner.
    pub fn fetch(addr: &str, prefix: &[u8], nr_keys: u64) -> Result<SlotMap, String> {
        let ranges = cluster_slots(addr)?;
        let mut primaries: Vec<String> = Vec::new();
        let mut slot_owner = vec![u16::MAX; NR_SLOTS];
        for (start, end, owner) in ranges {
            let index = match primaries.iter().position(|p| *p == owner) {
                Some(index) => index,
                None => {
                    primaries.push(owner);
                    primaries.len() - 1
                }
            };
            if start < NR_SLOTS {
                slot_owner[start..=end.min(NR_SLOTS - 1)].fill(index as u16);
            }
        }
        if let Some(slot) = slot_owner.iter().position(|&o| o == u16::MAX) {
            return Err(format!("{addr}: CLUSTER SLOTS leaves slot {slot} unowned"));
        }
        let mut keys_of = vec![Vec::new(); primaries.len()];
        let mut key = Vec::with_capacity(prefix.len() + 20);
        for index in 0..nr_keys {
            key.clear();
            write_key(&mut key, prefix, index);
            keys_of[slot_owner[key_slot(&key)] as usize].push(index);
        }
        if let Some(empty) = keys_of.iter().position(|keys| keys.is_empty()) {
            return Err(format!(
                "primary {} owns none of the {nr_keys} keys: use more --keys",
                primaries[empty]
            ));
        }
        Ok(SlotMap {
            primaries,
            slot_owner,
            keys_of,
        })
    }

    /// The primary connection `conn_index` talks to (round robin).
    pub fn primary_of_conn(&self, conn_index: usize) -> usize {
        conn_index % self.primaries.len()
    }

    /// Connection `conn_index`'s rank among the connections of its primary,
    /// and how many connections that primary has.
    pub fn rank_of_conn(&self, conn_index: usize, nr_connections: usize) -> (usize, usize) {
        let nr_primaries = self.primaries.len();
        let primary = conn_index % nr_primaries;
        let count =
            nr_connections / nr_primaries + usize::from(primary < nr_connections % nr_primaries);
        (conn_index / nr_primaries, count.max(1))
    }
}

/// CRC16-CCITT (XMODEM), as Redis Cluster hashes keys.
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of `key` (with Redis's `{hashtag}` rule).
pub fn key_slot(key: &[u8]) -> usize {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    usize::from(crc16(hashed)) % NR_SLOTS
}

/// The target of a `-MOVED <slot> <ip:port>` error, if it is one.
pub fn moved_target(error: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(error).ok()?;
    let mut words = text.split(' ');
    (words.next()? == "MOVED").then_some(())?;
    words.next()?;
    words.next().map(str::to_string)
}

/// A RESP value, as far as CLUSTER SLOTS needs.
enum Value {
    Integer(i64),
    Bulk(Vec<u8>),
    Array(Vec<Value>),
    Other,
}

fn read_value(reader: &mut impl BufRead, depth: usize) -> Result<Value, String> {
    if depth > 8 {
        return Err("CLUSTER SLOTS reply nests too deep".into());
    }
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return Err("truncated reply".into());
    }
    let body = std::str::from_utf8(&line[1..line.len() - 2]).map_err(|e| e.to_string())?;
    let number = || body.parse::<i64>().map_err(|e| format!("{body}: {e}"));
    Ok(match line[0] {
        b':' => Value::Integer(number()?),
        b'$' => {
            let len = number()?;
            if !(0..=1 << 20).contains(&len) {
                return Ok(Value::Other);
            }
            let mut data = vec![0u8; len as usize + 2];
            reader.read_exact(&mut data).map_err(|e| e.to_string())?;
            data.truncate(len as usize);
            Value::Bulk(data)
        }
        b'*' => {
            let len = number()?;
            let mut items = Vec::new();
            for _ in 0..len.clamp(0, 1 << 16) {
                items.push(read_value(reader, depth + 1)?);
            }
            Value::Array(items)
        }
        b'-' => return Err(body.to_string()),
        _ => Value::Other,
    })
}

/// `(start, end, "ip:port")` of every slot range.
fn cluster_slots(addr: &str) -> Result<Vec<(usize, usize, String)>, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    stream
        .write_all(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n")
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let Value::Array(ranges) =
        read_value(&mut reader, 0).map_err(|e| format!("{addr}: CLUSTER SLOTS: {e}"))?
    else {
        return Err(format!("{addr}: CLUSTER SLOTS did not answer an array"));
    };
    let mut out = Vec::new();
    for range in ranges {
        let Value::Array(items) = range else { continue };
        let (Some(Value::Integer(start)), Some(Value::Integer(end)), Some(Value::Array(node))) =
            (items.first(), items.get(1), items.get(2))
        else {
            continue;
        };
        let (Some(Value::Bulk(ip)), Some(Value::Integer(port))) = (node.first(), node.get(1))
        else {
            continue;
        };
        let mut ip = String::from_utf8_lossy(ip).into_owned();
        if ip.is_empty() || ip == "?" {
            // "Use the address of the node that answered."
            ip = addr
                .rsplit_once(':')
                .map_or(addr, |(host, _)| host)
                .to_string();
        }
        out.push((*start as usize, *end as usize, format!("{ip}:{port}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn moved_errors_name_their_target() {
        assert_eq!(
            moved_target(b"MOVED 3999 127.0.0.1:6381").as_deref(),
            Some("127.0.0.1:6381")
        );
        assert_eq!(moved_target(b"ERR nope"), None);
    }

    #[test]
    fn connections_spread_over_primaries() {
        let map = SlotMap {
            primaries: vec!["a".into(), "b".into(), "c".into()],
            slot_owner: Vec::new(),
            keys_of: Vec::new(),
        };
        // 7 connections: a gets 0, 3, 6; b gets 1, 4; c gets 2, 5.
        assert_eq!(map.rank_of_conn(6, 7), (2, 3));
        assert_eq!(map.rank_of_conn(4, 7), (1, 2));
        assert_eq!(map.primary_of_conn(5), 2);
    }
}
