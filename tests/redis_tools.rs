//! Debian's redis-cli and redis-benchmark against the server, unchanged.
//!
//! `.ci/run` installs redis-tools, and under CI a missing tool fails the
//! test; on a developer machine without them the test says so and skips.

mod common;

use std::process::Command;

use common::Server;

fn tool(name: &str) -> Option<String> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "{name} is missing under CI: .ci/run should have installed redis-tools"
        );
        eprintln!("SKIPPED: {name} is not installed (apt-get install redis-tools)");
    }
    found
}

fn cli(server: &Server, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &server.addr.port().to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

#[test]
fn redis_cli_works_unchanged() {
    if tool("redis-cli").is_none() {
        return;
    }
    let server = Server::start(2, &[]);
    assert_eq!(cli(&server, &["set", "greeting", "hello world"]), "OK");
    assert_eq!(cli(&server, &["get", "greeting"]), "hello world");
    assert_eq!(cli(&server, &["incr", "n"]), "1");
    assert_eq!(cli(&server, &["mset", "a", "1", "b", "2", "c", "3"]), "OK");
    assert_eq!(cli(&server, &["mget", "a", "b", "nope", "c"]), "1\n2\n\n3");
    assert_eq!(cli(&server, &["dbsize"]), "5");
    let info = cli(&server, &["info", "cores"]);
    assert!(info.contains("core0:") && info.contains("core1:"), "{info}");
    let error = cli(&server, &["get"]);
    assert!(error.contains("wrong number of arguments"), "{error}");
}

#[test]
fn redis_benchmark_runs_and_its_writes_are_there() {
    if tool("redis-benchmark").is_none() {
        return;
    }
    let server = Server::start(2, &[]);
    let port = server.addr.port().to_string();
    for pipeline in ["1", "16"] {
        let output = Command::new("redis-benchmark")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "set,get",
                "-n",
                "5000",
                "-r",
                "1000",
                "-c",
                "8",
            ])
            .args(["-P", pipeline, "-q"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "redis-benchmark -P {pipeline}: {stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("SET:") && stdout.contains("GET:"),
            "{stdout}"
        );
        assert!(
            !stdout.to_lowercase().contains("error"),
            "{stdout}\n{stderr}"
        );
    }
    let keys: usize = cli(&server, &["dbsize"]).parse().unwrap();
    assert!(
        keys > 500 && keys <= 1000,
        "{keys} keys after benchmarking over 1000 random keys"
    );
    let value = cli(&server, &["get", "key:000000000042"]);
    // redis-benchmark writes 3-byte values by default (-d 3).
    assert!(
        value.is_empty() || value.len() == 3,
        "unexpected benchmark value {value:?}"
    );
}
