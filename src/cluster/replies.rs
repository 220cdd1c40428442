//! The replies to CLUSTER SLOTS, SHARDS, NODES, INFO and MYID, in Redis 7's
//! formats (what redis-benchmark, redis-cli and the client libraries parse).

use std::fmt::Write;

use bytes::Bytes;

use super::topology::{Primary, Topology};
use crate::protocol::Reply;

/// CLUSTER SLOTS: `[start, end, [ip, port, id, {}]]` per slot range.
pub fn slots(topology: &Topology) -> Reply {
    let mut ranges: Vec<(u16, u16, &Primary)> = topology
        .primaries
        .iter()
        .flat_map(|p| p.ranges.iter().map(move |&(start, end)| (start, end, p)))
        .collect();
    ranges.sort_by_key(|&(start, _, _)| start);
    Reply::Array(
        ranges
            .into_iter()
            .map(|(start, end, primary)| {
                Reply::Array(vec![
                    Reply::Integer(i64::from(start)),
                    Reply::Integer(i64::from(end)),
                    Reply::Array(vec![
                        Reply::Bulk(Bytes::from(primary.addr.ip().to_string())),
                        Reply::Integer(i64::from(primary.addr.port())),
                        Reply::Bulk(Bytes::from(primary.id.clone())),
                        // Redis 7's map of further endpoints: none here.
                        Reply::Array(Vec::new()),
                    ]),
                ])
            })
            .collect(),
    )
}

/// CLUSTER SHARDS: per primary, `slots` (start, end pairs) and `nodes`.
pub fn shards(topology: &Topology) -> Reply {
    let field = |name: &'static str| Reply::Bulk(Bytes::from_static(name.as_bytes()));
    Reply::Array(
        topology
            .primaries
            .iter()
            .map(|primary| {
                let slots = primary
                    .ranges
                    .iter()
                    .flat_map(|&(start, end)| {
                        [
                            Reply::Integer(i64::from(start)),
                            Reply::Integer(i64::from(end)),
                        ]
                    })
                    .collect();
                let ip = Bytes::from(primary.addr.ip().to_string());
                let node = Reply::Array(vec![
                    field("id"),
                    Reply::Bulk(Bytes::from(primary.id.clone())),
                    field("port"),
                    Reply::Integer(i64::from(primary.addr.port())),
                    field("ip"),
                    Reply::Bulk(ip.clone()),
                    field("endpoint"),
                    Reply::Bulk(ip),
                    field("role"),
                    field("master"),
                    field("replication-offset"),
                    Reply::Integer(0),
                    field("health"),
                    field("online"),
                ]);
                Reply::Array(vec![
                    field("slots"),
                    Reply::Array(slots),
                    field("nodes"),
                    Reply::Array(vec![node]),
                ])
            })
            .collect(),
    )
}

/// CLUSTER NODES: one line per primary, each ending in `\n`:
/// `<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <epoch>
/// <link-state> <slot> ...`. There is no cluster bus: the bus port is 0.
/// `myself` marks the primary this connection's port speaks for (none on
/// the shared port of a node with shard ports).
pub fn nodes(topology: &Topology, shard_port: Option<usize>, now_ms: u64) -> Reply {
    let mine = topology.myself_primary(shard_port).map(|p| p.id.as_str());
    let mut out = String::new();
    for primary in &topology.primaries {
        let myself = mine == Some(primary.id.as_str());
        let _ = write!(
            out,
            "{} {}:{}@0 {} - 0 {} {} connected",
            primary.id,
            primary.addr.ip(),
            primary.addr.port(),
            if myself { "myself,master" } else { "master" },
            if myself { 0 } else { now_ms },
            primary.epoch,
        );
        for &(start, end) in &primary.ranges {
            if start == end {
                let _ = write!(out, " {start}");
            } else {
                let _ = write!(out, " {start}-{end}");
            }
        }
        out.push('\n');
    }
    Reply::verbatim(out)
}

/// CLUSTER INFO.
pub fn info(topology: &Topology, shard_port: Option<usize>) -> Reply {
    let assigned = topology.slots_assigned();
    let state = if assigned == crate::keyspace::NR_SLOTS as usize {
        "ok"
    } else {
        "fail"
    };
    let current_epoch = topology.primaries.len();
    let my_epoch = topology
        .myself_primary(shard_port)
        .or_else(|| {
            topology
                .primaries
                .iter()
                .find(|p| p.node == topology.myself)
        })
        .map_or(0, |p| p.epoch);
    let size = topology
        .primaries
        .iter()
        .filter(|p| !p.ranges.is_empty())
        .count();
    let text = format!(
        "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{assigned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\ncluster_size:{size}\r\ncluster_current_epoch:{current_epoch}\r\ncluster_my_epoch:{my_epoch}\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        topology.primaries.len(),
    );
    Reply::verbatim(text)
}

/// CLUSTER MYID.
pub fn my_id(topology: &Topology, shard_port: Option<usize>) -> Reply {
    Reply::Bulk(Bytes::from(topology.my_id(shard_port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{NodeSpec, ShardPorts};

    fn topology() -> Topology {
        let nodes = vec![
            NodeSpec {
                id: "a".repeat(40),
                addr: "127.0.0.1:7000".parse().unwrap(),
                slots: vec![(0, 8191), (9000, 9000)],
                shard_ports: Some(ShardPorts {
                    base: 7100,
                    nr_shards: 2,
                }),
            },
            NodeSpec {
                id: "b".repeat(40),
                addr: "127.0.0.1:7001".parse().unwrap(),
                slots: vec![(8192, 8999), (9001, 16383)],
                shard_ports: None,
            },
        ];
        Topology::new(nodes, 0, 2).unwrap()
    }

    fn text(reply: Reply) -> String {
        match reply {
            Reply::Verbatim { text, .. } => String::from_utf8(text.to_vec()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nodes_lines_have_the_redis_layout() {
        let topology = topology();
        let shard1 = format!("{}0001", "a".repeat(36));
        let nodes = text(nodes(&topology, Some(1), 42));
        let lines: Vec<&str> = nodes.lines().collect();
        assert!(nodes.ends_with('\n'));
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            format!(
                "{}0000 127.0.0.1:7100@0 master - 0 42 1 connected 0-8191",
                "a".repeat(36)
            )
        );
        assert_eq!(
            lines[1],
            format!("{shard1} 127.0.0.1:7101@0 myself,master - 0 0 2 connected 9000")
        );
        assert_eq!(
            lines[2],
            format!(
                "{} 127.0.0.1:7001@0 master - 0 42 3 connected 8192-8999 9001-16383",
                "b".repeat(40)
            )
        );
        // The shared port of a node with shard ports is none of them.
        assert!(!text(super::nodes(&topology, None, 42)).contains("myself"));
    }

    #[test]
    fn slots_are_sorted_ranges_with_their_primary() {
        let Reply::Array(ranges) = slots(&topology()) else {
            panic!()
        };
        let starts: Vec<i64> = ranges
            .iter()
            .map(|r| match r {
                Reply::Array(items) => match items[0] {
                    Reply::Integer(start) => start,
                    _ => panic!(),
                },
                _ => panic!(),
            })
            .collect();
        assert_eq!(starts, vec![0, 8192, 9000, 9001]);
        let Reply::Array(first) = &ranges[0] else {
            panic!()
        };
        assert_eq!(
            first[2],
            Reply::Array(vec![
                Reply::bulk(b"127.0.0.1"),
                Reply::Integer(7100),
                Reply::Bulk(Bytes::from(format!("{}0000", "a".repeat(36)))),
                Reply::Array(Vec::new()),
            ])
        );
    }

    #[test]
    fn info_counts_slots_and_nodes() {
        let info = text(info(&topology(), Some(0)));
        assert!(info.starts_with("cluster_state:ok\r\n"));
        assert!(info.contains("cluster_slots_assigned:16384\r\n"));
        assert!(info.contains("cluster_known_nodes:3\r\n"));
        assert!(info.contains("cluster_size:3\r\n"));
    }
}
