//! Parsing of CLUSTER and its sub-commands (READONLY, READWRITE and ASKING
//! take no argument: their table rows build them). They are answered by `crate::pipeline` with the slot
//! map of `crate::cluster`, never by a shard's `exec`.

use bytes::Bytes;

use super::{Command, check_arity, int_arg, unknown_subcommand};
use crate::protocol::Reply;

/// Sub-commands of CLUSTER, and the cluster connection commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSub {
    /// CLUSTER SLOTS
    Slots,
    /// CLUSTER SHARDS
    Shards,
    /// CLUSTER NODES
    Nodes,
    /// CLUSTER INFO
    Info,
    /// CLUSTER MYID
    MyId,
    /// CLUSTER KEYSLOT key
    KeySlot(Bytes),
    /// CLUSTER COUNTKEYSINSLOT slot
    CountKeysInSlot(u16),
    /// CLUSTER GETKEYSINSLOT slot count
    GetKeysInSlot(u16, usize),
    /// CLUSTER RELOAD (ours): read `--cluster-config` again.
    Reload,
    /// READONLY
    ReadOnly,
    /// READWRITE
    ReadWrite,
    /// ASKING
    Asking,
}

/// Parses CLUSTER's arguments (its own arity already checked by the table).
pub(super) fn cluster(args: &[Bytes]) -> Result<Command, Reply> {
    cluster_sub(args).map(Command::Cluster)
}

fn cluster_sub(args: &[Bytes]) -> Result<ClusterSub, Reply> {
    let sub = args[1].to_ascii_lowercase();
    let (arity, parsed) = match sub.as_slice() {
        b"slots" => (2, ClusterSub::Slots),
        b"shards" => (2, ClusterSub::Shards),
        b"nodes" => (2, ClusterSub::Nodes),
        b"info" => (2, ClusterSub::Info),
        b"myid" => (2, ClusterSub::MyId),
        b"reload" => (2, ClusterSub::Reload),
        b"keyslot" => {
            check_arity(args, 3, "cluster|keyslot")?;
            return Ok(ClusterSub::KeySlot(args[2].clone()));
        }
        b"countkeysinslot" => {
            check_arity(args, 3, "cluster|countkeysinslot")?;
            let slot = int_arg(&args[2])?;
            let slot = valid_slot(slot).ok_or(Reply::err("ERR Invalid slot"))?;
            return Ok(ClusterSub::CountKeysInSlot(slot));
        }
        b"getkeysinslot" => {
            check_arity(args, 4, "cluster|getkeysinslot")?;
            let slot = int_arg(&args[2])?;
            let count = int_arg(&args[3])?;
            let invalid = Reply::err("ERR Invalid slot or number of keys");
            let slot = valid_slot(slot).ok_or(invalid.clone())?;
            let count = usize::try_from(count).map_err(|_| invalid)?;
            return Ok(ClusterSub::GetKeysInSlot(slot, count));
        }
        _ => return Err(unknown_subcommand(args)),
    };
    let full_name = format!("cluster|{}", String::from_utf8_lossy(&sub));
    check_arity(args, arity, &full_name)?;
    Ok(parsed)
}

fn valid_slot(slot: i64) -> Option<u16> {
    u16::try_from(slot)
        .ok()
        .filter(|&s| s < crate::keyspace::NR_SLOTS)
}

#[cfg(test)]
mod tests {
    use super::{ClusterSub, Command};
    use crate::commands::test_util::{b, parse, parse_err};

    #[test]
    fn parses_cluster_commands() {
        assert_eq!(
            parse("CLUSTER slots").unwrap(),
            Command::Cluster(ClusterSub::Slots)
        );
        assert_eq!(
            parse("cluster keyslot foo").unwrap(),
            Command::Cluster(ClusterSub::KeySlot(b("foo")))
        );
        assert_eq!(
            parse("cluster getkeysinslot 12182 10").unwrap(),
            Command::Cluster(ClusterSub::GetKeysInSlot(12182, 10))
        );
        assert_eq!(parse("readonly").unwrap().name(), "readonly");
        assert_eq!(parse("asking").unwrap().name(), "asking");
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_err("cluster"),
            "ERR wrong number of arguments for 'cluster' command"
        );
        assert_eq!(
            parse_err("cluster nope"),
            "ERR unknown subcommand 'nope'. Try CLUSTER HELP."
        );
        assert_eq!(
            parse_err("cluster slots x"),
            "ERR wrong number of arguments for 'cluster|slots' command"
        );
        assert_eq!(
            parse_err("cluster countkeysinslot 16384"),
            "ERR Invalid slot"
        );
        assert_eq!(
            parse_err("cluster countkeysinslot x"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("cluster getkeysinslot 1 -1"),
            "ERR Invalid slot or number of keys"
        );
        assert_eq!(
            parse_err("readonly x"),
            "ERR wrong number of arguments for 'readonly' command"
        );
    }
}
