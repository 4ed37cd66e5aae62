//! A download driven by the main loop, used by the network tests and benchmark
//! (`test-fetch=URL` in the boot options): the body goes through a SHA-256 and the
//! result is reported on serial.

use crate::network::Network;
use crate::time;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use client::Exchange;
use http::{Request, ResponseEvent, Timeouts, Url};
use log::{info, warn};
use sha2::{Digest, Sha256};

/// One download in progress.
pub struct Fetch {
    text: String,
    exchange: Exchange,
    hasher: Sha256,
    status: u16,
    failure: Option<String>,
    /// Reported (done or failed): nothing more to do.
    ended: bool,
}

impl core::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fetch").field("url", &self.text).finish_non_exhaustive()
    }
}

impl Fetch {
    /// Plans a download; bad URLs are reported and yield `None`. `https://` needs
    /// a TLS configuration; there is never a fallback to plain HTTP.
    pub fn new(text: &str, tls: Option<Arc<tls::rustls::ClientConfig>>) -> Option<Fetch> {
        let planned = Url::parse(text).map_err(|e| format!("{e}")).and_then(|url| {
            Exchange::new(&Request::get(url), tls, Timeouts::default(), time::now().as_millis())
                .map_err(|e| format!("{e}"))
        });
        match planned {
            Ok(exchange) => Some(Fetch {
                text: format!("{}", http::RedactedUrl(text)),
                exchange,
                hasher: Sha256::new(),
                status: 0,
                failure: None,
                ended: false,
            }),
            Err(why) => {
                warn!("fetch: failed: {}: {why}", http::RedactedUrl(text));
                None
            }
        }
    }

    /// Why the download failed, once (for the screen).
    pub fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// Whether the download has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.ended
    }

    /// Whether input is waiting: step again without sleeping.
    pub fn has_more(&self) -> bool {
        !self.ended && self.exchange.has_more()
    }

    /// Advances the download by one bounded step. Returns whether it moved.
    pub fn step(&mut self, network: &mut Network) -> bool {
        if self.ended {
            return false;
        }
        let (status, hasher) = (&mut self.status, &mut self.hasher);
        let mut sink = |event: ResponseEvent<'_>| match event {
            ResponseEvent::Head(head) => *status = head.status,
            ResponseEvent::Body(bytes) => hasher.update(bytes),
            ResponseEvent::End => {}
        };
        match self.exchange.step(network.stack(), time::now().as_millis(), &mut sink) {
            Ok(moved) => {
                if self.exchange.is_finished() {
                    self.ended = true;
                    self.report();
                }
                moved
            }
            Err(why) => {
                warn!("fetch: failed: {}: {why}", self.text);
                self.failure = Some(format!("{why}"));
                self.ended = true;
                true
            }
        }
    }

    fn report(&mut self) {
        let now = time::now().as_millis();
        let digest = core::mem::take(&mut self.hasher).finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let started = self.exchange.started_ms();
        let total = now.saturating_sub(started);
        let first = self.exchange.first_byte_ms().map_or(0, |t| t.saturating_sub(started));
        let bytes = self.exchange.body_bytes();
        let kib_per_s = (bytes * 1000 / 1024).checked_div(total).unwrap_or(0);
        info!(
            "fetch: done: {}: HTTP {}, {bytes} bytes, sha256 {hex}, {total} ms ({kib_per_s} KiB/s), first byte after {first} ms",
            self.text, self.status
        );
    }
}
