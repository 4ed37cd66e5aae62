//! Key events: the one vocabulary every keyboard decoder (serial terminal, PS/2,
//! virtio-input) speaks, so the application never learns where a key came from.
//!
//! Conventions, chosen so that the application matches on one shape per key:
//! - A printable key arrives as [`Key::Char`] carrying the character the user
//!   sees, already shifted (`'A'` for Shift+a, `'!'` for Shift+1); `shift` is then
//!   `false`, because the shift is already inside the character.
//! - With Ctrl held, letters arrive lowercase with `ctrl: true` (Ctrl+C is
//!   `Char('c')` + ctrl), never as the ASCII control character. `shift` then
//!   reports the physical Shift key, since the character no longer shows it.
//! - Named keys (Enter, arrows, F-keys...) carry every modifier that was held.
//! - Only presses and auto-repeats are events; releases are not.

use core::fmt;

/// A key, independent of the device and scancode set that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A printable character (letter, digit, punctuation, space or any Unicode
    /// character a terminal sent), already shifted.
    Char(char),
    /// Enter / Return (also keypad Enter).
    Enter,
    /// Backspace (delete the character before the cursor).
    Backspace,
    /// Delete (delete the character under the cursor).
    Delete,
    /// Tab (Shift+Tab is `Tab` with `shift`).
    Tab,
    /// Escape.
    Escape,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// Insert.
    Insert,
    /// A function key, `F(1)` to `F(12)`.
    F(u8),
}

impl Key {
    /// The name used when displaying the key, or `None` for a character (which
    /// displays as itself).
    const fn name(self) -> Option<&'static str> {
        Some(match self {
            Key::Char(_) | Key::F(_) => return None,
            Key::Enter => "Enter",
            Key::Backspace => "Backspace",
            Key::Delete => "Delete",
            Key::Tab => "Tab",
            Key::Escape => "Escape",
            Key::Up => "Up",
            Key::Down => "Down",
            Key::Left => "Left",
            Key::Right => "Right",
            Key::Home => "Home",
            Key::End => "End",
            Key::PageUp => "PageUp",
            Key::PageDown => "PageDown",
            Key::Insert => "Insert",
        })
    }
}

/// The modifier keys held when a key was pressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Modifiers {
    /// Either Shift key (see the module conventions for printable keys).
    pub shift: bool,
    /// Either Ctrl key.
    pub ctrl: bool,
    /// Either Alt key (the terminal's Meta/ESC prefix too).
    pub alt: bool,
}

impl Modifiers {
    /// No modifier held.
    pub const NONE: Modifiers = Modifiers { shift: false, ctrl: false, alt: false };
    /// Only Shift held.
    pub const SHIFT: Modifiers = Modifiers { shift: true, ctrl: false, alt: false };
    /// Only Ctrl held.
    pub const CTRL: Modifiers = Modifiers { shift: false, ctrl: true, alt: false };
    /// Only Alt held.
    pub const ALT: Modifiers = Modifiers { shift: false, ctrl: false, alt: true };

    /// Whether no modifier is held.
    pub const fn is_empty(self) -> bool {
        !(self.shift || self.ctrl || self.alt)
    }

    /// Both sets of modifiers together.
    pub const fn union(self, other: Modifiers) -> Modifiers {
        Modifiers { shift: self.shift || other.shift, ctrl: self.ctrl || other.ctrl, alt: self.alt || other.alt }
    }
}

/// One key press (or auto-repeat) with the modifiers held at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyEvent {
    /// Which key.
    pub key: Key,
    /// Which modifiers were held.
    pub modifiers: Modifiers,
}

impl KeyEvent {
    /// An event for `key` with `modifiers`.
    pub const fn new(key: Key, modifiers: Modifiers) -> KeyEvent {
        KeyEvent { key, modifiers }
    }

    /// An event for `key` with no modifier.
    pub const fn plain(key: Key) -> KeyEvent {
        KeyEvent { key, modifiers: Modifiers::NONE }
    }

    /// A printable character with no modifier (the common case when typing).
    pub const fn char(c: char) -> KeyEvent {
        KeyEvent::plain(Key::Char(c))
    }

    /// Ctrl plus a character, following the convention that letters are lowercase.
    pub const fn ctrl(c: char) -> KeyEvent {
        KeyEvent { key: Key::Char(c.to_ascii_lowercase()), modifiers: Modifiers::CTRL }
    }

    /// The same event with Alt added (how a terminal's ESC prefix reads).
    pub const fn with_alt(self) -> KeyEvent {
        KeyEvent { key: self.key, modifiers: self.modifiers.union(Modifiers::ALT) }
    }

    /// The character this event types into a text field, if it is plain typing
    /// (a character without Ctrl or Alt).
    pub const fn text(&self) -> Option<char> {
        match self.key {
            Key::Char(c) if !self.modifiers.ctrl && !self.modifiers.alt => Some(c),
            _ => None,
        }
    }
}

/// Renders the event the way a user would name it: `a`, `A`, `Ctrl+C`, `Alt+x`,
/// `Shift+F5`, `Ctrl+Alt+Delete`, `Space`. Modifiers come in the order Ctrl, Alt,
/// Shift. With Ctrl, a letter is shown uppercase as on the key cap.
impl fmt::Display for KeyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.modifiers;
        if m.ctrl {
            f.write_str("Ctrl+")?;
        }
        if m.alt {
            f.write_str("Alt+")?;
        }
        if m.shift {
            f.write_str("Shift+")?;
        }
        match self.key {
            Key::Char(' ') => f.write_str("Space"),
            // A control character should never be inside `Char`, but if one is,
            // show its code point instead of sending it raw to a log or screen.
            Key::Char(c) if c.is_control() => write!(f, "U+{:04X}", u32::from(c)),
            Key::Char(c) if m.ctrl && c.is_ascii_lowercase() => write!(f, "{}", c.to_ascii_uppercase()),
            Key::Char(c) => write!(f, "{c}"),
            Key::F(n) => write!(f, "F{n}"),
            named => f.write_str(named.name().unwrap_or("?")),
        }
    }
}

/// Something that produces key events: a decoder fed by an interrupt handler, a
/// queue of already-decoded keys, or a script in a test.
pub trait KeySource {
    /// The next key event, if one is waiting.
    fn next_key(&mut self) -> Option<KeyEvent>;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::ToString;

    #[test]
    fn display_examples_from_the_conventions() {
        assert_eq!(KeyEvent::char('a').to_string(), "a");
        assert_eq!(KeyEvent::char('A').to_string(), "A");
        assert_eq!(KeyEvent::char('!').to_string(), "!");
        assert_eq!(KeyEvent::ctrl('c').to_string(), "Ctrl+C");
        assert_eq!(KeyEvent::ctrl('C').to_string(), "Ctrl+C");
        assert_eq!(KeyEvent::char('x').with_alt().to_string(), "Alt+x");
        assert_eq!(KeyEvent::plain(Key::Up).to_string(), "Up");
        assert_eq!(KeyEvent::new(Key::F(5), Modifiers::SHIFT).to_string(), "Shift+F5");
        assert_eq!(KeyEvent::plain(Key::Enter).to_string(), "Enter");
        assert_eq!(KeyEvent::char(' ').to_string(), "Space");
        assert_eq!(KeyEvent::char('é').to_string(), "é");
        let all = Modifiers { shift: true, ctrl: true, alt: true };
        assert_eq!(KeyEvent::new(Key::Delete, all).to_string(), "Ctrl+Alt+Shift+Delete");
        assert_eq!(KeyEvent::new(Key::Char('c'), all).to_string(), "Ctrl+Alt+Shift+C");
        assert_eq!(KeyEvent::char('\u{1}').to_string(), "U+0001");
    }

    #[test]
    fn every_named_key_has_a_distinct_display() {
        let keys = [
            Key::Enter,
            Key::Backspace,
            Key::Delete,
            Key::Tab,
            Key::Escape,
            Key::Up,
            Key::Down,
            Key::Left,
            Key::Right,
            Key::Home,
            Key::End,
            Key::PageUp,
            Key::PageDown,
            Key::Insert,
            Key::F(1),
            Key::F(12),
        ];
        let names: std::vec::Vec<_> = keys.iter().map(|k| KeyEvent::plain(*k).to_string()).collect();
        for (i, a) in names.iter().enumerate() {
            assert!(!a.contains('?'), "{a}");
            for b in names.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
        assert_eq!(format!("{}", KeyEvent::plain(Key::PageDown)), "PageDown");
    }

    #[test]
    fn modifiers_helpers() {
        assert!(Modifiers::default().is_empty());
        assert_eq!(Modifiers::default(), Modifiers::NONE);
        assert!(!Modifiers::SHIFT.is_empty());
        let m = Modifiers::CTRL.union(Modifiers::ALT);
        assert!(m.ctrl && m.alt && !m.shift);
    }

    #[test]
    fn text_is_only_plain_typing() {
        assert_eq!(KeyEvent::char('q').text(), Some('q'));
        assert_eq!(KeyEvent::new(Key::Char('Q'), Modifiers::SHIFT).text(), Some('Q'));
        assert_eq!(KeyEvent::ctrl('q').text(), None);
        assert_eq!(KeyEvent::char('q').with_alt().text(), None);
        assert_eq!(KeyEvent::plain(Key::Enter).text(), None);
    }
}
