//! The pipeline: what happens to a client's requests between the socket and
//! the shards, read top down.
//!
//! - [`connection`]: one client's loop: receive ([`crate::net`]), parse every
//!   complete request ([`crate::protocol`]), plan the batch, run it, send the
//!   replies in request order; its batch (`batch`: collected, run, gathered,
//!   sized) and its way out (`outbox`: replies sent without waiting, settled
//!   before the next input runs).
//! - [`session`]: per-connection state (HELLO's protocol, MULTI's queue,
//!   WATCH); [`transaction`] runs EXEC under per-key latches.
//! - [`plan`]: which shard(s) a keyed command goes to, split into per-shard
//!   parts; [`groups`]: a batch's commands grouped per owning shard, and
//!   their replies gathered back in request order (for the connection's
//!   batches and EXEC's steps alike).
//! - Commands answered above the shards, by asking them: [`admin`]
//!   (server-level: INFO, DBSIZE, KEYS, SCAN, FLUSHALL, CLIENT, CONFIG, ...),
//!   [`introspect`] (SLOWLOG, LATENCY, CLIENT KILL), [`computed`] (RENAME,
//!   COPY, BITOP, LCS; MIGRATE's transfer in [`migrate`]), [`cluster_cmd`]
//!   (CLUSTER); [`fanout`] is how they ask one shard or all; [`blocked`]
//!   ends a blocked WAIT whose client went away.
//!
//! Below the pipeline: [`crate::router`] carries requests to other shards,
//! [`crate::shard`] serves them. Nothing below imports the pipeline.

pub mod admin;
mod batch;
pub mod blocked;
pub mod cluster_cmd;
pub mod computed;
pub mod connection;
pub mod fanout;
pub mod groups;
pub mod introspect;
pub mod migrate;
pub mod monitor;
mod outbox;
pub mod plan;
pub mod selfcheck;
pub mod session;
pub mod transaction;
