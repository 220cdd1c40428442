//! Routing: which shard owns a key, and the mesh between shards.

pub mod slot;
