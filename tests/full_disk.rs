//! A full disk, for real: the server runs on a small ext4 image mounted over
//! a loop device, and is filled until writes fail.
//!
//! Expected: a write that does not fit fails with a clear error and nothing
//! else changes; reads go on; the server stays up; once space returns (a
//! ballast file on the same filesystem is removed) writes succeed again; and
//! after a restart every acknowledged write is there.
//!
//! Needs root (mount). Without it the test is skipped with a message, unless
//! `CI=true`, where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{resp, roundtrip};

/// A mounted loop filesystem; unmounted (lazily) and removed when dropped,
/// also when the test fails.
struct LoopMount {
    image: PathBuf,
    mount_point: PathBuf,
    _base: tempfile::TempDir,
}

impl LoopMount {
    /// Creates a `size_mib` ext4 image and mounts it, or says why not.
    fn new(size_mib: u64) -> Result<LoopMount, String> {
        let base = common::data_dir();
        let image = base.path().join("disk.img");
        let mount_point = base.path().join("mnt");
        std::fs::create_dir(&mount_point).map_err(|e| e.to_string())?;
        let run = |program: &str, args: &[&str]| -> Result<(), String> {
            let output = Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{program}: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{program} {args:?}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        };
        let image_arg = image.to_string_lossy().to_string();
        let mount_arg = mount_point.to_string_lossy().to_string();
        run("truncate", &["-s", &format!("{size_mib}M"), &image_arg])?;
        run("mkfs.ext4", &["-q", "-F", &image_arg])?;
        run("mount", &["-o", "loop", &image_arg, &mount_arg])?;
        Ok(LoopMount {
            image,
            mount_point,
            _base: base,
        })
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
        let _ = std::fs::remove_file(&self.image);
    }
}

/// The server binary on a data directory of our choosing (the common
/// harness always makes its own).
struct DiskServer {
    child: Option<std::process::Child>,
    addr: std::net::SocketAddr,
    dir: PathBuf,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl DiskServer {
    fn start(dir: PathBuf) -> DiskServer {
        let mut server = DiskServer {
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            dir,
            stderr: Default::default(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_shardcask"))
            .args(["--listen", "127.0.0.1:0", "--shards", "1", "--no-pin"])
            .args(["--stats-interval", "0", "--max-file-size", "8MiB"])
            .args(["--sync", "always", "--dir"])
            .arg(&self.dir)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let text = self.stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.strip_prefix("shardcask ready: listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap().parse().unwrap());
                }
            }
        });
        self.child = Some(child);
        self.addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server not ready; stderr:\n{}", self.stderr_text()));
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn raw(&self) -> std::net::TcpStream {
        let stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    /// SIGTERM; true on a clean exit.
    fn stop(&mut self) -> bool {
        let mut child = self.child.take().unwrap();
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().unwrap().success()
    }
}

impl Drop for DiskServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_bytes(path: &Path) -> u64 {
    let c_path = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: statvfs fills a plain struct for a NUL-terminated path.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c_path.as_ptr(), &mut stat), 0);
        stat.f_bavail as u64 * stat.f_frsize as u64
    }
}

fn value_of(i: usize) -> Vec<u8> {
    let mut value = format!("value-{i}-").into_bytes();
    value.resize(200 * 1024, b'a' + (i % 26) as u8);
    value
}

fn get_reply(value: &[u8]) -> Vec<u8> {
    [
        format!("${}\r\n", value.len()).into_bytes(),
        value.to_vec(),
        b"\r\n".to_vec(),
    ]
    .concat()
}

/// Reads one reply line (status, error or integer).
fn read_line(stream: &mut std::net::TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match std::io::Read::read(stream, &mut byte) {
            Ok(1) => line.push(byte[0]),
            other => panic!("connection lost reading a reply: {other:?}"),
        }
    }
    String::from_utf8_lossy(&line).to_string()
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_recovers_when_space_returns() {
    let mount = match LoopMount::new(64) {
        Ok(mount) => mount,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but cannot mount a small ext4 image: {why}");
            }
            eprintln!(
                "skipped: cannot mount a small ext4 image (needs root and loop devices): {why}"
            );
            return;
        }
    };
    let data_dir = mount.mount_point.join("data");
    std::fs::create_dir(&data_dir).unwrap();
    // Ballast: space the test gives back later.
    let ballast = mount.mount_point.join("ballast");
    std::fs::write(&ballast, vec![1u8; 12 << 20]).unwrap();

    let mut server = DiskServer::start(data_dir.clone());
    let mut stream = server.raw();
    let mut acked = Vec::new();
    let mut error = None;
    for i in 0..1000 {
        stream.write_all_ext(&resp(&[b"SET", format!("k{i}").as_bytes(), &value_of(i)]));
        let reply = read_line(&mut stream);
        if reply == "+OK\r\n" {
            acked.push(i);
        } else {
            error = Some(reply);
            break;
        }
    }
    let error = error.expect("the disk never filled up");
    println!(
        "disk full after {} acknowledged 200 KiB writes ({} KiB free): {}",
        acked.len(),
        free_bytes(&mount.mount_point) / 1024,
        error.trim_end()
    );
    assert!(error.starts_with("-ERR"), "got {error:?}");
    let lower = error.to_lowercase();
    assert!(
        lower.contains("space") || lower.contains("full") || lower.contains("enospc"),
        "the error must say the disk is full: {error:?}"
    );
    // More writes keep failing the same way, and nothing else changes.
    for _ in 0..3 {
        stream.write_all_ext(&resp(&[b"SET", b"more", &value_of(0)]));
        let reply = read_line(&mut stream);
        assert!(
            reply.starts_with("-ERR"),
            "a write on a full disk: {reply:?}"
        );
    }
    // Reads go on, over the same connection and new ones.
    let mut reader = server.raw();
    for &i in acked.iter().step_by(7).chain(acked.last()) {
        let expected = get_reply(&value_of(i));
        let got = roundtrip(
            &mut reader,
            &resp(&[b"GET", format!("k{i}").as_bytes()]),
            expected.len(),
        );
        assert!(got == expected, "k{i} after the disk filled");
    }
    assert_eq!(roundtrip(&mut reader, b"PING\r\n", 7), b"+PONG\r\n");
    let got = roundtrip(&mut reader, &resp(&[b"GET", b"more"]), 5);
    assert_eq!(got, b"$-1\r\n", "a failed write must not be visible");

    // Space returns: writes succeed again (within a deadline).
    std::fs::remove_file(&ballast).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut recovered_at = None;
    let mut i = 10_000;
    while std::time::Instant::now() < deadline {
        stream.write_all_ext(&resp(&[b"SET", format!("k{i}").as_bytes(), &value_of(i)]));
        if read_line(&mut stream) == "+OK\r\n" {
            acked.push(i);
            recovered_at = Some(i);
            break;
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        recovered_at.is_some(),
        "writes did not succeed after space returned"
    );
    for j in 0..5 {
        let k = 20_000 + j;
        stream.write_all_ext(&resp(&[b"SET", format!("k{k}").as_bytes(), &value_of(k)]));
        assert_eq!(read_line(&mut stream), "+OK\r\n");
        acked.push(k);
    }
    drop(stream);
    drop(reader);

    // A restart finds every acknowledged write.
    assert!(server.stop(), "stderr:\n{}", server.stderr_text());
    server.spawn();
    let mut reader = server.raw();
    for &i in &acked {
        let expected = get_reply(&value_of(i));
        let got = roundtrip(
            &mut reader,
            &resp(&[b"GET", format!("k{i}").as_bytes()]),
            expected.len(),
        );
        assert!(got == expected, "k{i} lost after the restart");
    }
    println!(
        "full disk: {} acknowledged writes all there after a restart, 0 lost, 0 wrong",
        acked.len()
    );
    drop(reader);
    drop(server);
}

/// `write_all` that panics with context.
trait WriteAllExt {
    fn write_all_ext(&mut self, bytes: &[u8]);
}

impl WriteAllExt for std::net::TcpStream {
    fn write_all_ext(&mut self, bytes: &[u8]) {
        std::io::Write::write_all(self, bytes).expect("send a request");
    }
}
