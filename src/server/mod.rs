//! The server: start-up checks, one glommio executor per shard, the
//! listeners each runs (see `listen`), periodic stats, and shutdown. A
//! listener hands every accepted client to [`crate::pipeline`]; the shard's
//! state is [`crate::shard::Shard`].

mod listen;
pub mod metrics_http;
pub mod shutdown;

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cluster::{ClusterState, LocalNode, View, stored_node_id};
use crate::config::Config;
use crate::metrics::{ShardSnapshot, bump, format_table};
use crate::net::Ring;
use crate::pipeline::{cluster_cmd, fanout};
use crate::router::mesh::{self, Mesh, MeshMsg, RequestHandler};
use crate::shard::{Shard, Shared, now_ms};
use crate::storage::{Store, StoreOptions};
use listen::{accept_loop, bind_listener};

/// Why the server could not start; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be created or written.
    #[error("data directory {0} is not usable: {1}")]
    Dir(PathBuf, std::io::Error),
    /// Another process holds the data directory's lock.
    #[error(
        "data directory {0} is locked by another shardcask process{1}; stop it or use another --dir"
    )]
    Locked(PathBuf, String),
    /// The directory was created with another number of shards.
    #[error(
        "data directory {dir} holds {found} shard(s) but --shards is {wanted}; start with --shards {found} (resharding is not supported yet)"
    )]
    ShardCount {
        /// The data directory.
        dir: PathBuf,
        /// Shards on disk.
        found: usize,
        /// Shards asked for.
        wanted: usize,
    },
    /// The listen address is taken or not bindable.
    #[error(
        "cannot listen on {0}: {1} (is another server using the port? pick another with --listen)"
    )]
    Listen(SocketAddr, std::io::Error),
    /// The `--metrics-listen` address is taken or not bindable.
    #[error("cannot serve metrics on {0}: {1} (pick another --metrics-listen)")]
    MetricsListen(SocketAddr, std::io::Error),
    /// An executor could not start.
    #[error("{0}")]
    Executor(String),
    /// A shard failed while starting.
    #[error("shard {0} failed to start: {1}")]
    Shard(usize, String),
    /// The cluster configuration (or `--shard-ports`) cannot be used.
    #[error("cluster configuration: {0}")]
    Cluster(String),
    /// The process runs under a real-time scheduling policy.
    #[error(
        "running under the real-time policy {0}: the kernel's io_uring worker threads inherit it and the shard's CPU, and a shard polling its rings never lets them run (start-up spins for good); start without chrt -f/-r and pin shards with --cpus"
    )]
    RealTime(&'static str),
}

/// How long shutdown waits for connections to finish what is in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// An exclusive `flock` on `<dir>/LOCK`, held for the life of the process.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, StartError> {
        let path = dir.join("LOCK");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StartError::Dir(dir.to_path_buf(), e))?;
        // SAFETY: flock on a file descriptor we own.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            let holder = std::fs::read_to_string(&path)
                .ok()
                .filter(|s| !s.trim().is_empty())
                .map_or_else(String::new, |pid| format!(" (pid {})", pid.trim()));
            return Err(StartError::Locked(dir.to_path_buf(), holder));
        }
        let _ = file.set_len(0);
        let _ = std::fs::write(&path, format!("{}\n", std::process::id()));
        Ok(DirLock { _file: file })
    }
}

/// Checks (or records, for a new directory) the shard count of `dir`.
fn check_shard_count(dir: &Path, nr_shards: usize) -> Result<(), StartError> {
    let path = dir.join("SHARDS");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let found: usize = text.trim().parse().unwrap_or(0);
            if found != nr_shards {
                return Err(StartError::ShardCount {
                    dir: dir.to_path_buf(),
                    found,
                    wanted: nr_shards,
                });
            }
            Ok(())
        }
        Err(_) => std::fs::write(&path, format!("{nr_shards}\n"))
            .map_err(|e| StartError::Dir(dir.to_path_buf(), e)),
    }
}

/// Fails the start under SCHED_FIFO or SCHED_RR. io_uring's worker threads
/// (io-wq: fdatasync, file-extending writes) are created with the shard
/// thread's policy and CPU mask; a real-time shard that keeps polling its
/// rings starves them on its own CPU, which was seen as a start-up spinning
/// at 100% for good. Refusing says so instead of hanging.
fn refuse_realtime_policy() -> Result<(), StartError> {
    // SAFETY: sched_getscheduler on the calling thread reads no memory of ours.
    match unsafe { libc::sched_getscheduler(0) } {
        libc::SCHED_FIFO => Err(StartError::RealTime("SCHED_FIFO")),
        libc::SCHED_RR => Err(StartError::RealTime("SCHED_RR")),
        _ => Ok(()),
    }
}

/// Raises the soft locked-memory limit to the hard one: glommio registers
/// its I/O buffers with io_uring, which counts against it.
fn raise_memlock_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a stack struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        limit.rlim_cur
    }
}

fn describe_executor_error(error: &glommio::GlommioError<()>, memlock: u64) -> String {
    let text = error.to_string();
    let kib = memlock / 1024;
    if text.contains("MemLock")
        || text.contains("memlock")
        || text.contains("Cannot allocate memory")
    {
        format!(
            "could not start an io_uring executor: {text}. glommio locks memory for its I/O rings and buffers \
             and the locked-memory limit is {kib} KiB: raise it, e.g. `ulimit -l unlimited` (or at least \
             `ulimit -l 65536`) in the shell that starts shardcask, or LimitMEMLOCK=infinity in a systemd unit"
        )
    } else if text.contains("Function not implemented") || text.contains("Operation not permitted")
    {
        format!(
            "could not start an io_uring executor: {text}. io_uring is unavailable: shardcask needs Linux 5.8+ \
             with io_uring enabled (check `sysctl kernel.io_uring_disabled` and container seccomp profiles)"
        )
    } else {
        format!("could not start an io_uring executor: {text}")
    }
}

/// Runs the server until shutdown (SIGINT/SIGTERM or SHUTDOWN): the
/// binary's whole life. Prints one line to stdout once every shard listens:
/// `shardcask ready: listening on ADDR with N shard(s)`.
pub fn run(config: Config) -> Result<(), StartError> {
    // Before any shard thread starts, so they inherit the blocked signals
    // and only the signal thread takes them.
    shutdown::block_signals();
    let server = ServerBuilder::from_config(config).start()?;
    shutdown::spawn_signal_thread(server.shared.clone());
    let config = &server.config;
    // Before the ready line, so whoever waits for that one has seen this.
    if let Some(addr) = config.metrics_listen {
        println!("shardcask metrics: http://{addr}/metrics");
    }
    println!(
        "shardcask ready: listening on {} with {} shard(s), data in {}",
        config.listen,
        server.nr_shards,
        config.dir.display()
    );
    if let Some(base) = config.shard_ports {
        println!(
            "shard ports: {base}-{} (shard i on {base}+i)",
            base as usize + server.nr_shards - 1
        );
    }
    server.wait();
    tracing::info!("all shards stopped; bye");
    Ok(())
}

/// Builds a server and starts it in this process, on threads of its own
/// (one executor per shard), returning a [`ServerHandle`]: its bound
/// address, a shutdown and a wait. The binary is [`run`] over this; tests
/// start servers in-process on ephemeral ports with it.
///
/// ```no_run
/// let server = shardcask::server::ServerBuilder::new()
///     .listen("127.0.0.1:0".parse().unwrap())
///     .dir("/tmp/shardcask-example")
///     .shards(2)
///     .start()
///     .expect("started");
/// println!("listening on {}", server.addr());
/// server.shutdown();
/// server.wait();
/// ```
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    config: Config,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// Every setting at its flag's default.
    pub fn new() -> ServerBuilder {
        use clap::Parser;
        ServerBuilder {
            config: Config::parse_from(["shardcask"]),
        }
    }

    /// From settings parsed (or built) elsewhere.
    pub fn from_config(config: Config) -> ServerBuilder {
        ServerBuilder { config }
    }

    /// The address every shard listens on (`--listen`; port 0 picks one).
    pub fn listen(mut self, addr: SocketAddr) -> ServerBuilder {
        self.config.listen = addr;
        self
    }

    /// The data directory (`--dir`).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> ServerBuilder {
        self.config.dir = dir.into();
        self
    }

    /// Number of shards (`--shards`).
    pub fn shards(mut self, nr_shards: usize) -> ServerBuilder {
        self.config.shards = Some(nr_shards);
        self
    }

    /// Pin executors to CPUs or not (`--no-pin`).
    pub fn pin(mut self, pin: bool) -> ServerBuilder {
        self.config.no_pin = !pin;
        self
    }

    /// Serve Prometheus metrics on `addr` (`--metrics-listen`).
    pub fn metrics_listen(mut self, addr: SocketAddr) -> ServerBuilder {
        self.config.metrics_listen = Some(addr);
        self
    }

    /// Any other setting.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> ServerBuilder {
        change(&mut self.config);
        self
    }

    /// Opens every shard's store and listens; returns once every shard
    /// serves.
    pub fn start(self) -> Result<ServerHandle, StartError> {
        let mut config = self.config;
        let nr_shards = config.nr_shards();
        refuse_realtime_policy()?;
        std::fs::create_dir_all(&config.dir).map_err(|e| StartError::Dir(config.dir.clone(), e))?;
        // One absolute path from here on: in logs, INFO, and every file opened.
        config.dir = std::fs::canonicalize(&config.dir)
            .map_err(|e| StartError::Dir(config.dir.clone(), e))?;
        let _lock = DirLock::acquire(&config.dir)?;
        check_shard_count(&config.dir, nr_shards)?;

        // Resolve the port once (so port 0 means one ephemeral port for all
        // shards) and fail early, with a clear message, if it is taken: a plain
        // bind refuses a port held by anyone, SO_REUSEPORT or not.
        let listen = {
            let probe = std::net::TcpListener::bind(config.listen)
                .map_err(|e| StartError::Listen(config.listen, e))?;
            probe
                .local_addr()
                .map_err(|e| StartError::Listen(config.listen, e))?
        };
        config.listen = listen;
        // The metrics listener is bound here, so a taken port fails the start
        // and port 0 is resolved before the ready line; shard 0 serves it.
        let mut metrics_listener = match config.metrics_listen {
            Some(addr) => {
                let listener = std::net::TcpListener::bind(addr)
                    .map_err(|e| StartError::MetricsListen(addr, e))?;
                let bound = listener
                    .local_addr()
                    .map_err(|e| StartError::MetricsListen(addr, e))?;
                config.metrics_listen = Some(bound);
                Some(std::os::fd::OwnedFd::from(listener))
            }
            None => None,
        };
        let cluster = start_cluster(&mut config, nr_shards)?;

        let memlock = raise_memlock_limit();
        let shared = Arc::new(Shared::default());
        let mesh_builder = mesh::builder(nr_shards);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, StartError>>();
        let mut threads = Vec::new();
        for index in 0..nr_shards {
            let config = config.clone();
            let mesh_builder = mesh_builder.clone();
            let ready_tx = ready_tx.clone();
            let cluster = cluster.clone();
            let shared = shared.clone();
            let cpu = config.cpu_for_shard(index);
            let metrics_fd = if index == 0 {
                metrics_listener.take()
            } else {
                None
            };
            let placement = cpu.map_or(Placement::Unbound, Placement::Fixed);
            let thread = std::thread::Builder::new()
                .name(format!("shard-{index}"))
                .spawn(move || {
                    let executor = match LocalExecutorBuilder::new(placement)
                        .name(&format!("shard-{index}"))
                        .make()
                    {
                        Ok(executor) => executor,
                        Err(e) => {
                            let _ = ready_tx.send(Err(StartError::Executor(
                                describe_executor_error(&e, memlock),
                            )));
                            return;
                        }
                    };
                    executor.run(run_shard(
                        Rc::new(config),
                        mesh_builder,
                        cluster,
                        shared,
                        cpu,
                        metrics_fd,
                        ready_tx,
                    ));
                })
                .map_err(|e| {
                    StartError::Executor(format!("could not start a shard thread: {e}"))
                })?;
            threads.push(thread);
        }
        drop(ready_tx);
        for _ in 0..nr_shards {
            match ready_rx.recv() {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    // The shards that did start stop again.
                    shared.request();
                    return Err(error);
                }
                Err(_) => {
                    return Err(StartError::Executor(
                        "a shard exited during start-up".into(),
                    ));
                }
            }
        }
        Ok(ServerHandle {
            config,
            nr_shards,
            shared,
            threads,
            _lock,
        })
    }
}

/// A running server: its addresses, a way to stop it and to wait for it.
/// Dropping it stops the server and waits.
pub struct ServerHandle {
    /// Its settings, with the addresses actually bound.
    config: Config,
    nr_shards: usize,
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
    _lock: DirLock,
}

impl ServerHandle {
    /// The address every shard listens on (the port picked, for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.config.listen
    }

    /// Where `/metrics` is served, with `--metrics-listen`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.config.metrics_listen
    }

    /// The settings it runs with (absolute data directory, bound ports).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of shards.
    pub fn nr_shards(&self) -> usize {
        self.nr_shards
    }

    /// Asks the server to stop: shards stop accepting, drain their
    /// connections, sync and exit (as on SIGTERM or SHUTDOWN).
    pub fn shutdown(&self) {
        self.shared.request();
    }

    /// True once a stop was asked for (by [`ServerHandle::shutdown`], a
    /// signal or SHUTDOWN).
    pub fn is_stopping(&self) -> bool {
        self.shared.requested()
    }

    /// Waits until every shard has stopped (after a shutdown request).
    pub fn wait(mut self) {
        self.join();
    }

    fn join(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown();
            self.join();
        }
    }
}

/// Reads the cluster configuration (or builds the single-node one), takes
/// this node's shard ports from it when the file gives them (into
/// `config.shard_ports`), and checks that every shard port is free.
fn start_cluster(config: &mut Config, nr_shards: usize) -> Result<Arc<ClusterState>, StartError> {
    let default_id =
        stored_node_id(&config.dir).map_err(|e| StartError::Dir(config.dir.clone(), e))?;
    let cluster = ClusterState::new(LocalNode {
        listen: config.listen,
        shard_ports: config.shard_ports,
        nr_shards,
        config_file: config.cluster_config.clone(),
        default_id,
    })
    .map_err(StartError::Cluster)?;
    config.shard_ports = cluster.shard_ports();
    if let Some(base) = config.shard_ports {
        if base as usize + nr_shards - 1 > u16::MAX as usize {
            return Err(StartError::Cluster(format!(
                "--shard-ports {base} with {nr_shards} shards runs past port 65535"
            )));
        }
        for shard_id in 0..nr_shards {
            let addr = shard_port_addr(config.listen, base, shard_id);
            std::net::TcpListener::bind(addr).map_err(|e| StartError::Listen(addr, e))?;
        }
    }
    Ok(cluster)
}

/// Shard `shard_id`'s own port: the listen address with port `base + shard_id`.
fn shard_port_addr(listen: SocketAddr, base: u16, shard_id: usize) -> SocketAddr {
    let mut addr = listen;
    addr.set_port(base + shard_id as u16);
    addr
}

/// Everything one shard does, from joining the mesh to the final sync.
async fn run_shard(
    config: Rc<Config>,
    mesh_builder: glommio::channels::channel_mesh::MeshBuilder<
        MeshMsg,
        glommio::channels::channel_mesh::Full,
    >,
    cluster: Arc<ClusterState>,
    shared: Arc<Shared>,
    cpu: Option<usize>,
    metrics_fd: Option<std::os::fd::OwnedFd>,
    ready: mpsc::Sender<Result<usize, StartError>>,
) {
    let (mesh, receivers) = match Mesh::join(mesh_builder).await {
        Ok(joined) => joined,
        Err(e) => {
            let _ = ready.send(Err(StartError::Shard(usize::MAX, e.to_string())));
            return;
        }
    };
    let id = mesh.shard_id();
    let options = StoreOptions {
        dir: config.dir.join(format!("shard-{id}")),
        shard_id: id,
        max_file_size: config.max_file_size,
        sync: config.sync_mode(),
        cache_bytes: config.cache_bytes_per_shard(),
        max_disk: config
            .max_disk
            .map(|limit| limit / config.nr_shards() as u64),
        merge: config.merge_policy(),
        backend: crate::storage::io::Backend::Dma,
    };
    let store = match Store::open(options).await {
        Ok(store) => store,
        Err(e) => {
            let _ = ready.send(Err(StartError::Shard(id, e.to_string())));
            return;
        }
    };
    let report = store.recovery_report();
    tracing::info!(
        shard = id,
        cpu = ?cpu,
        files = report.files_scanned,
        records = report.records_scanned,
        keys = report.keys_loaded,
        torn_tail = ?report.torn_tail,
        corruptions = report.corruptions.len(),
        ms = report.duration.as_millis() as u64,
        "shard opened"
    );
    let shard = Rc::new(Shard::new(
        config.clone(),
        store.clone(),
        mesh.clone(),
        View::new(cluster),
        shared,
        cpu,
    ));
    let handler_shard = shard.clone();
    let handler: RequestHandler = Rc::new(move |request| {
        if let crate::router::ShardRequest::Batch(commands) = &request {
            bump(&handler_shard.stats.fwd_in, commands.len() as u64);
        }
        Box::pin(handler_shard.clone().serve(request))
    });
    mesh.start_receivers(receivers, handler);

    // The client sockets' ring and its driver.
    let ring = match Ring::new() {
        Ok(ring) => ring,
        Err(e) => {
            let _ = ready.send(Err(StartError::Shard(
                id,
                format!("cannot set up the socket io_uring: {e}"),
            )));
            return;
        }
    };
    glommio::spawn_local(ring.clone().drive()).detach();
    // A turn's receives show the shard their keys before their connections
    // run: at pipeline 1 the lookups of a turn's requests overlap. (Weak:
    // the shard's store holds the ring.)
    let hook_shard = Rc::downgrade(&shard);
    ring.set_receive_hook(Some(Box::new(move |received| {
        if let Some(shard) = hook_shard.upgrade() {
            shard.prefetch_received(received);
        }
    })));
    // GETs that miss memory read on it too: one kernel entry per turn
    // carries replies, receives and disk reads alike.
    shard.store.set_direct_reader(Some(ring.clone()));

    let listener = match bind_listener(config.listen) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = ready.send(Err(StartError::Listen(
                config.listen,
                std::io::Error::other(e.to_string()),
            )));
            return;
        }
    };
    let shard_listener = match config.shard_ports {
        None => None,
        Some(base) => {
            let addr = shard_port_addr(config.listen, base, id);
            match bind_listener(addr) {
                Ok(listener) => Some(listener),
                Err(e) => {
                    let _ = ready.send(Err(StartError::Listen(addr, e)));
                    return;
                }
            }
        }
    };
    let _ = ready.send(Ok(id));

    // Shutdown watcher: turns the process-wide flag into this shard's event;
    // connections see it as their next receive failing.
    let watcher_shard = shard.clone();
    let watcher_ring = ring.clone();
    glommio::spawn_local(async move {
        watcher_shard.shared.wait_requested().await;
        watcher_shard.shutdown.fire();
        watcher_ring.shut_down();
    })
    .detach();

    // Expiry reaper: drops keys whose time has passed, a bounded number at a time.
    let reaper_store = store.clone();
    let reaper_shutdown = shard.shutdown.clone();
    glommio::spawn_local(async move {
        while !reaper_shutdown.is_fired() {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            reaper_store.reap_expired(now_ms(), 2000);
        }
    })
    .detach();

    if id == 0 {
        glommio::spawn_local(report_stats(shard.clone())).detach();
    }

    if let Some(fd) = metrics_fd {
        use std::os::fd::{FromRawFd, IntoRawFd};
        // SAFETY: a bound, listening socket whose ownership passes to glommio.
        let listener = unsafe { TcpListener::from_raw_fd(fd.into_raw_fd()) };
        glommio::spawn_local(metrics_http::serve(shard.clone(), listener)).detach();
    }

    if id == 0 {
        glommio::spawn_local(cluster_cmd::reload_on_hangup(shard.clone())).detach();
    }

    match &shard_listener {
        None => accept_loop(&shard, &ring, &listener, None).await,
        Some(own) => {
            futures_lite::future::zip(
                accept_loop(&shard, &ring, &listener, None),
                accept_loop(&shard, &ring, own, Some(id)),
            )
            .await;
        }
    }
    drop(listener);
    drop(shard_listener);

    // Drain: connections finish their in-flight batch and close. A client
    // that stopped reading its replies is not waited for past the deadline.
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !shard.clients.borrow().is_empty() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    if !shard.clients.borrow().is_empty() {
        tracing::warn!(
            shard = id,
            open = shard.clients.borrow().len(),
            "closing connections that did not drain in time"
        );
    }
    shard.shared.drained_and_wait_all(shard.nr_shards).await;
    if let Err(e) = store.close().await {
        tracing::error!(shard = id, error = %e, "final sync failed");
    } else {
        tracing::info!(shard = id, "shard synced and stopped");
    }
    mesh.close();
}

/// Prints the per-core table every `stats-interval` seconds (shard 0
/// only). The interval is read again at least once a second, so CONFIG SET
/// stats-interval turns the table on, off or to another pace while running.
async fn report_stats(shard: Rc<Shard>) {
    let interval_now = || {
        Duration::from_secs(
            shard
                .shared
                .settings
                .get_u64(crate::shard::settings::Knob::StatsInterval, &shard.config),
        )
    };
    let mut previous: Option<Vec<ShardSnapshot>> = None;
    let mut last = Instant::now();
    while !shard.shutdown.is_fired() {
        let interval = interval_now();
        if interval.is_zero() {
            previous = None;
            glommio::timer::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let Some(before) = &previous else {
            previous = Some(fanout::all_snapshots(&shard).await);
            last = Instant::now();
            continue;
        };
        let elapsed = last.elapsed();
        if elapsed < interval {
            glommio::timer::sleep((interval - elapsed).min(Duration::from_secs(1))).await;
            continue;
        }
        let current = fanout::all_snapshots(&shard).await;
        last = Instant::now();
        let deltas: Vec<ShardSnapshot> = current
            .iter()
            .zip(before.iter())
            .map(|(now, before)| now.since(before))
            .collect();
        print!("{}", format_table(&deltas, elapsed));
        previous = Some(current);
    }
}
