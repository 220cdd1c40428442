//! The Redis Cluster protocol with real cluster clients: the `redis` crate's
//! cluster client, redis-py's RedisCluster, `redis-cli -c` and
//! `redis-benchmark --cluster`, against one node, one node with shard
//! ports, and three server processes sharing one configuration file.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

use common::{Server, data_dir};
use redis::cluster::ClusterClient;

/// A port nothing listens on right now (the kernel's pick; the tiny race
/// until the server binds it is the usual one for such tests).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `count` consecutive free ports.
fn free_ports(count: u16) -> u16 {
    for _ in 0..200 {
        let base = free_port();
        if base.checked_add(count).is_none() {
            continue;
        }
        let held: Vec<_> = (base..base + count)
            .map_while(|port| TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.len() == count as usize {
            return base;
        }
    }
    panic!("no {count} consecutive free ports");
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "{name} is missing under CI: .ci/run should have installed it"
        );
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

fn raw(addr: SocketAddr) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn query_err(conn: &mut redis::Connection, cmd: &mut redis::Cmd) -> String {
    // The error's text as the server sent it (code and detail).
    let error = cmd.query::<redis::Value>(conn).unwrap_err();
    format!(
        "{} {}",
        error.code().unwrap_or("?"),
        error.detail().unwrap_or("")
    )
}

fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} not in INFO {section}: {info}"))
        .trim()
        .parse()
        .unwrap()
}

fn cluster_client(addrs: &[SocketAddr]) -> redis::cluster::ClusterConnection {
    ClusterClient::new(
        addrs
            .iter()
            .map(|a| format!("redis://{a}/"))
            .collect::<Vec<_>>(),
    )
    .unwrap()
    .get_connection()
    .unwrap()
}

#[test]
fn one_node_answers_cluster_commands_and_serves_cluster_clients() {
    let mut server = Server::start(2, &[]);
    let mut conn = server.client();
    let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut conn).unwrap();
    let my_id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut conn).unwrap();
    assert_eq!(my_id.len(), 40);
    let expected = redis::Value::Array(vec![redis::Value::Array(vec![
        redis::Value::Int(0),
        redis::Value::Int(16383),
        redis::Value::Array(vec![
            redis::Value::BulkString(b"127.0.0.1".to_vec()),
            redis::Value::Int(i64::from(server.addr.port())),
            redis::Value::BulkString(my_id.clone().into_bytes()),
            redis::Value::Array(vec![]),
        ]),
    ])]);
    assert_eq!(slots, expected);
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut conn).unwrap();
    assert_eq!(
        nodes,
        format!(
            "{my_id} 127.0.0.1:{}@0 myself,master - 0 0 1 connected 0-16383\n",
            server.addr.port()
        )
    );
    let keyslot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("foo")
        .query(&mut conn)
        .unwrap();
    assert_eq!(keyslot, 12182);
    assert_eq!(info_field(&mut conn, "cluster", "cluster_enabled"), 1);
    let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut conn).unwrap();
    assert!(info.starts_with("cluster_state:ok\r\n"), "{info}");

    // The cluster client of the `redis` crate, unchanged.
    let mut cluster = cluster_client(&[server.addr]);
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut cluster)
            .unwrap();
    }
    for i in 0..100 {
        let value: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut cluster)
            .unwrap();
        assert_eq!(value, i);
    }
    let slot = 12182; // "foo" and "{foo}..."
    for suffix in ["a", "b", "c"] {
        let _: () = redis::cmd("SET")
            .arg(format!("{{foo}}{suffix}"))
            .arg(1)
            .query(&mut conn)
            .unwrap();
    }
    let count: i64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query(&mut conn)
        .unwrap();
    assert_eq!(count, 3);
    let mut keys: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(slot)
        .arg(2)
        .query(&mut conn)
        .unwrap();
    assert_eq!(keys.len(), 2);
    keys.sort();
    assert!(keys.iter().all(|k| k.starts_with("{foo}")), "{keys:?}");
    let ok: String = redis::cmd("READONLY").query(&mut conn).unwrap();
    assert_eq!(ok, "OK");

    // The node id survives a restart (it is kept in the data directory).
    drop(conn);
    drop(cluster);
    server.stop();
    server.restart();
    let mut conn = server.client();
    let again: String = redis::cmd("CLUSTER").arg("MYID").query(&mut conn).unwrap();
    assert_eq!(again, my_id);
}

#[test]
fn shard_ports_send_each_key_to_its_core() {
    let base = free_ports(2);
    let server = Server::start(2, &["--shard-ports", &base.to_string()]);
    let shard_addr = |i: u16| SocketAddr::from(([127, 0, 0, 1], base + i));
    let mut shared = server.client();
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut shared)
        .unwrap();
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(lines.len(), 2, "{nodes}");
    assert!(lines[0].contains(&format!(" 127.0.0.1:{base}@0 master - ")));
    assert!(lines[0].ends_with(" connected 0-8191"), "{nodes}");
    assert!(lines[1].ends_with(" connected 8192-16383"), "{nodes}");
    // On a shard port, that shard is "myself" and has its own id.
    let mut shard1 = raw(shard_addr(1));
    let id1: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut shard1)
        .unwrap();
    assert!(lines[1].starts_with(&id1));
    let nodes1: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut shard1)
        .unwrap();
    assert!(nodes1.lines().nth(1).unwrap().contains("myself,master"));

    // "foo" is slot 12182: shard 1. Shard 0's port redirects it.
    let mut shard0 = raw(shard_addr(0));
    assert_eq!(
        query_err(&mut shard0, redis::cmd("GET").arg("foo")),
        format!("MOVED 12182 127.0.0.1:{}", base + 1)
    );
    // Keys of both shards in one command: CROSSSLOT on a shard port, but
    // served through the mesh on the shared port.
    assert_eq!(
        query_err(
            &mut shard0,
            redis::cmd("MSET").arg("foo").arg(1).arg("bar").arg(2)
        ),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    let _: () = redis::cmd("MSET")
        .arg("foo")
        .arg(1)
        .arg("bar")
        .arg(2)
        .query(&mut shared)
        .unwrap();
    let forwarded_before = info_field(&mut shared, "stats", "forwarded_out");

    // A cluster client seeded with the shared port finds the shard ports
    // and sends every key to its owner: nothing is forwarded.
    let mut cluster = cluster_client(&[server.addr]);
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut cluster)
            .unwrap();
        let value: i64 = redis::cmd("GET")
            .arg(format!("key:{i}"))
            .query(&mut cluster)
            .unwrap();
        assert_eq!(value, i);
    }
    assert_eq!(
        info_field(&mut shared, "stats", "forwarded_out"),
        forwarded_before
    );
    // And plain clients on the shared port still see every key.
    let value: i64 = redis::cmd("GET").arg("key:7").query(&mut shared).unwrap();
    assert_eq!(value, 7);

    // DBSIZE, KEYS and SCAN on a shard port see that shard's keys only, so
    // a cluster client summing them over the primaries counts each once.
    let total: u64 = redis::cmd("DBSIZE").query(&mut shared).unwrap();
    let sizes: Vec<u64> = [&mut shard0, &mut shard1]
        .into_iter()
        .map(|conn| redis::cmd("DBSIZE").query(conn).unwrap())
        .collect();
    assert_eq!(sizes[0] + sizes[1], total, "{sizes:?}");
    assert!(sizes[0] > 0 && sizes[1] > 0, "{sizes:?}");
    let keys0: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut shard0).unwrap();
    assert_eq!(keys0.len() as u64, sizes[0]);
    let mut scanned = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut shard1)
            .unwrap();
        scanned.extend(page);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    scanned.sort();
    scanned.dedup();
    assert_eq!(scanned.len() as u64, sizes[1]);
    assert!(scanned.iter().all(|k| !keys0.contains(k)));
}

/// Three nodes on loopback with one configuration file: node 0 runs two
/// shards with shard ports, nodes 1 and 2 one shard each.
struct Cluster {
    servers: Vec<Server>,
    addrs: Vec<SocketAddr>,
    _config_dir: tempfile::TempDir,
}

const IDS: [&str; 3] = [
    "0000000000000000000000000000000000000a00",
    "0000000000000000000000000000000000000b00",
    "0000000000000000000000000000000000000c00",
];
/// A piece of each shard's range (0-8191, 8192-16383) per node, so that
/// every node's shards all hold keys (the README's advice).
const RANGES: [&str; 3] = [
    "\"0-2730\", \"8192-10922\"",
    "\"2731-5461\", \"10923-13653\"",
    "\"5462-8191\", \"13654-16383\"",
];

/// A key whose slot satisfies `wanted` (asked of the server itself).
fn key_with_slot(conn: &mut redis::Connection, wanted: impl Fn(i64) -> bool) -> (String, i64) {
    (0..)
        .map(|i| format!("k{i}"))
        .find_map(|key| {
            let slot: i64 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&key)
                .query(conn)
                .unwrap();
            wanted(slot).then_some((key, slot))
        })
        .unwrap()
}

impl Cluster {
    fn start() -> Cluster {
        let config_dir = data_dir();
        let config_path = config_dir.path().join("cluster.toml");
        let addrs: Vec<SocketAddr> = (0..3)
            .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())))
            .collect();
        let shard_base = free_ports(2);
        let mut text = String::new();
        for i in 0..3 {
            text.push_str(&format!(
                "[[node]]\nid = \"{}\"\naddr = \"{}\"\nslots = [{}]\n",
                IDS[i], addrs[i], RANGES[i]
            ));
            if i == 0 {
                text.push_str(&format!("shard_ports = {shard_base}\nshards = 2\n"));
            }
            text.push('\n');
        }
        write_file(&config_path, &text);
        let servers = (0..3)
            .map(|i| {
                let shards = if i == 0 { 2 } else { 1 };
                Server::start(
                    shards,
                    &[
                        "--listen",
                        &addrs[i].to_string(),
                        "--cluster-config",
                        config_path.to_str().unwrap(),
                    ],
                )
            })
            .collect();
        Cluster {
            servers,
            addrs,
            _config_dir: config_dir,
        }
    }
}

fn write_file(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn three_nodes_serve_cluster_clients_unchanged() {
    let mut cluster = Cluster::start();
    let addrs = cluster.addrs.clone();

    // MOVED for a key of another node, CROSSSLOT across nodes.
    let mut node0 = raw(addrs[0]);
    let (of_node2, slot2) = key_with_slot(&mut node0, |s| s >= 13654);
    let (shard0_key, _) = key_with_slot(&mut node0, |s| s <= 2730);
    let (shard1_key, _) = key_with_slot(&mut node0, |s| (8192..=10922).contains(&s));
    assert_eq!(
        query_err(&mut node0, redis::cmd("SET").arg(&of_node2).arg(1)),
        format!("MOVED {slot2} {}", addrs[2])
    );
    assert_eq!(
        query_err(
            &mut node0,
            redis::cmd("MGET").arg(&shard0_key).arg(&of_node2)
        ),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    // A transaction touching another node's key: MOVED when queued, and
    // EXEC refuses the transaction (as Redis Cluster does).
    let ok: String = redis::cmd("MULTI").query(&mut node0).unwrap();
    assert_eq!(ok, "OK");
    let queued: String = redis::cmd("SET")
        .arg(&shard0_key)
        .arg(1)
        .query(&mut node0)
        .unwrap();
    assert_eq!(queued, "QUEUED");
    assert_eq!(
        query_err(&mut node0, redis::cmd("SET").arg(&of_node2).arg(1)),
        format!("MOVED {slot2} {}", addrs[2])
    );
    let exec = query_err(&mut node0, &mut redis::cmd("EXEC"));
    assert!(exec.starts_with("EXECABORT"), "{exec}");
    // Keys of node 0's two shards in one command: served on its shared port.
    let _: () = redis::cmd("MSET")
        .arg(&shard0_key)
        .arg(1)
        .arg(&shard1_key)
        .arg(2)
        .query(&mut node0)
        .unwrap();
    // Every node shows the same map: node 0 as its two shards.
    let mut node2 = raw(addrs[2]);
    let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut node2)
        .unwrap();
    assert_eq!(slots.len(), 6, "{slots:?}");
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut node2)
        .unwrap();
    assert_eq!(nodes.lines().count(), 4, "{nodes}");
    assert!(nodes.contains(&format!("{} {}@0 myself,master", IDS[2], addrs[2])));

    // The `redis` crate's cluster client.
    let mut client = cluster_client(&addrs);
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("user:{i}"))
            .arg(i)
            .query(&mut client)
            .unwrap();
    }
    let on_node: Vec<u64> = addrs
        .iter()
        .map(|&addr| {
            let mut conn = raw(addr);
            redis::cmd("DBSIZE").query(&mut conn).unwrap()
        })
        .collect();
    assert!(
        on_node.iter().all(|&n| n > 50),
        "keys per node: {on_node:?}"
    );

    // redis-cli -c follows MOVED.
    if tool("redis-cli") {
        let cli = |addr: SocketAddr, args: &[&str]| {
            let output = Command::new("redis-cli")
                .args(["-c", "-h", "127.0.0.1", "-p", &addr.port().to_string()])
                .args(args)
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        };
        assert_eq!(cli(addrs[1], &["set", "foo", "from-cli"]), "OK");
        assert_eq!(cli(addrs[0], &["get", "foo"]), "from-cli");
        assert_eq!(cli(addrs[1], &["get", "user:42"]), "42");
    }

    // redis-benchmark --cluster reads CLUSTER NODES and sends each key to
    // its owner; every node gets its share.
    if tool("redis-benchmark") {
        let before: Vec<u64> = addrs
            .iter()
            .map(|&addr| info_field(&mut raw(addr), "stats", "cmd_set"))
            .collect();
        let output = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &addrs[1].port().to_string()])
            .args(["--cluster", "-t", "set", "-n", "3000", "-r", "1000", "-q"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("SET"),
            "redis-benchmark: {output:?}"
        );
        let after: Vec<u64> = addrs
            .iter()
            .map(|&addr| info_field(&mut raw(addr), "stats", "cmd_set"))
            .collect();
        let total: u64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
        assert_eq!(
            total, 3000,
            "sets per node before {before:?} after {after:?}"
        );
        assert!(after.iter().zip(&before).all(|(a, b)| a > b));
    }

    // redis-py's RedisCluster (redis-py 8 speaks RESP3: HELLO 3).
    if tool("python3") && python_has_redis() {
        let script = format!(
            "import redis\n\
             from redis.cluster import RedisCluster, ClusterNode\n\
             rc = RedisCluster(startup_nodes=[ClusterNode('127.0.0.1', {})], decode_responses=True)\n\
             for i in range(100):\n    rc.set(f'py:{{i}}', i)\n\
             assert all(rc.get(f'py:{{i}}') == str(i) for i in range(100))\n\
             assert rc.get('user:7') == '7'\n\
             assert len(rc.get_primaries()) == 4, rc.get_primaries()\n\
             total = sum(redis.Redis(port=p).dbsize() for p in ({}, {}, {}))\n\
             summed = rc.dbsize(target_nodes=RedisCluster.PRIMARIES)\n\
             assert summed == total, (summed, total)\n\
             print('ok')\n",
            addrs[2].port(),
            addrs[0].port(),
            addrs[1].port(),
            addrs[2].port()
        );
        let output = Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "ok",
            "redis-py: {output:?}"
        );
    }

    // A node killed and restarted with the same configuration serves its
    // keys again.
    drop(client);
    cluster.servers[1].kill9();
    // The killed process's sockets on the port take a moment to go (they
    // still await their peers' last ACK): wait until the port binds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while TcpListener::bind(addrs[1]).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} stays taken",
            addrs[1]
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cluster.servers[1].restart_same_addr();
    let mut client = cluster_client(&addrs);
    for i in 0..300 {
        let value: i64 = redis::cmd("GET")
            .arg(format!("user:{i}"))
            .query(&mut client)
            .unwrap();
        assert_eq!(value, i);
    }
}

fn python_has_redis() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import redis.cluster"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "redis-py is missing under CI: .ci/run should have installed it"
        );
        eprintln!("SKIPPED: redis-py is not installed (pip install redis)");
    }
    found
}

#[test]
fn configuration_reloads_on_command_and_sighup() {
    let config_dir = data_dir();
    let path = config_dir.path().join("cluster.toml");
    let me = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let other = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let write = |my_slots: &str, other_slots: &str| {
        write_file(
            &path,
            &format!(
                "[[node]]\nid = \"{}\"\naddr = \"{me}\"\nslots = [{my_slots}]\n\n\
                 [[node]]\nid = \"{}\"\naddr = \"{other}\"\nslots = [{other_slots}]\n",
                IDS[0], IDS[1]
            ),
        )
    };
    write("\"0-8191\"", "\"8192-16383\"");
    let server = Server::start(
        1,
        &[
            "--listen",
            &me.to_string(),
            "--cluster-config",
            path.to_str().unwrap(),
        ],
    );
    let mut conn = server.client();
    assert_eq!(
        query_err(&mut conn, redis::cmd("GET").arg("foo")),
        format!("MOVED 12182 {other}")
    );
    // Give this node every slot; CLUSTER RELOAD picks it up.
    write("\"0-16383\"", "");
    let ok: String = redis::cmd("CLUSTER")
        .arg("RELOAD")
        .query(&mut conn)
        .unwrap();
    assert_eq!(ok, "OK");
    let _: () = redis::cmd("SET")
        .arg("foo")
        .arg(1)
        .query(&mut conn)
        .unwrap();
    // A broken file is refused and the map in use stays.
    write_file(&path, "[[node]\n");
    let error = query_err(&mut conn, redis::cmd("CLUSTER").arg("RELOAD"));
    assert!(error.contains("not valid TOML"), "{error}");
    let value: i64 = redis::cmd("GET").arg("foo").query(&mut conn).unwrap();
    assert_eq!(value, 1);
    // SIGHUP reloads too: slot 12182 goes back to the other node.
    write("\"0-8191\"", "\"8192-16383\"");
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(server.pid() as i32, libc::SIGHUP);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match redis::cmd("GET")
            .arg("foo")
            .query::<redis::Value>(&mut conn)
        {
            Err(e) if e.code() == Some("MOVED") => break,
            _ if std::time::Instant::now() > deadline => panic!("SIGHUP did not reload"),
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    // Slots no node owns: CLUSTERDOWN.
    write("\"0-8191\"", "");
    let _: String = redis::cmd("CLUSTER")
        .arg("RELOAD")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        query_err(&mut conn, redis::cmd("GET").arg("foo")),
        "CLUSTERDOWN Hash slot not served"
    );
}
