//! The shard engine: the state an executor owns (store, mesh end, stats,
//! clients) and how it serves work, whether from its own connections
//! (through the pipeline) or from peers (through the mesh). Below it:
//! [`crate::commands::exec`] and [`crate::storage`].

mod clients;
mod execute;
pub mod monitor;
pub mod settings;
mod shared;

pub use clients::{ClientActivity, ClientInfo};
pub use execute::{Now, OnDisk, storage_error};
pub use shared::{POLL, Shared};

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ahash::AHashSet;
use bytes::Bytes;

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
