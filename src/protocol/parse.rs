//! RESP2 request parsing, in two steps over a cursor: first *check* that a
//! complete request is in the buffer (without allocating anything a header
//! claims), then *parse* it, splitting the argument bytes off the buffer
//! without copying.
//!
//! Requests are either multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or
//! inline commands (`GET k\r\n`, with Redis's quoting rules).

use std::borrow::Cow;

use bytes::{Buf, Bytes, BytesMut};

/// Limits that bound what a client can make the server hold.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Largest bulk string accepted (`--max-value-size`, as proto-max-bulk-len).
    pub max_bulk_len: u64,
    /// Most arguments in one multibulk request.
    pub max_args: u64,
    /// Longest inline request, or header line, without a newline.
    pub max_inline_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// The outcome of one parse attempt: [`parse_request`] hands the arguments
/// over in `Command`, [`parse_request_into`] leaves them in the caller's
/// vector (`Command(())`).
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<A = Vec<Bytes>> {
    /// A complete request; its bytes were removed from the buffer.
    Command(A),
    /// An empty inline line or `*0`/`*-1` was consumed; nothing to run.
    Empty,
    /// The buffer holds only the start of a request: read more.
    Incomplete,
}

/// A protocol violation: the connection replies with the message and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub Cow<'static, str>);

impl ProtocolError {
    /// An error with a fixed text.
    pub const fn new(text: &'static str) -> ProtocolError {
        ProtocolError(Cow::Borrowed(text))
    }

    /// The error reply text, as Redis words it (without the leading `-`).
    pub fn message(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// Arguments whose places [`check_multibulk`] notes for the split that
/// follows (a request with more is read again).
const NOTED: usize = 8;

/// Where the arguments of a checked request lie: `(start, end)` of each of
/// the first [`NOTED`].
type Spans = [(usize, usize); NOTED];

/// What [`check_multibulk`] found at the front of the buffer.
enum Checked {
    /// The whole request is there: this many bytes, its argument count and
    /// the places of its first arguments.
    Complete(usize, usize, Spans),
    Empty(usize),
    /// Not all there yet. The request is at least this long: up to the end
    /// of the last bulk string whose header arrived (its length already
    /// checked against the limits), or just the bytes seen so far.
    Incomplete(usize),
}

/// Parses one request from the front of `buf`.
pub fn parse_request(buf: &mut BytesMut, limits: &ParseLimits) -> Result<Parsed, ProtocolError> {
    let mut args = Vec::new();
    Ok(match parse_request_into(buf, limits, &mut args)? {
        Parsed::Command(()) => Parsed::Command(args),
        Parsed::Empty => Parsed::Empty,
        Parsed::Incomplete => Parsed::Incomplete,
    })
}

/// [`parse_request`] into a vector the caller keeps between requests (no
/// allocation per request): emptied first, then on `Command` it holds the
/// arguments.
pub fn parse_request_into(
    buf: &mut BytesMut,
    limits: &ParseLimits,
    args: &mut Vec<Bytes>,
) -> Result<Parsed<()>, ProtocolError> {
    args.clear();
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    if buf[0] == b'*' {
        if let Some((len, count, spans)) = check_plain(buf, limits) {
            take_multibulk(buf, len, count, &spans, args);
            return Ok(Parsed::Command(()));
        }
        match check_multibulk(buf, limits)? {
            Checked::Incomplete(_) => Ok(Parsed::Incomplete),
            Checked::Empty(consumed) => {
                buf.advance(consumed);
                Ok(Parsed::Empty)
            }
            Checked::Complete(len, count, spans) => {
                take_multibulk(buf, len, count, &spans, args);
                Ok(Parsed::Command(()))
            }
        }
    } else {
        parse_inline(buf, limits, args)
    }
}

/// How long the incomplete multibulk request at the front of `buf` is known
/// to be, when that is more than `buf` holds: its headers have announced a
/// bulk string that has not fully arrived. The connection sizes its buffer
/// by this once, instead of growing it read by read.
///
/// Only lengths within `limits` count: a header over the limit yields `None`
/// (and [`parse_request`] reports it as an error), so a claim is never
/// trusted beyond what the server accepts anyway. `None` as well for a
/// complete request, an inline request, or headers still incomplete.
pub fn pending_request_len(buf: &[u8], limits: &ParseLimits) -> Option<usize> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    match check_multibulk(buf, limits) {
        Ok(Checked::Incomplete(known)) if known > buf.len() => Some(known),
        _ => None,
    }
}

/// The key of the GET or SET that `buf` begins with, if it begins with a
/// whole multibulk GET or SET header and key (the rest may be missing): a
/// hint for prefetching the key's lookup before the request is parsed, so
/// anything else, or anything odd, is simply `None`.
pub fn leading_key(buf: &[u8]) -> Option<&[u8]> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    let (_, pos) = plain_number(buf, 1)?;
    let name = buf.get(pos..pos + 9)?;
    if name[..4] != *b"$3\r\n"
        || !(name[4..7].eq_ignore_ascii_case(b"GET") || name[4..7].eq_ignore_ascii_case(b"SET"))
        || name[7..] != *b"\r\n"
    {
        return None;
    }
    let pos = pos + 9;
    if buf.get(pos) != Some(&b'$') {
        return None;
    }
    let (len, pos) = plain_number(buf, pos + 1)?;
    buf.get(pos..pos.checked_add(usize::try_from(len).ok()?)?)
}

/// Finds `\r\n` starting at `from`; returns the index of `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
        let nl = at + offset;
        if nl > from && buf[nl - 1] == b'\r' {
            return Some(nl - 1);
        }
        at = nl + 1;
    }
    None
}

/// Reads the decimal number on the line starting at `pos` (after the type
/// byte). Returns `(value, index after CRLF)`, or `None` when the line is not
/// complete yet.
fn read_line_number(
    buf: &[u8],
    pos: usize,
    limits: &ParseLimits,
    too_long: &'static str,
    invalid: &'static str,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    if let Some(found) = plain_number(buf, pos) {
        return Ok(Some(found));
    }
    let Some(cr) = find_crlf(buf, pos) else {
        if buf.len() - pos > limits.max_inline_len {
            return Err(ProtocolError::new(too_long));
        }
        return Ok(None);
    };
    let digits = &buf[pos..cr];
    let value = parse_i64(digits).ok_or(ProtocolError::new(invalid))?;
    Ok(Some((value, cr + 2)))
}

/// The common header line, in one pass: 1 to 18 digits and CRLF, all
/// there. Returns `(value, index after CRLF)`; `None` for anything else (a
/// sign, another byte, a line not complete yet), which the general path
/// then reads and words the errors of. Where this answers, the general path
/// gives the same answer: the first CRLF follows the digits.
#[inline]
fn plain_number(buf: &[u8], pos: usize) -> Option<(i64, usize)> {
    let mut value: i64 = 0;
    let mut at = pos;
    while let Some(&byte) = buf.get(at) {
        match byte {
            b'0'..=b'9' if at - pos < 18 => value = value * 10 + i64::from(byte - b'0'),
            b'\r' if at > pos && buf.get(at + 1) == Some(&b'\n') => return Some((value, at + 2)),
            _ => return None,
        }
        at += 1;
    }
    None
}

/// Strict decimal parse: optional '-', 1..=19 digits, no spaces or '+'.
pub(crate) fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, body) = match digits.first() {
        Some(b'-') => (true, &digits[1..]),
        _ => (false, digits),
    };
    if body.is_empty() || body.len() > 19 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i128 = 0;
    for &d in body {
        value = value * 10 + i128::from(d - b'0');
    }
    if negative {
        value = -value;
    }
    i64::try_from(value).ok()
}

/// The common request, checked in one tight pass: up to [`NOTED`]
/// arguments, all there, every header plain digits within the limits.
/// `None` for anything else (incomplete, empty, a sign, a bad byte), which
/// [`check_multibulk`] then decides and words the errors of; where this
/// answers, that gives the same answer.
#[inline]
fn check_plain(buf: &[u8], limits: &ParseLimits) -> Option<(usize, usize, Spans)> {
    let (count, mut pos) = plain_number(buf, 1)?;
    if count == 0 || count > NOTED as i64 || count as u64 > limits.max_args {
        return None;
    }
    let mut spans: Spans = [(0, 0); NOTED];
    for span in &mut spans[..count as usize] {
        if *buf.get(pos)? != b'$' {
            return None;
        }
        let (len, start) = plain_number(buf, pos + 1)?;
        if len as u64 > limits.max_bulk_len {
            return None;
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return None;
        }
        *span = (start, end);
        pos = end + 2;
    }
    Some((pos, count as usize, spans))
}

/// Step one for `*N`: verifies that N complete bulk strings follow, with
/// every length inside the limits. Allocates nothing.
fn check_multibulk(buf: &[u8], limits: &ParseLimits) -> Result<Checked, ProtocolError> {
    let Some((count, mut pos)) = read_line_number(
        buf,
        1,
        limits,
        "too big mbulk count string",
        "invalid multibulk length",
    )?
    else {
        return Ok(Checked::Incomplete(buf.len()));
    };
    if count <= 0 {
        return Ok(Checked::Empty(pos));
    }
    if count as u64 > limits.max_args {
        return Err(ProtocolError::new("invalid multibulk length"));
    }
    let mut spans: Spans = [(0, 0); NOTED];
    for index in 0..count as usize {
        if pos >= buf.len() {
            return Ok(Checked::Incomplete(buf.len()));
        }
        if buf[pos] != b'$' {
            return Err(expected_dollar(buf[pos]));
        }
        let Some((len, data_start)) = read_line_number(
            buf,
            pos + 1,
            limits,
            "too big bulk count string",
            "invalid bulk length",
        )?
        else {
            return Ok(Checked::Incomplete(buf.len()));
        };
        if len < 0 || len as u64 > limits.max_bulk_len {
            return Err(ProtocolError::new("invalid bulk length"));
        }
        let data_end = data_start + len as usize;
        if buf.len() < data_end + 2 {
            return Ok(Checked::Incomplete(data_end + 2));
        }
        if let Some(span) = spans.get_mut(index) {
            *span = (data_start, data_end);
        }
        // Like Redis, the two bytes after the data are skipped unread.
        pos = data_end + 2;
    }
    Ok(Checked::Complete(pos, count as usize, spans))
}

/// Redis's wording for a wrong type byte inside a multibulk request,
/// `expected '$', got 'X'` (a CR or LF shows as a space, as Redis keeps an
/// error reply on one line).
fn expected_dollar(got: u8) -> ProtocolError {
    let shown = match got {
        b'\r' | b'\n' => ' ',
        other => char::from(other),
    };
    ProtocolError(Cow::Owned(format!("expected '$', got '{shown}'")))
}

/// A header line [`check_multibulk`] accepted: `(value, index after CRLF)`.
fn checked_number(buf: &[u8], pos: usize) -> (i64, usize) {
    plain_number(buf, pos).unwrap_or_else(|| {
        let cr = find_crlf(buf, pos).expect("checked");
        (parse_i64(&buf[pos..cr]).expect("checked"), cr + 2)
    })
}

/// Step two for `*N`, after [`check_multibulk`] found the whole request of
/// `count` arguments in its first `len` bytes: splits the request off `buf`
/// and its arguments off the request, without copying. The lengths were
/// validated there; the places of the first arguments were noted there.
fn take_multibulk(
    buf: &mut BytesMut,
    len: usize,
    count: usize,
    spans: &Spans,
    args: &mut Vec<Bytes>,
) {
    let request = buf.split_to(len).freeze();
    // `count` was bounded by max_args and every argument is present, so this
    // reservation is backed by bytes already received.
    args.reserve(count);
    if count <= NOTED {
        // The last argument is the request itself, cut down: one reference
        // count increment and decrement (atomic) fewer per request.
        if let Some((&(start, end), firsts)) = spans[..count].split_last() {
            args.extend(firsts.iter().map(|&(start, end)| request.slice(start..end)));
            let mut last = request;
            last.truncate(end);
            last.advance(start);
            args.push(last);
        }
        return;
    }
    let (_, mut pos) = checked_number(&request, 1);
    for _ in 0..count {
        let (len, data_start) = checked_number(&request, pos + 1);
        let data_end = data_start + len as usize;
        args.push(request.slice(data_start..data_end));
        pos = data_end + 2;
    }
}

/// Inline commands: one line, split on whitespace, with Redis's quoting
/// (`"..."` with escapes, `'...'`).
fn parse_inline(
    buf: &mut BytesMut,
    limits: &ParseLimits,
    args: &mut Vec<Bytes>,
) -> Result<Parsed<()>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(Parsed::Incomplete);
    };
    if nl > limits.max_inline_len {
        return Err(ProtocolError::new("too big inline request"));
    }
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    *args = split_inline(&buf[..line_end])?;
    buf.advance(nl + 1);
    if args.is_empty() {
        Ok(Parsed::Empty)
    } else {
        Ok(Parsed::Command(()))
    }
}

/// Splits an inline line into arguments (Redis `sdssplitargs` rules).
fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    const UNBALANCED: ProtocolError = ProtocolError::new("unbalanced quotes in request");
    let mut args = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut current = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(UNBALANCED);
                    };
                    match c {
                        b'\\'
                            if i + 3 < line.len()
                                && line[i + 1] == b'x'
                                && line[i + 2].is_ascii_hexdigit()
                                && line[i + 3].is_ascii_hexdigit() =>
                        {
                            let hex = std::str::from_utf8(&line[i + 2..i + 4]).expect("hex digits");
                            current.push(u8::from_str_radix(hex, 16).expect("hex digits"));
                            i += 4;
                        }
                        b'\\' if i + 1 < line.len() => {
                            current.push(match line[i + 1] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 0x08,
                                b'a' => 0x07,
                                other => other,
                            });
                            i += 2;
                        }
                        b'"' => {
                            // A closing quote must be followed by a space or the end.
                            if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                                return Err(UNBALANCED);
                            }
                            i += 1;
                            break;
                        }
                        _ => {
                            current.push(c);
                            i += 1;
                        }
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let Some(&c) = line.get(i) else {
                        return Err(UNBALANCED);
                    };
                    if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                        current.push(b'\'');
                        i += 2;
                    } else if c == b'\'' {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return Err(UNBALANCED);
                        }
                        i += 1;
                        break;
                    } else {
                        current.push(c);
                        i += 1;
                    }
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    current.push(line[i]);
                    i += 1;
                }
            }
        }
        args.push(Bytes::from(current));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_key_finds_the_key_of_a_get_or_set_and_nothing_else() {
        assert_eq!(
            leading_key(b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"),
            Some(&b"foo"[..])
        );
        assert_eq!(
            leading_key(b"*3\r\n$3\r\nset\r\n$4\r\nkey1\r\n$5\r\nva"),
            Some(&b"key1"[..]),
            "the value may still be missing"
        );
        assert_eq!(leading_key(b"*2\r\n$3\r\nGET\r\n$0\r\n"), Some(&b""[..]));
        for other in [
            &b"*2\r\n$3\r\nGET\r\n$3\r\nfo"[..],
            b"*2\r\n$3\r\nDEL\r\n$3\r\nfoo\r\n",
            b"*2\r\n$4\r\nGETX\r\n$3\r\nfoo\r\n",
            b"*2\r\n$3\r\nGET\r\n+3\r\nfoo\r\n",
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",
            b"*2\r\n$3\r\nGET\r\n$99999999999999999\r\nfoo",
            b"GET foo\r\n",
            b"*2\r\n",
            b"",
        ] {
            assert_eq!(
                leading_key(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    proptest::proptest! {
        /// The one-pass header read agrees with the general one wherever it
        /// answers, over lines of digits, signs, CR, LF and other bytes.
        #[test]
        fn plain_numbers_read_as_the_general_path_reads_them(
            line in proptest::collection::vec(
                proptest::sample::select(b"0123456789-\r\n x".to_vec()),
                0..24,
            ),
            pos in 0usize..3,
        ) {
            let pos = pos.min(line.len());
            if let Some((value, after)) = plain_number(&line, pos) {
                let cr = find_crlf(&line, pos).expect("a CRLF was found");
                proptest::prop_assert_eq!(cr + 2, after);
                proptest::prop_assert_eq!(parse_i64(&line[pos..cr]), Some(value));
            }
        }
    }

    #[test]
    fn requests_of_any_argument_count_split_into_their_arguments() {
        // Up to NOTED arguments are split at the places noted while
        // checking, more by reading the request again: both the same.
        for count in 1..=2 * NOTED + 1 {
            let args: Vec<Vec<u8>> = (0..count).map(|i| vec![b'a' + i as u8; i]).collect();
            let mut request = format!("*{count}\r\n").into_bytes();
            for arg in &args {
                request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                request.extend_from_slice(arg);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            let parsed = parse_all(&request).unwrap();
            let expected: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            assert_eq!(
                parsed,
                vec![
                    Parsed::Command(expected),
                    Parsed::Command(vec![Bytes::from_static(b"PING")])
                ],
                "{count} arguments"
            );
        }
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Parsed>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match parse_request(&mut buf, &ParseLimits::default())? {
                Parsed::Incomplete => break,
                parsed => out.push(parsed),
            }
        }
        Ok(out)
    }

    fn cmd(args: &[&str]) -> Parsed {
        Parsed::Command(
            args.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn multibulk_and_pipelines() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![cmd(&["GET", "k"]), cmd(&["PING"])]);
    }

    #[test]
    fn binary_safe_values() {
        let got = parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n").unwrap();
        assert_eq!(got, vec![cmd(&["SET", "k", "a\r\nb"])]);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(
                parse_request(&mut buf, &ParseLimits::default()).unwrap(),
                Parsed::Incomplete,
                "prefix of {cut} bytes"
            );
            assert_eq!(buf.len(), cut, "an incomplete parse consumes nothing");
        }
    }

    #[test]
    fn inline_commands_and_quotes() {
        let got = parse_all(b"SET k \"a b\\x41\\n\" 'c''\r\nPING\n\r\n").unwrap_err();
        assert_eq!(got, ProtocolError::new("unbalanced quotes in request"));
        let got = parse_all(b"SET k \"a b\\x41\\n\" 'it\\'s'\r\nPING\n\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                cmd(&["SET", "k", "a bA\n", "it's"]),
                cmd(&["PING"]),
                Parsed::Empty
            ]
        );
    }

    #[test]
    fn bad_lengths_are_protocol_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"*2\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$abc\r\n", "invalid bulk length"),
            (b"*1\r\n$99999999999999\r\n", "invalid bulk length"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*99999999999\r\n", "invalid multibulk length"),
            (b"*1\r\n:1\r\n", "expected '$', got ':'"),
            (b"*2\r\n$1\r\na\r\n+x\r\n", "expected '$', got '+'"),
        ];
        for (input, message) in cases {
            assert_eq!(
                parse_all(input).unwrap_err().0,
                *message,
                "input {:?}",
                input
            );
        }
    }

    #[test]
    fn endless_lines_are_refused() {
        let mut endless = vec![b'A'; 70 * 1024];
        assert_eq!(parse_all(&endless).unwrap_err().0, "too big inline request");
        endless[0] = b'*';
        assert_eq!(
            parse_all(&endless).unwrap_err().0,
            "too big mbulk count string"
        );
    }

    #[test]
    fn claimed_length_is_not_allocated() {
        // A header claiming 500 MB with 10 bytes behind it stays incomplete,
        // and the buffer does not grow.
        let mut buf = BytesMut::from(&b"*1\r\n$500000000\r\nabcdefghij"[..]);
        let capacity = buf.capacity();
        assert_eq!(
            parse_request(&mut buf, &ParseLimits::default()).unwrap(),
            Parsed::Incomplete
        );
        assert_eq!(buf.capacity(), capacity);
    }

    #[test]
    fn pending_request_len_reports_announced_bulk_strings() {
        let limits = ParseLimits::default();
        // The value's header is in: the request is known to run to its end.
        let head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\nabc";
        let value_start = head.len() - 3;
        assert_eq!(
            pending_request_len(head, &limits),
            Some(value_start + 1048576 + 2)
        );
        // Headers still arriving, complete requests, inline requests: nothing
        // beyond the bytes at hand is known.
        for partial in [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10485"[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n",
            b"*3\r",
            b"*1\r\n$4\r\nPING\r\n",
            b"SET k 1048576\r\n",
            b"",
        ] {
            assert_eq!(pending_request_len(partial, &limits), None, "{partial:?}");
        }
        // A claim over the limit is not reported (parse_request refuses it).
        let small = ParseLimits {
            max_bulk_len: 1024,
            ..ParseLimits::default()
        };
        let over = b"*2\r\n$3\r\nGET\r\n$1025\r\nab";
        assert_eq!(pending_request_len(over, &small), None);
        assert!(parse_request(&mut BytesMut::from(&over[..]), &small).is_err());
        let at = b"*2\r\n$3\r\nGET\r\n$1024\r\nab";
        assert_eq!(pending_request_len(at, &small), Some(at.len() - 2 + 1026));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Parsed::Command(_) | Parsed::Empty) = parse_request(&mut buf, &ParseLimits::default()) {}
        }

        #[test]
        fn encoded_requests_roundtrip(args in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 1..8)) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for arg in &args {
                wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                wire.extend_from_slice(arg);
                wire.extend_from_slice(b"\r\n");
            }
            let mut buf = BytesMut::from(&wire[..]);
            let parsed = parse_request(&mut buf, &ParseLimits::default()).unwrap();
            let expected: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            proptest::prop_assert_eq!(parsed, Parsed::Command(expected));
            proptest::prop_assert!(buf.is_empty());
        }
    }
}
