//! Replies and their RESP2/RESP3 encoding.
//!
//! A [`Reply`] says what a command answers (a map, a double, a null, ...);
//! the connection's [`Protocol`] (switched by `HELLO`) decides the bytes, as
//! Redis does: a RESP3 map is a flat array in RESP2, a double a bulk string,
//! a boolean an integer, a verbatim string a plain bulk string, and both
//! RESP2 nulls (`$-1`, `*-1`) are `_` in RESP3.
//!
//! A [`Reply`] is `Send` so that a shard can answer a request that came to it
//! over the mesh from another core; it is encoded only on the connection.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version a connection speaks (`HELLO 2|3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, every connection's start.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The version number HELLO and CLIENT INFO print (2 or 3).
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// One reply to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line.
    Status(Cow<'static, str>),
    /// `-ERR ...` error line; the text carries its own prefix (`ERR`, `WRONGTYPE`, `OOM`, ...).
    Error(Cow<'static, str>),
    /// `:123`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// `$-1`, the null bulk string.
    Nil,
    /// `*N` followed by N replies.
    Array(Vec<Reply>),
    /// `*-1`, the null array.
    NilArray,
    /// RESP3 map `%N` of key/value pairs (RESP2: a flat array of 2N).
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set `~N` (RESP2: an array).
    Set(Vec<Reply>),
    /// RESP3 double `,1.5` (RESP2: a bulk string), printed as Redis prints
    /// doubles (`%.17g`, `inf`, `-inf`).
    Double(f64),
    /// RESP3 boolean `#t`/`#f` (RESP2: `:1`/`:0`).
    Bool(bool),
    /// RESP3 big number `(123...` (RESP2: a bulk string).
    BigNumber(Bytes),
    /// RESP3 verbatim string `=N\r\ntxt:...` (RESP2: a bulk string of the text).
    Verbatim {
        /// Three-letter format: `txt` or `mkd`.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// RESP3 push `>N` (RESP2: an array).
    Push(Vec<Reply>),
}

impl Reply {
    /// `+OK`
    pub const OK: Reply = Reply::Status(Cow::Borrowed("OK"));

    /// An error reply with a static message such as `"ERR syntax error"`.
    pub const fn err(msg: &'static str) -> Reply {
        Reply::Error(Cow::Borrowed(msg))
    }

    /// An error reply with a formatted message.
    pub fn error(msg: String) -> Reply {
        Reply::Error(Cow::Owned(msg))
    }

    /// A bulk reply that copies `data`.
    pub fn bulk(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// A verbatim text reply (INFO, CLIENT INFO, CLIENT LIST).
    pub fn verbatim(text: impl Into<Bytes>) -> Reply {
        Reply::Verbatim {
            format: *b"txt",
            text: text.into(),
        }
    }

    /// Appends the encoding of this reply in `protocol` to `out`.
    pub fn encode(&self, out: &mut BytesMut, protocol: Protocol) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Status(s) => {
                out.put_u8(b'+');
                out.put_slice(s.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Error(s) => {
                out.put_u8(b'-');
                out.put_slice(s.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Integer(n) => {
                out.put_u8(b':');
                put_decimal(out, *n);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(data) => {
                out.reserve(data.len() + 16);
                out.put_u8(b'$');
                put_decimal(out, data.len() as i64);
                out.put_slice(b"\r\n");
                out.put_slice(data);
                out.put_slice(b"\r\n");
            }
            Reply::Nil | Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => put_aggregate(out, b'*', items, protocol),
            Reply::Set(items) => {
                put_aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol)
            }
            Reply::Push(items) => {
                put_aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol)
            }
            Reply::Map(pairs) => {
                if resp3 {
                    put_header(out, b'%', pairs.len());
                } else {
                    put_header(out, b'*', pairs.len() * 2);
                }
                for (key, value) in pairs {
                    key.encode(out, protocol);
                    value.encode(out, protocol);
                }
            }
            Reply::Double(value) => {
                let text = format_double(*value);
                if resp3 {
                    out.put_u8(b',');
                    out.put_slice(text.as_bytes());
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, text.as_bytes());
                }
            }
            Reply::Bool(value) => out.put_slice(match (resp3, value) {
                (true, true) => b"#t\r\n",
                (true, false) => b"#f\r\n",
                (false, true) => b":1\r\n",
                (false, false) => b":0\r\n",
            }),
            Reply::BigNumber(digits) => {
                if resp3 {
                    out.put_u8(b'(');
                    out.put_slice(digits);
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, digits);
                }
            }
            Reply::Verbatim { format, text } => {
                if resp3 {
                    out.reserve(text.len() + 24);
                    out.put_u8(b'=');
                    put_decimal(out, text.len() as i64 + 4);
                    out.put_slice(b"\r\n");
                    out.put_slice(format);
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, text);
                }
            }
        }
    }
}

/// `<kind>N\r\n`
fn put_header(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    put_decimal(out, len as i64);
    out.put_slice(b"\r\n");
}

fn put_aggregate(out: &mut BytesMut, kind: u8, items: &[Reply], protocol: Protocol) {
    put_header(out, kind, items.len());
    for item in items {
        item.encode(out, protocol);
    }
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    put_header(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// A double as Redis's `addReplyDouble` prints it: `inf`, `-inf`, else
/// C's `%.17g`.
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let mut buf = [0u8; 64];
    // SAFETY: the format takes exactly one double and snprintf writes at most
    // buf.len() bytes, NUL included.
    let len =
        unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), value) };
    let len = usize::try_from(len).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Writes `n` in decimal without going through `fmt`.
fn put_decimal(out: &mut BytesMut, n: i64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let negative = n < 0;
    let mut rest = n.unsigned_abs();
    loop {
        pos -= 1;
        digits[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.put_u8(b'-');
    }
    out.put_slice(&digits[pos..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(&mut out, Protocol::Resp2);
        out.to_vec()
    }

    fn encoded3(reply: Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(&mut out, Protocol::Resp3);
        out.to_vec()
    }

    #[test]
    fn resp3_kinds_and_their_resp2_fallbacks() {
        let map = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Integer(1))]);
        assert_eq!(encoded3(map.clone()), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encoded(map), b"*2\r\n$1\r\na\r\n:1\r\n");
        let set = Reply::Set(vec![Reply::Status("x".into())]);
        assert_eq!(encoded3(set.clone()), b"~1\r\n+x\r\n");
        assert_eq!(encoded(set), b"*1\r\n+x\r\n");
        assert_eq!(encoded3(Reply::Nil), b"_\r\n");
        assert_eq!(encoded3(Reply::NilArray), b"_\r\n");
        assert_eq!(encoded3(Reply::Double(1.5)), b",1.5\r\n");
        assert_eq!(encoded(Reply::Double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(encoded3(Reply::Double(f64::NEG_INFINITY)), b",-inf\r\n");
        assert_eq!(
            encoded(Reply::Double(0.1)),
            b"$19\r\n0.10000000000000001\r\n"
        );
        assert_eq!(encoded3(Reply::Bool(true)), b"#t\r\n");
        assert_eq!(encoded(Reply::Bool(false)), b":0\r\n");
        assert_eq!(
            encoded3(Reply::BigNumber(Bytes::from_static(b"123"))),
            b"(123\r\n"
        );
        assert_eq!(
            encoded(Reply::BigNumber(Bytes::from_static(b"123"))),
            b"$3\r\n123\r\n"
        );
        assert_eq!(encoded3(Reply::verbatim("hi")), b"=6\r\ntxt:hi\r\n");
        assert_eq!(encoded(Reply::verbatim("hi")), b"$2\r\nhi\r\n");
        assert_eq!(
            encoded3(Reply::Push(vec![Reply::Integer(1)])),
            b">1\r\n:1\r\n"
        );
        assert_eq!(
            encoded(Reply::Push(vec![Reply::Integer(1)])),
            b"*1\r\n:1\r\n"
        );
        // Nested aggregates carry the protocol down.
        assert_eq!(encoded3(Reply::Array(vec![Reply::Nil])), b"*1\r\n_\r\n");
    }

    #[test]
    fn encodes_every_kind() {
        assert_eq!(encoded(Reply::OK), b"+OK\r\n");
        assert_eq!(
            encoded(Reply::err("ERR syntax error")),
            b"-ERR syntax error\r\n"
        );
        assert_eq!(encoded(Reply::Integer(-42)), b":-42\r\n");
        assert_eq!(
            encoded(Reply::Integer(i64::MIN)),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(encoded(Reply::bulk(b"foo")), b"$3\r\nfoo\r\n");
        assert_eq!(encoded(Reply::bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(encoded(Reply::Nil), b"$-1\r\n");
        assert_eq!(encoded(Reply::NilArray), b"*-1\r\n");
        assert_eq!(
            encoded(Reply::Array(vec![Reply::Integer(1), Reply::Nil])),
            b"*2\r\n:1\r\n$-1\r\n"
        );
    }
}
