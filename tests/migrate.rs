//! MIGRATE against a real redis-server: shardcask (2 shards) moves keys to
//! it (one key, KEYS across both shards, COPY, REPLACE, the TTL carried,
//! NOKEY, the target's errors, a refused connection), and redis-server
//! moves keys into shardcask (our RESTORE takes what Redis sends).

mod common;

use common::Server;
use common::redis_server::{Conn, Redis, V};
use shardcask::keyspace::shard_for;

fn call(conn: &mut Conn, args: &[&str]) -> V {
    conn.send(&[args.iter().map(|a| a.as_bytes().to_vec()).collect()]);
    conn.read()
}

fn bulk(text: &str) -> V {
    V::Bulk(text.as_bytes().to_vec())
}

fn ok() -> V {
    V::Status("OK".into())
}

#[test]
fn migrate_to_and_from_redis_server() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let server = Server::start(2, &[]);
    let mut ours = Conn::open(server.addr.port());
    let mut theirs = Conn::open(redis.port);
    let port = redis.port.to_string();
    let migrate = |conn: &mut Conn, key: &str, extra: &[&str]| {
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, key, "0", "5000"];
        args.extend_from_slice(extra);
        call(conn, &args)
    };

    // One key: moved, gone here.
    assert_eq!(call(&mut ours, &["SET", "one", "v1"]), ok());
    assert_eq!(migrate(&mut ours, "one", &[]), ok());
    assert_eq!(call(&mut ours, &["EXISTS", "one"]), V::Int(0));
    assert_eq!(call(&mut theirs, &["GET", "one"]), bulk("v1"));

    // KEYS across both shards (a missing one among them), a TTL carried,
    // an integer-encoded and a long value.
    let keys = ["ka", "kb", "kc", "kd", "ke", "kf"];
    let shards: Vec<usize> = keys.iter().map(|k| shard_for(k.as_bytes(), 2)).collect();
    assert!(shards.contains(&0) && shards.contains(&1), "{shards:?}");
    let long = "x".repeat(5000);
    for (i, key) in keys.iter().enumerate() {
        let value = match i {
            0 => long.clone(),
            1 => "12345".to_string(),
            _ => format!("value-{i}"),
        };
        assert_eq!(call(&mut ours, &["SET", key, &value]), ok());
    }
    assert_eq!(call(&mut ours, &["PEXPIRE", "kc", "100000"]), V::Int(1));
    let mut args = vec!["", "KEYS"];
    args.extend_from_slice(&keys);
    args.push("missing");
    assert_eq!(migrate(&mut ours, args[0], &args[1..]), ok());
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(call(&mut ours, &["EXISTS", key]), V::Int(0), "{key}");
        let expected = match i {
            0 => long.clone(),
            1 => "12345".to_string(),
            _ => format!("value-{i}"),
        };
        assert_eq!(call(&mut theirs, &["GET", key]), bulk(&expected), "{key}");
    }
    match call(&mut theirs, &["PTTL", "kc"]) {
        V::Int(ttl) => assert!((1..=100_000).contains(&ttl), "ttl {ttl}"),
        other => panic!("PTTL {other:?}"),
    }
    assert_eq!(call(&mut theirs, &["PTTL", "kd"]), V::Int(-1));
    assert_eq!(call(&mut theirs, &["EXISTS", "missing"]), V::Int(0));

    // COPY keeps ours; without REPLACE the target refuses an existing key
    // (BUSYKEY) and ours stays; REPLACE overwrites it and moves ours.
    assert_eq!(call(&mut ours, &["SET", "c", "first"]), ok());
    assert_eq!(migrate(&mut ours, "c", &["COPY"]), ok());
    assert_eq!(call(&mut ours, &["GET", "c"]), bulk("first"));
    assert_eq!(call(&mut theirs, &["GET", "c"]), bulk("first"));
    assert_eq!(call(&mut ours, &["SET", "c", "second"]), ok());
    assert_eq!(
        migrate(&mut ours, "c", &[]),
        V::Error(
            "ERR Target instance replied with error: BUSYKEY Target key name already exists."
                .into()
        )
    );
    assert_eq!(call(&mut ours, &["GET", "c"]), bulk("second"));
    assert_eq!(migrate(&mut ours, "c", &["REPLACE"]), ok());
    assert_eq!(call(&mut ours, &["EXISTS", "c"]), V::Int(0));
    assert_eq!(call(&mut theirs, &["GET", "c"]), bulk("second"));

    // A failing AUTH is the reported error; nothing moves.
    assert_eq!(call(&mut ours, &["SET", "kept", "v"]), ok());
    match migrate(&mut ours, "kept", &["AUTH", "nope"]) {
        V::Error(text) => assert!(
            text.starts_with("ERR Target instance replied with error: ERR AUTH"),
            "{text}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(call(&mut ours, &["GET", "kept"]), bulk("v"));

    // No key: NOKEY, without connecting (the port is closed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let nokey = call(
        &mut ours,
        &["MIGRATE", "127.0.0.1", &closed, "nothere", "0", "1000"],
    );
    assert_eq!(nokey, V::Status("NOKEY".into()));
    // A refused connection: IOERR, and the key stays.
    assert_eq!(
        call(
            &mut ours,
            &["MIGRATE", "127.0.0.1", &closed, "kept", "0", "1000"]
        ),
        V::Error("IOERR error or timeout connecting to the client".into())
    );
    assert_eq!(call(&mut ours, &["GET", "kept"]), bulk("v"));
    // Errors before any key is looked at, as Redis words them.
    for (args, expected) in [
        (
            vec!["MIGRATE", "h", "1", "k", "0", "1", "BOGUS"],
            "ERR syntax error",
        ),
        (
            vec!["MIGRATE", "h", "1", "k", "0", "1", "KEYS", "a"],
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
        ),
        (
            vec!["MIGRATE", "h", "1", "k", "0", "x"],
            "ERR value is not an integer or out of range",
        ),
    ] {
        assert_eq!(call(&mut ours, &args), V::Error(expected.into()));
        assert_eq!(call(&mut theirs, &args), V::Error(expected.into()));
    }
    // COMMAND INFO (key specs: index 3, and keyword KEYS) as Redis 7.0's.
    assert_eq!(
        call(&mut ours, &["COMMAND", "INFO", "MIGRATE"]),
        call(&mut theirs, &["COMMAND", "INFO", "MIGRATE"])
    );
    assert_eq!(
        call(
            &mut ours,
            &[
                "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "1", "AUTH2", "u", "p", "KEYS",
                "a", "b"
            ]
        ),
        V::Array(vec![bulk("a"), bulk("b")])
    );

    // redis-server moves keys into shardcask: RESTOREs with its own
    // payloads (LZF-compressed, integer-encoded), TTLs and REPLACE.
    let our_port = server.addr.port().to_string();
    assert_eq!(call(&mut theirs, &["SET", "r1", &long]), ok());
    assert_eq!(call(&mut theirs, &["SET", "r2", "-7"]), ok());
    assert_eq!(
        call(&mut theirs, &["SET", "r3", "three", "PX", "100000"]),
        ok()
    );
    assert_eq!(call(&mut ours, &["SET", "r2", "old"]), ok());
    let into_ours = [
        "MIGRATE",
        "127.0.0.1",
        &our_port,
        "",
        "0",
        "5000",
        "REPLACE",
        "KEYS",
        "r1",
        "r2",
        "r3",
    ];
    assert_eq!(call(&mut theirs, &into_ours), ok());
    assert_eq!(call(&mut theirs, &["EXISTS", "r1", "r2", "r3"]), V::Int(0));
    assert_eq!(call(&mut ours, &["GET", "r1"]), bulk(&long));
    assert_eq!(call(&mut ours, &["GET", "r2"]), bulk("-7"));
    assert_eq!(call(&mut ours, &["GET", "r3"]), bulk("three"));
    match call(&mut ours, &["PTTL", "r3"]) {
        V::Int(ttl) => assert!((1..=100_000).contains(&ttl), "ttl {ttl}"),
        other => panic!("PTTL {other:?}"),
    }
    // And back, shardcask to shardcask's own RESTORE is the same path.
    assert_eq!(call(&mut theirs, &["SET", "r2", "x"]), ok());
    assert_eq!(
        call(
            &mut theirs,
            &["MIGRATE", "127.0.0.1", &our_port, "r2", "0", "5000"]
        ),
        V::Error(
            "ERR Target instance replied with error: BUSYKEY Target key name already exists."
                .into()
        )
    );
}

/// A cluster-mode redis-server owning every slot sends RESTORE-ASKING, not
/// RESTORE (Redis's migrateCommand, `server.cluster_enabled`): shardcask
/// restores it the same way.
#[test]
fn cluster_mode_redis_migrates_with_restore_asking() {
    if Redis::start().is_none() {
        return; // not installed (the harness says so)
    }
    let dir = common::data_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--cluster-enabled", "yes", "--appendonly", "no", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start redis-server");
    let result = std::panic::catch_unwind(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut theirs = Conn::open(port);
        assert_eq!(
            call(&mut theirs, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
            ok()
        );
        // The node takes the slots on its next cron tick: wait for SET to work.
        loop {
            match call(&mut theirs, &["SET", "{t}a", "moved"]) {
                V::Status(_) => break,
                other => assert!(std::time::Instant::now() < deadline, "SET: {other:?}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let server = Server::start(2, &[]);
        let mut ours = Conn::open(server.addr.port());
        let our_port = server.addr.port().to_string();
        let migrate = ["MIGRATE", "127.0.0.1", &our_port, "{t}a", "0", "5000"];
        assert_eq!(call(&mut theirs, &migrate), ok());
        assert_eq!(call(&mut ours, &["GET", "{t}a"]), bulk("moved"));
        let stats = call(&mut ours, &["INFO", "commandstats"]);
        let (V::Verbatim(_, text) | V::Bulk(text)) = stats else {
            panic!("INFO {stats:?}");
        };
        assert!(
            String::from_utf8_lossy(&text).contains("cmdstat_restore-asking:calls=1,"),
            "INFO commandstats shows no restore: {}",
            String::from_utf8_lossy(&text)
        );
    });
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}
