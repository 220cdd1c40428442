//! The Redis Cluster protocol: the slot map cluster-aware clients read
//! (CLUSTER SLOTS/SHARDS/NODES), and the redirections (`-MOVED`,
//! `-CROSSSLOT`, `-CLUSTERDOWN`) that keep them on the right node, and on a
//! node with `--shard-ports` on the right core.
//!
//! Three ways to run, one slot map ([`Topology`]) for all:
//! - alone: one node owns every slot; its shared port serves every key and
//!   CLUSTER answers show it as the only primary;
//! - `--shard-ports BASE`: shard *i* also listens alone on `BASE + i` and is
//!   shown as a primary of its own for its slots; a key sent to the wrong
//!   shard port gets `-MOVED` to the right one, so a cluster-aware client
//!   sends every key straight to its core (no mesh hop). The shared port
//!   keeps serving every key of the node through the mesh for plain
//!   clients, and its CLUSTER answers show the shard view too (so a client
//!   seeded with the shared port finds the shard ports);
//! - `--cluster-config FILE`: several nodes, each owning the slots the file
//!   gives it (served over its shards as usual); keys of other nodes get
//!   `-MOVED`, and commands whose keys live on different nodes `-CROSSSLOT`.
//!
//! Within a node, shards keep dividing the whole slot space into contiguous
//! ranges (the on-disk layout does not depend on the cluster), so a node
//! owning a third of the slots uses the shards whose ranges overlap it.
//!
//! This module is pure: it knows slots and nodes, not shards' stores; the
//! server holds a [`View`] per shard and calls [`View::check`] for every
//! keyed command.

pub mod config_file;
pub mod replies;
pub mod topology;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::commands::Keys;
use crate::keyspace::{NR_SLOTS, key_slot};
use crate::protocol::Reply;
pub use topology::{NodeSpec, Primary, ShardPorts, Topology};

/// What a node knows about itself before reading any configuration.
#[derive(Debug, Clone)]
pub struct LocalNode {
    /// `--listen` (resolved: never port 0).
    pub listen: SocketAddr,
    /// `--shard-ports`.
    pub shard_ports: Option<u16>,
    /// `--shards`.
    pub nr_shards: usize,
    /// `--cluster-config`.
    pub config_file: Option<PathBuf>,
    /// The node id used without a configuration file (kept in the data
    /// directory so that it survives restarts).
    pub default_id: String,
}

/// The cluster state every shard of a node shares: the current slot map
/// and a generation that moves on each reload. Shards read it through
/// their [`View`], which takes the lock only when the generation moved.
pub struct ClusterState {
    local: LocalNode,
    current: RwLock<Arc<Topology>>,
    generation: AtomicU64,
}

impl ClusterState {
    /// Builds the first slot map (reading the configuration file if any).
    pub fn new(mut local: LocalNode) -> Result<Arc<ClusterState>, String> {
        let topology = build(&local)?;
        // From now on the node runs these shard ports: a reload that gives
        // it others is refused.
        local.shard_ports = topology.me().shard_ports.map(|p| p.base);
        Ok(Arc::new(ClusterState {
            local,
            current: RwLock::new(Arc::new(topology)),
            generation: AtomicU64::new(0),
        }))
    }

    /// Reads the configuration file again and switches to it; on any error
    /// the current map stays. Answers a one-line summary or the error.
    pub fn reload(&self) -> Result<String, String> {
        if self.local.config_file.is_none() {
            return Err("ERR no --cluster-config file to reload".into());
        }
        let topology = build(&self.local).map_err(|e| format!("ERR {e}"))?;
        let summary = format!(
            "{} node(s), {} slot(s) assigned, this node {}",
            topology.nodes.len(),
            topology.slots_assigned(),
            topology.me().id
        );
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(topology);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(summary)
    }

    /// This node's shard ports (`--shard-ports`, or the configuration
    /// file's entry for this node).
    pub fn shard_ports(&self) -> Option<u16> {
        self.local.shard_ports
    }

    /// The current slot map.
    pub fn current(&self) -> Arc<Topology> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Builds the slot map from the file, or the single-node map without one.
fn build(local: &LocalNode) -> Result<Topology, String> {
    let mut nodes = match &local.config_file {
        Some(path) => config_file::load(path).map_err(|e| e.to_string())?,
        None => {
            let mut addr = local.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            vec![NodeSpec {
                id: local.default_id.clone(),
                addr,
                slots: vec![(0, NR_SLOTS - 1)],
                shard_ports: None,
            }]
        }
    };
    let myself = nodes
        .iter()
        .position(|node| {
            node.addr == local.listen
                || (local.listen.ip().is_unspecified() && node.addr.port() == local.listen.port())
        })
        .ok_or_else(|| {
            format!(
                "no node of the cluster configuration has this node's --listen address {}",
                local.listen
            )
        })?;
    if let Some(base) = local.shard_ports {
        let own = ShardPorts {
            base,
            nr_shards: local.nr_shards,
        };
        match nodes[myself].shard_ports {
            Some(listed) if listed != own => {
                return Err(format!(
                    "the configuration gives this node shard_ports = {} with {} shards, but it runs --shard-ports {base} with {} shards",
                    listed.base, listed.nr_shards, local.nr_shards
                ));
            }
            _ => nodes[myself].shard_ports = Some(own),
        }
    }
    Topology::new(nodes, myself, local.nr_shards).map_err(|e| e.to_string())
}

/// One shard's view of the cluster state: a cached slot map, refreshed
/// when the shared generation moved (one atomic load per check).
pub struct View {
    state: Arc<ClusterState>,
    cached: RefCell<Arc<Topology>>,
    generation: Cell<u64>,
    /// `cached.owns_all()`, read without borrowing (the hot path).
    owns_all: Cell<bool>,
}

impl View {
    /// A view of `state`.
    pub fn new(state: Arc<ClusterState>) -> View {
        let generation = Cell::new(state.generation.load(Ordering::Acquire));
        let topology = state.current();
        let owns_all = Cell::new(topology.owns_all());
        View {
            state,
            cached: RefCell::new(topology),
            generation,
            owns_all,
        }
    }

    /// The shared state (for reloads).
    pub fn state(&self) -> &Arc<ClusterState> {
        &self.state
    }

    fn refresh(&self) {
        let generation = self.state.generation.load(Ordering::Acquire);
        if generation != self.generation.get() {
            let topology = self.state.current();
            self.owns_all.set(topology.owns_all());
            *self.cached.borrow_mut() = topology;
            self.generation.set(generation);
        }
    }

    /// The current slot map.
    pub fn topology(&self) -> Arc<Topology> {
        self.refresh();
        self.cached.borrow().clone()
    }

    /// Whether a keyed command with `keys` may run on a connection of
    /// `shard_port` (`None`: the shared port); the redirection or error to
    /// answer instead when not.
    #[inline]
    pub fn check(&self, shard_port: Option<usize>, keys: Keys<'_>) -> Option<Reply> {
        // The common case (one node, shared port): one atomic load and two
        // compares, no borrow, no hashing.
        if shard_port.is_none()
            && self.owns_all.get()
            && self.state.generation.load(Ordering::Acquire) == self.generation.get()
        {
            return None;
        }
        self.check_slow(shard_port, keys)
    }

    #[inline(never)]
    fn check_slow(&self, shard_port: Option<usize>, keys: Keys<'_>) -> Option<Reply> {
        self.refresh();
        let topology = self.cached.borrow();
        if shard_port.is_none() && topology.owns_all() {
            return None;
        }
        let slot = |key: &Bytes| key_slot(key);
        match keys {
            Keys::None => None,
            Keys::One(key) => check_slots(&topology, shard_port, std::iter::once(slot(key))),
            Keys::Two(first, second) => check_slots(
                &topology,
                shard_port,
                [slot(first), slot(second)].into_iter(),
            ),
            Keys::List(keys) => check_slots(&topology, shard_port, keys.iter().map(slot)),
            Keys::Pairs(pairs) => check_slots(
                &topology,
                shard_port,
                pairs.iter().map(|(key, _)| slot(key)),
            ),
        }
    }
}

/// The decision of [`View::check`] for the keys' slots.
///
/// Served when this node (on a shard port: this shard) owns every slot.
/// Otherwise `-MOVED` to the primary of the first key's slot when every key
/// goes to that one primary (Redis asks for a single slot; keys of several
/// slots of one primary are let through there too), `-CROSSSLOT` when the
/// keys are spread over primaries, `-CLUSTERDOWN` when a slot has no owner.
pub fn check_slots(
    topology: &Topology,
    shard_port: Option<usize>,
    slots: impl Iterator<Item = u16>,
) -> Option<Reply> {
    let mut served = true;
    let mut first: Option<(u16, Option<&Primary>)> = None;
    let mut one_target = true;
    for slot in slots {
        if topology.node_of(slot).is_none() {
            return Some(Reply::err("CLUSTERDOWN Hash slot not served"));
        }
        served &= topology.serves(slot, shard_port);
        let primary = topology.primary_of(slot);
        match first {
            None => first = Some((slot, primary)),
            Some((_, first_primary)) => {
                one_target &= first_primary.map(|p| &p.id) == primary.map(|p| &p.id);
            }
        }
    }
    if served {
        return None;
    }
    if !one_target {
        return Some(crossslot());
    }
    let (slot, primary) = first?;
    // A slot of this node's shared port whose shard has no primary of its
    // own cannot happen (every owned slot is in some primary); be safe.
    let primary = primary?;
    Some(moved(slot, primary.addr))
}

/// `-MOVED <slot> <ip>:<port>`
pub fn moved(slot: u16, addr: SocketAddr) -> Reply {
    Reply::error(format!("MOVED {slot} {}:{}", addr.ip(), addr.port()))
}

/// `-ASK <slot> <ip>:<port>` (sent while a slot migrates; migration is not
/// implemented yet, so nothing sends it today).
pub fn ask(slot: u16, addr: SocketAddr) -> Reply {
    Reply::error(format!("ASK {slot} {}:{}", addr.ip(), addr.port()))
}

/// `-CROSSSLOT Keys in request don't hash to the same slot`
pub fn crossslot() -> Reply {
    Reply::err("CROSSSLOT Keys in request don't hash to the same slot")
}

/// A fresh random node id: 40 hex characters.
pub fn random_node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::with_capacity(48);
    for round in 0..3u64 {
        // ahash's RandomState is seeded from the OS's randomness.
        let mut hasher = ahash::RandomState::new().build_hasher();
        hasher.write_u64(round);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id.truncate(40);
    id
}

/// The node id kept in `<dir>/NODE_ID`, created on first start.
pub fn stored_node_id(dir: &std::path::Path) -> std::io::Result<String> {
    let path = dir.join("NODE_ID");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim().to_ascii_lowercase();
        if id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id);
        }
    }
    let id = random_node_id();
    std::fs::write(&path, format!("{id}\n"))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::key_slot;

    fn three_nodes(myself: usize, shard_ports: bool) -> Topology {
        let ports = |base| shard_ports.then_some(ShardPorts { base, nr_shards: 2 });
        let nodes = vec![
            NodeSpec {
                id: "1".repeat(40),
                addr: "127.0.0.1:7000".parse().unwrap(),
                slots: vec![(0, 5460)],
                shard_ports: ports(7100),
            },
            NodeSpec {
                id: "2".repeat(40),
                addr: "127.0.0.1:7001".parse().unwrap(),
                slots: vec![(5461, 10922)],
                shard_ports: ports(7200),
            },
            NodeSpec {
                id: "3".repeat(40),
                addr: "127.0.0.1:7002".parse().unwrap(),
                slots: vec![(10923, 16382)],
                shard_ports: ports(7300),
            },
        ];
        Topology::new(nodes, myself, 2).unwrap()
    }

    fn check(topology: &Topology, port: Option<usize>, keys: &[&str]) -> Option<Reply> {
        check_slots(topology, port, keys.iter().map(|k| key_slot(k.as_bytes())))
    }

    #[test]
    fn keys_of_other_nodes_are_moved() {
        let topology = three_nodes(0, false);
        // "bar" is slot 5061 (node 0), "foo" 12182 (node 2).
        assert_eq!(check(&topology, None, &["bar"]), None);
        assert_eq!(
            check(&topology, None, &["foo"]),
            Some(Reply::err("MOVED 12182 127.0.0.1:7002"))
        );
        assert_eq!(
            check(&topology, None, &["foo", "{foo}x"]),
            Some(Reply::err("MOVED 12182 127.0.0.1:7002"))
        );
        assert_eq!(check(&topology, None, &["bar", "foo"]), Some(crossslot()));
        // Slot 16383 has no owner.
        let unowned = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| key_slot(k.as_bytes()) == 16383)
            .unwrap();
        assert_eq!(
            check(&topology, None, &[&unowned]),
            Some(Reply::err("CLUSTERDOWN Hash slot not served"))
        );
    }

    #[test]
    fn shard_ports_redirect_between_cores() {
        let topology = three_nodes(0, true);
        // Node 0 owns 0-5460, all inside shard 0's range (0-8191).
        assert_eq!(check(&topology, Some(0), &["bar"]), None);
        assert_eq!(
            check(&topology, Some(1), &["bar"]),
            Some(Reply::err("MOVED 5061 127.0.0.1:7100"))
        );
        // Another node's key goes to that node's shard port: 12182 is in
        // its shard 1 (8192-16383).
        assert_eq!(
            check(&topology, None, &["foo"]),
            Some(Reply::err("MOVED 12182 127.0.0.1:7301"))
        );
    }
}
