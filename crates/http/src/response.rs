//! A sans-I/O HTTP/1.1 response parser: bytes in, events out.
//!
//! The kernel hands over whatever the socket produced, in pieces of any size;
//! the parser reports the head once, then body bytes as they arrive (so a
//! streamed reply reaches the screen token by token), then the end. Body
//! bytes are lent straight out of the caller's buffer: only the head and a
//! chunk-size line are ever copied, and both are bounded.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{HttpError, shown};
use crate::request::{Method, Request};

/// Largest status line plus headers accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines accepted in one response head.
pub const MAX_HEADERS: usize = 100;
/// Most interim (1xx) responses accepted before the real one.
pub const MAX_INTERIM_RESPONSES: usize = 16;
/// Longest chunk-size line (size and extensions) accepted.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;
/// Largest trailer section accepted after the last chunk.
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// Status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, 100 to 999.
    pub status: u16,
    /// The reason phrase as sent (empty when absent or not ASCII).
    pub reason: String,
    /// Headers in the order received; values with surrounding whitespace
    /// removed and invalid UTF-8 replaced by U+FFFD.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order (for repeated headers).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` value, parameters included.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Whether the body is a server-sent event stream (`text/event-stream`,
    /// whatever the parameters): providers answer errors as JSON even on
    /// streaming endpoints, and the caller must tell the two apart.
    pub fn is_event_stream(&self) -> bool {
        self.content_type().is_some_and(|ct| {
            let essence = ct.split(';').next().unwrap_or("");
            essence.trim().eq_ignore_ascii_case("text/event-stream")
        })
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` in seconds, when given as a number (as rate-limited LLM
    /// APIs do). The HTTP-date form needs a wall clock and yields `None`;
    /// absurdly large numbers saturate rather than fail.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        let value = self.header("retry-after")?.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(value.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
    }
}

/// What the parser reports while reading a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent<'a> {
    /// The final (non-1xx) status line and headers; always first, exactly once.
    Head(ResponseHead),
    /// The next piece of the decoded body (chunk framing removed); borrowed
    /// from the bytes just fed, so copy what must be kept.
    Body(&'a [u8]),
    /// The response is complete; nothing follows.
    End,
}

/// How the body of the current response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the status line and headers into `head`.
    Head,
    /// `Content-Length` framing with this many bytes still to come.
    Length { remaining: u64 },
    /// Chunked framing.
    Chunked(Chunk),
    /// No framing: the body ends when the connection closes.
    UntilClose,
    /// `End` was reported; anything after is ignored.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line into `line`.
    SizeLine,
    /// Inside chunk data.
    Data { remaining: u64 },
    /// After chunk data, expecting its line end (`seen_cr` after a CR).
    DataEnd { seen_cr: bool },
    /// After the zero-size chunk, skipping trailer lines until a blank one.
    Trailer { line_len: usize, last_cr: bool, colon: bool, total: usize },
}

/// The response state machine: see the module documentation.
///
/// Feed it everything received, call [`finish`](Self::finish) when the
/// connection closes. After an error every further call returns the same
/// error, so a caller cannot accidentally read on past a framing problem.
#[derive(Debug)]
pub struct ResponseParser {
    method_was_head: bool,
    state: State,
    failed: Option<HttpError>,
    /// The head being collected (status line onwards).
    head: Vec<u8>,
    /// Where the current, unfinished line of `head` starts.
    line_start: usize,
    /// Blank lines before the status line (tolerated, counted against the limit).
    skipped: usize,
    /// Interim (1xx) responses skipped so far.
    interim: usize,
    /// The chunk-size line being collected.
    line: Vec<u8>,
    body_bytes: u64,
}

impl ResponseParser {
    /// A parser for the response to one request. `method_was_head` must be
    /// true for a `HEAD` request, whose response has headers but no body.
    pub fn new(method_was_head: bool) -> Self {
        Self {
            method_was_head,
            state: State::Head,
            failed: None,
            head: Vec::new(),
            line_start: 0,
            skipped: 0,
            interim: 0,
            line: Vec::new(),
            body_bytes: 0,
        }
    }

    /// A parser for the response to `request` (which may be a `HEAD`).
    pub fn for_request(request: &Request) -> Self {
        Self::new(request.method == Method::Head)
    }

    /// Body bytes reported so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Whether [`ResponseEvent::End`] has been reported.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Parses `input` and reports what it completes to `out`.
    ///
    /// On success all of `input` is consumed (the return value is always
    /// `input.len()`): incomplete lines are kept inside, so the caller never
    /// has to hold bytes back. Bytes after the end of the response are
    /// ignored, since every request asks the server to close.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<usize, HttpError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut rest = input;
        while !rest.is_empty() {
            match self.step(rest, out) {
                Ok(used) => rest = rest.get(used..).unwrap_or_default(),
                Err(err) => return Err(self.fail(err)),
            }
        }
        Ok(input.len())
    }

    /// Tells the parser the connection closed. A close-delimited body, or a
    /// chunked body whose last chunk arrived, ends cleanly with
    /// [`ResponseEvent::End`]; anything cut short is an error.
    pub fn finish(&mut self, out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<(), HttpError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let err = match self.state {
            State::Done => return Ok(()),
            State::UntilClose | State::Chunked(Chunk::Trailer { .. }) => {
                // RFC 9112 §8: a chunked message is complete once the
                // zero-size chunk arrived, even if the trailers were cut.
                self.end(out);
                return Ok(());
            }
            State::Head if self.head.is_empty() && self.skipped == 0 => HttpError::NoResponse,
            State::Head => HttpError::TruncatedHead { received: self.head.len() + self.skipped },
            State::Length { remaining } => HttpError::TruncatedBody {
                received: self.body_bytes,
                expected: self.body_bytes.saturating_add(remaining),
            },
            State::Chunked(_) => HttpError::TruncatedChunk { body_bytes: self.body_bytes },
        };
        Err(self.fail(err))
    }

    /// [`finish`](Self::finish) for a connection whose end was not confirmed: TLS closed
    /// by a bare TCP FIN without the server's `close_notify` (which an attacker on the path
    /// can forge). A close-delimited body then cannot be told apart from a cut one, so it is
    /// [`HttpError::UnconfirmedEnd`] instead of `End`; other framings say themselves whether
    /// they are complete, exactly as in `finish`.
    pub fn finish_unconfirmed(&mut self, out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<(), HttpError> {
        if self.failed.is_none() && self.state == State::UntilClose {
            return Err(self.fail(HttpError::UnconfirmedEnd { body_bytes: self.body_bytes }));
        }
        self.finish(out)
    }

    /// Whether the body runs until the connection closes (no `Content-Length`, not
    /// chunked), so only a confirmed close (TLS `close_notify`) proves it complete.
    pub fn is_close_delimited(&self) -> bool {
        self.state == State::UntilClose
    }

    fn fail(&mut self, err: HttpError) -> HttpError {
        self.failed = Some(err.clone());
        // The buffers are dead weight from here on.
        self.head = Vec::new();
        self.line = Vec::new();
        err
    }

    fn end(&mut self, out: &mut impl FnMut(ResponseEvent<'_>)) {
        self.state = State::Done;
        self.head = Vec::new();
        self.line = Vec::new();
        out(ResponseEvent::End);
    }

    /// Handles a prefix of `input` (never empty) and returns its length.
    fn step(&mut self, input: &[u8], out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<usize, HttpError> {
        match self.state {
            State::Head => self.step_head(input, out),
            State::Length { remaining } => {
                let (piece, remaining) = self.body_piece(input, remaining, out);
                if remaining == 0 {
                    self.end(out);
                } else {
                    self.state = State::Length { remaining };
                }
                Ok(piece)
            }
            State::UntilClose => Ok(self.body_piece(input, u64::MAX, out).0),
            State::Chunked(chunk) => self.step_chunked(chunk, input, out),
            State::Done => Ok(input.len()),
        }
    }

    /// Reports up to `limit` bytes of `input` as body; returns how many and
    /// what is left of `limit`.
    fn body_piece(&mut self, input: &[u8], limit: u64, out: &mut impl FnMut(ResponseEvent<'_>)) -> (usize, u64) {
        let take = usize::try_from(limit).map_or(input.len(), |limit| limit.min(input.len()));
        let piece = input.get(..take).unwrap_or_default();
        if !piece.is_empty() {
            self.body_bytes = self.body_bytes.saturating_add(take as u64);
            out(ResponseEvent::Body(piece));
        }
        (take, limit - take as u64)
    }

    fn step_head(&mut self, input: &[u8], out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<usize, HttpError> {
        let (segment, line_done) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (input.get(..=i).unwrap_or(input), true),
            None => (input, false),
        };
        if self.head.len() + self.skipped + segment.len() > MAX_HEAD_BYTES {
            return Err(HttpError::HeadTooLarge { limit: MAX_HEAD_BYTES });
        }
        self.head
            .try_reserve(segment.len())
            .map_err(|_| HttpError::OutOfMemory { bytes: self.head.len() + segment.len() })?;
        self.head.extend_from_slice(segment);
        // Something that is not HTTP (a TLS alert on a plain-HTTP port, an
        // SSH banner) fails at once instead of when the head limit or a
        // timeout is reached.
        const PREFIX: &[u8] = b"HTTP/1.";
        let n = self.head.len().min(PREFIX.len());
        if self.head.get(..n) != PREFIX.get(..n) && !self.head.iter().all(|&b| b == b'\r' || b == b'\n') {
            return Err(HttpError::MalformedStatusLine);
        }
        if line_done {
            let line = self.head.get(self.line_start..self.head.len() - 1).unwrap_or_default();
            let blank = line.is_empty() || line == b"\r";
            if blank && self.line_start == 0 {
                // Blank lines before the status line are tolerated (RFC 9112
                // §2.2 robustness) but still count against the limit.
                self.skipped += self.head.len();
                self.head.clear();
            } else if blank {
                self.complete_head(out)?;
            } else {
                self.line_start = self.head.len();
            }
        }
        Ok(segment.len())
    }

    fn complete_head(&mut self, out: &mut impl FnMut(ResponseEvent<'_>)) -> Result<(), HttpError> {
        let head = parse_head(&self.head)?;
        self.head.clear();
        self.line_start = 0;
        self.skipped = 0;
        if (100..200).contains(&head.status) {
            // Interim responses (100 Continue, 103 Early Hints) precede the
            // real one; the caller only cares about the final response. A
            // server sending them without end never answers: give up.
            self.interim += 1;
            if self.interim > MAX_INTERIM_RESPONSES {
                return Err(HttpError::TooManyInterimResponses { limit: MAX_INTERIM_RESPONSES });
            }
            return Ok(());
        }
        let framing = self.framing(&head)?;
        out(ResponseEvent::Head(head));
        match framing {
            State::Length { remaining: 0 } => self.end(out),
            state => self.state = state,
        }
        Ok(())
    }

    /// RFC 9112 §6.3, in order: no body for HEAD/204/304; Transfer-Encoding
    /// (chunked) wins over Content-Length; else Content-Length; else read
    /// until the connection closes.
    fn framing(&self, head: &ResponseHead) -> Result<State, HttpError> {
        if self.method_was_head || head.status == 204 || head.status == 304 {
            return Ok(State::Length { remaining: 0 });
        }
        if head.header("transfer-encoding").is_some() {
            let codings: Vec<&str> = head
                .headers_named("transfer-encoding")
                .flat_map(|v| v.split(','))
                .map(|c| c.trim_matches([' ', '\t']))
                .filter(|c| !c.is_empty())
                .collect();
            // Only chunked is decoded: a compressed body would reach the
            // screen as garbage. No request asks for compression.
            return match codings.as_slice() {
                [only] if only.eq_ignore_ascii_case("chunked") => Ok(State::Chunked(Chunk::SizeLine)),
                _ => {
                    let all: Vec<&str> = head.headers_named("transfer-encoding").collect();
                    Err(HttpError::UnsupportedTransferEncoding(shown(&all.join(", "))))
                }
            };
        }
        let mut length = None;
        for value in head.headers_named("content-length") {
            // A list of identical values ("42, 42") is what some proxies make
            // of duplicated headers; RFC 9110 §8.6 allows accepting it.
            for item in value.split(',') {
                let n = parse_decimal(item.trim_matches([' ', '\t']))
                    .ok_or_else(|| HttpError::InvalidContentLength(shown(value)))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HttpError::ConflictingContentLength);
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(State::UntilClose, |remaining| State::Length { remaining }))
    }

    fn step_chunked(
        &mut self,
        chunk: Chunk,
        input: &[u8],
        out: &mut impl FnMut(ResponseEvent<'_>),
    ) -> Result<usize, HttpError> {
        let first = input.first().copied().unwrap_or_default();
        match chunk {
            Chunk::SizeLine => {
                let newline = input.iter().position(|&b| b == b'\n');
                let part = input.get(..newline.unwrap_or(input.len())).unwrap_or_default();
                if self.line.len() + part.len() > MAX_CHUNK_LINE_BYTES {
                    return Err(HttpError::ChunkLineTooLong { limit: MAX_CHUNK_LINE_BYTES });
                }
                self.line.extend_from_slice(part);
                let Some(newline) = newline else { return Ok(input.len()) };
                let size =
                    parse_chunk_size(&self.line).ok_or(HttpError::InvalidChunkSize { body_bytes: self.body_bytes })?;
                self.line.clear();
                self.state = State::Chunked(if size == 0 {
                    Chunk::Trailer { line_len: 0, last_cr: false, colon: false, total: 0 }
                } else {
                    Chunk::Data { remaining: size }
                });
                Ok(newline + 1)
            }
            Chunk::Data { remaining } => {
                let (piece, remaining) = self.body_piece(input, remaining, out);
                self.state = State::Chunked(if remaining == 0 {
                    Chunk::DataEnd { seen_cr: false }
                } else {
                    Chunk::Data { remaining }
                });
                Ok(piece)
            }
            Chunk::DataEnd { seen_cr } => {
                // CRLF, or a bare LF as RFC 9112 §2.2 lets recipients accept.
                self.state = State::Chunked(match first {
                    b'\n' => Chunk::SizeLine,
                    b'\r' if !seen_cr => Chunk::DataEnd { seen_cr: true },
                    _ => return Err(HttpError::MalformedChunk { body_bytes: self.body_bytes }),
                });
                Ok(1)
            }
            Chunk::Trailer { line_len, last_cr, colon, total } => {
                // Trailers are checked for shape and dropped: nothing in the
                // providers' APIs is sent there, and keeping them would be
                // one more unbounded buffer.
                let newline = input.iter().position(|&b| b == b'\n');
                let part = input.get(..newline.unwrap_or(input.len())).unwrap_or_default();
                let total = total + part.len() + usize::from(newline.is_some());
                if total > MAX_TRAILER_BYTES {
                    return Err(HttpError::TrailersTooLarge { limit: MAX_TRAILER_BYTES });
                }
                let line_len = line_len + part.len();
                let last_cr = part.last().map_or(last_cr, |&b| b == b'\r');
                let colon = colon || part.contains(&b':');
                let Some(newline) = newline else {
                    self.state = State::Chunked(Chunk::Trailer { line_len, last_cr, colon, total });
                    return Ok(input.len());
                };
                if line_len == 0 || (line_len == 1 && last_cr) {
                    self.end(out);
                } else if colon {
                    self.state = State::Chunked(Chunk::Trailer { line_len: 0, last_cr: false, colon: false, total });
                } else {
                    return Err(HttpError::MalformedTrailer);
                }
                Ok(newline + 1)
            }
        }
    }
}

/// Runs httparse over a complete head and copies out what the caller keeps.
fn parse_head(bytes: &[u8]) -> Result<ResponseHead, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        // The head ended in a blank line, so "partial" means httparse saw the
        // lines differently (e.g. a stray CR): the head is malformed.
        Ok(httparse::Status::Partial) => return Err(HttpError::MalformedHeader),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders { limit: MAX_HEADERS }),
        Err(httparse::Error::Version | httparse::Error::Status | httparse::Error::Token) => {
            return Err(HttpError::MalformedStatusLine);
        }
        Err(_) => return Err(HttpError::MalformedHeader),
    }
    let status = response.code.filter(|&code| code >= 100).ok_or(HttpError::MalformedStatusLine)?;
    let headers = response
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value.trim_ascii());
            (h.name.to_owned(), value.into_owned())
        })
        .collect();
    Ok(ResponseHead { status, reason: response.reason.unwrap_or_default().to_owned(), headers })
}

/// A non-empty run of ASCII digits that fits in a u64 (no sign, no spaces).
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = char::from(b).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// `chunk-size [ BWS ";" extensions ] [CR]`: the size in hex; extensions are
/// ignored (RFC 9112 §7.1.1 lets recipients ignore unknown ones, and none
/// are known).
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let size = line.get(..digits)?.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(16)?;
        n.checked_mul(16)?.checked_add(u64::from(digit))
    })?;
    let rest = line.get(digits..)?;
    let rest = rest.trim_ascii_start();
    (rest.is_empty() || rest.starts_with(b";")).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;

    /// What a whole exchange produced: heads seen, body bytes, whether End came.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        heads: Vec<ResponseHead>,
        body: Vec<u8>,
        ends: usize,
    }

    fn record(seen: &mut Seen) -> impl FnMut(ResponseEvent<'_>) + '_ {
        move |event| match event {
            ResponseEvent::Head(head) => seen.heads.push(head),
            ResponseEvent::Body(bytes) => {
                assert!(!bytes.is_empty(), "empty body events are noise");
                assert_eq!(seen.ends, 0, "body after end");
                seen.body.extend_from_slice(bytes);
            }
            ResponseEvent::End => seen.ends += 1,
        }
    }

    fn run_with(head_request: bool, chunks: &[&[u8]]) -> Result<Seen, HttpError> {
        let mut parser = ResponseParser::new(head_request);
        let mut seen = Seen::default();
        for chunk in chunks {
            assert_eq!(parser.feed(chunk, &mut record(&mut seen))?, chunk.len());
        }
        parser.finish(&mut record(&mut seen))?;
        Ok(seen)
    }

    fn run(input: &[u8]) -> Result<Seen, HttpError> {
        run_with(false, &[input])
    }

    fn body_of(input: &[u8]) -> Vec<u8> {
        let seen = run(input).unwrap();
        assert_eq!(seen.heads.len(), 1);
        assert_eq!(seen.ends, 1);
        seen.body
    }

    #[test]
    fn content_length_body() {
        let seen = run(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        let head = &seen.heads[0];
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "OK");
        assert!(head.is_success());
        assert_eq!(head.content_type(), Some("application/json"));
        assert_eq!(head.header("CONTENT-length"), Some("5"));
        assert_eq!(seen.body, b"hello");
        assert_eq!(seen.ends, 1);
    }

    #[test]
    fn end_is_reported_as_soon_as_the_length_is_reached() {
        let mut parser = ResponseParser::new(false);
        let mut seen = Seen::default();
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", &mut record(&mut seen)).unwrap();
        assert_eq!(seen.ends, 1);
        assert!(parser.is_done());
        assert_eq!(parser.body_bytes(), 2);
        // Whatever follows is ignored, and finish adds nothing.
        parser.feed(b"garbage", &mut record(&mut seen)).unwrap();
        parser.finish(&mut record(&mut seen)).unwrap();
        assert_eq!((seen.body.as_slice(), seen.ends), (&b"hi"[..], 1));
    }

    #[test]
    fn zero_length_and_bodyless_statuses() {
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), b"");
        assert_eq!(body_of(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"), b"");
        assert_eq!(body_of(b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"), b"");
        let seen = run_with(true, &[b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"]).unwrap();
        let head = Request::new(Method::Head, crate::Url::parse("http://h/").unwrap());
        assert!(ResponseParser::for_request(&head).method_was_head);
        assert!(!ResponseParser::for_request(&Request::get(head.url.clone())).method_was_head);
        assert_eq!((seen.heads.len(), seen.body.len(), seen.ends), (1, 0, 1));
    }

    #[test]
    fn close_delimited_body() {
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"), b"until the end");
        assert_eq!(body_of(b"HTTP/1.0 200 OK\r\n\r\n"), b"");
        // No reason phrase, bare LF line ends.
        let seen = run(b"HTTP/1.1 200\nX: y\n\nbody").unwrap();
        assert_eq!((seen.heads[0].reason.as_str(), seen.body.as_slice()), ("", &b"body"[..]));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;name=value\r\nhello\r\n\
            1 ; quoted=\"a;b\"\r\n \r\n\
            00006\r\nworld!\r\n\
            A\r\n0123456789\r\n\
            0\r\nX-Trailer: 1\r\nOther: two\r\n\r\n";
        assert_eq!(body_of(input), b"hello world!0123456789");
    }

    #[test]
    fn chunked_with_bare_lf_and_no_trailers() {
        assert_eq!(body_of(b"HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n3\nabc\n0\n\n"), b"abc");
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        assert_eq!(body_of(input), b"ok");
    }

    #[test]
    fn an_unconfirmed_close_cannot_end_a_close_delimited_body() {
        let mut body = Vec::new();
        let mut parser = ResponseParser::new(false);
        parser
            .feed(b"HTTP/1.1 200 OK\r\n\r\npartial", &mut |e| {
                if let ResponseEvent::Body(b) = e {
                    body.extend_from_slice(b)
                }
            })
            .unwrap();
        assert!(parser.is_close_delimited());
        let err = parser.finish_unconfirmed(&mut |_| {}).unwrap_err();
        assert_eq!(err, HttpError::UnconfirmedEnd { body_bytes: 7 });
        assert!(err.to_string().contains("without the TLS close_notify"), "{err}");
        assert_eq!(body, b"partial");
        // Framed bodies say themselves whether they are complete.
        let mut framed = ResponseParser::new(false);
        framed.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &mut |_| {}).unwrap();
        assert!(!framed.is_close_delimited());
        assert_eq!(framed.finish_unconfirmed(&mut |_| {}), Ok(()));
        let mut cut = ResponseParser::new(false);
        cut.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", &mut |_| {}).unwrap();
        assert!(matches!(cut.finish_unconfirmed(&mut |_| {}), Err(HttpError::TruncatedBody { .. })));
        // A confirmed close ends it.
        let mut confirmed = ResponseParser::new(false);
        confirmed.feed(b"HTTP/1.1 200 OK\r\n\r\nall", &mut |_| {}).unwrap();
        let mut ended = false;
        confirmed.finish(&mut |e| ended |= e == ResponseEvent::End).unwrap();
        assert!(ended);
    }

    #[test]
    fn endless_interim_responses_are_refused() {
        let mut input = Vec::new();
        for _ in 0..MAX_INTERIM_RESPONSES {
            input.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let mut ok = input.clone();
        ok.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        let mut parser = ResponseParser::new(false);
        let mut heads = 0;
        parser.feed(&ok, &mut |e| heads += usize::from(matches!(e, ResponseEvent::Head(_)))).unwrap();
        assert_eq!(heads, 1);
        input.extend_from_slice(b"HTTP/1.1 102 Processing\r\n\r\n");
        let err = ResponseParser::new(false).feed(&input, &mut |_| {}).unwrap_err();
        assert_eq!(err, HttpError::TooManyInterimResponses { limit: MAX_INTERIM_RESPONSES });
        assert_eq!(
            err.to_string(),
            "HTTP: the server sent more than 16 interim (1xx) responses without ever answering"
        );
    }

    #[test]
    fn interim_responses_are_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n\
            HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx";
        let seen = run(input).unwrap();
        assert_eq!(seen.heads.len(), 1);
        assert_eq!(seen.heads[0].status, 201);
        assert_eq!(seen.body, b"x");
    }

    #[test]
    fn leading_blank_lines_are_tolerated() {
        assert_eq!(body_of(b"\r\n\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), b"x");
    }

    #[test]
    fn header_helpers() {
        let seen = run(b"HTTP/1.1 429 Too Many Requests\r\nretry-after:  30 \r\n\
            Content-Type: text/event-stream; charset=utf-8\r\nSet: a\r\nset: b\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
        let head = &seen.heads[0];
        assert_eq!(head.retry_after_seconds(), Some(30));
        assert!(head.is_event_stream());
        assert!(!head.is_success());
        assert_eq!(head.headers_named("SET").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(head.header("missing"), None);

        let with = |value: &str| ResponseHead {
            status: 503,
            reason: String::new(),
            headers: vec![("Retry-After".into(), value.into())],
        };
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT").retry_after_seconds(), None);
        assert_eq!(with("-1").retry_after_seconds(), None);
        assert_eq!(with("").retry_after_seconds(), None);
        assert_eq!(with("99999999999999999999999").retry_after_seconds(), Some(u64::MAX));
        assert!(!with("x").is_event_stream());
    }

    #[test]
    fn non_utf8_header_values_are_replaced_not_rejected() {
        let seen = run(b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(seen.heads[0].header("x-name"), Some("caf\u{FFFD}"));
    }

    #[test]
    fn status_line_garbage() {
        for input in [
            &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
            b"\x15\x03\x03\x00\x02\x02\x46",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
            b"<html>hello</html>",
        ] {
            assert_eq!(run(input).unwrap_err(), HttpError::MalformedStatusLine, "{:?}", String::from_utf8_lossy(input));
        }
        // The wrong protocol is noticed at its first byte, not at a timeout.
        let mut parser = ResponseParser::new(false);
        assert_eq!(parser.feed(b"\x16", &mut |_| {}), Err(HttpError::MalformedStatusLine));
    }

    #[test]
    fn malformed_header_lines() {
        for input in [
            &b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        ] {
            assert_eq!(run(input).unwrap_err(), HttpError::MalformedHeader, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn head_limits() {
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() <= MAX_HEAD_BYTES {
            big.extend_from_slice(
                b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        assert_eq!(run(&big).unwrap_err(), HttpError::HeadTooLarge { limit: MAX_HEAD_BYTES });
        assert_eq!(run(&big).unwrap_err().to_string(), "HTTP: the server's response headers are larger than 64 KiB");
        // Endless blank lines before the status line count too.
        assert_eq!(
            run(&vec![b'\n'; MAX_HEAD_BYTES + 1]).unwrap_err(),
            HttpError::HeadTooLarge { limit: MAX_HEAD_BYTES }
        );

        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(run(&many).unwrap_err(), HttpError::TooManyHeaders { limit: MAX_HEADERS });

        let mut exactly = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 1..MAX_HEADERS {
            exactly.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        exactly.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        assert_eq!(run(&exactly).unwrap().heads[0].headers.len(), MAX_HEADERS);
    }

    #[test]
    fn content_length_errors() {
        let cl = |value: &str| run(format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n").as_bytes());
        for bad in ["-1", "+1", "1.0", "0x10", "abc", "18446744073709551616", "1 2", "1,", ""] {
            assert!(matches!(cl(bad), Err(HttpError::InvalidContentLength(_))), "{bad:?}");
        }
        assert_eq!(cl("-5").unwrap_err().to_string(), "HTTP: the server sent an invalid Content-Length \"-5\"");
        assert_eq!(
            run(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx").unwrap_err(),
            HttpError::ConflictingContentLength
        );
        assert_eq!(
            run(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n").unwrap_err(),
            HttpError::ConflictingContentLength
        );
        // Repeats that agree are fine.
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok"), b"ok");
        assert_eq!(
            run(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc").unwrap_err(),
            HttpError::TruncatedBody { received: 3, expected: u64::MAX }
        );
    }

    #[test]
    fn transfer_encoding_errors() {
        for te in ["gzip", "gzip, chunked", "chunked, gzip", "chunked, chunked", ""] {
            let input = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n");
            assert!(matches!(run(input.as_bytes()), Err(HttpError::UnsupportedTransferEncoding(_))), "{te:?}");
        }
        let err = run(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n").unwrap_err();
        assert_eq!(err.to_string(), "HTTP: the server used the unsupported Transfer-Encoding \"br\"");
    }

    fn chunked(body: &[u8]) -> Result<Seen, HttpError> {
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(body);
        run(&input)
    }

    #[test]
    fn chunk_errors() {
        for bad in [&b"\r\n"[..], b"g\r\n", b"-1\r\n", b"+1\r\n", b" 1\r\n", b"1 x\r\n", b"10000000000000000\r\n"] {
            assert_eq!(chunked(bad).unwrap_err(), HttpError::InvalidChunkSize { body_bytes: 0 }, "{bad:?}");
        }
        assert_eq!(chunked(b"2\r\nok\r\nzz\r\n").unwrap_err(), HttpError::InvalidChunkSize { body_bytes: 2 });
        assert_eq!(chunked(b"2\r\nokX").unwrap_err(), HttpError::MalformedChunk { body_bytes: 2 });
        assert_eq!(chunked(b"2\r\nok\r\r").unwrap_err(), HttpError::MalformedChunk { body_bytes: 2 });
        let mut long = b"1;".to_vec();
        long.resize(MAX_CHUNK_LINE_BYTES + 1, b'x');
        assert_eq!(chunked(&long).unwrap_err(), HttpError::ChunkLineTooLong { limit: MAX_CHUNK_LINE_BYTES });
        // The limit counts the CR of the line end.
        long.truncate(MAX_CHUNK_LINE_BYTES - 1);
        long.extend_from_slice(b"\r\nz\r\n0\r\n\r\n");
        assert_eq!(chunked(&long).unwrap().body, b"z");
        assert_eq!(chunked(b"0\r\nno colon\r\n\r\n").unwrap_err(), HttpError::MalformedTrailer);
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() <= MAX_TRAILER_BYTES {
            trailers.extend_from_slice(b"X-T: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n");
        }
        assert_eq!(chunked(&trailers).unwrap_err(), HttpError::TrailersTooLarge { limit: MAX_TRAILER_BYTES });
    }

    #[test]
    fn eof_errors() {
        assert_eq!(run(b"").unwrap_err(), HttpError::NoResponse);
        assert_eq!(
            run(b"").unwrap_err().to_string(),
            "HTTP: the server closed the connection without sending a response"
        );
        assert_eq!(run(b"HTTP/1.1 200 OK\r\nX: y").unwrap_err(), HttpError::TruncatedHead { received: 21 });
        assert_eq!(run(b"\r\n").unwrap_err(), HttpError::TruncatedHead { received: 2 });
        assert_eq!(
            run(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").unwrap_err(),
            HttpError::TruncatedBody { received: 3, expected: 10 }
        );
        assert_eq!(
            run(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").unwrap_err().to_string(),
            "HTTP: the server closed the connection after 3 of 10 body bytes"
        );
        for cut in [&b"5\r\nhel"[..], b"5\r\nhello", b"5\r\nhello\r", b"5\r\nhello\r\n", b"5\r\nhello\r\n0"] {
            let body_bytes = cut.len().min(8) as u64 - 3;
            assert_eq!(chunked(cut).unwrap_err(), HttpError::TruncatedChunk { body_bytes }, "{cut:?}");
        }
        // Once the zero-size chunk is in, a cut in the trailers loses nothing.
        assert_eq!(chunked(b"5\r\nhello\r\n0\r\n").unwrap().body, b"hello");
        assert_eq!(chunked(b"5\r\nhello\r\n0\r\nX-T: 1").unwrap().body, b"hello");
    }

    #[test]
    fn errors_are_sticky() {
        let mut parser = ResponseParser::new(false);
        let err = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", &mut |_| {}).unwrap_err();
        assert_eq!(parser.feed(b"HTTP/1.1 200 OK\r\n\r\n", &mut |_| {}), Err(err.clone()));
        assert_eq!(parser.finish(&mut |_| {}), Err(err.clone()));
        let mut parser = ResponseParser::new(false);
        let err = parser.finish(&mut |_| {}).unwrap_err();
        assert_eq!(parser.finish(&mut |_| {}), Err(err));
    }

    #[test]
    fn byte_at_a_time_matches_all_at_once() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            4;x=y\r\nh\xc3\xa9l\r\na\r\nlo \xf0\x9f\x8c\x8d \xe4\xb8\r\n4\r\n\x96\xe7\x95\x8c\r\n0\r\nT: 1\r\n\r\n";
        let whole = run(input).unwrap();
        assert_eq!(String::from_utf8(whole.body.clone()).unwrap(), "héllo 🌍 世界");
        let pieces: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run_with(false, &pieces).unwrap(), whole);
    }
}
