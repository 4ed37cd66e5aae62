//! Building a request and encoding it into the bytes sent on the wire.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{HttpError, shown};
use crate::url::Url;

/// The `User-Agent` sent unless the caller sets one.
pub const USER_AGENT: &str = concat!("moteOS/", env!("CARGO_PKG_VERSION"));

/// Request methods the providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: the response has no body (tell [`crate::ResponseParser::new`]).
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method token as sent in the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }

    /// Methods whose requests are expected to carry content; they get a
    /// `Content-Length: 0` even when the body is empty, which some servers
    /// and proxies insist on (411 Length Required otherwise).
    fn expects_body(self) -> bool {
        matches!(self, Self::Post | Self::Put | Self::Patch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP/1.1 request. Fields are public so providers can build requests
/// however suits them; [`Request::encode`] checks everything before sending.
///
/// `Debug` shows header names only for credentials (`Authorization`, `X-Api-Key`,
/// `Cookie`...), never their values, and the body's length rather than its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Where to send it; its path and query become the request target.
    pub url: Url,
    /// Extra headers in the order given. `Host`, `User-Agent` and
    /// `Connection` are added when absent; `Content-Length` is always computed.
    pub headers: Vec<(String, String)>,
    /// The body, sent with a `Content-Length`.
    pub body: Vec<u8>,
}

/// Headers whose values are secrets.
fn is_secret(name: &str) -> bool {
    ["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Headers<'a>(&'a [(String, String)]);
        impl fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut list = f.debug_list();
                for (name, value) in self.0 {
                    let value = if is_secret(name) { "<redacted>" } else { value.as_str() };
                    list.entry(&(name, value));
                }
                list.finish()
            }
        }
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &Headers(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Self {
        Self { method, url, headers: Vec::new(), body: Vec::new() }
    }

    /// A `GET` request.
    pub fn get(url: Url) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` request with `body`.
    pub fn post(url: Url, body: impl Into<Vec<u8>>) -> Self {
        Self { body: body.into(), ..Self::new(Method::Post, url) }
    }

    /// Adds a header (builder style). Nothing is checked until
    /// [`encode`](Self::encode), so building never fails.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The bytes to send: request line, headers, blank line, body.
    ///
    /// Fails when a header name is not a token, a value contains a line
    /// break or other control character (which would let text from a
    /// configuration file inject headers), or the caller set a header the
    /// client owns.
    pub fn encode(&self) -> Result<Vec<u8>, HttpError> {
        for (name, value) in &self.headers {
            check_header(name, value)?;
            if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(HttpError::ReservedHeader(shown(name)));
            }
        }

        let mut out = Vec::with_capacity(256 + self.body.len());
        let mut line = |parts: &[&[u8]]| {
            for part in parts {
                out.extend_from_slice(part);
            }
            out.extend_from_slice(b"\r\n");
        };
        line(&[self.method.as_str().as_bytes(), b" ", self.url.path_and_query().as_bytes(), b" HTTP/1.1"]);
        if !self.has_header("host") {
            line(&[b"Host: ", self.url.authority().as_bytes()]);
        }
        if !self.has_header("user-agent") {
            line(&[b"User-Agent: ", USER_AGENT.as_bytes()]);
        }
        for (name, value) in &self.headers {
            line(&[name.as_bytes(), b": ", value.trim_matches([' ', '\t']).as_bytes()]);
        }
        if !self.body.is_empty() || self.method.expects_body() {
            line(&[b"Content-Length: ", itoa(self.body.len() as u64).as_bytes()]);
        }
        // One request per connection: the server closing after the response
        // is what ends a close-delimited body, and no connection pool exists.
        if !self.has_header("connection") {
            line(&[b"Connection: close"]);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

fn itoa(n: u64) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write!(s, "{n}");
    s
}

fn check_header(name: &str, value: &str) -> Result<(), HttpError> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(HttpError::InvalidHeaderName(shown(name)));
    }
    // RFC 9110 field values: visible characters, space, tab and obs-text.
    // CR, LF and NUL are the injection risk; other controls are just as
    // invalid and some servers treat them as line ends too.
    let bad = |b: u8| (b < 0x20 && b != b'\t') || b == 0x7f;
    if value.bytes().any(bad) {
        return Err(HttpError::InvalidHeaderValue { name: shown(name) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_credentials() {
        let url = Url::parse("https://api.example.com/v1").unwrap();
        let request = Request::post(url, "{}").header("x-api-key", "sk-secret").header("Authorization", "Bearer sk-2");
        let shown = alloc::format!("{request:?}");
        assert!(!shown.contains("sk-secret") && !shown.contains("sk-2"), "{shown}");
        assert!(shown.contains("x-api-key"), "{shown}");
    }
    use alloc::string::ToString;
    use alloc::vec;

    fn text(req: &Request) -> String {
        String::from_utf8(req.encode().unwrap()).unwrap()
    }

    #[test]
    fn get_with_defaults() {
        let req = Request::get(Url::parse("https://api.anthropic.com/v1/models?limit=5").unwrap());
        assert_eq!(
            text(&req),
            alloc::format!(
                "GET /v1/models?limit=5 HTTP/1.1\r\nHost: api.anthropic.com\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
            )
        );
        assert!(USER_AGENT.starts_with("moteOS/0."));
    }

    #[test]
    fn post_with_body_headers_and_port() {
        let url = Url::parse("http://10.0.2.2:8080/v1").unwrap().join("chat/completions");
        let req = Request::post(url, "{\"a\":1}")
            .header("Authorization", "Bearer sk-x")
            .header("Content-Type", "application/json");
        assert_eq!(
            text(&req),
            alloc::format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 10.0.2.2:8080\r\nUser-Agent: {USER_AGENT}\r\n\
                 Authorization: Bearer sk-x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\
                 Connection: close\r\n\r\n{{\"a\":1}}"
            )
        );
    }

    #[test]
    fn empty_post_says_zero_length_and_get_says_nothing() {
        let url = Url::parse("http://h/").unwrap();
        assert!(text(&Request::post(url.clone(), vec![])).contains("\r\nContent-Length: 0\r\n"));
        assert!(!text(&Request::get(url.clone())).contains("Content-Length"));
        assert!(!text(&Request::new(Method::Delete, url.clone())).contains("Content-Length"));
        assert!(text(&Request::new(Method::Put, url.clone())).contains("\r\nContent-Length: 0\r\n"));
        let head = Request::new(Method::Head, url);
        assert!(text(&head).starts_with("HEAD / HTTP/1.1\r\n"));
    }

    #[test]
    fn caller_headers_replace_defaults() {
        let req = Request::get(Url::parse("http://h:81/").unwrap())
            .header("user-agent", "test/1")
            .header("CONNECTION", "keep-alive")
            .header("host", "other");
        let t = text(&req);
        assert!(!t.contains("moteOS/"), "{t}");
        assert!(!t.contains("close"), "{t}");
        assert!(!t.contains("Host: h"), "{t}");
        assert!(t.contains("\r\nhost: other\r\n"), "{t}");
        assert!(t.contains("\r\nuser-agent: test/1\r\n"), "{t}");
    }

    #[test]
    fn header_injection_is_rejected() {
        let url = Url::parse("http://h/").unwrap();
        for value in ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\0b", "a\x7fb", "a\x1bb"] {
            let err = Request::get(url.clone()).header("X-Api-Key", value).encode().unwrap_err();
            assert_eq!(err, HttpError::InvalidHeaderValue { name: "X-Api-Key".into() });
            // The value may be a secret: it never appears in the message.
            assert!(!err.to_string().contains(value), "{err}");
        }
        assert!(Request::get(url.clone()).header("X", "tab\tok é").encode().is_ok());
        for name in ["", "Bad Name", "X:Y", "X\r\nY", "é"] {
            let err = Request::get(url.clone()).header(name, "v").encode().unwrap_err();
            assert!(matches!(err, HttpError::InvalidHeaderName(_)), "{name:?}: {err:?}");
        }
        let err = Request::get(url.clone()).header("A\r\nB", "v").encode().unwrap_err();
        assert_eq!(
            err.to_string(),
            "HTTP: the header name \"A\\r\\nB\" is not allowed (letters, digits and !#$%&'*+-.^_`|~ only)"
        );
    }

    #[test]
    fn length_and_transfer_encoding_belong_to_the_client() {
        let url = Url::parse("http://h/").unwrap();
        let err = Request::post(url.clone(), "x").header("content-length", "5").encode().unwrap_err();
        assert_eq!(err, HttpError::ReservedHeader("content-length".into()));
        let err = Request::post(url, "x").header("Transfer-Encoding", "chunked").encode().unwrap_err();
        assert_eq!(
            err.to_string(),
            "HTTP: the header \"Transfer-Encoding\" is computed by the HTTP client and cannot be set by hand"
        );
    }

    #[test]
    fn values_are_trimmed_and_binary_bodies_pass_through() {
        let req = Request::post(Url::parse("http://h/").unwrap(), vec![0u8, 255, 13, 10]).header("X", "  v  ");
        let bytes = req.encode().unwrap();
        assert!(bytes.ends_with(b"\r\n\r\n\x00\xff\r\n"));
        assert!(bytes.windows(7).any(|w| w == b"\r\nX: v\r"));
    }
}
