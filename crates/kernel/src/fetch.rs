//! A plain-HTTP download driven by the main loop, used by the network tests and
//! benchmark (`test-fetch=URL` in the boot options): resolve, connect, send the
//! request, stream the body through the HTTP parser and a SHA-256, report.

use crate::network::Network;
use crate::time;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use http::{Request, ResponseEvent, ResponseParser, TimeoutTracker, Timeouts, Url};
use log::{info, warn};
use net::{DnsQuery, NetError, TcpHandle, TcpState};
use sha2::{Digest, Sha256};

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
    fn pump_out(&mut self, stack: &mut net::NetStack<crate::drivers::nic::NicDevice>) -> Result<(), String> {
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
    fn pump_in(
        &mut self,
        stack: &mut net::NetStack<crate::drivers::nic::NicDevice>,
        plain: &mut Vec<u8>,
    ) -> Result<bool, String> {
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

/// One download in progress.
pub struct Fetch {
    text: String,
    url: Url,
    tls: Option<Arc<tls::rustls::ClientConfig>>,
    step: Step,
    parser: ResponseParser,
    hasher: Sha256,
    status: u16,
    started_ms: u64,
    first_byte_ms: Option<u64>,
    timeouts: TimeoutTracker,
    failure: Option<String>,
}

impl core::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fetch").field("url", &self.text).finish_non_exhaustive()
    }
}

/// How long to wait for the network before giving up on a test download.
const NETWORK_WAIT_MS: u64 = 60_000;

impl Fetch {
    /// Plans a download; bad URLs are reported and yield `None`. `https://` needs
    /// a TLS configuration; there is never a fallback to plain HTTP.
    pub fn new(text: &str, tls: Option<Arc<tls::rustls::ClientConfig>>) -> Option<Fetch> {
        let url = match Url::parse(text) {
            Ok(url) if url.is_tls() && tls.is_none() => {
                warn!("fetch: failed: {text}: TLS is not available (see the tls: lines above)");
                return None;
            }
            Ok(url) => url,
            Err(e) => {
                warn!("fetch: failed: {text}: {e}");
                return None;
            }
        };
        let now = time::now().as_millis();
        Some(Fetch {
            text: String::from(text),
            url,
            tls,
            step: Step::WaitingForNetwork,
            parser: ResponseParser::new(false),
            hasher: Sha256::new(),
            status: 0,
            started_ms: now,
            first_byte_ms: None,
            timeouts: TimeoutTracker::new(Timeouts::default(), now),
            failure: None,
        })
    }

    /// Why the download failed, once (for the screen).
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// Whether the download has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Finished)
    }

    /// Advances the download as far as it can go now. Returns whether it moved.
    pub fn step(&mut self, network: &mut Network) -> bool {
        match self.advance(network) {
            Ok(moved) => moved,
            Err(why) => {
                warn!("fetch: failed: {}: {why}", self.text);
                self.failure = Some(why);
                let handle = match &mut self.step {
                    Step::Connecting(h) => Some(*h),
                    Step::Exchanging(conn) => {
                        // Send the TLS alert explaining the refusal, then drop the connection.
                        let _ = conn.pump_out(network.stack());
                        Some(conn.handle)
                    }
                    _ => None,
                };
                if let Some(h) = handle {
                    let _ = network.stack().abort(h);
                    let _ = network.stack().release(h);
                }
                self.step = Step::Finished;
                true
            }
        }
    }

    fn advance(&mut self, network: &mut Network) -> Result<bool, String> {
        let now = time::now().as_millis();
        let stack = network.stack();
        match &mut self.step {
            Step::WaitingForNetwork => {
                let query = match stack.resolve(self.url.host()) {
                    Ok(query) => query,
                    Err(NetError::NoAddress) if now - self.started_ms < NETWORK_WAIT_MS => return Ok(false),
                    Err(e) => return Err(format!("{e}")),
                };
                self.started_ms = now;
                self.timeouts = TimeoutTracker::new(Timeouts::default(), now);
                self.step = Step::Resolving(query);
                Ok(true)
            }
            Step::Resolving(query) => match stack.dns_result(*query) {
                core::task::Poll::Pending => Ok(false),
                core::task::Poll::Ready(Err(e)) => Err(format!("{e}")),
                core::task::Poll::Ready(Ok(address)) => {
                    info!("fetch: {} is {address}", self.url.host());
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
                        let request = Request::get(self.url.clone()).encode().map_err(|e| format!("{e}"))?;
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
                        "fetch: TLS {version:?} with {} ({suite}), certificate verified; handshake {} ms",
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
                let (status, hasher) = (&mut self.status, &mut self.hasher);
                let mut sink = |event: ResponseEvent<'_>| match event {
                    ResponseEvent::Head(head) => *status = head.status,
                    ResponseEvent::Body(bytes) => hasher.update(bytes),
                    ResponseEvent::End => {}
                };
                self.parser.feed(&plain, &mut sink).map_err(|e| format!("{e}"))?;
                if closed && !self.parser.is_done() {
                    self.parser.finish(&mut sink).map_err(|e| format!("{e}"))?;
                }
                if self.parser.is_done() {
                    let handle = conn.handle;
                    if let Some(session) = conn.tls.as_mut() {
                        session.close();
                        let _ = conn.pump_out(stack);
                    }
                    let _ = stack.close(handle);
                    let _ = stack.release(handle);
                    self.report(now);
                    self.step = Step::Finished;
                    return Ok(true);
                }
                if closed {
                    return Err(String::from("the server closed the connection before the response was complete"));
                }
                if !moved {
                    self.timeouts.check(now).map_err(|e| format!("{e}"))?;
                }
                Ok(moved)
            }
            Step::Finished => Ok(false),
        }
    }

    fn report(&mut self, now: u64) {
        let digest = core::mem::take(&mut self.hasher).finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let total = now.saturating_sub(self.started_ms);
        let first = self.first_byte_ms.map_or(0, |t| t.saturating_sub(self.started_ms));
        let bytes = self.parser.body_bytes();
        let kib_per_s = (bytes * 1000 / 1024).checked_div(total).unwrap_or(0);
        info!(
            "fetch: done: {}: HTTP {}, {bytes} bytes, sha256 {hex}, {total} ms ({kib_per_s} KiB/s), first byte after {first} ms",
            self.text, self.status
        );
    }
}
