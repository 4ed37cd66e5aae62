//! Deadlines for one HTTP exchange, on plain millisecond timestamps.
//!
//! The crate has no clock: the kernel passes "now" (milliseconds from any
//! fixed origin, e.g. the monotonic boot clock) into every call. That keeps
//! the tracker testable and lets the event loop sleep until
//! [`TimeoutTracker::remaining_ms`] instead of polling.

use crate::error::HttpError;

/// Limits for the three waits of a request, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From starting the connection (DNS done, SYN sent) to the connection
    /// being usable (TCP established and, for HTTPS, the TLS handshake done).
    pub connect_ms: u64,
    /// From the connection being usable to the first response byte. Language
    /// models may think for a long time before the first token, hence a
    /// generous default.
    pub first_byte_ms: u64,
    /// The longest silence allowed between two reads once the response has
    /// started; streaming providers send keep-alive pings well inside this.
    pub idle_ms: u64,
    /// The longest the whole exchange may take from start to end, however
    /// steadily bytes arrive (a server trickling a byte a minute never trips
    /// the idle wait); `None` for no overall limit.
    pub total_ms: Option<u64>,
}

impl Timeouts {
    /// Defaults for talking to LLM APIs: 10 s to connect, 60 s to the first
    /// byte, 60 s of silence mid-stream, 15 minutes in all (the longest
    /// replies stream for a few minutes).
    pub const LLM: Self = Self { connect_ms: 10_000, first_byte_ms: 60_000, idle_ms: 60_000, total_ms: Some(900_000) };
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::LLM
    }
}

/// Which wait a [`TimeoutTracker`] is in, and which one ran out in
/// [`HttpError::Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the connection (TCP + TLS) to be established.
    Connect,
    /// Connected (request sent or being sent), waiting for the first byte.
    FirstByte,
    /// Receiving the response, waiting for more bytes.
    Idle,
    /// The overall deadline ([`Timeouts::total_ms`]), whatever the wait.
    Total,
}

/// Tracks the current deadline of one exchange.
///
/// Call [`on_connected`](Self::on_connected) when the connection is usable,
/// [`on_bytes`](Self::on_bytes) whenever response bytes arrive, and
/// [`check`](Self::check) on every timer tick or wake-up.
#[derive(Debug, Clone)]
pub struct TimeoutTracker {
    timeouts: Timeouts,
    phase: Phase,
    /// When the current wait started.
    since_ms: u64,
    /// When the exchange started.
    started_ms: u64,
}

impl TimeoutTracker {
    /// Starts tracking at `now_ms`, in the [`Phase::Connect`] wait.
    pub fn new(timeouts: Timeouts, now_ms: u64) -> Self {
        Self { timeouts, phase: Phase::Connect, since_ms: now_ms, started_ms: now_ms }
    }

    /// The connection is usable: the first-byte wait starts now.
    pub fn on_connected(&mut self, now_ms: u64) {
        self.phase = Phase::FirstByte;
        self.since_ms = now_ms;
    }

    /// Response bytes arrived: the idle wait restarts now.
    pub fn on_bytes(&mut self, now_ms: u64) {
        self.phase = Phase::Idle;
        self.since_ms = now_ms;
    }

    /// The wait the exchange is in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn limit_ms(&self, phase: Phase) -> u64 {
        match phase {
            Phase::Connect => self.timeouts.connect_ms,
            Phase::FirstByte => self.timeouts.first_byte_ms,
            Phase::Idle => self.timeouts.idle_ms,
            Phase::Total => self.timeouts.total_ms.unwrap_or(u64::MAX),
        }
    }

    /// The deadline that runs out first, and the milliseconds left before it
    /// does. A clock that stepped backwards counts as no time elapsed, never
    /// as a huge elapsed time.
    fn nearest(&self, now_ms: u64) -> (Phase, u64) {
        let wait = self.limit_ms(self.phase).saturating_sub(now_ms.saturating_sub(self.since_ms));
        let total = self.limit_ms(Phase::Total).saturating_sub(now_ms.saturating_sub(self.started_ms));
        if total < wait { (Phase::Total, total) } else { (self.phase, wait) }
    }

    /// Milliseconds left before the current wait or the overall deadline
    /// runs out (0 once one has), so the event loop can arm a timer instead
    /// of polling.
    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        self.nearest(now_ms).1
    }

    /// `Err(HttpError::Timeout)` once the current wait has lasted its limit,
    /// or the whole exchange its overall limit.
    pub fn check(&self, now_ms: u64) -> Result<(), HttpError> {
        match self.nearest(now_ms) {
            (phase, 0) => Err(HttpError::Timeout { phase, limit_ms: self.limit_ms(phase) }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    const T: Timeouts = Timeouts { connect_ms: 100, first_byte_ms: 1_000, idle_ms: 500, total_ms: None };

    #[test]
    fn defaults_suit_llms() {
        assert_eq!(
            Timeouts::default(),
            Timeouts { connect_ms: 10_000, first_byte_ms: 60_000, idle_ms: 60_000, total_ms: Some(900_000) }
        );
    }

    #[test]
    fn a_steady_trickle_still_meets_the_overall_deadline() {
        let mut t = TimeoutTracker::new(Timeouts { total_ms: Some(2_000), ..T }, 1_000);
        t.on_connected(1_050);
        // A byte every 400 ms keeps the idle wait (500 ms) from ever running out...
        for now in (1_100..3_000).step_by(400) {
            t.on_bytes(now);
            assert_eq!(t.check(now), Ok(()), "at {now}");
        }
        assert_eq!(t.remaining_ms(2_900), 100);
        // ...but not the whole exchange.
        let err = t.check(3_000).unwrap_err();
        assert_eq!(err, HttpError::Timeout { phase: Phase::Total, limit_ms: 2_000 });
        assert_eq!(err.to_string(), "HTTP: the exchange with the server took longer than the 2 s allowed");
        // Without an overall limit the trickle goes on.
        let mut t = TimeoutTracker::new(T, 1_000);
        t.on_bytes(1_000_000);
        assert_eq!(t.check(1_000_400), Ok(()));
    }

    #[test]
    fn connect_deadline() {
        let t = TimeoutTracker::new(T, 1_000);
        assert_eq!(t.check(1_099), Ok(()));
        assert_eq!(t.remaining_ms(1_099), 1);
        let err = t.check(1_100).unwrap_err();
        assert_eq!(err, HttpError::Timeout { phase: Phase::Connect, limit_ms: 100 });
        assert_eq!(err.to_string(), "HTTP: could not connect to the server within 100 ms");
    }

    #[test]
    fn first_byte_then_idle_deadlines() {
        let mut t = TimeoutTracker::new(T, 0);
        t.on_connected(50);
        assert_eq!(t.phase(), Phase::FirstByte);
        assert_eq!(t.check(1_049), Ok(()));
        assert_eq!(t.check(1_050), Err(HttpError::Timeout { phase: Phase::FirstByte, limit_ms: 1_000 }));
        t.on_bytes(1_040);
        assert_eq!(t.phase(), Phase::Idle);
        assert_eq!(t.check(1_539), Ok(()));
        t.on_bytes(1_539);
        assert_eq!(t.check(2_038), Ok(()));
        let err = t.check(2_039).unwrap_err();
        assert_eq!(err.to_string(), "HTTP: the server sent nothing for 500 ms in the middle of the response");
    }

    #[test]
    fn default_messages() {
        let mut t = TimeoutTracker::new(Timeouts::default(), 0);
        t.on_connected(0);
        assert_eq!(t.check(60_000).unwrap_err().to_string(), "HTTP: no response from the server within 60 s");
    }

    #[test]
    fn clock_going_backwards_is_not_a_timeout() {
        let t = TimeoutTracker::new(T, 5_000);
        assert_eq!(t.check(0), Ok(()));
        assert_eq!(t.remaining_ms(0), 100);
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let t = TimeoutTracker::new(Timeouts { connect_ms: u64::MAX, ..T }, u64::MAX - 1);
        assert_eq!(t.check(u64::MAX), Ok(()));
    }
}
