//! One HTTP request and its response over the kernel's network, plain or TLS, driven
//! step by step from the main loop: resolve, connect, (handshake), send, then stream the
//! response through the HTTP parser to whoever asked (a download, a chat reply).

use crate::drivers::nic::NicDevice;
use crate::network::Network;
use crate::time;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use http::{Request, ResponseEvent, ResponseParser, TimeoutTracker, Timeouts, Url};
use log::info;
use net::{DnsQuery, NetError, NetStack, TcpHandle, TcpState};

/// How long to wait for the network to have an address before giving up.
const NETWORK_WAIT_MS: u64 = 60_000;

enum Step {
    /// Waiting for the network to have an address.
    WaitingForNetwork,
    Resolving(DnsQuery),
    Connecting(TcpHandle),
    /// Connected: the request is queued in `Conn::pending` (plain) or in the TLS
    /// session (which sends it once its handshake completes).
    Exchanging(Conn),
    Finished,
}

/// A TCP connection, plain or wrapped in TLS.
struct Conn {
    handle: TcpHandle,
    tls: Option<Box<tls::TlsSession>>,
    /// Bytes (plaintext or ciphertext) waiting for room in the TCP send buffer.
    pending: Vec<u8>,
    sent: usize,
    handshake_logged: bool,
    connected_ms: u64,
}

impl Conn {
    /// Moves queued output into TCP as far as it goes.
    fn pump_out(&mut self, stack: &mut NetStack<NicDevice>) -> Result<(), String> {
        if let Some(session) = self.tls.as_mut() {
            self.pending.extend(session.take_outgoing());
        }
        while self.sent < self.pending.len() {
            let n = stack.send(self.handle, &self.pending[self.sent..]).map_err(|e| format!("{e}"))?;
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

    /// Reads what TCP has into `plain` (decrypting if needed). Returns true when the
    /// server closed the connection.
    fn pump_in(&mut self, stack: &mut NetStack<NicDevice>, plain: &mut Vec<u8>) -> Result<bool, String> {
        let mut buffer = [0u8; 8192];
        let mut closed = false;
        loop {
            match stack.recv(self.handle, &mut buffer) {
                Ok(0) => break,
                Ok(n) => match self.tls.as_mut() {
                    Some(session) => session.feed(&buffer[..n]),
                    None => plain.extend_from_slice(&buffer[..n]),
                },
                Err(NetError::ConnectionClosed { .. }) => {
                    closed = true;
                    break;
                }
                Err(e) => return Err(format!("{e}")),
            }
        }
        if let Some(session) = self.tls.as_mut() {
            session.process().map_err(|e| format!("{e}"))?;
            let start = plain.len();
            plain.resize(start + session.available(), 0);
            let got = session.read(&mut plain[start..]);
            plain.truncate(start + got);
        }
        Ok(closed)
    }
}

/// One request/response exchange in progress.
pub struct Exchange {
    /// Short name for log lines ("fetch", "chat").
    tag: &'static str,
    url: Url,
    request: Vec<u8>,
    tls: Option<Arc<tls::rustls::ClientConfig>>,
    step: Step,
    parser: ResponseParser,
    timeouts: TimeoutTracker,
    limits: Timeouts,
    started_ms: u64,
    first_byte_ms: Option<u64>,
}

impl core::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Exchange").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Exchange {
    /// Plans `request`. `https://` needs a TLS configuration; there is never a
    /// fallback to plain HTTP.
    pub fn new(
        tag: &'static str,
        request: &Request,
        tls: Option<Arc<tls::rustls::ClientConfig>>,
        limits: Timeouts,
    ) -> Result<Exchange, String> {
        if request.url.is_tls() && tls.is_none() {
            return Err(String::from("TLS is not available (see the tls: lines in the log)"));
        }
        let bytes = request.encode().map_err(|e| format!("{e}"))?;
        let now = time::now().as_millis();
        Ok(Exchange {
            tag,
            url: request.url.clone(),
            request: bytes,
            tls,
            step: Step::WaitingForNetwork,
            parser: ResponseParser::for_request(request),
            timeouts: TimeoutTracker::new(limits, now),
            limits,
            started_ms: now,
            first_byte_ms: None,
        })
    }

    /// Whether the exchange has ended (complete, failed or aborted).
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Finished)
    }

    /// When the exchange started (after the network came up), in boot milliseconds.
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

    /// Advances as far as possible now, handing response events to `sink`. Returns
    /// whether anything moved; an error ends the exchange (the connection is dropped).
    pub fn step(&mut self, network: &mut Network, sink: &mut impl FnMut(ResponseEvent<'_>)) -> Result<bool, String> {
        let result = self.advance(network, sink);
        if result.is_err() {
            self.drop_connection(network, true);
        }
        result
    }

    /// Stops the exchange now (the user cancelled): the connection is reset.
    pub fn abort(&mut self, network: &mut Network) {
        self.drop_connection(network, false);
    }

    /// Ends an exchange whose reader has all it wants before the response's framing ended
    /// (a stream's end marker arrives before the last chunk): TLS says goodbye, TCP closes
    /// in the background, nothing is left open.
    pub fn close(&mut self, network: &mut Network) {
        let stack = network.stack();
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
            _ => {}
        }
    }

    fn drop_connection(&mut self, network: &mut Network, flush_alert: bool) {
        let handle = match &mut self.step {
            Step::Connecting(h) => Some(*h),
            Step::Exchanging(conn) => {
                if flush_alert {
                    // Send the TLS alert explaining a refusal before dropping the connection.
                    let _ = conn.pump_out(network.stack());
                }
                Some(conn.handle)
            }
            _ => None,
        };
        if let Some(h) = handle {
            let _ = network.stack().abort(h);
            let _ = network.stack().release(h);
        }
        self.step = Step::Finished;
    }

    fn advance(&mut self, network: &mut Network, sink: &mut impl FnMut(ResponseEvent<'_>)) -> Result<bool, String> {
        let now = time::now().as_millis();
        let stack = network.stack();
        match &mut self.step {
            Step::WaitingForNetwork => {
                // An IP literal "resolves" at once, but connecting needs our own address.
                if stack.address().is_none() {
                    if now - self.started_ms < NETWORK_WAIT_MS {
                        return Ok(false);
                    }
                    return Err(format!(
                        "the network has no address after {} s ({})",
                        NETWORK_WAIT_MS / 1000,
                        stack.status()
                    ));
                }
                let query = match stack.resolve(self.url.host()) {
                    Ok(query) => query,
                    Err(NetError::NoAddress) if now - self.started_ms < NETWORK_WAIT_MS => return Ok(false),
                    Err(e) => return Err(format!("{e}")),
                };
                self.started_ms = now;
                self.timeouts = TimeoutTracker::new(self.limits, now);
                self.step = Step::Resolving(query);
                Ok(true)
            }
            Step::Resolving(query) => match stack.dns_result(*query) {
                core::task::Poll::Pending => Ok(false),
                core::task::Poll::Ready(Err(e)) => Err(format!("{e}")),
                core::task::Poll::Ready(Ok(address)) => {
                    info!("{}: {} is {address}", self.tag, self.url.host());
                    let handle = stack.connect(address, self.url.port()).map_err(|e| format!("{e}"))?;
                    self.step = Step::Connecting(handle);
                    Ok(true)
                }
            },
            Step::Connecting(handle) => {
                let handle = *handle;
                match stack.tcp_state(handle) {
                    TcpState::Connecting => {
                        self.timeouts.check(now).map_err(|e| format!("{e}"))?;
                        Ok(false)
                    }
                    TcpState::Established => {
                        self.timeouts.on_connected(now);
                        let request = core::mem::take(&mut self.request);
                        let mut conn = Conn {
                            handle,
                            tls: None,
                            pending: Vec::new(),
                            sent: 0,
                            handshake_logged: false,
                            connected_ms: now,
                        };
                        match self.tls.as_ref().filter(|_| self.url.is_tls()) {
                            Some(config) => {
                                let mut session = tls::TlsSession::new(Arc::clone(config), self.url.host())
                                    .map_err(|e| format!("{e}"))?;
                                // Queued until the handshake completes, then encrypted.
                                session.write(&request).map_err(|e| format!("{e}"))?;
                                conn.tls = Some(Box::new(session));
                            }
                            None => conn.pending = request,
                        }
                        conn.pump_out(stack)?;
                        self.step = Step::Exchanging(conn);
                        Ok(true)
                    }
                    other => Err(format!("connection failed ({other:?})")),
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
                        "{}: TLS {version:?} with {} ({suite}), certificate verified; handshake {} ms",
                        self.tag,
                        self.url.host(),
                        now.saturating_sub(conn.connected_ms)
                    );
                }
                if closed && conn.tls.as_ref().is_some_and(|s| s.is_handshaking()) {
                    return Err(format!(
                        "TLS: {} closed the connection during the handshake; is this an https:// port?",
                        self.url.host()
                    ));
                }
                let moved = !plain.is_empty() || closed;
                if !plain.is_empty() {
                    self.first_byte_ms.get_or_insert(now);
                    self.timeouts.on_bytes(now);
                }
                self.parser.feed(&plain, sink).map_err(|e| format!("{e}"))?;
                if closed && !self.parser.is_done() {
                    // Over TLS only close_notify proves a close-delimited body complete.
                    let confirmed = conn.tls.as_ref().is_none_or(|s| s.peer_closed());
                    let finished =
                        if confirmed { self.parser.finish(sink) } else { self.parser.finish_unconfirmed(sink) };
                    finished.map_err(|e| format!("{e}"))?;
                }
                if self.parser.is_done() {
                    let handle = conn.handle;
                    if let Some(session) = conn.tls.as_mut() {
                        session.close();
                        let _ = conn.pump_out(stack);
                    }
                    let _ = stack.close(handle);
                    let _ = stack.release(handle);
                    self.step = Step::Finished;
                    return Ok(true);
                }
                if closed {
                    return Err(String::from("the server closed the connection before the response was complete"));
                }
                // Checked even while bytes flow: the overall deadline holds for a steady trickle.
                self.timeouts.check(now).map_err(|e| format!("{e}"))?;
                Ok(moved)
            }
            Step::Finished => Ok(false),
        }
    }
}
