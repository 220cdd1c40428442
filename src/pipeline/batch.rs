//! A connection's batch: the commands collected before they run, grouped
//! per shard; how a batch runs (the own shard's group inline, the others'
//! over the mesh) and its replies are gathered in request order; how big
//! the next batch may be.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;

use super::groups::Groups;
use super::plan::single_key;
use crate::commands::Command;
use crate::keyspace::shard_for;
use crate::metrics::bump;
use crate::metrics::commands::{BatchCommands, Counted};
use crate::metrics::shard::latency_us;
use crate::protocol::{Protocol, Reply};
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::{Now, OnDisk, Shard};

/// Most commands run as one batch before replies are written.
pub const MAX_BATCH: usize = 512;

/// The commands collected so far, before they run. One per connection,
/// emptied by [`run_batch`] and reused: its vectors are not allocated again
/// per batch.
pub(super) struct Batch {
    /// The connection it belongs to (for the slow log).
    pub(super) client_id: u64,
    /// The commands, grouped per shard; added to only through
    /// [`Batch::push_ready`] and [`Batch::push_keyed`], which keep
    /// `commands` aligned with it.
    pub(super) groups: Groups,
    /// The command of each slot, for per-command stats.
    pub(super) commands: BatchCommands,
    /// Each shard's replies to its group, while they are gathered.
    pub(super) results: Vec<Vec<Reply>>,
    /// The batch's only command so far, while it is a single-key command
    /// of this shard's: a batch of one (pipeline 1) runs it without
    /// grouping and gathering. Moved into `groups` when another request
    /// joins the batch.
    single: Option<Command>,
    /// Where [`run_batch_now`] found the single GET's record on disk, for
    /// [`run_batch`] right after (in the same synchronous stretch).
    on_disk: Option<OnDisk>,
    /// This shard's id and the number of shards (where a key belongs).
    shard_id: usize,
    nr_shards: usize,
}

impl Batch {
    pub(super) fn new(shard_id: usize, nr_shards: usize, client_id: u64) -> Batch {
        Batch {
            client_id,
            groups: Groups::new(nr_shards, FIRST_BATCH),
            commands: BatchCommands::with_capacity(FIRST_BATCH),
            results: (0..nr_shards).map(|_| Vec::new()).collect(),
            single: None,
            on_disk: None,
            shard_id,
            nr_shards,
        }
    }

    /// Requests so far.
    pub(super) fn len(&self) -> usize {
        self.groups.len() + usize::from(self.single.is_some())
    }

    /// True before the first request.
    pub(super) fn is_empty(&self) -> bool {
        self.single.is_none() && self.groups.is_empty()
    }

    /// Moves the single command into the groups, before another request
    /// joins the batch.
    fn group_single(&mut self) {
        self.on_disk = None;
        if let Some(command) = self.single.take() {
            // A single-key command always goes whole to one shard.
            let grouped = self.groups.push_keyed(command);
            debug_assert!(grouped.is_ok(), "a single-key command is never latched");
        }
    }

    /// Adds a known reply of `command_index`'s command (`None`: a request
    /// that did not parse).
    pub(super) fn push_ready(&mut self, command_index: Option<usize>, reply: Reply) {
        self.group_single();
        self.commands.push(command_index);
        self.groups.push_ready(reply);
    }

    /// Adds the reply of a request refused before it ran (or that made no
    /// command), counted as `counted` says.
    pub(super) fn push_refused(&mut self, counted: Counted, reply: Reply) {
        self.group_single();
        self.commands.push_counted(counted);
        self.groups.push_ready(reply);
    }

    /// Adds a keyed command to its shard's group (or its parts); gives it
    /// back when it must run latched.
    pub(super) fn push_keyed(
        &mut self,
        command_index: Option<usize>,
        command: Command,
    ) -> Result<(), Command> {
        if self.is_empty()
            && let Some(key) = single_key(&command)
            && (self.nr_shards == 1 || shard_for(key, self.nr_shards) == self.shard_id)
        {
            self.single = Some(command);
            self.commands.push(command_index);
            return Ok(());
        }
        self.group_single();
        self.groups.push_keyed(command)?;
        self.commands.push(command_index);
        Ok(())
    }
}

/// Sizes batches so that one batch's replies stay near the output limit:
/// after each batch, the cap becomes the number of replies of the size just
/// seen that fit in the limit (at least one, at most [`MAX_BATCH`]). It
/// starts at [`FIRST_BATCH`] and at most doubles per batch, so a client's
/// first pipeline of big replies cannot overshoot before anything was seen.
pub(super) struct BatchSizer {
    /// `--client-output-limit`.
    pub(super) limit: u64,
    /// Most commands the next batch may hold.
    pub(super) cap: usize,
}

/// The batch cap of a new connection.
const FIRST_BATCH: usize = 16;

impl BatchSizer {
    pub(super) fn new(limit: u64) -> BatchSizer {
        BatchSizer {
            limit: limit.max(1),
            cap: FIRST_BATCH,
        }
    }

    /// Learns from a batch of `nr_commands` whose replies took `bytes`.
    pub(super) fn observe(&mut self, bytes: usize, nr_commands: usize) {
        if nr_commands == 0 {
            return;
        }
        let per_reply = (bytes as u64 / nr_commands as u64).max(1);
        let fits = (self.limit / per_reply).clamp(1, MAX_BATCH as u64) as usize;
        self.cap = fits.min(self.cap.saturating_mul(2));
    }
}

/// Runs the batch if that needs no wait, leaving it empty: an empty batch,
/// or a single command of this shard's that memory answers (a GET at
/// pipeline 1). `false` when [`run_batch`] must, the batch untouched but
/// for where a single GET's record was found on disk (`run_batch` reads
/// it without a second lookup: call it in the same synchronous stretch).
pub(super) fn run_batch_now(
    shard: &Shard,
    batch: &mut Batch,
    output: &mut BytesMut,
    started: Instant,
    protocol: Protocol,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    if !batch.groups.is_empty() {
        return false;
    }
    let Some(command) = batch.single.as_ref() else {
        return false;
    };
    let reply = match shard.execute_now(command) {
        Now::Reply(reply) => reply,
        Now::OnDisk(on_disk) => {
            // Read by `run_batch` without a second lookup.
            batch.on_disk = Some(on_disk);
            return false;
        }
        Now::Later => return false,
    };
    batch.single = None;
    batch.commands.replied(&shard.stats.commands, 0, &reply);
    reply.encode(output, protocol);
    finish(shard, batch, started, 1);
    true
}

/// Sends each shard its group (the own shard's runs inline), then encodes
/// every reply in request order, leaving the batch empty.
pub(super) async fn run_batch(
    shard: &Rc<Shard>,
    batch: &mut Batch,
    output: &mut BytesMut,
    started: Instant,
    protocol: Protocol,
) {
    if let Some(command) = batch.single.take() {
        let reply = match batch.on_disk.take() {
            Some(on_disk) => shard.read_one(command, on_disk).await,
            None => shard.execute_one(command).await,
        };
        batch.commands.replied(&shard.stats.commands, 0, &reply);
        reply.encode(output, protocol);
        return finish(shard, batch, started, 1);
    }
    if batch.groups.is_empty() {
        return;
    }
    let nr_commands = batch.groups.len() as u64;
    let mut local = false;
    let mut remote = Vec::new();
    for target in 0..shard.nr_shards {
        if batch.groups.group_mut(target).is_empty() {
            continue;
        }
        if target == shard.id {
            local = true;
        } else {
            let commands = batch.groups.take_group(target);
            bump(&shard.stats.fwd_out, commands.len() as u64);
            remote.push((target, commands));
        }
    }
    if remote.is_empty() {
        let commands = batch.groups.group_mut(shard.id);
        shard
            .execute_batch_into(commands, &mut batch.results[shard.id])
            .await;
    } else if !local && remote.len() == 1 {
        // One peer and nothing local: no need for a separate task.
        let (target, commands) = remote.pop().expect("one remote group");
        batch.results[target] =
            replies_of(shard.mesh.call(target, ShardRequest::Batch(commands)).await);
    } else {
        let tasks: Vec<_> = remote
            .into_iter()
            .map(|(target, commands)| {
                let me = shard.clone();
                let task = glommio::spawn_local(async move {
                    me.mesh.call(target, ShardRequest::Batch(commands)).await
                });
                (target, task)
            })
            .collect();
        if local {
            let commands = batch.groups.group_mut(shard.id);
            shard
                .execute_batch_into(commands, &mut batch.results[shard.id])
                .await;
        }
        for (target, task) in tasks {
            batch.results[target] = replies_of(task.await);
        }
    }
    let commands = &batch.commands;
    batch.groups.gather(&mut batch.results, |position, reply| {
        commands.replied(&shard.stats.commands, position, &reply);
        reply.encode(output, protocol);
    });
    finish(shard, batch, started, nr_commands);
}

/// Records a batch's latency and per-command figures once its replies
/// are encoded, and empties its list of commands.
fn finish(shard: &Shard, batch: &mut Batch, started: Instant, nr_commands: u64) {
    let elapsed = started.elapsed();
    shard.stats.record_latency(elapsed, nr_commands);
    let elapsed_us = latency_us(elapsed);
    batch.commands.finish(&shard.stats.commands, elapsed_us);
    if shard.introspection.is_slow(elapsed_us) {
        shard.note_slow(batch.client_id, &batch.commands, elapsed_us);
    }
    batch.commands.clear();
}

/// Records one command answered outside a batch (a barrier, HELLO).
pub(super) fn record_one(
    shard: &Shard,
    client_id: u64,
    index: Option<usize>,
    started: Instant,
    reply: &Reply,
) {
    let mut one = BatchCommands::default();
    one.push(index);
    one.replied(&shard.stats.commands, 0, reply);
    let elapsed_us = latency_us(started.elapsed());
    one.finish(&shard.stats.commands, elapsed_us);
    if shard.introspection.is_slow(elapsed_us) {
        shard.note_slow(client_id, &one, elapsed_us);
    }
}

fn replies_of(response: Option<ShardResponse>) -> Vec<Reply> {
    match response {
        Some(ShardResponse::Replies(replies)) => replies,
        _ => Vec::new(),
    }
}
