//! `shardcask-bench`: a pipelined RESP load generator for shardcask, Redis
//! or any RESP2 server.
//!
//! Crate map, in the order a request flows:
//! - [`args`]: the command line and the validated [`args::Config`];
//! - [`runner`]: one pinned thread per client thread, the start gate, the
//!   per-second progress line, preload then the measured phase;
//! - [`driver`]: a client thread's event loop over its connections: one
//!   epoll wait per turn ([`poll`]), timers for sends and reconnects;
//! - [`conn`]: one connection: window, rate, reads, writes, reconnects;
//! - [`judge`]: what each reply means for its request; `-MOVED` followed;
//! - [`ctx`]: what a thread's connections and the judge share, and the
//!   record of a request in flight;
//! - [`schedule`]: `--rate`: each connection's intended send times;
//! - [`cluster`]: `--cluster`: the slot map (CLUSTER SLOTS), keys per
//!   primary, MOVED targets;
//! - [`keys`]: PRNG, key distributions (uniform, zipf, sequential), key
//!   formatting;
//! - [`value`]: filler and self-checking (`--verify`) values;
//! - [`resp`]: request encoding and the streaming reply parser;
//! - [`stats`]: per-thread counters and hdrhistogram latencies;
//! - [`timeline`]: `--timeline` latencies per slot of intended send time;
//! - [`info`]: `--server-stats` INFO snapshots and deltas;
//! - [`report`]: the final table and JSON;
//! - [`plot`]: `--plot` SVG charts (and compare.sh's bar chart);
//! - [`hdrlog`]: `--hdr` HdrHistogram interval logs.

#![warn(missing_docs, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod args;
pub mod cluster;
pub mod conn;
pub mod ctx;
pub mod driver;
pub mod hdrlog;
pub mod info;
pub mod judge;
pub mod keys;
pub mod plot;
pub mod poll;
pub mod report;
pub mod resp;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod timeline;
pub mod value;

pub use args::{Args, Config};
pub use runner::{Report, run};
