//! One request/response exchange, step by step: wait for an address, resolve, connect,
//! (handshake), send, then stream the response through the HTTP parser.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::task::Poll;

use http::{Request, ResponseEvent, ResponseParser, TimeoutTracker, Timeouts, Url};
use log::info;
use net::{Device, DnsQuery, NetError, NetStack, TcpHandle, TcpState};
use tls::TlsSession;
use tls::rustls::ClientConfig;

use crate::error::ClientError;

/// How long to wait for the network to have an address before giving up.
pub const NETWORK_WAIT_MS: u64 = 60_000;

/// The most response bytes one [`Exchange::step`] takes from the connection. Bounds the
/// work between two looks at the keyboard when a server sends faster than we draw
/// (under emulation, decrypting and parsing 16 KiB takes a few milliseconds).
pub const MAX_BYTES_PER_STEP: usize = 16 * 1024;

/// Bytes read from TCP per call (and the stack buffer they go through).
const READ_CHUNK: usize = 4096;

enum Step {
    /// Waiting for the network to have an address.
    WaitingForNetwork,
    Resolving(DnsQuery),
    Connecting(TcpHandle),
    /// Connected: the request is queued in `Conn::pending` (plain) or in the TLS session
    /// (which sends it once its handshake completes).
    Exchanging(Box<Conn>),
    Finished,
}

/// A TCP connection, plain or wrapped in TLS.
struct Conn {
    handle: TcpHandle,
    tls: Option<TlsSession>,
    /// Bytes (plaintext or ciphertext) waiting for room in the TCP send buffer.
    pending: Vec<u8>,
    sent: usize,
    handshake_logged: bool,
    connected_ms: u64,
}

impl Conn {
    /// Moves queued output into TCP as far as it goes.
    fn pump_out<D: Device>(&mut self, stack: &mut NetStack<D>) -> Result<(), ClientError> {
        if let Some(session) = self.tls.as_mut() {
            self.pending.extend(session.take_outgoing());
        }
        while self.sent < self.pending.len() {
            let n = stack.send(self.handle, &self.pending[self.sent..])?;
            if n == 0 {
                break;
            }
            self.sent += n;
        }
        if self.sent == self.pending.len() {
            self.pending.clear();
            self.sent = 0;
        }
        Ok(())
    }

    /// Reads up to [`MAX_BYTES_PER_STEP`] from TCP into `plain` (decrypting if needed).
    /// Returns whether the server closed the connection.
    fn pump_in<D: Device>(&mut self, stack: &mut NetStack<D>, plain: &mut Vec<u8>) -> Result<bool, ClientError> {
        let mut buffer = [0u8; READ_CHUNK];
        let mut taken = 0;
        let mut closed = false;
        while taken < MAX_BYTES_PER_STEP {
            match stack.recv(self.handle, &mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    taken += n;
                    match self.tls.as_mut() {
                        Some(session) => session.feed(&buffer[..n]),
                        None => plain.extend_from_slice(&buffer[..n]),
                    }
                }
                Err(NetError::ConnectionClosed { .. }) => {
                    closed = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(session) = self.tls.as_mut() {
            session.process()?;
            let start = plain.len();
            plain.resize(start + session.available(), 0);
            let got = session.read(&mut plain[start..]);
            plain.truncate(start + got);
        }
        Ok(closed)
    }

    /// Whether more input is waiting in TCP than this step took.
    fn has_input<D: Device>(&self, stack: &mut NetStack<D>) -> bool {
        stack.can_recv(self.handle)
    }
}

/// One request/response exchange in progress.
pub struct Exchange {
    url: Url,
    request: Vec<u8>,
    tls: Option<Arc<ClientConfig>>,
    step: Step,
    parser: ResponseParser,
    timeouts: TimeoutTracker,
    limits: Timeouts,
    started_ms: u64,
    first_byte_ms: Option<u64>,
    /// Input was left in TCP at the end of the last step: call again without waiting.
    more: bool,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL's Display never shows credentials; the request bytes (with the key) are left out.
        f.debug_struct("Exchange").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Exchange {
    /// Plans `request`. `https://` needs a TLS configuration; there is never a fallback to
    /// plain HTTP.
    pub fn new(
        request: &Request,
        tls: Option<Arc<ClientConfig>>,
        limits: Timeouts,
        now_ms: u64,
    ) -> Result<Exchange, ClientError> {
        if request.url.is_tls() && tls.is_none() {
            return Err(ClientError::TlsUnavailable);
        }
        let bytes = request.encode().map_err(ClientError::Request)?;
        Ok(Exchange {
            url: request.url.clone(),
            request: bytes,
            tls,
            step: Step::WaitingForNetwork,
            parser: ResponseParser::for_request(request),
            timeouts: TimeoutTracker::new(limits, now_ms),
            limits,
            started_ms: now_ms,
            first_byte_ms: None,
            more: false,
        })
    }

    /// The server's host name, for messages.
    pub fn host(&self) -> &str {
        self.url.host()
    }

    /// Whether the exchange has ended (complete, failed or aborted).
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Finished)
    }

    /// Whether the last step left input unread: the caller should step again soon
    /// rather than wait for the next packet.
    pub fn has_more(&self) -> bool {
        self.more && !self.is_finished()
    }

    /// When the exchange started (once the network had an address), in the caller's
    /// milliseconds.
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    /// When the first response byte arrived.
    pub fn first_byte_ms(&self) -> Option<u64> {
        self.first_byte_ms
    }

    /// Bytes of response body received.
    pub fn body_bytes(&self) -> u64 {
        self.parser.body_bytes()
    }

    /// Advances as far as a bounded amount of work allows, handing response events to
    /// `sink`. Returns whether anything moved; an error ends the exchange (the connection
    /// is dropped, a TLS alert explaining a refusal is sent first).
    pub fn step<D: Device>(
        &mut self,
        stack: &mut NetStack<D>,
        now_ms: u64,
        sink: &mut impl FnMut(ResponseEvent<'_>),
    ) -> Result<bool, ClientError> {
        let result = self.advance(stack, now_ms, sink);
        if result.is_err() {
            self.drop_connection(stack, true);
        }
        result
    }

    /// Stops the exchange now (the user cancelled): the connection is reset.
    pub fn abort<D: Device>(&mut self, stack: &mut NetStack<D>) {
        self.drop_connection(stack, false);
    }

    /// Ends an exchange whose reader has all it wants before the response's framing
    /// ended (a stream's end marker arrives before the last chunk): TLS says goodbye,
    /// TCP closes in the background, nothing is left open.
    pub fn close<D: Device>(&mut self, stack: &mut NetStack<D>) {
        match core::mem::replace(&mut self.step, Step::Finished) {
            Step::Exchanging(mut conn) => {
                if let Some(session) = conn.tls.as_mut() {
                    session.close();
                    let _ = conn.pump_out(stack);
                }
                let _ = stack.close(conn.handle);
                let _ = stack.release(conn.handle);
            }
            Step::Connecting(handle) => {
                let _ = stack.abort(handle);
                let _ = stack.release(handle);
            }
            Step::Resolving(query) => stack.cancel_dns(query),
            Step::WaitingForNetwork | Step::Finished => {}
        }
    }

    fn drop_connection<D: Device>(&mut self, stack: &mut NetStack<D>, flush_alert: bool) {
        match core::mem::replace(&mut self.step, Step::Finished) {
            Step::Connecting(handle) => {
                let _ = stack.abort(handle);
                let _ = stack.release(handle);
            }
            Step::Exchanging(mut conn) => {
                if flush_alert {
                    let _ = conn.pump_out(stack);
                }
                let _ = stack.abort(conn.handle);
                let _ = stack.release(conn.handle);
            }
            Step::Resolving(query) => stack.cancel_dns(query),
            Step::WaitingForNetwork | Step::Finished => {}
        }
    }

    fn advance<D: Device>(
        &mut self,
        stack: &mut NetStack<D>,
        now: u64,
        sink: &mut impl FnMut(ResponseEvent<'_>),
    ) -> Result<bool, ClientError> {
        self.more = false;
        match &mut self.step {
            Step::WaitingForNetwork => {
                let waited = now.saturating_sub(self.started_ms);
                // An IP literal "resolves" at once, but connecting needs our own address.
                if stack.address().is_none() {
                    if waited < NETWORK_WAIT_MS {
                        return Ok(false);
                    }
                    return Err(ClientError::NoAddress {
                        waited_s: NETWORK_WAIT_MS / 1000,
                        status: stack.status().to_string(),
                    });
                }
                let query = match stack.resolve(self.url.host()) {
                    Ok(query) => query,
                    Err(NetError::NoAddress) if waited < NETWORK_WAIT_MS => return Ok(false),
                    Err(e) => return Err(e.into()),
                };
                self.started_ms = now;
                self.timeouts = TimeoutTracker::new(self.limits, now);
                self.step = Step::Resolving(query);
                Ok(true)
            }
            Step::Resolving(query) => match stack.dns_result(*query) {
                Poll::Pending => Ok(false),
                Poll::Ready(Err(e)) => Err(e.into()),
                Poll::Ready(Ok(address)) => {
                    info!("client: {} is {address}", self.url.host());
                    let handle = stack.connect(address, self.url.port())?;
                    self.step = Step::Connecting(handle);
                    Ok(true)
                }
            },
            Step::Connecting(handle) => {
                let handle = *handle;
                match stack.tcp_state(handle) {
                    TcpState::Connecting => {
                        self.timeouts.check(now)?;
                        Ok(false)
                    }
                    TcpState::Established => {
                        self.timeouts.on_connected(now);
                        let request = core::mem::take(&mut self.request);
                        let mut conn = Box::new(Conn {
                            handle,
                            tls: None,
                            pending: Vec::new(),
                            sent: 0,
                            handshake_logged: false,
                            connected_ms: now,
                        });
                        match self.tls.as_ref().filter(|_| self.url.is_tls()) {
                            Some(config) => {
                                let mut session = TlsSession::new(Arc::clone(config), self.url.host())?;
                                // Queued until the handshake completes, then encrypted.
                                session.write(&request)?;
                                conn.tls = Some(session);
                            }
                            None => conn.pending = request,
                        }
                        conn.pump_out(stack)?;
                        self.step = Step::Exchanging(conn);
                        Ok(true)
                    }
                    state => Err(ClientError::ConnectFailed { host: String::from(self.url.host()), state }),
                }
            }
            Step::Exchanging(conn) => {
                let mut plain = Vec::new();
                let closed = conn.pump_in(stack, &mut plain)?;
                conn.pump_out(stack)?;
                if let Some(session) = conn.tls.as_ref()
                    && !conn.handshake_logged
                    && !session.is_handshaking()
                    && let Some((version, suite)) = session.negotiated()
                {
                    conn.handshake_logged = true;
                    info!(
                        "client: TLS {version:?} with {} ({suite}), certificate verified; handshake {} ms",
                        self.url.host(),
                        now.saturating_sub(conn.connected_ms)
                    );
                }
                if closed && conn.tls.as_ref().is_some_and(TlsSession::is_handshaking) {
                    return Err(ClientError::HandshakeClosed { host: String::from(self.url.host()) });
                }
                let moved = !plain.is_empty() || closed;
                if !plain.is_empty() {
                    self.first_byte_ms.get_or_insert(now);
                    self.timeouts.on_bytes(now);
                }
                self.parser.feed(&plain, sink)?;
                if closed && !self.parser.is_done() {
                    // Over TLS only close_notify proves a close-delimited body complete.
                    let confirmed = conn.tls.as_ref().is_none_or(|s| s.peer_closed());
                    if confirmed {
                        self.parser.finish(sink)?;
                    } else {
                        self.parser.finish_unconfirmed(sink)?;
                    }
                }
                if self.parser.is_done() {
                    self.close(stack);
                    return Ok(true);
                }
                if closed {
                    return Err(ClientError::ClosedEarly);
                }
                // Checked even while bytes flow: the overall deadline holds for a steady trickle.
                self.timeouts.check(now)?;
                self.more = conn.has_input(stack);
                Ok(moved)
            }
            Step::Finished => Ok(false),
        }
    }
}
