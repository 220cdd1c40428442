//! Bounded runs of the client for the tests: a run that hangs fails its
//! test after [`RUN_DEADLINE`] instead of holding up the suite (and CI)
//! forever.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Every run in these tests takes seconds at most; one still going after
/// this long hangs.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Runs the `shardcask-bench` binary with `args` and returns its output;
/// kills it and fails the test if it has not exited by [`RUN_DEADLINE`].
pub fn run_binary<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardcask-bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shardcask-bench");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap();
            let argv: Vec<_> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            panic!(
                "shardcask-bench {} did not exit within {RUN_DEADLINE:?} and was killed; stderr: {}",
                argv.join(" "),
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}
