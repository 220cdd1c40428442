//! Shutdown: SIGINT/SIGTERM, the SHUTDOWN command or a
//! [`ServerHandle`](super::ServerHandle) set one flag per server ([`Shared`]); every
//! shard notices it, stops accepting, lets its connections finish what is in
//! flight, waits until every shard has drained (peers may still need each
//! other over the mesh), then syncs its store and exits.

use std::sync::Arc;

use crate::shard::Shared;

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

/// Starts a thread that waits for SIGINT/SIGTERM and requests `shared`'s
/// shutdown (a second one exits at once), and counts SIGHUPs.
pub fn spawn_signal_thread(shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
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
                        shared.note_hangup();
                        continue;
                    }
                    if shared.requested() {
                        eprintln!("second signal: exiting without draining");
                        std::process::exit(1);
                    }
                    tracing::info!(
                        signal,
                        "signal received: draining connections, syncing, exiting"
                    );
                    shared.request();
                }
            }
        })
        .expect("spawn the signal thread");
}
