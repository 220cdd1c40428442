//! The shard engine: the state an executor owns (store, mesh end, stats,
//! clients) and how it serves work, whether from its own connections
//! (through the pipeline) or from peers (through the mesh). Below it:
//! [`crate::commands::exec`] and [`crate::storage`].

pub mod monitor;
pub mod settings;
mod shared;

pub use shared::{POLL, Shared};

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ahash::AHashSet;
use bytes::Bytes;

use crate::commands::ClientKillFilter;
use crate::commands::exec::{
    ErrorReply, ExecCtx, Resolved, execute, execute_resident, read_on_disk,
};
use crate::commands::{Command, glob_match};
use crate::config::Config;
use crate::keyspace::{NR_SLOTS, slot_range};
use crate::metrics::commands::BatchCommands;
use crate::metrics::slowlog::Introspection;
use crate::metrics::{ShardSnapshot, ShardStats, bump};
use crate::protocol::Reply;
use crate::router::mesh::Mesh;
use crate::router::oneshot::Event;
use crate::router::{ShardRequest, ShardResponse};
use crate::storage::{MergeMode, Store};

/// The current time in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What CLIENT LIST shows about one connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Remote address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// CLIENT SETNAME name.
    pub name: Bytes,
    /// CLIENT SETINFO lib-name.
    pub lib_name: Bytes,
    /// CLIENT SETINFO lib-ver.
    pub lib_ver: Bytes,
    /// When the connection was accepted.
    pub since: Instant,
    /// The protocol it speaks (HELLO).
    pub protocol: crate::protocol::Protocol,
    /// What its connection updates as it runs, shared with it (no lookup
    /// in the client map per batch).
    pub activity: Rc<ClientActivity>,
    /// Its socket, which CLIENT KILL shuts down (valid while this entry
    /// exists: the connection removes it right after closing the socket).
    pub fd: std::os::fd::RawFd,
}

/// A connection's running figures in CLIENT LIST, updated by the
/// connection itself through its share.
#[derive(Debug)]
pub struct ClientActivity {
    /// When it last sent a command.
    pub last_active: Cell<Instant>,
    /// Name of the last command.
    pub last_cmd: Cell<&'static str>,
    /// Commands it sent.
    pub tot_cmds: Cell<u64>,
    /// Bytes read from it.
    pub tot_net_in: Cell<u64>,
    /// Bytes written to it.
    pub tot_net_out: Cell<u64>,
}

impl ClientActivity {
    /// A connection accepted at `now` that has done nothing yet.
    pub fn new(now: Instant) -> ClientActivity {
        ClientActivity {
            last_active: Cell::new(now),
            last_cmd: Cell::new("NULL"),
            tot_cmds: Cell::new(0),
            tot_net_in: Cell::new(0),
            tot_net_out: Cell::new(0),
        }
    }
}

/// The state one executor owns.
pub struct Shard {
    /// This shard's id (dense, 0-based).
    pub id: usize,
    /// Number of shards.
    pub nr_shards: usize,
    /// The CPU this executor is pinned to, if any.
    pub cpu: Option<usize>,
    /// The server's settings.
    pub config: Rc<Config>,
    /// This shard's Bitcask store.
    pub store: Rc<Store>,
    /// This shard's end of the mesh.
    pub mesh: Rc<Mesh>,
    /// Counters and histograms.
    pub stats: ShardStats,
    /// The slow log and latency events.
    pub introspection: Introspection,
    /// Connections served by this shard, by client id.
    pub clients: RefCell<BTreeMap<u64, ClientInfo>>,
    /// Keys held by a cross-shard MSETNX: commands touching them wait.
    latched: RefCell<AHashSet<Bytes>>,
    /// Fired (and replaced) whenever a latch is released.
    latch_released: RefCell<Event>,
    /// Fired when the server starts shutting down.
    pub shutdown: Event,
    /// When the shard started.
    pub started: Instant,
    /// The cluster slot map (MOVED/CROSSSLOT checks, CLUSTER replies).
    pub cluster: crate::cluster::View,
    /// What this server's shards share across threads (stop flag,
    /// connection count, client ids).
    pub shared: std::sync::Arc<Shared>,
    /// This shard's MONITOR connections.
    pub monitors: monitor::Monitors,
    /// The key hashes of a batch's GETs, kept between batches (see
    /// [`Store::prefetch`](crate::storage::Store::prefetch)).
    key_hashes: Cell<Vec<crate::storage::KeyHash>>,
}

impl Shard {
    /// Assembles a shard around its store and mesh end.
    pub fn new(
        config: Rc<Config>,
        store: Rc<Store>,
        mesh: Rc<Mesh>,
        cluster: crate::cluster::View,
        shared: std::sync::Arc<Shared>,
        cpu: Option<usize>,
    ) -> Shard {
        let introspection = Introspection::new(
            mesh.shard_id(),
            mesh.nr_shards(),
            config.slowlog_log_slower_than,
            config.slowlog_max_len,
            config.latency_monitor_threshold,
        );
        Shard {
            id: mesh.shard_id(),
            nr_shards: mesh.nr_shards(),
            cpu,
            config,
            store,
            mesh,
            stats: ShardStats::default(),
            introspection,
            clients: RefCell::new(BTreeMap::new()),
            latched: RefCell::new(AHashSet::new()),
            latch_released: RefCell::new(Event::new()),
            shutdown: Event::new(),
            started: Instant::now(),
            cluster,
            shared,
            monitors: monitor::Monitors::default(),
            key_hashes: Cell::default(),
        }
    }

    /// Serves a request, from a peer or from this shard's own connections.
    pub async fn serve(self: Rc<Self>, request: ShardRequest) -> ShardResponse {
        match request {
            ShardRequest::Batch(commands) => {
                ShardResponse::Replies(self.execute_batch(commands).await)
            }
            ShardRequest::Scan {
                start_slot,
                count,
                pattern,
            } => {
                let (keys, next_slot) = self.scan_page(start_slot, count, pattern.as_deref());
                ShardResponse::ScanPage { keys, next_slot }
            }
            ShardRequest::Keys(pattern) => ShardResponse::Keys(self.keys_matching(&pattern)),
            ShardRequest::DbSize => {
                bump(&self.stats.others, 1);
                ShardResponse::Count(self.store.len() as u64)
            }
            ShardRequest::FlushAll => {
                bump(&self.stats.others, 1);
                let reply = match self.store.flush_all() {
                    Ok(ticket) => match self.store.wait_durable(ticket).await {
                        Ok(()) => Reply::OK,
                        Err(e) => storage_error(&e),
                    },
                    Err(e) => storage_error(&e),
                };
                ShardResponse::Replies(vec![reply])
            }
            ShardRequest::Merge { background } => {
                bump(&self.stats.others, 1);
                if background {
                    let store = self.store.clone();
                    let shard_id = self.id;
                    glommio::spawn_local(async move {
                        if let Err(e) = store.merge(MergeMode::Full).await {
                            tracing::warn!(shard = shard_id, error = %e, "background merge failed");
                        }
                    })
                    .detach();
                    return ShardResponse::Count(0);
                }
                match self.store.merge(MergeMode::Full).await {
                    Ok(report) => {
                        ShardResponse::Count(report.bytes_in.saturating_sub(report.bytes_out))
                    }
                    Err(e) => ShardResponse::Replies(vec![storage_error(&e)]),
                }
            }
            ShardRequest::Stats => ShardResponse::Stats(Box::new(self.snapshot())),
            ShardRequest::ResetStats => {
                self.stats.reset_counters();
                self.store.reset_counters();
                ShardResponse::Count(0)
            }
            ShardRequest::ApplySettings => {
                settings::apply(&self);
                ShardResponse::Count(0)
            }
            ShardRequest::ClientList => ShardResponse::Lines(self.client_lines()),
            ShardRequest::ClientKill { filter, requester } => {
                ShardResponse::Count(self.kill_clients(&filter, requester))
            }
            ShardRequest::Slowlog { reset: true, .. } => {
                let count = self.introspection.len() as u64;
                self.introspection.reset();
                ShardResponse::Count(count)
            }
            ShardRequest::Slowlog {
                count,
                reset: false,
            } => ShardResponse::Slowlog(self.introspection.entries(count)),
            ShardRequest::LatencyEvents { reset: Some(names) } => {
                ShardResponse::Count(self.introspection.reset_events(&names))
            }
            ShardRequest::LatencyEvents { reset: None } => {
                ShardResponse::LatencyEvents(self.introspection.events())
            }
            ShardRequest::Latch(keys) => ShardResponse::Count(self.latch(keys).await),
            ShardRequest::Versions { keys, latch } => {
                if latch {
                    self.latch(keys.clone()).await;
                }
                let now = now_ms();
                ShardResponse::Versions(
                    keys.iter()
                        .map(|key| self.store.meta(key, now).map(|meta| meta.version.0))
                        .collect(),
                )
            }
            ShardRequest::ReadRaw(keys) => {
                let now = now_ms();
                let mut values = Vec::with_capacity(keys.len());
                for key in &keys {
                    match self.store.get(key, now).await {
                        Ok(value) => {
                            values.push(value.map(|value| (value.data, value.meta.expire_at_ms)))
                        }
                        Err(e) => return ShardResponse::Replies(vec![storage_error(&e)]),
                    }
                }
                ShardResponse::Raw(values)
            }
            ShardRequest::WriteRaw(writes) => {
                ShardResponse::Replies(vec![self.write_raw(writes).await])
            }
            ShardRequest::RandomKey(seed) => ShardResponse::Keys(self.random_key(seed)),
            ShardRequest::LatchedBatch(commands) => {
                ShardResponse::Replies(self.execute_unlatched(commands).await)
            }
            ShardRequest::MonitorFeed(lines) => {
                self.monitors.feed(&lines);
                ShardResponse::Count(0)
            }
            ShardRequest::Unlatch { keys, pairs } => {
                let reply = match pairs {
                    Some(pairs) => {
                        let batch = self.execute_unlatched(vec![Command::MSet(pairs)]).await;
                        batch.into_iter().next().unwrap_or(Reply::OK)
                    }
                    None => Reply::OK,
                };
                self.unlatch(&keys);
                ShardResponse::Replies(vec![reply])
            }
        }
    }

    /// A snapshot of this shard's stats.
    pub fn snapshot(&self) -> ShardSnapshot {
        self.stats.snapshot(self.id, self.cpu, &self.store.stats())
    }

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

    /// [`Shard::execute_one`]'s reply when nothing has to wait: a GET
    /// answered from memory while no key is latched (the only command
    /// [`execute_resident`] answers). `None` for anything else (a write, a
    /// read from disk, a latch): then `execute_one` runs it (a GET from disk
    /// is looked up once more: a probe beside a disk read).
    pub fn execute_now(&self, command: &Command) -> Option<Reply> {
        if !matches!(command, Command::Get(_)) || !self.latched.borrow().is_empty() {
            return None;
        }
        let ctx = self.exec_ctx();
        let Resolved::Reply(reply) = execute_resident(&self.store, command, None, &ctx) else {
            return None;
        };
        bump(&self.stats.gets, 1);
        Some(reply)
    }

    async fn execute_unlatched(&self, mut commands: Vec<Command>) -> Vec<Reply> {
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

    /// Keys of slots `start_slot..` within this shard's range, until `count`
    /// keys were collected; returns them and the next slot to visit.
    fn scan_page(
        &self,
        start_slot: u16,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> (Vec<Bytes>, u16) {
        bump(&self.stats.others, 1);
        let range = slot_range(self.id, self.nr_shards);
        let now = now_ms();
        let mut keys = Vec::new();
        let mut slot = start_slot.max(range.start);
        while slot < range.end && keys.len() < count {
            self.store.for_each_key_in_slot(slot, now, &mut |key, _| {
                if pattern.is_none_or(|p| glob_match(p, key)) {
                    keys.push(Bytes::copy_from_slice(key));
                }
            });
            slot += 1;
        }
        (keys, slot.min(NR_SLOTS))
    }

    fn keys_matching(&self, pattern: &[u8]) -> Vec<Bytes> {
        bump(&self.stats.others, 1);
        let now = now_ms();
        let mut keys = Vec::new();
        for slot in slot_range(self.id, self.nr_shards) {
            self.store.for_each_key_in_slot(slot, now, &mut |key, _| {
                if glob_match(pattern, key) {
                    keys.push(Bytes::copy_from_slice(key));
                }
            });
        }
        keys
    }

    /// Adds a slow batch of `client_id` to the slow log / latency events.
    pub fn note_slow(&self, client_id: u64, commands: &BatchCommands, duration_us: u64) {
        self.introspection.note(duration_us, now_ms() / 1000, || {
            let clients = self.clients.borrow();
            let (addr, name) = clients
                .get(&client_id)
                .map_or_else(Default::default, |c| (c.addr.clone(), c.name.clone()));
            (commands.describe(), addr, name)
        });
    }

    /// Fires the kill switch of every connection matching `filter`.
    fn kill_clients(&self, filter: &ClientKillFilter, requester: u64) -> u64 {
        let clients = self.clients.borrow();
        let mut killed = 0;
        for (id, client) in clients.iter() {
            let matches = filter.id.is_none_or(|wanted| wanted == *id)
                && filter
                    .addr
                    .as_ref()
                    .is_none_or(|addr| addr[..] == *client.addr.as_bytes())
                && filter
                    .laddr
                    .as_ref()
                    .is_none_or(|laddr| laddr[..] == *client.laddr.as_bytes())
                && !(filter.skip_me && *id == requester);
            if matches {
                // The pending receive completes with end of file and the
                // connection closes after its current batch.
                // SAFETY: shutdown(2) on a descriptor the connection owns.
                unsafe { libc::shutdown(client.fd, libc::SHUT_RDWR) };
                killed += 1;
            }
        }
        killed
    }

    fn client_lines(&self) -> Vec<String> {
        let now = Instant::now();
        self.clients
            .borrow()
            .iter()
            .map(|(id, c)| {
                format!(
                    "id={id} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={} tot-net-in={} tot-net-out={} tot-cmds={} shard={}",
                    c.addr,
                    c.laddr,
                    String::from_utf8_lossy(&c.name),
                    now.duration_since(c.since).as_secs(),
                    now.duration_since(c.activity.last_active.get()).as_secs(),
                    c.activity.last_cmd.get(),
                    c.protocol.version(),
                    String::from_utf8_lossy(&c.lib_name),
                    String::from_utf8_lossy(&c.lib_ver),
                    c.activity.tot_net_in.get(),
                    c.activity.tot_net_out.get(),
                    c.activity.tot_cmds.get(),
                    self.id
                )
            })
            .collect()
    }

    /// Writes or deletes latched keys, then waits until that is durable.
    async fn write_raw(&self, writes: Vec<(Bytes, Option<(Bytes, u64)>)>) -> Reply {
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

    /// A key of this shard from a slot picked by `seed` (the first key at or
    /// after it, wrapping around the shard's slots).
    fn random_key(&self, seed: u64) -> Vec<Bytes> {
        let range = slot_range(self.id, self.nr_shards);
        let nr_slots = u64::from(range.end - range.start);
        if nr_slots == 0 || self.store.is_empty() {
            return Vec::new();
        }
        let now = now_ms();
        let first = (seed % nr_slots) as u16;
        for step in 0..nr_slots as u16 {
            let slot = range.start + (first + step) % nr_slots as u16;
            let mut found = Vec::new();
            self.store.for_each_key_in_slot(slot, now, &mut |key, _| {
                found.push(Bytes::copy_from_slice(key));
            });
            if !found.is_empty() {
                let pick = (seed / nr_slots) as usize % found.len();
                return vec![found.swap_remove(pick)];
            }
        }
        Vec::new()
    }

    /// Latches `keys` (waiting for any earlier latch on them) and returns how
    /// many of them exist.
    async fn latch(&self, keys: Vec<Bytes>) -> u64 {
        loop {
            let busy = {
                let latched = self.latched.borrow();
                keys.iter().any(|k| latched.contains(k))
            };
            if !busy {
                break;
            }
            let released = self.latch_released.borrow().wait();
            released.await;
        }
        let now = now_ms();
        let mut latched = self.latched.borrow_mut();
        let mut existing = 0;
        for key in keys {
            if self.store.meta(&key, now).is_some() {
                existing += 1;
            }
            latched.insert(key);
        }
        existing
    }

    fn unlatch(&self, keys: &[Bytes]) {
        {
            let mut latched = self.latched.borrow_mut();
            for key in keys {
                latched.remove(key);
            }
        }
        let event = std::mem::take(&mut *self.latch_released.borrow_mut());
        event.fire();
    }

    async fn wait_for_latches(&self, commands: &[Command]) {
        loop {
            let busy = {
                let latched = self.latched.borrow();
                commands
                    .iter()
                    .any(|c| c.keys().to_vec().iter().any(|k| latched.contains(*k)))
            };
            if !busy {
                return;
            }
            let released = self.latch_released.borrow().wait();
            released.await;
        }
    }
}

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

/// Polls every future until all are done; outputs in input order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
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
