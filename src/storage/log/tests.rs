//! Tests of the append side of the log.

use std::task::{Context, Waker};

use super::segment::CHUNK_BYTES;
use super::*;

fn state(max_file_size: u64) -> LogState {
    LogState {
        backend: Backend::Sim(Default::default()),
        segments: VecDeque::from([Segment::empty(1, 0)]),
        files: HashMap::new(),
        stats: BTreeMap::new(),
        file_id_floor: 0,
        unsynced_sealed: Vec::new(),
        alignment: 512,
        max_file_size,
        next_seq: 1,
        next_ticket: 0,
        resolved_ticket: 0,
        failed: Vec::new(),
        undo: VecDeque::new(),
    }
}

/// Records run across chunks and read back whole from any offset; a
/// sealed chunk ending inside a block is followed by that one block
/// (its bytes copied) and then by chunks from the block boundary;
/// consuming and truncating keep every remaining offset's bytes.
#[test]
fn chunks_hold_records_across_seals_consumes_and_truncates() {
    let mut log = state(1 << 30);
    let value = |seq: u8| vec![seq; (1 << 20) + 100 * seq as usize];
    let mut at = Vec::new();
    for seq in 0..5u8 {
        let appended = log.append(0, 0, &[seq], &value(seq)).unwrap();
        at.push((
            appended.location & crate::storage::keydir::MAX_OFFSET,
            appended.record_len as u64,
        ));
    }
    fn record(log: &LogState, at: &[(u64, u64)], index: usize) -> Option<Bytes> {
        let (offset, len) = at[index];
        log.buffered(1, offset, len)
    }
    let check = |log: &LogState, at: &[(u64, u64)], index: usize| {
        let bytes = record(log, at, index).expect("buffered");
        let header = crate::storage::record::decode(&bytes).expect("a valid record");
        assert_eq!(
            crate::storage::record::value_of(&header, &bytes),
            value(index as u8)
        );
    };
    for index in 0..5 {
        check(&log, &at, index);
    }
    let segment = &mut log.segments[0];
    assert!(segment.chunks.iter().all(|chunk| chunk.len <= CHUNK_BYTES));
    // A flush seals every chunk; the data ends inside a block.
    let end = segment.end();
    assert_ne!(end % 512, 0);
    for chunk in segment.chunks.iter_mut() {
        let sealed = chunk.seal(512);
        assert_eq!(
            sealed.len() as u64,
            (chunk.len as u64).next_multiple_of(512)
        );
    }
    // A big record next starts at the next block (the sealed chunk's zeros
    // pad the one the data ends in): its round shares no block with the
    // flush before, and the tickets count the padding.
    let ticket_before = log.next_ticket;
    let appended = log.append(0, 0, b"x", &value(5)).unwrap();
    let offset = appended.location & crate::storage::keydir::MAX_OFFSET;
    assert_eq!(offset, end.next_multiple_of(512));
    assert_eq!(
        appended.ticket - ticket_before,
        offset - end + appended.record_len as u64
    );
    at.push((offset, appended.record_len as u64));
    let segment = &log.segments[0];
    assert_eq!(
        segment.ticket_at(offset),
        appended.ticket - appended.record_len as u64
    );
    let fresh = segment
        .chunks
        .iter()
        .find(|chunk| !chunk.is_sealed())
        .unwrap();
    assert_eq!(fresh.start, offset);
    for index in 0..6 {
        check(&log, &at, index);
    }
    // A small record after the next flush starts a one-block chunk holding
    // the tail's bytes instead.
    let segment = &mut log.segments[0];
    let end = segment.end();
    assert_ne!(end % 512, 0);
    for chunk in segment.chunks.iter_mut() {
        chunk.seal(512);
    }
    let small = log.append(0, 0, b"s", b"small").unwrap();
    assert_eq!(small.location & crate::storage::keydir::MAX_OFFSET, end);
    let tail = log.segments[0]
        .chunks
        .iter()
        .find(|chunk| !chunk.is_sealed())
        .unwrap();
    assert_eq!(tail.start, end - end % 512);
    assert_eq!(tail.len as u64, end % 512 + small.record_len as u64);
    for index in 0..6 {
        check(&log, &at, index);
    }
    // Written up to record 3: the chunks before its block go.
    let segment = &mut log.segments[0];
    segment.consume(at[3].0 - at[3].0 % 512);
    assert!(segment.start() <= at[3].0);
    assert!(record(&log, &at, 0).is_none(), "consumed");
    for index in 3..6 {
        check(&log, &at, index);
    }
    // Rewound to the end of record 3.
    let segment = &mut log.segments[0];
    segment.truncate(at[3].0 + at[3].1);
    assert_eq!(segment.end(), at[3].0 + at[3].1);
    check(&log, &at, 3);
    assert!(record(&log, &at, 4).is_none(), "truncated");
    // Appends after a truncate land behind record 3.
    let appended = log.append(0, 0, b"y", b"tail").unwrap();
    let offset = appended.location & crate::storage::keydir::MAX_OFFSET;
    assert_eq!(offset, at[3].0 + at[3].1);
    assert_eq!(
        log.buffered(1, offset + 33, 4).as_deref(),
        Some(&b"tail"[..])
    );
    check(&log, &at, 3);
}

/// Counts its wake-ups.
struct Count(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn waiters_wake_only_resolved_tickets_in_any_order() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    let waiters = Waiters::default();
    let counts: Vec<Arc<Count>> = (0..4)
        .map(|_| Arc::new(Count(Default::default())))
        .collect();
    // Out of order: 30, 10, 20, then 5 (already resolved when it parks).
    for (count, ticket) in counts.iter().zip([30, 10, 20, 5]) {
        let waker = Waker::from(count.clone());
        waiters.register(ticket, &Context::from_waker(&waker));
    }
    let woken = || -> Vec<usize> { counts.iter().map(|c| c.0.load(Relaxed)).collect() };
    waiters.wake_resolved(4);
    assert_eq!(woken(), [0, 0, 0, 0]);
    waiters.wake_resolved(10);
    assert_eq!(woken(), [0, 1, 0, 1]);
    waiters.wake_resolved(29);
    assert_eq!(woken(), [0, 1, 1, 1]);
    waiters.wake_resolved(u64::MAX);
    assert_eq!(woken(), [1, 1, 1, 1]);
    waiters.wake_resolved(u64::MAX);
    assert_eq!(woken(), [1, 1, 1, 1]);
}

#[test]
fn rollover_and_oversized_records() {
    let mut log = state(100);
    let first = log.append(0, 0, b"k", &[1; 40]).unwrap();
    assert_eq!(first.location, pack_location(1, 0));
    let second = log.append(0, 0, b"k", &[1; 40]).unwrap();
    assert_eq!(second.location, pack_location(2, 0));
    let big = log.append(0, 0, b"k", &[1; 400]).unwrap();
    assert_eq!(big.location, pack_location(3, 0));
    let after = log.append(0, 0, b"k", &[]).unwrap();
    assert_eq!(after.location, pack_location(4, 0));
    assert_eq!(log.segments.len(), 4);
    assert!(after.ticket > big.ticket && big.ticket > second.ticket);
    assert!(log.buffered(3, 0, big.record_len as u64).is_some());
}

#[test]
fn failed_ranges_merge_and_classify() {
    let mut log = state(1 << 20);
    let a = log.append(0, 0, b"a", b"1").unwrap().ticket;
    log.resolved_ticket = a;
    let b = log.append(0, 0, b"b", b"2").unwrap().ticket;
    log.fail_pending("disk full");
    let c = log.append(0, 0, b"c", b"3").unwrap().ticket;
    assert!(log.ticket_state(c).is_none());
    log.fail_pending("disk full");
    assert_eq!(log.failed.len(), 1);
    let d = log.append(0, 0, b"d", b"4").unwrap().ticket;
    log.resolved_ticket = d;
    assert!(matches!(log.ticket_state(a), Some(Ok(()))));
    assert!(matches!(log.ticket_state(b), Some(Err(_))));
    assert!(matches!(log.ticket_state(c), Some(Err(_))));
    assert!(matches!(log.ticket_state(d), Some(Ok(()))));
}
