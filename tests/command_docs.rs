//! COMMAND DOCS agrees with a real redis-server (7.0) for every command we
//! serve that Redis has: summary, since, group, complexity, doc flags,
//! history and the whole argument tree, over RESP3 and RESP2. A container
//! lists the sub-commands we serve, each as Redis documents it.

mod common;

use common::Server;
use common::redis_server::{Conn, Redis, V};

fn ask(conn: &mut Conn, args: &[&str]) -> V {
    conn.send(&[args.iter().map(|arg| arg.as_bytes().to_vec()).collect()]);
    conn.read()
}

fn name_of(value: &V) -> String {
    match value {
        V::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("not a name: {other:?}"),
    }
}

/// The one entry of a `COMMAND DOCS name` map reply (RESP3), if any.
fn only_entry(reply: V) -> Option<Vec<(V, V)>> {
    match reply {
        V::Map(mut entries) if entries.len() == 1 => match entries.pop() {
            Some((_, V::Map(fields))) => Some(fields),
            other => panic!("not a docs entry: {other:?}"),
        },
        V::Map(entries) if entries.is_empty() => None,
        other => panic!("not a docs map: {other:?}"),
    }
}

fn take_field(fields: &mut Vec<(V, V)>, name: &str) -> Option<V> {
    let position = fields.iter().position(|(key, _)| name_of(key) == name)?;
    Some(fields.remove(position).1)
}

#[test]
fn command_docs_agree_with_redis() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let server = Server::start(2, &[]);
    let mut theirs = Conn::open(redis.port);
    let mut ours = Conn::open(server.addr.port());
    for conn in [&mut theirs, &mut ours] {
        assert!(matches!(ask(conn, &["HELLO", "3"]), V::Map(_)));
    }
    let V::Array(names) = ask(&mut ours, &["COMMAND", "LIST"]) else {
        panic!("COMMAND LIST is not an array");
    };
    let names: Vec<String> = names.iter().map(name_of).collect();
    let (mut compared, mut with_arguments, mut subcommands) = (0, 0, 0);
    for name in &names {
        let mine = only_entry(ask(&mut ours, &["COMMAND", "DOCS", name]))
            .unwrap_or_else(|| panic!("no docs for {name}"));
        let Some(mut redis_docs) = only_entry(ask(&mut theirs, &["COMMAND", "DOCS", name])) else {
            continue; // ours alone (MERGE)
        };
        let mut mine = mine;
        if let Some(V::Map(my_subs)) = take_field(&mut mine, "subcommands") {
            let Some(V::Map(redis_subs)) = take_field(&mut redis_docs, "subcommands") else {
                panic!("{name}: redis lists no sub-commands");
            };
            assert!(!my_subs.is_empty());
            for (sub, docs) in my_subs {
                let expected = redis_subs
                    .iter()
                    .find(|(key, _)| *key == sub)
                    .unwrap_or_else(|| panic!("redis has no {}", name_of(&sub)));
                assert_eq!(docs, expected.1, "COMMAND DOCS of {}", name_of(&sub));
                subcommands += 1;
            }
        }
        if mine.iter().any(|(key, _)| name_of(key) == "arguments") {
            with_arguments += 1;
        }
        assert_eq!(mine, redis_docs, "COMMAND DOCS {name}");
        compared += 1;
    }
    assert!(compared >= 80, "only {compared} commands compared");
    assert!(with_arguments >= 55, "only {with_arguments} with arguments");
    assert!(subcommands >= 35, "only {subcommands} sub-commands");

    // RESP2: the same, flattened; the commands without sub-commands whole.
    let mut theirs = Conn::open(redis.port);
    let mut ours = Conn::open(server.addr.port());
    for name in [
        "set", "getex", "bitfield", "lcs", "restore", "substr", "scan",
    ] {
        let expected = ask(&mut theirs, &["COMMAND", "DOCS", name]);
        assert!(matches!(&expected, V::Array(items) if items.len() == 2));
        assert_eq!(
            ask(&mut ours, &["COMMAND", "DOCS", name]),
            expected,
            "{name}"
        );
    }
}

/// The sub-command entries (10th field) of a `COMMAND INFO name` reply.
fn info_of(reply: V) -> Vec<V> {
    match reply {
        V::Array(mut entries) if entries.len() == 1 => match entries.pop() {
            Some(V::Array(fields)) if fields.len() == 10 => fields,
            other => panic!("not a COMMAND INFO entry: {other:?}"),
        },
        other => panic!("not a COMMAND INFO reply: {other:?}"),
    }
}

#[test]
fn a_containers_command_info_lists_its_served_subcommands_as_redis_does() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let server = Server::start(2, &[]);
    let mut theirs = Conn::open(redis.port);
    let mut ours = Conn::open(server.addr.port());
    for conn in [&mut theirs, &mut ours] {
        assert!(matches!(ask(conn, &["HELLO", "3"]), V::Map(_)));
    }
    let mut compared = 0;
    for name in [
        "client", "cluster", "command", "config", "latency", "memory", "object", "slowlog",
    ] {
        let mut mine = info_of(ask(&mut ours, &["COMMAND", "INFO", name]));
        let mut expected = info_of(ask(&mut theirs, &["COMMAND", "INFO", name]));
        let (V::Array(my_subs), V::Array(redis_subs)) =
            (mine.pop().unwrap(), expected.pop().unwrap())
        else {
            panic!("{name}: sub-commands are not arrays");
        };
        assert_eq!(mine, expected, "COMMAND INFO {name}");
        assert!(!my_subs.is_empty(), "{name} lists no sub-command");
        for sub in my_subs {
            let V::Array(fields) = &sub else {
                panic!("{sub:?}")
            };
            let found = redis_subs
                .iter()
                .find(|theirs| matches!(theirs, V::Array(t) if t[0] == fields[0]))
                .unwrap_or_else(|| panic!("redis has no {}", name_of(&fields[0])));
            assert_eq!(&sub, found, "COMMAND INFO of {}", name_of(&fields[0]));
            compared += 1;
        }
    }
    assert!(compared >= 35, "only {compared} sub-commands compared");

    // A cluster client routes a sub-command by its key spec.
    common::run_redis_py(
        &server,
        "import os\n\
         from redis.cluster import RedisCluster, ClusterNode\n\
         rc = RedisCluster(startup_nodes=[ClusterNode('127.0.0.1', int(os.environ['PORT']))], decode_responses=True)\n\
         rc.set('k', 'hello')\n\
         assert rc.object('encoding', 'k') == 'embstr', rc.object('encoding', 'k')\n\
         assert rc.memory_usage('k') > 0\n\
         assert rc.sort('nokey') == []\n",
    );
}
