//! Why a request failed, in words a user can act on.

use alloc::string::String;
use core::fmt;

use http::HttpError;
use net::{NetError, TcpState};
use tls::TlsError;

/// A failed exchange. `Display` is the sentence shown on screen and in the log; it never
/// contains credentials (the request's headers are not part of any variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// `https://` was asked for but TLS could not be set up at boot.
    TlsUnavailable,
    /// The request could not be encoded (a header with a line break...).
    Request(HttpError),
    /// The network never got an address.
    NoAddress {
        /// How long the exchange waited, in seconds.
        waited_s: u64,
        /// The network's state at the end, e.g. "DHCP: no answer yet".
        status: String,
    },
    /// The network stack refused or failed (DNS, routing, connect, send, receive).
    Net(NetError),
    /// The connection ended before it was established.
    ConnectFailed {
        /// The server.
        host: String,
        /// How it ended.
        state: TcpState,
    },
    /// The TLS layer refused the server or failed.
    Tls(TlsError),
    /// The server closed the connection in the middle of the TLS handshake.
    HandshakeClosed {
        /// The server.
        host: String,
    },
    /// The response was malformed, too large, or too slow.
    Http(HttpError),
    /// The server closed the connection before the response was complete.
    ClosedEarly,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::TlsUnavailable => {
                f.write_str("TLS is not available, so https:// cannot be used (see the tls: lines in the log)")
            }
            ClientError::Request(e) => write!(f, "the request cannot be sent: {e}"),
            ClientError::NoAddress { waited_s, status } => {
                write!(f, "the network has no address after {waited_s} s ({status})")
            }
            ClientError::Net(e) => write!(f, "{e}"),
            ClientError::ConnectFailed { host, state } => write!(f, "the connection to {host} failed ({state:?})"),
            ClientError::Tls(e) => write!(f, "{e}"),
            ClientError::HandshakeClosed { host } => {
                write!(f, "TLS: {host} closed the connection during the handshake; is this an https:// port?")
            }
            ClientError::Http(e) => write!(f, "{e}"),
            ClientError::ClosedEarly => {
                f.write_str("the server closed the connection before the response was complete")
            }
        }
    }
}

impl From<NetError> for ClientError {
    fn from(e: NetError) -> Self {
        ClientError::Net(e)
    }
}

impl From<TlsError> for ClientError {
    fn from(e: TlsError) -> Self {
        ClientError::Tls(e)
    }
}

impl From<HttpError> for ClientError {
    fn from(e: HttpError) -> Self {
        ClientError::Http(e)
    }
}
