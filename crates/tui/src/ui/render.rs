//! Drawing a [`Frame`]: regions laid out from the screen size, the transcript laid out
//! into cached lines, and only what changed since the last frame redrawn.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use super::layout::{self, Fnv, LineBack, Role, VLine, char_width, display_width};
use super::{Block, BlockKind, Frame, Header, InputBox, NetBadge, Notice, NoticeLevel, Overlay, Scroll, Theme, ThemeId};
use crate::font::{FontSize, FontWeight, TextStyle};
use crate::{Canvas, Rect, Rgb};

/// What the last frame's layout measured, for the application's scrolling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Geometry {
    /// Lines the whole conversation takes.
    pub content_lines: u32,
    /// Lines visible at once.
    pub visible_lines: u32,
    /// The first visible line.
    pub top_line: u32,
}

/// The screen's regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Regions {
    header: Rect,
    transcript: Rect,
    notice: Rect,
    input: Rect,
    hint: Rect,
}

/// A block's lines, kept until its text, kind, width or state changes.
#[derive(Debug)]
struct Cached {
    key: u64,
    lines: Vec<VLine>,
}

/// Draws frames, remembering what is on the canvas.
#[derive(Debug, Default)]
pub struct Renderer {
    size: (u32, u32),
    theme: Option<ThemeId>,
    regions: Regions,
    cache: BTreeMap<u64, Cached>,
    header: Option<u64>,
    input: Option<u64>,
    notice: Option<u64>,
    overlay: Option<u64>,
    rows: Vec<Option<u64>>,
    geometry: Geometry,
}

/// Font sizes for a screen.
#[derive(Clone, Copy, Debug)]
struct Fonts {
    body: FontSize,
    detail: FontSize,
}

impl Fonts {
    fn for_screen(width: u32, height: u32) -> Fonts {
        if height >= 1000 && width >= 1400 {
            Fonts { body: FontSize::Large, detail: FontSize::Normal }
        } else {
            Fonts { body: FontSize::Normal, detail: FontSize::Small }
        }
    }
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut h = Fnv::new();
    value.hash(&mut h);
    h.finish()
}

impl Renderer {
    /// A renderer that will draw everything on its first frame.
    pub fn new() -> Self {
        Renderer::default()
    }

    /// Forgets what is on the canvas: the next frame is drawn whole (Ctrl+L, or after
    /// something else drew on the screen).
    pub fn invalidate(&mut self) {
        self.theme = None;
    }

    /// What the last frame measured.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Draws `frame`, touching only what differs from the last frame; returns the
    /// transcript's measurements.
    pub fn draw(&mut self, frame: &Frame<'_>, canvas: &mut Canvas) -> Geometry {
        let (w, h) = (canvas.width(), canvas.height());
        let fonts = Fonts::for_screen(w, h);
        let theme = frame.theme.theme();
        if self.size != (w, h) || self.theme != Some(frame.theme) {
            self.size = (w, h);
            self.theme = Some(frame.theme);
            self.cache.clear();
            self.forget();
            canvas.fill(theme.background);
        }
        let regions = regions(w, h, fonts, frame);
        if regions != self.regions {
            self.regions = regions;
            self.forget();
            canvas.fill(theme.background);
        }
        let overlay_key = frame.overlay.as_ref().map(overlay_key);
        if overlay_key.is_none() && self.overlay.is_some() {
            // The window closed: what it covered must come back.
            self.forget();
            canvas.fill(theme.background);
        }
        let mut touched = false;
        let header_key = hash_of(&(header_hash(&frame.header), regions.header));
        if self.header != Some(header_key) {
            draw_header(canvas, regions.header, &frame.header, theme, fonts);
            self.header = Some(header_key);
            touched = true;
        }
        let input_key = hash_of(&(frame.input.text, frame.input.cursor, frame.input.masked, frame.input.placeholder, frame.input.hint));
        if self.input != Some(input_key) {
            draw_input(canvas, regions, &frame.input, theme, fonts);
            self.input = Some(input_key);
            touched = true;
        }
        let notice_key = hash_of(&frame.notice.map(|n| (n.text, n.level as u8)));
        if self.notice != Some(notice_key) {
            canvas.fill_rect(regions.notice, theme.background);
            if let Some(notice) = &frame.notice {
                draw_notice(canvas, regions.notice, notice, theme, fonts);
            }
            self.notice = Some(notice_key);
            touched = true;
        }
        touched |= self.draw_transcript(canvas, frame, theme, fonts);
        if let Some(key) = overlay_key
            && let Some(overlay) = &frame.overlay
            && (touched || self.overlay != Some(key))
        {
            super::overlay::draw(canvas, overlay, theme, fonts.body, fonts.detail);
        }
        self.overlay = overlay_key;
        self.geometry
    }

    fn forget(&mut self) {
        self.header = None;
        self.input = None;
        self.notice = None;
        self.overlay = None;
        self.rows.clear();
    }

    /// Lays the transcript out and redraws the rows whose content changed. Returns
    /// whether anything was drawn.
    fn draw_transcript(&mut self, canvas: &mut Canvas, frame: &Frame<'_>, theme: &Theme, fonts: Fonts) -> bool {
        let area = self.regions.transcript;
        let line_h = fonts.body.line_height();
        let advance = fonts.body.advance();
        let pad = advance * 2;
        let cols = (area.w.saturating_sub(2 * pad) / advance).max(8);
        let visible = area.h / line_h.max(1);
        // Every block's lines, from the cache where nothing changed.
        let blocks = frame.transcript.blocks;
        let mut live = Vec::with_capacity(blocks.len());
        for block in blocks {
            let key = hash_of(&(block.text, block.kind, block.mark, block.streaming, cols));
            let fresh = self.cache.get(&block.id).is_none_or(|c| c.key != key);
            if fresh {
                let lines = layout_block(block, cols);
                self.cache.insert(block.id, Cached { key, lines });
            }
            live.push(block.id);
        }
        self.cache.retain(|id, _| live.contains(id));
        let total: u32 = blocks.iter().map(|b| self.cache[&b.id].lines.len() as u32).sum();
        let max_top = total.saturating_sub(visible);
        let top = match frame.transcript.scroll {
            Scroll::Follow => max_top,
            Scroll::FromTop(line) => line.min(max_top),
        };
        self.geometry = Geometry { content_lines: total, visible_lines: visible, top_line: top };
        let more_below = top < max_top;

        // The visible rows.
        let mut rows: Vec<Option<&VLine>> = vec![None; visible as usize];
        let mut line_no = 0u32;
        'blocks: for block in blocks {
            for line in &self.cache[&block.id].lines {
                if line_no >= top + visible {
                    break 'blocks;
                }
                if line_no >= top {
                    rows[(line_no - top) as usize] = Some(line);
                }
                line_no += 1;
            }
        }
        if self.rows.len() != visible as usize {
            self.rows = vec![None; visible as usize];
        }
        let mut touched = false;
        let empty_hint = blocks.is_empty().then_some(frame.transcript.empty_hint).filter(|h| !h.is_empty());
        for (r, line) in rows.iter().enumerate() {
            let last = r + 1 == rows.len();
            let key = hash_of(&(line.map(|l| l.key()), last && more_below, empty_hint.filter(|_| r == visible as usize / 2)));
            if self.rows[r] == Some(key) {
                continue;
            }
            self.rows[r] = Some(key);
            touched = true;
            let y = area.y + r as u32 * line_h;
            let row = Rect::new(area.x, y, area.w, line_h);
            canvas.fill_rect(row, theme.background);
            if let Some(line) = line {
                draw_line(canvas, row, pad, line, theme, fonts.body);
            }
            if let Some(hint) = empty_hint
                && r == visible as usize / 2
            {
                let width = display_width(hint) * advance;
                let x = area.x + area.w.saturating_sub(width) / 2;
                canvas.draw_text(x, y, hint, TextStyle::new(fonts.body, theme.muted));
            }
            if last && more_below {
                let label = "\u{2193} more below \u{b7} Ctrl+End";
                let dw = display_width(label) * fonts.detail.advance() + 16;
                let pill = Rect::new(area.right().saturating_sub(dw + pad), y + 2, dw, line_h.saturating_sub(4));
                canvas.fill_rounded_rect(pill, pill.h / 2, theme.raised);
                let ty = y + line_h.saturating_sub(fonts.detail.line_height()) / 2;
                canvas.draw_text(pill.x + 8, ty, label, TextStyle::new(fonts.detail, theme.text));
            }
        }
        // Rows below the last line of a short transcript.
        canvas.fill_rect(Rect::new(area.x, area.y + visible * line_h, area.w, area.h - visible * line_h), theme.background);
        touched
    }
}

fn header_hash(header: &Header<'_>) -> u64 {
    hash_of(&(header.provider, header.net as u8, header.net_text, header.speed, header.context))
}

fn overlay_key(overlay: &Overlay<'_>) -> u64 {
    super::overlay::key(overlay)
}

/// Splits the screen: header, transcript, notice, input, hint.
fn regions(w: u32, h: u32, fonts: Fonts, frame: &Frame<'_>) -> Regions {
    let line = fonts.body.line_height();
    let detail = fonts.detail.line_height();
    let header = Rect::new(0, 0, w, detail + 14);
    let hint = Rect::new(0, h.saturating_sub(detail + 8), w, detail + 8);
    let advance = fonts.body.advance();
    let margin = advance * 2;
    let inner_cols = (w.saturating_sub(2 * margin + 2 * advance) / advance).max(1);
    let lines = input_lines(frame.input.text, inner_cols).len() as u32;
    let max_lines = (h / 3 / line.max(1)).max(1);
    let input_h = lines.clamp(1, max_lines) * line + 20;
    let input = Rect::new(margin, hint.y.saturating_sub(input_h), w.saturating_sub(2 * margin), input_h);
    let notice_h = if frame.notice.is_some() { detail * 2 + 12 } else { 0 };
    let notice = Rect::new(0, input.y.saturating_sub(notice_h + 8), w, notice_h);
    let top = header.bottom() + 8;
    let transcript = Rect::new(0, top, w, notice.y.saturating_sub(top + 4));
    Regions { header, transcript, notice, input, hint }
}

fn role_color(theme: &Theme, role: Role) -> Rgb {
    match role {
        Role::Text => theme.text,
        Role::Muted | Role::Marker => theme.muted,
        Role::Error | Role::ErrorLabel => theme.error,
        Role::Heading => theme.text,
        Role::Code => theme.code,
        Role::Keyword => theme.keyword,
        Role::String => theme.string,
        Role::Number => theme.number,
        Role::Comment => theme.comment,
        Role::Link => theme.link,
        Role::UserLabel => theme.user,
        Role::AssistantLabel => theme.assistant,
        Role::InfoLabel => theme.muted,
    }
}

/// Draws one laid-out line in `row` (already cleared).
fn draw_line(canvas: &mut Canvas, row: Rect, pad: u32, line: &VLine, theme: &Theme, size: FontSize) {
    let advance = size.advance();
    let left = row.x + pad;
    match line.back {
        LineBack::Plain => {}
        LineBack::User => canvas.fill_rect(Rect::new(left - advance, row.y, row.w - 2 * pad + 2 * advance, row.h), theme.surface),
        LineBack::Code { indent } => {
            let x = left + indent * advance;
            canvas.fill_rect(Rect::new(x - advance / 2, row.y, row.right().saturating_sub(pad - advance / 2 + x), row.h), theme.raised);
        }
        LineBack::Quote { indent } => {
            canvas.fill_rect(Rect::new(left + indent * advance + advance / 3, row.y, 3, row.h), theme.border);
        }
        LineBack::Rule => canvas.fill_rect(Rect::new(left, row.y + row.h / 2, row.w - 2 * pad, 1), theme.border),
    }
    for span in &line.spans {
        let x = left + span.col * advance;
        if span.boxed {
            let w = display_width(&span.text) * advance;
            canvas.fill_rect(Rect::new(x, row.y + 1, w, row.h.saturating_sub(2)), theme.raised);
        }
        let mut style = TextStyle::new(size, role_color(theme, span.role));
        if span.bold {
            style.weight = FontWeight::Bold;
        }
        draw_cells(canvas, x, row.y, &span.text, style);
    }
}

/// Draws text cell by cell, giving wide characters two cells.
pub(super) fn draw_cells(canvas: &mut Canvas, x: u32, y: u32, text: &str, style: TextStyle) -> u32 {
    let advance = style.size.advance();
    if text.chars().all(|c| char_width(c) == 1) {
        return canvas.draw_text(x, y, text, style);
    }
    let mut pen = x;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = char_width(c);
        if w == 0 {
            continue;
        }
        canvas.draw_text(pen + (w - 1) * advance / 2, y, c.encode_utf8(&mut buf), style);
        pen += w * advance;
    }
    pen
}

/// A block's lines: its label line, its text, and a gap after it.
fn layout_block(block: &Block<'_>, cols: u32) -> Vec<VLine> {
    let (label, label_role) = match block.kind {
        BlockKind::User => ("You", Role::UserLabel),
        BlockKind::Assistant => ("Model", Role::AssistantLabel),
        BlockKind::Error => ("moteOS", Role::ErrorLabel),
        BlockKind::Info => ("moteOS", Role::InfoLabel),
    };
    let back = if block.kind == BlockKind::User { LineBack::User } else { LineBack::Plain };
    let mut head = layout::LineBuilder::new(cols, 0, 0, back);
    head.text(label, layout::Style { bold: true, ..layout::Style::plain(label_role) });
    if let Some(mark) = block.mark {
        head.text(&format!("  {mark}"), layout::Style::plain(Role::Muted));
    }
    let mut lines = head.finish();
    let mut body = match block.kind {
        BlockKind::Assistant => super::markdown::layout(block.text, cols),
        BlockKind::User => layout::plain(block.text, cols, Role::Text, LineBack::User),
        BlockKind::Error => layout::plain(block.text, cols, Role::Error, LineBack::Plain),
        BlockKind::Info => layout::plain(block.text, cols, Role::Muted, LineBack::Plain),
    };
    if block.streaming {
        // The cursor at the end of the text so far.
        let last = match body.last_mut() {
            Some(line) => line,
            None => {
                body.push(VLine::default());
                body.last_mut().expect("just pushed")
            }
        };
        let col = last.end_col();
        if col < cols {
            last.spans.push(layout::Span {
                col,
                text: String::from("\u{2588}"),
                role: Role::Muted,
                bold: false,
                italic: false,
                boxed: false,
            });
        }
    }
    lines.append(&mut body);
    lines.push(VLine::default());
    lines
}

fn draw_header(canvas: &mut Canvas, area: Rect, header: &Header<'_>, theme: &Theme, fonts: Fonts) {
    canvas.fill_rect(area, theme.surface);
    canvas.fill_rect(Rect::new(area.x, area.bottom().saturating_sub(1), area.w, 1), theme.border);
    let size = fonts.detail;
    let y = area.y + (area.h.saturating_sub(size.line_height())) / 2;
    let margin = fonts.body.advance() * 2;
    let mut x = canvas.draw_text(area.x + margin, y, "moteOS", TextStyle::new(size, theme.user).bold());
    x = canvas.draw_text(x + size.advance(), y, "\u{b7}", TextStyle::new(size, theme.faint));
    draw_cells(canvas, x + size.advance(), y, header.provider, TextStyle::new(size, theme.text));

    // Right side, right to left: network, context, speed.
    let mut right = area.right().saturating_sub(margin);
    let (dot, word) = match header.net {
        NetBadge::Offline => (theme.faint, "offline"),
        NetBadge::Connecting => (theme.warning, "connecting"),
        NetBadge::Connected => (theme.success, "connected"),
        NetBadge::Error => (theme.error, "network error"),
    };
    let net = if header.net_text.is_empty() { String::from(word) } else { format!("{word} {}", header.net_text) };
    right = right.saturating_sub(display_width(&net) * size.advance());
    draw_cells(canvas, right, y, &net, TextStyle::new(size, theme.muted));
    let r = size.line_height() / 4;
    canvas.fill_circle(right.saturating_sub(r * 2 + 4), y + size.line_height() / 2, r, dot);
    right = right.saturating_sub(r * 4 + 16);
    for part in [header.context, header.speed] {
        if part.is_empty() {
            continue;
        }
        right = right.saturating_sub(display_width(part) * size.advance());
        draw_cells(canvas, right, y, part, TextStyle::new(size, theme.muted));
        right = right.saturating_sub(size.advance() * 3);
        canvas.draw_text(right + size.advance(), y, "\u{b7}", TextStyle::new(size, theme.faint));
    }
}

/// The input's lines, wrapped at `cols` characters (not words, so the cursor maps
/// exactly), as (start byte, end byte) of each.
fn input_lines(text: &str, cols: u32) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut col = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            lines.push((start, i));
            start = i + 1;
            col = 0;
            continue;
        }
        let w = char_width(c).max(1);
        if col + w > cols {
            lines.push((start, i));
            start = i;
            col = 0;
        }
        col += w;
    }
    lines.push((start, text.len()));
    lines
}

fn draw_input(canvas: &mut Canvas, regions: Regions, input: &InputBox<'_>, theme: &Theme, fonts: Fonts) {
    let area = regions.input;
    // The box and the hint line below it.
    canvas.fill_rect(Rect::new(0, area.y.saturating_sub(4), canvas.width(), regions.hint.bottom() - area.y + 4), theme.background);
    canvas.fill_rounded_rect(area, 10, theme.surface);
    let size = fonts.body;
    let advance = size.advance();
    let line_h = size.line_height();
    let text_x = area.x + advance;
    let cols = (area.w.saturating_sub(2 * advance) / advance).max(1);
    let visible = ((area.h - 20) / line_h).max(1) as usize;
    let masked: String;
    let text = if input.masked {
        masked = input.text.chars().map(|c| if c == '\n' { c } else { '\u{2022}' }).collect();
        masked.as_str()
    } else {
        input.text
    };
    // The cursor's byte offset in the shown text.
    let cursor = if input.masked { input.text[..input.cursor.min(input.text.len())].chars().count() * '\u{2022}'.len_utf8() } else { input.cursor.min(text.len()) };
    let lines = input_lines(text, cols);
    let cursor_line = lines.iter().rposition(|&(s, _)| s <= cursor).unwrap_or(0);
    let first = cursor_line.saturating_sub(visible - 1);
    if text.is_empty() {
        canvas.draw_text(text_x, area.y + 10, input.placeholder, TextStyle::new(size, theme.faint));
    }
    for (i, &(s, e)) in lines.iter().enumerate().skip(first).take(visible) {
        let y = area.y + 10 + (i - first) as u32 * line_h;
        draw_cells(canvas, text_x, y, &text[s..e], TextStyle::new(size, theme.text));
        if i == cursor_line {
            let col = display_width(&text[s..cursor.clamp(s, e)]);
            canvas.fill_rect(Rect::new(text_x + col * advance, y + 2, 2, line_h.saturating_sub(4)), theme.user);
        }
    }
    if lines.len() > visible {
        let more = format!("{}/{}", cursor_line + 1, lines.len());
        let w = display_width(&more) * fonts.detail.advance();
        canvas.draw_text(area.right().saturating_sub(w + advance), area.y + 4, &more, TextStyle::new(fonts.detail, theme.faint));
    }
    let hint_y = regions.hint.y + (regions.hint.h.saturating_sub(fonts.detail.line_height())) / 2;
    draw_cells(canvas, area.x + advance, hint_y, input.hint, TextStyle::new(fonts.detail, theme.faint));
}

fn draw_notice(canvas: &mut Canvas, area: Rect, notice: &Notice<'_>, theme: &Theme, fonts: Fonts) {
    let color = match notice.level {
        NoticeLevel::Info => theme.muted,
        NoticeLevel::Warning => theme.warning,
        NoticeLevel::Error => theme.error,
    };
    let margin = fonts.body.advance() * 2;
    let size = fonts.detail;
    canvas.fill_rect(Rect::new(margin, area.y + 4, 3, area.h.saturating_sub(8)), color);
    let cols = (area.w.saturating_sub(2 * margin + 16) / size.advance()).max(1);
    let lines = layout::plain(notice.text, cols, Role::Text, LineBack::Plain);
    for (i, line) in lines.iter().take(2).enumerate() {
        let y = area.y + 6 + i as u32 * size.line_height();
        for span in &line.spans {
            draw_cells(canvas, margin + 12 + span.col * size.advance(), y, &span.text, TextStyle::new(size, color));
        }
    }
}
