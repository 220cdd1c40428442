//! Replies and their RESP2 encoding.
//!
//! A [`Reply`] is `Send` so that a shard can answer a request that came to it
//! over the mesh from another core.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// One reply to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// Appends the RESP2 encoding of this reply to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
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
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                out.put_u8(b'*');
                put_decimal(out, items.len() as i64);
                out.put_slice(b"\r\n");
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
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
        reply.encode(&mut out);
        out.to_vec()
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
