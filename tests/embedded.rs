//! Servers started in-process with `ServerBuilder` on ephemeral ports: no
//! process-wide state, so two run side by side in one test process, each
//! with its own client ids and connection limit; shutdown through the
//! handle drains, syncs, and the data is there on the next start.

use redis::Commands;
use shardcask::server::ServerBuilder;

fn data_dir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix("shardcask-embedded-")
        .tempdir_in(base)
        .unwrap()
}

fn client(addr: std::net::SocketAddr) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn two_servers_in_one_process() {
    let dir_a = data_dir();
    let dir_b = data_dir();
    let a = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir_a.path())
        .shards(2)
        .pin(false)
        .configure(|c| {
            c.stats_interval = 0;
            c.max_connections = 1;
        })
        .start()
        .expect("server A starts");
    let b = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir_b.path())
        .shards(1)
        .pin(false)
        .configure(|c| c.stats_interval = 0)
        .start()
        .expect("server B starts");
    assert_ne!(a.addr().port(), 0);
    assert_ne!(a.addr(), b.addr());
    assert_eq!(a.nr_shards(), 2);

    let mut con_a = client(a.addr());
    let mut con_b = client(b.addr());
    // Client ids are per server: each server's first connection is 1.
    let id_a: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con_a).unwrap();
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con_b).unwrap();
    assert_eq!((id_a, id_b), (1, 1));

    // --max-connections 1 on A: a second client is refused there, while B
    // (its own count) takes more.
    let mut refused = std::net::TcpStream::connect(a.addr()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut refused, &mut answer).unwrap();
    assert_eq!(answer, "-ERR max number of clients reached\r\n");
    let mut con_b2 = client(b.addr());
    let pong: String = redis::cmd("PING").query(&mut con_b2).unwrap();
    assert_eq!(pong, "PONG");

    for i in 0..100 {
        let _: () = con_a.set(format!("key{i}"), i).unwrap();
    }
    let _: () = con_b.set("only-in-b", "yes").unwrap();
    let missing: Option<String> = con_a.get("only-in-b").unwrap();
    assert_eq!(missing, None, "separate stores");
    drop((con_a, con_b, con_b2));

    a.shutdown();
    assert!(a.is_stopping());
    a.wait();
    // B is not affected by A's shutdown.
    let mut con_b = client(b.addr());
    let value: String = con_b.get("only-in-b").unwrap();
    assert_eq!(value, "yes");
    drop(con_b);
    drop(b); // stops and waits

    // A's data was synced: a new server on the same directory has it.
    let again = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir_a.path())
        .shards(2)
        .pin(false)
        .configure(|c| c.stats_interval = 0)
        .start()
        .expect("A restarts");
    let mut con = client(again.addr());
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 100);
    let value: i64 = con.get("key42").unwrap();
    assert_eq!(value, 42);
    // SHUTDOWN from a client stops an embedded server too.
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut con);
    again.wait();
}

#[test]
fn a_locked_directory_is_refused() {
    let dir = data_dir();
    let first = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir.path())
        .shards(1)
        .pin(false)
        .configure(|c| c.stats_interval = 0)
        .start()
        .unwrap();
    let second = ServerBuilder::new()
        .listen("127.0.0.1:0".parse().unwrap())
        .dir(dir.path())
        .shards(1)
        .pin(false)
        .start();
    let error = second.err().expect("the directory is locked");
    assert!(error.to_string().contains("locked"), "{error}");
    drop(first);
}
