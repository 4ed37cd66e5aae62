//! Windows over the chat: help, pickers, questions.

use alloc::format;
use alloc::string::String;
use core::hash::{Hash, Hasher};

use super::layout::{Fnv, display_width};
use super::render::draw_cells;
use super::{Confirm, HelpSection, Overlay, Picker, Theme};
use crate::font::{FontSize, TextStyle};
use crate::{Canvas, Rect};

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
pub(super) fn draw(canvas: &mut Canvas, overlay: &Overlay<'_>, theme: &Theme, body: FontSize, detail: FontSize) {
    match overlay {
        Overlay::Help(sections) => help(canvas, sections, theme, body, detail),
        Overlay::Picker(picker) => pick(canvas, picker, theme, body, detail),
        Overlay::Confirm(confirm) => ask(canvas, confirm, theme, body, detail),
    }
}

/// A panel `cols` x `rows` body cells, centred; returns its inner area.
fn panel(canvas: &mut Canvas, cols: u32, rows: u32, theme: &Theme, body: FontSize) -> Rect {
    let adv = body.advance();
    let lh = body.line_height();
    let w = (cols * adv + 4 * adv).min(canvas.width().saturating_sub(2 * adv));
    let h = (rows * lh + 2 * lh).min(canvas.height().saturating_sub(2 * lh));
    let x = canvas.width().saturating_sub(w) / 2;
    let y = canvas.height().saturating_sub(h) / 2;
    let outer = Rect::new(x, y, w, h);
    canvas.fill_rounded_rect(Rect::new(x.saturating_sub(1), y.saturating_sub(1), w + 2, h + 2), 12, theme.border);
    canvas.fill_rounded_rect(outer, 12, theme.raised);
    Rect::new(x + 2 * adv, y + lh, w.saturating_sub(4 * adv), h.saturating_sub(2 * lh))
}

fn help(canvas: &mut Canvas, sections: &[HelpSection<'_>], theme: &Theme, body: FontSize, detail: FontSize) {
    let keys_w = sections.iter().flat_map(|s| s.lines.iter()).map(|(k, _)| display_width(k)).max().unwrap_or(0) + 3;
    let text_w = sections.iter().flat_map(|s| s.lines.iter()).map(|(_, t)| display_width(t)).max().unwrap_or(0);
    let rows = sections.iter().map(|s| s.lines.len() as u32 + 2).sum::<u32>() + 1;
    let inner = panel(canvas, (keys_w + text_w).max(40), rows, theme, body);
    let lh = body.line_height();
    let adv = body.advance();
    let mut y = inner.y;
    canvas.draw_text(inner.x, y, "Keys and commands", TextStyle::new(body, theme.text).bold());
    let close = "Esc closes";
    draw_cells(canvas, inner.right().saturating_sub(display_width(close) * detail.advance()), y, close, TextStyle::new(detail, theme.muted));
    y += lh;
    for section in sections {
        if y + lh > inner.bottom() {
            break;
        }
        y += lh / 2;
        draw_cells(canvas, inner.x, y, section.title, TextStyle::new(detail, theme.assistant).bold());
        y += lh;
        for (keys, what) in section.lines {
            if y + lh > inner.bottom() {
                break;
            }
            draw_cells(canvas, inner.x, y, keys, TextStyle::new(body, theme.user));
            draw_cells(canvas, inner.x + keys_w * adv, y, what, TextStyle::new(body, theme.text));
            y += lh;
        }
    }
}

fn pick(canvas: &mut Canvas, picker: &Picker<'_>, theme: &Theme, body: FontSize, detail: FontSize) {
    let lh = body.line_height();
    let adv = body.advance();
    let widest = picker.items.iter().map(|i| display_width(i.label) + display_width(i.detail) + 6).max().unwrap_or(20);
    let shown = (picker.items.len() as u32).clamp(1, 12);
    let inner = panel(canvas, widest.clamp(36, 90), shown + 4, theme, body);
    let mut y = inner.y;
    canvas.draw_text(inner.x, y, picker.title, TextStyle::new(body, theme.text).bold());
    let keys = "\u{2191}\u{2193} choose \u{b7} Enter use \u{b7} Esc close";
    draw_cells(canvas, inner.right().saturating_sub(display_width(keys) * detail.advance()), y, keys, TextStyle::new(detail, theme.muted));
    y += lh;
    let status = if picker.filter.is_empty() { String::from(picker.status) } else { format!("filter: {}  {}", picker.filter, picker.status) };
    draw_cells(canvas, inner.x, y, &status, TextStyle::new(detail, theme.muted));
    y += lh + lh / 2;
    let first = picker.selected.saturating_sub(shown as usize - 1);
    if picker.items.is_empty() {
        canvas.draw_text(inner.x, y, "nothing to choose from", TextStyle::new(body, theme.faint));
    }
    for (i, item) in picker.items.iter().enumerate().skip(first).take(shown as usize) {
        if i == picker.selected {
            canvas.fill_rounded_rect(Rect::new(inner.x.saturating_sub(adv / 2), y, inner.w + adv, lh), 6, theme.surface);
        }
        let color = if item.disabled { theme.faint } else { theme.text };
        let mark = if item.current { "\u{25cf} " } else { "  " };
        let x = draw_cells(canvas, inner.x, y, mark, TextStyle::new(body, theme.user));
        draw_cells(canvas, x, y, item.label, TextStyle::new(body, color));
        let dw = display_width(item.detail) * detail.advance();
        let dy = y + lh.saturating_sub(detail.line_height()) / 2;
        draw_cells(canvas, inner.right().saturating_sub(dw), dy, item.detail, TextStyle::new(detail, theme.muted));
        y += lh;
    }
}

fn ask(canvas: &mut Canvas, confirm: &Confirm<'_>, theme: &Theme, body: FontSize, detail: FontSize) {
    let lh = body.line_height();
    let adv = body.advance();
    let cols = display_width(confirm.text).max(display_width(confirm.title)).clamp(30, 70);
    let inner = panel(canvas, cols, 5, theme, body);
    canvas.draw_text(inner.x, inner.y, confirm.title, TextStyle::new(body, theme.text).bold());
    draw_cells(canvas, inner.x, inner.y + lh + lh / 2, confirm.text, TextStyle::new(detail, theme.muted));
    let by = inner.bottom().saturating_sub(lh);
    let mut x = inner.right();
    for (label, focused, color) in [(confirm.no, !confirm.yes_focused, theme.text), (confirm.yes, confirm.yes_focused, theme.error)] {
        let w = (display_width(label) + 2) * adv;
        x = x.saturating_sub(w);
        let button = Rect::new(x, by, w, lh);
        canvas.fill_rounded_rect(button, 8, if focused { theme.surface } else { theme.raised });
        if focused {
            canvas.fill_rect(Rect::new(x + adv / 2, by + lh - 2, w - adv, 2), color);
        }
        draw_cells(canvas, x + adv, by, label, TextStyle::new(body, color));
        x = x.saturating_sub(adv);
    }
}
