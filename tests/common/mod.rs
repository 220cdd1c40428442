//! Test harness: runs the real `shardcask` binary as a child process on an
//! ephemeral loopback port with its own data directory, and hands out real
//! clients (the `redis` crate) and raw TCP streams.

#![allow(dead_code)]

pub mod redis_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server and the directory it keeps its data in.
pub struct Server {
    child: Option<Child>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its data directory (kept across restarts).
    pub dir: PathBuf,
    /// Extra flags it was started with.
    args: Vec<String>,
    /// Started without `--dir`, from inside `dir`: the server then uses its
    /// default data directory, `./shardcask-data`, relative to `dir`.
    default_dir: bool,
    /// Lines it wrote to stderr, collected in the background.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Lines it wrote to stdout (the ready line, stats tables).
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _tempdir: Option<tempfile::TempDir>,
}

/// A fresh data directory on a real filesystem (O_DIRECT needs one).
pub fn data_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix("shardcask-test-")
        .tempdir_in(base)
        .unwrap()
}

impl Server {
    /// Starts a server with `nr_shards` unpinned shards and `extra` flags.
    pub fn start(nr_shards: usize, extra: &[&str]) -> Server {
        Server::start_with(nr_shards, extra, false)
    }

    /// Like [`Server::start`], but without `--dir`, run from inside a fresh
    /// directory: the README's quick start, default data directory and all.
    pub fn start_with_default_dir(nr_shards: usize, extra: &[&str]) -> Server {
        Server::start_with(nr_shards, extra, true)
    }

    fn start_with(nr_shards: usize, extra: &[&str], default_dir: bool) -> Server {
        let tempdir = data_dir();
        let dir = tempdir.path().to_path_buf();
        let mut args: Vec<String> = vec![
            "--shards".into(),
            nr_shards.to_string(),
            "--no-pin".into(),
            "--stats-interval".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            dir,
            args,
            default_dir,
            stderr: Default::default(),
            stdout: Default::default(),
            _tempdir: Some(tempdir),
        };
        server.spawn("127.0.0.1:0".parse().unwrap());
        server
    }

    fn spawn(&mut self, listen: SocketAddr) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shardcask"));
        command.arg("--listen").arg(listen.to_string());
        if self.default_dir {
            command.current_dir(&self.dir);
        } else {
            command.arg("--dir").arg(&self.dir);
        }
        let mut child = command
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the shardcask binary");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = self.stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout_lines = self.stdout.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                stdout_lines.lock().unwrap().push(line.clone());
                if let Some(rest) = line.strip_prefix("shardcask ready: listening on ") {
                    let mut words = rest.split_whitespace();
                    let addr: SocketAddr = words.next().unwrap().parse().unwrap();
                    // "ADDR with N shard(s), ..."
                    let nr_shards: usize = words.nth(1).and_then(|n| n.parse().ok()).unwrap_or(1);
                    if let Some(tx) = tx.take() {
                        let _ = tx.send((addr, nr_shards));
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((addr, nr_shards)) => {
                self.addr = addr;
                // stderr comes through another pipe and thread: wait (a
                // bounded time) until it has caught up with the ready line,
                // i.e. holds every shard's "shard opened" (logged after its
                // recovery reports), so stderr_text() right after a start
                // has them.
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline
                    && self
                        .stderr
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|line| line.contains("shard opened"))
                        .count()
                        < nr_shards
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "server did not become ready ({status:?}); stderr:\n{}",
                    self.stderr.lock().unwrap().join("\n")
                );
            }
        }
        self.child = Some(child);
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// A connected `redis` crate client.
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.addr)).unwrap();
        client
            .get_connection()
            .expect("connect with the redis crate")
    }

    /// A raw TCP stream with a read timeout.
    pub fn raw(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not stop within 60 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same directory (and port, when free).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the server first");
        self.stderr.lock().unwrap().clear();
        self.spawn("127.0.0.1:0".parse().unwrap());
    }

    /// Starts the server again on the same directory and the same address.
    pub fn restart_same_addr(&mut self) {
        assert!(self.child.is_none(), "stop or kill the server first");
        self.stderr.lock().unwrap().clear();
        self.spawn(self.addr);
    }

    /// Wait for the child to exit by itself (e.g. after SHUTDOWN).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends raw bytes and reads until `expected_len` bytes arrived or the peer closed.
pub fn roundtrip(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).unwrap();
    read_n(stream, expected_len)
}

/// Reads up to `n` bytes (fewer if the peer closes).
pub fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match stream.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) => panic!("read failed after {filled} of {n} bytes: {e}"),
        }
    }
    out.truncate(filled);
    out
}

/// Reads until the peer closes the connection.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// Resident set size of process `pid` in KiB (VmRSS of /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Raises this process's soft open-file limit to the hard one (children
/// started afterwards inherit it); returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a stack struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

/// A RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A small seeded PRNG (SplitMix64) so every random test prints a seed that
/// replays it.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed from the env var `name` if set, else from the clock.
    pub fn seed_from_env(name: &str) -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A count from the environment variable `name` (a suite's long mode), or
/// `default` when it is unset or not a number.
pub fn env_count<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Streams `prefix` then `filler` bytes on a new connection until the server
/// hangs up or 100 MiB went; asserts that the server said nothing or a reply
/// starting with `expected`, and returns the bytes sent.
pub fn stream_endless(server: &Server, prefix: &[u8], filler: u8, expected: &str) -> usize {
    let mut stream = server.raw();
    stream.write_all(prefix).unwrap();
    let chunk = vec![filler; 256 * 1024];
    let mut sent = 0;
    while sent < 100 * 1024 * 1024 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let reply = String::from_utf8_lossy(&read_to_close(&mut stream)).to_string();
    assert!(
        reply.is_empty() || reply.starts_with(expected),
        "got {reply:?}"
    );
    sent
}

/// Runs `script` with python3 and redis-py against `server`; under CI=true a
/// missing python or redis-py fails the test, elsewhere it is skipped loudly.
pub fn run_redis_py(server: &Server, script: &str) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import redis"])
        .output();
    if !probe.is_ok_and(|out| out.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with redis-py is required under CI=true (pip install redis)"
        );
        eprintln!(
            "\n!!!!! SKIPPED: python3 with redis-py is not installed (pip install redis) !!!!!\n"
        );
        return;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env("PORT", server.addr.port().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis-py script failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
