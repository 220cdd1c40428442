//! Runs the computed commands (RENAME, RENAMENX, COPY, BITOP, LCS): latch
//! every key the command names on its owning shard (in ascending shard
//! order, as MSETNX and EXEC do), read their values, compute the reply and
//! the writes (`commands::exec::computed`), make the writes on every shard
//! (each acknowledges once durable), and only then release the latches.
//! Other clients' commands on those keys wait meanwhile, so a RENAME across
//! shards never shows both keys or neither. MIGRATE runs here too, its
//! transfer to the target server made under the same latches.

use std::rc::Rc;

use bytes::Bytes;

use super::fanout::call_shard;
use crate::commands::Command;
use crate::commands::exec::computed::{RawValue, RawWrite, compute};
use crate::keyspace::shard_for;
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::Shard;

/// Runs `command`; `latched`: its keys are already latched by a transaction.
pub async fn run(shard: &Rc<Shard>, command: Command, latched: bool) -> Reply {
    let nr_shards = shard.nr_shards;
    let keys: Vec<Bytes> = command.keys().to_vec().into_iter().cloned().collect();
    let mut by_shard: Vec<Vec<Bytes>> = vec![Vec::new(); nr_shards];
    for key in &keys {
        let owned = &mut by_shard[shard_for(key, nr_shards)];
        if !owned.contains(key) {
            owned.push(key.clone());
        }
    }
    if !latched {
        for (target, keys) in by_shard.iter().enumerate() {
            if !keys.is_empty() {
                let _ = call_shard(shard, target, ShardRequest::Latch(keys.clone())).await;
            }
        }
    }
    let reply = if let Command::Migrate(migrate) = &command {
        super::migrate::transfer(shard, migrate, &by_shard).await
    } else {
        read_compute_write(shard, &command, &keys, &by_shard).await
    };
    if !latched {
        for (target, keys) in by_shard.into_iter().enumerate() {
            if !keys.is_empty() {
                let request = ShardRequest::Unlatch { keys, pairs: None };
                let _ = call_shard(shard, target, request).await;
            }
        }
    }
    reply
}

async fn read_compute_write(
    shard: &Rc<Shard>,
    command: &Command,
    keys: &[Bytes],
    by_shard: &[Vec<Bytes>],
) -> Reply {
    let mut values: Vec<(Bytes, RawValue)> = Vec::new();
    for (target, owned) in by_shard.iter().enumerate() {
        if owned.is_empty() {
            continue;
        }
        match call_shard(shard, target, ShardRequest::ReadRaw(owned.clone())).await {
            Some(ShardResponse::Raw(found)) => values.extend(owned.iter().cloned().zip(found)),
            Some(ShardResponse::Replies(mut errors)) if !errors.is_empty() => {
                return errors.swap_remove(0);
            }
            _ => return Reply::err("ERR a shard did not answer"),
        }
    }
    let inputs: Vec<RawValue> = keys
        .iter()
        .map(|key| {
            values
                .iter()
                .find(|(owned, _)| owned == key)
                .and_then(|(_, value)| value.clone())
        })
        .collect();
    let (reply, writes) = compute(command, &inputs, shard.config.max_value_size);
    let mut writes_by_shard: Vec<Vec<RawWrite>> = vec![Vec::new(); shard.nr_shards];
    for write in writes {
        writes_by_shard[shard_for(&write.0, shard.nr_shards)].push(write);
    }
    for (target, writes) in writes_by_shard.into_iter().enumerate() {
        if writes.is_empty() {
            continue;
        }
        match call_shard(shard, target, ShardRequest::WriteRaw(writes)).await {
            Some(ShardResponse::Replies(replies)) => {
                if let Some(error) = replies.into_iter().find(Reply::is_error) {
                    return error;
                }
            }
            _ => return Reply::err("ERR a shard did not answer"),
        }
    }
    reply
}
