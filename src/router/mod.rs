//! Routing: which shard owns a key (by [`crate::keyspace`]), the messages shards exchange,
//! and the mesh that carries them ([`mesh`]).

pub mod mesh;
pub mod oneshot;

use bytes::Bytes;

use crate::commands::Command;
use crate::metrics::ShardSnapshot;
use crate::protocol::Reply;

/// Work one shard asks of another (or of itself, without the mesh).
pub enum ShardRequest {
    /// Keyed commands for this shard, in the order the client sent them;
    /// answered with `Replies` once every write among them is durable.
    Batch(Vec<Command>),
    /// One page of SCAN: keys of slots `start_slot..` (within this shard's
    /// range) until at least `count` keys were collected or the range ends.
    Scan {
        /// First slot to visit.
        start_slot: u16,
        /// COUNT hint.
        count: usize,
        /// MATCH pattern.
        pattern: Option<Bytes>,
    },
    /// Every key matching a glob pattern (KEYS).
    Keys(Bytes),
    /// Number of keys (DBSIZE).
    DbSize,
    /// Remove every key (FLUSHALL).
    FlushAll,
    /// Merge every log file (MERGE, BGREWRITEAOF); answered with the bytes
    /// reclaimed, or at once when `background`.
    Merge {
        /// Reply before the merge runs.
        background: bool,
    },
    /// The shard's counters and histograms (INFO, periodic stats).
    Stats,
    /// The shard's client list (CLIENT LIST), one line per connection.
    ClientList,
    /// Close the connections matching the filter (CLIENT KILL) except, with
    /// SKIPME, `requester`; answered with the count.
    ClientKill {
        /// Which connections.
        filter: crate::commands::ClientKillFilter,
        /// The asking connection.
        requester: u64,
    },
    /// The shard's slow-log entries (`None`: all), or with `reset` clear
    /// them and answer the count.
    Slowlog {
        /// How many of the newest.
        count: Option<usize>,
        /// Clear instead.
        reset: bool,
    },
    /// The shard's latency events; with `reset`, drop the named ones (all
    /// when empty) and answer the count.
    LatencyEvents {
        /// Events to reset, if resetting.
        reset: Option<Vec<Bytes>>,
    },
    /// Hold writes to these keys until `Unlatch` (cross-shard MSETNX), and
    /// answer whether any of them exists.
    Latch(Vec<Bytes>),
    /// The current version of each key (`None`: absent or expired), for
    /// WATCH; with `latch`, the keys are latched first (EXEC).
    Versions {
        /// The keys.
        keys: Vec<Bytes>,
        /// Latch them first (waiting for earlier latches), as `Latch` does.
        latch: bool,
    },
    /// Keyed commands of a transaction whose keys this connection latched:
    /// run in order without waiting for latches, answered once durable.
    LatchedBatch(Vec<Command>),
    /// The values and absolute expiries (0: none) of keys this connection
    /// latched (a computed command reading its inputs).
    ReadRaw(Vec<Bytes>),
    /// Writes (`Some((value, expire_at_ms))`) or deletes (`None`) keys this
    /// connection latched; answered once durable.
    WriteRaw(Vec<(Bytes, Option<(Bytes, u64)>)>),
    /// One key of this shard picked at random (RANDOMKEY), if it has any.
    RandomKey(u64),
    /// Zero this shard's counters and per-command figures and its store's
    /// counters (CONFIG RESETSTAT); answered with `Count(0)`.
    ResetStats,
    /// Bring this shard's store and slow log up to the run-time settings
    /// (after a CONFIG SET); answered with `Count(0)`.
    ApplySettings,
    /// MONITOR lines of another shard's client: write them to this shard's
    /// monitors (answered with a zero count).
    MonitorFeed(Bytes),
    /// Release a `Latch`, first writing `pairs` if given.
    Unlatch {
        /// The latched keys.
        keys: Vec<Bytes>,
        /// Values to write before releasing (the MSETNX commit).
        pairs: Option<Vec<(Bytes, Bytes)>>,
    },
}

/// A shard's answer.
pub enum ShardResponse {
    /// One reply per command of a `Batch` (or one for FLUSHALL/Unlatch).
    Replies(Vec<Reply>),
    /// SCAN page: keys and the slot to continue from.
    ScanPage {
        /// Keys found.
        keys: Vec<Bytes>,
        /// The next slot to visit (the end of this shard's range when done).
        next_slot: u16,
    },
    /// KEYS result.
    Keys(Vec<Bytes>),
    /// A count (DBSIZE), or for `Latch` the number of keys that exist.
    Count(u64),
    /// Stats snapshot.
    Stats(Box<ShardSnapshot>),
    /// CLIENT LIST lines.
    Lines(Vec<String>),
    /// Slow-log entries, newest first.
    Slowlog(Vec<crate::metrics::slowlog::SlowlogEntry>),
    /// Latency events.
    LatencyEvents(Vec<crate::metrics::slowlog::LatencyEvent>),
    /// Key versions (`Versions`), in request order.
    Versions(Vec<Option<u64>>),
    /// Values and absolute expiries (`ReadRaw`), in request order.
    Raw(Vec<Option<(Bytes, u64)>>),
}
