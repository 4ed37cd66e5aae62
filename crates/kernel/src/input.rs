//! Turns raw device input from the event queue into key events, whatever the
//! source: PS/2 scancodes, serial terminal bytes (with escape sequences), or
//! virtio-input key codes (which need software auto-repeat).

use crate::events::Event;
use core::time::Duration;
use hal::clock::Instant;
use hal::evdev::EvdevKeyDecoder;
use hal::keys::KeyEvent;
use hal::ps2::{Ps2KeyDecoder, ScancodeSet};
use hal::repeat::KeyRepeater;
use hal::serial::SerialKeyDecoder;

/// A terminal sends an escape sequence in one burst; a lone ESC followed by
/// this much silence is the Escape key.
const ESCAPE_TIMEOUT: Duration = Duration::from_millis(50);

/// All key decoders, fed from queued events.
#[derive(Debug)]
pub struct Input {
    ps2: Option<Ps2KeyDecoder>,
    serial: SerialKeyDecoder,
    serial_pending_since: Option<Instant>,
    evdev: EvdevKeyDecoder,
    repeat: KeyRepeater,
}

impl Input {
    /// Decoders for the devices that were found.
    pub fn new(ps2: Option<ScancodeSet>) -> Self {
        Self {
            ps2: ps2.map(Ps2KeyDecoder::new),
            serial: SerialKeyDecoder::new(),
            serial_pending_since: None,
            evdev: EvdevKeyDecoder::new(),
            repeat: KeyRepeater::new(500, 33),
        }
    }

    /// Decodes one raw event; every resulting key goes to `out`.
    pub fn handle(&mut self, event: Event, now: Instant, out: &mut impl FnMut(KeyEvent)) {
        match event {
            Event::Ps2Byte(byte) => {
                if let Some(key) = self.ps2.as_mut().and_then(|d| d.feed(byte)) {
                    out(key);
                }
            }
            Event::SerialByte(byte) => {
                self.serial.feed(byte, out);
                self.serial_pending_since = Some(now);
            }
            Event::InputKey(code, value) => {
                let decoded = self.evdev.feed(code, value);
                match value {
                    0 => self.repeat.release(code),
                    1 => {
                        if let Some(key) = decoded {
                            self.repeat.press(key, code, now.as_millis());
                        }
                    }
                    _ => {}
                }
                if let Some(key) = decoded {
                    out(key);
                }
            }
            Event::Timer | Event::Device => {}
        }
    }

    /// Time-driven work: a lone ESC on serial, auto-repeat of held keys.
    pub fn poll(&mut self, now: Instant, out: &mut impl FnMut(KeyEvent)) {
        if let Some(since) = self.serial_pending_since
            && now.saturating_duration_since(since) >= ESCAPE_TIMEOUT
        {
            self.serial.flush(out);
            self.serial_pending_since = None;
        }
        while let Some(key) = self.repeat.poll(now.as_millis()) {
            out(key);
        }
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let escape = self.serial_pending_since.and_then(|since| since.checked_add(ESCAPE_TIMEOUT));
        let repeat = self.repeat.next_deadline().map(|ms| Instant::from_nanos(ms.saturating_mul(1_000_000)));
        match (escape, repeat) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Bytes or scancodes that could not be decoded, per source.
    pub fn rejected(&self) -> (u64, u64, u64) {
        (self.ps2.as_ref().map_or(0, Ps2KeyDecoder::unknown), self.serial.malformed(), self.evdev.unknown())
    }
}
