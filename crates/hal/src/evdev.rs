//! Key events from a virtio-input keyboard, which reports Linux input event
//! codes (`EV_KEY` with `KEY_*` codes from `linux/input-event-codes.h`), read
//! with a US layout.
//!
//! The device reports physical keys only, so the decoder tracks the modifier
//! keys (left and right separately, so releasing one Shift while the other is
//! held keeps Shift) and the Caps Lock and Num Lock toggles itself.

use crate::keys::{Key, KeyEvent, Modifiers};

/// Linux key codes this module gives meaning to (a subset of
/// `linux/input-event-codes.h`), named as there.
mod code {
    pub const ESC: u16 = 1;
    pub const KEY_1: u16 = 2;
    pub const KEY_0: u16 = 11;
    pub const MINUS: u16 = 12;
    pub const EQUAL: u16 = 13;
    pub const BACKSPACE: u16 = 14;
    pub const TAB: u16 = 15;
    pub const Q: u16 = 16;
    pub const P: u16 = 25;
    pub const LEFTBRACE: u16 = 26;
    pub const RIGHTBRACE: u16 = 27;
    pub const ENTER: u16 = 28;
    pub const LEFTCTRL: u16 = 29;
    pub const A: u16 = 30;
    pub const L: u16 = 38;
    pub const SEMICOLON: u16 = 39;
    pub const APOSTROPHE: u16 = 40;
    pub const GRAVE: u16 = 41;
    pub const LEFTSHIFT: u16 = 42;
    pub const BACKSLASH: u16 = 43;
    pub const Z: u16 = 44;
    pub const M: u16 = 50;
    pub const COMMA: u16 = 51;
    pub const DOT: u16 = 52;
    pub const SLASH: u16 = 53;
    pub const RIGHTSHIFT: u16 = 54;
    pub const KPASTERISK: u16 = 55;
    pub const LEFTALT: u16 = 56;
    pub const SPACE: u16 = 57;
    pub const CAPSLOCK: u16 = 58;
    pub const F1: u16 = 59;
    pub const F10: u16 = 68;
    pub const NUMLOCK: u16 = 69;
    pub const SCROLLLOCK: u16 = 70;
    pub const KP7: u16 = 71;
    pub const KP8: u16 = 72;
    pub const KP9: u16 = 73;
    pub const KPMINUS: u16 = 74;
    pub const KP4: u16 = 75;
    pub const KP5: u16 = 76;
    pub const KP6: u16 = 77;
    pub const KPPLUS: u16 = 78;
    pub const KP1: u16 = 79;
    pub const KP2: u16 = 80;
    pub const KP3: u16 = 81;
    pub const KP0: u16 = 82;
    pub const KPDOT: u16 = 83;
    pub const KEY_102ND: u16 = 86;
    pub const F11: u16 = 87;
    pub const F12: u16 = 88;
    pub const KPENTER: u16 = 96;
    pub const RIGHTCTRL: u16 = 97;
    pub const KPSLASH: u16 = 98;
    pub const SYSRQ: u16 = 99;
    pub const RIGHTALT: u16 = 100;
    pub const HOME: u16 = 102;
    pub const UP: u16 = 103;
    pub const PAGEUP: u16 = 104;
    pub const LEFT: u16 = 105;
    pub const RIGHT: u16 = 106;
    pub const END: u16 = 107;
    pub const DOWN: u16 = 108;
    pub const PAGEDOWN: u16 = 109;
    pub const INSERT: u16 = 110;
    pub const DELETE: u16 = 111;
    pub const KPEQUAL: u16 = 117;
    pub const PAUSE: u16 = 119;
    pub const KPCOMMA: u16 = 121;
    pub const LEFTMETA: u16 = 125;
    pub const RIGHTMETA: u16 = 126;
    pub const COMPOSE: u16 = 127;
}

/// Which held modifier a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    LeftShift,
    RightShift,
    LeftCtrl,
    RightCtrl,
    LeftAlt,
    RightAlt,
    /// The Windows/Super keys: tracked by nobody, but not "unknown" either.
    Meta,
}

/// What a key code means on a US layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A letter key (the lowercase letter); Shift and Caps Lock uppercase it.
    Letter(char),
    /// A symbol key: (unshifted, shifted); Caps Lock does not affect it.
    Symbol(char, char),
    /// A key with a name and no character.
    Named(Key),
    /// A keypad key: its character with Num Lock on, its navigation key (if
    /// any) with Num Lock off.
    Keypad(char, Option<Key>),
    /// A modifier that is held.
    Modifier(Held),
    /// Caps Lock: toggles on each press.
    CapsLock,
    /// Num Lock: toggles on each press.
    NumLock,
    /// A key known to exist but with no meaning here (Scroll Lock, SysRq, Pause).
    Ignored,
}

/// The meaning of `code` on a US layout, or `None` if this decoder does not
/// know the code.
fn classify(c: u16) -> Option<Class> {
    use code::*;
    let letters = |row: &[u8], first: u16| row.get(usize::from(c - first)).map(|b| Class::Letter(char::from(*b)));
    Some(match c {
        ESC => Class::Named(Key::Escape),
        KEY_1..=KEY_0 => {
            let i = usize::from(c - KEY_1);
            let plain = b"1234567890".get(i)?;
            let shifted = b"!@#$%^&*()".get(i)?;
            Class::Symbol(char::from(*plain), char::from(*shifted))
        }
        MINUS => Class::Symbol('-', '_'),
        EQUAL => Class::Symbol('=', '+'),
        BACKSPACE => Class::Named(Key::Backspace),
        TAB => Class::Named(Key::Tab),
        Q..=P => letters(b"qwertyuiop", Q)?,
        LEFTBRACE => Class::Symbol('[', '{'),
        RIGHTBRACE => Class::Symbol(']', '}'),
        ENTER | KPENTER => Class::Named(Key::Enter),
        LEFTCTRL => Class::Modifier(Held::LeftCtrl),
        A..=L => letters(b"asdfghjkl", A)?,
        SEMICOLON => Class::Symbol(';', ':'),
        APOSTROPHE => Class::Symbol('\'', '"'),
        GRAVE => Class::Symbol('`', '~'),
        LEFTSHIFT => Class::Modifier(Held::LeftShift),
        BACKSLASH => Class::Symbol('\\', '|'),
        Z..=M => letters(b"zxcvbnm", Z)?,
        COMMA => Class::Symbol(',', '<'),
        DOT => Class::Symbol('.', '>'),
        SLASH => Class::Symbol('/', '?'),
        RIGHTSHIFT => Class::Modifier(Held::RightShift),
        KPASTERISK => Class::Symbol('*', '*'),
        LEFTALT => Class::Modifier(Held::LeftAlt),
        SPACE => Class::Symbol(' ', ' '),
        CAPSLOCK => Class::CapsLock,
        F1..=F10 => Class::Named(Key::F(u8::try_from(c - F1 + 1).ok()?)),
        NUMLOCK => Class::NumLock,
        SCROLLLOCK | SYSRQ | PAUSE | COMPOSE => Class::Ignored,
        KP7 => Class::Keypad('7', Some(Key::Home)),
        KP8 => Class::Keypad('8', Some(Key::Up)),
        KP9 => Class::Keypad('9', Some(Key::PageUp)),
        KPMINUS => Class::Symbol('-', '-'),
        KP4 => Class::Keypad('4', Some(Key::Left)),
        KP5 => Class::Keypad('5', None),
        KP6 => Class::Keypad('6', Some(Key::Right)),
        KPPLUS => Class::Symbol('+', '+'),
        KP1 => Class::Keypad('1', Some(Key::End)),
        KP2 => Class::Keypad('2', Some(Key::Down)),
        KP3 => Class::Keypad('3', Some(Key::PageDown)),
        KP0 => Class::Keypad('0', Some(Key::Insert)),
        KPDOT => Class::Keypad('.', Some(Key::Delete)),
        // The extra ISO key between left Shift and Z; `<` `>` in the US layout.
        KEY_102ND => Class::Symbol('<', '>'),
        F11 => Class::Named(Key::F(11)),
        F12 => Class::Named(Key::F(12)),
        RIGHTCTRL => Class::Modifier(Held::RightCtrl),
        KPSLASH => Class::Symbol('/', '/'),
        RIGHTALT => Class::Modifier(Held::RightAlt),
        HOME => Class::Named(Key::Home),
        UP => Class::Named(Key::Up),
        PAGEUP => Class::Named(Key::PageUp),
        LEFT => Class::Named(Key::Left),
        RIGHT => Class::Named(Key::Right),
        END => Class::Named(Key::End),
        DOWN => Class::Named(Key::Down),
        PAGEDOWN => Class::Named(Key::PageDown),
        INSERT => Class::Named(Key::Insert),
        DELETE => Class::Named(Key::Delete),
        KPEQUAL => Class::Symbol('=', '='),
        KPCOMMA => Class::Symbol(',', ','),
        LEFTMETA | RIGHTMETA => Class::Modifier(Held::Meta),
        _ => return None,
    })
}

/// Whether `code` is a modifier or lock key (Shift, Ctrl, Alt, Meta, Caps
/// Lock, Num Lock): such keys change state but are never typed or repeated.
pub fn is_modifier_code(code: u16) -> bool {
    matches!(classify(code), Some(Class::Modifier(_) | Class::CapsLock | Class::NumLock))
}

/// Decodes virtio-input key events (`EV_KEY` code and value) into key events.
#[derive(Debug, Clone)]
pub struct EvdevKeyDecoder {
    left_shift: bool,
    right_shift: bool,
    left_ctrl: bool,
    right_ctrl: bool,
    left_alt: bool,
    right_alt: bool,
    caps_lock: bool,
    num_lock: bool,
    unknown: u64,
}

impl Default for EvdevKeyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EvdevKeyDecoder {
    /// A decoder with no key held, Caps Lock off and Num Lock on (so the keypad
    /// types digits until the user toggles it).
    pub const fn new() -> EvdevKeyDecoder {
        EvdevKeyDecoder {
            left_shift: false,
            right_shift: false,
            left_ctrl: false,
            right_ctrl: false,
            left_alt: false,
            right_alt: false,
            caps_lock: false,
            num_lock: true,
            unknown: 0,
        }
    }

    /// Key codes this decoder does not know (and event values other than 0, 1,
    /// 2), counted on presses and repeats, since creation.
    pub const fn unknown(&self) -> u64 {
        self.unknown
    }

    /// The modifiers currently held.
    pub const fn modifiers(&self) -> Modifiers {
        Modifiers {
            shift: self.left_shift || self.right_shift,
            ctrl: self.left_ctrl || self.right_ctrl,
            alt: self.left_alt || self.right_alt,
        }
    }

    /// Whether Caps Lock is on.
    pub const fn caps_lock(&self) -> bool {
        self.caps_lock
    }

    /// Whether Num Lock is on.
    pub const fn num_lock(&self) -> bool {
        self.num_lock
    }

    /// Forgets every held modifier (for a device reset or lost events, so a
    /// missed release cannot leave Ctrl stuck); the lock toggles are kept.
    pub fn release_all(&mut self) {
        self.left_shift = false;
        self.right_shift = false;
        self.left_ctrl = false;
        self.right_ctrl = false;
        self.left_alt = false;
        self.right_alt = false;
    }

    /// Decodes one `EV_KEY` event: `value` 1 is a press, 2 an auto-repeat, 0 a
    /// release. Presses and repeats of keys that type or name something yield
    /// an event; modifiers, locks and releases yield `None`.
    pub fn feed(&mut self, code: u16, value: i32) -> Option<KeyEvent> {
        let Some(class) = classify(code) else {
            if value != 0 {
                self.count_unknown();
            }
            return None;
        };
        let pressed = match value {
            0 => false,
            1 | 2 => true,
            _ => {
                self.count_unknown();
                return None;
            }
        };
        if let Class::Modifier(held) = class {
            self.set_held(held, pressed);
            return None;
        }
        if !pressed {
            return None;
        }
        let held = self.modifiers();
        // Shift is inside a typed character, so it is only reported for
        // named keys and for Ctrl+letter (where the letter stays lowercase).
        let typed = Modifiers { shift: false, ..held };
        match class {
            Class::Letter(c) if held.ctrl => Some(KeyEvent::new(Key::Char(c), held)),
            Class::Letter(c) => {
                let upper = held.shift != self.caps_lock;
                Some(KeyEvent::new(Key::Char(if upper { c.to_ascii_uppercase() } else { c }), typed))
            }
            Class::Symbol(plain, shifted) => {
                Some(KeyEvent::new(Key::Char(if held.shift { shifted } else { plain }), typed))
            }
            Class::Named(key) => Some(KeyEvent::new(key, held)),
            Class::Keypad(c, _) if self.num_lock => Some(KeyEvent::new(Key::Char(c), typed)),
            Class::Keypad(_, key) => key.map(|k| KeyEvent::new(k, held)),
            Class::CapsLock => {
                // Toggle on the press only: holding Caps Lock must not flicker it.
                if value == 1 {
                    self.caps_lock = !self.caps_lock;
                }
                None
            }
            Class::NumLock => {
                if value == 1 {
                    self.num_lock = !self.num_lock;
                }
                None
            }
            Class::Modifier(_) | Class::Ignored => None,
        }
    }

    fn set_held(&mut self, held: Held, down: bool) {
        match held {
            Held::LeftShift => self.left_shift = down,
            Held::RightShift => self.right_shift = down,
            Held::LeftCtrl => self.left_ctrl = down,
            Held::RightCtrl => self.right_ctrl = down,
            Held::LeftAlt => self.left_alt = down,
            Held::RightAlt => self.right_alt = down,
            Held::Meta => {}
        }
    }

    fn count_unknown(&mut self) {
        self.unknown = self.unknown.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::code::*;
    use super::*;

    const PRESS: i32 = 1;
    const REPEAT: i32 = 2;
    const RELEASE: i32 = 0;

    fn tap(d: &mut EvdevKeyDecoder, code: u16) -> Option<KeyEvent> {
        let ev = d.feed(code, PRESS);
        assert_eq!(d.feed(code, RELEASE), None);
        ev
    }
    fn typed(d: &mut EvdevKeyDecoder, codes: &[u16]) -> std::string::String {
        codes.iter().filter_map(|c| tap(d, *c)).filter_map(|e| e.text()).collect()
    }

    #[test]
    fn letters_digits_punctuation() {
        let mut d = EvdevKeyDecoder::new();
        let all_letters: std::vec::Vec<u16> = (Q..=P).chain(A..=L).chain(Z..=M).collect();
        assert_eq!(typed(&mut d, &all_letters), "qwertyuiopasdfghjklzxcvbnm");
        let digits: std::vec::Vec<u16> = (KEY_1..=KEY_0).collect();
        assert_eq!(typed(&mut d, &digits), "1234567890");
        let punct =
            [MINUS, EQUAL, LEFTBRACE, RIGHTBRACE, SEMICOLON, APOSTROPHE, GRAVE, BACKSLASH, COMMA, DOT, SLASH, SPACE];
        assert_eq!(typed(&mut d, &punct), "-=[];'`\\,./ ");
        assert_eq!(d.unknown(), 0);
    }

    #[test]
    fn shift_left_and_right() {
        let mut d = EvdevKeyDecoder::new();
        assert_eq!(d.feed(LEFTSHIFT, PRESS), None);
        let digits: std::vec::Vec<u16> = (KEY_1..=KEY_0).collect();
        assert_eq!(typed(&mut d, &digits), "!@#$%^&*()");
        let punct = [MINUS, EQUAL, LEFTBRACE, RIGHTBRACE, SEMICOLON, APOSTROPHE, GRAVE, BACKSLASH, COMMA, DOT, SLASH];
        assert_eq!(typed(&mut d, &punct), "_+{}:\"~|<>?");
        assert_eq!(tap(&mut d, A), Some(KeyEvent::char('A')));
        // Shift is reported on named keys.
        assert_eq!(tap(&mut d, F1 + 4), Some(KeyEvent::new(Key::F(5), Modifiers::SHIFT)));
        assert_eq!(tap(&mut d, TAB), Some(KeyEvent::new(Key::Tab, Modifiers::SHIFT)));
        // Both shifts down, one released: still shifted.
        assert_eq!(d.feed(RIGHTSHIFT, PRESS), None);
        assert_eq!(d.feed(LEFTSHIFT, RELEASE), None);
        assert_eq!(tap(&mut d, B), Some(KeyEvent::char('B')));
        assert_eq!(d.feed(RIGHTSHIFT, RELEASE), None);
        assert_eq!(tap(&mut d, B), Some(KeyEvent::char('b')));
    }

    const B: u16 = 48;
    const C: u16 = 46;
    const X: u16 = 45;

    #[test]
    fn ctrl_and_alt() {
        let mut d = EvdevKeyDecoder::new();
        d.feed(LEFTCTRL, PRESS);
        assert_eq!(tap(&mut d, C), Some(KeyEvent::ctrl('c')));
        d.feed(LEFTSHIFT, PRESS);
        assert_eq!(
            tap(&mut d, C),
            Some(KeyEvent::new(Key::Char('c'), Modifiers { shift: true, ctrl: true, alt: false }))
        );
        d.feed(LEFTSHIFT, RELEASE);
        d.feed(LEFTCTRL, RELEASE);
        d.feed(RIGHTCTRL, PRESS);
        assert_eq!(tap(&mut d, C), Some(KeyEvent::ctrl('c')));
        d.feed(RIGHTCTRL, RELEASE);
        assert_eq!(tap(&mut d, C), Some(KeyEvent::char('c')));
        d.feed(LEFTALT, PRESS);
        assert_eq!(tap(&mut d, X), Some(KeyEvent::char('x').with_alt()));
        d.feed(LEFTALT, RELEASE);
        d.feed(RIGHTALT, PRESS);
        assert_eq!(tap(&mut d, UP), Some(KeyEvent::new(Key::Up, Modifiers::ALT)));
        d.feed(RIGHTALT, RELEASE);
        assert!(d.modifiers().is_empty());
        // Meta is known but does nothing.
        assert_eq!(d.feed(LEFTMETA, PRESS), None);
        assert_eq!(tap(&mut d, X), Some(KeyEvent::char('x')));
        assert_eq!(d.unknown(), 0);
    }

    #[test]
    fn caps_lock_toggles() {
        let mut d = EvdevKeyDecoder::new();
        assert_eq!(d.feed(CAPSLOCK, PRESS), None);
        // Auto-repeat of a held Caps Lock does not toggle it back.
        assert_eq!(d.feed(CAPSLOCK, REPEAT), None);
        assert_eq!(d.feed(CAPSLOCK, RELEASE), None);
        assert!(d.caps_lock());
        assert_eq!(tap(&mut d, A), Some(KeyEvent::char('A')));
        assert_eq!(tap(&mut d, KEY_1), Some(KeyEvent::char('1')));
        d.feed(LEFTSHIFT, PRESS);
        assert_eq!(tap(&mut d, A), Some(KeyEvent::char('a')));
        assert_eq!(tap(&mut d, KEY_1), Some(KeyEvent::char('!')));
        d.feed(LEFTSHIFT, RELEASE);
        d.feed(LEFTCTRL, PRESS);
        assert_eq!(tap(&mut d, A), Some(KeyEvent::ctrl('a')));
        d.feed(LEFTCTRL, RELEASE);
        tap(&mut d, CAPSLOCK);
        assert!(!d.caps_lock());
        assert_eq!(tap(&mut d, A), Some(KeyEvent::char('a')));
    }

    #[test]
    fn named_keys() {
        let cases = [
            (ESC, Key::Escape),
            (BACKSPACE, Key::Backspace),
            (TAB, Key::Tab),
            (ENTER, Key::Enter),
            (KPENTER, Key::Enter),
            (UP, Key::Up),
            (DOWN, Key::Down),
            (LEFT, Key::Left),
            (RIGHT, Key::Right),
            (HOME, Key::Home),
            (END, Key::End),
            (PAGEUP, Key::PageUp),
            (PAGEDOWN, Key::PageDown),
            (INSERT, Key::Insert),
            (DELETE, Key::Delete),
            (F1, Key::F(1)),
            (F10, Key::F(10)),
            (F11, Key::F(11)),
            (F12, Key::F(12)),
        ];
        let mut d = EvdevKeyDecoder::new();
        for (code, key) in cases {
            assert_eq!(tap(&mut d, code), Some(KeyEvent::plain(key)), "code {code}");
        }
        for (i, code) in (F1..=F10).enumerate() {
            assert_eq!(tap(&mut d, code), Some(KeyEvent::plain(Key::F(i as u8 + 1))));
        }
    }

    #[test]
    fn keypad_follows_num_lock() {
        let mut d = EvdevKeyDecoder::new();
        assert!(d.num_lock());
        assert_eq!(typed(&mut d, &[KP7, KP8, KP9, KP4, KP5, KP6, KP1, KP2, KP3, KP0, KPDOT]), "7894561230.");
        assert_eq!(typed(&mut d, &[KPSLASH, KPASTERISK, KPMINUS, KPPLUS]), "/*-+");
        tap(&mut d, NUMLOCK);
        assert!(!d.num_lock());
        assert_eq!(tap(&mut d, KP7), Some(KeyEvent::plain(Key::Home)));
        assert_eq!(tap(&mut d, KP8), Some(KeyEvent::plain(Key::Up)));
        assert_eq!(tap(&mut d, KPDOT), Some(KeyEvent::plain(Key::Delete)));
        assert_eq!(tap(&mut d, KP5), None);
        assert_eq!(tap(&mut d, KPSLASH), Some(KeyEvent::char('/')));
        assert_eq!(d.unknown(), 0);
    }

    #[test]
    fn repeats_are_events_and_releases_are_not() {
        let mut d = EvdevKeyDecoder::new();
        assert_eq!(d.feed(A, PRESS), Some(KeyEvent::char('a')));
        assert_eq!(d.feed(A, REPEAT), Some(KeyEvent::char('a')));
        assert_eq!(d.feed(A, REPEAT), Some(KeyEvent::char('a')));
        assert_eq!(d.feed(A, RELEASE), None);
        assert_eq!(d.feed(BACKSPACE, REPEAT), Some(KeyEvent::plain(Key::Backspace)));
    }

    #[test]
    fn unknown_codes_and_values_are_counted() {
        let mut d = EvdevKeyDecoder::new();
        assert_eq!(d.feed(0, PRESS), None);
        assert_eq!(d.feed(113, PRESS), None); // KEY_MUTE
        assert_eq!(d.feed(113, RELEASE), None); // releases are not counted twice
        assert_eq!(d.feed(0x110, PRESS), None); // BTN_LEFT
        assert_eq!(d.feed(u16::MAX, REPEAT), None);
        assert_eq!(d.unknown(), 4);
        assert_eq!(d.feed(A, 3), None);
        assert_eq!(d.feed(A, -1), None);
        assert_eq!(d.unknown(), 6);
        // Known but meaningless keys are not unknown.
        assert_eq!(tap(&mut d, SCROLLLOCK), None);
        assert_eq!(tap(&mut d, PAUSE), None);
        assert_eq!(d.unknown(), 6);
        // Every code and value: no panic, no control characters.
        for code in 0..=u16::MAX {
            for value in [-1, 0, 1, 2, 3, i32::MIN, i32::MAX] {
                if let Some(KeyEvent { key: Key::Char(c), .. }) = d.feed(code, value) {
                    assert!(!c.is_control());
                }
            }
        }
    }

    #[test]
    fn release_all_unsticks_modifiers() {
        let mut d = EvdevKeyDecoder::new();
        d.feed(LEFTCTRL, PRESS);
        d.feed(RIGHTALT, PRESS);
        d.feed(CAPSLOCK, PRESS);
        d.release_all();
        assert!(d.modifiers().is_empty());
        assert!(d.caps_lock());
        assert_eq!(tap(&mut d, A), Some(KeyEvent::char('A')));
    }

    #[test]
    fn modifier_codes() {
        for c in [LEFTSHIFT, RIGHTSHIFT, LEFTCTRL, RIGHTCTRL, LEFTALT, RIGHTALT, LEFTMETA, RIGHTMETA, CAPSLOCK, NUMLOCK]
        {
            assert!(is_modifier_code(c), "{c}");
        }
        for c in [A, ENTER, SPACE, UP, F1, KP7, 0, 113, u16::MAX] {
            assert!(!is_modifier_code(c), "{c}");
        }
    }
}
