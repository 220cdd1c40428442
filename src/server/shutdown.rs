//! Process-wide shutdown: SIGINT/SIGTERM or the SHUTDOWN command set one
//! flag; every shard notices it, stops accepting, lets its connections finish
//! what is in flight, waits until every shard has drained (peers may still
//! need each other over the mesh), then syncs its store and exits.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static DRAINED_SHARDS: AtomicUsize = AtomicUsize::new(0);
/// SIGHUPs received (the cluster configuration is reloaded on each).
static HANGUPS: AtomicU64 = AtomicU64::new(0);

/// How many SIGHUPs the process received so far.
pub fn hangups() -> u64 {
    HANGUPS.load(Ordering::SeqCst)
}

/// How often shards look at the flag while running.
pub const POLL: Duration = Duration::from_millis(20);

/// Asks the whole server to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// True once a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Resolves once a stop was asked for.
pub async fn wait_requested() {
    while !requested() {
        glommio::timer::sleep(POLL).await;
    }
}

/// Called by a shard whose connections are all closed; resolves once every
/// one of the `nr_shards` shards has drained.
pub async fn drained_and_wait_all(nr_shards: usize) {
    DRAINED_SHARDS.fetch_add(1, Ordering::SeqCst);
    while DRAINED_SHARDS.load(Ordering::SeqCst) < nr_shards {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it
/// starts afterwards), so that only [`spawn_signal_thread`] receives them.
pub fn block_signals() {
    // SAFETY: plain libc signal-mask calls on a stack-allocated set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Starts a thread that waits for SIGINT/SIGTERM and requests shutdown (a
/// second one exits at once), and counts SIGHUPs.
pub fn spawn_signal_thread() {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            // SAFETY: sigwait on a set of blocked signals.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGINT);
                libc::sigaddset(&mut set, libc::SIGTERM);
                libc::sigaddset(&mut set, libc::SIGHUP);
                let mut signal = 0;
                loop {
                    if libc::sigwait(&set, &mut signal) != 0 {
                        continue;
                    }
                    if signal == libc::SIGHUP {
                        HANGUPS.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    if requested() {
                        eprintln!("second signal: exiting without draining");
                        std::process::exit(1);
                    }
                    tracing::info!(
                        signal,
                        "signal received: draining connections, syncing, exiting"
                    );
                    request();
                }
            }
        })
        .expect("spawn the signal thread");
}
