//! The boot screen's typing demo: proves the whole input path (interrupt →
//! queue → decoder → screen and serial) until the chat application exists.

use crate::display::Display;
use alloc::string::String;
use hal::keys::{Key, KeyEvent};
use log::info;
use tui::{FontSize, Rect, TextStyle, palette};

/// The line being typed on the splash screen.
#[derive(Debug, Default)]
pub struct TypingDemo {
    line: String,
    status: String,
    notice: String,
    dirty: bool,
}

const PLACEHOLDER: &str = "Type here: keys show up on screen and on the serial console";
const MAX_CHARS: usize = 200;

impl TypingDemo {
    /// Starts with an empty line, drawn on the first redraw.
    pub fn new() -> Self {
        Self { line: String::new(), status: String::new(), notice: String::new(), dirty: true }
    }

    /// Sets the status line shown above the input field (network state for now).
    pub fn set_status(&mut self, status: &str) {
        if self.status != status {
            self.status.clear();
            self.status.push_str(status);
            self.dirty = true;
        }
    }

    /// Shows an error under the input field (the latest one wins).
    pub fn set_notice(&mut self, notice: &str) {
        if self.notice != notice {
            self.notice.clear();
            self.notice.push_str(notice);
            self.dirty = true;
        }
    }

    /// Applies one key.
    pub fn on_key(&mut self, key: KeyEvent) {
        info!("key: {key}");
        match key.key {
            Key::Char(c) if !key.modifiers.ctrl && !key.modifiers.alt => {
                if self.line.chars().count() < MAX_CHARS {
                    self.line.push(c);
                }
            }
            Key::Backspace => {
                self.line.pop();
            }
            Key::Enter => {
                info!("line: {}", self.line);
                self.line.clear();
            }
            Key::Char('u') if key.modifiers.ctrl => self.line.clear(),
            _ => return,
        }
        self.dirty = true;
    }

    /// Redraws the input field if it changed.
    pub fn draw(&mut self, display: &mut Display) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let canvas = display.canvas();
        let (w, h) = (canvas.width(), canvas.height());
        let field_w = (w * 2 / 3).clamp(200.min(w), 900.min(w));
        let line_h = canvas.line_height(FontSize::Normal);
        let field = Rect::new((w - field_w) / 2, h - h / 6 - line_h, field_w, line_h + 20);
        // The status line sits above the field; repaint its band from the
        // background's left-edge colour so the splash gradient stays intact.
        let small = canvas.line_height(FontSize::Small);
        let status_y = field.y.saturating_sub(small + 14);
        for y in status_y..status_y + small + 4 {
            if let Some(bg) = canvas.pixel(0, y) {
                canvas.fill_rect(Rect::new(field.x, y, field.w, 1), bg);
            }
        }
        if !self.status.is_empty() {
            let width = canvas.text_width(&self.status, FontSize::Small);
            let x = field.x + field.w.saturating_sub(width) / 2;
            canvas.draw_text(x, status_y, &self.status, TextStyle::new(FontSize::Small, palette::MUTED));
        }
        // The latest error goes below the field, in the error colour.
        let notice_y = field.bottom() + 12;
        for y in notice_y..notice_y + small + 4 {
            if let Some(bg) = canvas.pixel(0, y) {
                canvas.fill_rect(Rect::new(0, y, w, 1), bg);
            }
        }
        if !self.notice.is_empty() {
            let width = canvas.text_width(&self.notice, FontSize::Small).min(w);
            let x = w.saturating_sub(width) / 2;
            canvas.draw_text(x, notice_y, &self.notice, TextStyle::new(FontSize::Small, palette::ERROR));
        }
        canvas.fill_rounded_rect(field, 10, palette::SURFACE);
        let x = field.x + 16;
        let y = field.y + 10;
        let max = field.w.saturating_sub(32);
        if self.line.is_empty() {
            canvas.draw_text(x, y, PLACEHOLDER, TextStyle::new(FontSize::Small, palette::MUTED));
        } else {
            // Show the end of long lines: that is where the typing happens.
            let mut shown: &str = &self.line;
            while canvas.text_width(shown, FontSize::Normal) > max {
                let mut chars = shown.chars();
                chars.next();
                shown = chars.as_str();
            }
            let end = canvas.draw_text(x, y, shown, TextStyle::new(FontSize::Normal, palette::FOREGROUND));
            canvas.fill_rect(Rect::new(end + 1, y + 2, 2, line_h.saturating_sub(4)), palette::ACCENT);
        }
    }
}
