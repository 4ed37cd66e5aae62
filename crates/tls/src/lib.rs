//! TLS for moteOS: a sans-I/O TLS 1.2/1.3 client on top of rustls' unbuffered API.
//!
//! The kernel owns the TCP socket; this crate only turns bytes into bytes. A connection is a
//! [`TlsSession`]: feed it what arrived from the server, call [`TlsSession::process`], send what
//! [`TlsSession::take_outgoing`] returns, and read decrypted data with [`TlsSession::read`].
//!
//! Certificates are always verified (chain to a trusted root, host name, validity period at the
//! time told by a [`WallClock`]); there is deliberately no switch to turn that off. Roots come
//! from Mozilla's list (`webpki-roots`) plus an optional PEM bundle ([`TrustStore::add_pem`]).
//! Cryptography is the pure-Rust `rustls-rustcrypto` provider, whose randomness comes from
//! `getrandom` 0.2; on UEFI the kernel must route that to [`csprng::fill_global`] (the module
//! documentation of [`csprng`] has the exact snippet).
//!
//! Every failure is a [`TlsError`] whose `Display` is a sentence for the user.
//!
//! # Driving a session over TCP
//!
//! ```ignore
//! let config = tls::client_config(&trust_store, clock)?; // once; share the Arc
//! let mut tls = tls::TlsSession::new(config.clone(), "api.anthropic.com")?;
//! tls.write(request_bytes)?; // queued until the handshake is done
//! loop {
//!     let out = tls.take_outgoing();
//!     if !out.is_empty() {
//!         socket.send_all(&out)?; // whatever the net crate offers; keep unsent bytes
//!     }
//!     let n = socket.recv(&mut buf)?; // after polling the interface
//!     if n > 0 {
//!         tls.feed(&buf[..n]);
//!         tls.process()?; // TlsError: show it to the user
//!     }
//!     let got = tls.read(&mut plain);
//!     http_parser.push(&plain[..got]);
//!     if tls.peer_closed() || socket_closed { break; }
//! }
//! tls.close();
//! socket.send_all(&tls.take_outgoing())?;
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod clock;
mod config;
pub mod csprng;
mod error;
mod session;
mod trust;
mod verify;

pub use clock::{WallClock, WallClockTime, format_date};
pub use config::client_config;
pub use error::TlsError;
pub use session::{TlsSession, TlsVersion};
pub use trust::TrustStore;
pub use verify::MIN_RSA_BITS;

/// rustls, re-exported so callers name the exact version this crate was built with
/// (for example `Arc<tls::rustls::ClientConfig>`).
pub use rustls;
