//! The chat: a status bar, the conversation (newest at the bottom), the notice line and
//! the input field. A plain rendering, redrawn whole; the bytes it touches are a small
//! part of a frame and the kernel copies only the damaged rows.

use alloc::vec::Vec;

use super::layout::{body_size, detail_size};
use crate::{Canvas, FontSize, Rect, Rgb, TextStyle, palette, wrap_lines};

/// Who a block of the conversation is from; decides its label and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// The person typing.
    User,
    /// The model.
    Assistant,
    /// moteOS reporting an error.
    Notice,
    /// moteOS answering a command.
    Info,
}

/// One block of the conversation.
#[derive(Clone, Copy, Debug)]
pub struct ChatBlock<'a> {
    /// Who wrote it.
    pub speaker: Speaker,
    /// The text.
    pub text: &'a str,
    /// A short mark after the text, e.g. `[cut]` or `[not sent]`.
    pub mark: Option<&'a str>,
    /// Whether text is still arriving (a cursor is drawn at its end).
    pub streaming: bool,
}

/// Everything the chat screen shows.
#[derive(Clone, Copy, Debug)]
pub struct ChatView<'a> {
    /// Left part of the status bar: provider and model.
    pub provider: &'a str,
    /// Right part of the status bar: network state, speed.
    pub status: &'a str,
    /// The conversation, oldest first.
    pub blocks: &'a [ChatBlock<'a>],
    /// The line being typed.
    pub input: &'a str,
    /// Shown in the input field while it is empty.
    pub placeholder: &'a str,
    /// The latest error, shown in red above the input field (empty for none).
    pub notice: &'a str,
}

const MARGIN: u32 = 24;

fn label(speaker: Speaker) -> (&'static str, Rgb) {
    match speaker {
        Speaker::User => ("You", palette::ACCENT),
        Speaker::Assistant => ("Model", palette::FOREGROUND.mix(palette::ACCENT, 60)),
        Speaker::Notice => ("moteOS", palette::ERROR),
        Speaker::Info => ("moteOS", palette::MUTED),
    }
}

/// Draws the chat over the whole canvas.
pub fn draw_chat(canvas: &mut Canvas, view: &ChatView<'_>) {
    let (w, h) = (canvas.width(), canvas.height());
    canvas.fill(palette::BACKGROUND);
    let body = body_size(canvas);
    let detail = detail_size(canvas);
    let body_h = body.line_height();
    let detail_h = detail.line_height();

    // Status bar.
    let bar_h = detail_h + 12;
    canvas.fill_rect(Rect::new(0, 0, w, bar_h), palette::SURFACE);
    canvas.draw_text(MARGIN.min(w), 6, view.provider, TextStyle::new(detail, palette::FOREGROUND));
    let status_w = canvas.text_width(view.status, detail);
    canvas.draw_text(w.saturating_sub(status_w + MARGIN), 6, view.status, TextStyle::new(detail, palette::MUTED));

    // Input field and notice, bottom up.
    let field_h = body_h + 20;
    let field = Rect::new(MARGIN.min(w), h.saturating_sub(field_h + 16), w.saturating_sub(2 * MARGIN), field_h);
    canvas.fill_rounded_rect(field, 10, palette::SURFACE);
    let text_x = field.x + 16;
    let max = field.w.saturating_sub(32);
    if view.input.is_empty() {
        canvas.draw_text(text_x, field.y + 10, view.placeholder, TextStyle::new(detail, palette::MUTED));
    } else {
        // The end of a long line is where the typing happens.
        let mut shown = view.input;
        while canvas.text_width(shown, body) > max {
            let mut chars = shown.chars();
            chars.next();
            shown = chars.as_str();
        }
        let end = canvas.draw_text(text_x, field.y + 10, shown, TextStyle::new(body, palette::FOREGROUND));
        canvas.fill_rect(Rect::new(end + 1, field.y + 12, 2, body_h.saturating_sub(4)), palette::ACCENT);
    }
    let mut bottom = field.y.saturating_sub(8);
    if !view.notice.is_empty() {
        let y = bottom.saturating_sub(detail_h);
        canvas.draw_text(field.x, y, view.notice, TextStyle::new(detail, palette::ERROR));
        bottom = y.saturating_sub(8);
    }

    // The conversation: lay out from the newest block upwards until the space is used.
    let top = bar_h + 12;
    let text_w = w.saturating_sub(2 * MARGIN + 16);
    let mut y = bottom;
    for block in view.blocks.iter().rev() {
        if y <= top {
            break;
        }
        let (name, colour) = label(block.speaker);
        let text_colour = match block.speaker {
            Speaker::Notice => palette::ERROR,
            Speaker::Info => palette::MUTED,
            _ => palette::FOREGROUND,
        };
        let lines: Vec<&str> = wrap_lines(block.text, body, text_w).collect();
        let height = detail_h + 4 + body_h * lines.len().max(1) as u32 + 14;
        let block_top = y.saturating_sub(height);
        let mut line_y = block_top + detail_h + 4;
        if block_top >= top {
            let mut x = canvas.draw_text(MARGIN, block_top, name, TextStyle::new(detail, colour).bold());
            if let Some(mark) = block.mark {
                x = canvas.draw_text(x + 8, block_top, mark, TextStyle::new(detail, palette::MUTED));
            }
            let _ = x;
        }
        let mut end = MARGIN + 16;
        for line in &lines {
            if line_y >= top && line_y + body_h <= bottom {
                end = canvas.draw_text(MARGIN + 16, line_y, line, TextStyle::new(body, text_colour));
            }
            line_y += body_h;
        }
        if block.streaming && line_y <= bottom {
            let cursor_y = if lines.is_empty() { line_y } else { line_y - body_h };
            canvas
                .fill_rect(Rect::new(end + 2, cursor_y + 2, body.advance(), body_h.saturating_sub(4)), palette::MUTED);
        }
        y = block_top;
    }
    canvas.add_damage(canvas.bounds());
}

/// The font size used for conversation text on this canvas (for callers that wrap).
pub fn body_font(canvas: &Canvas) -> FontSize {
    body_size(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(blocks: &'a [ChatBlock<'a>], notice: &'a str) -> ChatView<'a> {
        ChatView {
            provider: "Anthropic · claude-sonnet-4-5",
            status: "10.0.2.15 (DHCP)",
            blocks,
            input: "typing",
            placeholder: "Type a message",
            notice,
        }
    }

    fn count(canvas: &Canvas, colour: Rgb) -> usize {
        canvas.pixels().iter().filter(|&&p| p == colour.to_u32()).count()
    }

    #[test]
    fn draws_the_conversation_and_errors_at_any_size() {
        let long = "word ".repeat(2000);
        let blocks = [
            ChatBlock { speaker: Speaker::User, text: "hello", mark: None, streaming: false },
            ChatBlock { speaker: Speaker::Assistant, text: &long, mark: Some("[cut]"), streaming: false },
            ChatBlock { speaker: Speaker::Notice, text: "OpenAI refused the API key", mark: None, streaming: false },
            ChatBlock { speaker: Speaker::Assistant, text: "", mark: None, streaming: true },
        ];
        for (w, h) in [(0, 0), (1, 1), (64, 48), (640, 480), (1280, 800), (1920, 1080)] {
            let mut canvas = Canvas::new(w, h);
            draw_chat(&mut canvas, &view(&blocks, "the connection dropped"));
            if w >= 640 {
                assert!(count(&canvas, palette::ERROR) > 50, "errors are red at {w}x{h}");
                assert!(count(&canvas, palette::FOREGROUND) > 50, "text is drawn at {w}x{h}");
            }
        }
    }

    #[test]
    fn newer_text_changes_the_bottom_of_the_screen() {
        let mut before = Canvas::new(800, 600);
        let blocks = [ChatBlock { speaker: Speaker::Assistant, text: "Hi", mark: None, streaming: true }];
        draw_chat(&mut before, &view(&blocks, ""));
        let mut after = Canvas::new(800, 600);
        let blocks = [ChatBlock { speaker: Speaker::Assistant, text: "Hi there, friend", mark: None, streaming: true }];
        draw_chat(&mut after, &view(&blocks, ""));
        let changed = before.pixels().iter().zip(after.pixels()).filter(|(a, b)| a != b).count();
        assert!(changed > 100, "{changed}");
        assert_eq!(count(&before, palette::ERROR), 0);
    }
}
