//! How the pipeline asks shards for something: one shard (itself without
//! the mesh), or every shard at once with the answers in shard order.

use std::rc::Rc;

use crate::metrics::ShardSnapshot;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::Shard;

/// Sends `request` to shard `target` (itself without the mesh) and awaits
/// the answer.
pub async fn call_shard(
    shard: &Rc<Shard>,
    target: usize,
    request: ShardRequest,
) -> Option<ShardResponse> {
    if target == shard.id {
        Some(shard.clone().serve(request).await)
    } else {
        shard.mesh.call(target, request).await
    }
}

/// Sends a request built by `make` to every shard concurrently; answers in
/// shard order.
pub async fn scatter(
    shard: &Rc<Shard>,
    make: impl Fn() -> ShardRequest,
) -> Vec<Option<ShardResponse>> {
    let mut tasks = Vec::new();
    for target in 0..shard.nr_shards {
        if target != shard.id {
            let me = shard.clone();
            let request = make();
            tasks.push((
                target,
                glommio::spawn_local(async move { me.mesh.call(target, request).await }),
            ));
        }
    }
    let mut answers: Vec<Option<ShardResponse>> = (0..shard.nr_shards).map(|_| None).collect();
    answers[shard.id] = Some(shard.clone().serve(make()).await);
    for (target, task) in tasks {
        answers[target] = task.await;
    }
    answers
}

/// Every shard's stats snapshot, in shard order.
pub async fn all_snapshots(shard: &Rc<Shard>) -> Vec<ShardSnapshot> {
    scatter(shard, || ShardRequest::Stats)
        .await
        .into_iter()
        .filter_map(|answer| match answer {
            Some(ShardResponse::Stats(snapshot)) => Some(*snapshot),
            _ => None,
        })
        .collect()
}
