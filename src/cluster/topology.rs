//! The slot map: which node owns each hash slot, and the primaries a
//! cluster-aware client is shown (one per node, or one per shard of a node
//! that has shard ports).

use std::net::SocketAddr;

use crate::keyspace::{NR_SLOTS, shard_for_slot, slot_range};

/// Marks a slot no node owns.
const UNASSIGNED: u16 = u16::MAX;

/// One node of the cluster, as the configuration file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// 40 lower-case hex characters, unique in the cluster.
    pub id: String,
    /// The node's shared port: every key of the node is served there.
    pub addr: SocketAddr,
    /// Slot ranges the node owns, inclusive at both ends.
    pub slots: Vec<(u16, u16)>,
    /// `--shard-ports BASE` of that node, with its number of shards: shard
    /// *i* listens alone on `BASE + i` and is shown as a primary of its own.
    pub shard_ports: Option<ShardPorts>,
}

/// A node's shard-aware ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardPorts {
    /// Port of shard 0; shard *i* listens on `base + i`.
    pub base: u16,
    /// The node's number of shards.
    pub nr_shards: usize,
}

/// A primary as CLUSTER SLOTS/SHARDS/NODES show it: a whole node, or one
/// shard of a node behind its own port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primary {
    /// Node id (40 hex); a shard's id is derived from its node's.
    pub id: String,
    /// Where clients reach it.
    pub addr: SocketAddr,
    /// Its slot ranges, inclusive, ascending.
    pub ranges: Vec<(u16, u16)>,
    /// Index of its node in [`Topology::nodes`].
    pub node: usize,
    /// The shard, when this primary is one shard of its node.
    pub shard: Option<usize>,
    /// Its configuration epoch: its 1-based position among the primaries
    /// (distinct, as Redis keeps primaries' epochs).
    pub epoch: u64,
}

/// The cluster as this node sees it. Immutable: a reload builds a new one.
#[derive(Debug)]
pub struct Topology {
    /// Every node, in configuration order.
    pub nodes: Vec<NodeSpec>,
    /// Index of this node in `nodes`.
    pub myself: usize,
    /// This node's number of shards.
    pub nr_shards: usize,
    /// What clients are shown, in node order then shard order.
    pub primaries: Vec<Primary>,
    /// Slot -> owning node index (`UNASSIGNED` when none).
    slot_node: Box<[u16]>,
    /// Slot -> index in `primaries` (`UNASSIGNED` when none).
    slot_primary: Box<[u16]>,
    /// This node serves every slot on its shared port: nothing to check there.
    owns_all: bool,
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// A node id is not 40 hex characters.
    #[error("node id '{0}' is not 40 hex characters")]
    BadId(String),
    /// Two nodes share an id or an address.
    #[error("node {0} appears twice")]
    Duplicate(String),
    /// A slot is given to two nodes, or is out of range.
    #[error("slot {0} {1}")]
    BadSlot(u32, &'static str),
    /// This node is not in the list.
    #[error("this node ({0}) is not in the cluster configuration")]
    NotListed(String),
    /// This node's entry disagrees with its flags.
    #[error("{0}")]
    Mismatch(String),
}

impl Topology {
    /// Builds the slot map. `myself` picks this node; `nr_shards` is this
    /// node's shard count.
    pub fn new(
        nodes: Vec<NodeSpec>,
        myself: usize,
        nr_shards: usize,
    ) -> Result<Topology, TopologyError> {
        let mut slot_node = vec![UNASSIGNED; NR_SLOTS as usize].into_boxed_slice();
        for (index, node) in nodes.iter().enumerate() {
            if node.id.len() != 40 || !node.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(TopologyError::BadId(node.id.clone()));
            }
            if nodes[..index]
                .iter()
                .any(|other| other.id == node.id || other.addr == node.addr)
            {
                return Err(TopologyError::Duplicate(node.id.clone()));
            }
            for &(start, end) in &node.slots {
                if end >= NR_SLOTS || start > end {
                    return Err(TopologyError::BadSlot(
                        u32::from(end.max(start)),
                        "is out of range (0-16383, start <= end)",
                    ));
                }
                for slot in start..=end {
                    if slot_node[slot as usize] != UNASSIGNED {
                        return Err(TopologyError::BadSlot(
                            u32::from(slot),
                            "is given to two nodes",
                        ));
                    }
                    slot_node[slot as usize] = index as u16;
                }
            }
        }
        if myself >= nodes.len() {
            return Err(TopologyError::NotListed(format!("#{myself}")));
        }
        if let Some(ports) = nodes[myself].shard_ports
            && ports.nr_shards != nr_shards
        {
            return Err(TopologyError::Mismatch(format!(
                "the configuration gives this node {} shards, it runs {nr_shards}",
                ports.nr_shards
            )));
        }
        let mut primaries = Vec::new();
        let mut slot_primary = vec![UNASSIGNED; NR_SLOTS as usize].into_boxed_slice();
        for (index, node) in nodes.iter().enumerate() {
            let epoch = primaries.len() as u64 + 1;
            let Some(ports) = node.shard_ports else {
                primaries.push(Primary {
                    id: node.id.clone(),
                    addr: node.addr,
                    ranges: normalize(&node.slots),
                    node: index,
                    shard: None,
                    epoch,
                });
                continue;
            };
            for shard in 0..ports.nr_shards {
                let own = slot_range(shard, ports.nr_shards);
                let ranges: Vec<(u16, u16)> = normalize(&node.slots)
                    .into_iter()
                    .filter_map(|(start, end)| {
                        let start = start.max(own.start);
                        let end = end.min(own.end.saturating_sub(1));
                        (own.end > own.start && start <= end).then_some((start, end))
                    })
                    .collect();
                if ranges.is_empty() {
                    continue;
                }
                let mut addr = node.addr;
                addr.set_port(ports.base.saturating_add(shard as u16));
                primaries.push(Primary {
                    id: shard_node_id(&node.id, shard),
                    addr,
                    ranges,
                    node: index,
                    shard: Some(shard),
                    epoch: primaries.len() as u64 + 1,
                });
            }
        }
        for (index, primary) in primaries.iter().enumerate() {
            for &(start, end) in &primary.ranges {
                for slot in start..=end {
                    slot_primary[slot as usize] = index as u16;
                }
            }
        }
        let owns_all = slot_node.iter().all(|&owner| owner == myself as u16);
        Ok(Topology {
            nodes,
            myself,
            nr_shards,
            primaries,
            slot_node,
            slot_primary,
            owns_all,
        })
    }

    /// This node's entry.
    pub fn me(&self) -> &NodeSpec {
        &self.nodes[self.myself]
    }

    /// True when this node serves every slot on its shared port (a single
    /// node): keyed commands there need no check at all.
    pub fn owns_all(&self) -> bool {
        self.owns_all
    }

    /// The node owning `slot`, if any.
    pub fn node_of(&self, slot: u16) -> Option<usize> {
        let owner = self.slot_node[slot as usize];
        (owner != UNASSIGNED).then_some(owner as usize)
    }

    /// The primary clients are sent to for `slot`, if any.
    pub fn primary_of(&self, slot: u16) -> Option<&Primary> {
        let index = self.slot_primary[slot as usize];
        (index != UNASSIGNED).then(|| &self.primaries[index as usize])
    }

    /// True when this node owns `slot` and, for a connection on shard port
    /// `shard`, that shard holds it.
    pub fn serves(&self, slot: u16, shard: Option<usize>) -> bool {
        self.slot_node[slot as usize] == self.myself as u16
            && shard.is_none_or(|shard| shard_for_slot(slot, self.nr_shards) == shard)
    }

    /// Number of slots some node owns.
    pub fn slots_assigned(&self) -> usize {
        self.slot_node.iter().filter(|&&o| o != UNASSIGNED).count()
    }

    /// The primary a connection on `port` speaks for: the shard's primary on
    /// a shard port; on the shared port the node's own primary when it has
    /// no shard ports, else none (its shards are the primaries).
    pub fn myself_primary(&self, shard: Option<usize>) -> Option<&Primary> {
        self.primaries
            .iter()
            .find(|p| p.node == self.myself && p.shard == shard)
    }

    /// The id CLUSTER MYID answers on a connection of `shard`'s port (or the
    /// shared port: the node id).
    pub fn my_id(&self, shard: Option<usize>) -> String {
        match shard {
            Some(shard) if self.me().shard_ports.is_some() => shard_node_id(&self.me().id, shard),
            _ => self.me().id.clone(),
        }
    }
}

/// The id shard `shard` of node `node_id` is shown under: the node id with
/// its last four hex digits replaced by the shard number, so that it reads
/// as a relative of its node and is stable across restarts.
pub fn shard_node_id(node_id: &str, shard: usize) -> String {
    format!("{}{:04x}", &node_id[..36], shard & 0xffff)
}

/// Sorts ranges and merges adjacent ones.
fn normalize(ranges: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(sorted.len());
    for (start, end) in sorted {
        match merged.last_mut() {
            Some(last) if u32::from(start) <= u32::from(last.1) + 1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8, slots: &[(u16, u16)], shard_ports: Option<ShardPorts>) -> NodeSpec {
        NodeSpec {
            id: format!("{:040x}", n),
            addr: format!("127.0.0.1:{}", 7000 + u16::from(n))
                .parse()
                .unwrap(),
            slots: slots.to_vec(),
            shard_ports,
        }
    }

    #[test]
    fn three_nodes_split_the_slots() {
        let nodes = vec![
            node(1, &[(0, 5460)], None),
            node(2, &[(5461, 10922)], None),
            node(3, &[(10923, 16383)], None),
        ];
        let topology = Topology::new(nodes, 1, 1).unwrap();
        assert!(!topology.owns_all());
        assert_eq!(topology.node_of(0), Some(0));
        assert_eq!(topology.node_of(5461), Some(1));
        assert!(topology.serves(5461, None));
        assert!(!topology.serves(5460, None));
        assert_eq!(topology.primary_of(16383).unwrap().addr.port(), 7003);
        assert_eq!(topology.slots_assigned(), 16384);
    }

    #[test]
    fn shard_ports_split_a_node_into_primaries() {
        let ports = ShardPorts {
            base: 7100,
            nr_shards: 2,
        };
        // Node 1 owns 0-9999: shard 0 of it (0-8191) and part of shard 1.
        let nodes = vec![
            node(1, &[(0, 9999)], Some(ports)),
            node(2, &[(10000, 16383)], None),
        ];
        let topology = Topology::new(nodes, 0, 2).unwrap();
        let mine: Vec<_> = topology.primaries.iter().filter(|p| p.node == 0).collect();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].ranges, vec![(0, 8191)]);
        assert_eq!(mine[1].ranges, vec![(8192, 9999)]);
        assert_eq!(mine[1].addr.port(), 7101);
        assert_ne!(mine[0].id, mine[1].id);
        assert!(topology.serves(100, Some(0)));
        assert!(!topology.serves(100, Some(1)));
        assert!(topology.serves(9000, None));
        assert_eq!(topology.primary_of(9000).unwrap().addr.port(), 7101);
        assert!(topology.myself_primary(None).is_none());
        assert_eq!(topology.my_id(Some(1)), mine[1].id);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let overlap = vec![node(1, &[(0, 10)], None), node(2, &[(10, 20)], None)];
        assert_eq!(
            Topology::new(overlap, 0, 1).unwrap_err(),
            TopologyError::BadSlot(10, "is given to two nodes")
        );
        let mut bad_id = node(1, &[(0, 10)], None);
        bad_id.id = "xyz".into();
        assert!(matches!(
            Topology::new(vec![bad_id], 0, 1),
            Err(TopologyError::BadId(_))
        ));
        let out_of_range = vec![node(1, &[(0, 16384)], None)];
        assert!(Topology::new(out_of_range, 0, 1).is_err());
        let shards = Some(ShardPorts {
            base: 7100,
            nr_shards: 4,
        });
        assert!(matches!(
            Topology::new(vec![node(1, &[(0, 16383)], shards)], 0, 2),
            Err(TopologyError::Mismatch(_))
        ));
    }

    #[test]
    fn ranges_are_merged() {
        assert_eq!(
            normalize(&[(5, 9), (0, 4), (20, 30), (25, 26)]),
            vec![(0, 9), (20, 30)]
        );
    }
}
