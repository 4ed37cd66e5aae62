//! The screen: a RAM canvas that is drawn on freely and copied to the firmware's
//! linear framebuffer in damaged rectangles (framebuffer memory is slow to touch,
//! especially under emulation, so nothing draws on it directly).
//!
//! One owner: the main loop holds the [`Display`]. The panic handler has its own
//! [`PanicScreen`], made at boot with a canvas of its own, so a panic while the main loop
//! is drawing never waits for (or tears) the main loop's buffer.

use crate::boot_info::FramebufferInfo;
use crate::drivers::framebuffer::Framebuffer;
use alloc::vec;
use alloc::vec::Vec;
use spin::Mutex;
use tui::Canvas;

/// The framebuffer plus its back buffer.
#[derive(Debug)]
pub struct Display {
    fb: Framebuffer,
    canvas: Canvas,
    row: Vec<u32>,
}

/// The panic handler's way to the screen (see [`PanicScreen`]).
static PANIC_SCREEN: Mutex<Option<PanicScreen>> = Mutex::new(None);

/// The framebuffer and a canvas reserved for the panic screen, allocated at boot because
/// the heap may be what failed when it is needed.
#[derive(Debug)]
pub struct PanicScreen {
    fb: Framebuffer,
    canvas: Canvas,
    row: Vec<u32>,
}

impl PanicScreen {
    /// Reserves the panic screen's memory for `info` and installs it.
    pub fn install(info: FramebufferInfo) {
        if let Ok(fb) = Framebuffer::new(info) {
            let screen =
                PanicScreen { fb, canvas: Canvas::new(info.width, info.height), row: vec![0; info.width as usize] };
            *PANIC_SCREEN.lock() = Some(screen);
        }
    }

    /// Draws the panic screen over whatever is shown; does nothing if there is no screen
    /// or a panic is already drawing it.
    pub fn show(title: &str, message: &str) {
        if let Some(mut guard) = PANIC_SCREEN.try_lock()
            && let Some(screen) = guard.as_mut()
        {
            tui::screens::draw_panic(&mut screen.canvas, title, message);
            copy_rows(&screen.fb, &screen.canvas, 0, 0, &mut screen.row);
        }
    }
}

/// Copies rows `0..width` of `canvas` to the framebuffer with the canvas's top left at
/// (`left`, `top`), clipped to the screen.
fn copy_rows(fb: &Framebuffer, canvas: &Canvas, left: u32, top: u32, row: &mut [u32]) {
    let info = fb.info();
    let x1 = canvas.width().min(info.width.saturating_sub(left)).min(row.len() as u32);
    let y1 = canvas.height().min(info.height.saturating_sub(top));
    for y in 0..y1 {
        canvas.encode_row_into(y, 0, x1, fb.layout(), &mut row[..x1 as usize]);
        fb.write(left, top + y, &row[..x1 as usize]);
    }
}

/// Draws `canvas` straight onto the framebuffer at (`left`, `top`), for the boot loader's
/// progress display, which runs before there is memory for a full back buffer.
pub fn blit(info: &FramebufferInfo, canvas: &Canvas, left: u32, top: u32) -> Result<(), &'static str> {
    let fb = Framebuffer::new(*info)?;
    let mut row = vec![0; canvas.width() as usize];
    copy_rows(&fb, canvas, left, top, &mut row);
    Ok(())
}

/// Shows how far reading a file has come: its name, a bar and the megabytes, centred in
/// the lower part of the screen (drawn by the boot loader, before the kernel runs).
pub fn draw_load_progress(info: &FramebufferInfo, path: &str, done: usize, total: usize) {
    use tui::{FontSize, Rect, TextStyle, palette};
    let width = (info.width * 2 / 3).clamp(1, 900);
    let mut canvas = Canvas::new(width, 56);
    canvas.fill(palette::BACKGROUND);
    let label = alloc::format!("Loading {path}: {} of {} MB", done / 1_000_000, total / 1_000_000);
    canvas.draw_text(0, 0, &label, TextStyle::new(FontSize::Small, palette::MUTED));
    let bar = Rect::new(0, 30, width, 12);
    canvas.fill_rounded_rect(bar, 6, palette::SURFACE);
    let filled = (u64::from(width) * done as u64 / total.max(1) as u64) as u32;
    canvas.fill_rounded_rect(Rect::new(0, 30, filled.max(12).min(width), 12), 6, palette::ACCENT);
    let _ = blit(info, &canvas, (info.width - width) / 2, info.height.saturating_sub(info.height / 5));
}

impl Display {
    /// Wraps the firmware framebuffer, or explains why it cannot be used.
    pub fn new(info: FramebufferInfo) -> Result<Self, &'static str> {
        let fb = Framebuffer::new(info)?;
        Ok(Self { fb, canvas: Canvas::new(info.width, info.height), row: vec![0; info.width as usize] })
    }

    /// The back buffer to draw on.
    pub fn canvas(&mut self) -> &mut Canvas {
        &mut self.canvas
    }

    /// Framebuffer facts for the log.
    pub fn info(&self) -> &FramebufferInfo {
        self.fb.info()
    }

    /// Copies whatever was drawn since the last call to the visible framebuffer, one
    /// damaged rectangle at a time.
    pub fn present(&mut self) {
        let damage = self.canvas.take_damage_rects();
        for rect in damage.rects() {
            let x0 = rect.x.min(self.fb.info().width);
            let x1 = rect.right().min(self.fb.info().width);
            let y1 = rect.bottom().min(self.fb.info().height);
            if x1 <= x0 {
                continue;
            }
            let row = &mut self.row[..(x1 - x0) as usize];
            for y in rect.y..y1 {
                self.canvas.encode_row_into(y, x0, x1, self.fb.layout(), row);
                self.fb.write(x0, y, row);
            }
        }
    }
}
