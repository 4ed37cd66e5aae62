//! The small subset of URLs an HTTP client needs: `http://` and `https://`
//! with a host name or IPv4 address, an optional port, a path and a query.
//!
//! Hand-written because no maintained URL crate works without `std` (the
//! `url` crate needs it, for IDNA among other things), and the subset is
//! small. Anything outside the subset is rejected with a sentence saying
//! why, rather than guessed at: a base URL usually comes from a hand-edited
//! configuration file.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::error::{HttpError, UrlProblem, shown};
use crate::redact::RedactedUrl;

/// URL text for an error message: credentials masked, then shortened and escaped.
fn shown_url(text: &str) -> String {
    shown(&format!("{}", RedactedUrl(text)))
}

/// The two schemes the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP over TCP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A parsed `http://` or `https://` URL, ready to connect to and to put in a
/// request line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    /// Lower-cased host name or dotted IPv4 address, without a trailing dot.
    host: String,
    port: u16,
    /// Starts with `/`; percent-encoded so it can go into a request line as is.
    path_and_query: String,
}

impl Url {
    /// Parses `text` (surrounding whitespace is ignored, a `#fragment` is
    /// dropped because it is never sent to the server).
    pub fn parse(text: &str) -> Result<Self, HttpError> {
        let text = text.trim();
        // The text is shown in the error (and so in the log): never with its credentials.
        let fail = |problem| Err(HttpError::InvalidUrl { url: shown_url(text), problem });
        if text.is_empty() {
            return fail(UrlProblem::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail(UrlProblem::InvalidCharacter);
        }
        let Some((scheme_text, rest)) = text.split_once("://") else {
            return fail(UrlProblem::MissingScheme);
        };
        let scheme = if scheme_text.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme_text.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme_text.is_empty() || scheme_text.contains(['/', '?', '#', '@']) {
            return fail(UrlProblem::MissingScheme);
        } else {
            return fail(UrlProblem::UnsupportedScheme(shown(scheme_text)));
        };

        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if authority.contains('@') {
            return fail(UrlProblem::Userinfo);
        }
        let (host, port) = match parse_authority(authority, scheme) {
            Ok(hp) => hp,
            Err(problem) => return fail(problem),
        };

        let tail = tail.split_once('#').map_or(tail, |(before, _)| before);
        let mut path_and_query = String::with_capacity(tail.len() + 1);
        if !tail.starts_with('/') {
            path_and_query.push('/');
        }
        push_encoded(&mut path_and_query, tail);
        Ok(Self { scheme, host, port, path_and_query })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name (lower case) or IPv4 address, as used for DNS, SNI and
    /// certificate checks.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as an IPv4 address when it is written as one, so the caller
    /// can skip DNS.
    pub fn host_ipv4(&self) -> Option<[u8; 4]> {
        parse_ipv4(&self.host).ok().flatten()
    }

    /// Whether the host is this machine or a private network address: `localhost`, 127.0.0.0/8,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or link-local 169.254.0.0/16. Names other than
    /// `localhost` count as public, whatever they resolve to (the answer comes from the network).
    pub fn host_is_loopback_or_private(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        matches!(self.host_ipv4(), Some([127 | 10, ..] | [172, 16..=31, ..] | [192, 168, ..] | [169, 254, ..]))
    }

    /// The port, with the scheme's default filled in.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target in origin form: path (at least `/`) and query.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// Whether the connection must be wrapped in TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// The value for the `Host` header: the host, plus `:port` when the port
    /// is not the scheme's default.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }

    /// Appends an API path to this base URL, with exactly one `/` between
    /// them: `https://api.anthropic.com` + `/v1/messages`, or
    /// `http://10.0.2.2:8080/v1/` + `chat/completions`.
    ///
    /// A query on the base (an `api-version=` of some gateways) stays at the
    /// end; a query on `path` is appended to it with `&`. Characters that
    /// cannot appear in a request line are percent-encoded.
    pub fn join(&self, path: &str) -> Url {
        let path = path.split_once('#').map_or(path, |(before, _)| before);
        let (base_path, base_query) = split_query(&self.path_and_query);
        let (add_path, add_query) = split_query(path);

        let mut joined = base_path.trim_end_matches('/').to_owned();
        joined.push('/');
        push_encoded(&mut joined, add_path.trim_start_matches('/'));
        let queries = [base_query, add_query];
        let mut first = true;
        for query in queries.into_iter().flatten().filter(|q| !q.is_empty()) {
            joined.push(if first { '?' } else { '&' });
            first = false;
            push_encoded(&mut joined, query);
        }
        Url { path_and_query: joined, ..self.clone() }
    }
}

impl core::str::FromStr for Url {
    type Err = HttpError;

    fn from_str(text: &str) -> Result<Self, HttpError> {
        Self::parse(text)
    }
}

/// Safe to log and show: the values of credential-looking query parameters (`?api-key=…`)
/// are replaced by [`crate::MASK`] (a `Url` never holds userinfo). The exact request target
/// is [`Url::path_and_query`].
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = format!("{}://{}{}", self.scheme.as_str(), self.authority(), self.path_and_query);
        write!(f, "{}", RedactedUrl(&full))
    }
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (s, None),
    }
}

fn parse_authority(authority: &str, scheme: Scheme) -> Result<(String, u16), UrlProblem> {
    if authority.starts_with('[') {
        return Err(UrlProblem::Ipv6NotSupported);
    }
    let (host, port) = match authority.split_once(':') {
        // More than one colon without brackets is an IPv6 address written
        // the way people type it.
        Some((_, port)) if port.contains(':') => return Err(UrlProblem::Ipv6NotSupported),
        Some((host, port)) => (host, parse_port(port, scheme)?),
        None => (authority, scheme.default_port()),
    };
    Ok((parse_host(host)?, port))
}

fn parse_port(text: &str, scheme: Scheme) -> Result<u16, UrlProblem> {
    // "host:" means the default port, as in browsers.
    if text.is_empty() {
        return Ok(scheme.default_port());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlProblem::InvalidPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlProblem::InvalidPort),
        Ok(port) => Ok(port),
    }
}

fn parse_host(text: &str) -> Result<String, UrlProblem> {
    // A fully qualified name may end in a dot; TLS name checks want it without.
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err(UrlProblem::EmptyHost);
    }
    if !text.is_ascii() {
        return Err(UrlProblem::NonAsciiHost);
    }
    if parse_ipv4(text)?.is_some() {
        return Ok(text.to_owned());
    }
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if text.len() > 253 || !text.split('.').all(valid_label) {
        return Err(UrlProblem::InvalidHost);
    }
    Ok(text.to_ascii_lowercase())
}

/// `Ok(Some)` for a dotted-quad address, `Ok(None)` for a host name, and an
/// error for names whose last label is numeric (`1.2.3.999`, `10.1`): such a
/// name can only be a mistyped address, since no top-level domain is numeric.
fn parse_ipv4(text: &str) -> Result<Option<[u8; 4]>, UrlProblem> {
    let last_label = text.rsplit('.').next().unwrap_or(text);
    if last_label.is_empty() || !last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let mut octets = [0u8; 4];
    let mut count = 0;
    for part in text.split('.') {
        let valid = !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit());
        // Leading zeros are octal in some parsers and decimal in others:
        // refuse the ambiguity.
        let ambiguous = part.len() > 1 && part.starts_with('0');
        let octet = part.parse::<u8>().ok().filter(|_| valid && !ambiguous);
        match (octet, octets.get_mut(count)) {
            (Some(value), Some(slot)) => *slot = value,
            _ => return Err(UrlProblem::InvalidIpv4),
        }
        count += 1;
    }
    if count == 4 { Ok(Some(octets)) } else { Err(UrlProblem::InvalidIpv4) }
}

/// Appends `text`, percent-encoding what may not appear in a request target
/// (controls, space, non-ASCII, and the delimiters RFC 3986 excludes) while
/// leaving existing `%XX` escapes and reserved characters alone.
fn push_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        let keep = b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}');
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn problem(text: &str) -> UrlProblem {
        match Url::parse(text) {
            Err(HttpError::InvalidUrl { problem, .. }) => problem,
            other => panic!("{text}: expected an invalid URL, got {other:?}"),
        }
    }

    #[test]
    fn https_defaults() {
        let url = Url::parse("https://api.anthropic.com").unwrap();
        assert_eq!(url.scheme(), Scheme::Https);
        assert!(url.is_tls());
        assert_eq!(url.host(), "api.anthropic.com");
        assert_eq!(url.port(), 443);
        assert_eq!(url.path_and_query(), "/");
        assert_eq!(url.authority(), "api.anthropic.com");
        assert_eq!(url.host_ipv4(), None);
        assert_eq!(url.to_string(), "https://api.anthropic.com/");
        assert_eq!("https://api.anthropic.com".parse::<Url>(), Ok(url));
    }

    #[test]
    fn http_with_ipv4_port_path_query() {
        let url = Url::parse("  HTTP://10.0.2.2:8080/v1/models?x=1&y=2#frag ").unwrap();
        assert_eq!(url.scheme(), Scheme::Http);
        assert!(!url.is_tls());
        assert_eq!(url.host(), "10.0.2.2");
        assert_eq!(url.host_ipv4(), Some([10, 0, 2, 2]));
        assert_eq!(url.port(), 8080);
        assert_eq!(url.path_and_query(), "/v1/models?x=1&y=2");
        assert_eq!(url.authority(), "10.0.2.2:8080");
        assert_eq!(url.to_string(), "http://10.0.2.2:8080/v1/models?x=1&y=2");
    }

    #[test]
    fn query_without_path_and_explicit_default_port() {
        let url = Url::parse("http://Example.COM.:80?q").unwrap();
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.port(), 80);
        assert_eq!(url.path_and_query(), "/?q");
        assert_eq!(url.authority(), "example.com");
        assert_eq!(Url::parse("https://h:/").unwrap().port(), 443);
    }

    #[test]
    fn unsafe_path_characters_are_encoded() {
        let url = Url::parse("http://h/a\u{e9}b/{x}%20y").unwrap();
        assert_eq!(url.path_and_query(), "/a%C3%A9b/%7Bx%7D%20y");
    }

    #[test]
    fn rejections() {
        assert_eq!(problem(""), UrlProblem::Empty);
        assert_eq!(problem("   "), UrlProblem::Empty);
        assert_eq!(problem("api.openai.com/v1"), UrlProblem::MissingScheme);
        assert_eq!(problem("://x"), UrlProblem::MissingScheme);
        assert_eq!(problem("ftp://x"), UrlProblem::UnsupportedScheme("ftp".into()));
        assert_eq!(problem("http://user:secret@host/"), UrlProblem::Userinfo);
        assert_eq!(problem("http://[::1]:8080/"), UrlProblem::Ipv6NotSupported);
        assert_eq!(problem("http://fe80::1/"), UrlProblem::Ipv6NotSupported);
        assert_eq!(problem("http:///path"), UrlProblem::EmptyHost);
        assert_eq!(problem("http://:80/"), UrlProblem::EmptyHost);
        assert_eq!(problem("http://ex ample.com/"), UrlProblem::InvalidCharacter);
        assert_eq!(problem("http://a\u{0}b/"), UrlProblem::InvalidCharacter);
        assert_eq!(problem("http://ex!ample.com/"), UrlProblem::InvalidHost);
        assert_eq!(problem("http://a..b/"), UrlProblem::InvalidHost);
        assert_eq!(problem("http://bücher.de/"), UrlProblem::NonAsciiHost);
        assert_eq!(problem("http://1.2.3.256/"), UrlProblem::InvalidIpv4);
        assert_eq!(problem("http://10.1/"), UrlProblem::InvalidIpv4);
        assert_eq!(problem("http://1.2.3.4.5/"), UrlProblem::InvalidIpv4);
        assert_eq!(problem("http://010.0.0.1/"), UrlProblem::InvalidIpv4);
        assert_eq!(problem("http://h:0/"), UrlProblem::InvalidPort);
        assert_eq!(problem("http://h:65536/"), UrlProblem::InvalidPort);
        assert_eq!(problem("http://h:+80/"), UrlProblem::InvalidPort);
        assert_eq!(problem("http://h:8o/"), UrlProblem::InvalidPort);
        let long_label = "a".repeat(64);
        assert_eq!(problem(&format!("http://{long_label}.com/")), UrlProblem::InvalidHost);
    }

    #[test]
    fn userinfo_error_hides_the_password() {
        let err = Url::parse("https://me:hunter2@api.example.com/v1").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("https://***@api.example.com/v1"), "{text}");
    }

    #[test]
    fn messages() {
        let msg = |t: &str| Url::parse(t).unwrap_err().to_string();
        assert_eq!(
            msg("http://[::1]/"),
            "HTTP: the URL \"http://[::1]/\" uses an IPv6 address, which is not supported yet; use a host name or an IPv4 address"
        );
        assert_eq!(
            msg("gopher://x"),
            "HTTP: the URL \"gopher://x\" uses the scheme \"gopher\"; only http:// and https:// are supported"
        );
    }

    #[test]
    fn credentials_never_reach_display_or_errors() {
        let url = Url::parse("https://gw.example/openai?api-version=2024&api-key=sk-secret-1").unwrap();
        assert_eq!(url.to_string(), "https://gw.example/openai?api-version=2024&api-key=***");
        // The request itself still carries it.
        assert!(url.path_and_query().ends_with("api-key=sk-secret-1"));
        assert!(url.join("/chat").to_string().ends_with("api-key=***"));
        let err = Url::parse("https://gw.example:99999/?token=sk-secret-2").unwrap_err().to_string();
        assert!(!err.contains("sk-secret-2") && err.contains("token=***"), "{err}");
        let err = Url::parse("https://me:hunter2@gw.example/?key=sk-secret-3").unwrap_err().to_string();
        assert!(!err.contains("hunter2") && !err.contains("sk-secret-3"), "{err}");
    }

    #[test]
    fn private_and_loopback_hosts() {
        for host in
            ["localhost", "127.0.0.1", "10.0.2.2", "172.16.0.1", "172.31.255.254", "192.168.1.10", "169.254.1.1"]
        {
            assert!(Url::parse(&format!("http://{host}:8080/")).unwrap().host_is_loopback_or_private(), "{host}");
        }
        for host in ["api.anthropic.com", "8.8.8.8", "172.32.0.1", "192.169.0.1", "localhost.evil.com", "11.0.0.1"] {
            assert!(!Url::parse(&format!("http://{host}/")).unwrap().host_is_loopback_or_private(), "{host}");
        }
    }

    #[test]
    fn join_without_double_slashes() {
        let anthropic = Url::parse("https://api.anthropic.com").unwrap();
        assert_eq!(anthropic.join("/v1/messages").to_string(), "https://api.anthropic.com/v1/messages");
        assert_eq!(anthropic.join("v1/messages").path_and_query(), "/v1/messages");

        let local = Url::parse("http://10.0.2.2:8080/v1").unwrap();
        assert_eq!(local.join("/chat/completions").to_string(), "http://10.0.2.2:8080/v1/chat/completions");
        let slash = Url::parse("http://10.0.2.2:8080/v1/").unwrap();
        assert_eq!(slash.join("/chat/completions").path_and_query(), "/v1/chat/completions");
        assert_eq!(slash.join("chat/completions").path_and_query(), "/v1/chat/completions");
        assert_eq!(slash.join("").path_and_query(), "/v1/");
    }

    #[test]
    fn join_keeps_queries() {
        let gateway = Url::parse("https://gw.example/openai?api-version=2024").unwrap();
        assert_eq!(gateway.join("/chat/completions").path_and_query(), "/openai/chat/completions?api-version=2024");
        assert_eq!(gateway.join("/models?limit=5#x").path_and_query(), "/openai/models?api-version=2024&limit=5");
        let plain = Url::parse("https://h").unwrap();
        assert_eq!(plain.join("/models?limit=5").path_and_query(), "/models?limit=5");
        assert_eq!(plain.join("/a b").path_and_query(), "/a%20b");
    }
}
