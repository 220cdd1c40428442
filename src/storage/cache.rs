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
//! A hit on a protected value only sets its *referenced* bit (CLOCK-style)
//! instead of moving it to the head: moving touches three other nodes, each
//! a cache miss, on the hottest path of the server. The bit buys the value
//! a second lap when it reaches the protected tail.
//!
//! Values are keyed by the location of the record they were read from (the
//! record's [`Version`](super::Version)), not by key: a lookup passes the
//! keydir's current location, so a value of an older record can never be
//! returned, and a lookup is one integer hash with no key bytes to compare
//! (the key's bytes are a cache miss of their own). Writes drop the value of
//! the record they supersede eagerly, so stale values do not take up space.
//!
//! A lookup needs no map at all when the keydir names the node: an insert
//! returns the node's index (the *cache slot*), the keydir keeps it next to
//! the key, and [`Cache::get_at`] goes straight to that node, checking that
//! it still holds the record the keydir points at (nodes are reused, and a
//! cleared cache starts over). The map by location stays for writes and
//! merges, which drop or move a record's value.
//!
//! Small values ([`INLINE_LEN`] bytes or less) live inside their node and a
//! hit copies them out: one allocation touched instead of three (node,
//! shared header, bytes), and no atomic reference count.

use std::collections::HashMap;

use bytes::Bytes;

/// Values up to this many bytes are kept inside their node.
pub const INLINE_LEN: usize = 112;
/// Bytes charged per entry: its node and map slot (plus the bytes of a
/// value too big to be inline).
const ENTRY_OVERHEAD: u64 = (std::mem::size_of::<Node>() + 16) as u64;
/// Share of the budget the protected segment may hold, in percent.
const PROTECTED_PERCENT: u64 = 80;
/// A single value larger than this share of the budget is not cached.
const MAX_ENTRY_FRACTION: u64 = 8;
/// Referenced protected tails given a second lap per balance, at most: a
/// balance stays short even when every protected value is hot (protected
/// may then overrun its share until later balances; the total budget holds).
const MAX_SECOND_LAPS: usize = 8;

const NIL: usize = usize::MAX;
const PROBATION: usize = 0;
const PROTECTED: usize = 1;
/// The segment of a node on the free list.
const FREE: usize = 2;

/// A cached value: inside the node when small, else shared.
enum Stored {
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    Shared(Bytes),
}

impl Stored {
    fn new(value: Bytes) -> Stored {
        if value.len() <= INLINE_LEN {
            let mut bytes = [0; INLINE_LEN];
            bytes[..value.len()].copy_from_slice(&value);
            Stored::Inline {
                len: value.len() as u8,
                bytes,
            }
        } else {
            Stored::Shared(value)
        }
    }

    /// A copy of a borrowed value: inline when small.
    fn copied(value: &[u8]) -> Stored {
        if value.len() <= INLINE_LEN {
            let mut bytes = [0; INLINE_LEN];
            bytes[..value.len()].copy_from_slice(value);
            Stored::Inline {
                len: value.len() as u8,
                bytes,
            }
        } else {
            Stored::Shared(Bytes::copy_from_slice(value))
        }
    }

    /// Bytes held outside the node.
    fn outside(&self) -> u64 {
        match self {
            Stored::Inline { .. } => 0,
            Stored::Shared(value) => value.len() as u64,
        }
    }

    fn to_bytes(&self) -> Bytes {
        match self {
            Stored::Inline { len, bytes } => Bytes::copy_from_slice(&bytes[..*len as usize]),
            Stored::Shared(value) => value.clone(),
        }
    }
}

struct Node {
    value: Stored,
    /// The record location the value was read from (its map key).
    version: u64,
    prev: usize,
    next: usize,
    segment: usize,
    /// Hit since it last reached the protected tail.
    referenced: bool,
}

impl Node {
    fn charge(&self) -> u64 {
        self.value.outside() + ENTRY_OVERHEAD
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
    map: HashMap<u64, usize, ahash::RandomState>,
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
        self.nodes[index].value = Stored::Shared(Bytes::new());
        self.nodes[index].segment = FREE;
        self.map.remove(&self.nodes[index].version);
        self.free.push(index);
    }

    /// The value of the record at `version`, if cached.
    pub fn get(&mut self, version: u64) -> Option<Bytes> {
        let index = *self.map.get(&version)?;
        self.hit(index)
    }

    /// The value of the record at `version` if cache slot `slot` (from
    /// [`Cache::insert`]) still holds it: no map lookup.
    pub fn get_at(&mut self, slot: u32, version: u64) -> Option<Bytes> {
        let node = self.nodes.get(slot as usize)?;
        if node.version != version || node.segment == FREE {
            return None;
        }
        self.hit(slot as usize)
    }

    /// A hit on node `index`: its value, and the node promoted.
    fn hit(&mut self, index: usize) -> Option<Bytes> {
        let node = &mut self.nodes[index];
        if node.segment == PROTECTED {
            node.referenced = true;
            return Some(node.value.to_bytes());
        }
        self.unlink(index);
        self.push_front(index, PROTECTED);
        let value = self.nodes[index].value.to_bytes();
        self.balance();
        Some(value)
    }

    /// Caches `value` as read from (or written to) the record at
    /// `version`; returns its cache slot, or `None` when the value is too
    /// big to be cached.
    pub fn insert(&mut self, version: u64, value: Bytes) -> Option<u32> {
        self.insert_stored(version, Stored::new(value))
    }

    /// [`Cache::insert`] from a borrowed value (copied only if it fits).
    pub fn insert_from(&mut self, version: u64, value: &[u8]) -> Option<u32> {
        if !self.fits(value.len()) {
            self.remove(version);
            return None;
        }
        let stored = Stored::copied(value);
        self.insert_stored(version, stored)
    }

    /// True when a value of `len` bytes may be cached.
    fn fits(&self, len: usize) -> bool {
        let outside = if len <= INLINE_LEN { 0 } else { len as u64 };
        self.budget != 0 && outside + ENTRY_OVERHEAD <= self.budget / MAX_ENTRY_FRACTION
    }

    fn insert_stored(&mut self, version: u64, value: Stored) -> Option<u32> {
        let charge = value.outside() + ENTRY_OVERHEAD;
        if self.budget == 0 || charge > self.budget / MAX_ENTRY_FRACTION {
            self.remove(version);
            return None;
        }
        let index = if let Some(&index) = self.map.get(&version) {
            self.unlink(index);
            self.nodes[index].value = value;
            let segment = self.nodes[index].segment;
            self.push_front(index, segment);
            index
        } else {
            let node = Node {
                value,
                version,
                prev: NIL,
                next: NIL,
                segment: PROBATION,
                referenced: false,
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
            self.map.insert(version, index);
            self.push_front(index, PROBATION);
            index
        };
        self.balance();
        // Balancing may have evicted the newcomer itself (a budget smaller
        // than a few entries).
        let node = &self.nodes[index];
        (node.segment != FREE && node.version == version && index < u32::MAX as usize)
            .then_some(index as u32)
    }

    /// A write replaced the record at `from` (cached in `slot`, from the
    /// keydir) with the record at `to` holding `value`: the old node takes
    /// the new value and location where it stands, with no unlinking, no
    /// freeing and no allocation (an overwrite of a cached key touches one
    /// node instead of three). Falls back to removing `from` and inserting
    /// `to` when `slot` no longer holds `from`. Returns `to`'s cache slot.
    pub fn rewrite(&mut self, slot: u32, from: u64, to: u64, value: &[u8]) -> Option<u32> {
        let index = slot as usize;
        let reusable = self
            .nodes
            .get(index)
            .is_some_and(|node| node.version == from && node.segment != FREE);
        if !reusable || !self.fits(value.len()) {
            self.remove(from);
            return self.insert_from(to, value);
        }
        let segment = self.nodes[index].segment;
        self.lists[segment].bytes -= self.nodes[index].charge();
        self.nodes[index].value = Stored::copied(value);
        self.lists[segment].bytes += self.nodes[index].charge();
        self.map.remove(&from);
        self.nodes[index].version = to;
        self.map.insert(to, index);
        self.balance();
        let node = &self.nodes[index];
        (node.segment != FREE && node.version == to).then_some(slot)
    }

    /// Forgets the value of the record at `version` (it was superseded).
    pub fn remove(&mut self, version: u64) {
        if let Some(&index) = self.map.get(&version) {
            self.drop_node(index);
        }
    }

    /// A merge moved a record from `from` to `to`: keep its value.
    pub fn relocate(&mut self, from: u64, to: u64) {
        if let Some(index) = self.map.remove(&from) {
            self.nodes[index].version = to;
            self.map.insert(to, index);
        }
    }

    /// Changes the byte budget (CONFIG SET cache-size), evicting the
    /// coldest values until the new one holds.
    pub fn set_budget(&mut self, budget: u64) {
        self.budget = budget;
        self.balance();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Cache::new(self.budget);
    }

    /// Demotes protected overflow to probation, then evicts probation tails
    /// (then protected tails) until the budget holds.
    fn balance(&mut self) {
        let protected_budget = self.budget / 100 * PROTECTED_PERCENT;
        let mut second_laps = 0;
        while self.lists[PROTECTED].bytes > protected_budget {
            let tail = self.lists[PROTECTED].tail;
            if self.nodes[tail].referenced {
                if second_laps == MAX_SECOND_LAPS {
                    // Over its share for now; the next balance goes on.
                    break;
                }
                second_laps += 1;
                self.nodes[tail].referenced = false;
                self.unlink(tail);
                self.push_front(tail, PROTECTED);
            } else {
                self.unlink(tail);
                self.push_front(tail, PROBATION);
            }
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
    fn only_the_cached_record_hits() {
        let mut cache = Cache::new(1 << 20);
        cache.insert(1, value(10));
        assert_eq!(cache.get(2), None, "another record of the key");
        assert_eq!(cache.get(1), Some(value(10)));
        cache.remove(1);
        assert_eq!(cache.get(1), None, "superseded");
        cache.insert(3, value(10));
        cache.relocate(3, 4);
        assert_eq!(cache.get(3), None, "moved away by a merge");
        assert_eq!(cache.get(4), Some(value(10)));
        assert_eq!(cache.len(), 1);
        cache.remove(4);
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn stays_within_budget() {
        let mut cache = Cache::new(10_000);
        for index in 0..1000u64 {
            cache.insert(index, value(100));
            assert!(cache.bytes() <= 10_000);
        }
        assert!(!cache.is_empty());
    }

    #[test]
    fn a_scan_does_not_flush_the_hot_set() {
        let mut cache = Cache::new(100_000);
        let hot: Vec<u64> = (0..100).collect();
        for &record in &hot {
            cache.insert(record, value(300));
            assert!(cache.get(record).is_some());
        }
        // A one-pass read of 10x the budget.
        for record in 1000..5000u64 {
            cache.insert(record, value(300));
        }
        let survivors = hot
            .iter()
            .filter(|&&record| cache.get(record).is_some())
            .count();
        assert_eq!(survivors, hot.len());
        assert!(cache.bytes() <= 100_000);
    }

    #[test]
    fn protected_hits_outlive_newer_cold_values() {
        // Room for 250 entries: 200 protected, 50 on probation.
        let budget = 250 * (300 + ENTRY_OVERHEAD);
        let mut cache = Cache::new(budget);
        // Fill the protected segment with values read twice, oldest first.
        let first: Vec<u64> = (0..200).collect();
        for &record in &first {
            cache.insert(record, value(300));
            assert!(cache.get(record).is_some());
        }
        // Hit the oldest 50 once more: they are the protected tail now.
        for &record in &first[..50] {
            assert!(cache.get(record).is_some());
        }
        // 100 newer values, each read twice, push the tail out.
        for record in 1000..1100u64 {
            cache.insert(record, value(300));
            assert!(cache.get(record).is_some());
        }
        assert!(cache.bytes() <= budget);
        let hot_left = first[..50]
            .iter()
            .filter(|&&r| cache.get(r).is_some())
            .count();
        let cold_left = first[50..]
            .iter()
            .filter(|&&r| cache.get(r).is_some())
            .count();
        assert_eq!(hot_left, 50, "referenced values got a second lap");
        assert!(cold_left < 150, "something had to go: {cold_left}");
    }

    #[test]
    fn small_values_live_in_their_node() {
        let mut cache = Cache::new(1 << 20);
        for (record, len) in [(1u64, 0usize), (2, 1), (3, INLINE_LEN), (4, INLINE_LEN + 1)] {
            cache.insert(record, value(len));
            assert_eq!(cache.get(record), Some(value(len)), "{len} bytes");
        }
        // Only the value too big to be inline is charged on top of its node.
        assert_eq!(cache.bytes(), 4 * ENTRY_OVERHEAD + INLINE_LEN as u64 + 1);
        cache.insert(3, Bytes::from(vec![9u8; INLINE_LEN]));
        assert_eq!(cache.get(3), Some(Bytes::from(vec![9u8; INLINE_LEN])));
    }

    #[test]
    fn a_rewrite_moves_the_node_to_the_new_record() {
        let mut cache = Cache::new(1 << 20);
        let slot = cache.insert(1, value(10)).unwrap();
        cache.insert(9, value(20)).unwrap();
        let bytes = cache.bytes();
        // Same node, new location and value; the old location is gone.
        assert_eq!(cache.rewrite(slot, 1, 2, &[7; 30]), Some(slot));
        assert_eq!(cache.get(1), None);
        assert_eq!(cache.get_at(slot, 1), None);
        assert_eq!(cache.get_at(slot, 2), Some(Bytes::from(vec![7; 30])));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.bytes(), bytes, "inline values charge only the node");
        // A big value is charged by its size.
        assert_eq!(cache.rewrite(slot, 2, 3, &[8; 500]), Some(slot));
        assert_eq!(cache.bytes(), bytes + 500);
        assert_eq!(cache.get(3), Some(Bytes::from(vec![8; 500])));
        // A slot that no longer holds `from` is not touched: the other
        // record keeps its node and the new value gets a node of its own.
        let other = cache.rewrite(slot, 1, 4, b"four").unwrap();
        assert_ne!(other, slot);
        assert_eq!(cache.get(3), Some(Bytes::from(vec![8; 500])));
        assert_eq!(cache.get_at(other, 4), Some(Bytes::from_static(b"four")));
        // Too big for the budget: the old value goes and nothing is cached.
        let mut small = Cache::new(8 * (ENTRY_OVERHEAD + 100));
        let slot = small.insert(5, value(50)).unwrap();
        assert_eq!(small.rewrite(slot, 5, 6, &[1; 200]), None);
        assert_eq!(small.get(5), None);
        assert_eq!(small.get(6), None);
        assert!(small.is_empty());
    }

    #[test]
    fn a_slot_leads_only_to_the_record_it_was_given_for() {
        let mut cache = Cache::new(1 << 20);
        let slot = cache.insert(1, value(10)).unwrap();
        assert_eq!(cache.get_at(slot, 1), Some(value(10)));
        assert_eq!(cache.get_at(slot, 2), None, "another record");
        assert_eq!(cache.get_at(slot + 1, 1), None, "another slot");
        cache.remove(1);
        assert_eq!(cache.get_at(slot, 1), None, "freed");
        // The node is reused for another record.
        assert_eq!(cache.insert_from(3, b"three"), Some(slot));
        assert_eq!(cache.get_at(slot, 1), None);
        assert_eq!(cache.get_at(slot, 3), Some(Bytes::from_static(b"three")));
        cache.relocate(3, 4);
        assert_eq!(cache.get_at(slot, 3), None, "moved by a merge");
        assert_eq!(cache.get_at(slot, 4), Some(Bytes::from_static(b"three")));
        cache.clear();
        assert_eq!(cache.get_at(slot, 4), None, "cleared");
        // Too big for the budget: no slot, and no stale value left.
        let mut small = Cache::new(8 * (ENTRY_OVERHEAD + 100));
        assert!(small.insert(5, value(50)).is_some());
        assert_eq!(small.insert_from(5, &[1; 200]), None);
        assert_eq!(small.get(5), None);
    }
}
