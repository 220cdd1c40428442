//! Metrics: every per-shard figure declared once ([`table`]), the live
//! counters each shard bumps ([`shard`]) and their snapshots
//! ([`snapshot`]), per-command
//! figures ([`commands`]), latency histograms cheap to record into
//! ([`histogram`]), the slow log and latency events ([`slowlog`]),
//! and the views generated from the list: the
//! periodic table and INFO sections ([`render`]) and the Prometheus text
//! exposition ([`prometheus`]).
//!
//! This module sits beside the request path: it reads the storage layer's
//! counters and the command type, and nothing below it imports it.

pub mod commands;
pub mod histogram;
pub mod prometheus;
pub mod render;
pub mod shard;
pub mod slowlog;
pub mod snapshot;
pub mod table;

pub use render::format_table;
pub use shard::{ShardStats, bump};
pub use snapshot::ShardSnapshot;
pub use table::{Kind, METRICS, MetricDef, MetricId, NR_METRICS, Section};
