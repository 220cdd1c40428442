//! RESP2 on the client side: request encoding into a reusable buffer, and a
//! streaming reply parser.
//!
//! The parser is a state machine fed whatever bytes a read returned, so a
//! reply may be split anywhere across reads and nothing is re-scanned. Bulk
//! payloads are only copied when the caller asked for them (`--verify`) and
//! only up to a limit: a header's claimed length is never used to allocate.

use crate::keys::write_u64;

/// Appends `*2 GET key`.
#[inline]
pub fn encode_get(out: &mut Vec<u8>, key: &[u8]) {
    out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
    encode_bulk(out, key);
}

/// Appends `*2 DEL key`.
#[inline]
pub fn encode_del(out: &mut Vec<u8>, key: &[u8]) {
    out.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n");
    encode_bulk(out, key);
}

/// Appends `*3 SET key` and the header of a value of `value_len` bytes; the
/// caller appends the value bytes and then calls [`encode_set_end`].
#[inline]
pub fn encode_set_start(out: &mut Vec<u8>, key: &[u8], value_len: usize) {
    out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
    encode_bulk(out, key);
    out.push(b'$');
    write_u64(out, value_len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Ends a SET begun with [`encode_set_start`].
#[inline]
pub fn encode_set_end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string.
#[inline]
pub fn encode_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    write_u64(out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends a command made of bulk strings (used for INFO and the like).
pub fn encode_command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'*');
    write_u64(out, parts.len() as u64);
    out.extend_from_slice(b"\r\n");
    for part in parts {
        encode_bulk(out, part);
    }
}

/// One complete top-level reply. Text and payload borrow the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+text` (text cut at [`MAX_LINE`] bytes).
    Status(&'a [u8]),
    /// `-text` (text cut at [`MAX_LINE`] bytes).
    Error(&'a [u8]),
    /// `:n`.
    Integer(i64),
    /// `$-1` or `*-1`.
    Nil,
    /// `$len` + payload; `data` is set when the payload was captured.
    Bulk {
        /// Payload length.
        len: usize,
        /// Payload, when capturing was on and it fit the limit.
        data: Option<&'a [u8]>,
    },
    /// A whole array of `len` elements (the elements are skipped).
    Array {
        /// Number of elements.
        len: usize,
    },
}

/// The stream is not RESP; the connection cannot be trusted any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

/// Longest status/error text kept, and longest length header accepted.
pub const MAX_LINE: usize = 512;
/// Deepest array nesting accepted.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a type byte.
    Start,
    /// Reading the rest of a line after type byte `kind`.
    Line { kind: u8 },
    /// Reading a bulk payload.
    BulkBody { remaining: usize },
    /// Expecting the `\r\n` after a payload; `seen` bytes of it read.
    BulkEnd { seen: u8 },
}

/// Streaming RESP2 reply parser.
#[derive(Debug)]
pub struct ReplyParser {
    state: State,
    /// Current line without its type byte (cut at [`MAX_LINE`]).
    line: Vec<u8>,
    /// Bytes of the current line seen so far, kept or not.
    line_total: usize,
    /// The last byte of the current line seen so far was `\r`.
    line_ends_cr: bool,
    /// Largest payload copied out; 0 turns capturing off.
    capture_limit: usize,
    /// Captured payload of the current top-level bulk.
    bulk: Vec<u8>,
    /// Length of the current bulk.
    bulk_len: usize,
    /// The current bulk is being captured.
    capturing: bool,
    /// Elements still expected by each open array, innermost last.
    open_arrays: Vec<usize>,
    /// Length of the outermost open array.
    top_array_len: usize,
}

/// What finished an element.
enum Done {
    Status,
    Error,
    Integer(i64),
    Nil,
    Bulk,
    EmptyArray,
}

impl ReplyParser {
    /// A parser that hands out bulk payloads of up to `capture_limit` bytes
    /// (0: never; lengths are still reported).
    pub fn new(capture_limit: usize) -> ReplyParser {
        ReplyParser {
            state: State::Start,
            line: Vec::with_capacity(MAX_LINE),
            line_total: 0,
            line_ends_cr: false,
            capture_limit,
            bulk: Vec::new(),
            bulk_len: 0,
            capturing: false,
            open_arrays: Vec::with_capacity(MAX_DEPTH),
            top_array_len: 0,
        }
    }

    /// Forgets any partial reply (after a reconnect).
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.line.clear();
        self.line_total = 0;
        self.line_ends_cr = false;
        self.open_arrays.clear();
        self.capturing = false;
    }

    /// True between replies.
    pub fn is_idle(&self) -> bool {
        self.state == State::Start && self.open_arrays.is_empty()
    }

    /// Consumes all of `data`, calling `on_reply` for every complete
    /// top-level reply, in order. Returns the number of replies.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut on_reply: impl FnMut(Reply<'_>),
    ) -> Result<usize, ProtocolError> {
        let mut nr_replies = 0;
        while !data.is_empty() {
            // Most replies arrive whole: take them without the state machine.
            if self.state == State::Start
                && self.open_arrays.is_empty()
                && let Some((reply, used)) = whole_reply(data, self.capture_limit)
            {
                nr_replies += 1;
                on_reply(reply);
                data = &data[used..];
                continue;
            }
            let done = match self.state {
                State::Start => {
                    let kind = data[0];
                    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
                        return Err(ProtocolError(format!("unexpected type byte 0x{kind:02x}")));
                    }
                    data = &data[1..];
                    self.line.clear();
                    self.line_total = 0;
                    self.line_ends_cr = false;
                    self.state = State::Line { kind };
                    None
                }
                State::Line { kind } => {
                    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
                        self.push_line(data);
                        data = &[];
                        continue;
                    };
                    self.push_line(&data[..newline]);
                    data = &data[newline + 1..];
                    if !self.line_ends_cr {
                        return Err(ProtocolError("line not ended by CRLF".into()));
                    }
                    // The `\r` was kept unless the line overflowed.
                    if self.line_total <= MAX_LINE {
                        self.line.pop();
                    }
                    self.state = State::Start;
                    self.end_line(kind)?
                }
                State::BulkBody { remaining } => {
                    let take = remaining.min(data.len());
                    if self.capturing {
                        self.bulk.extend_from_slice(&data[..take]);
                    }
                    data = &data[take..];
                    self.state = if remaining == take {
                        State::BulkEnd { seen: 0 }
                    } else {
                        State::BulkBody {
                            remaining: remaining - take,
                        }
                    };
                    None
                }
                State::BulkEnd { seen } => {
                    let expected = if seen == 0 { b'\r' } else { b'\n' };
                    if data[0] != expected {
                        return Err(ProtocolError("bulk payload not ended by CRLF".into()));
                    }
                    data = &data[1..];
                    if seen == 0 {
                        self.state = State::BulkEnd { seen: 1 };
                        None
                    } else {
                        self.state = State::Start;
                        Some(Done::Bulk)
                    }
                }
            };
            let Some(done) = done else { continue };
            // Element complete: account it to the open arrays.
            if self.open_arrays.is_empty() {
                nr_replies += 1;
                on_reply(self.reply_of(done));
                continue;
            }
            if self.close_element() {
                nr_replies += 1;
                on_reply(Reply::Array {
                    len: self.top_array_len,
                });
            }
        }
        Ok(nr_replies)
    }

    fn push_line(&mut self, bytes: &[u8]) {
        let room = MAX_LINE - self.line.len();
        if let Some(&last) = bytes.last() {
            self.line_ends_cr = last == b'\r';
        }
        self.line_total += bytes.len();
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn reply_of(&self, done: Done) -> Reply<'_> {
        match done {
            Done::Status => Reply::Status(&self.line),
            Done::Error => Reply::Error(&self.line),
            Done::Integer(value) => Reply::Integer(value),
            Done::Nil => Reply::Nil,
            Done::EmptyArray => Reply::Array { len: 0 },
            Done::Bulk => Reply::Bulk {
                len: self.bulk_len,
                data: self.capturing.then_some(&self.bulk[..]),
            },
        }
    }

    /// One element of the innermost array finished; returns true when that
    /// completed the outermost array.
    fn close_element(&mut self) -> bool {
        while let Some(remaining) = self.open_arrays.last_mut() {
            *remaining -= 1;
            if *remaining > 0 {
                return false;
            }
            self.open_arrays.pop();
        }
        true
    }

    fn parse_number(&self) -> Result<i64, ProtocolError> {
        if self.line_total > MAX_LINE {
            return Err(ProtocolError("number line too long".into()));
        }
        std::str::from_utf8(&self.line)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| {
                ProtocolError(format!(
                    "bad number `{}`",
                    String::from_utf8_lossy(&self.line)
                ))
            })
    }

    fn end_line(&mut self, kind: u8) -> Result<Option<Done>, ProtocolError> {
        Ok(match kind {
            b'+' => Some(Done::Status),
            b'-' => Some(Done::Error),
            b':' => Some(Done::Integer(self.parse_number()?)),
            b'$' => match self.parse_number()? {
                -1 => Some(Done::Nil),
                len if len >= 0 => {
                    let len = len as usize;
                    self.bulk_len = len;
                    self.capturing = self.open_arrays.is_empty()
                        && self.capture_limit > 0
                        && len <= self.capture_limit;
                    self.bulk.clear();
                    self.state = State::BulkBody { remaining: len };
                    None
                }
                len => return Err(ProtocolError(format!("negative bulk length {len}"))),
            },
            b'*' => match self.parse_number()? {
                -1 => Some(Done::Nil),
                0 => Some(Done::EmptyArray),
                len if len > 0 => {
                    if self.open_arrays.len() == MAX_DEPTH {
                        return Err(ProtocolError("arrays nested too deep".into()));
                    }
                    if self.open_arrays.is_empty() {
                        self.top_array_len = len as usize;
                    }
                    self.open_arrays.push(len as usize);
                    None
                }
                len => return Err(ProtocolError(format!("negative array length {len}"))),
            },
            _ => unreachable!("type byte checked in State::Start"),
        })
    }
}

/// A complete top-level reply at the front of `data` that needs no parser
/// state: a status, error or integer line, a nil, or a bulk with its whole
/// payload (handed out when `capture_limit` allows, as the state machine
/// would). Returns it and the bytes it took; `None` for anything else (an
/// array, a reply cut short, a malformed or over-long line), which the state
/// machine then parses and judges.
#[inline]
fn whole_reply(data: &[u8], capture_limit: usize) -> Option<(Reply<'_>, usize)> {
    let kind = *data.first()?;
    match kind {
        b'+' | b'-' | b':' => {
            let end = 1 + data[1..]
                .iter()
                .take(MAX_LINE + 2)
                .position(|&b| b == b'\n')?;
            if end < 2 || data[end - 1] != b'\r' {
                return None;
            }
            let text = &data[1..end - 1];
            let reply = match kind {
                b'+' => Reply::Status(text),
                b'-' => Reply::Error(text),
                _ => Reply::Integer(parse_i64(text)?),
            };
            Some((reply, end + 1))
        }
        b'$' => {
            if data.starts_with(b"$-1\r\n") {
                return Some((Reply::Nil, 5));
            }
            let digits = data[1..]
                .iter()
                .take(20)
                .position(|b| !b.is_ascii_digit())?;
            if digits == 0 || digits > 18 {
                return None;
            }
            let mut len = 0usize;
            for &digit in &data[1..1 + digits] {
                len = len * 10 + usize::from(digit - b'0');
            }
            let start = 1 + digits + 2;
            if data.get(1 + digits..start)? != b"\r\n"
                || data.get(start + len..start + len + 2)? != b"\r\n"
            {
                return None;
            }
            let captured = capture_limit > 0 && len <= capture_limit;
            let payload = captured.then(|| &data[start..start + len]);
            Some((Reply::Bulk { len, data: payload }, start + len + 2))
        }
        _ => None,
    }
}

/// A plain decimal (optional `-`, 1 to 18 digits); `None` otherwise.
#[inline]
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value = 0i64;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(digit - b'0');
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned copy of a reply, for comparing.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Owned {
        Status(Vec<u8>),
        Error(Vec<u8>),
        Integer(i64),
        Nil,
        Bulk(usize, Option<Vec<u8>>),
        Array(usize),
    }

    fn own(reply: Reply<'_>) -> Owned {
        match reply {
            Reply::Status(text) => Owned::Status(text.to_vec()),
            Reply::Error(text) => Owned::Error(text.to_vec()),
            Reply::Integer(value) => Owned::Integer(value),
            Reply::Nil => Owned::Nil,
            Reply::Bulk { len, data } => Owned::Bulk(len, data.map(<[u8]>::to_vec)),
            Reply::Array { len } => Owned::Array(len),
        }
    }

    const STREAM: &[u8] = b"+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n$-1\r\n$5\r\nhello\r\n\
$0\r\n\r\n*2\r\n$3\r\nabc\r\n*2\r\n:1\r\n+x\r\n*0\r\n*-1\r\n$12\r\nline\r\nbreak!\r\n+PONG\r\n";

    fn expected(capture: bool) -> Vec<Owned> {
        let data = |bytes: &[u8]| capture.then(|| bytes.to_vec());
        vec![
            Owned::Status(b"OK".to_vec()),
            Owned::Error(b"ERR wrong type".to_vec()),
            Owned::Integer(42),
            Owned::Integer(-7),
            Owned::Nil,
            Owned::Bulk(5, data(b"hello")),
            Owned::Bulk(0, data(b"")),
            Owned::Array(2),
            Owned::Array(0),
            Owned::Nil,
            Owned::Bulk(12, data(b"line\r\nbreak!")),
            Owned::Status(b"PONG".to_vec()),
        ]
    }

    fn parse_in_chunks(stream: &[u8], chunk: usize, capture_limit: usize) -> Vec<Owned> {
        let mut parser = ReplyParser::new(capture_limit);
        let mut replies = Vec::new();
        for piece in stream.chunks(chunk) {
            parser
                .feed(piece, |reply| replies.push(own(reply)))
                .unwrap();
        }
        assert!(parser.is_idle());
        replies
    }

    #[test]
    fn whole_buffer() {
        assert_eq!(parse_in_chunks(STREAM, STREAM.len(), 1024), expected(true));
        assert_eq!(parse_in_chunks(STREAM, STREAM.len(), 0), expected(false));
    }

    #[test]
    fn every_split_point() {
        for chunk in 1..STREAM.len() {
            assert_eq!(
                parse_in_chunks(STREAM, chunk, 1024),
                expected(true),
                "chunk {chunk}"
            );
        }
        // Two pieces, split at every position.
        for split in 0..STREAM.len() {
            let mut parser = ReplyParser::new(1024);
            let mut replies = Vec::new();
            parser
                .feed(&STREAM[..split], |r| replies.push(own(r)))
                .unwrap();
            parser
                .feed(&STREAM[split..], |r| replies.push(own(r)))
                .unwrap();
            assert_eq!(replies, expected(true), "split at {split}");
        }
    }

    #[test]
    fn large_bulk_over_the_limit_is_skipped_not_buffered() {
        let mut stream = b"$100000\r\n".to_vec();
        stream.extend(std::iter::repeat_n(b'x', 100_000));
        stream.extend_from_slice(b"\r\n+OK\r\n");
        let replies = parse_in_chunks(&stream, 4096, 1000);
        assert_eq!(
            replies,
            vec![Owned::Bulk(100_000, None), Owned::Status(b"OK".to_vec())]
        );
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for bad in [
            &b"hello\r\n"[..],
            b":12x\r\n",
            b"$-5\r\n",
            b"$3\r\nabcd\r\n",
            b"+OK\n",
            b"*-2\r\n",
        ] {
            let mut parser = ReplyParser::new(16);
            assert!(
                parser.feed(bad, |_| {}).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut long_header = b"$".to_vec();
        long_header.extend(std::iter::repeat_n(b'9', 1000));
        long_header.extend_from_slice(b"\r\n");
        assert!(ReplyParser::new(16).feed(&long_header, |_| {}).is_err());
    }

    #[test]
    fn long_error_text_is_cut() {
        let mut stream = b"-ERR ".to_vec();
        stream.extend(std::iter::repeat_n(b'e', 2000));
        stream.extend_from_slice(b"\r\n");
        let replies = parse_in_chunks(&stream, 100, 0);
        match &replies[..] {
            [Owned::Error(text)] => assert_eq!(text.len(), MAX_LINE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_encode_as_resp_arrays() {
        let mut out = Vec::new();
        encode_get(&mut out, b"key:1");
        encode_del(&mut out, b"k");
        encode_set_start(&mut out, b"key:2", 3);
        out.extend_from_slice(b"abc");
        encode_set_end(&mut out);
        encode_command(&mut out, &[b"INFO"]);
        assert_eq!(
            out,
            b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n\
*3\r\n$3\r\nSET\r\n$5\r\nkey:2\r\n$3\r\nabc\r\n*1\r\n$4\r\nINFO\r\n"
        );
    }
}
