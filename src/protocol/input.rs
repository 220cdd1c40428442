//! A connection's input buffer: the socket is read straight into it, and it
//! is sized by the request it is receiving.
//!
//! The buffer is one allocation holding `filled` (bytes received and not
//! parsed yet) followed by `room` (spare capacity the next read lands in,
//! never zeroed: the kernel writes only the bytes it received). A read goes
//! into `room` and the bytes it got are joined back onto `filled` without
//! copying; [`parse_request`](super::parse_request) then splits
//! requests off the front of `filled`, also without copying.
//!
//! Sizing:
//! - when the headers of the request being received announce a bulk string
//!   bigger than one read ([`pending_request_len`]), the allocation is made
//!   to fit the whole request at once (plus [`READ_CHUNK`] for whatever
//!   follows), instead of doubling read by read;
//! - a claim is trusted only as far as the bytes that back it: the
//!   allocation is at most [`GROW_FACTOR`] times what has arrived of the
//!   request, and memory is touched only by bytes that arrived, so a client
//!   that announces a big value and sends little makes the server hold
//!   little;
//! - a grown allocation is kept and reused for the next requests (no fresh
//!   memory to fault in per request), until [`SHRINK_AFTER`] reads in a row
//!   needed no big room, or the connection was idle
//!   ([`InputBuffer::release`]).

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt};

use super::parse::{ParseLimits, pending_request_len};

/// Room of an ordinary read once reads have been filling the room, and the
/// slack kept after a big request.
pub const READ_CHUNK: usize = 64 * 1024;
/// Room of a connection's first reads: a page, so thousands of mostly idle
/// connections do not hold [`READ_CHUNK`] each; the room doubles up to
/// [`READ_CHUNK`] whenever a read fills it.
const FIRST_READ: usize = 4 * 1024;
/// Below half this much room (or half an ordinary read, if smaller) the
/// buffer is refilled before reading, so reads do not shrink to a trickle.
/// Half, not all: a refill moves the allocation's bookkeeping around (about
/// 250 instructions), and at pipeline 1, where every read takes one small
/// request, refilling whenever the room fell below a whole read did it on
/// every request; at half, once per a few dozen.
const MIN_ROOM: usize = 16 * 1024;
/// An allocation may be at most this many times the bytes received of the
/// request it is made for.
pub const GROW_FACTOR: usize = 32;
/// An allocation bigger than this is "big": kept only while big requests
/// keep coming.
pub const BIG_BUFFER: usize = 4 * READ_CHUNK;
/// Reads in a row without a big request after which a big allocation is
/// given back (at the next read that has little pending).
pub const SHRINK_AFTER: u32 = 8;

/// Received bytes not parsed yet, and the room for the next read.
pub struct InputBuffer {
    /// Received, not yet parsed: the front of a pipeline, after parsing
    /// usually at most one partial request.
    filled: BytesMut,
    /// Empty, its spare capacity directly after `filled` in the same
    /// allocation, to the end of that allocation: where a read lands.
    room: BytesMut,
    /// Size of the current allocation.
    allocated: usize,
    /// Reads since one was made for a request bigger than [`READ_CHUNK`].
    reads_since_big: u32,
    /// Room of an ordinary read: from [`FIRST_READ`] up to [`READ_CHUNK`].
    read_size: usize,
    /// Room the next read asked for (at most the room's capacity is read).
    read_len: usize,
    /// Allocations made so far (fresh memory, not a reuse); for tests.
    nr_allocations: u64,
}

impl Default for InputBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl InputBuffer {
    /// An empty buffer; nothing is allocated until the first read.
    pub fn new() -> InputBuffer {
        InputBuffer {
            filled: BytesMut::new(),
            room: BytesMut::new(),
            allocated: 0,
            reads_since_big: 0,
            read_size: FIRST_READ,
            read_len: FIRST_READ,
            nr_allocations: 0,
        }
    }

    /// The received bytes, for [`parse_request`](super::parse_request) to
    /// split requests off.
    pub fn pending(&mut self) -> &mut BytesMut {
        &mut self.filled
    }

    /// Size of the current allocation.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// Allocations made since the buffer was created.
    pub fn nr_allocations(&self) -> u64 {
        self.nr_allocations
    }

    /// Reads once from `reader` into the buffer, first making room as the
    /// pending request needs. Returns the number of bytes read; 0 is the end
    /// of the stream.
    pub async fn read_from<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        limits: &ParseLimits,
    ) -> std::io::Result<usize> {
        self.make_room(limits);
        // A reader needs initialized bytes: zero one read's worth.
        let len = self.read_len.min(self.room.capacity());
        self.room.resize(len, 0);
        let n = reader.read(&mut self.room).await;
        self.room.truncate(*n.as_ref().unwrap_or(&0));
        let n = n?;
        self.received(n);
        Ok(n)
    }

    /// Lends the room of the next read (made as the pending request needs):
    /// an empty buffer whose spare capacity the read fills, for a read that
    /// owns its buffer while the kernel fills it and then grows it by the
    /// bytes received; give it back with [`InputBuffer::return_room`].
    pub fn lend_room(&mut self, limits: &ParseLimits) -> BytesMut {
        self.make_room(limits);
        std::mem::take(&mut self.room)
    }

    /// Takes back the room lent by [`InputBuffer::lend_room`], grown by the
    /// `n` bytes received.
    pub fn return_room(&mut self, room: BytesMut, n: usize) {
        self.room = room;
        self.received(n);
    }

    /// Joins the `n` bytes just read into the room onto the pending ones.
    fn received(&mut self, n: usize) {
        debug_assert_eq!(self.room.len(), n, "the room grew by the bytes received");
        if n > 0 && n == self.room.capacity() {
            self.read_size = (self.read_size * 2).min(READ_CHUNK);
        }
        // Contiguous in one allocation: joining is O(1), no copy.
        self.filled.unsplit(self.room.split_to(n));
    }

    /// Gives back a big allocation (keeping any pending bytes): for a
    /// connection that has been idle for a while.
    pub fn release(&mut self) {
        if self.allocated > BIG_BUFFER {
            let keep = self.filled.len();
            self.rejoin(keep);
            self.reallocate(keep, 0);
        }
    }

    /// Makes sure `room` can take the next read.
    fn make_room(&mut self, limits: &ParseLimits) {
        let keep = self.filled.len();
        let known = pending_request_len(&self.filled, limits);
        // Bytes of the pending request still to come, as far as announced.
        let needed = known.map_or(0, |len| len - keep);
        if known.is_some_and(|len| len > READ_CHUNK) {
            self.reads_since_big = 0;
        } else {
            self.reads_since_big = self.reads_since_big.saturating_add(1);
        }
        let big_request = needed > READ_CHUNK;
        // Room is asked for only as far as the request has already come (or
        // one READ_CHUNK): held memory follows received bytes, not claims.
        let read_len = if big_request {
            needed.min(keep.max(READ_CHUNK))
        } else {
            self.read_size
        };
        let big_allocation = self.allocated > BIG_BUFFER;
        let shrink = big_allocation && self.reads_since_big >= SHRINK_AFTER && keep <= READ_CHUNK;
        // A big request that cannot complete in this allocation moves now,
        // while little of it has arrived, if its claim is backed well enough
        // for the whole of it to be allocated.
        let move_now = big_request
            && self.room.capacity() < needed
            && needed <= keep.saturating_mul(GROW_FACTOR);
        // Nothing pending and the room is in the back half of a big
        // allocation: start over at its front (no bytes to move), so that
        // the next big request fits without moving.
        let rewind = keep == 0 && big_allocation && self.room.capacity() < self.allocated / 2;
        self.read_len = read_len;
        if !shrink && !move_now && !rewind && self.room.capacity() >= read_len.min(MIN_ROOM) / 2 {
            return;
        }
        let mut reserve = if big_request {
            needed.min(keep.saturating_mul(GROW_FACTOR)) + READ_CHUNK
        } else {
            // Requests of unannounced size (many small arguments) grow by
            // doubling, so a long one costs linear copying.
            keep.max(read_len)
        };
        if !shrink {
            // Asking for all of it moves the pending bytes to its front.
            reserve = reserve.max(self.allocated.saturating_sub(keep));
        }
        self.rejoin(keep);
        if shrink || !self.filled.try_reclaim(reserve) {
            self.reallocate(keep, reserve);
        }
        self.room = self.filled.split_off(keep);
    }

    /// Joins `room` back onto `filled` and cuts `filled` to its `keep`
    /// received bytes; the allocation is then `filled`'s alone.
    fn rejoin(&mut self, keep: usize) {
        let room = std::mem::take(&mut self.room);
        self.filled.unsplit(room);
        self.filled.truncate(keep);
    }

    /// Moves the `keep` pending bytes to a fresh allocation with `reserve`
    /// bytes of room after them.
    fn reallocate(&mut self, keep: usize, reserve: usize) {
        let mut fresh = BytesMut::with_capacity(keep + reserve);
        fresh.extend_from_slice(&self.filled[..keep]);
        self.allocated = fresh.capacity();
        self.filled = fresh;
        self.nr_allocations += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use futures_lite::future::block_on;

    use super::*;
    use crate::protocol::{Parsed, parse_request};

    /// Hands out a byte string in pieces of the given sizes (cycling).
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        next: usize,
    }

    impl Pieces {
        fn new(data: Vec<u8>, sizes: &[usize]) -> Pieces {
            Pieces {
                data,
                at: 0,
                sizes: sizes.to_vec(),
                next: 0,
            }
        }
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            let size = self.sizes[self.next % self.sizes.len()].max(1);
            self.next += 1;
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }

    fn request(args: &[&[u8]]) -> Vec<u8> {
        let mut wire = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            wire.extend_from_slice(arg);
            wire.extend_from_slice(b"\r\n");
        }
        wire
    }

    fn value(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// Reads everything `reader` has, parsing as a connection does: each
    /// request goes to `check` and is dropped before the next read, as a
    /// batch's arguments are. Returns the number of requests.
    fn read_all(
        input: &mut InputBuffer,
        reader: &mut Pieces,
        limits: &ParseLimits,
        mut check: impl FnMut(usize, Vec<Bytes>),
    ) -> usize {
        let mut nr_requests = 0;
        loop {
            let n = block_on(input.read_from(reader, limits)).unwrap();
            loop {
                match parse_request(input.pending(), limits).unwrap() {
                    Parsed::Command(args) => {
                        check(nr_requests, args);
                        nr_requests += 1;
                    }
                    Parsed::Empty => {}
                    Parsed::Incomplete => break,
                }
            }
            if n == 0 {
                return nr_requests;
            }
        }
    }

    #[test]
    fn a_big_request_is_allocated_once_and_the_allocation_reused() {
        let limits = ParseLimits::default();
        let values: Vec<Vec<u8>> = (0..4).map(|i| value(1 << 20, i)).collect();
        let mut wire = Vec::new();
        for (i, v) in values.iter().enumerate() {
            wire.extend(request(&[b"SET", format!("key:{i}").as_bytes(), v]));
        }
        // The client writes one request at a time; reads see 64 KiB at most.
        for pieces in [READ_CHUNK, 300_000, 4096] {
            let mut reader = Pieces::new(wire.clone(), &[pieces]);
            let mut input = InputBuffer::new();
            let got = read_all(&mut input, &mut reader, &limits, |i, args| {
                assert_eq!(&args[2][..], &values[i][..]);
            });
            assert_eq!(got, 4);
            // A page for the first read, one step bounded by what backs the
            // claim so far, then one that fits a whole request (plus slack),
            // reused for the other three.
            assert_eq!(input.nr_allocations(), 3, "pieces of {pieces}");
            assert!(input.allocated() <= (1 << 20) + 2 * READ_CHUNK);
        }
    }

    #[test]
    fn one_request_at_a_time_reuses_the_allocation_from_its_front() {
        // Pipeline 1: the next request arrives once the buffer is empty.
        let limits = ParseLimits::default();
        let mut input = InputBuffer::new();
        for round in 0..5u8 {
            let v = value(1 << 20, round);
            let mut reader = Pieces::new(request(&[b"SET", b"k", &v]), &[READ_CHUNK]);
            let got = read_all(&mut input, &mut reader, &limits, |_, args| {
                assert_eq!(&args[2][..], &v[..]);
            });
            assert_eq!(got, 1);
            // The first round allocates as above; later rounds allocate
            // nothing.
            assert_eq!(input.nr_allocations(), 3, "round {round}");
        }
    }

    #[test]
    fn a_claim_is_not_allocated_beyond_what_backs_it() {
        let limits = ParseLimits::default();
        // 500 MB announced, 10 bytes sent.
        let mut reader = Pieces::new(b"*1\r\n$500000000\r\nabcdefghij".to_vec(), &[7]);
        let mut input = InputBuffer::new();
        let got = read_all(&mut input, &mut reader, &limits, |_, _| {});
        assert_eq!(got, 0);
        assert!(
            input.allocated() <= 2 * READ_CHUNK,
            "allocated {} for a claim",
            input.allocated()
        );
        // 2 MiB announced, 64 KiB sent: bounded by GROW_FACTOR times that.
        let mut wire = b"*1\r\n$2097152\r\n".to_vec();
        wire.extend(vec![b'x'; READ_CHUNK]);
        let mut reader = Pieces::new(wire, &[READ_CHUNK]);
        let mut input = InputBuffer::new();
        read_all(&mut input, &mut reader, &limits, |_, _| {});
        let received = READ_CHUNK + 16;
        assert!(input.allocated() <= (GROW_FACTOR + 1) * received + READ_CHUNK);
    }

    #[test]
    fn many_small_arguments_grow_by_doubling() {
        let limits = ParseLimits::default();
        let args: Vec<Vec<u8>> = (0..100_000)
            .map(|i| format!("arg-{i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let mut reader = Pieces::new(request(&refs), &[4096, 1000, 65536]);
        let mut input = InputBuffer::new();
        let got = read_all(&mut input, &mut reader, &limits, |_, args| {
            assert_eq!(args.len(), 100_000);
            assert_eq!(&args[99_999][..], b"arg-99999");
        });
        assert_eq!(got, 1);
        assert!(
            input.nr_allocations() < 12,
            "{} allocations",
            input.nr_allocations()
        );
    }

    #[test]
    fn a_big_allocation_is_given_back_after_small_requests_or_idle() {
        let limits = ParseLimits::default();
        let mut input = InputBuffer::new();
        let set = request(&[b"SET", b"k", &value(1 << 20, 1)]);
        let mut reader = Pieces::new(set, &[READ_CHUNK]);
        assert_eq!(read_all(&mut input, &mut reader, &limits, |_, _| {}), 1);
        let kept = input.allocated();
        assert!(kept > BIG_BUFFER);
        // Then small requests, one per read: the allocation is kept for a
        // few reads, then given back.
        let get = request(&[b"GET", b"k"]);
        let few = SHRINK_AFTER as usize / 2;
        let mut reader = Pieces::new(get.repeat(few), &[get.len()]);
        assert_eq!(read_all(&mut input, &mut reader, &limits, |_, _| {}), few);
        assert_eq!(input.allocated(), kept);
        let mut reader = Pieces::new(get.repeat(SHRINK_AFTER as usize), &[get.len()]);
        read_all(&mut input, &mut reader, &limits, |_, _| {});
        assert!(
            input.allocated() <= BIG_BUFFER,
            "kept {}",
            input.allocated()
        );

        let mut reader = Pieces::new(request(&[b"SET", b"k", &value(1 << 20, 2)]), &[READ_CHUNK]);
        let mut input = InputBuffer::new();
        read_all(&mut input, &mut reader, &limits, |_, _| {});
        assert!(input.allocated() > BIG_BUFFER);
        input.release();
        assert_eq!(input.allocated(), 0);
        assert!(input.pending().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_requests_in_any_pieces_parse_the_same(
            sizes in proptest::collection::vec(
                proptest::prop_oneof![0usize..100, 60_000usize..70_000, 200_000usize..1_200_000],
                1..6,
            ),
            pieces in proptest::collection::vec(1usize..300_000, 1..8),
        ) {
            let limits = ParseLimits::default();
            let values: Vec<Vec<u8>> =
                sizes.iter().enumerate().map(|(i, &len)| value(len, i as u8)).collect();
            let mut wire = Vec::new();
            for (i, v) in values.iter().enumerate() {
                wire.extend(request(&[b"SET", format!("k{i}").as_bytes(), v, b"EX", b"100"]));
                wire.extend(b"PING\r\n");
            }
            let mut reader = Pieces::new(wire, &pieces);
            let mut input = InputBuffer::new();
            let mut mismatches = Vec::new();
            let got = read_all(&mut input, &mut reader, &limits, |i, args| {
                let ok = if i % 2 == 0 {
                    args[2][..] == values[i / 2][..] && &args[4][..] == b"100"
                } else {
                    args == [Bytes::from_static(b"PING")]
                };
                if !ok {
                    mismatches.push(i);
                }
            });
            let most = input.allocated();
            proptest::prop_assert!(mismatches.is_empty(), "requests {:?} differ", mismatches);
            proptest::prop_assert_eq!(got, 2 * values.len());
            // An allocation fits the biggest request plus slack (or doubles
            // the pending bytes, which are at most one request).
            let biggest = sizes.iter().max().copied().unwrap_or(0) + 64;
            proptest::prop_assert!(most <= 2 * (biggest + 2 * READ_CHUNK), "allocated {}", most);
        }
    }
}
