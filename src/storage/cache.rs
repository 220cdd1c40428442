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
//! Values are tagged with the location of the record they were read from
//! (the record's [`Version`](super::Version)), and there is no map by key
//! or by location: an insert returns the node's index (the *cache slot*),
//! the keydir keeps it next to the key, and every operation goes straight
//! to that node, checking that it still holds the record the keydir points
//! at ([`Cache::get_at`]). Nodes are reused and a cleared cache starts over,
//! so the slot is only a hint; the location check means a value of an older
//! record is never returned (locations are not reused while the cache lives:
//! a rollback that rewinds the log clears it). Writes drop or rewrite the
//! node of the record they supersede, removals of keys drop theirs, and a
//! merge moves the tag along with the record, so every node is named by
//! exactly one keydir entry and stale values do not take up space.
//!
//! Small values ([`INLINE_LEN`] bytes or less) live inside their node and a
//! hit copies them out: one allocation touched instead of three (node,
//! shared header, bytes), and no atomic reference count.

use bytes::Bytes;

use super::keydir::prefetch_address;

/// Values up to this many bytes are kept inside their node (what fits in
/// a 128-byte node beside its version, links and flags).
pub const INLINE_LEN: usize = 102;
/// Bytes charged per entry: its node and free-list slot (plus the bytes of
/// a value too big to be inline).
const ENTRY_OVERHEAD: u64 = (std::mem::size_of::<Node>() + 16) as u64;
/// Share of the budget the protected segment may hold, in percent.
const PROTECTED_PERCENT: u64 = 80;
/// A single value larger than this share of the budget is not cached.
const MAX_ENTRY_FRACTION: u64 = 8;
/// Referenced protected tails given a second lap per balance, at most: a
/// balance stays short even when every protected value is hot (protected
/// may then overrun its share until later balances; the total budget holds).
const MAX_SECOND_LAPS: usize = 8;

const NIL: u32 = u32::MAX;
const PROBATION: u8 = 0;
const PROTECTED: u8 = 1;
/// The segment of a node on the free list.
const FREE: u8 = 2;

/// A cached value: inside the node when small, else shared.
enum Stored {
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    Shared(Bytes),
}

impl Stored {
    /// An empty inline value (what a free node holds).
    fn empty() -> Stored {
        Stored::Inline {
            len: 0,
            bytes: [0; INLINE_LEN],
        }
    }

    /// Replaces the value with a copy of `value`: a small one is written
    /// over the inline bytes where they stand (a write's cache insert
    /// builds no temporary node or value to move in).
    fn set_copied(&mut self, value: &[u8]) {
        if value.len() > INLINE_LEN {
            *self = Stored::Shared(Bytes::copy_from_slice(value));
            return;
        }
        if let Stored::Shared(_) = self {
            *self = Stored::empty();
        }
        if let Stored::Inline { len, bytes } = self {
            bytes[..value.len()].copy_from_slice(value);
            *len = value.len() as u8;
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

/// One cached value: 128 bytes on a 64-byte boundary, so that a hit on an
/// inline value reads two cache lines (the version and flags checked
/// first share the first line with the value's first bytes), where an
/// unaligned 160-byte node took three.
#[repr(C, align(64))]
struct Node {
    /// The record location the value was read from.
    version: u64,
    /// The next newer node of its segment, or [`NIL`].
    prev: u32,
    /// The next older node of its segment, or [`NIL`].
    next: u32,
    /// [`PROBATION`], [`PROTECTED`] or [`FREE`].
    segment: u8,
    /// Hit since it last reached the protected tail.
    referenced: bool,
    value: Stored,
}

const _: () = assert!(std::mem::size_of::<Node>() == 128);

impl Node {
    fn charge(&self) -> u64 {
        self.value.outside() + ENTRY_OVERHEAD
    }
}

/// A doubly linked list over slab indexes; head = most recent.
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
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
    /// Nodes in use (not on the free list).
    len: usize,
    nodes: Vec<Node>,
    free: Vec<usize>,
    lists: [List; 2],
    budget: u64,
    /// The value the last eviction dropped, kept for [`Cache::take_spare`]:
    /// a miss that replaces a cold value reuses its allocation instead of
    /// freeing one cold chunk and allocating another.
    spare: Option<Bytes>,
}

/// Largest evicted value kept as the spare.
const MAX_SPARE: usize = 64 << 10;

impl Cache {
    /// An empty cache holding at most `budget` bytes (0 disables it).
    pub fn new(budget: u64) -> Cache {
        Cache {
            len: 0,
            nodes: Vec::new(),
            free: Vec::new(),
            lists: [List::default(); 2],
            budget,
            spare: None,
        }
    }

    /// An empty buffer for a value of `len` bytes about to be inserted:
    /// the allocation of the value the last eviction dropped when nothing
    /// else holds it and it is no more than twice as big.
    pub fn take_spare(&mut self, len: usize) -> Option<bytes::BytesMut> {
        let mut buf = self.spare.take()?.try_into_mut().ok()?;
        if buf.capacity() < len || buf.capacity() > len.max(INLINE_LEN) * 2 {
            return None;
        }
        buf.clear();
        Some(buf)
    }

    /// Bytes charged now.
    pub fn bytes(&self) -> u64 {
        self.lists[PROBATION as usize].bytes + self.lists[PROTECTED as usize].bytes
    }

    /// Entries now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next, segment) = {
            let node = &self.nodes[index];
            (node.prev, node.next, node.segment as usize)
        };
        if prev == NIL {
            self.lists[segment].head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[segment].tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.lists[segment].bytes -= self.nodes[index].charge();
    }

    fn push_front(&mut self, index: usize, segment: u8) {
        let list = segment as usize;
        let head = self.lists[list].head;
        {
            let node = &mut self.nodes[index];
            node.prev = NIL;
            node.next = head;
            node.segment = segment;
        }
        // Node indexes fit in a u32: `insert_stored` makes no more nodes.
        let index32 = index as u32;
        if head == NIL {
            self.lists[list].tail = index32;
        } else {
            self.nodes[head as usize].prev = index32;
        }
        self.lists[list].head = index32;
        self.lists[list].bytes += self.nodes[index].charge();
    }

    /// Frees node `index`; returns the value it held.
    fn drop_node(&mut self, index: usize) -> Stored {
        self.unlink(index);
        let value = std::mem::replace(&mut self.nodes[index].value, Stored::empty());
        self.nodes[index].segment = FREE;
        self.len -= 1;
        self.free.push(index);
        value
    }

    /// Hints the CPU to load cache slot `slot`'s node (both lines: a hit
    /// reads its version, segment and inline value). Changes nothing.
    pub fn prefetch(&self, slot: u32) {
        if let Some(node) = self.nodes.get(slot as usize) {
            let start = (node as *const Node).cast::<u8>();
            prefetch_address(start);
            prefetch_address(start.wrapping_add(64));
        }
    }

    /// True when cache slot `slot` (from [`Cache::insert`]) holds the value
    /// of the record at `version`.
    pub fn holds(&self, slot: u32, version: u64) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|node| node.version == version && node.segment != FREE)
    }

    /// The value of the record at `version` if cache slot `slot` (from
    /// [`Cache::insert`]) still holds it.
    pub fn get_at(&mut self, slot: u32, version: u64) -> Option<Bytes> {
        if !self.holds(slot, version) {
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
    /// `version` in a node of its own; returns its cache slot, or `None`
    /// when the value is too big to be cached. The caller makes sure no
    /// other node holds `version` (see [`Cache::holds`]).
    pub fn insert(&mut self, version: u64, value: Bytes) -> Option<u32> {
        let small = value.len() <= INLINE_LEN;
        if !self.fits_charge(if small { 0 } else { value.len() as u64 }) {
            return None;
        }
        let index = self.take_node(version)?;
        let node = &mut self.nodes[index];
        if small {
            node.value.set_copied(&value);
        } else {
            node.value = Stored::Shared(value);
        }
        self.link_new(index, version)
    }

    /// [`Cache::insert`] from a borrowed value (copied only if it fits),
    /// written straight into its node.
    pub fn insert_from(&mut self, version: u64, value: &[u8]) -> Option<u32> {
        if !self.fits(value.len()) {
            return None;
        }
        let index = self.take_node(version)?;
        self.nodes[index].value.set_copied(value);
        self.link_new(index, version)
    }

    /// True when a value of `len` bytes may be cached.
    fn fits(&self, len: usize) -> bool {
        self.fits_charge(if len <= INLINE_LEN { 0 } else { len as u64 })
    }

    /// True when a value holding `outside` bytes beside its node may be
    /// cached.
    fn fits_charge(&self, outside: u64) -> bool {
        self.budget != 0 && outside + ENTRY_OVERHEAD <= self.budget / MAX_ENTRY_FRACTION
    }

    /// A node for the value of the record at `version`, not yet linked,
    /// holding an empty or stale value for the caller to set: a free one,
    /// or a new one (`None` when no more nodes can be made).
    fn take_node(&mut self, version: u64) -> Option<usize> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.nodes.len() >= NIL as usize => return None,
            None => {
                self.nodes.push(Node {
                    version,
                    prev: NIL,
                    next: NIL,
                    segment: FREE,
                    referenced: false,
                    value: Stored::empty(),
                });
                self.nodes.len() - 1
            }
        };
        let node = &mut self.nodes[index];
        node.version = version;
        node.referenced = false;
        Some(index)
    }

    /// Links node `index` (from [`Cache::take_node`], its value set) into
    /// probation; returns its slot unless balancing evicted it.
    fn link_new(&mut self, index: usize, version: u64) -> Option<u32> {
        self.len += 1;
        self.push_front(index, PROBATION);
        self.balance();
        // Balancing may have evicted the newcomer itself (a budget smaller
        // than a few entries).
        self.holds_index(index, version).then_some(index as u32)
    }

    fn holds_index(&self, index: usize, version: u64) -> bool {
        let node = &self.nodes[index];
        node.segment != FREE && node.version == version
    }

    /// A write replaced the record at `from` (cached in `slot`, from the
    /// keydir) with the record at `to` holding `value`: the old node takes
    /// the new value and location where it stands, with no unlinking, no
    /// freeing and no allocation (an overwrite of a cached key touches one
    /// node and nothing else). When `slot` no longer holds `from` (evicted,
    /// maybe reused) the value gets a node of its own; when it is too big,
    /// the old value goes and nothing is cached. Returns `to`'s cache slot.
    pub fn rewrite(&mut self, slot: u32, from: u64, to: u64, value: &[u8]) -> Option<u32> {
        if !self.holds(slot, from) {
            return self.insert_from(to, value);
        }
        let index = slot as usize;
        if !self.fits(value.len()) {
            self.drop_node(index);
            return None;
        }
        let segment = self.nodes[index].segment;
        self.lists[segment as usize].bytes -= self.nodes[index].charge();
        self.nodes[index].value.set_copied(value);
        self.nodes[index].version = to;
        self.lists[segment as usize].bytes += self.nodes[index].charge();
        self.balance();
        self.holds_index(index, to).then_some(slot)
    }

    /// Forgets the value of the record at `version` if cache slot `slot`
    /// holds it (the record was superseded or its key removed).
    pub fn remove_at(&mut self, slot: u32, version: u64) {
        if self.holds(slot, version) {
            self.drop_node(slot as usize);
        }
    }

    /// A merge moved the record cached in `slot` from `from` to `to`: keep
    /// its value, under the new location.
    pub fn relocate_at(&mut self, slot: u32, from: u64, to: u64) {
        if self.holds(slot, from) {
            self.nodes[slot as usize].version = to;
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
        while self.lists[PROTECTED as usize].bytes > protected_budget {
            let tail = self.lists[PROTECTED as usize].tail as usize;
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
            let victim = if self.lists[PROBATION as usize].tail != NIL {
                self.lists[PROBATION as usize].tail
            } else {
                self.lists[PROTECTED as usize].tail
            } as usize;
            if let Stored::Shared(value) = self.drop_node(victim)
                && value.len() <= MAX_SPARE
            {
                self.spare = Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn value(len: usize) -> Bytes {
        Bytes::from(vec![7u8; len])
    }

    /// A cache with the slots its test records were given, as a keydir
    /// would keep them.
    struct Keyed {
        cache: Cache,
        slots: HashMap<u64, u32>,
    }

    impl Keyed {
        fn new(budget: u64) -> Keyed {
            Keyed {
                cache: Cache::new(budget),
                slots: HashMap::new(),
            }
        }

        fn insert(&mut self, record: u64, value: Bytes) {
            if let Some(slot) = self.cache.insert(record, value) {
                self.slots.insert(record, slot);
            }
        }

        fn get(&mut self, record: u64) -> Option<Bytes> {
            let slot = *self.slots.get(&record)?;
            self.cache.get_at(slot, record)
        }
    }

    #[test]
    fn only_the_cached_record_hits() {
        let mut cache = Cache::new(1 << 20);
        let slot = cache.insert(1, value(10)).unwrap();
        assert_eq!(cache.get_at(slot, 2), None, "another record of the key");
        assert_eq!(cache.get_at(slot, 1), Some(value(10)));
        cache.remove_at(slot, 2);
        assert_eq!(cache.len(), 1, "a slot is dropped only for its record");
        cache.remove_at(slot, 1);
        assert_eq!(cache.get_at(slot, 1), None, "superseded");
        let slot = cache.insert(3, value(10)).unwrap();
        cache.relocate_at(slot, 3, 4);
        assert_eq!(cache.get_at(slot, 3), None, "moved away by a merge");
        assert_eq!(cache.get_at(slot, 4), Some(value(10)));
        cache.relocate_at(slot, 3, 5);
        assert_eq!(cache.get_at(slot, 4), Some(value(10)), "not from 3");
        assert_eq!(cache.len(), 1);
        cache.remove_at(slot, 4);
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
        let mut cache = Keyed::new(100_000);
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
        assert!(cache.cache.bytes() <= 100_000);
    }

    #[test]
    fn protected_hits_outlive_newer_cold_values() {
        // Room for 250 entries: 200 protected, 50 on probation.
        let budget = 250 * (300 + ENTRY_OVERHEAD);
        let mut cache = Keyed::new(budget);
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
        assert!(cache.cache.bytes() <= budget);
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
        let mut cache = Keyed::new(1 << 20);
        for (record, len) in [(1u64, 0usize), (2, 1), (3, INLINE_LEN), (4, INLINE_LEN + 1)] {
            cache.insert(record, value(len));
            assert_eq!(cache.get(record), Some(value(len)), "{len} bytes");
        }
        // Only the value too big to be inline is charged on top of its node.
        assert_eq!(
            cache.cache.bytes(),
            4 * ENTRY_OVERHEAD + INLINE_LEN as u64 + 1
        );
        let slot = cache.slots[&3];
        assert_eq!(
            cache.cache.rewrite(slot, 3, 5, &[9u8; INLINE_LEN]),
            Some(slot)
        );
        assert_eq!(
            cache.cache.get_at(slot, 5),
            Some(Bytes::from(vec![9u8; INLINE_LEN]))
        );
    }

    #[test]
    fn a_rewrite_moves_the_node_to_the_new_record() {
        let mut cache = Cache::new(1 << 20);
        let slot = cache.insert(1, value(10)).unwrap();
        cache.insert(9, value(20)).unwrap();
        let bytes = cache.bytes();
        // Same node, new location and value; the old location is gone.
        assert_eq!(cache.rewrite(slot, 1, 2, &[7; 30]), Some(slot));
        assert_eq!(cache.get_at(slot, 1), None);
        assert_eq!(cache.get_at(slot, 2), Some(Bytes::from(vec![7; 30])));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.bytes(), bytes, "inline values charge only the node");
        // A big value is charged by its size.
        assert_eq!(cache.rewrite(slot, 2, 3, &[8; 500]), Some(slot));
        assert_eq!(cache.bytes(), bytes + 500);
        assert_eq!(cache.get_at(slot, 3), Some(Bytes::from(vec![8; 500])));
        // Back to a small value: the big one's bytes are no longer charged.
        assert_eq!(cache.rewrite(slot, 3, 4, &[6; 10]), Some(slot));
        assert_eq!(cache.bytes(), bytes);
        // A slot that no longer holds `from` is not touched: the other
        // record keeps its node and the new value gets a node of its own.
        let other = cache.rewrite(slot, 1, 5, b"five").unwrap();
        assert_ne!(other, slot);
        assert_eq!(cache.get_at(slot, 4), Some(Bytes::from(vec![6; 10])));
        assert_eq!(cache.get_at(other, 5), Some(Bytes::from_static(b"five")));
        assert_eq!(cache.len(), 3);
        // Too big for the budget: the old value goes and nothing is cached.
        let mut small = Cache::new(8 * (ENTRY_OVERHEAD + 100));
        let slot = small.insert(5, value(50)).unwrap();
        assert_eq!(small.rewrite(slot, 5, 6, &[1; 200]), None);
        assert_eq!(small.get_at(slot, 5), None);
        assert_eq!(small.get_at(slot, 6), None);
        assert!(small.is_empty());
        assert_eq!(small.bytes(), 0);
    }

    #[test]
    fn a_slot_leads_only_to_the_record_it_was_given_for() {
        let mut cache = Cache::new(1 << 20);
        let slot = cache.insert(1, value(10)).unwrap();
        assert!(cache.holds(slot, 1));
        assert_eq!(cache.get_at(slot, 1), Some(value(10)));
        assert_eq!(cache.get_at(slot, 2), None, "another record");
        assert_eq!(cache.get_at(slot + 1, 1), None, "another slot");
        assert_eq!(cache.get_at(u32::MAX, 1), None, "no slot");
        cache.remove_at(slot, 1);
        assert_eq!(cache.get_at(slot, 1), None, "freed");
        assert!(!cache.holds(slot, 1));
        // The node is reused for another record.
        assert_eq!(cache.insert_from(3, b"three"), Some(slot));
        assert_eq!(cache.get_at(slot, 1), None);
        assert_eq!(cache.get_at(slot, 3), Some(Bytes::from_static(b"three")));
        // An old slot of a reused node drops nothing of the new record.
        cache.remove_at(slot, 1);
        assert_eq!(cache.get_at(slot, 3), Some(Bytes::from_static(b"three")));
        cache.relocate_at(slot, 3, 4);
        assert_eq!(cache.get_at(slot, 3), None, "moved by a merge");
        assert_eq!(cache.get_at(slot, 4), Some(Bytes::from_static(b"three")));
        cache.clear();
        assert_eq!(cache.get_at(slot, 4), None, "cleared");
        assert!(cache.is_empty());
        // Too big for the budget: no slot.
        let mut small = Cache::new(8 * (ENTRY_OVERHEAD + 100));
        assert_eq!(small.insert_from(5, &[1; 200]), None);
        assert!(small.is_empty());
    }

    #[test]
    fn the_next_insert_gets_the_allocation_of_the_value_an_eviction_dropped() {
        let value = |byte: u8| Bytes::from(vec![byte; 4096]);
        let mut cache = Cache::new(8 * (ENTRY_OVERHEAD + 4096));
        let first = value(1);
        let first_ptr = first.as_ptr();
        cache.insert(0, first);
        let shared = value(2);
        let reader = shared.clone();
        cache.insert(1, shared);
        for record in 2..8 {
            cache.insert(record, value(3));
        }
        assert!(cache.take_spare(4096).is_none(), "nothing evicted yet");
        cache.insert(8, value(4));
        let spare = cache.take_spare(4096).expect("the evicted value's buffer");
        assert_eq!(spare.as_ptr(), first_ptr, "the same allocation, not a copy");
        assert!(spare.is_empty() && spare.capacity() >= 4096);
        assert!(cache.take_spare(4096).is_none(), "handed out once");
        cache.insert(9, value(5));
        assert!(
            cache.take_spare(4096).is_none(),
            "a value a reader still holds is left to it"
        );
        assert_eq!(reader[0], 2);
        cache.insert(10, value(6));
        assert!(
            cache.take_spare(40_000).is_none(),
            "too small for the value to come"
        );
    }

    #[test]
    fn eviction_frees_nodes_and_keeps_the_count() {
        let mut cache = Keyed::new(20 * (ENTRY_OVERHEAD + 200));
        for record in 0..100u64 {
            cache.insert(record, value(200));
        }
        let live = (0..100u64).filter(|&r| cache.get(r).is_some()).count();
        assert_eq!(live, cache.cache.len());
        assert!(live > 0 && live < 100);
        assert_eq!(cache.cache.bytes(), live as u64 * (ENTRY_OVERHEAD + 200));
    }
}
