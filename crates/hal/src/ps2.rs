//! Key events from a PS/2 keyboard (the i8042 controller's data port), decoded
//! with the `pc-keyboard` crate for a US 104-key layout.
//!
//! Which scancode set arrives depends on the controller, not the keyboard: the
//! keyboard speaks set 2, and the i8042 translates it to set 1 when bit 6 of its
//! configuration byte is set. UEFI firmware (OVMF's PS/2 driver writes 0x67)
//! leaves translation on, so under QEMU + OVMF the kernel normally reads set 1;
//! it reads the configuration byte (controller command 0x20) to be sure.

use crate::keys::{Key, KeyEvent, Modifiers};
use core::fmt;
use pc_keyboard::layouts::Us104Key;
use pc_keyboard::{DecodedKey, HandleControl, KeyCode, PS2Keyboard, ScancodeSet1, ScancodeSet2};

/// The scancode set the bytes from the controller are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScancodeSet {
    /// Set 1 (XT): what the i8042 delivers with translation on, the usual case.
    One,
    /// Set 2 (AT): the keyboard's native set, seen with translation off.
    Two,
}

/// The `pc-keyboard` decoder for the chosen set (its scancode sets are
/// separate types, so the choice at run time is an enum).
enum Inner {
    One(PS2Keyboard<Us104Key, ScancodeSet1>),
    Two(PS2Keyboard<Us104Key, ScancodeSet2>),
}

/// Decodes PS/2 scancode bytes into key events. Modifier and lock keys only
/// change state; key releases produce nothing.
pub struct Ps2KeyDecoder {
    set: ScancodeSet,
    inner: Inner,
    unknown: u64,
}

impl fmt::Debug for Ps2KeyDecoder {
    // `pc-keyboard`'s scancode-set types do not implement Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ps2KeyDecoder").field("set", &self.set).field("unknown", &self.unknown).finish_non_exhaustive()
    }
}

impl Ps2KeyDecoder {
    /// A decoder for bytes in scancode set `set`, with no key held and Num Lock on.
    pub fn new(set: ScancodeSet) -> Ps2KeyDecoder {
        // HandleControl::Ignore keeps Ctrl+C as the letter 'c' (not U+0003), so
        // it can become Key::Char('c') with ctrl set.
        let inner = match set {
            ScancodeSet::One => Inner::One(PS2Keyboard::new(ScancodeSet1::new(), Us104Key, HandleControl::Ignore)),
            ScancodeSet::Two => Inner::Two(PS2Keyboard::new(ScancodeSet2::new(), Us104Key, HandleControl::Ignore)),
        };
        Ps2KeyDecoder { set, inner, unknown: 0 }
    }

    /// The scancode set this decoder reads.
    pub const fn set(&self) -> ScancodeSet {
        self.set
    }

    /// Scancodes `pc-keyboard` rejected since creation (bytes that are no key
    /// in this set, such as a command reply read as a key).
    pub const fn unknown(&self) -> u64 {
        self.unknown
    }

    /// Decodes one byte from the controller. Returns the key event it
    /// completes, if any: a multi-byte scancode, a release, or a modifier
    /// alone yield `None`.
    pub fn feed(&mut self, byte: u8) -> Option<KeyEvent> {
        let (decoded, modifiers) = match &mut self.inner {
            Inner::One(kb) => decode(kb, byte),
            Inner::Two(kb) => decode(kb, byte),
        }
        .unwrap_or_else(|()| {
            self.unknown = self.unknown.saturating_add(1);
            (None, Modifiers::NONE)
        });
        map_key(decoded?, modifiers)
    }
}

/// Runs one byte through `pc-keyboard`: `Err` for a rejected scancode,
/// otherwise the decoded key (if any) and our view of the modifiers held.
fn decode<S: pc_keyboard::ScancodeSet>(
    kb: &mut PS2Keyboard<Us104Key, S>,
    byte: u8,
) -> Result<(Option<DecodedKey>, Modifiers), ()> {
    let event = kb.add_byte(byte).map_err(|_| ())?;
    let decoded = event.and_then(|ev| kb.process_keyevent(ev));
    let m = kb.get_modifiers();
    Ok((decoded, Modifiers { shift: m.is_shifted(), ctrl: m.is_ctrl(), alt: m.is_alt() }))
}

/// Our key event for what `pc-keyboard` decoded, following the conventions in
/// [`crate::keys`]: shift is folded into printable characters, and with Ctrl a
/// letter is lowercase with the physical Shift reported separately.
fn map_key(decoded: DecodedKey, held: Modifiers) -> Option<KeyEvent> {
    let named = |key| Some(KeyEvent::new(key, held));
    match decoded {
        // The US layout reports these keys as control characters.
        DecodedKey::Unicode('\n') => named(Key::Enter),
        DecodedKey::Unicode('\u{8}') => named(Key::Backspace),
        DecodedKey::Unicode('\t') => named(Key::Tab),
        DecodedKey::Unicode('\u{1b}') => named(Key::Escape),
        DecodedKey::Unicode('\u{7f}') => named(Key::Delete),
        DecodedKey::Unicode(c) if c.is_control() => None,
        DecodedKey::Unicode(c) if held.ctrl && c.is_ascii_alphabetic() => {
            Some(KeyEvent::new(Key::Char(c.to_ascii_lowercase()), held))
        }
        DecodedKey::Unicode(c) => Some(KeyEvent::new(Key::Char(c), Modifiers { shift: false, ..held })),
        DecodedKey::RawKey(code) => named(match code {
            KeyCode::ArrowUp => Key::Up,
            KeyCode::ArrowDown => Key::Down,
            KeyCode::ArrowLeft => Key::Left,
            KeyCode::ArrowRight => Key::Right,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Insert => Key::Insert,
            KeyCode::Delete => Key::Delete,
            KeyCode::Escape => Key::Escape,
            KeyCode::Backspace => Key::Backspace,
            KeyCode::Tab => Key::Tab,
            KeyCode::Return | KeyCode::NumpadEnter => Key::Enter,
            KeyCode::F1 => Key::F(1),
            KeyCode::F2 => Key::F(2),
            KeyCode::F3 => Key::F(3),
            KeyCode::F4 => Key::F(4),
            KeyCode::F5 => Key::F(5),
            KeyCode::F6 => Key::F(6),
            KeyCode::F7 => Key::F(7),
            KeyCode::F8 => Key::F(8),
            KeyCode::F9 => Key::F(9),
            KeyCode::F10 => Key::F(10),
            KeyCode::F11 => Key::F(11),
            KeyCode::F12 => Key::F(12),
            // Modifiers, locks, Windows keys, media keys: known, but not keys
            // the application acts on.
            _ => return None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(d: &mut Ps2KeyDecoder, bytes: &[u8]) -> Option<KeyEvent> {
        let mut last = None;
        for (i, b) in bytes.iter().enumerate() {
            let ev = d.feed(*b);
            if i + 1 < bytes.len() {
                assert_eq!(ev, None, "byte {i} of {bytes:x?} completed an event early");
            }
            last = ev;
        }
        last
    }

    fn one() -> Ps2KeyDecoder {
        Ps2KeyDecoder::new(ScancodeSet::One)
    }

    fn two() -> Ps2KeyDecoder {
        Ps2KeyDecoder::new(ScancodeSet::Two)
    }

    fn ev(key: Key, shift: bool, ctrl: bool, alt: bool) -> Option<KeyEvent> {
        Some(KeyEvent::new(key, Modifiers { shift, ctrl, alt }))
    }

    #[test]
    fn set1_letters_and_release() {
        let mut d = one();
        assert_eq!(d.set(), ScancodeSet::One);
        assert_eq!(d.feed(0x1e), Some(KeyEvent::char('a')));
        assert_eq!(d.feed(0x9e), None); // break code
        assert_eq!(d.feed(0x10), Some(KeyEvent::char('q')));
        // Typematic repeat: the make code again is another press.
        assert_eq!(d.feed(0x10), Some(KeyEvent::char('q')));
        assert_eq!(d.feed(0x90), None);
        assert_eq!(d.feed(0x39), Some(KeyEvent::char(' ')));
        assert_eq!(d.feed(0x02), Some(KeyEvent::char('1')));
        assert_eq!(d.unknown(), 0);
    }

    #[test]
    fn set1_shift() {
        let mut d = one();
        assert_eq!(d.feed(0x2a), None); // left shift down
        assert_eq!(d.feed(0x1e), Some(KeyEvent::char('A')));
        assert_eq!(d.feed(0x02), Some(KeyEvent::char('!')));
        assert_eq!(d.feed(0x0f), ev(Key::Tab, true, false, false));
        assert_eq!(d.feed(0xaa), None); // left shift up
        assert_eq!(d.feed(0x1e), Some(KeyEvent::char('a')));
        // Right shift.
        assert_eq!(d.feed(0x36), None);
        assert_eq!(d.feed(0x35), Some(KeyEvent::char('?')));
        assert_eq!(d.feed(0xb6), None);
    }

    #[test]
    fn set1_ctrl_and_alt() {
        let mut d = one();
        assert_eq!(d.feed(0x1d), None); // left ctrl down
        assert_eq!(d.feed(0x2e), Some(KeyEvent::ctrl('c')));
        // Ctrl+Shift+C: lowercase letter, physical shift reported.
        assert_eq!(d.feed(0x2a), None);
        assert_eq!(d.feed(0x2e), ev(Key::Char('c'), true, true, false));
        assert_eq!(d.feed(0xaa), None);
        assert_eq!(d.feed(0x9d), None); // ctrl up
        assert_eq!(d.feed(0x2e), Some(KeyEvent::char('c')));
        // Right ctrl is E0 1D.
        assert_eq!(feed_all(&mut d, &[0xe0, 0x1d]), None);
        assert_eq!(d.feed(0x1f), Some(KeyEvent::ctrl('s')));
        assert_eq!(feed_all(&mut d, &[0xe0, 0x9d]), None);
        // Alt+x.
        assert_eq!(d.feed(0x38), None);
        assert_eq!(d.feed(0x2d), Some(KeyEvent::char('x').with_alt()));
        assert_eq!(feed_all(&mut d, &[0xe0, 0x48]), ev(Key::Up, false, false, true));
        assert_eq!(d.feed(0xb8), None);
    }

    #[test]
    fn set1_extended_keys() {
        let cases: &[(&[u8], Key)] = &[
            (&[0xe0, 0x48], Key::Up),
            (&[0xe0, 0x50], Key::Down),
            (&[0xe0, 0x4b], Key::Left),
            (&[0xe0, 0x4d], Key::Right),
            (&[0xe0, 0x47], Key::Home),
            (&[0xe0, 0x4f], Key::End),
            (&[0xe0, 0x49], Key::PageUp),
            (&[0xe0, 0x51], Key::PageDown),
            (&[0xe0, 0x52], Key::Insert),
            (&[0xe0, 0x53], Key::Delete),
            (&[0xe0, 0x1c], Key::Enter),
            (&[0x1c], Key::Enter),
            (&[0x0e], Key::Backspace),
            (&[0x0f], Key::Tab),
            (&[0x01], Key::Escape),
            (&[0x3b], Key::F(1)),
            (&[0x3f], Key::F(5)),
            (&[0x44], Key::F(10)),
            (&[0x57], Key::F(11)),
            (&[0x58], Key::F(12)),
        ];
        for (bytes, key) in cases {
            let mut d = one();
            assert_eq!(feed_all(&mut d, bytes), Some(KeyEvent::plain(*key)), "{bytes:x?}");
            // The matching break code yields nothing.
            let mut brk = bytes.to_vec();
            if let Some(last) = brk.last_mut() {
                *last |= 0x80;
            }
            assert_eq!(feed_all(&mut d, &brk), None, "{brk:x?}");
            assert_eq!(d.unknown(), 0);
        }
        // Shift+F5.
        let mut d = one();
        d.feed(0x2a);
        assert_eq!(d.feed(0x3f), ev(Key::F(5), true, false, false));
    }

    #[test]
    fn set2_sequences() {
        let mut d = two();
        assert_eq!(d.feed(0x1c), Some(KeyEvent::char('a')));
        assert_eq!(feed_all(&mut d, &[0xf0, 0x1c]), None); // break code
        // Shift+a.
        assert_eq!(d.feed(0x12), None);
        assert_eq!(d.feed(0x1c), Some(KeyEvent::char('A')));
        assert_eq!(d.feed(0x16), Some(KeyEvent::char('!')));
        assert_eq!(feed_all(&mut d, &[0xf0, 0x12]), None);
        // Ctrl+c.
        assert_eq!(d.feed(0x14), None);
        assert_eq!(d.feed(0x21), Some(KeyEvent::ctrl('c')));
        assert_eq!(feed_all(&mut d, &[0xf0, 0x14]), None);
        assert_eq!(d.feed(0x21), Some(KeyEvent::char('c')));
        // Extended keys.
        assert_eq!(feed_all(&mut d, &[0xe0, 0x75]), Some(KeyEvent::plain(Key::Up)));
        assert_eq!(feed_all(&mut d, &[0xe0, 0xf0, 0x75]), None);
        assert_eq!(feed_all(&mut d, &[0xe0, 0x6b]), Some(KeyEvent::plain(Key::Left)));
        assert_eq!(feed_all(&mut d, &[0xe0, 0x71]), Some(KeyEvent::plain(Key::Delete)));
        assert_eq!(feed_all(&mut d, &[0xe0, 0x7d]), Some(KeyEvent::plain(Key::PageUp)));
        assert_eq!(feed_all(&mut d, &[0xe0, 0x6c]), Some(KeyEvent::plain(Key::Home)));
        // F-keys, Enter, Backspace, Escape.
        assert_eq!(d.feed(0x05), Some(KeyEvent::plain(Key::F(1))));
        assert_eq!(d.feed(0x07), Some(KeyEvent::plain(Key::F(12))));
        assert_eq!(d.feed(0x83), Some(KeyEvent::plain(Key::F(7))));
        assert_eq!(d.feed(0x5a), Some(KeyEvent::plain(Key::Enter)));
        assert_eq!(d.feed(0x66), Some(KeyEvent::plain(Key::Backspace)));
        assert_eq!(d.feed(0x76), Some(KeyEvent::plain(Key::Escape)));
        // The keyboard's self-test result is not a key.
        assert_eq!(d.feed(0xaa), None);
        assert_eq!(d.unknown(), 0);
    }

    #[test]
    fn caps_lock_and_numpad() {
        let mut d = one();
        assert_eq!(d.feed(0x3a), None); // caps lock toggles on
        assert_eq!(d.feed(0xba), None);
        assert_eq!(d.feed(0x1e), Some(KeyEvent::char('A')));
        assert_eq!(d.feed(0x02), Some(KeyEvent::char('1')));
        // Ctrl with caps lock: still lowercase.
        d.feed(0x1d);
        assert_eq!(d.feed(0x1e), Some(KeyEvent::ctrl('a')));
        d.feed(0x9d);
        // Numpad with Num Lock on (the default) types digits.
        assert_eq!(d.feed(0x47), Some(KeyEvent::char('7')));
        // Num Lock off: the same key is Home.
        d.feed(0x45);
        d.feed(0xc5);
        assert_eq!(d.feed(0x47), Some(KeyEvent::plain(Key::Home)));
        assert_eq!(d.feed(0x53), Some(KeyEvent::plain(Key::Delete)));
    }

    #[test]
    fn rejected_bytes_are_counted() {
        let mut d = one();
        // 0x7a is no key in set 1; 0xfa (a command ACK) reads as its release.
        assert_eq!(d.feed(0x7a), None);
        assert_eq!(d.feed(0xfa), None);
        assert_eq!(feed_all(&mut d, &[0xe0, 0x02]), None);
        assert_eq!(d.unknown(), 3);
        // The decoder is back in step afterwards.
        assert_eq!(d.feed(0x1e), Some(KeyEvent::char('a')));

        let mut d = two();
        assert_eq!(d.feed(0x02), None);
        assert_eq!(feed_all(&mut d, &[0xf0, 0x02]), None);
        assert_eq!(feed_all(&mut d, &[0xe0, 0x01]), None);
        assert_eq!(d.unknown(), 3);
        assert_eq!(d.feed(0x1c), Some(KeyEvent::char('a')));
    }

    #[test]
    fn every_byte_sequence_is_safe() {
        // All pairs of bytes from both sets: no panic, and any Char is printable.
        for set in [ScancodeSet::One, ScancodeSet::Two] {
            let mut d = Ps2KeyDecoder::new(set);
            for a in 0..=255u8 {
                for b in [0x00u8, 0x1e, 0x1c, 0x2a, 0x12, 0x80, 0xe0, 0xe1, 0xf0, 0xff] {
                    for byte in [a, b] {
                        if let Some(KeyEvent { key: Key::Char(c), .. }) = d.feed(byte) {
                            assert!(!c.is_control());
                        }
                    }
                }
            }
            assert!(d.unknown() > 0);
        }
    }

    #[test]
    fn debug_does_not_need_pc_keyboard_debug() {
        extern crate std;
        let s = std::format!("{:?}", two());
        assert!(s.contains("Two"), "{s}");
    }
}
