//! shardcask: a thread-per-core, shared-nothing key-value server that speaks
//! the Redis protocol and keeps its data in per-core Bitcask logs.
//!
//! The crate map, in the order a request travels:
//!
//! - [`config`]: command-line settings (clap), size and CPU-list parsing.
//! - [`server`]: one glommio executor per shard; the listener each one runs
//!   on the shared port (SO_REUSEPORT), the connection loop (read, parse every
//!   complete frame, dispatch, write replies in order), shutdown.
//! - [`net`]: the client sockets of a shard on a ring of its own (io_uring:
//!   one RECV or SEND in flight per connection, one kernel entry per busy
//!   turn, completions that never interrupt a busy shard).
//! - [`protocol`]: RESP2 request parsing (check, then parse; never trusting a
//!   header's length for allocation) and reply encoding.
//! - [`commands`]: a request's arguments become a [`commands::Command`]; keyed
//!   commands are applied to a shard's store by [`commands::exec`].
//! - [`cluster`]: the Redis Cluster slot map (nodes, shard ports, the
//!   configuration file) and the MOVED/CROSSSLOT decision for a command's
//!   keys; CLUSTER replies.
//! - [`router`]: key -> owning shard, and the cross-shard mesh that carries
//!   batches of commands to their owner and the replies back.
//! - [`storage`]: the per-shard Bitcask engine: record codec, log files with
//!   DMA group commit, keydir, recovery.
//! - [`metrics`]: every per-shard figure declared once (name, kind, unit,
//!   help); the counters shards bump, and the views generated from the list:
//!   the periodic per-core table, INFO sections, Prometheus text.
//!
//! A leaf that every layer may use (it imports nothing from the crate):
//!
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
pub mod protocol;
pub mod router;
pub mod server;
pub mod storage;
