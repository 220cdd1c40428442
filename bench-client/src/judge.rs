//! What a reply means for its request: the counters it moves (hits,
//! misses, error replies, `--verify` checks), and `-MOVED` followed to the
//! node it names.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Instant;

use crate::args::Config;
use crate::ctx::{InFlight, ThreadCtx};
use crate::keys::write_key;
use crate::resp::{self, Reply, ReplyParser};
use crate::stats::{Op, ThreadStats};
use crate::value;

/// Sends a request that got `-MOVED` again, to the address named, on a
/// blocking connection of its own, and records its reply (latency from the
/// first send). A SET is sent again with a fresh value. The thread's other
/// connections wait meanwhile: the slot map is not re-read, so a redirect
/// means a map that changed under the run, rare enough to pay for this way.
pub fn follow_moved(
    ctx: &mut ThreadCtx,
    request: &InFlight,
    target: &str,
    expect_presence: bool,
    key_buf: &mut Vec<u8>,
) {
    ctx.stats.moved += 1;
    let config = ctx.config.clone();
    key_buf.clear();
    write_key(key_buf, &config.key_prefix, request.key_index);
    let mut out = Vec::with_capacity(request.value_len + 64);
    match request.op {
        Op::Get => resp::encode_get(&mut out, key_buf),
        Op::Del => resp::encode_del(&mut out, key_buf),
        Op::Set => {
            resp::encode_set_start(&mut out, key_buf, request.value_len);
            if config.verify {
                let version = ctx.take_version();
                value::append_verified(&mut out, &ctx.pattern, key_buf, version, request.value_len);
            } else {
                value::append_plain(&mut out, &ctx.pattern, 0, request.value_len);
            }
            resp::encode_set_end(&mut out);
        }
    }
    let capture = if config.verify {
        config.value_size.max
    } else {
        0
    };
    let mut parser = ReplyParser::new(capture);
    let stats = &mut ctx.stats;
    let answered = (|| -> io::Result<()> {
        let addr: SocketAddr = target
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
        let mut stream = TcpStream::connect_timeout(&addr, config.timeout)?;
        stream.set_read_timeout(Some(config.timeout))?;
        stream.set_write_timeout(Some(config.timeout))?;
        stream.write_all(&out)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            let mut done = false;
            parser
                .feed(&buf[..n], |reply| {
                    done = true;
                    let latency_ns = Instant::now()
                        .saturating_duration_since(request.intended)
                        .as_nanos() as u64;
                    let (payload, error) =
                        judge_reply(stats, &config, expect_presence, key_buf, request, reply);
                    stats.record(request.op, latency_ns, payload, error);
                })
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if done {
                return Ok(());
            }
        }
    })();
    if let Err(error) = answered {
        stats.lose_requests(1);
        stats.note_error(|| format!("following MOVED to {target}: {error}"));
    }
}

/// Checks one reply against its request; returns (payload bytes, is error).
pub fn judge_reply(
    stats: &mut ThreadStats,
    config: &Config,
    expect_presence: bool,
    key_buf: &mut Vec<u8>,
    request: &InFlight,
    reply: Reply<'_>,
) -> (usize, bool) {
    match (request.op, reply) {
        (_, Reply::Error(text)) => {
            stats.error_replies += 1;
            stats.note_error(|| {
                format!("{}: -{}", request.op.name(), String::from_utf8_lossy(text))
            });
            (0, true)
        }
        (Op::Set, Reply::Status(_)) => (request.value_len, false),
        (Op::Del, Reply::Integer(_)) => (0, false),
        (Op::Get, Reply::Nil) => {
            stats.get_misses += 1;
            if expect_presence {
                key_buf.clear();
                write_key(key_buf, &config.key_prefix, request.key_index);
                stats.note_mismatch(|| {
                    format!(
                        "{}: nil after preload (no DELs in this run)",
                        String::from_utf8_lossy(key_buf)
                    )
                });
            }
            (0, false)
        }
        (Op::Get, Reply::Bulk { len, data }) => {
            stats.get_hits += 1;
            if config.verify {
                key_buf.clear();
                write_key(key_buf, &config.key_prefix, request.key_index);
                let sizes = config.value_size;
                let verdict = match data {
                    Some(_) if len < sizes.min || len > sizes.max => {
                        Err(value::VerifyError::BadLength)
                    }
                    Some(bytes) => value::verify(key_buf, bytes).map(|_| ()),
                    None => Err(value::VerifyError::BadLength),
                };
                match verdict {
                    Ok(()) => stats.verified += 1,
                    Err(error) => stats.note_mismatch(|| {
                        format!(
                            "{} ({len} bytes): {error}",
                            String::from_utf8_lossy(key_buf)
                        )
                    }),
                }
            }
            (len, false)
        }
        (op, other) => {
            stats.unexpected_replies += 1;
            stats.note_error(|| format!("{}: unexpected reply {other:?}", op.name()));
            (0, true)
        }
    }
}
