//! Windows over the chat: help, pickers, questions.

use alloc::format;
use alloc::string::String;
use core::hash::{Hash, Hasher};

use super::layout::{Fnv, display_width};
use super::paint::Painter;
use super::{Confirm, HelpSection, Overlay, Picker};
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
    }
    h.finish()
}

/// Draws the overlay centred on the canvas.
pub(super) fn draw(p: &mut Painter<'_>, overlay: &Overlay<'_>) {
    match overlay {
        Overlay::Help(sections) => help(p, sections),
        Overlay::Picker(picker) => pick(p, picker),
        Overlay::Confirm(confirm) => ask(p, confirm),
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
