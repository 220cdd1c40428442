//! EXEC: runs a connection's queued commands so that no other client sees
//! part of them, after checking that no WATCHed key changed.
//!
//! Every key the transaction names (its commands' keys and the watched ones)
//! is latched on its owning shard, shard by shard in ascending order (as a
//! cross-shard MSETNX does, so two of them cannot deadlock). While latched,
//! other connections' commands on those keys wait. The watched keys'
//! versions are read under the latch; if any differs from the one WATCH
//! saw (written, deleted or expired since), nothing runs and EXEC answers
//! the null array. Otherwise the commands run in order, consecutive keyed
//! commands as one batch per shard (each shard acknowledges once its writes
//! are durable), and only then are all the latches released. A transaction
//! whose keys live on one shard thus costs that shard three requests:
//! latch-and-read-versions, the batch, unlatch.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use super::admin;
use super::fanout::call_shard;
use super::groups::Groups;
use super::plan::keys_of;
use crate::commands::{Command, Route};
use crate::keyspace::shard_for;
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::Shard;

/// One command queued by MULTI.
#[derive(Debug)]
pub enum Queued {
    /// To run at EXEC.
    Command(Command),
    /// Its arguments were wrong: EXEC answers this error in its place.
    Failed(Reply),
}

/// A watched key and its version when WATCH ran (`None`: absent).
pub type Watched = (Bytes, Option<u64>);

/// The versions of `keys` now, for WATCH.
pub async fn versions(shard: &Rc<Shard>, keys: &[Bytes]) -> Vec<Option<u64>> {
    let mut by_shard: Vec<Vec<(usize, Bytes)>> = vec![Vec::new(); shard.nr_shards];
    for (index, key) in keys.iter().enumerate() {
        by_shard[shard_for(key, shard.nr_shards)].push((index, key.clone()));
    }
    let mut out = vec![None; keys.len()];
    for (target, entries) in by_shard.into_iter().enumerate() {
        if entries.is_empty() {
            continue;
        }
        let (positions, keys): (Vec<usize>, Vec<Bytes>) = entries.into_iter().unzip();
        let request = ShardRequest::Versions { keys, latch: false };
        if let Some(ShardResponse::Versions(found)) = call_shard(shard, target, request).await {
            for (position, version) in positions.into_iter().zip(found) {
                out[position] = version;
            }
        }
    }
    out
}

/// Runs a transaction; the reply EXEC gives.
pub async fn exec(
    shard: &Rc<Shard>,
    client_id: u64,
    queued: Vec<Queued>,
    watched: Vec<Watched>,
) -> Reply {
    let nr_shards = shard.nr_shards;
    let mut latch_keys: Vec<Vec<Bytes>> = vec![Vec::new(); nr_shards];
    for command in queued.iter().filter_map(|queued| match queued {
        Queued::Command(command) => Some(command),
        Queued::Failed(_) => None,
    }) {
        for key in keys_of(command) {
            latch_keys[shard_for(key, nr_shards)].push(key.clone());
        }
    }
    for (key, _) in &watched {
        latch_keys[shard_for(key, nr_shards)].push(key.clone());
    }
    let mut current: HashMap<Bytes, Option<u64>> = HashMap::new();
    for (target, keys) in latch_keys.iter_mut().enumerate() {
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            continue;
        }
        let request = ShardRequest::Versions {
            keys: keys.clone(),
            latch: true,
        };
        match call_shard(shard, target, request).await {
            Some(ShardResponse::Versions(found)) => {
                current.extend(keys.iter().cloned().zip(found));
            }
            _ => {
                unlatch(shard, &latch_keys[..target]).await;
                return Reply::err("ERR a shard did not answer");
            }
        }
    }
    let unchanged = watched
        .iter()
        .all(|(key, version)| current.get(key).copied().flatten() == *version);
    let reply = if unchanged {
        Reply::Array(run(shard, client_id, queued).await)
    } else {
        Reply::NilArray
    };
    unlatch(shard, &latch_keys).await;
    reply
}

async fn unlatch(shard: &Rc<Shard>, latch_keys: &[Vec<Bytes>]) {
    for (target, keys) in latch_keys.iter().enumerate() {
        if !keys.is_empty() {
            let request = ShardRequest::Unlatch {
                keys: keys.clone(),
                pairs: None,
            };
            let _ = call_shard(shard, target, request).await;
        }
    }
}

/// Runs the queued commands in order under the latches; one reply each.
async fn run(shard: &Rc<Shard>, client_id: u64, queued: Vec<Queued>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(queued.len());
    let mut step = Groups::new(shard.nr_shards, 0);
    for queued in queued {
        let command = match queued {
            Queued::Command(command) => command,
            Queued::Failed(error) => {
                step.push_ready(error);
                continue;
            }
        };
        match command.spec().route {
            Route::Keyed(_) => {
                if let Err(command) = step.push_keyed(command) {
                    flush(shard, &mut step, &mut replies).await;
                    replies.push(latched_here(shard, command).await);
                }
            }
            Route::Here => {
                flush(shard, &mut step, &mut replies).await;
                let reply = match admin::immediate_in_transaction(shard, client_id, &command) {
                    Some(reply) => reply,
                    None => admin::with_shards(shard, client_id, command)
                        .await
                        .unwrap_or(Reply::OK),
                };
                replies.push(reply);
            }
            Route::Everywhere => {
                flush(shard, &mut step, &mut replies).await;
                replies.push(
                    admin::with_shards(shard, client_id, command)
                        .await
                        .unwrap_or(Reply::OK),
                );
            }
            Route::Session => {
                step.push_ready(match command {
                    Command::Unwatch => Reply::OK,
                    other => Reply::error(format!(
                        "ERR {} inside MULTI is not supported",
                        other.name().to_uppercase()
                    )),
                });
            }
        }
    }
    flush(shard, &mut step, &mut replies).await;
    replies
}

/// Runs a step's per-shard groups concurrently and appends their replies in
/// order.
async fn flush(shard: &Rc<Shard>, step: &mut Groups, replies: &mut Vec<Reply>) {
    if step.is_empty() {
        return;
    }
    let mut tasks = Vec::new();
    for target in 0..shard.nr_shards {
        if step.group_mut(target).is_empty() {
            continue;
        }
        let commands = step.take_group(target);
        let me = shard.clone();
        let task = glommio::spawn_local(async move {
            call_shard(&me, target, ShardRequest::LatchedBatch(commands)).await
        });
        tasks.push((target, task));
    }
    let mut results: Vec<Vec<Reply>> = vec![Vec::new(); shard.nr_shards];
    for (target, task) in tasks {
        if let Some(ShardResponse::Replies(found)) = task.await {
            results[target] = found;
        }
    }
    step.gather(&mut results, |_, reply| replies.push(reply));
}

/// A latched command inside a transaction: its keys are already latched, so
/// MSETNX checks and writes directly, and the computed ones compute.
async fn latched_here(shard: &Rc<Shard>, command: Command) -> Reply {
    let Command::MSetNx(pairs) = command else {
        return super::computed::run(shard, command, true).await;
    };
    let mut by_shard: Vec<Vec<(Bytes, Bytes)>> = vec![Vec::new(); shard.nr_shards];
    for (key, value) in pairs {
        by_shard[shard_for(&key, shard.nr_shards)].push((key, value));
    }
    let mut existing = 0;
    for (target, pairs) in by_shard.iter().enumerate() {
        if pairs.is_empty() {
            continue;
        }
        let keys = pairs.iter().map(|(key, _)| key.clone()).collect();
        let request = ShardRequest::LatchedBatch(vec![Command::Exists(keys)]);
        match call_shard(shard, target, request).await {
            Some(ShardResponse::Replies(found)) => match found.first() {
                Some(Reply::Integer(n)) => existing += n,
                Some(error) => return error.clone(),
                None => return Reply::err("ERR shard unavailable"),
            },
            _ => return Reply::err("ERR shard unavailable"),
        }
    }
    if existing > 0 {
        return Reply::Integer(0);
    }
    for (target, pairs) in by_shard.into_iter().enumerate() {
        if pairs.is_empty() {
            continue;
        }
        let request = ShardRequest::LatchedBatch(vec![Command::MSet(pairs)]);
        if let Some(ShardResponse::Replies(found)) = call_shard(shard, target, request).await
            && let Some(error) = found.into_iter().find(Reply::is_error)
        {
            return error;
        }
    }
    Reply::Integer(1)
}
