//! Tests of `execute` on a real store in a glommio executor, with a
//! controlled clock. Each test reads like a redis-cli session.

use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use glommio::{LocalExecutorBuilder, Placement};

use super::{ExecCtx, execute};
use crate::commands::Command;
use crate::commands::test_util::args;
use crate::protocol::Reply;
use crate::storage::{Store, StoreOptions, SyncMode};

/// The clock every test starts at (ms since the epoch).
const START_MS: u64 = 1_700_000_000_000;

/// One shard under test: a store and the context commands run with.
struct Shard {
    store: Rc<Store>,
    ctx: ExecCtx,
}

impl Shard {
    /// Parses and runs one command line; a parse error is returned as is.
    async fn run(&mut self, line: &str) -> Reply {
        self.run_args(args(line)).await
    }

    async fn run_args(&mut self, args: Vec<Bytes>) -> Reply {
        match Command::parse(args) {
            Ok(command) => execute(&self.store, command, &mut self.ctx).await,
            Err(error) => error,
        }
    }

    /// Moves the clock forward.
    fn advance(&mut self, ms: u64) {
        self.ctx.now_ms += ms;
    }

    /// Waits until every write so far is durable, so that later reads go to
    /// the log file rather than the write buffer.
    async fn sync(&mut self) {
        if let Some(ticket) = self.ctx.ticket.take() {
            self.store.wait_durable(ticket).await.unwrap();
        }
    }
}

/// Runs `test` against a fresh store in its own executor.
fn with_shard<F, Fut>(test: F)
where
    F: FnOnce(Shard) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("shard-0");
    let probe = dir.path().join("iopoll-probe");
    std::fs::write(&probe, vec![0u8; 4096]).unwrap();
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            prime_iopoll_probe(&probe).await;
            let store = Store::open(StoreOptions {
                dir: path,
                shard_id: 0,
                max_file_size: 1 << 20,
                sync: SyncMode::Never,
                ..Default::default()
            })
            .await
            .unwrap();
            let ctx = ExecCtx {
                now_ms: START_MS,
                max_value_size: 64,
                ticket: None,
                key_hash: None,
            };
            test(Shard { store, ctx }).await;
        })
        .unwrap()
        .join()
        .unwrap();
}

/// glommio decides once per device and thread whether DMA reads may use the
/// I/O-polling ring, by reading 512 bytes from the first DMA file opened. If
/// that file is empty (a fresh store's first log file) the read "succeeds"
/// without touching the device, polling is wrongly enabled, and every later
/// read fails with EOPNOTSUPP on devices without polled I/O (virtio here).
/// Opening a non-empty file first makes the probe honest.
async fn prime_iopoll_probe(path: &std::path::Path) {
    let file = glommio::io::DmaFile::open(path).await.unwrap();
    file.close().await.unwrap();
}

fn bulk(text: &str) -> Reply {
    Reply::bulk(text.as_bytes())
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn status(text: &'static str) -> Reply {
    Reply::Status(text.into())
}

fn err(text: &'static str) -> Reply {
    Reply::err(text)
}

#[test]
fn get_set_and_conditions() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("GET k").await, Reply::Nil);
        assert_eq!(s.run("SET k v1").await, Reply::OK);
        assert!(s.ctx.ticket.is_some(), "a write records its ticket");
        assert_eq!(s.run("GET k").await, bulk("v1"));
        s.sync().await;
        assert_eq!(s.run("GET k").await, bulk("v1"), "read back from the log");
        assert_eq!(s.run("SET k v2 NX").await, Reply::Nil);
        assert_eq!(s.run("SET x v XX").await, Reply::Nil);
        assert_eq!(s.run("EXISTS x").await, int(0));
        assert_eq!(s.run("SET k v2 XX").await, Reply::OK);
        assert_eq!(s.run("GET k").await, bulk("v2"));
        // GET returns the old value whether or not the write happens.
        assert_eq!(s.run("SET k v3 NX GET").await, bulk("v2"));
        assert_eq!(s.run("GET k").await, bulk("v2"));
        assert_eq!(s.run("SET k v3 GET").await, bulk("v2"));
        assert_eq!(s.run("SET y v GET").await, Reply::Nil);
        assert_eq!(s.run("GET y").await, bulk("v"));
        assert_eq!(s.run("SET z v XX GET").await, Reply::Nil);
        assert_eq!(s.run("EXISTS z").await, int(0));
        assert_eq!(s.run("SETNX n 1").await, int(1));
        assert_eq!(s.run("SETNX n 2").await, int(0));
        assert_eq!(s.run("GET n").await, bulk("1"));
        assert_eq!(s.run("GETSET n 3").await, bulk("1"));
        assert_eq!(s.run("GETSET m 3").await, Reply::Nil);
        assert_eq!(s.run("GET m").await, bulk("3"));
        assert_eq!(s.run("GETDEL m").await, bulk("3"));
        assert_eq!(s.run("GETDEL m").await, Reply::Nil);
        assert_eq!(s.run("EXISTS m").await, int(0));
        // Binary-safe values.
        let value = Bytes::from_static(b"a\0b\r\nc");
        let set = vec![
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"bin"),
            value.clone(),
        ];
        assert_eq!(s.run_args(set).await, Reply::OK);
        assert_eq!(s.run("GET bin").await, Reply::Bulk(value));
    });
}

#[test]
fn set_expiry_and_ttl() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("SET k v EX 10").await, Reply::OK);
        assert_eq!(s.run("TTL k").await, int(10));
        assert_eq!(s.run("PTTL k").await, int(10_000));
        assert_eq!(
            s.run("PEXPIRETIME k").await,
            int((START_MS + 10_000) as i64)
        );
        assert_eq!(
            s.run("EXPIRETIME k").await,
            int((START_MS / 1000 + 10) as i64)
        );
        s.advance(9_400);
        assert_eq!(s.run("PTTL k").await, int(600));
        assert_eq!(
            s.run("TTL k").await,
            int(1),
            "rounded to the nearest second"
        );
        s.advance(599);
        assert_eq!(s.run("PTTL k").await, int(1));
        assert_eq!(s.run("TTL k").await, int(0));
        s.advance(1);
        assert_eq!(s.run("GET k").await, Reply::Nil);
        assert_eq!(s.run("TTL k").await, int(-2));
        assert_eq!(s.run("PTTL k").await, int(-2));
        assert_eq!(s.run("EXPIRETIME k").await, int(-2));

        // KEEPTTL keeps it; a plain SET clears it.
        assert_eq!(s.run("SET k v PX 5000").await, Reply::OK);
        assert_eq!(s.run("SET k w KEEPTTL").await, Reply::OK);
        assert_eq!(s.run("PTTL k").await, int(5000));
        assert_eq!(s.run("GET k").await, bulk("w"));
        assert_eq!(s.run("SET k x KEEPTTL GET").await, bulk("w"));
        assert_eq!(s.run("PTTL k").await, int(5000));
        assert_eq!(s.run("SET k v").await, Reply::OK);
        assert_eq!(s.run("TTL k").await, int(-1));
        assert_eq!(s.run("EXPIRETIME k").await, int(-1));
        assert_eq!(s.run("SET fresh v KEEPTTL").await, Reply::OK);
        assert_eq!(s.run("TTL fresh").await, int(-1));

        // Absolute times; one in the past deletes the key.
        let at = START_MS + 100_000;
        assert_eq!(s.run(&format!("SET a v PXAT {at}")).await, Reply::OK);
        assert_eq!(s.run("PEXPIRETIME a").await, int(at as i64));
        assert_eq!(s.run("SET a v EXAT 1000").await, Reply::OK);
        assert_eq!(s.run("EXISTS a").await, int(0));
        assert_eq!(s.run("SET b v").await, Reply::OK);
        assert_eq!(s.run("SET b w PXAT 1 GET").await, bulk("v"));
        assert_eq!(s.run("EXISTS b").await, int(0));

        // NX succeeds on an expired key.
        assert_eq!(s.run("SET e v PX 10").await, Reply::OK);
        s.advance(10);
        assert_eq!(s.run("SET e w NX").await, Reply::OK);
        assert_eq!(s.run("GET e").await, bulk("w"));
        assert_eq!(s.run("SETNX e x").await, int(0));
    });
}

#[test]
fn getex_options() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("GETEX nope EX 5").await, Reply::Nil);
        assert_eq!(s.run("EXISTS nope").await, int(0));
        assert_eq!(s.run("SET k v").await, Reply::OK);
        assert_eq!(s.run("GETEX k").await, bulk("v"));
        assert_eq!(s.run("TTL k").await, int(-1));
        assert_eq!(s.run("GETEX k EX 5").await, bulk("v"));
        assert_eq!(s.run("PTTL k").await, int(5000));
        assert_eq!(s.run("GETEX k").await, bulk("v"));
        assert_eq!(
            s.run("PTTL k").await,
            int(5000),
            "plain GETEX keeps the TTL"
        );
        let at = START_MS + 7_000;
        assert_eq!(s.run(&format!("GETEX k PXAT {at}")).await, bulk("v"));
        assert_eq!(s.run("PTTL k").await, int(7000));
        assert_eq!(s.run("GETEX k PERSIST").await, bulk("v"));
        assert_eq!(s.run("TTL k").await, int(-1));
        assert_eq!(s.run("GETEX k PERSIST").await, bulk("v"));
        assert_eq!(s.run("GETEX k EXAT 1").await, bulk("v"));
        assert_eq!(s.run("GET k").await, Reply::Nil, "a past time deletes");
    });
}

#[test]
fn multi_key_commands() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("MSET a 1 b 2").await, Reply::OK);
        assert_eq!(
            s.run("MGET a x b a").await,
            Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2"), bulk("1")])
        );
        assert_eq!(s.run("MSETNX a 9 c 3").await, int(0));
        assert_eq!(s.run("EXISTS c").await, int(0));
        assert_eq!(s.run("GET a").await, bulk("1"));
        assert_eq!(s.run("MSETNX c 3 d 4").await, int(1));
        assert_eq!(
            s.run("MGET c d").await,
            Reply::Array(vec![bulk("3"), bulk("4")])
        );
        assert_eq!(s.run("EXISTS a a x b").await, int(3));
        assert_eq!(s.run("DEL a a x").await, int(1));
        assert_eq!(s.run("UNLINK b c").await, int(2));
        assert_eq!(s.run("EXISTS a b c d").await, int(1));
        assert_eq!(s.run("TYPE d").await, status("string"));
        assert_eq!(s.run("TYPE a").await, status("none"));
        assert_eq!(s.run("STRLEN d").await, int(1));
        assert_eq!(s.run("STRLEN a").await, int(0));
        // MSET clears TTLs.
        assert_eq!(s.run("SET t v EX 100").await, Reply::OK);
        assert_eq!(s.run("MSET t w").await, Reply::OK);
        assert_eq!(s.run("TTL t").await, int(-1));
        // Expired keys neither exist nor count as deleted.
        assert_eq!(s.run("SET gone v PX 1").await, Reply::OK);
        s.advance(1);
        assert_eq!(s.run("EXISTS gone").await, int(0));
        assert_eq!(s.run("DEL gone").await, int(0));
        assert_eq!(s.run("MSETNX gone back").await, int(1));
    });
}

#[test]
fn counters() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("INCR n").await, int(1));
        assert_eq!(s.run("INCRBY n 10").await, int(11));
        assert_eq!(s.run("DECR n").await, int(10));
        assert_eq!(s.run("DECRBY n 20").await, int(-10));
        assert_eq!(s.run("GET n").await, bulk("-10"));
        assert_eq!(s.run("SET n 9223372036854775806").await, Reply::OK);
        assert_eq!(s.run("INCR n").await, int(i64::MAX));
        assert_eq!(
            s.run("INCR n").await,
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(s.run("GET n").await, bulk("9223372036854775807"));
        assert_eq!(s.run("SET m -9223372036854775808").await, Reply::OK);
        assert_eq!(
            s.run("DECR m").await,
            err("ERR increment or decrement would overflow")
        );
        for bad in ["abc", "1.5", "007", "+1", ""] {
            let set = vec![
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"s"),
                Bytes::copy_from_slice(bad.as_bytes()),
            ];
            assert_eq!(s.run_args(set).await, Reply::OK);
            assert_eq!(
                s.run("INCR s").await,
                err("ERR value is not an integer or out of range"),
                "{bad:?}"
            );
        }
        // INCR keeps the TTL.
        assert_eq!(s.run("SET t 5 EX 100").await, Reply::OK);
        assert_eq!(s.run("INCRBY t 5").await, int(10));
        assert_eq!(s.run("TTL t").await, int(100));
        s.sync().await;
        assert_eq!(
            s.run("INCR t").await,
            int(11),
            "after the value hit the log"
        );
    });
}

#[test]
fn append_getrange_setrange() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("APPEND k Hello").await, int(5));
        assert_eq!(s.run("APPEND k _World").await, int(11));
        assert_eq!(s.run("GET k").await, bulk("Hello_World"));
        assert_eq!(s.run("APPEND empty ").await, int(0));
        assert_eq!(
            s.run("EXISTS empty").await,
            int(1),
            "APPEND creates the key"
        );

        assert_eq!(s.run("SET r This_is_a_string").await, Reply::OK);
        assert_eq!(s.run("GETRANGE r 0 3").await, bulk("This"));
        assert_eq!(s.run("GETRANGE r -3 -1").await, bulk("ing"));
        assert_eq!(s.run("GETRANGE r 0 -1").await, bulk("This_is_a_string"));
        assert_eq!(s.run("GETRANGE r 10 100").await, bulk("string"));
        assert_eq!(s.run("GETRANGE r -100 3").await, bulk("This"));
        assert_eq!(s.run("GETRANGE r -1 -5").await, bulk(""));
        assert_eq!(s.run("GETRANGE r 5 3").await, bulk(""));
        assert_eq!(s.run("GETRANGE r 100 200").await, bulk(""));
        assert_eq!(s.run("GETRANGE missing 0 -1").await, bulk(""));
        assert_eq!(s.run("GETRANGE empty 0 -1").await, bulk(""));

        assert_eq!(s.run("SET w Hello_World").await, Reply::OK);
        assert_eq!(s.run("SETRANGE w 6 Redis").await, int(11));
        assert_eq!(s.run("GET w").await, bulk("Hello_Redis"));
        assert_eq!(s.run("SETRANGE w 20 !").await, int(21));
        assert_eq!(s.run("GET w").await, bulk("Hello_Redis\0\0\0\0\0\0\0\0\0!"));
        assert_eq!(s.run("SETRANGE pad 3 x").await, int(4));
        assert_eq!(s.run("GET pad").await, bulk("\0\0\0x"));
        assert_eq!(s.run("SETRANGE none 5 ").await, int(0));
        assert_eq!(
            s.run("EXISTS none").await,
            int(0),
            "no key for an empty patch"
        );
        assert_eq!(s.run("SETRANGE w 100 ").await, int(21));

        // The size limit (64 bytes in these tests).
        let too_big = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        assert_eq!(s.run("SETRANGE big 60 12345").await, too_big);
        assert_eq!(s.run("EXISTS big").await, int(0));
        assert_eq!(s.run("SETRANGE big 59 12345").await, int(64));
        assert_eq!(s.run("APPEND big x").await, too_big);
        assert_eq!(s.run("STRLEN big").await, int(64));

        // APPEND and SETRANGE keep the TTL.
        assert_eq!(s.run("SET t a PX 500").await, Reply::OK);
        assert_eq!(s.run("APPEND t b").await, int(2));
        assert_eq!(s.run("SETRANGE t 0 c").await, int(2));
        assert_eq!(s.run("PTTL t").await, int(500));
        assert_eq!(s.run("GET t").await, bulk("cb"));
    });
}

#[test]
fn expire_family() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("EXPIRE nope 10").await, int(0));
        assert_eq!(s.run("SET k v").await, Reply::OK);
        assert_eq!(s.run("EXPIRE k 10").await, int(1));
        assert_eq!(s.run("PTTL k").await, int(10_000));
        assert_eq!(s.run("GET k").await, bulk("v"));
        assert_eq!(s.run("PEXPIRE k 500").await, int(1));
        assert_eq!(s.run("PTTL k").await, int(500));
        let at = START_MS / 1000 + 30;
        assert_eq!(s.run(&format!("EXPIREAT k {at}")).await, int(1));
        assert_eq!(s.run("TTL k").await, int(30));
        let at_ms = START_MS + 20_000;
        assert_eq!(s.run(&format!("PEXPIREAT k {at_ms}")).await, int(1));
        assert_eq!(s.run("PTTL k").await, int(20_000));

        // NX / XX / GT / LT.
        assert_eq!(s.run("EXPIRE k 50 NX").await, int(0));
        assert_eq!(s.run("EXPIRE k 50 XX").await, int(1));
        assert_eq!(s.run("EXPIRE k 40 GT").await, int(0));
        assert_eq!(s.run("EXPIRE k 60 GT").await, int(1));
        assert_eq!(s.run("EXPIRE k 70 LT").await, int(0));
        assert_eq!(s.run("EXPIRE k 45 LT").await, int(1));
        assert_eq!(s.run("TTL k").await, int(45));
        assert_eq!(s.run("SET p v").await, Reply::OK);
        assert_eq!(s.run("EXPIRE p 10 XX").await, int(0));
        assert_eq!(s.run("EXPIRE p 10 GT").await, int(0), "no TTL = infinite");
        assert_eq!(s.run("EXPIRE p 10 XX LT").await, int(0));
        assert_eq!(s.run("TTL p").await, int(-1));
        assert_eq!(s.run("EXPIRE p 10 LT").await, int(1));
        assert_eq!(s.run("EXPIRE p 5 XX LT").await, int(1));
        assert_eq!(s.run("TTL p").await, int(5));
        assert_eq!(s.run("SET q v").await, Reply::OK);
        assert_eq!(s.run("EXPIRE q 10 NX").await, int(1));
        assert_eq!(s.run("TTL q").await, int(10));

        // PERSIST.
        assert_eq!(s.run("PERSIST q").await, int(1));
        assert_eq!(s.run("TTL q").await, int(-1));
        assert_eq!(s.run("PERSIST q").await, int(0));
        assert_eq!(s.run("PERSIST nope").await, int(0));
        assert_eq!(s.run("GET q").await, bulk("v"));

        // Times in the past delete the key and answer 1.
        assert_eq!(s.run("EXPIRE q -1").await, int(1));
        assert_eq!(s.run("EXISTS q").await, int(0));
        assert_eq!(s.run("SET q v").await, Reply::OK);
        assert_eq!(s.run("PEXPIRE q 0").await, int(1));
        assert_eq!(s.run("EXISTS q").await, int(0));
        assert_eq!(s.run("SET q v").await, Reply::OK);
        assert_eq!(s.run("EXPIREAT q 1").await, int(1));
        assert_eq!(s.run("EXISTS q").await, int(0));
        // ... unless the condition says no.
        assert_eq!(s.run("SET q v").await, Reply::OK);
        assert_eq!(s.run("EXPIRE q -1 XX").await, int(0));
        assert_eq!(s.run("EXISTS q").await, int(1));

        // The key expires when the clock gets there.
        s.sync().await;
        assert_eq!(
            s.run("PEXPIRE q 100").await,
            int(1),
            "value read from the log"
        );
        s.advance(99);
        assert_eq!(s.run("GET q").await, bulk("v"));
        s.advance(1);
        assert_eq!(s.run("GET q").await, Reply::Nil);
        assert_eq!(s.run("EXPIRE q 100").await, int(0));
        assert_eq!(s.run("PERSIST q").await, int(0));
    });
}

#[test]
fn server_level_commands_are_refused() {
    with_shard(|mut s| async move {
        for line in ["PING", "DBSIZE", "KEYS *", "FLUSHALL", "SCAN 0"] {
            assert!(s.run(line).await.is_error(), "{line}");
        }
        assert_eq!(
            s.run("DBSIZE").await,
            Reply::err("ERR 'dbsize' is a server command and cannot run on a shard")
        );
    });
}

/// Read-modify-writes from many concurrent tasks on one shard must not lose
/// updates, even when their reads await the disk.
#[test]
fn concurrent_read_modify_writes_are_atomic() {
    with_shard(|mut s| async move {
        assert_eq!(s.run("SET n 0").await, Reply::OK);
        assert_eq!(s.run("SET a x").await, Reply::OK);
        s.sync().await;
        let store = s.store.clone();
        let mut tasks = Vec::new();
        for task_id in 0..20 {
            let store = store.clone();
            tasks.push(glommio::spawn_local(async move {
                let mut ctx = ExecCtx {
                    now_ms: START_MS,
                    max_value_size: 1 << 20,
                    ticket: None,
                    key_hash: None,
                };
                for round in 0..10 {
                    let incr = Command::parse(args("INCR n")).unwrap();
                    let reply = execute(&store, incr, &mut ctx).await;
                    assert!(!reply.is_error(), "{reply:?}");
                    let append = Command::parse(args("APPEND a y")).unwrap();
                    let reply = execute(&store, append, &mut ctx).await;
                    assert!(!reply.is_error(), "{reply:?}");
                    if (task_id + round) % 3 == 0 {
                        let ticket = ctx.ticket.take().unwrap();
                        store.wait_durable(ticket).await.unwrap();
                    }
                }
            }));
        }
        for task in tasks {
            task.await;
        }
        assert_eq!(s.run("GET n").await, bulk("200"));
        assert_eq!(s.run("STRLEN a").await, int(201));
    });
}

#[test]
fn storage_errors_become_redis_replies_in_one_place() {
    use super::{ErrorReply, ExecError};
    use crate::storage::{MergeError, ReadError, StorageError, WriteError};
    let text = |error: &dyn ErrorReply| match error.reply() {
        Reply::Error(text) => text.into_owned(),
        other => panic!("{other:?}"),
    };
    // A write over --max-disk: Redis's OOM code, however it reaches a reply.
    let oom = "OOM command not allowed when used disk space > 'max-disk'";
    assert_eq!(text(&WriteError::DiskFull), oom);
    assert_eq!(text(&ExecError::Write(WriteError::DiskFull)), oom);
    assert_eq!(
        text(&ExecError::Contention),
        "ERR too many concurrent writes to the key, try again"
    );
    let too_large = || StorageError::RecordTooLarge { len: 10, max: 5 };
    assert_eq!(
        text(&WriteError::Storage(too_large())),
        "ERR record of 10 bytes is larger than the limit of 5"
    );
    let corrupt = ReadError::Corrupt {
        file: "00000001.data".into(),
        offset: 4096,
        reason: "bad checksum".into(),
    };
    assert_eq!(
        text(&ExecError::Read(corrupt)),
        "ERR corrupt record in 00000001.data at offset 4096: bad checksum"
    );
    assert!(text(&WriteError::SlotFull).starts_with("ERR the key's hash slot holds 4 GiB"));
    assert!(
        text(&ExecError::Read(ReadError::Io(
            std::io::Error::from_raw_os_error(libc::EIO)
        )))
        .starts_with("ERR I/O error: ")
    );
    assert_eq!(
        text(&MergeError::Abandoned("another merge runs")),
        "ERR merge abandoned: another merge runs"
    );
    assert_eq!(
        text(&MergeError::Storage(StorageError::OutOfFileIds)),
        "ERR out of log file ids"
    );
}
