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

/// A terminal sends a bracketed paste in one burst; a paste whose end marker has not
/// come after this much silence lost it, and Enter must send again.
const PASTE_TIMEOUT: Duration = Duration::from_secs(2);

/// All key decoders, fed from queued events.
#[derive(Debug)]
pub struct Input {
    ps2: Option<Ps2KeyDecoder>,
    serial: SerialKeyDecoder,
    serial_pending_since: Option<Instant>,
    /// When the last serial byte was decoded, while a bracketed paste is open.
    paste_quiet_since: Option<Instant>,
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
            paste_quiet_since: None,
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
                let pastes = self.serial.pastes();
                self.serial.feed(byte, out);
                self.serial_pending_since = Some(now);
                self.paste_quiet_since = self.serial.in_paste().then_some(now);
                if self.serial.pastes() != pastes {
                    log::info!("input: a bracketed paste arrived on the serial console");
                }
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
            Event::Timer => {}
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
        if let Some(since) = self.paste_quiet_since
            && now.saturating_duration_since(since) >= PASTE_TIMEOUT
        {
            self.serial.end_paste();
            self.paste_quiet_since = None;
            log::warn!("input: a paste on the serial console never ended (its end marker was lost); Enter sends again");
        }
        while let Some(key) = self.repeat.poll(now.as_millis()) {
            out(key);
        }
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let escape = self.serial_pending_since.and_then(|since| since.checked_add(ESCAPE_TIMEOUT));
        let paste = self.paste_quiet_since.and_then(|since| since.checked_add(PASTE_TIMEOUT));
        let repeat = self.repeat.next_deadline().map(|ms| Instant::from_nanos(ms.saturating_mul(1_000_000)));
        [escape, paste, repeat].into_iter().flatten().min()
    }

    /// Bytes or scancodes that could not be decoded, per source.
    pub fn rejected(&self) -> (u64, u64, u64) {
        (self.ps2.as_ref().map_or(0, Ps2KeyDecoder::unknown), self.serial.malformed(), self.evdev.unknown())
    }
}
