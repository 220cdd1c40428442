//! Persistence over real restarts of the real binary: clean stop, kill -9
//! under load, torn tails, corruption in the middle of a log, expiry.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Server;
use redis::Commands;

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(dir).unwrap().flatten() {
        if shard.path().is_dir() {
            for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
                if file.path().extension().is_some_and(|e| e == "data") {
                    files.push(file.path());
                }
            }
        }
    }
    files.sort();
    files
}

fn value_for(i: usize) -> String {
    // Mixed sizes: small, around a block, and several blocks.
    let len = [10, 500, 4096, 9000][i % 4];
    format!("{i}:").repeat(len / 2 + 1)[..len].to_string()
}

#[test]
fn clean_restart_keeps_every_key_on_every_shard() {
    restart_keeps_every_key(&mut Server::start(2, &[]));
}

/// The README's quick start: no `--dir`, so the data goes to the default
/// `./shardcask-data`, a relative path (once refused at start: glommio
/// could not open a relative directory to sync it).
#[test]
fn default_relative_data_dir_works_across_a_restart() {
    let mut server = Server::start_with_default_dir(2, &[]);
    restart_keeps_every_key(&mut server);
    assert!(
        server.dir.join("shardcask-data").join("shard-0").is_dir(),
        "data in ./shardcask-data of the working directory"
    );
}

/// Writes, deletes and overwrites keys, stops `server` with SIGTERM,
/// restarts it and checks every key.
fn restart_keeps_every_key(server: &mut Server) {
    {
        let mut con = server.client();
        for i in 0..400 {
            let _: () = con.set(format!("key:{i}"), value_for(i)).unwrap();
        }
        let _: () = con.del("key:7").unwrap();
        let _: () = con.set("key:8", "overwritten").unwrap();
    }
    assert!(server.stop().success(), "SIGTERM must exit 0");
    server.restart();
    let mut con = server.client();
    for i in 0..400 {
        let got: Option<String> = con.get(format!("key:{i}")).unwrap();
        let expected = match i {
            7 => None,
            8 => Some("overwritten".to_string()),
            _ => Some(value_for(i)),
        };
        assert_eq!(got, expected, "key:{i}");
    }
    let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 399);
}

#[test]
fn kill_dash_nine_under_write_load_loses_no_acknowledged_write() {
    let mut server = Server::start(2, &["--sync", "always"]);
    let acked: Arc<Mutex<HashMap<String, String>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let acked = acked.clone();
        let stop = stop.clone();
        let mut con = server.client();
        writers.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("w{writer}:{}", i % 50);
                let value = format!("{}-{}", value_for(i), i);
                // Each writer owns its keys: one write per key in flight.
                match con.set::<_, _, ()>(&key, &value) {
                    Ok(()) => {
                        acked.lock().unwrap().insert(key, value);
                    }
                    Err(_) => break, // the server died mid-request: not acknowledged
                }
                i += 1;
            }
        }));
    }
    // Let real load build up, then kill at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 150 {
        assert!(
            std::time::Instant::now() < deadline,
            "writers made no progress"
        );
        assert!(
            !writers.iter().any(|w| w.is_finished()),
            "a writer stopped early"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    server.restart();
    let mut con = server.client();
    for (key, value) in &acked {
        let got: Option<String> = con.get(key).unwrap();
        // The last acknowledged value, or a later write that was in flight
        // (written but not yet acknowledged) — never an older one or garbage.
        let got = got.unwrap_or_else(|| panic!("acknowledged key {key} lost"));
        if &got != value {
            let writer_index: usize = got.rsplit('-').next().unwrap().parse().unwrap();
            let acked_index: usize = value.rsplit('-').next().unwrap().parse().unwrap();
            assert!(
                writer_index > acked_index,
                "{key}: got an older value than acknowledged"
            );
        }
    }
}

#[test]
fn torn_tail_is_truncated_and_everything_before_it_survives() {
    let mut server = Server::start(1, &[]);
    {
        let mut con = server.client();
        for i in 0..50 {
            let _: () = con.set(format!("t:{i}"), value_for(i)).unwrap();
        }
        let _: () = con.set("t:last", "x".repeat(3000)).unwrap();
    }
    server.stop();
    // Cut into the last record and garble what remains of it.
    let file = log_files(&server.dir).pop().unwrap();
    let data = std::fs::read(&file).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    let mut torn = data[..end - 1000].to_vec();
    let len = torn.len();
    torn[len - 10..].copy_from_slice(b"GARBAGE!!!");
    std::fs::write(&file, &torn).unwrap();

    server.restart();
    let mut con = server.client();
    for i in 0..50 {
        let got: Option<String> = con.get(format!("t:{i}")).unwrap();
        assert_eq!(got, Some(value_for(i)), "t:{i}");
    }
    let last: Option<String> = con.get("t:last").unwrap();
    assert_eq!(
        last, None,
        "the torn record must not come back half-written"
    );
    // And the store accepts writes after the truncation point.
    let _: () = con.set("t:after", "fine").unwrap();
    server.stop();
    server.restart();
    let mut con = server.client();
    let after: Option<String> = con.get("t:after").unwrap();
    assert_eq!(after.as_deref(), Some("fine"));
    let first: Option<String> = con.get("t:0").unwrap();
    assert_eq!(first, Some(value_for(0)));
}

#[test]
fn a_flipped_byte_in_the_middle_is_reported_and_other_records_served() {
    let mut server = Server::start(1, &[]);
    {
        let mut con = server.client();
        for i in 0..40 {
            let _: () = con
                .set(
                    format!("c:{i:02}"),
                    format!("value-{i:02}-{}", "z".repeat(200)),
                )
                .unwrap();
        }
    }
    server.stop();
    let file = log_files(&server.dir).pop().unwrap();
    let mut data = std::fs::read(&file).unwrap();
    // Find the value of c:20 and flip a byte inside it.
    let needle = b"value-20-";
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    data[at + 3] ^= 0xff;
    std::fs::write(&file, &data).unwrap();

    server.restart();
    let stderr = server.stderr_text();
    assert!(
        stderr.to_lowercase().contains("corrupt"),
        "corruption must be reported loudly; stderr:\n{stderr}"
    );
    let mut con = server.client();
    let mut served = 0;
    for i in 0..40 {
        let got: Option<String> = con.get(format!("c:{i:02}")).unwrap();
        match got {
            Some(v) => {
                assert_eq!(
                    v,
                    format!("value-{i:02}-{}", "z".repeat(200)),
                    "never a wrong value"
                );
                served += 1;
            }
            None => assert_eq!(i, 20, "only the damaged record may be missing"),
        }
    }
    assert_eq!(served, 39);
}

#[test]
fn expiry_holds_across_a_restart() {
    let mut server = Server::start(2, &[]);
    {
        let mut con = server.client();
        let _: () = redis::cmd("SET")
            .arg("short")
            .arg("v")
            .arg("PX")
            .arg(300)
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg("long")
            .arg("v")
            .arg("EX")
            .arg(1000)
            .query(&mut con)
            .unwrap();
        let _: () = con.set("forever", "v").unwrap();
        let ttl: i64 = con.ttl("long").unwrap();
        assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    }
    server.stop();
    // Wait until `short` is past its time, without the server running.
    std::thread::sleep(Duration::from_millis(400));
    server.restart();
    let mut con = server.client();
    let short: Option<String> = con.get("short").unwrap();
    assert_eq!(short, None);
    let ttl: i64 = con.ttl("long").unwrap();
    assert!((980..=1000).contains(&ttl), "ttl after restart {ttl}");
    let ttl: i64 = con.ttl("forever").unwrap();
    assert_eq!(ttl, -1);
}

#[test]
fn second_server_on_the_same_dir_refuses_to_start() {
    let server = Server::start(1, &[]);
    let dir = server.dir.display().to_string();
    assert_start_fails(
        &["--listen", "127.0.0.1:0", "--dir", &dir],
        "locked by another shardcask process",
    );
}

#[test]
fn port_in_use_is_reported_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = common::data_dir();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = dir.path().display().to_string();
    assert_start_fails(&["--listen", &addr, "--dir", &dir], "cannot listen on");
}

#[test]
fn unusable_data_dir_is_reported_clearly() {
    assert_start_fails(
        &[
            "--listen",
            "127.0.0.1:0",
            "--dir",
            "/proc/shardcask-cannot-be-here",
        ],
        "is not usable",
    );
}

#[test]
fn restarts_on_the_same_port_while_old_connections_linger() {
    let mut server = Server::start(2, &[]);
    let addr = server.addr;
    // Clients connected at shutdown: the server closes them first, which
    // leaves its side of each connection in TIME_WAIT on the listening port.
    let mut clients: Vec<_> = (0..8).map(|_| server.client()).collect();
    for (i, con) in clients.iter_mut().enumerate() {
        let _: () = con.set(format!("linger:{i}"), i).unwrap();
    }
    assert!(server.stop().success());
    drop(clients);
    server.restart_same_addr();
    assert_eq!(server.addr, addr);
    let mut con = server.client();
    let v: i64 = con.get("linger:3").unwrap();
    assert_eq!(v, 3);
}

#[test]
fn a_real_time_policy_is_refused_with_the_reason() {
    // chrt, as a user would start it; a shard under SCHED_FIFO once spun at
    // start-up for good, its io_uring workers starved on its CPU.
    let dir = common::data_dir();
    let output = std::process::Command::new("chrt")
        .args(["-f", "1", env!("CARGO_BIN_EXE_shardcask")])
        .args(["--shards", "1", "--cpus", "0", "--listen", "127.0.0.1:0"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .expect("chrt (util-linux) runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.starts_with("chrt:") {
        // Not allowed to set a real-time policy here (no CAP_SYS_NICE).
        eprintln!("skipped: {stderr}");
        return;
    }
    assert!(!output.status.success());
    assert!(
        stderr.contains("real-time policy SCHED_FIFO") && stderr.contains("without chrt"),
        "stderr: {stderr}"
    );
}

/// Runs the binary (one unpinned shard) with `args`; it must exit non-zero
/// with `expected` in its stderr.
fn assert_start_fails(args: &[&str], expected: &str) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardcask"))
        .args(["--shards", "1", "--no-pin"])
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected), "stderr: {stderr}");
}
