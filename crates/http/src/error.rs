//! The one error type of the crate.
//!
//! Every variant renders as a sentence that starts with `HTTP:` and tells the
//! user what happened, so the kernel can put it on screen unchanged. Values
//! that came from the wire or from a configuration file are clipped and
//! escaped before they are stored: a hostile server must not be able to fill
//! the screen or smuggle control characters into the serial log.

use alloc::string::String;
use core::fmt;

use crate::timeout::Phase;

/// Longest piece of foreign text (a header value, a URL) kept in an error.
const SHOWN_MAX_CHARS: usize = 80;

/// Everything that can go wrong while building a request or reading a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// A URL could not be used; `url` is the text as given (clipped, and with
    /// any user name or password removed).
    InvalidUrl {
        /// The offending URL, safe to show.
        url: String,
        /// What is wrong with it.
        problem: UrlProblem,
    },
    /// A request header name is empty or contains characters a header name
    /// cannot hold (RFC 9110 token characters only).
    InvalidHeaderName(String),
    /// A request header value contains CR, LF, NUL or another control
    /// character that would let it end the header early (header injection).
    /// The value itself is never stored: it may be an API key.
    InvalidHeaderValue {
        /// Name of the header whose value was rejected.
        name: String,
    },
    /// The caller set a header that the client computes itself
    /// (`Content-Length`, `Transfer-Encoding`).
    ReservedHeader(String),
    /// The connection closed before a single byte of the response arrived.
    NoResponse,
    /// The connection closed in the middle of the status line or headers.
    TruncatedHead {
        /// Bytes of the head received before the close.
        received: usize,
    },
    /// The first line of the response is not `HTTP/1.x NNN reason`.
    MalformedStatusLine,
    /// A response header line could not be parsed.
    MalformedHeader,
    /// The status line and headers together exceed the limit.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The response has more header lines than the limit.
    TooManyHeaders {
        /// The limit in header lines.
        limit: usize,
    },
    /// A `Content-Length` value is not a non-negative decimal number that fits
    /// in 64 bits.
    InvalidContentLength(String),
    /// Several `Content-Length` values disagree, so the body length is unknown.
    ConflictingContentLength,
    /// The response uses a transfer coding other than `chunked`.
    UnsupportedTransferEncoding(String),
    /// A chunk-size line does not start with a hexadecimal size, or the size
    /// does not fit in 64 bits.
    InvalidChunkSize {
        /// Body bytes delivered before the bad line.
        body_bytes: u64,
    },
    /// A chunk-size line (size plus extensions) is longer than the limit.
    ChunkLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// Chunk data was not followed by a line end.
    MalformedChunk {
        /// Body bytes delivered before the problem.
        body_bytes: u64,
    },
    /// A trailer line after the last chunk is not `name: value`.
    MalformedTrailer,
    /// The trailer section after the last chunk exceeds the limit.
    TrailersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection closed before `Content-Length` bytes arrived.
    TruncatedBody {
        /// Body bytes received.
        received: u64,
        /// Body bytes announced by `Content-Length`.
        expected: u64,
    },
    /// The connection closed before the last (zero-size) chunk arrived.
    TruncatedChunk {
        /// Body bytes received.
        body_bytes: u64,
    },
    /// More interim (1xx) responses than [`crate::MAX_INTERIM_RESPONSES`] came before the
    /// real one: a server stalling forever with `100 Continue`.
    TooManyInterimResponses {
        /// The limit.
        limit: usize,
    },
    /// A body that runs until the connection closes ended with a close that was not
    /// confirmed (TLS without `close_notify`): it may have been cut short.
    UnconfirmedEnd {
        /// Body bytes received.
        body_bytes: u64,
    },
    /// The heap could not hold a buffer the response needed.
    OutOfMemory {
        /// Bytes asked for.
        bytes: usize,
    },
    /// A deadline passed: see [`crate::TimeoutTracker`].
    Timeout {
        /// Which wait ran out.
        phase: Phase,
        /// The limit that was exceeded, in milliseconds.
        limit_ms: u64,
    },
}

/// Why a URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// The text is empty.
    Empty,
    /// There is no `scheme://` prefix.
    MissingScheme,
    /// The scheme is something other than `http` or `https`.
    UnsupportedScheme(String),
    /// The URL carries `user:password@`; credentials belong in headers.
    Userinfo,
    /// The host is an IPv6 literal (`[::1]`), which the network stack cannot
    /// reach yet.
    Ipv6NotSupported,
    /// There is nothing between `://` and the path.
    EmptyHost,
    /// The host contains characters a host name cannot hold.
    InvalidHost,
    /// The host contains non-ASCII characters (an internationalised name).
    NonAsciiHost,
    /// The host looks like an IPv4 address but is not a valid one.
    InvalidIpv4,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// The URL contains a space or a control character.
    InvalidCharacter,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HTTP: ")?;
        match self {
            Self::InvalidUrl { url, problem } => write!(f, "the URL \"{url}\" {problem}"),
            Self::InvalidHeaderName(name) => write!(
                f,
                "the header name \"{name}\" is not allowed (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            Self::InvalidHeaderValue { name } => write!(
                f,
                "the value of the header \"{name}\" contains a line break or control character and was not sent"
            ),
            Self::ReservedHeader(name) => write!(
                f,
                "the header \"{name}\" is computed by the HTTP client and cannot be set by hand"
            ),
            Self::NoResponse => f.write_str("the server closed the connection without sending a response"),
            Self::TruncatedHead { received } => write!(
                f,
                "the server closed the connection in the middle of the response headers (after {received} bytes)"
            ),
            Self::MalformedStatusLine => {
                f.write_str("the server's reply does not start with a valid HTTP/1.x status line (is this an HTTP server, or the wrong port?)")
            }
            Self::MalformedHeader => f.write_str("the server sent a malformed response header line"),
            Self::HeadTooLarge { limit } => {
                write!(f, "the server's response headers are larger than {} KiB", limit / 1024)
            }
            Self::TooManyHeaders { limit } => write!(f, "the server sent more than {limit} response headers"),
            Self::InvalidContentLength(value) => {
                write!(f, "the server sent an invalid Content-Length \"{value}\"")
            }
            Self::ConflictingContentLength => {
                f.write_str("the server sent several Content-Length headers that disagree")
            }
            Self::UnsupportedTransferEncoding(value) => {
                write!(f, "the server used the unsupported Transfer-Encoding \"{value}\"")
            }
            Self::InvalidChunkSize { body_bytes } => write!(
                f,
                "the server sent an invalid chunk size in a chunked response (after {body_bytes} body bytes)"
            ),
            Self::ChunkLineTooLong { limit } => {
                write!(f, "the server sent a chunk-size line longer than {limit} bytes")
            }
            Self::MalformedChunk { body_bytes } => write!(
                f,
                "the server sent chunk data without the line break that must follow it (after {body_bytes} body bytes)"
            ),
            Self::MalformedTrailer => f.write_str("the server sent a malformed trailer line after the last chunk"),
            Self::TrailersTooLarge { limit } => {
                write!(f, "the server's trailer headers are larger than {} KiB", limit / 1024)
            }
            Self::TruncatedBody { received, expected } => write!(
                f,
                "the server closed the connection after {received} of {expected} body bytes"
            ),
            Self::TruncatedChunk { body_bytes } => write!(
                f,
                "the server closed the connection in the middle of a chunk (after {body_bytes} body bytes)"
            ),
            Self::TooManyInterimResponses { limit } => write!(
                f,
                "the server sent more than {limit} interim (1xx) responses without ever answering"
            ),
            Self::UnconfirmedEnd { body_bytes } => write!(
                f,
                "the server closed the connection after {body_bytes} body bytes without the TLS close_notify \
                 that confirms the end of the response, so it may have been cut short"
            ),
            Self::OutOfMemory { bytes } => {
                write!(f, "not enough memory to receive the server's response ({bytes} bytes needed)")
            }
            Self::Timeout { phase, limit_ms } => {
                let limit = Duration(*limit_ms);
                match phase {
                    Phase::Connect => write!(f, "could not connect to the server within {limit}"),
                    Phase::FirstByte => write!(f, "no response from the server within {limit}"),
                    Phase::Idle => write!(f, "the server sent nothing for {limit} in the middle of the response"),
                    Phase::Total => write!(f, "the exchange with the server took longer than the {limit} allowed"),
                }
            }
        }
    }
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::MissingScheme => f.write_str("does not start with http:// or https://"),
            Self::UnsupportedScheme(scheme) => {
                write!(f, "uses the scheme \"{scheme}\"; only http:// and https:// are supported")
            }
            Self::Userinfo => f.write_str(
                "contains a user name or password before the host; put credentials in the API key setting instead",
            ),
            Self::Ipv6NotSupported => {
                f.write_str("uses an IPv6 address, which is not supported yet; use a host name or an IPv4 address")
            }
            Self::EmptyHost => f.write_str("has no host name"),
            Self::InvalidHost => f.write_str("has an invalid host name (letters, digits, '-', '_' and '.' only)"),
            Self::NonAsciiHost => {
                f.write_str("has a non-ASCII host name, which is not supported yet; use its xn-- (punycode) form")
            }
            Self::InvalidIpv4 => f.write_str("has a host that looks like an IPv4 address but is not a valid one"),
            Self::InvalidPort => f.write_str("has an invalid port (a number from 1 to 65535 is needed)"),
            Self::InvalidCharacter => f.write_str("contains a space or a control character"),
        }
    }
}

/// Shows milliseconds the way a person reads a timeout: "60 s", "1.5 s", "250 ms".
struct Duration(u64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms < 1000 {
            return write!(f, "{ms} ms");
        }
        let (secs, frac) = (ms / 1000, ms % 1000);
        if frac == 0 {
            return write!(f, "{secs} s");
        }
        // Trailing zeros of the fraction say nothing: 1.500 s reads as 1.5 s.
        let (mut frac, mut digits) = (frac, 3);
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{secs}.{frac:0digits$} s")
    }
}

/// Makes foreign text safe to keep in an error and show on screen: control
/// characters and quotes are escaped, and long text is cut with an ellipsis.
pub(crate) fn shown(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == SHOWN_MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn durations_read_naturally() {
        let t = |ms| HttpError::Timeout { phase: Phase::FirstByte, limit_ms: ms }.to_string();
        assert_eq!(t(60_000), "HTTP: no response from the server within 60 s");
        assert_eq!(t(1_500), "HTTP: no response from the server within 1.5 s");
        assert_eq!(t(1_050), "HTTP: no response from the server within 1.05 s");
        assert_eq!(t(250), "HTTP: no response from the server within 250 ms");
    }

    #[test]
    fn foreign_text_is_escaped_and_clipped() {
        assert_eq!(shown("a\r\nb\"c"), "a\\r\\nb\\\"c");
        let long = "x".repeat(200);
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_MAX_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn every_message_starts_with_the_layer_and_reads_as_a_sentence() {
        let samples = [
            HttpError::NoResponse,
            HttpError::TruncatedChunk { body_bytes: 1234 },
            HttpError::InvalidUrl { url: "ftp://x".into(), problem: UrlProblem::UnsupportedScheme("ftp".into()) },
            HttpError::Timeout { phase: Phase::Idle, limit_ms: 60_000 },
        ];
        for e in samples {
            let s = e.to_string();
            assert!(s.starts_with("HTTP: "), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
        assert_eq!(
            HttpError::TruncatedChunk { body_bytes: 1234 }.to_string(),
            "HTTP: the server closed the connection in the middle of a chunk (after 1234 body bytes)"
        );
    }
}
