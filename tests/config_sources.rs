//! The real binary reads its settings from the command line, `SHARDCASK_*`
//! variables and a `--config` TOML file, in that order of precedence, and
//! logs JSON lines with `--log-format json`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn flags_beat_variables_beat_the_file() {
    let dir = common::data_dir();
    let settings = dir.path().join("shardcask.toml");
    std::fs::write(
        &settings,
        format!(
            "dir = \"{}\"\nlisten = \"127.0.0.1:0\"\nshards = 1\nno-pin = true\nstats-interval = 0\n\
             merge-interval = 7\nmax-connections = 55\nslowlog-max-len = 9\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardcask"))
        .arg("--slowlog-max-len")
        .arg("11")
        .env("SHARDCASK_CONFIG", &settings)
        .env("SHARDCASK_MAX_CONNECTIONS", "77")
        .env("SHARDCASK_LOG_FORMAT", "json")
        .env("SHARDCASK_LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("shardcask ready: listening on ") {
                let addr: SocketAddr = rest.split_whitespace().next().unwrap().parse().unwrap();
                let _ = tx.send(addr);
            }
        }
    });
    let (log_tx, log_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts from its config file");
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let get = |con: &mut redis::Connection, name: &str| -> String {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .unwrap();
        pair.get(1).cloned().unwrap_or_default()
    };
    assert_eq!(get(&mut con, "merge-interval"), "7", "from the file");
    assert_eq!(
        get(&mut con, "maxclients"),
        "77",
        "the variable beats the file"
    );
    assert_eq!(
        get(&mut con, "slowlog-max-len"),
        "11",
        "the flag beats the file"
    );
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
    let status = child.wait().unwrap();
    assert!(status.success());
    let logs: Vec<String> = log_rx.try_iter().collect();
    assert!(!logs.is_empty());
    for line in &logs {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
    assert!(logs.iter().any(|l| l.contains("shard opened")), "{logs:?}");
}

#[test]
fn a_bad_config_file_stops_the_start() {
    let dir = common::data_dir();
    let settings = dir.path().join("bad.toml");
    std::fs::write(&settings, "bogus-setting = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shardcask"))
        .arg("--config")
        .arg(&settings)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown setting 'bogus-setting'"),
        "{stderr}"
    );
}

#[test]
fn the_systemd_unit_sets_the_limits_and_real_variables() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/shardcask.service"
    ))
    .unwrap();
    assert!(unit.lines().any(|l| l == "LimitMEMLOCK=infinity"));
    assert!(unit.lines().any(|l| l.starts_with("LimitNOFILE=")));
    let help = Command::new(env!("CARGO_BIN_EXE_shardcask"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for line in unit
        .lines()
        .filter(|l| l.starts_with("Environment=SHARDCASK_"))
    {
        let name = line["Environment=".len()..].split('=').next().unwrap();
        assert!(
            help.contains(&format!("[env: {name}=")),
            "{name} is not a flag's variable"
        );
    }
}
