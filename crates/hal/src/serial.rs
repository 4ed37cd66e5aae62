//! Key events from a serial terminal (the COM1 / PL011 console): the bytes a
//! terminal emulator sends when keys are pressed, decoded into [`KeyEvent`]s.
//!
//! What a terminal sends, and how it is read here:
//! - printable ASCII and UTF-8 characters → [`Key::Char`];
//! - CR, LF, or CR LF → one Enter; DEL (0x7f) and BS (0x08) → Backspace; HT → Tab;
//! - other C0 controls → Ctrl+letter (0x03 is Ctrl+C), NUL → Ctrl+Space;
//! - `ESC [` (CSI) and `ESC O` (SS3) sequences → arrows, Home/End, Insert/Delete,
//!   Page Up/Down, F1–F12, Shift+Tab, with xterm's `;m` modifier parameter;
//! - ESC followed by anything else → that key with Alt (the "meta sends escape"
//!   convention);
//! - a lone ESC → Escape, but only once the line has been quiet: ESC is also the
//!   start of every sequence, so the decoder waits, and the kernel calls
//!   [`SerialKeyDecoder::flush`] when no byte has arrived for ~50 ms.
//!
//! - bracketed paste (`ESC [ 200 ~` … `ESC [ 201 ~`, what a terminal sends around
//!   pasted text once the application asked for it with `ESC [ ? 2004 h`): inside a
//!   paste, CR, LF and CR LF become Shift+Enter (a new line in the editor, not a
//!   send), and other control characters are dropped so pasted bytes can never act
//!   as commands (a pasted 0x03 is not Ctrl+C). Printable text and Tab pass as usual.
//!
//! Anything else (unknown or over-long sequences, invalid UTF-8) is dropped and
//! counted, never typed: garbage on the line must not become text in the chat.
//! The decoder holds at most [`MAX_SEQUENCE`] bytes of a pending sequence, so
//! no input can make it grow.

use crate::keys::{Key, KeyEvent, Modifiers};

/// The longest control sequence (after `ESC [`) the decoder buffers; longer ones
/// are discarded. Real key sequences are at most 7 bytes (`ESC [ 2 4 ; 8 ~`).
pub const MAX_SEQUENCE: usize = 16;

const ESC: u8 = 0x1b;
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Where the decoder is within the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between keys.
    Ground,
    /// After ESC: a sequence, an Alt prefix, or a lone Escape.
    Escape,
    /// After `ESC [`, collecting parameter bytes into `seq`.
    Csi,
    /// After `ESC O`: one final byte follows.
    Ss3,
    /// After `ESC [ [`: the Linux console's F1–F5 (`ESC [ [ A`...).
    LinuxFunction,
    /// Inside a sequence already counted as malformed: swallow it up to its
    /// final byte so its tail is not typed as text.
    Discard,
    /// Inside a UTF-8 character that needs `need` bytes in total.
    Utf8 { need: u8 },
}

/// Decodes bytes from a serial terminal into key events. See the module
/// documentation for the byte conventions.
#[derive(Debug, Clone)]
pub struct SerialKeyDecoder {
    state: State,
    /// Parameter and intermediate bytes of the pending CSI sequence.
    seq: [u8; MAX_SEQUENCE],
    /// Bytes used in `seq`; always `<= MAX_SEQUENCE`.
    seq_len: usize,
    /// Bytes of the pending UTF-8 character.
    utf8: [u8; 4],
    /// Bytes used in `utf8`; always `< 4` between calls.
    utf8_len: usize,
    /// An ESC prefix that applies (as Alt) to the key being decoded.
    alt: bool,
    /// The previous byte was a CR, so an LF right after it is the same Enter.
    after_cr: bool,
    /// Between `ESC [ 200 ~` and `ESC [ 201 ~`: the bytes are pasted text.
    paste: bool,
    /// Bracketed pastes completed since creation.
    pastes: u64,
    malformed: u64,
    invalid_utf8: u64,
}

impl Default for SerialKeyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialKeyDecoder {
    /// A decoder between keys.
    pub const fn new() -> SerialKeyDecoder {
        SerialKeyDecoder {
            state: State::Ground,
            seq: [0; MAX_SEQUENCE],
            seq_len: 0,
            utf8: [0; 4],
            utf8_len: 0,
            alt: false,
            after_cr: false,
            paste: false,
            pastes: 0,
            malformed: 0,
            invalid_utf8: 0,
        }
    }

    /// Escape sequences dropped since creation: unknown final bytes, bad or
    /// too many parameters, over-long or interrupted sequences, and UTF-8
    /// characters that are not keys (C1 controls).
    pub const fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Invalid UTF-8 sequences dropped since creation.
    pub const fn invalid_utf8(&self) -> u64 {
        self.invalid_utf8
    }

    /// Whether a bracketed paste is in progress (its start marker arrived, its end
    /// marker not yet).
    pub const fn in_paste(&self) -> bool {
        self.paste
    }

    /// Bracketed pastes that ended with their end marker since creation.
    pub const fn pastes(&self) -> u64 {
        self.pastes
    }

    /// Leaves paste mode without the end marker (the kernel calls this when the line
    /// stayed quiet for long in the middle of a paste: the marker was lost, and Enter
    /// must send again). Counted as malformed.
    pub fn end_paste(&mut self) {
        if core::mem::take(&mut self.paste) {
            self.count_malformed();
        }
    }

    /// Whether bytes are held back waiting for more (a lone ESC, a partial
    /// sequence or character). The kernel arms its ~50 ms quiet timer only then,
    /// and calls [`flush`](Self::flush) when it expires.
    pub const fn is_pending(&self) -> bool {
        !matches!(self.state, State::Ground)
    }

    /// Decodes one byte, passing every completed key event to `out` (one byte
    /// can complete up to two: the pending one it interrupts and its own).
    pub fn feed(&mut self, byte: u8, out: &mut impl FnMut(KeyEvent)) {
        let after_cr = core::mem::take(&mut self.after_cr);
        match self.state {
            State::Ground => {
                if byte == LF && after_cr {
                    return;
                }
                self.ground(byte, out);
            }
            State::Escape => match byte {
                b'[' => {
                    self.state = State::Csi;
                    self.seq_len = 0;
                }
                b'O' => self.state = State::Ss3,
                // ESC ESC: the first was a real Escape; the second starts over.
                ESC => out(KeyEvent::plain(Key::Escape)),
                _ => {
                    self.state = State::Ground;
                    self.alt = true;
                    self.ground(byte, out);
                }
            },
            State::Csi => match byte {
                b'[' if self.seq_len == 0 => self.state = State::LinuxFunction,
                b'~' if self.paste_marker() => {
                    self.state = State::Ground;
                    self.seq_len = 0;
                }
                0x40..=0x7e => {
                    self.state = State::Ground;
                    match self.decode_csi(byte) {
                        Some(ev) => out(ev),
                        None => self.count_malformed(),
                    }
                }
                0x20..=0x3f => match self.seq.get_mut(self.seq_len) {
                    Some(slot) => {
                        *slot = byte;
                        self.seq_len += 1;
                    }
                    None => {
                        self.count_malformed();
                        self.state = State::Discard;
                    }
                },
                // A control or non-ASCII byte cannot be part of a sequence: the
                // sequence was cut off, and this byte is a key of its own.
                _ => self.interrupt(byte, out),
            },
            State::Ss3 => match byte {
                0x40..=0x7e => {
                    self.state = State::Ground;
                    match decode_ss3(byte) {
                        Some(key) => out(KeyEvent::plain(key)),
                        None => self.count_malformed(),
                    }
                }
                0x20..=0x3f => {
                    self.count_malformed();
                    self.state = State::Discard;
                }
                // "ESC O" then something that cannot continue it: that was Alt+O.
                _ => {
                    out(KeyEvent::char('O').with_alt());
                    self.state = State::Ground;
                    self.ground(byte, out);
                }
            },
            State::LinuxFunction => match byte {
                b'A'..=b'E' => {
                    self.state = State::Ground;
                    out(KeyEvent::plain(Key::F(byte - b'A' + 1)));
                }
                0x40..=0x7e => {
                    self.state = State::Ground;
                    self.count_malformed();
                }
                0x20..=0x3f => {
                    self.count_malformed();
                    self.state = State::Discard;
                }
                _ => self.interrupt(byte, out),
            },
            State::Discard => match byte {
                0x40..=0x7e => self.state = State::Ground,
                0x20..=0x3f => {}
                _ => {
                    self.state = State::Ground;
                    self.ground(byte, out);
                }
            },
            State::Utf8 { need } => {
                if byte & 0xc0 != 0x80 {
                    // Not a continuation byte: the character was cut short.
                    self.invalid_utf8 = self.invalid_utf8.saturating_add(1);
                    self.alt = false;
                    self.state = State::Ground;
                    self.utf8_len = 0;
                    self.ground(byte, out);
                    return;
                }
                if let Some(slot) = self.utf8.get_mut(self.utf8_len) {
                    *slot = byte;
                    self.utf8_len += 1;
                }
                if self.utf8_len >= usize::from(need) {
                    self.state = State::Ground;
                    self.finish_utf8(out);
                }
            }
        }
    }

    /// Decodes every byte of `bytes` in order.
    pub fn feed_slice(&mut self, bytes: &[u8], out: &mut impl FnMut(KeyEvent)) {
        for &byte in bytes {
            self.feed(byte, out);
        }
    }

    /// Resolves whatever is held back after the line went quiet: a lone ESC
    /// becomes Escape, `ESC [` and `ESC O` become Alt+`[` and Alt+`O`, and a
    /// partial sequence or character is dropped and counted.
    pub fn flush(&mut self, out: &mut impl FnMut(KeyEvent)) {
        match self.state {
            State::Ground | State::Discard => {}
            State::Escape => out(KeyEvent::plain(Key::Escape)),
            State::Csi if self.seq_len == 0 => out(KeyEvent::char('[').with_alt()),
            State::Csi => self.count_malformed(),
            State::Ss3 => out(KeyEvent::char('O').with_alt()),
            State::LinuxFunction => {
                out(KeyEvent::char('[').with_alt());
                out(KeyEvent::char('['));
            }
            State::Utf8 { .. } => self.invalid_utf8 = self.invalid_utf8.saturating_add(1),
        }
        self.state = State::Ground;
        self.seq_len = 0;
        self.utf8_len = 0;
        self.alt = false;
        self.after_cr = false;
    }

    /// If the pending CSI parameters are `200` or `201` (before a `~`), switches
    /// paste mode on or off and returns true.
    fn paste_marker(&mut self) -> bool {
        match self.seq.get(..self.seq_len) {
            Some(b"200") => {
                self.paste = true;
                true
            }
            Some(b"201") => {
                if core::mem::take(&mut self.paste) {
                    self.pastes = self.pastes.saturating_add(1);
                }
                true
            }
            _ => false,
        }
    }

    /// A byte between keys (or right after an Alt prefix).
    fn ground(&mut self, byte: u8, out: &mut impl FnMut(KeyEvent)) {
        if self.paste && byte != ESC {
            return self.pasted(byte, out);
        }
        let key = match byte {
            ESC => {
                self.alt = false;
                self.state = State::Escape;
                return;
            }
            CR => {
                self.after_cr = true;
                KeyEvent::plain(Key::Enter)
            }
            LF => KeyEvent::plain(Key::Enter),
            0x7f | 0x08 => KeyEvent::plain(Key::Backspace),
            b'\t' => KeyEvent::plain(Key::Tab),
            // Terminals send NUL for Ctrl+Space (and Ctrl+@).
            0x00 => KeyEvent::ctrl(' '),
            0x01..=0x1a => KeyEvent::ctrl(char::from(byte + 0x60)),
            // 0x1c..=0x1f are Ctrl+\ Ctrl+] Ctrl+^ Ctrl+_.
            0x1c..=0x1f => KeyEvent::ctrl(char::from(byte + 0x40)),
            0x20..=0x7e => KeyEvent::char(char::from(byte)),
            0xc2..=0xdf => return self.start_utf8(byte, 2),
            0xe0..=0xef => return self.start_utf8(byte, 3),
            0xf0..=0xf4 => return self.start_utf8(byte, 4),
            // A stray continuation byte, or a lead byte no valid UTF-8 uses.
            _ => {
                self.alt = false;
                self.invalid_utf8 = self.invalid_utf8.saturating_add(1);
                return;
            }
        };
        self.emit(key, out);
    }

    /// A byte of pasted text: line breaks become Shift+Enter, other controls are dropped.
    fn pasted(&mut self, byte: u8, out: &mut impl FnMut(KeyEvent)) {
        match byte {
            CR => {
                self.after_cr = true;
                self.emit(KeyEvent::new(Key::Enter, Modifiers::SHIFT), out);
            }
            LF => self.emit(KeyEvent::new(Key::Enter, Modifiers::SHIFT), out),
            b'\t' => self.emit(KeyEvent::plain(Key::Tab), out),
            0x00..=0x1f | 0x7f => {
                self.alt = false;
                self.count_malformed();
            }
            0x20..=0x7e => self.emit(KeyEvent::char(char::from(byte)), out),
            0xc2..=0xdf => self.start_utf8(byte, 2),
            0xe0..=0xef => self.start_utf8(byte, 3),
            0xf0..=0xf4 => self.start_utf8(byte, 4),
            _ => {
                self.alt = false;
                self.invalid_utf8 = self.invalid_utf8.saturating_add(1);
            }
        }
    }

    fn start_utf8(&mut self, lead: u8, need: u8) {
        self.utf8 = [lead, 0, 0, 0];
        self.utf8_len = 1;
        self.state = State::Utf8 { need };
    }

    fn finish_utf8(&mut self, out: &mut impl FnMut(KeyEvent)) {
        let len = core::mem::take(&mut self.utf8_len);
        let decoded = self.utf8.get(..len).and_then(|b| core::str::from_utf8(b).ok()).and_then(|s| s.chars().next());
        match decoded {
            Some(c) if !c.is_control() => self.emit(KeyEvent::char(c), out),
            // Well-formed but a C1 control: not a key.
            Some(_) => {
                self.alt = false;
                self.count_malformed();
            }
            // Overlong forms, surrogates, code points past U+10FFFF.
            None => {
                self.alt = false;
                self.invalid_utf8 = self.invalid_utf8.saturating_add(1);
            }
        }
    }

    /// A pending sequence was cut off by `byte`, which is then decoded as usual.
    fn interrupt(&mut self, byte: u8, out: &mut impl FnMut(KeyEvent)) {
        self.count_malformed();
        self.state = State::Ground;
        self.seq_len = 0;
        self.ground(byte, out);
    }

    fn emit(&mut self, ev: KeyEvent, out: &mut impl FnMut(KeyEvent)) {
        out(if core::mem::take(&mut self.alt) { ev.with_alt() } else { ev });
    }

    fn count_malformed(&mut self) {
        self.malformed = self.malformed.saturating_add(1);
    }

    /// The key for a complete CSI sequence ending in `final_byte`, or `None` if
    /// it is not a key this decoder knows.
    fn decode_csi(&mut self, final_byte: u8) -> Option<KeyEvent> {
        let len = core::mem::take(&mut self.seq_len);
        let params = Params::parse(self.seq.get(..len)?)?;
        let modifiers = match params.second {
            None => Modifiers::NONE,
            Some(m) => xterm_modifiers(m)?,
        };
        // The letter-final keys take no parameter, or `1;m` to carry modifiers.
        let letter_key = matches!(params.first, None | Some(1));
        let key = match final_byte {
            b'A' if letter_key => Key::Up,
            b'B' if letter_key => Key::Down,
            b'C' if letter_key => Key::Right,
            b'D' if letter_key => Key::Left,
            b'H' if letter_key => Key::Home,
            b'F' if letter_key => Key::End,
            b'P'..=b'S' if letter_key => Key::F(final_byte - b'P' + 1),
            // Back-tab: Shift+Tab.
            b'Z' if letter_key => {
                return Some(KeyEvent::new(Key::Tab, modifiers.union(Modifiers::SHIFT)));
            }
            b'~' => tilde_key(params.first?)?,
            _ => return None,
        };
        Some(KeyEvent::new(key, modifiers))
    }
}

/// Up to two numeric CSI parameters; `None` marks an empty (default) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Params {
    first: Option<u16>,
    second: Option<u16>,
}

impl Params {
    /// Parses `digits[;digits]`. Private markers (`?`, `<`...), sub-parameters
    /// (`:`), intermediate bytes, more than two parameters or more than three
    /// digits are not key sequences: `None`.
    fn parse(bytes: &[u8]) -> Option<Params> {
        let mut values = [None::<u16>; 2];
        let mut index = 0usize;
        let mut digits = 0u8;
        for &b in bytes {
            match b {
                b'0'..=b'9' => {
                    digits += 1;
                    if digits > 3 {
                        return None;
                    }
                    let slot = values.get_mut(index)?;
                    *slot = Some(slot.unwrap_or(0) * 10 + u16::from(b - b'0'));
                }
                b';' => {
                    index += 1;
                    digits = 0;
                    if index >= values.len() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        let [first, second] = values;
        Some(Params { first, second })
    }
}

/// xterm's modifier parameter: 1 + a bit mask of Shift (1), Alt (2), Ctrl (4) and
/// Meta (8, read as Alt: it is the same key on a PC keyboard).
fn xterm_modifiers(m: u16) -> Option<Modifiers> {
    if !(1..=16).contains(&m) {
        return None;
    }
    let bits = m - 1;
    Some(Modifiers { shift: bits & 1 != 0, alt: bits & 2 != 0 || bits & 8 != 0, ctrl: bits & 4 != 0 })
}

/// The key for `ESC [ n ~` (VT220 numbering, which leaves gaps at 16 and 22).
fn tilde_key(n: u16) -> Option<Key> {
    Some(match n {
        1 | 7 => Key::Home,
        2 => Key::Insert,
        3 => Key::Delete,
        4 | 8 => Key::End,
        5 => Key::PageUp,
        6 => Key::PageDown,
        11..=15 => Key::F(u8::try_from(n - 10).ok()?),
        17..=21 => Key::F(u8::try_from(n - 11).ok()?),
        23 | 24 => Key::F(u8::try_from(n - 12).ok()?),
        _ => return None,
    })
}

/// The key for `ESC O x` (what terminals send in "application" cursor mode and
/// for F1–F4).
fn decode_ss3(final_byte: u8) -> Option<Key> {
    Some(match final_byte {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'M' => Key::Enter,
        b'P'..=b'S' => Key::F(final_byte - b'P' + 1),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "serial_paste_tests.rs"]
mod paste_tests;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn decode(d: &mut SerialKeyDecoder, bytes: &[u8]) -> Vec<KeyEvent> {
        let mut events = Vec::new();
        d.feed_slice(bytes, &mut |ev| events.push(ev));
        events
    }

    fn decode_fresh(bytes: &[u8]) -> Vec<KeyEvent> {
        decode(&mut SerialKeyDecoder::new(), bytes)
    }

    fn flush(d: &mut SerialKeyDecoder) -> Vec<KeyEvent> {
        let mut events = Vec::new();
        d.flush(&mut |ev| events.push(ev));
        events
    }

    fn plain(key: Key) -> KeyEvent {
        KeyEvent::plain(key)
    }

    fn with(key: Key, shift: bool, alt: bool, ctrl: bool) -> KeyEvent {
        KeyEvent::new(key, Modifiers { shift, ctrl, alt })
    }

    #[test]
    fn printable_ascii() {
        let events = decode_fresh(b"Hi there!~");
        let text: std::string::String = events.iter().filter_map(KeyEvent::text).collect();
        assert_eq!(text, "Hi there!~");
        assert!(events.iter().all(|e| e.modifiers.is_empty()));
    }

    #[test]
    fn control_bytes() {
        assert_eq!(decode_fresh(&[0x7f]), [plain(Key::Backspace)]);
        assert_eq!(decode_fresh(&[0x08]), [plain(Key::Backspace)]);
        assert_eq!(decode_fresh(&[0x09]), [plain(Key::Tab)]);
        assert_eq!(decode_fresh(&[0x03]), [KeyEvent::ctrl('c')]);
        assert_eq!(decode_fresh(&[0x01]), [KeyEvent::ctrl('a')]);
        assert_eq!(decode_fresh(&[0x1a]), [KeyEvent::ctrl('z')]);
        assert_eq!(decode_fresh(&[0x00]), [KeyEvent::ctrl(' ')]);
        assert_eq!(decode_fresh(&[0x1c, 0x1d, 0x1f]), [KeyEvent::ctrl('\\'), KeyEvent::ctrl(']'), KeyEvent::ctrl('_')]);
        // Every byte 0x01..=0x1a other than BS, HT, LF, CR is Ctrl+letter.
        for b in 0x01u8..=0x1a {
            let events = decode_fresh(&[b]);
            match b {
                0x08 => assert_eq!(events, [plain(Key::Backspace)]),
                0x09 => assert_eq!(events, [plain(Key::Tab)]),
                0x0a | 0x0d => assert_eq!(events, [plain(Key::Enter)]),
                _ => assert_eq!(events, [KeyEvent::ctrl(char::from(b'a' + b - 1))], "byte {b:#x}"),
            }
        }
    }

    #[test]
    fn line_endings() {
        assert_eq!(decode_fresh(b"\r"), [plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\n"), [plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\r\n"), [plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\r\r"), [plain(Key::Enter), plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\n\n"), [plain(Key::Enter), plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\n\r"), [plain(Key::Enter), plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"\r\n\r\n"), [plain(Key::Enter), plain(Key::Enter)]);
        assert_eq!(decode_fresh(b"a\r\nb"), [KeyEvent::char('a'), plain(Key::Enter), KeyEvent::char('b')]);
        // Only an LF *immediately* after CR is swallowed.
        assert_eq!(decode_fresh(b"\rx\n"), [plain(Key::Enter), KeyEvent::char('x'), plain(Key::Enter)]);
        // CR LF split across feeds is still one Enter.
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, b"\r"), [plain(Key::Enter)]);
        assert_eq!(decode(&mut d, b"\n"), []);
        // After a quiet period the LF is a separate key press.
        assert_eq!(decode(&mut d, b"\r"), [plain(Key::Enter)]);
        assert_eq!(flush(&mut d), []);
        assert_eq!(decode(&mut d, b"\n"), [plain(Key::Enter)]);
        assert!(!d.is_pending());
    }

    #[test]
    fn every_listed_escape_sequence() {
        let none = Modifiers::NONE;
        let table: &[(&[u8], Key)] = &[
            (b"\x1b[A", Key::Up),
            (b"\x1b[B", Key::Down),
            (b"\x1b[C", Key::Right),
            (b"\x1b[D", Key::Left),
            (b"\x1b[H", Key::Home),
            (b"\x1b[F", Key::End),
            (b"\x1bOH", Key::Home),
            (b"\x1bOF", Key::End),
            (b"\x1bOA", Key::Up),
            (b"\x1bOB", Key::Down),
            (b"\x1bOC", Key::Right),
            (b"\x1bOD", Key::Left),
            (b"\x1bOM", Key::Enter),
            (b"\x1b[1~", Key::Home),
            (b"\x1b[7~", Key::Home),
            (b"\x1b[2~", Key::Insert),
            (b"\x1b[3~", Key::Delete),
            (b"\x1b[4~", Key::End),
            (b"\x1b[8~", Key::End),
            (b"\x1b[5~", Key::PageUp),
            (b"\x1b[6~", Key::PageDown),
            (b"\x1b[11~", Key::F(1)),
            (b"\x1b[12~", Key::F(2)),
            (b"\x1b[13~", Key::F(3)),
            (b"\x1b[14~", Key::F(4)),
            (b"\x1b[15~", Key::F(5)),
            (b"\x1b[17~", Key::F(6)),
            (b"\x1b[18~", Key::F(7)),
            (b"\x1b[19~", Key::F(8)),
            (b"\x1b[20~", Key::F(9)),
            (b"\x1b[21~", Key::F(10)),
            (b"\x1b[23~", Key::F(11)),
            (b"\x1b[24~", Key::F(12)),
            (b"\x1bOP", Key::F(1)),
            (b"\x1bOQ", Key::F(2)),
            (b"\x1bOR", Key::F(3)),
            (b"\x1bOS", Key::F(4)),
            (b"\x1b[[A", Key::F(1)),
            (b"\x1b[[E", Key::F(5)),
        ];
        for (bytes, key) in table {
            let mut d = SerialKeyDecoder::new();
            assert_eq!(decode(&mut d, bytes), [KeyEvent::new(*key, none)], "{bytes:?}");
            assert!(!d.is_pending(), "{bytes:?}");
            assert_eq!(d.malformed(), 0, "{bytes:?}");
            // Byte by byte with other calls in between makes no difference.
            let mut d = SerialKeyDecoder::new();
            let mut events = Vec::new();
            for b in bytes.iter() {
                events.extend(decode(&mut d, &[*b]));
            }
            assert_eq!(events, [KeyEvent::new(*key, none)], "split {bytes:?}");
        }
    }

    #[test]
    fn xterm_modifier_parameters() {
        assert_eq!(decode_fresh(b"\x1b[1;2A"), [with(Key::Up, true, false, false)]);
        assert_eq!(decode_fresh(b"\x1b[1;3B"), [with(Key::Down, false, true, false)]);
        assert_eq!(decode_fresh(b"\x1b[1;5C"), [with(Key::Right, false, false, true)]);
        assert_eq!(decode_fresh(b"\x1b[1;8D"), [with(Key::Left, true, true, true)]);
        assert_eq!(decode_fresh(b"\x1b[1;5H"), [with(Key::Home, false, false, true)]);
        assert_eq!(decode_fresh(b"\x1b[1;2F"), [with(Key::End, true, false, false)]);
        assert_eq!(decode_fresh(b"\x1b[1;2P"), [with(Key::F(1), true, false, false)]);
        assert_eq!(decode_fresh(b"\x1b[1;6S"), [with(Key::F(4), true, false, true)]);
        assert_eq!(decode_fresh(b"\x1b[3;5~"), [with(Key::Delete, false, false, true)]);
        assert_eq!(decode_fresh(b"\x1b[15;2~"), [with(Key::F(5), true, false, false)]);
        assert_eq!(decode_fresh(b"\x1b[24;7~"), [with(Key::F(12), false, true, true)]);
        assert_eq!(decode_fresh(b"\x1b[5;1~"), [plain(Key::PageUp)]);
        // Meta (bit 3) reads as Alt.
        assert_eq!(decode_fresh(b"\x1b[1;9A"), [with(Key::Up, false, true, false)]);
        assert_eq!(decode_fresh(b"\x1b[Z"), [with(Key::Tab, true, false, false)]);
        assert_eq!(decode_fresh(b"\x1b[1;5Z"), [with(Key::Tab, true, false, true)]);
    }

    #[test]
    fn alt_prefix() {
        assert_eq!(decode_fresh(b"\x1bx"), [KeyEvent::char('x').with_alt()]);
        assert_eq!(decode_fresh(b"\x1bX"), [KeyEvent::char('X').with_alt()]);
        assert_eq!(decode_fresh(b"\x1b "), [KeyEvent::char(' ').with_alt()]);
        assert_eq!(decode_fresh(b"\x1b\x7f"), [plain(Key::Backspace).with_alt()]);
        assert_eq!(decode_fresh(b"\x1b\r"), [plain(Key::Enter).with_alt()]);
        assert_eq!(decode_fresh(b"\x1b\x03"), [KeyEvent::ctrl('c').with_alt()]);
        assert_eq!(decode_fresh("\x1bé".as_bytes()), [KeyEvent::char('é').with_alt()]);
        // The Alt applies to one key only.
        assert_eq!(decode_fresh(b"\x1bab"), [KeyEvent::char('a').with_alt(), KeyEvent::char('b')]);
    }

    #[test]
    fn lone_escape_needs_a_flush() {
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, b"\x1b"), []);
        assert!(d.is_pending());
        assert_eq!(flush(&mut d), [plain(Key::Escape)]);
        assert!(!d.is_pending());
        assert_eq!(flush(&mut d), []);
        // Escape then a separate key after the quiet period.
        assert_eq!(decode(&mut d, b"\x1b"), []);
        assert_eq!(flush(&mut d), [plain(Key::Escape)]);
        assert_eq!(decode(&mut d, b"a"), [KeyEvent::char('a')]);
        // ESC ESC: the first is Escape at once, the second waits.
        assert_eq!(decode(&mut d, b"\x1b\x1b"), [plain(Key::Escape)]);
        assert_eq!(flush(&mut d), [plain(Key::Escape)]);
        // ESC ESC [ A: Escape, then Up.
        assert_eq!(decode(&mut d, b"\x1b\x1b[A"), [plain(Key::Escape), plain(Key::Up)]);
        // ESC [ and ESC O alone were Alt+[ and Alt+O.
        assert_eq!(decode(&mut d, b"\x1b["), []);
        assert_eq!(flush(&mut d), [KeyEvent::char('[').with_alt()]);
        assert_eq!(decode(&mut d, b"\x1bO"), []);
        assert_eq!(flush(&mut d), [KeyEvent::char('O').with_alt()]);
        assert_eq!(decode(&mut d, b"\x1b[["), []);
        assert_eq!(flush(&mut d), [KeyEvent::char('[').with_alt(), KeyEvent::char('[')]);
        // ESC O followed by a control byte: Alt+O, then that key.
        assert_eq!(decode(&mut d, b"\x1bO\r"), [KeyEvent::char('O').with_alt(), plain(Key::Enter)]);
        assert_eq!(d.malformed(), 0);
        // A partial sequence cut by the quiet period is dropped.
        assert_eq!(decode(&mut d, b"\x1b[1;"), []);
        assert_eq!(flush(&mut d), []);
        assert_eq!(d.malformed(), 1);
        assert_eq!(decode(&mut d, b"5A"), [KeyEvent::char('5'), KeyEvent::char('A')]);
    }

    #[test]
    fn malformed_sequences_are_dropped_and_counted() {
        let bad: &[&[u8]] = &[
            b"\x1b[9~",      // unknown number
            b"\x1b[16~",     // VT220 gap
            b"\x1b[22~",     // VT220 gap
            b"\x1b[25~",     // beyond F12
            b"\x1b[~",       // tilde without a number
            b"\x1b[2A",      // arrow with a count
            b"\x1b[1;0A",    // modifier 0
            b"\x1b[1;17A",   // modifier out of range
            b"\x1b[1;2;3A",  // too many parameters
            b"\x1b[1234~",   // too many digits
            b"\x1b[?25h",    // private marker (cursor show)
            b"\x1b[<0;1;1M", // SGR mouse report
            b"\x1b[1:2A",    // sub-parameter
            b"\x1b[ A",      // intermediate byte
            b"\x1b[I",       // focus in
            b"\x1bOX",       // unknown SS3 final
            b"\x1b[[Z",      // unknown Linux console key
        ];
        for bytes in bad {
            let mut d = SerialKeyDecoder::new();
            assert_eq!(decode(&mut d, bytes), [], "{bytes:?}");
            assert_eq!(d.malformed(), 1, "{bytes:?}");
            assert!(!d.is_pending(), "{bytes:?}");
            // The decoder is back between keys.
            assert_eq!(decode(&mut d, b"k"), [KeyEvent::char('k')], "{bytes:?}");
        }
    }

    #[test]
    fn interrupted_sequences_keep_the_interrupting_key() {
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, b"\x1b[1\r"), [plain(Key::Enter)]);
        assert_eq!(d.malformed(), 1);
        assert_eq!(decode(&mut d, b"\x1b[1\x1b[B"), [plain(Key::Down)]);
        assert_eq!(d.malformed(), 2);
        assert_eq!(decode(&mut d, "\x1b[é".as_bytes()), [KeyEvent::char('é')]);
        assert_eq!(d.malformed(), 3);
        assert_eq!(decode(&mut d, b"\x1bO1Pz"), [KeyEvent::char('z')]);
        assert_eq!(d.malformed(), 4);
    }

    #[test]
    fn over_long_sequences_are_bounded_and_swallowed() {
        let mut d = SerialKeyDecoder::new();
        let mut bytes = std::vec![0x1b, b'['];
        bytes.extend(std::iter::repeat_n(b'1', 1_000));
        bytes.push(b'~');
        assert_eq!(decode(&mut d, &bytes), []);
        assert_eq!(d.malformed(), 1);
        assert!(d.seq_len <= MAX_SEQUENCE);
        assert_eq!(decode(&mut d, b"ok"), [KeyEvent::char('o'), KeyEvent::char('k')]);
        // Exactly MAX_SEQUENCE parameter bytes is still parsed (and rejected as a
        // key only for its value), one more is discarded.
        let mut d = SerialKeyDecoder::new();
        let mut at_limit = std::vec![0x1b, b'['];
        at_limit.extend(std::iter::repeat_n(b';', MAX_SEQUENCE));
        at_limit.push(b'A');
        assert_eq!(decode(&mut d, &at_limit), []);
        assert_eq!(d.malformed(), 1);
        assert_eq!(d.state, State::Ground);
    }

    #[test]
    fn utf8_characters() {
        let text = "é€😀ж";
        let events = decode_fresh(text.as_bytes());
        let chars: Vec<char> = events.iter().filter_map(KeyEvent::text).collect();
        assert_eq!(chars, text.chars().collect::<Vec<_>>());
        // Split across feeds.
        let mut d = SerialKeyDecoder::new();
        let mut out = Vec::new();
        for b in "😀".as_bytes() {
            assert!(out.is_empty());
            out.extend(decode(&mut d, &[*b]));
        }
        assert_eq!(out, [KeyEvent::char('😀')]);
    }

    #[test]
    fn invalid_utf8_is_dropped_and_counted() {
        let cases: &[(&[u8], usize, &str)] = &[
            (&[0xff], 1, ""),
            (&[0x80], 1, ""),                   // stray continuation
            (&[0xc0, 0xaf], 2, ""),             // overlong lead byte, then a stray continuation
            (&[0xe2, 0x82, b'a'], 1, "a"),      // truncated, then a real key
            (&[0xed, 0xa0, 0x80], 1, ""),       // surrogate
            (&[0xf4, 0x90, 0x80, 0x80], 1, ""), // beyond U+10FFFF
            (&[0xe0, 0x80, 0x80], 1, ""),       // overlong 3-byte form
            (&[0xf8, 0x88, 0x80, 0x80, 0x80], 5, ""),
        ];
        for (bytes, count, text) in cases {
            let mut d = SerialKeyDecoder::new();
            let events = decode(&mut d, bytes);
            let typed: std::string::String = events.iter().filter_map(KeyEvent::text).collect();
            assert_eq!(&typed, text, "{bytes:x?}");
            assert_eq!(d.invalid_utf8(), *count as u64, "{bytes:x?}");
        }
        // A C1 control, well-formed but not a key.
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, "\u{85}".as_bytes()), []);
        assert_eq!(d.malformed(), 1);
        // A character cut off by the quiet period.
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, &[0xe2, 0x82]), []);
        assert!(d.is_pending());
        assert_eq!(flush(&mut d), []);
        assert_eq!(d.invalid_utf8(), 1);
        assert_eq!(decode(&mut d, &[0xac]), []);
        assert_eq!(d.invalid_utf8(), 2);
        // An Alt prefix does not leak past an invalid character.
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, &[0x1b, 0xff, b'a']), [KeyEvent::char('a')]);
    }

    /// xorshift64: deterministic pseudo-random bytes without a dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut d = SerialKeyDecoder::new();
        let mut events = 0u64;
        for i in 0..100_000u32 {
            let r = rng.next();
            // Bias towards ESC and sequence bytes so the sequence states get
            // exercised, not just single bytes.
            let byte = match r % 8 {
                0 => 0x1b,
                1 => b'[',
                2 => b"0123456789;~ABCDHFOPZ"[(r >> 8) as usize % 21],
                _ => (r >> 16) as u8,
            };
            d.feed(byte, &mut |ev| {
                events += 1;
                if let Key::Char(c) = ev.key {
                    assert!(!c.is_control(), "{ev:?}");
                }
                if let Key::F(n) = ev.key {
                    assert!((1..=12).contains(&n), "{ev:?}");
                }
            });
            assert!(d.seq_len <= MAX_SEQUENCE);
            assert!(d.utf8_len < 4);
            if i % 997 == 0 {
                d.flush(&mut |_| events += 1);
            }
        }
        d.flush(&mut |_| events += 1);
        assert!(!d.is_pending());
        assert!(events > 10_000, "{events}");
        assert!(d.malformed() > 100, "{}", d.malformed());
        assert!(d.invalid_utf8() > 100, "{}", d.invalid_utf8());
        // Still decodes normally afterwards.
        assert_eq!(decode(&mut d, b"\x1b[A"), [plain(Key::Up)]);
    }
}
