//! The small part of URL syntax that `base_url` needs: scheme, host and port.

use core::fmt;

use alloc::string::{String, ToString};

use crate::addr::Ipv4;

/// The parts of a `base_url` that validation looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BaseUrl<'a> {
    /// `https://` rather than `http://`.
    pub secure: bool,
    /// The host name or address, without brackets for IPv6.
    pub host: &'a str,
}

/// Why a `base_url` cannot be used; `Display` completes "base_url = "…" ".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Nothing was given.
    Empty,
    /// The URL contains whitespace, usually a copy-paste accident.
    Whitespace,
    /// There is no `scheme://` at all.
    NoScheme,
    /// The scheme is something other than `http` or `https`.
    UnsupportedScheme {
        /// The scheme as written, e.g. `ftp`.
        scheme: String,
    },
    /// Nothing follows `://`.
    MissingHost,
    /// A `user:password@` before the host: moteOS sends no such credentials.
    Userinfo,
    /// The port is not a number from 1 to 65535.
    BadPort {
        /// The port as written.
        port: String,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Empty => f.write_str("is empty"),
            UrlError::Whitespace => f.write_str("contains spaces; remove them"),
            UrlError::NoScheme => f.write_str("must start with http:// or https://"),
            UrlError::UnsupportedScheme { scheme } => {
                write!(f, "must start with http:// or https://, not {scheme}://")
            }
            UrlError::MissingHost => f.write_str("has no host name after the ://"),
            UrlError::Userinfo => f.write_str(
                "has a user name or password before the host, which moteOS does not send: remove it and put \
                 the key in api_key",
            ),
            UrlError::BadPort { port } => write!(f, "has the port `{port}`, which is not a number from 1 to 65535"),
        }
    }
}

/// Splits `url` into the parts validation needs, rejecting what the HTTP client cannot use.
pub(crate) fn parse_base_url(url: &str) -> Result<BaseUrl<'_>, UrlError> {
    if url.is_empty() {
        return Err(UrlError::Empty);
    }
    if url.chars().any(char::is_whitespace) {
        return Err(UrlError::Whitespace);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlError::NoScheme);
    };
    let secure = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(UrlError::UnsupportedScheme { scheme: scheme.to_string() });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // `user:password@host` is legal URL syntax, but the HTTP client sends no userinfo.
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err(UrlError::MissingHost),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if let Some(port) = port {
        let valid =
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return Err(UrlError::BadPort { port: port.to_string() });
        }
    }
    Ok(BaseUrl { secure, host })
}

/// Whether `host` names a machine on the local network or this one, where plain HTTP is normal.
///
/// Single-label names (`ollama`, `nas`) only resolve through the LAN's own DNS, so they count as
/// local too.
pub(crate) fn host_is_local(host: &str) -> bool {
    if let Ok(ip) = host.parse::<Ipv4>() {
        return ip.is_local();
    }
    if host.contains(':') {
        // IPv6: loopback, unique-local (fc00::/7) and link-local (fe80::/10).
        let lower = host.to_ascii_lowercase();
        return lower == "::1" || lower.starts_with("fc") || lower.starts_with("fd") || lower.starts_with("fe80:");
    }
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let local_suffixes = [".local", ".lan", ".internal", ".home.arpa", ".localhost"];
    lower == "localhost" || !lower.contains('.') || local_suffixes.iter().any(|s| lower.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_urls() {
        assert_eq!(parse_base_url("https://api.openai.com/v1"), Ok(BaseUrl { secure: true, host: "api.openai.com" }));
        assert_eq!(parse_base_url("http://192.168.1.10:11434/v1"), Ok(BaseUrl { secure: false, host: "192.168.1.10" }));
        assert_eq!(parse_base_url("HTTPS://example.com"), Ok(BaseUrl { secure: true, host: "example.com" }));
        assert_eq!(parse_base_url("http://[::1]:8080/v1"), Ok(BaseUrl { secure: false, host: "::1" }));
        assert_eq!(
            parse_base_url("https://user:pw@gw.example.com/x").map_err(|e| e.to_string()),
            Err(UrlError::Userinfo.to_string())
        );
    }

    #[test]
    fn rejects_unusable_urls() {
        assert_eq!(parse_base_url(""), Err(UrlError::Empty));
        assert_eq!(parse_base_url("api.openai.com/v1"), Err(UrlError::NoScheme));
        assert_eq!(parse_base_url("ftp://x.org"), Err(UrlError::UnsupportedScheme { scheme: "ftp".into() }));
        assert_eq!(parse_base_url("https://"), Err(UrlError::MissingHost));
        assert_eq!(parse_base_url("https:///v1"), Err(UrlError::MissingHost));
        assert_eq!(parse_base_url("http://host:99999/"), Err(UrlError::BadPort { port: "99999".into() }));
        assert_eq!(parse_base_url("http://host:/"), Err(UrlError::BadPort { port: "".into() }));
        assert_eq!(parse_base_url("http://host: 80/"), Err(UrlError::Whitespace));
        assert_eq!(parse_base_url("http://[::1/"), Err(UrlError::MissingHost));
    }

    #[test]
    fn knows_local_hosts() {
        for host in
            ["localhost", "127.0.0.1", "10.0.2.2", "192.168.1.10", "ollama", "nas.lan", "box.local", "::1", "fd00::1"]
        {
            assert!(host_is_local(host), "{host}");
        }
        for host in ["api.openai.com", "8.8.8.8", "example.com", "2001:db8::1"] {
            assert!(!host_is_local(host), "{host}");
        }
    }
}
