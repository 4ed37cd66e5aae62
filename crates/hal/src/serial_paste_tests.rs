//! Bracketed paste in the serial decoder: what a terminal sends around pasted text.

extern crate std;
use super::*;
use std::string::String;
use std::vec::Vec;

fn decode(d: &mut SerialKeyDecoder, bytes: &[u8]) -> Vec<KeyEvent> {
    let mut events = Vec::new();
    d.feed_slice(bytes, &mut |ev| events.push(ev));
    events
}

fn newline() -> KeyEvent {
    KeyEvent::new(Key::Enter, Modifiers::SHIFT)
}

/// What an editor that inserts text, a newline for Shift+Enter and sends on Enter
/// would hold: the pasted text rebuilt from the events, plus how many sends there were.
fn rebuild(events: &[KeyEvent]) -> (String, usize) {
    let mut text = String::new();
    let mut sends = 0;
    for ev in events {
        match (ev.key, ev.modifiers) {
            (Key::Enter, m) if m == Modifiers::SHIFT => text.push('\n'),
            (Key::Enter, _) => sends += 1,
            (Key::Tab, _) => text.push('\t'),
            _ => text.push(ev.text().expect("only text inside a paste")),
        }
    }
    (text, sends)
}

fn bracketed(text: &str) -> Vec<u8> {
    let mut bytes = b"\x1b[200~".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(b"\x1b[201~");
    bytes
}

#[test]
fn line_breaks_inside_a_paste_are_new_lines_not_sends() {
    let mut d = SerialKeyDecoder::new();
    let events = decode(&mut d, &bracketed("one\rtwo\nthree\r\nfour"));
    assert_eq!(rebuild(&events), (String::from("one\ntwo\nthree\nfour"), 0));
    assert!(!d.in_paste());
    assert_eq!(d.pastes(), 1);
    assert_eq!(d.malformed(), 0);
    // Enter after the paste sends again.
    assert_eq!(decode(&mut d, b"\r"), [KeyEvent::plain(Key::Enter)]);
    // CR LF CR LF is two new lines; CR CR as well.
    let events = decode(&mut d, &bracketed("a\r\n\r\nb\r\rc"));
    assert_eq!(rebuild(&events), (String::from("a\n\nb\n\nc"), 0));
}

#[test]
fn a_large_paste_arrives_byte_exact_in_any_split() {
    // 20 KB of lines with UTF-8, punctuation and blank lines.
    let mut text = String::new();
    let mut n = 0u32;
    while text.len() < 20_000 {
        n += 1;
        text.push_str(&std::format!("line {n}: fn main() {{ println!(\"héllo → {n}\"); }} // ünïcode ✓"));
        text.push(if n.is_multiple_of(7) { '\r' } else { '\n' });
        if n.is_multiple_of(11) {
            text.push('\n');
        }
    }
    let expected = text.replace("\r\n", "\n").replace('\r', "\n");
    let bytes = bracketed(&text);
    for split in [1usize, 3, 7, 64, 4096, bytes.len()] {
        let mut d = SerialKeyDecoder::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(split) {
            d.feed_slice(piece, &mut |ev| events.push(ev));
        }
        let (rebuilt, sends) = rebuild(&events);
        assert_eq!(sends, 0, "split {split}");
        assert!(rebuilt == expected, "split {split}: the paste was not rebuilt exactly");
        assert_eq!((d.malformed(), d.invalid_utf8(), d.pastes()), (0, 0, 1), "split {split}");
        assert!(!d.is_pending() && !d.in_paste());
    }
}

#[test]
fn pasted_controls_are_not_commands() {
    let mut d = SerialKeyDecoder::new();
    // Ctrl+C, Backspace, DEL, NUL inside a paste do nothing; Tab stays a Tab.
    let events = decode(&mut d, &bracketed("a\x03b\x08c\x7fd\x00e\tf"));
    assert_eq!(rebuild(&events), (String::from("abcde\tf"), 0));
    assert_eq!(d.malformed(), 4);
    // Outside a paste they are keys again.
    assert_eq!(decode(&mut d, b"\x03"), [KeyEvent::ctrl('c')]);
}

#[test]
fn sequences_inside_a_paste_still_decode() {
    let mut d = SerialKeyDecoder::new();
    let events = decode(&mut d, b"\x1b[200~x\x1b[Ay\x1b[201~");
    assert_eq!(events, [KeyEvent::char('x'), KeyEvent::plain(Key::Up), KeyEvent::char('y')]);
    // A stray end marker is swallowed; a nested start marker changes nothing.
    let events = decode(&mut d, b"\x1b[201~z\x1b[200~\x1b[200~w\r\x1b[201~\r");
    assert_eq!(events, [KeyEvent::char('z'), KeyEvent::char('w'), newline(), KeyEvent::plain(Key::Enter)]);
    assert_eq!(d.malformed(), 0);
    // Markers split byte by byte.
    let mut d = SerialKeyDecoder::new();
    let mut events = Vec::new();
    for b in bracketed("p\rq") {
        events.extend(decode(&mut d, &[b]));
    }
    assert_eq!(events, [KeyEvent::char('p'), newline(), KeyEvent::char('q')]);
}

#[test]
fn a_lost_end_marker_can_be_cleared() {
    let mut d = SerialKeyDecoder::new();
    assert_eq!(
        decode(&mut d, b"\x1b[200~half\r"),
        [KeyEvent::char('h'), KeyEvent::char('a'), KeyEvent::char('l'), KeyEvent::char('f'), newline()]
    );
    assert!(d.in_paste());
    // A quiet line does not end the paste by itself (the kernel decides when).
    d.flush(&mut |_| {});
    assert!(d.in_paste());
    d.end_paste();
    assert!(!d.in_paste());
    assert_eq!(d.malformed(), 1);
    assert_eq!(d.pastes(), 0);
    assert_eq!(decode(&mut d, b"\r"), [KeyEvent::plain(Key::Enter)]);
    // Ending when not pasting counts nothing.
    d.end_paste();
    assert_eq!(d.malformed(), 1);
}

#[test]
fn other_csi_200_forms_are_not_markers() {
    for bytes in [&b"\x1b[200;2~"[..], b"\x1b[2000~", b"\x1b[200A", b"\x1b[?200~"] {
        let mut d = SerialKeyDecoder::new();
        assert_eq!(decode(&mut d, bytes), [], "{bytes:?}");
        assert!(!d.in_paste(), "{bytes:?}");
        assert_eq!(d.malformed(), 1, "{bytes:?}");
    }
}
