//! MIGRATE's transfer, run by [`super::computed`] while every key it names
//! is latched on its owning shard (so no client sees a key on both servers
//! or on neither from here): read the keys, connect to the target with the
//! timeout, send AUTH/SELECT and one RESTORE per key (its DUMP payload and
//! remaining TTL), read one reply line each, delete the keys the target
//! acknowledged (unless COPY), then reply as Redis 7.0's `migrateCommand`
//! does: `+OK`, `+NOKEY` when no key exists, `IOERR ...` on a connection
//! failure or timeout, `ERR Target instance replied with error: ...`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use glommio::net::TcpStream;

use super::fanout::call_shard;
use crate::commands::exec::computed::RawWrite;
use crate::commands::exec::dump::dump;
use crate::commands::{Migrate, Outgoing};
use crate::keyspace::shard_for;
use crate::protocol::Reply;
use crate::router::{ShardRequest, ShardResponse};
use crate::shard::{Shard, now_ms};

/// Redis reads each reply line into a buffer of this size.
const MAX_LINE: u64 = 1024;

/// Moves `migrate`'s keys (`by_shard`: each shard's share, already latched).
pub async fn transfer(shard: &Rc<Shard>, migrate: &Migrate, by_shard: &[Vec<Bytes>]) -> Reply {
    let mut found: Vec<(Bytes, (Bytes, u64))> = Vec::new();
    for (target, owned) in by_shard.iter().enumerate() {
        if owned.is_empty() {
            continue;
        }
        match call_shard(shard, target, ShardRequest::ReadRaw(owned.clone())).await {
            Some(ShardResponse::Raw(values)) => found.extend(
                owned
                    .iter()
                    .cloned()
                    .zip(values)
                    .filter_map(|(key, value)| Some((key, value?))),
            ),
            Some(ShardResponse::Replies(mut errors)) if !errors.is_empty() => {
                return errors.swap_remove(0);
            }
            _ => return Reply::err("ERR a shard did not answer"),
        }
    }
    // In argument order, as Redis sends them (a key named twice, twice).
    let now = now_ms();
    let present: Vec<(&Bytes, Bytes, u64)> = migrate
        .keys
        .iter()
        .filter_map(|key| {
            let (_, (value, expire_at)) = found.iter().find(|(owned, _)| owned == key)?;
            let ttl = if *expire_at == 0 {
                0
            } else {
                expire_at.checked_sub(now)?.max(1)
            };
            Some((key, dump(value), ttl))
        })
        .collect();
    if present.is_empty() {
        return Reply::Status("NOKEY".into());
    }
    let outgoing: Vec<Outgoing<'_>> = present
        .iter()
        .map(|(key, payload, ttl_ms)| Outgoing {
            key,
            payload,
            ttl_ms: *ttl_ms,
        })
        .collect();
    let request = migrate.request(&outgoing);
    let timeout = Duration::from_millis(migrate.timeout_ms);
    let Some(stream) = connect(migrate, timeout).await else {
        return Reply::err("IOERR error or timeout connecting to the client");
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut stream = BufReader::new(stream);
    if stream.get_mut().write_all(&request).await.is_err()
        || stream.get_mut().flush().await.is_err()
    {
        return Reply::err("IOERR error or timeout writing to target instance");
    }
    // The first error among AUTH's, SELECT's and the RESTOREs' replies is
    // the one reported; a key is deleted only once its RESTORE succeeded.
    let mut error: Option<String> = None;
    for _ in 0..migrate.preamble_replies() {
        match read_line(&mut stream).await {
            Some(line) => {
                if error.is_none() {
                    error = target_error(&line);
                }
            }
            None => return Reply::err("IOERR error or timeout reading to target instance"),
        }
    }
    let mut moved: Vec<Vec<RawWrite>> = vec![Vec::new(); shard.nr_shards];
    let mut socket_error = false;
    for (key, _, _) in &present {
        let Some(line) = read_line(&mut stream).await else {
            socket_error = true;
            break;
        };
        match (&error, target_error(&line)) {
            (None, Some(text)) => error = Some(text),
            (None, None) if !migrate.copy => {
                moved[shard_for(key, shard.nr_shards)].push(((*key).clone(), None));
            }
            _ => {}
        }
    }
    for (target, writes) in moved.into_iter().enumerate() {
        if writes.is_empty() {
            continue;
        }
        match call_shard(shard, target, ShardRequest::WriteRaw(writes)).await {
            Some(ShardResponse::Replies(replies)) => {
                if let Some(failed) = replies.into_iter().find(Reply::is_error) {
                    return failed;
                }
            }
            _ => return Reply::err("ERR a shard did not answer"),
        }
    }
    match error {
        Some(text) => Reply::error(format!("ERR Target instance replied with error: {text}")),
        None if socket_error => Reply::err("IOERR error or timeout reading to target instance"),
        None => Reply::OK,
    }
}

/// Resolves and connects within `timeout`; `None` for any failure (an
/// unresolvable host or a port `atoi` would not read included).
async fn connect(migrate: &Migrate, timeout: Duration) -> Option<TcpStream> {
    let host = std::str::from_utf8(&migrate.host).ok()?;
    let port: u16 = std::str::from_utf8(&migrate.port).ok()?.parse().ok()?;
    let addr: SocketAddr = (host, port).to_socket_addrs().ok()?.next()?;
    TcpStream::connect_timeout(addr, timeout).await.ok()
}

/// One reply line (without CRLF), at most [`MAX_LINE`] bytes read; `None`
/// on an error, a timeout or a closed connection.
async fn read_line(stream: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let read = (&mut *stream)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await
        .ok()?;
    if read == 0 {
        return None;
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Some(line)
}

/// The text of an error reply line (`-` stripped), `None` for any other.
fn target_error(line: &[u8]) -> Option<String> {
    let text = line.strip_prefix(b"-")?;
    Some(String::from_utf8_lossy(text).into_owned())
}
