//! One TLS connection as a byte-in, byte-out state machine.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::mem;

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, EncodeTlsData, EncryptError, UnbufferedStatus, WriteTraffic};
use rustls::{ClientConfig, ProtocolVersion};

use crate::TlsError;
use crate::error::from_rustls;

/// Fixed part of the bound on state transitions in one [`TlsSession::process`] call.
///
/// A transition that does not end the call either consumes a record (at least 5 bytes of
/// input) or emits a handshake message (a flight has fewer than a dozen), so the bound is this
/// plus a share of the buffered input. It turns a hypothetical rustls livelock into an error
/// instead of a hung kernel.
const BASE_STEPS_PER_PROCESS: usize = 64;

/// Room reserved beyond the plaintext when encrypting: record headers, tags and padding for
/// a few records. Too little only costs a retry with the size rustls asks for.
const RECORD_OVERHEAD_GUESS: usize = 256;

/// The negotiated protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls12 => "TLS 1.2",
            Self::Tls13 => "TLS 1.3",
        })
    }
}

/// A client TLS connection that never touches the network itself.
///
/// The owner moves bytes between it and a TCP socket:
///
/// 1. send everything [`take_outgoing`](Self::take_outgoing) returns (the ClientHello is
///    ready right after [`new`](Self::new));
/// 2. [`feed`](Self::feed) whatever the socket received, then [`process`](Self::process);
/// 3. [`read`](Self::read) decrypted data; [`write`](Self::write) data to send (it is queued
///    until the handshake completes, then encrypted);
/// 4. repeat until [`peer_closed`](Self::peer_closed) or an error.
///
/// rustls' unbuffered API hands out short-lived borrowed states; this type keeps the buffers
/// those states need so the owner deals only in owned bytes.
pub struct TlsSession {
    conn: UnbufferedClientConnection,
    host: String,
    /// Ciphertext received but not yet consumed by rustls (partial records wait here).
    incoming: Vec<u8>,
    /// Ciphertext produced and not yet taken by the owner.
    outgoing: Vec<u8>,
    /// Plaintext written by the owner that is waiting for the handshake to finish.
    pending_plaintext: Vec<u8>,
    /// Decrypted application data not yet read.
    received: VecDeque<u8>,
    peer_closed: bool,
    close_requested: bool,
    close_sent: bool,
    /// The first error; rustls cannot continue after one, so every later call repeats it.
    failed: Option<TlsError>,
}

impl TlsSession {
    /// Starts a connection to `server_name` (a DNS name or an IP address literal) and
    /// prepares the ClientHello, which [`take_outgoing`](Self::take_outgoing) then returns.
    ///
    /// The name is both sent as SNI and checked against the server's certificate.
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, TlsError> {
        let host = String::from(server_name);
        let name =
            ServerName::try_from(server_name).map_err(|_| TlsError::InvalidHostName { host: host.clone() })?.to_owned();
        // rustls-rustcrypto's key exchange calls rand_core's OsRng, which panics if getrandom
        // fails. Ask getrandom once up front so a kernel without a seeded CSPRNG gets an error
        // it can show instead of a panic.
        getrandom::getrandom(&mut [0u8; 1]).map_err(|_| TlsError::NoEntropy)?;
        let conn = UnbufferedClientConnection::new(config, name).map_err(|e| from_rustls(e, &host, true))?;
        let mut session = Self {
            conn,
            host,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            pending_plaintext: Vec::new(),
            received: VecDeque::new(),
            peer_closed: false,
            close_requested: false,
            close_sent: false,
            failed: None,
        };
        session.process()?;
        Ok(session)
    }

    /// The server name this session was created for.
    pub fn server_name(&self) -> &str {
        &self.host
    }

    /// Appends ciphertext received from the server. Call [`process`](Self::process) next.
    pub fn feed(&mut self, incoming_ciphertext: &[u8]) {
        self.incoming.extend_from_slice(incoming_ciphertext);
    }

    /// Runs the state machine over everything fed so far: advances the handshake, decrypts
    /// application data, and encrypts queued plaintext (and a requested close_notify) once
    /// that is allowed.
    ///
    /// An error is final: the connection cannot recover, and every later call returns the
    /// same error. Any alert rustls wants to send about the failure is still left in
    /// [`take_outgoing`](Self::take_outgoing), so sending it before closing the socket is
    /// polite but optional.
    pub fn process(&mut self) -> Result<(), TlsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.drive() {
            Ok(()) => Ok(()),
            Err(err) => {
                let before_server_hello = self.conn.protocol_version().is_none();
                let err = from_rustls(err, &self.host, before_server_hello);
                self.flush_alert();
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Takes the ciphertext that should now be sent to the server, leaving nothing behind.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        mem::take(&mut self.outgoing)
    }

    /// True when [`take_outgoing`](Self::take_outgoing) would return bytes.
    pub fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Queues plaintext for the server and encrypts it as soon as the handshake allows.
    ///
    /// Always accepts all of `plaintext` (the return value is its length, mirroring
    /// `io::Write`); the resulting ciphertext appears in [`take_outgoing`](Self::take_outgoing).
    /// Fails after [`close`](Self::close) or an earlier error.
    pub fn write(&mut self, plaintext: &[u8]) -> Result<usize, TlsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.close_requested {
            return Err(TlsError::Closed);
        }
        self.pending_plaintext.extend_from_slice(plaintext);
        if !self.conn.is_handshaking() {
            self.process()?;
        }
        Ok(plaintext.len())
    }

    /// Copies decrypted application data into `out`; returns how many bytes were copied
    /// (0 when nothing is waiting).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.received.len());
        for (dst, src) in out.iter_mut().zip(self.received.drain(..n)) {
            *dst = src;
        }
        n
    }

    /// Number of decrypted bytes waiting for [`read`](Self::read).
    pub fn available(&self) -> usize {
        self.received.len()
    }

    /// True until the handshake has completed.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// True once the server sent close_notify: everything it will ever send has arrived
    /// (some of it may still wait in [`read`](Self::read)).
    ///
    /// A TCP close without this means the response may have been cut off.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Asks for a close_notify to be sent after any queued plaintext; it appears in
    /// [`take_outgoing`](Self::take_outgoing) (once the handshake is complete; before that
    /// there is nothing to protect, and simply closing the socket is enough).
    pub fn close(&mut self) {
        if self.close_requested || self.failed.is_some() {
            return;
        }
        self.close_requested = true;
        // An error here is kept in `failed` and reported by the next call that returns one.
        let _ = self.process();
    }

    /// The protocol version and cipher suite, once the server has chosen them.
    pub fn negotiated(&self) -> Option<(TlsVersion, &'static str)> {
        let version = match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
            ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
            _ => return None,
        };
        let suite = self.conn.negotiated_cipher_suite()?.suite().as_str().unwrap_or("unknown cipher suite");
        Some((version, suite))
    }

    /// The ALPN protocol the server picked, if any (`http/1.1` is the only one offered).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Steps rustls until it needs more input (or has nothing more to do).
    fn drive(&mut self) -> Result<(), rustls::Error> {
        let max_steps = BASE_STEPS_PER_PROCESS + self.incoming.len() / 5 * 2;
        for _ in 0..max_steps {
            let UnbufferedStatus { mut discard, state } = self.conn.process_tls_records(&mut self.incoming);
            let state = match state {
                Ok(state) => state,
                Err(err) => {
                    self.incoming.drain(..discard);
                    return Err(err);
                }
            };
            let settled = match state {
                ConnectionState::EncodeTlsData(mut encoder) => {
                    encode_into(&mut encoder, &mut self.outgoing)?;
                    false
                }
                ConnectionState::TransmitTlsData(mut transmit) => {
                    // The bytes are already in `outgoing`; the owner sends them after this call.
                    // In TLS 1.3 queued application data may ride along with the Finished.
                    if let Some(mut writer) = transmit.may_encrypt_app_data() {
                        flush_plaintext(&mut writer, &mut self.pending_plaintext, &mut self.outgoing)?;
                    }
                    transmit.done();
                    false
                }
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record?;
                        discard += record.discard;
                        self.received.extend(record.payload);
                    }
                    false
                }
                ConnectionState::PeerClosed => {
                    self.peer_closed = true;
                    false
                }
                ConnectionState::WriteTraffic(mut writer) => {
                    flush_plaintext(&mut writer, &mut self.pending_plaintext, &mut self.outgoing)?;
                    if self.close_requested && !self.close_sent {
                        append_close_notify(&mut writer, &mut self.outgoing)?;
                        self.close_sent = true;
                    }
                    true
                }
                ConnectionState::Closed => {
                    self.peer_closed = true;
                    true
                }
                // BlockedHandshake: waiting for the server. ReadEarlyData is server-only, and
                // variants added by future rustls versions are treated as "wait for input".
                _ => true,
            };
            self.incoming.drain(..discard);
            if settled {
                return Ok(());
            }
        }
        Err(rustls::Error::General("the TLS state machine did not settle".to_string()))
    }

    /// After a failure rustls usually holds a fatal alert for the server; move it to `outgoing`.
    ///
    /// Exactly one more call into rustls: the queued alert is handed out before any input is
    /// looked at, whereas a second call would parse the offending bytes again and make rustls
    /// send a second fatal alert, which trips a debug assertion inside it.
    fn flush_alert(&mut self) {
        let UnbufferedStatus { discard, state } = self.conn.process_tls_records(&mut self.incoming);
        if let Ok(ConnectionState::EncodeTlsData(mut encoder)) = state {
            // Best effort: the connection is dead either way.
            let _ = encode_into(&mut encoder, &mut self.outgoing);
        }
        self.incoming.drain(..discard);
    }
}

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("host", &self.host)
            .field("handshaking", &self.is_handshaking())
            .field("negotiated", &self.negotiated())
            .field("incoming", &self.incoming.len())
            .field("outgoing", &self.outgoing.len())
            .field("pending_plaintext", &self.pending_plaintext.len())
            .field("received", &self.received.len())
            .field("peer_closed", &self.peer_closed)
            .field("close_sent", &self.close_sent)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Appends one handshake record to `out`, growing it to the size rustls asks for.
fn encode_into(encoder: &mut EncodeTlsData<'_, ClientConnectionData>, out: &mut Vec<u8>) -> Result<(), rustls::Error> {
    let start = out.len();
    let mut room = 1024;
    loop {
        out.resize(start + room, 0);
        match encoder.encode(&mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(e)) if e.required_size > room => room = e.required_size,
            Err(e) => {
                out.truncate(start);
                return Err(rustls::Error::General(e.to_string()));
            }
        }
    }
}

/// Encrypts all queued plaintext into `out`.
fn flush_plaintext(
    writer: &mut WriteTraffic<'_, ClientConnectionData>,
    pending: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), rustls::Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let start = out.len();
    let mut room = pending.len() + RECORD_OVERHEAD_GUESS;
    loop {
        out.resize(start + room, 0);
        match writer.encrypt(pending, &mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                pending.clear();
                return Ok(());
            }
            Err(EncryptError::InsufficientSize(e)) if e.required_size > room => room = e.required_size,
            Err(e) => {
                out.truncate(start);
                return Err(match e {
                    EncryptError::EncryptExhausted => rustls::Error::EncryptError,
                    other => rustls::Error::General(other.to_string()),
                });
            }
        }
    }
}

/// Appends an encrypted close_notify alert to `out`.
fn append_close_notify(
    writer: &mut WriteTraffic<'_, ClientConnectionData>,
    out: &mut Vec<u8>,
) -> Result<(), rustls::Error> {
    let start = out.len();
    let mut room = RECORD_OVERHEAD_GUESS;
    loop {
        out.resize(start + room, 0);
        match writer.queue_close_notify(&mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                return Ok(());
            }
            Err(EncryptError::InsufficientSize(e)) if e.required_size > room => room = e.required_size,
            Err(e) => {
                out.truncate(start);
                return Err(rustls::Error::General(e.to_string()));
            }
        }
    }
}
