//! Windows over the chat: help, pickers, questions.

use alloc::format;
use alloc::string::String;
use core::hash::{Hash, Hasher};

use super::layout::{Fnv, display_width};
use super::paint::Painter;
use super::{Confirm, HelpSection, NoticeLevel, Overlay, Picker, Wizard, WizardRowKind};
use crate::Rect;
use crate::glyphs::Face;

/// A hash of everything the overlay shows.
pub(super) fn key(overlay: &Overlay<'_>) -> u64 {
    let mut h = Fnv::new();
    match overlay {
        Overlay::Help(sections) => {
            0u8.hash(&mut h);
            for s in *sections {
                s.title.hash(&mut h);
                s.lines.hash(&mut h);
            }
        }
        Overlay::Picker(p) => {
            1u8.hash(&mut h);
            (p.title, p.selected, p.filter, p.status).hash(&mut h);
            for item in p.items {
                (item.label, item.detail, item.current, item.disabled).hash(&mut h);
            }
        }
        Overlay::Confirm(c) => {
            2u8.hash(&mut h);
            (c.title, c.text, c.yes, c.no, c.yes_focused).hash(&mut h);
        }
        Overlay::Wizard(w) => {
            3u8.hash(&mut h);
            (w.title, w.step, w.problem, w.intro, w.focus, w.keys).hash(&mut h);
            w.status.map(|n| (n.text, n.level as u8)).hash(&mut h);
            for row in w.rows {
                row.label.hash(&mut h);
                match row.kind {
                    WizardRowKind::Choice { chosen, detail, disabled } => (0u8, chosen, detail, disabled).hash(&mut h),
                    WizardRowKind::Field { text, cursor, masked, placeholder } => {
                        (1u8, text, cursor, masked, placeholder).hash(&mut h)
                    }
                    WizardRowKind::Info { value } => (2u8, value).hash(&mut h),
                }
            }
        }
    }
    h.finish()
}

/// Draws the overlay centred on the canvas.
pub(super) fn draw(p: &mut Painter<'_>, overlay: &Overlay<'_>) {
    match overlay {
        Overlay::Help(sections) => help(p, sections),
        Overlay::Picker(picker) => pick(p, picker),
        Overlay::Confirm(confirm) => ask(p, confirm),
        Overlay::Wizard(wizard) => wizard_step(p, wizard),
    }
}

/// A panel about `cols` x `rows` body cells, centred; returns its inner area.
fn panel(p: &mut Painter<'_>, cols: u32, rows: u32) -> Rect {
    let body = p.sizes.body;
    let (adv, lh) = (body.advance, body.line);
    let (cw, ch) = (p.canvas.width(), p.canvas.height());
    let w = (cols * adv + 4 * adv).min(cw.saturating_sub(2 * adv));
    let h = (rows * lh + 2 * lh).min(ch.saturating_sub(2 * lh));
    let x = cw.saturating_sub(w) / 2;
    let y = ch.saturating_sub(h) / 2;
    // A soft shadow, the border, the panel.
    p.canvas.blend_rect(Rect::new(x + 6, y + 8, w, h), crate::Rgb::BLACK, 60);
    p.round(Rect::new(x.saturating_sub(1), y.saturating_sub(1), w + 2, h + 2), 12, p.theme.border);
    p.round(Rect::new(x, y, w, h), 12, p.theme.raised);
    Rect::new(x + 2 * adv, y + lh, w.saturating_sub(4 * adv), h.saturating_sub(2 * lh))
}

fn help(p: &mut Painter<'_>, sections: &[HelpSection<'_>]) {
    let theme = p.theme;
    let (body, detail) = (p.sizes.body, p.sizes.detail);
    let keys_w = sections.iter().flat_map(|s| s.lines.iter()).map(|(k, _)| display_width(k)).max().unwrap_or(0) + 3;
    let text_w = sections.iter().flat_map(|s| s.lines.iter()).map(|(_, t)| display_width(t)).max().unwrap_or(0);
    let rows = sections.iter().map(|s| s.lines.len() as u32 + 2).sum::<u32>() + 1;
    let inner = panel(p, (keys_w + text_w).max(40), rows);
    let lh = body.line;
    let mut y = inner.y;
    p.text(inner.x, y, "Keys and commands", Face::Bold, body, theme.text);
    let close = "Esc closes";
    p.text(inner.right().saturating_sub(Painter::width(close, detail)), y, close, Face::Regular, detail, theme.muted);
    y += lh;
    for section in sections {
        if y + lh > inner.bottom() {
            break;
        }
        y += lh / 2;
        p.text(inner.x, y, section.title, Face::Bold, detail, theme.assistant);
        y += lh;
        for (keys, what) in section.lines {
            if y + lh > inner.bottom() {
                break;
            }
            p.text(inner.x, y, keys, Face::Regular, body, theme.user);
            p.text(inner.x + keys_w * body.advance, y, what, Face::Regular, body, theme.text);
            y += lh;
        }
    }
}

fn pick(p: &mut Painter<'_>, picker: &Picker<'_>) {
    let theme = p.theme;
    let (body, detail) = (p.sizes.body, p.sizes.detail);
    let (lh, adv) = (body.line, body.advance);
    let widest = picker.items.iter().map(|i| display_width(i.label) + display_width(i.detail) + 6).max().unwrap_or(20);
    let shown = (picker.items.len() as u32).clamp(1, 12);
    let inner = panel(p, widest.clamp(44, 90), shown + 4);
    let mut y = inner.y;
    p.text(inner.x, y, picker.title, Face::Bold, body, theme.text);
    let keys = "\u{2191}\u{2193} choose \u{b7} type to filter \u{b7} Enter use \u{b7} Esc close";
    p.text(inner.right().saturating_sub(Painter::width(keys, detail)), y, keys, Face::Regular, detail, theme.muted);
    y += lh;
    let status = if picker.filter.is_empty() {
        String::from(picker.status)
    } else {
        format!("filter \u{201c}{}\u{201d} \u{b7} {}", picker.filter, picker.status)
    };
    p.text(inner.x, y, &status, Face::Italic, detail, theme.muted);
    y += lh + lh / 2;
    let first = picker.selected.saturating_sub(shown as usize - 1);
    if picker.items.is_empty() {
        p.text(inner.x, y, "nothing to choose from", Face::Regular, body, theme.faint);
    }
    for (i, item) in picker.items.iter().enumerate().skip(first).take(shown as usize) {
        if i == picker.selected {
            p.round(Rect::new(inner.x.saturating_sub(adv / 2), y, inner.w + adv, lh), 6, theme.surface);
            p.fill(Rect::new(inner.x.saturating_sub(adv / 2), y + 3, 3, lh.saturating_sub(6)), theme.user);
        }
        let color = if item.disabled { theme.faint } else { theme.text };
        let mark = if item.current { "\u{25cf} " } else { "  " };
        let x = p.text(inner.x, y, mark, Face::Regular, body, theme.success);
        p.text(x, y, item.label, if i == picker.selected { Face::Bold } else { Face::Regular }, body, color);
        let dw = Painter::width(item.detail, detail);
        let dy = y + lh.saturating_sub(detail.line) / 2;
        p.text(inner.right().saturating_sub(dw), dy, item.detail, Face::Regular, detail, theme.muted);
        y += lh;
    }
}

fn ask(p: &mut Painter<'_>, confirm: &Confirm<'_>) {
    let theme = p.theme;
    let (body, detail) = (p.sizes.body, p.sizes.detail);
    let (lh, adv) = (body.line, body.advance);
    let cols = display_width(confirm.text).max(display_width(confirm.title)).clamp(30, 70);
    let inner = panel(p, cols, 5);
    p.text(inner.x, inner.y, confirm.title, Face::Bold, body, theme.text);
    p.text(inner.x, inner.y + lh + lh / 2, confirm.text, Face::Regular, detail, theme.muted);
    let by = inner.bottom().saturating_sub(lh);
    let mut x = inner.right();
    for (label, focused, color) in
        [(confirm.yes, confirm.yes_focused, theme.error), (confirm.no, !confirm.yes_focused, theme.text)]
    {
        let w = (display_width(label) + 2) * adv;
        x = x.saturating_sub(w);
        let button = Rect::new(x, by, w, lh);
        p.round(button, 8, if focused { theme.surface } else { theme.raised });
        if focused {
            p.fill(Rect::new(x + adv / 2, by + lh - 2, w - adv, 2), color);
        }
        p.text(x + adv, by, label, if focused { Face::Bold } else { Face::Regular }, body, color);
        x = x.saturating_sub(adv);
    }
}

/// The wizard's panel is the same size at every step, so a step drawn over the previous
/// one covers it entirely.
const WIZARD_COLS: u32 = 80;
const WIZARD_ROWS: u32 = 26;

/// `text` broken into lines of at most `cols` characters, at spaces where possible.
fn wrap_cols(text: &str, cols: usize) -> alloc::vec::Vec<String> {
    let mut lines = alloc::vec::Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in paragraph.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > cols {
                lines.push(core::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            for c in word.chars() {
                if len == cols {
                    lines.push(core::mem::take(&mut line));
                    len = 0;
                }
                line.push(c);
                len += 1;
            }
        }
        lines.push(line);
    }
    lines
}

/// The part of a field's text that fits `cols` cells with the cursor in view: the text
/// shown (an ellipsis where it is cut) and the cursor's column.
fn field_window(text: &str, cursor: usize, masked: bool, cols: usize) -> (String, usize) {
    let chars: alloc::vec::Vec<char> = text.chars().map(|c| if masked { '\u{2022}' } else { c }).collect();
    let at = text.get(..cursor.min(text.len())).map_or(chars.len(), |before| before.chars().count());
    let cols = cols.max(4);
    if chars.len() < cols {
        return (chars.into_iter().collect(), at);
    }
    // Keep the cursor one cell inside the right edge, the start as far left as that allows.
    let start = (at + 2).saturating_sub(cols).min(chars.len() + 1 - cols);
    let end = (start + cols).min(chars.len());
    let mut shown: alloc::vec::Vec<char> = chars[start..end].to_vec();
    if start > 0 {
        shown[0] = '\u{2026}';
    }
    if end < chars.len()
        && let Some(last) = shown.last_mut()
    {
        *last = '\u{2026}';
    }
    (shown.into_iter().collect(), at - start)
}

fn wizard_step(p: &mut Painter<'_>, w: &Wizard<'_>) {
    let theme = p.theme;
    let (body, detail) = (p.sizes.body, p.sizes.detail);
    let (lh, adv) = (body.line, body.advance);
    let inner = panel(p, WIZARD_COLS, WIZARD_ROWS);
    let cols = (inner.w / adv).max(10) as usize;
    let detail_cols = (inner.w / detail.advance.max(1)).max(10) as usize;
    let mut y = inner.y;
    p.text(inner.x, y, w.title, Face::Bold, body, theme.text);
    p.text(
        inner.right().saturating_sub(Painter::width(w.step, detail)),
        y + lh.saturating_sub(detail.line) / 2,
        w.step,
        Face::Regular,
        detail,
        theme.assistant,
    );
    y += lh + lh / 2;
    if let Some(problem) = w.problem {
        for line in wrap_cols(problem, detail_cols).iter().take(4) {
            p.text(inner.x, y, line, Face::Regular, detail, theme.error);
            y += detail.line;
        }
        y += lh / 2;
    }
    for line in wrap_cols(w.intro, detail_cols).iter().take(4) {
        p.text(inner.x, y, line, Face::Regular, detail, theme.muted);
        y += detail.line;
    }
    y += lh / 2;

    // The bottom: the keys, and above them the status.
    let keys_y = inner.bottom().saturating_sub(detail.line);
    p.text(inner.x, keys_y, w.keys, Face::Regular, detail, theme.muted);
    let status_lines = w.status.map(|n| wrap_cols(n.text, detail_cols)).unwrap_or_default();
    let status_lines = &status_lines[..status_lines.len().min(4)];
    let status_y = keys_y.saturating_sub(lh / 2 + status_lines.len() as u32 * detail.line);
    if let Some(status) = w.status {
        let color = match status.level {
            NoticeLevel::Info => theme.success,
            NoticeLevel::Warning => theme.warning,
            NoticeLevel::Error => theme.error,
        };
        for (i, line) in status_lines.iter().enumerate() {
            p.text(inner.x, status_y + i as u32 * detail.line, line, Face::Regular, detail, color);
        }
    }

    // The rows, scrolled so the focused one is in view.
    let room = (status_y.saturating_sub(y + lh / 2) / lh).max(1) as usize;
    let first = w.focus.saturating_sub(room - 1);
    let label_w = w
        .rows
        .iter()
        .filter(|r| !matches!(r.kind, WizardRowKind::Choice { .. }))
        .map(|r| display_width(r.label))
        .max()
        .unwrap_or(0)
        + 2;
    if first > 0 {
        p.text(
            inner.right().saturating_sub(adv),
            y.saturating_sub(lh / 2),
            "\u{2191}",
            Face::Regular,
            detail,
            theme.faint,
        );
    }
    for (i, row) in w.rows.iter().enumerate().skip(first).take(room) {
        let focused = i == w.focus;
        match row.kind {
            WizardRowKind::Choice { chosen, detail: what, disabled } => {
                if focused {
                    p.round(Rect::new(inner.x.saturating_sub(adv / 2), y, inner.w + adv, lh), 6, theme.surface);
                    p.fill(Rect::new(inner.x.saturating_sub(adv / 2), y + 3, 3, lh.saturating_sub(6)), theme.user);
                }
                let mark = if chosen { "\u{25cf} " } else { "\u{25cb} " };
                let x = p.text(inner.x, y, mark, Face::Regular, body, if chosen { theme.success } else { theme.faint });
                let color = if disabled { theme.faint } else { theme.text };
                p.text(x, y, row.label, if focused { Face::Bold } else { Face::Regular }, body, color);
                let dw = Painter::width(what, detail);
                p.text(
                    inner.right().saturating_sub(dw),
                    y + lh.saturating_sub(detail.line) / 2,
                    what,
                    Face::Regular,
                    detail,
                    theme.muted,
                );
            }
            WizardRowKind::Field { text, cursor, masked, placeholder } => {
                p.text(inner.x, y, row.label, if focused { Face::Bold } else { Face::Regular }, body, theme.text);
                let fx = inner.x + label_w * adv;
                let fw = inner.right().saturating_sub(fx);
                let field = Rect::new(fx, y, fw, lh);
                p.round(field, 6, theme.surface);
                if focused {
                    p.fill(Rect::new(fx + adv / 2, y + lh - 2, fw.saturating_sub(adv), 2), theme.user);
                }
                let field_cols = (fw / adv).saturating_sub(2) as usize;
                let tx = fx + adv;
                if text.is_empty() {
                    p.text(tx, y, placeholder, Face::Italic, body, theme.faint);
                    if focused {
                        p.fill(Rect::new(tx, y + 3, 2, lh.saturating_sub(6)), theme.text);
                    }
                } else {
                    let (shown, at) = field_window(text, cursor, masked, field_cols);
                    p.text(tx, y, &shown, Face::Regular, body, theme.text);
                    if focused {
                        p.fill(Rect::new(tx + at as u32 * adv, y + 3, 2, lh.saturating_sub(6)), theme.text);
                    }
                }
            }
            WizardRowKind::Info { value } => {
                p.text(inner.x, y, row.label, Face::Regular, body, theme.muted);
                let shown: String = value.chars().take(cols.saturating_sub(label_w as usize)).collect();
                p.text(inner.x + label_w * adv, y, &shown, Face::Regular, body, theme.text);
            }
        }
        y += lh;
    }
    if first + room < w.rows.len() {
        p.text(inner.right().saturating_sub(adv), y, "\u{2193}", Face::Regular, detail, theme.faint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_field_scrolls_to_keep_the_cursor_in_view() {
        let text = "http://192.168.100.200:11434/v1/some/long/path";
        let (shown, at) = field_window(text, text.len(), false, 20);
        // 19 characters and the cursor after them fill the 20 cells.
        assert_eq!(shown.chars().count(), 19);
        assert!(shown.starts_with('\u{2026}') && shown.ends_with("path"), "{shown}");
        assert_eq!(at, 19);
        let (shown, at) = field_window(text, 0, false, 20);
        assert!(shown.starts_with("http://") && shown.ends_with('\u{2026}'), "{shown}");
        assert_eq!(at, 0);
        let (short, at) = field_window("abc", 1, false, 20);
        assert_eq!((short.as_str(), at), ("abc", 1));
    }

    #[test]
    fn a_masked_field_shows_no_character_of_the_text() {
        let (shown, _) = field_window("sk-secret-value", 3, true, 40);
        assert_eq!(shown, "\u{2022}".repeat(15));
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_long_words() {
        assert_eq!(wrap_cols("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap_cols("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }
}
