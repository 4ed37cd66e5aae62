//! A plain-HTTP download driven by the main loop, used by the network tests and
//! benchmark (`test-fetch=URL` in the boot options): resolve, connect, send the
//! request, stream the body through the HTTP parser and a SHA-256, report.

use crate::network::Network;
use crate::time;
use alloc::format;
use alloc::string::String;
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
    Sending {
        handle: TcpHandle,
        request: Vec<u8>,
        sent: usize,
    },
    Receiving(TcpHandle),
    Finished,
}

/// One download in progress.
pub struct Fetch {
    text: String,
    url: Url,
    step: Step,
    parser: ResponseParser,
    hasher: Sha256,
    status: u16,
    started_ms: u64,
    first_byte_ms: Option<u64>,
    timeouts: TimeoutTracker,
}

impl core::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fetch").field("url", &self.text).finish_non_exhaustive()
    }
}

/// How long to wait for the network before giving up on a test download.
const NETWORK_WAIT_MS: u64 = 60_000;

impl Fetch {
    /// Plans a download; bad URLs are reported and yield `None`.
    pub fn new(text: &str) -> Option<Fetch> {
        let url = match Url::parse(text) {
            Ok(url) if !url.is_tls() => url,
            Ok(_) => {
                warn!("fetch: {text}: https is not available yet");
                return None;
            }
            Err(e) => {
                warn!("fetch: {text}: {e}");
                return None;
            }
        };
        let now = time::now().as_millis();
        Some(Fetch {
            text: String::from(text),
            url,
            step: Step::WaitingForNetwork,
            parser: ResponseParser::new(false),
            hasher: Sha256::new(),
            status: 0,
            started_ms: now,
            first_byte_ms: None,
            timeouts: TimeoutTracker::new(Timeouts::default(), now),
        })
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
                if let Step::Connecting(h) | Step::Sending { handle: h, .. } | Step::Receiving(h) = self.step {
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
                        self.step = Step::Sending { handle, request, sent: 0 };
                        Ok(true)
                    }
                    other => Err(format!("connection failed ({other:?})")),
                }
            }
            Step::Sending { handle, request, sent } => {
                let handle = *handle;
                *sent += stack.send(handle, &request[*sent..]).map_err(|e| format!("{e}"))?;
                if *sent == request.len() {
                    self.step = Step::Receiving(handle);
                }
                Ok(true)
            }
            Step::Receiving(handle) => {
                let handle = *handle;
                let mut buffer = [0u8; 8192];
                let mut moved = false;
                loop {
                    match stack.recv(handle, &mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            moved = true;
                            self.first_byte_ms.get_or_insert(now);
                            self.timeouts.on_bytes(now);
                            let (status, hasher) = (&mut self.status, &mut self.hasher);
                            self.parser
                                .feed(&buffer[..n], &mut |event| match event {
                                    ResponseEvent::Head(head) => *status = head.status,
                                    ResponseEvent::Body(bytes) => hasher.update(bytes),
                                    ResponseEvent::End => {}
                                })
                                .map_err(|e| format!("{e}"))?;
                        }
                        Err(NetError::ConnectionClosed { .. }) => {
                            let (status, hasher) = (&mut self.status, &mut self.hasher);
                            self.parser
                                .finish(&mut |event| match event {
                                    ResponseEvent::Head(head) => *status = head.status,
                                    ResponseEvent::Body(bytes) => hasher.update(bytes),
                                    ResponseEvent::End => {}
                                })
                                .map_err(|e| format!("{e}"))?;
                            break;
                        }
                        Err(e) => return Err(format!("{e}")),
                    }
                }
                if self.parser.is_done() {
                    let _ = stack.close(handle);
                    let _ = stack.release(handle);
                    self.report(now);
                    self.step = Step::Finished;
                    return Ok(true);
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
