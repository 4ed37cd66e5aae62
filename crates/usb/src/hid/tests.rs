use super::*;
use alloc::vec::Vec;
use hal::keys::{Key, Modifiers};

fn changes(kb: &mut BootKeyboard, report: &[u8]) -> Vec<(u16, bool)> {
    let mut out = Vec::new();
    kb.feed(report, &mut |c| out.push((c.code, c.pressed))).unwrap();
    out
}

fn typed(decoder: &mut KeyboardDecoder, reports: &[[u8; 8]]) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    for report in reports {
        decoder.feed(report, 0, &mut |k| out.push(k)).unwrap();
    }
    out
}

#[test]
fn press_and_release_one_key() {
    let mut kb = BootKeyboard::new();
    assert_eq!(changes(&mut kb, &[0, 0, 0x04, 0, 0, 0, 0, 0]), [(30, true)]);
    assert_eq!(changes(&mut kb, &[0, 0, 0x04, 0, 0, 0, 0, 0]), []);
    assert_eq!(changes(&mut kb, &[0; 8]), [(30, false)]);
}

#[test]
fn modifiers_come_before_new_keys_and_after_releases() {
    let mut kb = BootKeyboard::new();
    // Left Shift and b in the same report: Shift first.
    assert_eq!(changes(&mut kb, &[0x02, 0, 0x05, 0, 0, 0, 0, 0]), [(42, true), (48, true)]);
    // b released and Shift released together: b first.
    assert_eq!(changes(&mut kb, &[0; 8]), [(48, false), (42, false)]);
    // Every modifier bit, pressed at once then released.
    assert_eq!(
        changes(&mut kb, &[0xff, 0, 0, 0, 0, 0, 0, 0]),
        [(29, true), (42, true), (56, true), (125, true), (97, true), (54, true), (100, true), (126, true)]
    );
    assert_eq!(changes(&mut kb, &[0; 8]).len(), 8);
}

#[test]
fn rollover_and_phantom_reports_are_ignored() {
    let mut kb = BootKeyboard::new();
    assert_eq!(changes(&mut kb, &[0, 0, 0x04, 0x05, 0, 0, 0, 0]), [(30, true), (48, true)]);
    // ErrorRollOver in every slot: the keys held are unknown, nothing changes.
    assert_eq!(changes(&mut kb, &[0, 0, 1, 1, 1, 1, 1, 1]), []);
    assert_eq!(kb.rollover_reports(), 1);
    // The next real report is diffed against the last real one.
    assert_eq!(changes(&mut kb, &[0, 0, 0x05, 0, 0, 0, 0, 0]), [(30, false)]);
}

#[test]
fn short_long_and_odd_reports() {
    let mut kb = BootKeyboard::new();
    assert!(kb.feed(&[0, 0], &mut |_| {}).is_err());
    assert!(kb.feed(&[], &mut |_| {}).is_err());
    // Three bytes: one key slot.
    assert_eq!(changes(&mut kb, &[0, 0, 0x06]), [(46, true)]);
    // More than eight bytes: the rest is ignored.
    assert_eq!(changes(&mut kb, &[0, 0, 0x06, 0, 0, 0, 0, 0, 0x07, 0x08]), []);
    // The same usage twice counts once; unknown usages are counted, not typed.
    assert_eq!(changes(&mut kb, &[0, 0, 0x06, 0x07, 0x07, 0xe8, 0, 0]), [(32, true)]);
    assert_eq!(kb.unknown_keys(), 1);
    let mut all = Vec::new();
    kb.release_all(&mut |c| all.push(c.code));
    assert_eq!(all, [46, 32]);
}

#[test]
fn every_usage_byte_is_handled_without_panic() {
    let mut kb = BootKeyboard::new();
    for usage in 0..=255u8 {
        for modifiers in [0u8, 0x22, 0xff] {
            let _ = kb.feed(&[modifiers, 0, usage, usage.wrapping_add(1), 0, 0, 0, 0], &mut |_| {});
        }
    }
}

#[test]
fn every_key_of_the_ps2_path_types_the_same() {
    // Letters, digits, symbols with and without Shift.
    let mut d = KeyboardDecoder::new(500, 33);
    let chars: Vec<char> = typed(
        &mut d,
        &[
            [0, 0, 0x0b, 0, 0, 0, 0, 0], // h
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0x20, 0, 0x0c, 0, 0, 0, 0, 0], // right Shift + i
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0x02, 0, 0x1e, 0, 0, 0, 0, 0],             // Shift + 1
            [0, 0, 0x2c, 0x27, 0x38, 0x34, 0x35, 0x31], // space 0 / ' ` \ (six at once)
        ],
    )
    .iter()
    .filter_map(KeyEvent::text)
    .collect();
    assert_eq!(chars.into_iter().collect::<alloc::string::String>(), "hI! 0/'`\\");

    // Named keys: arrows, navigation, F1-F12, Enter, Escape, Backspace, Tab.
    let usages = [
        (0x52, Key::Up),
        (0x51, Key::Down),
        (0x50, Key::Left),
        (0x4f, Key::Right),
        (0x4a, Key::Home),
        (0x4d, Key::End),
        (0x4b, Key::PageUp),
        (0x4e, Key::PageDown),
        (0x49, Key::Insert),
        (0x4c, Key::Delete),
        (0x28, Key::Enter),
        (0x58, Key::Enter),
        (0x29, Key::Escape),
        (0x2a, Key::Backspace),
        (0x2b, Key::Tab),
    ];
    for (usage, key) in usages {
        let got = typed(&mut d, &[[0, 0, usage, 0, 0, 0, 0, 0], [0; 8]]);
        assert_eq!(got, [KeyEvent::plain(key)], "usage {usage:#x}");
    }
    for n in 1..=12u8 {
        let got = typed(&mut d, &[[0, 0, 0x3a + n - 1, 0, 0, 0, 0, 0], [0; 8]]);
        assert_eq!(got, [KeyEvent::plain(Key::F(n))]);
    }
    // Ctrl+C and Shift+F5 with the modifier pressed in an earlier report.
    let got = typed(&mut d, &[[0x01, 0, 0, 0, 0, 0, 0, 0], [0x01, 0, 0x06, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(got, [KeyEvent::ctrl('c')]);
    let got = typed(&mut d, &[[0x02, 0, 0x3e, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(got, [KeyEvent::new(Key::F(5), Modifiers::SHIFT)]);
    // Alt (right) + x.
    let got = typed(&mut d, &[[0x40, 0, 0x1b, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(got, [KeyEvent::char('x').with_alt()]);
}

#[test]
fn keypad_follows_num_lock_and_caps_lock_toggles() {
    let mut d = KeyboardDecoder::new(500, 33);
    let keypad = [0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x54, 0x55, 0x56, 0x57];
    let text: alloc::string::String = keypad
        .iter()
        .flat_map(|&u| typed(&mut d, &[[0, 0, u, 0, 0, 0, 0, 0], [0; 8]]))
        .filter_map(|k| k.text())
        .collect();
    assert_eq!(text, "1234567890./*-+");
    // Num Lock off: the keypad navigates.
    typed(&mut d, &[[0, 0, 0x53, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(d.locks(), (false, false));
    assert_eq!(typed(&mut d, &[[0, 0, 0x60, 0, 0, 0, 0, 0], [0; 8]]), [KeyEvent::plain(Key::Up)]);
    assert_eq!(typed(&mut d, &[[0, 0, 0x59, 0, 0, 0, 0, 0], [0; 8]]), [KeyEvent::plain(Key::End)]);
    // Caps Lock uppercases letters only.
    typed(&mut d, &[[0, 0, 0x39, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(d.locks(), (true, false));
    let got: Vec<_> = typed(&mut d, &[[0, 0, 0x04, 0, 0, 0, 0, 0], [0, 0, 0x1f, 0, 0, 0, 0, 0], [0; 8]]);
    assert_eq!(got, [KeyEvent::char('A'), KeyEvent::char('2')]);
    assert_eq!(led_report(true, true), 3);
    assert_eq!(led_report(false, true), 2);
}

#[test]
fn held_keys_repeat_through_the_hal_repeater() {
    let mut d = KeyboardDecoder::new(500, 33);
    let mut out = Vec::new();
    d.feed(&[0, 0, 0x04, 0, 0, 0, 0, 0], 1000, &mut |k| out.push(k)).unwrap();
    assert_eq!(d.next_deadline(), Some(1500));
    d.poll(1499, &mut |k| out.push(k));
    assert_eq!(out.len(), 1);
    d.poll(1500, &mut |k| out.push(k));
    d.poll(1533, &mut |k| out.push(k));
    assert_eq!(out, [KeyEvent::char('a'); 3]);
    // Holding Shift too does not stop the repeat; a second key takes it over.
    d.feed(&[0x02, 0, 0x04, 0x05, 0, 0, 0, 0], 1540, &mut |k| out.push(k)).unwrap();
    assert_eq!(out.last(), Some(&KeyEvent::char('B')));
    d.feed(&[0; 8], 1550, &mut |k| out.push(k)).unwrap();
    assert_eq!(d.next_deadline(), None);
}
