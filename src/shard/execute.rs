//! How a shard runs keyed commands: a group from a connection's batch (in
//! order, reads from disk concurrently between writes, one durable wait
//! for the group) or a single command at pipeline 1, and the raw writes
//! of a cross-shard MSETNX.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;

use super::{Shard, now_ms};
use crate::commands::Command;
use crate::commands::exec::{
    ErrorReply, ExecCtx, Resolved, execute, execute_resident, read_on_disk,
};
use crate::metrics::bump;
use crate::protocol::Reply;
use crate::storage::{Entry, Store};

impl Shard {
    /// Executes keyed commands in order; replies once every write among
    /// them is durable (one wait for the whole batch: group commit).
    pub async fn execute_batch(&self, mut commands: Vec<Command>) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(commands.len());
        self.execute_batch_into(&mut commands, &mut replies).await;
        replies
    }

    /// [`Shard::execute_batch`] into vectors the caller keeps between
    /// batches: drains `commands`, and `replies` (emptied first) gets one
    /// reply per command.
    pub async fn execute_batch_into(&self, commands: &mut Vec<Command>, replies: &mut Vec<Reply>) {
        if !self.latched.borrow().is_empty() {
            self.wait_for_latches(commands).await;
        }
        self.execute_unlatched_into(commands, replies).await;
    }

    /// The context commands run in: the clock now, no write yet.
    fn exec_ctx(&self) -> ExecCtx {
        ExecCtx {
            now_ms: now_ms(),
            max_value_size: self.config.max_value_size,
            ticket: None,
            key_hash: None,
        }
    }

    /// Counts a command in the shard's GET / SET / other figures.
    fn count(&self, command: &Command, is_write: bool) {
        match command {
            Command::Get(_) | Command::MGet(_) => bump(&self.stats.gets, 1),
            _ if is_write => bump(&self.stats.sets, 1),
            _ => bump(&self.stats.others, 1),
        }
    }

    /// One command, as [`Shard::execute_batch_into`] runs a group of one,
    /// without a group's vectors: a connection's batch of a single command
    /// of this shard's (pipeline 1).
    pub async fn execute_one(&self, command: Command) -> Reply {
        if !self.latched.borrow().is_empty() {
            self.wait_for_latches(std::slice::from_ref(&command)).await;
        }
        let mut ctx = self.exec_ctx();
        let is_write = command.is_write();
        self.count(&command, is_write);
        let reply = if is_write {
            execute(&self.store, command, &mut ctx).await
        } else {
            match resolve(&self.store, command, None, &ctx) {
                Ok(reply) => return reply,
                Err(read) => read.run(&self.store, &mut ctx).await,
            }
        };
        if let Some(ticket) = ctx.ticket
            && let Err(e) = self.store.wait_durable(ticket).await
            && is_write
            && !reply.is_error()
        {
            // The store rolled this write back: it is not acknowledged.
            return storage_error(&e);
        }
        reply
    }

    /// What [`Shard::execute_one`] would do first, when that needs no
    /// wait: the reply of a GET answered from memory while no key is
    /// latched (the only command [`execute_resident`] answers), or where
    /// its record is on disk, for [`Shard::read_one`] in the same
    /// synchronous stretch; [`Now::Later`] for anything else (a write, a
    /// latch): then `execute_one` runs it.
    pub fn execute_now(&self, command: &Command) -> Now {
        if !matches!(command, Command::Get(_)) || !self.latched.borrow().is_empty() {
            return Now::Later;
        }
        let ctx = self.exec_ctx();
        match execute_resident(&self.store, command, None, &ctx) {
            Resolved::Reply(reply) => {
                bump(&self.stats.gets, 1);
                Now::Reply(reply)
            }
            Resolved::OnDisk(entry) => Now::OnDisk(OnDisk(entry)),
            Resolved::Execute => Now::Later,
        }
    }

    /// [`Shard::execute_one`] for the GET that [`Shard::execute_now`]
    /// found `on_disk` in the same synchronous stretch (nothing else ran
    /// on the shard since): reads that record without looking the key up
    /// a second time. A key latched meanwhile (never, in that stretch)
    /// sends it the long way.
    pub async fn read_one(&self, command: Command, on_disk: OnDisk) -> Reply {
        match command {
            Command::Get(key) if self.latched.borrow().is_empty() => {
                bump(&self.stats.gets, 1);
                read_on_disk(&self.store, &key, on_disk.0).await
            }
            command => self.execute_one(command).await,
        }
    }

    /// Brings the lookups of the GETs and SETs that `received` (what one
    /// turn of the socket ring received, one connection's bytes each)
    /// begin with into the CPU cache, their misses overlapping: at pipeline
    /// 1 these are as many connections' requests, which then run one after
    /// another, each waiting on its own misses otherwise. Changes nothing.
    pub fn prefetch_received(&self, received: &mut dyn Iterator<Item = &[u8]>) {
        let mut hashes = self.key_hashes.take();
        hashes.clear();
        self.store.prefetch(
            received.filter_map(crate::protocol::leading_key),
            &mut hashes,
        );
        self.key_hashes.set(hashes);
    }

    pub(super) async fn execute_unlatched(&self, mut commands: Vec<Command>) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(commands.len());
        self.execute_unlatched_into(&mut commands, &mut replies)
            .await;
        replies
    }

    async fn execute_unlatched_into(&self, commands: &mut Vec<Command>, replies: &mut Vec<Reply>) {
        let mut ctx = self.exec_ctx();
        replies.clear();
        replies.reserve(commands.len());
        // What every GET's lookup and every SET's keydir and cache update
        // read is fetched into the CPU cache before the first is looked at
        // (a pipeline of SETs over a large keydir otherwise waits on each
        // key's misses in turn); the GET lookups reuse the keys' hashes.
        let mut hashes = Vec::new();
        if commands.len() > 1 {
            hashes = self.key_hashes.take();
            hashes.clear();
            self.store.prefetch(
                commands.iter().filter_map(|command| match command {
                    Command::Get(key) | Command::Set { key, .. } => Some(&key[..]),
                    _ => None,
                }),
                &mut hashes,
            );
        }
        let mut next_hash = hashes.iter().copied();
        let mut writes = Positions::default();
        // A read answered from memory is answered in place. The others
        // between two writes run concurrently: no write of this batch lies
        // between them, so their order is not observable, and a pipeline of
        // GETs that miss memory keeps many disk reads in flight.
        let mut reads: Vec<(usize, Read)> = Vec::new();
        for command in commands.drain(..) {
            let is_write = command.is_write();
            self.count(&command, is_write);
            if is_write {
                if !reads.is_empty() {
                    self.run_reads(std::mem::take(&mut reads), replies, &mut ctx)
                        .await;
                }
                writes.mark(replies.len());
                if let Command::Set { .. } = command {
                    // The prefetch's hash of the key, for the SET's write.
                    ctx.key_hash = next_hash.next();
                }
                replies.push(execute(&self.store, command, &mut ctx).await);
                ctx.key_hash = None;
            } else {
                let at = match command {
                    Command::Get(_) => next_hash.next(),
                    _ => None,
                };
                match resolve(&self.store, command, at, &ctx) {
                    Ok(reply) => replies.push(reply),
                    Err(read) => {
                        reads.push((replies.len(), read));
                        replies.push(Reply::Nil);
                    }
                }
            }
        }
        drop(next_hash);
        if hashes.capacity() > 0 {
            self.key_hashes.set(hashes);
        }
        if !reads.is_empty() {
            self.run_reads(reads, replies, &mut ctx).await;
        }
        if let Some(ticket) = ctx.ticket
            && let Err(e) = self.store.wait_durable(ticket).await
        {
            // The store rolled these writes back: none is acknowledged.
            let reply = storage_error(&e);
            for index in writes.iter() {
                if !replies[index].is_error() {
                    replies[index] = reply.clone();
                }
            }
        }
    }

    /// Runs read-only commands that memory could not answer, concurrently,
    /// and puts their replies at their positions.
    async fn run_reads(&self, reads: Vec<(usize, Read)>, replies: &mut [Reply], ctx: &mut ExecCtx) {
        if reads.len() <= 1 {
            for (position, read) in reads {
                replies[position] = read.run(&self.store, ctx).await;
            }
            return;
        }
        let store = &self.store;
        let template = ctx.clone();
        let results = join_all(reads.into_iter().map(|(position, read)| {
            let mut read_ctx = template.clone();
            async move {
                let reply = read.run(store, &mut read_ctx).await;
                (position, reply, read_ctx.ticket)
            }
        }))
        .await;
        for (position, reply, ticket) in results {
            replies[position] = reply;
            if let Some(ticket) = ticket {
                ctx.wrote(ticket);
            }
        }
    }

    /// Writes or deletes latched keys, then waits until that is durable.
    pub(super) async fn write_raw(&self, writes: Vec<(Bytes, Option<(Bytes, u64)>)>) -> Reply {
        let mut ctx = self.exec_ctx();
        bump(&self.stats.sets, writes.len() as u64);
        if let Err(e) = crate::commands::exec::write_raw(&self.store, &writes, &mut ctx) {
            return storage_error(&e);
        }
        if let Some(ticket) = ctx.ticket
            && let Err(e) = self.store.wait_durable(ticket).await
        {
            return storage_error(&e);
        }
        Reply::OK
    }
}

/// What [`Shard::execute_now`] found.
pub enum Now {
    /// The reply (a GET answered from memory).
    Reply(Reply),
    /// A GET whose record is on disk: [`Shard::read_one`] reads it.
    OnDisk(OnDisk),
    /// Anything else: [`Shard::execute_one`] runs it.
    Later,
}

/// Where [`Shard::execute_now`] found a GET's record on disk; good only in
/// the synchronous stretch of that lookup (a write or a merge after it
/// may move the key on).
pub struct OnDisk(Entry);

/// A read-only command answered from memory (`Ok`), or what is left to
/// run for it (`Err`): a GET's record to read from disk, or the command.
/// `at` is the key's hash where the batch's prefetch computed it.
fn resolve(
    store: &Store,
    command: Command,
    at: Option<crate::storage::KeyHash>,
    ctx: &ExecCtx,
) -> Result<Reply, Read> {
    match execute_resident(store, &command, at, ctx) {
        Resolved::Reply(reply) => Ok(reply),
        Resolved::OnDisk(entry) => Err(match command {
            Command::Get(key) => Read::Disk(key, entry),
            command => Read::Command(command),
        }),
        Resolved::Execute => Err(Read::Command(command)),
    }
}

/// A read-only command of a batch that memory could not answer.
enum Read {
    /// A GET whose record is on disk at this keydir entry (looked up in
    /// the same synchronous stretch that starts the read).
    Disk(Bytes, crate::storage::Entry),
    /// Anything else.
    Command(Command),
}

impl Read {
    async fn run(self, store: &Store, ctx: &mut ExecCtx) -> Reply {
        match self {
            Read::Disk(key, entry) => read_on_disk(store, &key, entry).await,
            Read::Command(command) => execute(store, command, ctx).await,
        }
    }
}

/// Polls every future until all are done; outputs in input order. The
/// futures share one vector and are pinned where they lie in it (it is
/// never grown, and moved only once all are done): no allocation per
/// future, where a box each was a malloc and a free per disk read.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    enum Slot<F: Future> {
        Running(F),
        Done(F::Output),
    }
    let mut slots: Vec<Slot<F>> = futures.into_iter().map(Slot::Running).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in slots.iter_mut() {
            if let Slot::Running(future) = slot {
                // SAFETY: the future is not moved until it is dropped in
                // place (replaced below, or with the vector): the vector
                // is not resized, and not moved while any future runs.
                match unsafe { Pin::new_unchecked(future) }.poll(cx) {
                    Poll::Ready(value) => *slot = Slot::Done(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Done(output) => output,
            Slot::Running(_) => unreachable!("every future completed"),
        })
        .collect()
}

/// The positions of a batch's writes among its replies, so a failed
/// flush can turn each into an error. The first 64 fit in a bit mask: a
/// batch of a few writes (a SET at pipeline 1) allocates nothing.
#[derive(Default)]
struct Positions {
    /// Bit `i` set: reply `i` is a write's.
    low: u64,
    /// Positions from 64 on.
    high: Vec<usize>,
}

impl Positions {
    fn mark(&mut self, index: usize) {
        if index < 64 {
            self.low |= 1 << index;
        } else {
            self.high.push(index);
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..64)
            .filter(|bit| self.low & (1 << bit) != 0)
            .chain(self.high.iter().copied())
    }
}

/// The error reply for a storage failure (read, write or merge); the
/// mapping itself lives in `commands::exec::errors`.
pub fn storage_error(error: &impl ErrorReply) -> Reply {
    error.reply()
}
