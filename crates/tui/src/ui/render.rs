//! Drawing a [`Frame`]: regions laid out from the screen size, the transcript laid out
//! into cached lines, and only what changed since the last frame redrawn.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use super::layout::{self, Fnv, LineBack, Role, VLine, display_width};
use super::markdown::{self, Chunk};
use super::paint::{Painter, Sizes};
use super::{Block, BlockKind, Frame, Header, InputBox, NetBadge, Notice, NoticeLevel, Scroll, Theme, ThemeId};
use crate::glyphs::{Face, Glyphs};
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
    chunks: Vec<Chunk>,
    lines: Vec<VLine>,
}

/// Draws frames, remembering what is on the canvas.
#[derive(Debug, Default)]
pub struct Renderer {
    glyphs: Glyphs,
    size: (u32, u32),
    scale: u16,
    theme: Option<ThemeId>,
    sizes: Option<Sizes>,
    regions: Regions,
    cache: BTreeMap<u64, Cached>,
    header: Option<u64>,
    input: Option<u64>,
    notice: Option<u64>,
    overlay: Option<u64>,
    rows: Vec<Option<u64>>,
    /// The transcript's first visible line when `rows` were drawn.
    rows_top: Option<u32>,
    /// The scrollbar drawn: (lines in all, lines visible, first visible line).
    bar: Option<(u32, u32, u32)>,
    geometry: Geometry,
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut h = Fnv::new();
    value.hash(&mut h);
    h.finish()
}

impl Renderer {
    /// A renderer that will draw everything on its first frame.
    pub fn new() -> Self {
        Renderer { scale: 100, ..Renderer::default() }
    }

    /// Forgets what is on the canvas: the next frame is drawn whole (Ctrl+L, or after
    /// something else drew on the screen).
    pub fn invalidate(&mut self) {
        self.theme = None;
    }

    /// Text size in percent of the default for the resolution (50 to 300).
    pub fn set_scale(&mut self, percent: u16) {
        if percent != self.scale {
            self.scale = percent;
            self.theme = None;
        }
    }

    /// What the last frame measured.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Draws `frame`, touching only what differs from the last frame; returns the
    /// transcript's measurements.
    pub fn draw(&mut self, frame: &Frame<'_>, canvas: &mut Canvas) -> Geometry {
        let (w, h) = (canvas.width(), canvas.height());
        let theme = frame.theme.theme();
        if self.size != (w, h) || self.theme != Some(frame.theme) || self.sizes.is_none() {
            self.size = (w, h);
            self.theme = Some(frame.theme);
            self.sizes = Some(Sizes::for_screen(&self.glyphs, w, h, self.scale));
            // The laid-out lines stay: they are in columns and roles, not pixels or colours,
            // and a block whose width in columns changed is laid out again by its key.
            self.forget();
            canvas.fill(theme.background);
        }
        let sizes = self.sizes.unwrap_or_else(|| Sizes::for_screen(&self.glyphs, w, h, self.scale));
        let regions = regions(w, h, sizes, frame);
        let overlay_key = frame.overlay.as_ref().map(super::overlay::key);
        if regions != self.regions {
            let before = core::mem::replace(&mut self.regions, regions);
            let (old, new) = (before.transcript, regions.transcript);
            if before.header == regions.header
                && (old.x, old.y, old.w) == (new.x, new.y, new.w)
                && overlay_key.is_none()
                && self.overlay.is_none()
            {
                // Only what is below the transcript moved (a notice came or went, the input
                // line grew or shrank): the transcript keeps its rows, which the scroll
                // below moves if the first visible line changed; the rest is painted again.
                let from = old.bottom().min(new.bottom());
                canvas.fill_rect(Rect::new(0, from, w, h.saturating_sub(from)), theme.background);
                self.input = None;
                self.notice = None;
            } else {
                self.forget();
                canvas.fill(theme.background);
            }
        }
        if overlay_key.is_none() && self.overlay.is_some() {
            // The window closed: what it covered must come back.
            self.forget();
            canvas.fill(theme.background);
        }
        let mut touched = false;
        let header_key = hash_of(&(header_hash(&frame.header), regions.header));
        let input_key = hash_of(&(
            frame.input.text,
            frame.input.cursor,
            frame.input.masked,
            frame.input.placeholder,
            frame.input.hint,
        ));
        let notice_key = hash_of(&frame.notice.map(|n| (n.text, n.level as u8)));
        let mut transcript = core::mem::take(&mut self.cache);
        let mut rows = core::mem::take(&mut self.rows);
        {
            let mut p = Painter { canvas, glyphs: &mut self.glyphs, theme, sizes };
            if self.header != Some(header_key) {
                draw_header(&mut p, regions.header, &frame.header);
                self.header = Some(header_key);
                touched = true;
            }
            if self.input != Some(input_key) {
                draw_input(&mut p, regions, &frame.input);
                self.input = Some(input_key);
                touched = true;
            }
            if self.notice != Some(notice_key) {
                p.fill(regions.notice, theme.background);
                if let Some(notice) = &frame.notice {
                    draw_notice(&mut p, regions.notice, notice);
                }
                self.notice = Some(notice_key);
                touched = true;
            }
            let shown = Shown {
                rows: &mut rows,
                top: &mut self.rows_top,
                bar: &mut self.bar,
                may_shift: overlay_key.is_none(),
            };
            let (t, geometry) = draw_transcript(&mut p, regions.transcript, frame, &mut transcript, shown);
            touched |= t;
            self.geometry = geometry;
            if let Some(key) = overlay_key
                && let Some(overlay) = &frame.overlay
                && (touched || self.overlay != Some(key))
            {
                super::overlay::draw(&mut p, overlay);
            }
        }
        self.cache = transcript;
        self.rows = rows;
        self.overlay = overlay_key;
        self.geometry
    }

    fn forget(&mut self) {
        self.header = None;
        self.input = None;
        self.notice = None;
        self.overlay = None;
        self.rows.clear();
        self.rows_top = None;
        self.bar = None;
    }
}

/// What the transcript's rows on the canvas show: each row's key, the first visible line,
/// and whether the pixels may be moved (not while a window covers part of them).
struct Shown<'a> {
    rows: &'a mut Vec<Option<u64>>,
    top: &'a mut Option<u32>,
    bar: &'a mut Option<(u32, u32, u32)>,
    may_shift: bool,
}

/// Width of the scrollbar at the transcript's right edge, in pixels (inside the margin the
/// text never reaches).
const BAR_WIDTH: u32 = 4;

/// Lays the transcript out and redraws the rows whose content changed. Returns whether
/// anything was drawn, and the measurements.
fn draw_transcript(
    p: &mut Painter<'_>,
    area: Rect,
    frame: &Frame<'_>,
    cache: &mut BTreeMap<u64, Cached>,
    shown: Shown<'_>,
) -> (bool, Geometry) {
    let Shown { rows: drawn, top: drawn_top, bar, may_shift } = shown;
    let body = p.sizes.body;
    let line_h = body.line;
    let pad = body.advance * 2;
    let cols = (area.w.saturating_sub(2 * pad) / body.advance).max(8);
    let visible = area.h / line_h.max(1);
    // Every block's lines, from the cache where nothing changed.
    let blocks = frame.transcript.blocks;
    for block in blocks {
        let key = hash_of(&(block.text, block.kind, block.mark, block.streaming, cols));
        let stale = cache.get(&block.id).is_none_or(|c| c.key != key);
        if stale {
            let previous = cache.remove(&block.id).map(|c| c.chunks).unwrap_or_default();
            let (chunks, lines) = layout_block(block, cols, &previous);
            cache.insert(block.id, Cached { key, chunks, lines });
        }
    }
    cache.retain(|id, _| blocks.iter().any(|b| b.id == *id));
    let total: u32 = blocks.iter().map(|b| cache[&b.id].lines.len() as u32).sum();
    let max_top = total.saturating_sub(visible);
    let top = match frame.transcript.scroll {
        Scroll::Follow => max_top,
        Scroll::FromTop(line) => line.min(max_top),
    };
    let geometry = Geometry { content_lines: total, visible_lines: visible, top_line: top };
    let more_below = top < max_top;

    let mut rows: Vec<Option<&VLine>> = vec![None; visible as usize];
    let mut line_no = 0u32;
    'blocks: for block in blocks {
        for line in &cache[&block.id].lines {
            if line_no >= top + visible {
                break 'blocks;
            }
            if line_no >= top {
                rows[(line_no - top) as usize] = Some(line);
            }
            line_no += 1;
        }
    }
    // The area grew or shrank at the bottom: rows added there are painted, rows cut off go.
    drawn.resize(visible as usize, None);
    // A scroll by a few lines (a streamed reply growing at the bottom): move the rows'
    // pixels instead of painting them again; only the rows that came into view (and any
    // whose look depends on its position) are painted below.
    if let Some(before) = *drawn_top
        && may_shift
        && before != top
        && before.abs_diff(top) < visible
    {
        let k = before.abs_diff(top) as usize;
        let rows_area = Rect::new(area.x, area.y, area.w, visible * line_h);
        let dy = (k as u32 * line_h) as i32;
        if top > before {
            p.canvas.shift_rows(rows_area, -dy);
            drawn.copy_within(k.., 0);
            let n = drawn.len();
            drawn[n - k..].fill(None);
        } else {
            p.canvas.shift_rows(rows_area, dy);
            let n = drawn.len();
            drawn.copy_within(..n - k, k);
            drawn[..k].fill(None);
        }
    }
    *drawn_top = Some(top);
    let mut touched = false;
    let hint_row = visible as usize / 2;
    let empty_hint = blocks.is_empty().then_some(frame.transcript.empty_hint).filter(|h| !h.is_empty());
    for (r, line) in rows.iter().enumerate() {
        let last = r + 1 == rows.len();
        let key = hash_of(&(line.map(|l| l.key()), last && more_below, empty_hint.filter(|_| r == hint_row)));
        if drawn[r] == Some(key) {
            continue;
        }
        drawn[r] = Some(key);
        touched = true;
        let y = area.y + r as u32 * line_h;
        let row = Rect::new(area.x, y, area.w, line_h);
        p.fill(row, p.theme.background);
        if let Some(line) = line {
            draw_line(p, row, pad, line);
        }
        if let Some(hint) = empty_hint
            && r == hint_row
        {
            let x = area.x + area.w.saturating_sub(Painter::width(hint, body)) / 2;
            p.text(x, y, hint, Face::Regular, body, p.theme.muted);
        }
        if last && more_below {
            let detail = p.sizes.detail;
            let label = "\u{2193} more below \u{b7} Ctrl+End";
            let dw = Painter::width(label, detail) + 2 * detail.advance;
            let pill = Rect::new(area.right().saturating_sub(dw + pad), y + 1, dw, line_h.saturating_sub(2));
            p.round(pill, pill.h / 2, p.theme.raised);
            let ty = y + line_h.saturating_sub(detail.line) / 2;
            p.text(pill.x + detail.advance, ty, label, Face::Regular, detail, p.theme.text);
        }
    }
    // Below the last whole row.
    let rest = Rect::new(area.x, area.y + visible * line_h, area.w, area.h - visible * line_h);
    p.fill(rest, p.theme.background);
    // The scrollbar: where the visible lines are in the whole conversation. Painted rows
    // cover its strip, so it is drawn again after any row (or when it moves).
    let bar_now = (total > visible).then_some((total, visible, top));
    if touched || *bar != bar_now {
        let track = Rect::new(area.right().saturating_sub(BAR_WIDTH + 2), area.y, BAR_WIDTH, visible * line_h);
        if bar_now.is_none() && bar.is_some() {
            p.fill(track, p.theme.background);
        }
        if bar_now.is_some() {
            p.fill(track, p.theme.surface);
            let thumb_h = (u64::from(track.h) * u64::from(visible) / u64::from(total)) as u32;
            let thumb_h = thumb_h.max(line_h).min(track.h);
            let travel = track.h - thumb_h;
            let y = track.y + (u64::from(travel) * u64::from(top) / u64::from(max_top.max(1))) as u32;
            p.round(Rect::new(track.x, y, BAR_WIDTH, thumb_h), BAR_WIDTH / 2, p.theme.muted);
        }
        *bar = bar_now;
        touched = true;
    }
    (touched, geometry)
}

fn header_hash(header: &Header<'_>) -> u64 {
    hash_of(&(header.provider, header.net as u8, header.net_text, header.speed, header.context))
}

/// Splits the screen: header, transcript, notice, input, hint.
fn regions(w: u32, h: u32, sizes: Sizes, frame: &Frame<'_>) -> Regions {
    let line = sizes.body.line;
    let detail = sizes.detail.line;
    let header = Rect::new(0, 0, w, detail + detail / 2 + 8);
    let hint = Rect::new(0, h.saturating_sub(detail + 8), w, detail + 8);
    let advance = sizes.body.advance;
    let margin = advance * 2;
    let inner_cols = (w.saturating_sub(2 * margin + 2 * advance) / advance).max(1);
    let lines = input_lines(frame.input.text, inner_cols).len() as u32;
    let max_lines = (h / 3 / line.max(1)).max(1);
    let input_h = lines.clamp(1, max_lines) * line + line;
    let input = Rect::new(margin, hint.y.saturating_sub(input_h), w.saturating_sub(2 * margin), input_h);
    let notice_h = if frame.notice.is_some() { detail * 2 + detail / 2 } else { 0 };
    let notice = Rect::new(0, input.y.saturating_sub(notice_h + 6), w, notice_h);
    let top = header.bottom() + line / 2;
    let transcript = Rect::new(0, top, w, notice.y.saturating_sub(top + 4));
    Regions { header, transcript, notice, input, hint }
}

fn role_color(theme: &Theme, role: Role) -> Rgb {
    match role {
        Role::Text | Role::Heading => theme.text,
        Role::Muted | Role::Marker | Role::InfoLabel => theme.muted,
        Role::Error | Role::ErrorLabel => theme.error,
        Role::Code => theme.code,
        Role::Keyword => theme.keyword,
        Role::String => theme.string,
        Role::Number => theme.number,
        Role::Comment => theme.comment,
        Role::Link => theme.link,
        Role::UserLabel => theme.user,
        Role::AssistantLabel => theme.assistant,
    }
}

/// Draws one laid-out line in `row` (already cleared).
fn draw_line(p: &mut Painter<'_>, row: Rect, pad: u32, line: &VLine) {
    let body = p.sizes.body;
    let adv = body.advance;
    let left = row.x + pad;
    let text_w = row.w.saturating_sub(2 * pad);
    match line.back {
        LineBack::Plain => {}
        LineBack::User => p.fill(Rect::new(left.saturating_sub(adv), row.y, text_w + 2 * adv, row.h), p.theme.surface),
        LineBack::Code { indent } => {
            let x = left + indent * adv;
            let right = left + text_w + adv / 2;
            p.fill(
                Rect::new(x.saturating_sub(adv / 2), row.y, right.saturating_sub(x - adv / 2), row.h),
                p.theme.raised,
            );
        }
        LineBack::Quote { indent } => {
            p.fill(Rect::new(left + indent * adv + adv / 3, row.y, 3, row.h), p.theme.border);
        }
        LineBack::Rule => p.fill(Rect::new(left, row.y + row.h / 2, text_w, 1), p.theme.border),
    }
    for span in &line.spans {
        let x = left + span.col * adv;
        if span.boxed {
            let w = display_width(&span.text) * adv;
            p.round(Rect::new(x.saturating_sub(2), row.y + 1, w + 4, row.h.saturating_sub(2)), 4, p.theme.raised);
        }
        let face = if span.bold {
            Face::Bold
        } else if span.italic {
            Face::Italic
        } else {
            Face::Regular
        };
        let color = role_color(p.theme, span.role);
        p.text(x, row.y, &span.text, face, body, color);
    }
}

/// A block's lines: its label line, its text, and a gap after it.
fn layout_block(block: &Block<'_>, cols: u32, previous: &[Chunk]) -> (Vec<Chunk>, Vec<VLine>) {
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
        head.text(&format!("  {mark}"), layout::Style { italic: true, ..layout::Style::plain(Role::Muted) });
    }
    let mut lines = head.finish();
    let (chunks, mut body) = match block.kind {
        BlockKind::Assistant if block.streaming => markdown::layout_streaming(block.text, cols, previous),
        BlockKind::Assistant => markdown::layout_cached(block.text, cols, previous),
        BlockKind::User => (Vec::new(), layout::plain(block.text, cols, Role::Text, LineBack::User)),
        BlockKind::Error => (Vec::new(), layout::plain(block.text, cols, Role::Error, LineBack::Plain)),
        BlockKind::Info => (Vec::new(), layout::plain(block.text, cols, Role::Muted, LineBack::Plain)),
    };
    if block.streaming {
        // The cursor at the end of the text so far.
        if body.is_empty() {
            body.push(VLine::default());
        }
        if let Some(last) = body.last_mut() {
            let col = last.end_col();
            if col < cols {
                last.spans.push(layout::Span {
                    col,
                    text: String::from("\u{258d}"),
                    role: Role::AssistantLabel,
                    bold: false,
                    italic: false,
                    boxed: false,
                });
            }
        }
    }
    lines.append(&mut body);
    lines.push(VLine::default());
    (chunks, lines)
}

fn draw_header(p: &mut Painter<'_>, area: Rect, header: &Header<'_>) {
    let theme = p.theme;
    p.fill(area, theme.surface);
    p.fill(Rect::new(area.x, area.bottom().saturating_sub(1), area.w, 1), theme.border);
    let d = p.sizes.detail;
    let y = area.y + area.h.saturating_sub(d.line) / 2;
    let margin = p.sizes.body.advance * 2;
    let mut x = p.text(area.x + margin, y, "moteOS", Face::Bold, d, theme.user);
    x = p.text(x + d.advance, y, "\u{b7}", Face::Regular, d, theme.faint);
    p.text(x + d.advance, y, header.provider, Face::Regular, d, theme.text);

    // Right side, right to left: network, context, speed.
    let mut right = area.right().saturating_sub(margin);
    let (dot, word) = match header.net {
        NetBadge::Offline => (theme.faint, "offline"),
        NetBadge::Connecting => (theme.warning, "connecting"),
        NetBadge::Connected => (theme.success, "online"),
        NetBadge::Error => (theme.error, "network error"),
    };
    let net = if header.net_text.is_empty() { String::from(word) } else { format!("{word} {}", header.net_text) };
    right = right.saturating_sub(Painter::width(&net, d));
    p.text(right, y, &net, Face::Regular, d, theme.muted);
    let r = (d.line / 5).max(2);
    p.canvas.fill_circle(right.saturating_sub(r * 2 + 2), y + d.line / 2, r, dot);
    right = right.saturating_sub(r * 4 + d.advance * 3);
    for part in [header.context, header.speed] {
        if part.is_empty() {
            continue;
        }
        right = right.saturating_sub(Painter::width(part, d));
        p.text(right, y, part, Face::Regular, d, theme.muted);
        right = right.saturating_sub(d.advance * 3);
    }
}

/// The input's lines, wrapped at `cols` cells (not words, so the cursor maps exactly),
/// as (start byte, end byte) of each.
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
        let w = layout::char_width(c).max(1);
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

fn draw_input(p: &mut Painter<'_>, regions: Regions, input: &InputBox<'_>) {
    let theme = p.theme;
    let area = regions.input;
    let body = p.sizes.body;
    let detail = p.sizes.detail;
    // The box and the hint line below it.
    let width = p.canvas.width();
    p.fill(
        Rect::new(0, area.y.saturating_sub(4), width, regions.hint.bottom().saturating_sub(area.y) + 4),
        theme.background,
    );
    p.round(Rect::new(area.x.saturating_sub(1), area.y.saturating_sub(1), area.w + 2, area.h + 2), 10, theme.border);
    p.round(area, 10, theme.surface);
    let adv = body.advance;
    let text_x = area.x + adv;
    let top = area.y + body.line / 2;
    let cols = (area.w.saturating_sub(2 * adv) / adv).max(1);
    let visible = (area.h.saturating_sub(body.line) / body.line).max(1) as usize;
    let masked: String;
    let text = if input.masked {
        masked = input.text.chars().map(|c| if c == '\n' { c } else { '\u{2022}' }).collect();
        masked.as_str()
    } else {
        input.text
    };
    // The cursor's byte offset in the shown text.
    let cursor = if input.masked {
        input.text[..input.cursor.min(input.text.len())].chars().count() * '\u{2022}'.len_utf8()
    } else {
        input.cursor.min(text.len())
    };
    let lines = input_lines(text, cols);
    let cursor_line = lines.iter().rposition(|&(s, _)| s <= cursor).unwrap_or(0);
    let first = cursor_line.saturating_sub(visible - 1);
    if text.is_empty() {
        p.text(text_x, top, input.placeholder, Face::Regular, body, theme.faint);
    }
    for (i, &(s, e)) in lines.iter().enumerate().skip(first).take(visible) {
        let y = top + (i - first) as u32 * body.line;
        p.text(text_x, y, &text[s..e], Face::Regular, body, theme.text);
        if i == cursor_line {
            let col = display_width(&text[s..cursor.clamp(s, e)]);
            p.fill(Rect::new(text_x + col * adv, y + 1, 2, body.line.saturating_sub(2)), theme.user);
        }
    }
    if lines.len() > visible {
        let more = format!("{}/{}", cursor_line + 1, lines.len());
        let w = Painter::width(&more, detail);
        p.text(area.right().saturating_sub(w + adv), area.y + 2, &more, Face::Regular, detail, theme.faint);
    }
    let hint_y = regions.hint.y + regions.hint.h.saturating_sub(detail.line) / 2;
    p.text(area.x + adv, hint_y, input.hint, Face::Regular, detail, theme.faint);
}

fn draw_notice(p: &mut Painter<'_>, area: Rect, notice: &Notice<'_>) {
    let theme = p.theme;
    let color = match notice.level {
        NoticeLevel::Info => theme.muted,
        NoticeLevel::Warning => theme.warning,
        NoticeLevel::Error => theme.error,
    };
    let margin = p.sizes.body.advance * 2;
    let d = p.sizes.detail;
    p.fill(Rect::new(margin, area.y + 2, 3, area.h.saturating_sub(4)), color);
    let cols = (area.w.saturating_sub(2 * margin + 16) / d.advance).max(1);
    let lines = layout::plain(notice.text, cols, Role::Text, LineBack::Plain);
    for (i, line) in lines.iter().take(2).enumerate() {
        let y = area.y + d.line / 4 + i as u32 * d.line;
        for span in &line.spans {
            p.text(margin + 12 + span.col * d.advance, y, &span.text, Face::Regular, d, color);
        }
    }
}

/// Draws `frame` into a fresh canvas of `width` x `height` (golden tests, benchmarks).
pub fn render_once(frame: &Frame<'_>, width: u32, height: u32) -> Canvas {
    let mut canvas = Canvas::new(width, height);
    Renderer::new().draw(frame, &mut canvas);
    canvas
}
