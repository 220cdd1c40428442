//! What the shards of one server share across their threads: the stop flag,
//! the drain count, SIGHUPs, the connection count and client ids, and the
//! settings CONFIG SET changes. The server sets the flags (signals,
//! SHUTDOWN); every shard reads them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often shards look at the stop flag while running.
pub const POLL: Duration = Duration::from_millis(20);

/// What the shards of one server share across their threads (the only
/// state besides the mesh): the stop flag, the drain count, SIGHUPs, the
/// open connections (for `--max-connections`) and client ids. One per
/// server, so several servers can run in one process (tests).
#[derive(Debug)]
pub struct Shared {
    requested: AtomicBool,
    drained_shards: AtomicUsize,
    hangups: AtomicU64,
    /// Connections open across all shards.
    open_connections: AtomicUsize,
    /// The next client id (unique across shards).
    next_client_id: AtomicU64,
    /// The settings CONFIG SET changed.
    pub settings: super::settings::RuntimeSettings,
    /// MONITOR connections across all shards.
    pub monitors: super::monitor::MonitorCount,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            requested: AtomicBool::new(false),
            drained_shards: AtomicUsize::new(0),
            hangups: AtomicU64::new(0),
            open_connections: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            settings: Default::default(),
            monitors: Default::default(),
        }
    }
}

impl Shared {
    /// Asks the whole server to stop.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a stop was asked for.
    pub async fn wait_requested(&self) {
        while !self.requested() {
            glommio::timer::sleep(POLL).await;
        }
    }

    /// Called by a shard whose connections are all closed; resolves once
    /// every one of the `nr_shards` shards has drained.
    pub async fn drained_and_wait_all(&self, nr_shards: usize) {
        self.drained_shards.fetch_add(1, Ordering::SeqCst);
        while self.drained_shards.load(Ordering::SeqCst) < nr_shards {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Counts a SIGHUP.
    pub fn note_hangup(&self) {
        self.hangups.fetch_add(1, Ordering::SeqCst);
    }

    /// How many SIGHUPs the server received so far.
    pub fn hangups(&self) -> u64 {
        self.hangups.load(Ordering::SeqCst)
    }

    /// Counts a new connection; `false` (and not counted) when `max` are
    /// open already.
    pub fn admit_connection(&self, max: usize) -> bool {
        let open = self.open_connections.fetch_add(1, Ordering::SeqCst) + 1;
        if open > max {
            self.open_connections.fetch_sub(1, Ordering::SeqCst);
            false
        } else {
            true
        }
    }

    /// Uncounts a connection admitted by [`Shared::admit_connection`].
    pub fn release_connection(&self) {
        self.open_connections.fetch_sub(1, Ordering::SeqCst);
    }

    /// A client id no other connection of this server has.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}
