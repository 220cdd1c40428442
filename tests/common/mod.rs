//! Test harness: runs the real `shardcask` binary as a child process on an
//! ephemeral loopback port with its own data directory, and hands out real
//! clients (the `redis` crate) and raw TCP streams.

#![allow(dead_code)]

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
    /// Lines it wrote to stderr, collected in the background.
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
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
            stderr: Default::default(),
            _tempdir: Some(tempdir),
        };
        server.spawn("127.0.0.1:0".parse().unwrap());
        server
    }

    fn spawn(&mut self, listen: SocketAddr) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shardcask"))
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--dir")
            .arg(&self.dir)
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
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("shardcask ready: listening on ") {
                    let addr: SocketAddr = rest.split_whitespace().next().unwrap().parse().unwrap();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => self.addr = addr,
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
