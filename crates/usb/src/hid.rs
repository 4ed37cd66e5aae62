//! HID boot-protocol keyboards (HID 1.11 appendix B.1): 8-byte reports
//! holding the modifier bits and up to six pressed keys.
//!
//! A report says which keys are down *now*; [`BootKeyboard`] compares it with
//! the previous one and reports presses and releases as Linux key codes, the
//! vocabulary `hal::evdev` already decodes (US layout, Caps/Num Lock) and
//! `hal::KeyRepeater` already repeats. So a USB keyboard types exactly what a
//! virtio keyboard types. [`KeyboardDecoder`] chains the three for callers
//! that want `hal::KeyEvent`s directly.

use crate::UsbError;
use hal::evdev::EvdevKeyDecoder;
use hal::keys::KeyEvent;
use hal::repeat::KeyRepeater;

/// Keys a boot report can hold at once.
const SLOTS: usize = 6;

/// HID usages 0x01-0x03: ErrorRollOver, POSTFail, ErrorUndefined. A report
/// with one of them in a key slot means "too many keys (or a phantom)": the
/// keys held are unknown, so the report says nothing usable.
const fn is_error_usage(usage: u8) -> bool {
    matches!(usage, 1..=3)
}

/// Linux key codes of the eight modifier bits, in bit order: left Ctrl,
/// Shift, Alt, GUI, then right Ctrl, Shift, Alt, GUI.
const MODIFIER_CODES: [u16; 8] = [29, 42, 56, 125, 97, 54, 100, 126];

/// The Linux key code (`linux/input-event-codes.h`) of a HID keyboard usage
/// (HID Usage Tables, page 0x07), for every key a PC keyboard has.
pub const fn usage_to_linux(usage: u8) -> Option<u16> {
    // Letters a-z (usages 0x04-0x1d) in alphabetical order.
    const LETTERS: [u16; 26] =
        [30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44];
    // Usages 0x1e-0x67: digits, Enter..Space, punctuation, F-keys,
    // navigation, the keypad, the ISO key, Application, Power, keypad equals.
    const REST: [u16; 74] = [
        2, 3, 4, 5, 6, 7, 8, 9, 10, 11, // 1-9, 0
        28, 1, 14, 15, 57, // Enter, Escape, Backspace, Tab, Space
        12, 13, 26, 27, 43, 43, 39, 40, 41, 51, 52, 53, // - = [ ] \ (ISO #) ; ' ` , . /
        58, // Caps Lock
        59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88, // F1-F12
        99, 70, 119, // Print Screen, Scroll Lock, Pause
        110, 102, 104, 111, 107, 109, // Insert, Home, Page Up, Delete, End, Page Down
        106, 105, 108, 103, // Right, Left, Down, Up
        69, 98, 55, 74, 78, 96, // Num Lock, keypad / * - + Enter
        79, 80, 81, 75, 76, 77, 71, 72, 73, 82, 83, // keypad 1-9, 0, .
        86, 127, 116, 117, // ISO \, Application, Power, keypad =
    ];
    match usage {
        0x04..=0x1d => Some(LETTERS[(usage - 0x04) as usize]),
        0x1e..=0x67 => Some(REST[(usage - 0x1e) as usize]),
        0x85 => Some(121), // keypad comma (Brazilian)
        _ => None,
    }
}

/// One key change decoded from a report: a Linux key code and whether it
/// went down (the `value` of an `EV_KEY` event: 1 press, 0 release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    /// Linux key code.
    pub code: u16,
    /// True for a press, false for a release.
    pub pressed: bool,
}

/// The report-to-report state of one boot keyboard.
#[derive(Debug, Clone, Default)]
pub struct BootKeyboard {
    modifiers: u8,
    keys: [u8; SLOTS],
    rollover: u64,
    unknown: u64,
}

impl BootKeyboard {
    /// A keyboard with nothing held.
    pub const fn new() -> BootKeyboard {
        BootKeyboard { modifiers: 0, keys: [0; SLOTS], rollover: 0, unknown: 0 }
    }

    /// Reports ignored because the keyboard signalled rollover (too many keys
    /// or a phantom key).
    pub const fn rollover_reports(&self) -> u64 {
        self.rollover
    }

    /// Presses of usages with no Linux key code (media keys, keys of other
    /// layouts moteOS does not map).
    pub const fn unknown_keys(&self) -> u64 {
        self.unknown
    }

    /// Decodes one input report; every change goes to `out` in the order a
    /// person made them: releases of keys first, then modifier changes, then
    /// new key presses (so Shift+a in one report types `A`, and releasing
    /// Shift while pressing b types `b`).
    ///
    /// A report of fewer than three bytes is an error and changes nothing.
    /// Bytes past the eighth are ignored; a short report (3-7 bytes) holds
    /// fewer key slots. A rollover report is dropped.
    pub fn feed(&mut self, report: &[u8], out: &mut impl FnMut(KeyChange)) -> Result<(), UsbError> {
        if report.len() < 3 {
            return Err(UsbError::Short { what: "keyboard report", needed: 3, got: report.len() });
        }
        let slots = &report[2..report.len().min(2 + SLOTS)];
        if slots.iter().any(|&u| is_error_usage(u)) {
            self.rollover += 1;
            return Ok(());
        }
        // A usage listed twice in one report counts once.
        let mut keys = [0u8; SLOTS];
        for (i, &usage) in slots.iter().enumerate() {
            if !slots[..i].contains(&usage) {
                keys[i] = usage;
            }
        }
        for &old in self.keys.iter().filter(|&&k| k != 0) {
            if !keys.contains(&old)
                && let Some(code) = usage_to_linux(old)
            {
                out(KeyChange { code, pressed: false });
            }
        }
        let modifiers = report[0];
        for (bit, &code) in MODIFIER_CODES.iter().enumerate() {
            let was = self.modifiers & (1 << bit) != 0;
            let is = modifiers & (1 << bit) != 0;
            if was != is {
                out(KeyChange { code, pressed: is });
            }
        }
        for &new in &keys {
            if new == 0 || self.keys.contains(&new) {
                continue;
            }
            match usage_to_linux(new) {
                Some(code) => out(KeyChange { code, pressed: true }),
                None => self.unknown += 1,
            }
        }
        self.modifiers = modifiers;
        self.keys = keys;
        Ok(())
    }

    /// Releases every held key and modifier (the keyboard was unplugged or
    /// reset), so nothing stays stuck down.
    pub fn release_all(&mut self, out: &mut impl FnMut(KeyChange)) {
        let _ = self.feed(&[0; 8], out);
    }
}

/// The keyboard's LED output report (boot protocol): Num Lock bit 0, Caps
/// Lock bit 1.
pub const fn led_report(num_lock: bool, caps_lock: bool) -> u8 {
    (num_lock as u8) | ((caps_lock as u8) << 1)
}

/// A boot keyboard all the way to `hal` key events: reports are diffed, the
/// changes decoded with the US layout and held keys repeated.
#[derive(Debug, Clone)]
pub struct KeyboardDecoder {
    report: BootKeyboard,
    keys: EvdevKeyDecoder,
    repeat: KeyRepeater,
}

impl KeyboardDecoder {
    /// A decoder repeating held keys after `delay_ms`, every `interval_ms`.
    pub const fn new(delay_ms: u64, interval_ms: u64) -> KeyboardDecoder {
        KeyboardDecoder {
            report: BootKeyboard::new(),
            keys: EvdevKeyDecoder::new(),
            repeat: KeyRepeater::new(delay_ms, interval_ms),
        }
    }

    /// Decodes a report received at `now_ms`; typed keys go to `out`.
    pub fn feed(&mut self, report: &[u8], now_ms: u64, out: &mut impl FnMut(KeyEvent)) -> Result<(), UsbError> {
        let Self { report: state, keys, repeat } = self;
        state.feed(report, &mut |change| {
            let event = keys.feed(change.code, i32::from(change.pressed));
            if change.pressed {
                if let Some(event) = event {
                    repeat.press(event, change.code, now_ms);
                    out(event);
                }
            } else {
                repeat.release(change.code);
            }
        })
    }

    /// Repeats due at `now_ms`.
    pub fn poll(&mut self, now_ms: u64, out: &mut impl FnMut(KeyEvent)) {
        while let Some(event) = self.repeat.poll(now_ms) {
            out(event);
        }
    }

    /// When the next repeat is due, in milliseconds.
    pub fn next_deadline(&self) -> Option<u64> {
        self.repeat.next_deadline()
    }

    /// Whether Caps Lock and Num Lock are on (for the LED report).
    pub const fn locks(&self) -> (bool, bool) {
        (self.keys.caps_lock(), self.keys.num_lock())
    }
}

#[cfg(test)]
mod tests;
