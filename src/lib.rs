//! shardcask: a thread-per-core, shared-nothing key-value server that speaks
//! the Redis protocol and keeps its data in per-core Bitcask logs.
//!
//! The crate map, top down in the order a request travels: each module
//! imports only modules below it in this list.
//!
//! - [`server`]: start-up (one glommio executor per shard), the listener each
//!   one runs on the shared port (SO_REUSEPORT), periodic stats, the metrics
//!   endpoint, signals and shutdown. Every accepted client goes to the
//!   pipeline.
//! - [`pipeline`]: one client's loop (receive from [`net`], parse every
//!   complete request with [`protocol`], plan, run, send the replies in
//!   request order); a batch's keyed commands split into per-shard groups
//!   and their replies gathered back in order; sessions (HELLO, MULTI/EXEC,
//!   WATCH); the commands answered above the shards by asking them (INFO,
//!   KEYS, SCAN, CLIENT, CLUSTER, RENAME, ...).
//! - [`shard`]: the shard engine: the state an executor owns and how it
//!   serves a group of commands (or any other request) from its own
//!   connections or from peers; the state all shards share (stop flag,
//!   CONFIG SET settings).
//! - [`router`]: the requests shards exchange and the cross-shard mesh that
//!   carries them.
//! - [`cluster`]: the Redis Cluster slot map (nodes, shard ports, the
//!   configuration file) and the MOVED/CROSSSLOT decision for a command's
//!   keys; CLUSTER replies.
//! - [`metrics`]: every per-shard figure declared once (name, kind, unit,
//!   help); the counters shards bump, and the views generated from the list:
//!   the periodic per-core table, INFO sections, Prometheus text.
//! - [`commands`]: a request's arguments become a [`commands::Command`]; keyed
//!   commands are applied to a shard's store by [`commands::exec`].
//! - [`config`]: command-line settings (clap), size and CPU-list parsing.
//! - [`storage`]: the per-shard Bitcask engine: record codec, log files with
//!   DMA group commit, keydir, recovery.
//!
//! The ground floor, which imports nothing from the crate:
//!
//! - [`net`]: the client sockets of a shard on a ring of its own (io_uring:
//!   one RECV or SEND in flight per connection, one kernel entry per busy
//!   turn, completions that never interrupt a busy shard).
//! - [`protocol`]: RESP2/RESP3 request parsing (check, then parse; never
//!   trusting a header's length for allocation) and reply encoding.
//! - [`keyspace`]: slot hashing: CRC16 hash slot, hashtags, slot ranges and
//!   the slot -> shard split.

#![warn(missing_docs, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod cluster;
pub mod commands;
pub mod config;
pub mod keyspace;
pub mod metrics;
pub mod net;
pub mod pipeline;
pub mod protocol;
pub mod router;
pub mod server;
pub mod shard;
pub mod storage;
