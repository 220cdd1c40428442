//! The server's side of the cluster protocol: answering CLUSTER commands
//! (the slot map comes from [`crate::cluster`], key counts from the owning
//! shard), and reloading the configuration file on SIGHUP.

use std::rc::Rc;

use bytes::Bytes;

use super::admin::scan;
use super::fanout::call_shard;
use crate::cluster::replies;
use crate::commands::{ClusterSub, Command};
use crate::keyspace::{key_slot, shard_for_slot, slot_range};
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::{Shard, now_ms};

/// Answers a cluster command that needs no shard's keys, or `None` for
/// COUNTKEYSINSLOT and GETKEYSINSLOT (see [`with_shards`]).
/// `shard_port` is the shard port the connection came in on (`None`: the
/// shared port): it decides which primary is "myself".
pub fn immediate(shard: &Shard, shard_port: Option<usize>, sub: &ClusterSub) -> Option<Reply> {
    let topology = shard.cluster.topology();
    Some(match sub {
        ClusterSub::Slots => replies::slots(&topology),
        ClusterSub::Shards => replies::shards(&topology),
        ClusterSub::Nodes => replies::nodes(&topology, shard_port, now_ms()),
        ClusterSub::Info => replies::info(&topology, shard_port),
        ClusterSub::MyId => replies::my_id(&topology, shard_port),
        ClusterSub::KeySlot(key) => Reply::Integer(i64::from(key_slot(key))),
        ClusterSub::Reload => match shard.cluster.state().reload() {
            Ok(summary) => {
                tracing::info!(%summary, "cluster configuration reloaded (CLUSTER RELOAD)");
                Reply::OK
            }
            Err(error) => Reply::error(error),
        },
        // No replicas and no migrations yet: these change nothing.
        ClusterSub::ReadOnly | ClusterSub::ReadWrite | ClusterSub::Asking => Reply::OK,
        ClusterSub::CountKeysInSlot(_) | ClusterSub::GetKeysInSlot(..) => return None,
    })
}

/// COUNTKEYSINSLOT and GETKEYSINSLOT: asks the shard holding the slot.
/// A slot of another node has no keys here (as in Redis).
pub async fn with_shards(shard: &Rc<Shard>, sub: ClusterSub) -> Reply {
    let (slot, limit) = match sub {
        ClusterSub::CountKeysInSlot(slot) => (slot, None),
        ClusterSub::GetKeysInSlot(slot, count) => (slot, Some(count)),
        other => {
            return immediate(shard, None, &other).unwrap_or(Reply::err("ERR internal error"));
        }
    };
    let keys = if shard.cluster.topology().serves(slot, None) {
        keys_in_slot(shard, slot).await
    } else {
        Vec::new()
    };
    match limit {
        None => Reply::Integer(keys.len() as i64),
        Some(count) => Reply::Array(keys.into_iter().take(count).map(Reply::Bulk).collect()),
    }
}

/// True for the keyspace-wide commands a shard port answers for its own
/// shard only (DBSIZE, KEYS, SCAN).
pub fn is_shard_scoped(command: &Command) -> bool {
    matches!(
        command,
        Command::DbSize | Command::Keys(_) | Command::Scan { .. }
    )
}

/// DBSIZE, KEYS or SCAN over shard `own`'s keys only (a connection on its
/// shard port). SCAN's cursor stays the next slot, within the shard's range.
pub async fn shard_scoped(shard: &Rc<Shard>, own: usize, command: Command) -> Reply {
    match command {
        Command::DbSize => match call_shard(shard, own, ShardRequest::DbSize).await {
            Some(ShardResponse::Count(n)) => Reply::Integer(n as i64),
            _ => Reply::err("ERR a shard did not answer"),
        },
        Command::Keys(pattern) => match call_shard(shard, own, ShardRequest::Keys(pattern)).await {
            Some(ShardResponse::Keys(keys)) => {
                Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
            }
            _ => Reply::err("ERR a shard did not answer"),
        },
        Command::Scan {
            cursor,
            pattern,
            count,
            type_filter,
        } => {
            let range = slot_range(own, shard.nr_shards);
            scan(shard, range, cursor, pattern, count, type_filter).await
        }
        other => Reply::error(format!(
            "ERR internal error: '{}' is not scoped to a shard",
            other.name()
        )),
    }
}

/// Every key of `slot`: one SCAN page from the slot on holds the whole slot
/// (pages end at slot boundaries), maybe followed by keys of later slots.
async fn keys_in_slot(shard: &Rc<Shard>, slot: u16) -> Vec<Bytes> {
    let owner = shard_for_slot(slot, shard.nr_shards);
    let request = ShardRequest::Scan {
        start_slot: slot,
        count: 1,
        pattern: None,
    };
    match call_shard(shard, owner, request).await {
        Some(ShardResponse::ScanPage { keys, .. }) => keys
            .into_iter()
            .filter(|key| key_slot(key) == slot)
            .collect(),
        _ => Vec::new(),
    }
}

/// Reloads the configuration file whenever the process gets SIGHUP (run
/// on one shard: the slot map is shared).
pub async fn reload_on_hangup(shard: Rc<Shard>) {
    let mut seen = shard.shared.hangups();
    while !shard.shutdown.is_fired() {
        glommio::timer::sleep(crate::shard::POLL).await;
        let now = shard.shared.hangups();
        if now == seen {
            continue;
        }
        seen = now;
        match shard.cluster.state().reload() {
            Ok(summary) => tracing::info!(%summary, "cluster configuration reloaded (SIGHUP)"),
            Err(error) => {
                tracing::error!(%error, "cluster configuration not reloaded; keeping the old one")
            }
        }
    }
}
