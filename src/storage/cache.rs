//! The per-shard value cache: DMA reads bypass the page cache, so a shard
//! keeps recently read values itself, within a byte budget.
//!
//! Segmented LRU, which resists scans: a value read from disk enters the
//! *probationary* segment; only a second hit moves it to the *protected*
//! segment (80% of the budget). Eviction takes the probationary tail first,
//! and a protected value that falls off its segment's tail is demoted to
//! probation, not dropped. A one-pass read of many keys (SCAN + GET, a
//! backup) therefore churns only probation and never flushes the hot set.
//!
//! Every cached value carries the record location ([`Version`](super::Version))
//! it was read from, and a lookup passes the keydir's current location: a
//! value of an older record is never returned. Writes also invalidate the
//! key eagerly, so stale values do not even take up space.

use std::collections::HashMap;

use bytes::Bytes;

/// Bytes charged per entry on top of key and value (node, map slot).
const ENTRY_OVERHEAD: u64 = 96;
/// Share of the budget the protected segment may hold, in percent.
const PROTECTED_PERCENT: u64 = 80;
/// A single value larger than this share of the budget is not cached.
const MAX_ENTRY_FRACTION: u64 = 8;

const NIL: usize = usize::MAX;
const PROBATION: usize = 0;
const PROTECTED: usize = 1;

struct Node {
    key: Box<[u8]>,
    value: Bytes,
    version: u64,
    prev: usize,
    next: usize,
    segment: usize,
}

impl Node {
    fn charge(&self) -> u64 {
        self.key.len() as u64 + self.value.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A doubly linked list over slab indexes; head = most recent.
#[derive(Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
    bytes: u64,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
            bytes: 0,
        }
    }
}

/// A segmented-LRU value cache with a byte budget (see the module docs).
pub struct Cache {
    map: HashMap<Box<[u8]>, usize, ahash::RandomState>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    lists: [List; 2],
    budget: u64,
}

impl Cache {
    /// An empty cache holding at most `budget` bytes (0 disables it).
    pub fn new(budget: u64) -> Cache {
        Cache {
            map: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            lists: [List::default(); 2],
            budget,
        }
    }

    /// Bytes charged now.
    pub fn bytes(&self) -> u64 {
        self.lists[PROBATION].bytes + self.lists[PROTECTED].bytes
    }

    /// Entries now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next, segment) = {
            let node = &self.nodes[index];
            (node.prev, node.next, node.segment)
        };
        if prev == NIL {
            self.lists[segment].head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.lists[segment].tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        self.lists[segment].bytes -= self.nodes[index].charge();
    }

    fn push_front(&mut self, index: usize, segment: usize) {
        let head = self.lists[segment].head;
        {
            let node = &mut self.nodes[index];
            node.prev = NIL;
            node.next = head;
            node.segment = segment;
        }
        if head == NIL {
            self.lists[segment].tail = index;
        } else {
            self.nodes[head].prev = index;
        }
        self.lists[segment].head = index;
        self.lists[segment].bytes += self.nodes[index].charge();
    }

    fn drop_node(&mut self, index: usize) {
        self.unlink(index);
        let key = std::mem::take(&mut self.nodes[index].key);
        self.nodes[index].value = Bytes::new();
        self.map.remove(&key);
        self.free.push(index);
    }

    /// The value of `key` if it is cached for record `version`.
    pub fn get(&mut self, key: &[u8], version: u64) -> Option<Bytes> {
        let index = *self.map.get(key)?;
        if self.nodes[index].version != version {
            self.drop_node(index);
            return None;
        }
        self.unlink(index);
        self.push_front(index, PROTECTED);
        self.balance();
        Some(self.nodes[index].value.clone())
    }

    /// Caches `value` of `key` as read from record `version`.
    pub fn insert(&mut self, key: &[u8], version: u64, value: Bytes) {
        let charge = key.len() as u64 + value.len() as u64 + ENTRY_OVERHEAD;
        if self.budget == 0 || charge > self.budget / MAX_ENTRY_FRACTION {
            self.remove(key);
            return;
        }
        if let Some(&index) = self.map.get(key) {
            self.unlink(index);
            self.nodes[index].value = value;
            self.nodes[index].version = version;
            let segment = self.nodes[index].segment;
            self.push_front(index, segment);
        } else {
            let node = Node {
                key: key.into(),
                value,
                version,
                prev: NIL,
                next: NIL,
                segment: PROBATION,
            };
            let index = match self.free.pop() {
                Some(index) => {
                    self.nodes[index] = node;
                    index
                }
                None => {
                    self.nodes.push(node);
                    self.nodes.len() - 1
                }
            };
            self.map.insert(key.into(), index);
            self.push_front(index, PROBATION);
        }
        self.balance();
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &[u8]) {
        if let Some(&index) = self.map.get(key) {
            self.drop_node(index);
        }
    }

    /// A merge moved `key`'s record from `from` to `to`: keep the value.
    pub fn relocate(&mut self, key: &[u8], from: u64, to: u64) {
        if let Some(&index) = self.map.get(key)
            && self.nodes[index].version == from
        {
            self.nodes[index].version = to;
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Cache::new(self.budget);
    }

    /// Demotes protected overflow to probation, then evicts probation tails
    /// (then protected tails) until the budget holds.
    fn balance(&mut self) {
        let protected_budget = self.budget / 100 * PROTECTED_PERCENT;
        while self.lists[PROTECTED].bytes > protected_budget {
            let tail = self.lists[PROTECTED].tail;
            self.unlink(tail);
            self.push_front(tail, PROBATION);
        }
        while self.bytes() > self.budget {
            let victim = if self.lists[PROBATION].tail != NIL {
                self.lists[PROBATION].tail
            } else {
                self.lists[PROTECTED].tail
            };
            self.drop_node(victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(len: usize) -> Bytes {
        Bytes::from(vec![7u8; len])
    }

    #[test]
    fn version_mismatch_is_a_miss() {
        let mut cache = Cache::new(1 << 20);
        cache.insert(b"k", 1, value(10));
        assert_eq!(cache.get(b"k", 2), None);
        assert_eq!(cache.get(b"k", 1), None, "the stale entry was dropped");
        cache.insert(b"k", 3, value(10));
        cache.relocate(b"k", 3, 4);
        assert_eq!(cache.get(b"k", 4), Some(value(10)));
    }

    #[test]
    fn stays_within_budget() {
        let mut cache = Cache::new(10_000);
        for index in 0..1000u64 {
            cache.insert(&index.to_le_bytes(), index, value(100));
            assert!(cache.bytes() <= 10_000);
        }
        assert!(!cache.is_empty());
    }

    #[test]
    fn a_scan_does_not_flush_the_hot_set() {
        let mut cache = Cache::new(100_000);
        let hot: Vec<[u8; 8]> = (0..100u64).map(|i| i.to_le_bytes()).collect();
        for key in &hot {
            cache.insert(key, 1, value(300));
            assert!(cache.get(key, 1).is_some());
        }
        // A one-pass read of 10x the budget.
        for index in 1000..5000u64 {
            cache.insert(&index.to_le_bytes(), 1, value(300));
        }
        let survivors = hot
            .iter()
            .filter(|key| cache.get(*key, 1).is_some())
            .count();
        assert_eq!(survivors, hot.len());
        assert!(cache.bytes() <= 100_000);
    }
}
