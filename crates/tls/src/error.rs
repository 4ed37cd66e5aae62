//! Why a TLS connection failed, in words a user can act on.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use rustls::{AlertDescription, CertificateError, InvalidMessage, PeerIncompatible};

use crate::format_date;

/// Everything that can go wrong in this crate.
///
/// `Display` gives one sentence starting with `TLS:` that names the cause and, where there is
/// one, the fix. Variants carry the host name because the message is shown far from the code
/// that knew which server was being contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The wall clock does not know the time, so no certificate can be checked.
    ClockNotSet,
    /// The random number source is not ready (no CSPRNG seeded, getrandom hook failing).
    NoEntropy,
    /// The name given for the server is not a DNS name or IP address.
    InvalidHostName {
        /// The name as given.
        host: String,
    },
    /// A certificate in the server's chain has expired.
    CertificateExpired {
        /// The server.
        host: String,
        /// End of the validity period (seconds since the Unix epoch), if rustls said.
        not_after: Option<u64>,
        /// What the clock said, if rustls said.
        now: Option<u64>,
    },
    /// A certificate in the server's chain is not valid yet (often: the clock is wrong).
    CertificateNotYetValid {
        /// The server.
        host: String,
        /// Start of the validity period (seconds since the Unix epoch), if rustls said.
        not_before: Option<u64>,
        /// What the clock said, if rustls said.
        now: Option<u64>,
    },
    /// The certificate is valid but names other hosts.
    WrongHost {
        /// The server we wanted.
        host: String,
        /// The DNS names / addresses the certificate is valid for.
        presented: Vec<String>,
    },
    /// The chain does not lead to a trusted root (self-signed, private CA, incomplete chain).
    UnknownIssuer {
        /// The server.
        host: String,
    },
    /// The certificate was rejected for another reason (bad signature, revoked, wrong purpose).
    BadCertificate {
        /// The server.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server speaks only TLS versions older than 1.2.
    ProtocolTooOld {
        /// The server.
        host: String,
    },
    /// The server answered with something that is not TLS (typically plain HTTP).
    NotTls {
        /// The server.
        host: String,
    },
    /// The server aborted the handshake or connection with a TLS alert.
    AlertReceived {
        /// The server.
        host: String,
        /// The alert, in words (`handshake failure`).
        alert: String,
    },
    /// Client and server share no protocol version, cipher suite, group or signature scheme.
    Incompatible {
        /// The server.
        host: String,
        /// Which part of the negotiation failed.
        reason: String,
    },
    /// The server broke the protocol or the data was corrupted in transit.
    Protocol {
        /// The server.
        host: String,
        /// What happened.
        reason: String,
    },
    /// The extra CA file has a malformed PEM section.
    PemInvalid {
        /// The PEM parser's complaint.
        reason: String,
    },
    /// The extra CA file has no `CERTIFICATE` section at all.
    PemEmpty,
    /// A certificate in the extra CA file cannot be used as a trust anchor.
    CaCertificateInvalid {
        /// Position of the certificate in the file, counting from 1.
        number: usize,
        /// Why it was refused.
        reason: String,
    },
    /// The rustls configuration could not be built (a bug, not a user error).
    Config {
        /// rustls' complaint.
        reason: String,
    },
    /// Data was written after [`crate::TlsSession::close`].
    Closed,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClockNotSet => f.write_str("TLS: the clock is not set, so certificates cannot be checked"),
            Self::NoEntropy => f.write_str(
                "TLS: no random numbers are available (the CSPRNG was not seeded at boot), so no secure connection can be made",
            ),
            Self::InvalidHostName { host } => write!(f, "TLS: '{host}' is not a valid host name"),
            Self::CertificateExpired { host, not_after, now } => {
                write!(f, "TLS: the certificate for {host} ")?;
                match not_after {
                    Some(t) => write!(f, "expired on {}", format_date(*t))?,
                    None => f.write_str("has expired")?,
                }
                if let Some(now) = now {
                    write!(f, " (the clock says {})", format_date(*now))?;
                }
                Ok(())
            }
            Self::CertificateNotYetValid { host, not_before, now } => {
                write!(f, "TLS: the certificate for {host} is not valid ")?;
                match not_before {
                    Some(t) => write!(f, "until {}", format_date(*t))?,
                    None => f.write_str("yet")?,
                }
                match now {
                    Some(now) => write!(f, ", but the clock says {}; is the clock right?", format_date(*now)),
                    None => f.write_str("; is the clock right?"),
                }
            }
            Self::WrongHost { host, presented } => {
                if presented.is_empty() {
                    write!(f, "TLS: the certificate presented by {host} does not name {host}")
                } else if presented.contains(host) {
                    // Same text, other kind: an address listed as a DNS name or the reverse.
                    write!(
                        f,
                        "TLS: the certificate lists {host} with the wrong kind of entry (an IP address must be an \
                         IP address entry, a host name a DNS name entry)"
                    )
                } else {
                    write!(f, "TLS: the certificate is for {}, not {host}", presented.join(", "))
                }
            }
            Self::UnknownIssuer { host } => write!(
                f,
                "TLS: the certificate of {host} is not signed by a trusted authority (self-signed or unknown CA); \
                 add its CA with [tls] extra_ca_file"
            ),
            Self::BadCertificate { host, reason } => write!(f, "TLS: the certificate of {host} was rejected: {reason}"),
            Self::ProtocolTooOld { host } => write!(
                f,
                "TLS: {host} only speaks TLS 1.0/1.1, which are insecure; moteOS needs TLS 1.2 or 1.3"
            ),
            Self::NotTls { host } => write!(f, "TLS: {host} did not answer with TLS; is this an http:// port?"),
            Self::AlertReceived { host, alert } => write!(f, "TLS: {host} ended the connection with the alert '{alert}'"),
            Self::Incompatible { host, reason } => {
                write!(f, "TLS: {host} and moteOS have no TLS settings in common ({reason})")
            }
            Self::Protocol { host, reason } => write!(f, "TLS: the connection to {host} failed: {reason}"),
            Self::PemInvalid { reason } => write!(f, "TLS: the extra CA file is not valid PEM ({reason})"),
            Self::PemEmpty => f.write_str("TLS: the extra CA file contains no certificate"),
            Self::CaCertificateInvalid { number, reason } => write!(
                f,
                "TLS: certificate number {number} in the extra CA file cannot be used as an authority ({reason})"
            ),
            Self::Config { reason } => write!(f, "TLS: cannot set up the TLS client ({reason})"),
            Self::Closed => f.write_str("TLS: the connection was closed; nothing more can be sent"),
        }
    }
}

impl core::error::Error for TlsError {}

/// Translates a rustls error into a [`TlsError`] about `host`.
///
/// `before_server_hello` is true while no protocol version has been negotiated: a framing error
/// at that point means the peer is not speaking TLS at all, later it means corruption.
pub(crate) fn from_rustls(err: rustls::Error, host: &str, before_server_hello: bool) -> TlsError {
    let host = String::from(host);
    match err {
        rustls::Error::FailedToGetCurrentTime => TlsError::ClockNotSet,
        rustls::Error::FailedToGetRandomBytes => TlsError::NoEntropy,
        rustls::Error::InvalidCertificate(cert) => from_certificate_error(cert, host),
        rustls::Error::PeerIncompatible(why) => match why {
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled => TlsError::ProtocolTooOld { host },
            other => TlsError::Incompatible { host, reason: words(&format!("{other:?}")) },
        },
        rustls::Error::AlertReceived(AlertDescription::ProtocolVersion) => TlsError::ProtocolTooOld { host },
        rustls::Error::AlertReceived(alert) => TlsError::AlertReceived { host, alert: alert_words(alert) },
        rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType
            | InvalidMessage::UnknownProtocolVersion
            | InvalidMessage::MessageTooLarge,
        )
        | rustls::Error::PeerSentOversizedRecord
            if before_server_hello =>
        {
            TlsError::NotTls { host }
        }
        rustls::Error::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => TlsError::ProtocolTooOld { host },
        rustls::Error::InvalidMessage(what) => TlsError::Protocol {
            host,
            reason: format!("the server sent a malformed message ({})", words(&format!("{what:?}"))),
        },
        rustls::Error::DecryptError => {
            TlsError::Protocol { host, reason: "a record failed to decrypt (corrupted or tampered with)".to_string() }
        }
        rustls::Error::PeerMisbehaved(what) => TlsError::Protocol {
            host,
            reason: format!("the server broke the protocol ({})", words(&format!("{what:?}"))),
        },
        rustls::Error::NoApplicationProtocol => {
            TlsError::Incompatible { host, reason: "the server does not speak HTTP/1.1".to_string() }
        }
        other => TlsError::Protocol { host, reason: other.to_string() },
    }
}

fn from_certificate_error(err: CertificateError, host: String) -> TlsError {
    let secs = |t: rustls::pki_types::UnixTime| t.as_secs();
    match err {
        CertificateError::Expired => TlsError::CertificateExpired { host, not_after: None, now: None },
        CertificateError::ExpiredContext { time, not_after } => {
            TlsError::CertificateExpired { host, not_after: Some(secs(not_after)), now: Some(secs(time)) }
        }
        CertificateError::NotValidYet => TlsError::CertificateNotYetValid { host, not_before: None, now: None },
        CertificateError::NotValidYetContext { time, not_before } => {
            TlsError::CertificateNotYetValid { host, not_before: Some(secs(not_before)), now: Some(secs(time)) }
        }
        CertificateError::NotValidForName => TlsError::WrongHost { host, presented: Vec::new() },
        CertificateError::NotValidForNameContext { presented, .. } => {
            TlsError::WrongHost { host, presented: presented.iter().map(|p| presented_name(p)).collect() }
        }
        CertificateError::UnknownIssuer => TlsError::UnknownIssuer { host },
        CertificateError::BadSignature => TlsError::BadCertificate {
            host,
            reason: "its signature does not verify, or uses a key too weak to trust (RSA under 2048 bits)".to_string(),
        },
        CertificateError::BadEncoding => TlsError::BadCertificate { host, reason: "it is malformed".to_string() },
        CertificateError::Revoked => TlsError::BadCertificate { host, reason: "it has been revoked".to_string() },
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            TlsError::BadCertificate { host, reason: "it is not meant for TLS servers".to_string() }
        }
        CertificateError::UnhandledCriticalExtension => TlsError::BadCertificate {
            host,
            reason: "it has a critical extension that moteOS does not understand".to_string(),
        },
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => TlsError::BadCertificate {
            host,
            reason: "it is signed with an algorithm that moteOS does not support".to_string(),
        },
        other => {
            let detail = format!("{other:?}");
            // webpki's chain-building errors come wrapped as `Other`; name the common ones.
            let reason = if detail.contains("EndEntityUsedAsCa") {
                "a certificate that is not a CA (CA:false) signed another one in its chain".to_string()
            } else if detail.contains("CaUsedAsEndEntity") {
                "it is a CA certificate, not a server certificate".to_string()
            } else {
                words(&detail)
            };
            TlsError::BadCertificate { host, reason }
        }
    }
}

/// webpki describes the names in a certificate as `DnsName("example.com")` or
/// `IpAddress(10.0.0.1)`; users want just the name.
fn presented_name(raw: &str) -> String {
    let inner = raw
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .or_else(|| raw.strip_prefix("IpAddress(").and_then(|s| s.strip_suffix(')')));
    String::from(inner.unwrap_or(raw))
}

/// `HandshakeFailure` → `handshake failure`, the spelling of RFC 8446 with spaces.
fn alert_words(alert: AlertDescription) -> String {
    match alert.as_str() {
        Some(name) => words(name),
        None => format!("unknown alert {}", u8::from(alert)),
    }
}

/// Splits a Rust identifier in CamelCase (possibly followed by a `(..)` payload) into lowercase
/// words, so that enum names from rustls read as text.
fn words(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 8);
    let mut prev_lower = false;
    for c in ident.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn messages_name_the_cause() {
        let host = "api.example.com";
        let wrong = from_rustls(
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("api.example.com").unwrap().to_owned(),
                presented: vec!["DnsName(\"other.example\")".to_string()],
            }),
            host,
            false,
        );
        assert_eq!(wrong.to_string(), "TLS: the certificate is for other.example, not api.example.com");

        let expired = TlsError::CertificateExpired { host: host.into(), not_after: Some(1_714_521_600), now: None };
        assert_eq!(expired.to_string(), "TLS: the certificate for api.example.com expired on 2024-05-01");

        assert_eq!(
            from_rustls(rustls::Error::FailedToGetCurrentTime, host, true).to_string(),
            "TLS: the clock is not set, so certificates cannot be checked"
        );
        let alert = from_rustls(rustls::Error::AlertReceived(AlertDescription::HandshakeFailure), host, false);
        assert_eq!(alert.to_string(), "TLS: api.example.com ended the connection with the alert 'handshake failure'");
        assert_eq!(
            from_rustls(rustls::Error::AlertReceived(AlertDescription::ProtocolVersion), host, true),
            TlsError::ProtocolTooOld { host: host.into() }
        );
    }

    #[test]
    fn framing_errors_mean_not_tls_only_before_the_server_hello() {
        let err = || rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType);
        assert!(matches!(from_rustls(err(), "h", true), TlsError::NotTls { .. }));
        assert!(matches!(from_rustls(err(), "h", false), TlsError::Protocol { .. }));
    }

    #[test]
    fn identifiers_become_words() {
        assert_eq!(words("NoCipherSuitesInCommon"), "no cipher suites in common");
        assert_eq!(words("MissingData(\"x\")"), "missing data(\"x\")");
        assert_eq!(presented_name("IpAddress(10.0.2.2)"), "10.0.2.2");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }
}
