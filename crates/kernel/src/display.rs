//! The screen: a RAM canvas that is drawn on freely and copied to the firmware's
//! linear framebuffer in damaged rectangles (framebuffer memory is slow to touch,
//! especially under emulation, so nothing draws on it directly).

use crate::boot_info::{FramebufferInfo, PixelFormat};
use alloc::vec;
use alloc::vec::Vec;
use spin::Mutex;
use tui::{Canvas, PixelLayout};

/// The framebuffer plus its back buffer.
#[derive(Debug)]
pub struct Display {
    info: FramebufferInfo,
    layout: PixelLayout,
    canvas: Canvas,
    row: Vec<u32>,
}

/// The one display, shared with the panic handler.
pub static DISPLAY: Mutex<Option<Display>> = Mutex::new(None);

/// Checks the framebuffer's geometry and finds its pixel layout.
fn checked_layout(info: &FramebufferInfo) -> Result<PixelLayout, &'static str> {
    let needed = u64::from(info.stride) * u64::from(info.height) * 4;
    if info.width == 0 || info.height == 0 || info.stride < info.width {
        return Err("the framebuffer reports impossible dimensions");
    }
    if needed > info.size as u64 {
        return Err("the framebuffer is smaller than its dimensions claim");
    }
    Ok(match info.format {
        PixelFormat::Rgb => PixelLayout::Rgbx,
        PixelFormat::Bgr => PixelLayout::Bgrx,
        PixelFormat::Bitmask { red, green, blue } => PixelLayout::Bitmask { red, green, blue },
    })
}

/// Copies rows `x0..x1` of `canvas` to the framebuffer with the canvas's top left at
/// (`left`, `top`), clipped to the screen.
fn copy_rows(info: &FramebufferInfo, layout: PixelLayout, canvas: &Canvas, left: u32, top: u32, row: &mut [u32]) {
    let x1 = canvas.width().min(info.width.saturating_sub(left)).min(row.len() as u32);
    let y1 = canvas.height().min(info.height.saturating_sub(top));
    if x1 == 0 {
        return;
    }
    let count = x1 as usize;
    for y in 0..y1 {
        canvas.encode_row_into(y, 0, x1, layout, &mut row[..count]);
        let offset = ((top + y) as usize * info.stride as usize + left as usize) * 4;
        let dst = (info.base as usize + offset) as *mut u32;
        // `checked_layout` verified that stride * height * 4 bytes lie inside the
        // framebuffer; left + x1 <= width <= stride and top + y < height keep the row
        // segment inside it.
        // SAFETY: in bounds (above); the identity-mapped framebuffer is written only by
        // this module, and `row` is a separate heap buffer, so no overlap.
        unsafe { core::ptr::copy_nonoverlapping(row.as_ptr(), dst, count) };
    }
}

/// Draws `canvas` straight onto the framebuffer at (`left`, `top`), for the boot loader's
/// progress display, which runs before there is memory for a full back buffer.
pub fn blit(info: &FramebufferInfo, canvas: &Canvas, left: u32, top: u32) -> Result<(), &'static str> {
    let layout = checked_layout(info)?;
    let mut row = vec![0; canvas.width() as usize];
    copy_rows(info, layout, canvas, left, top, &mut row);
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
        let layout = checked_layout(&info)?;
        Ok(Self { info, layout, canvas: Canvas::new(info.width, info.height), row: vec![0; info.width as usize] })
    }

    /// The back buffer to draw on.
    pub fn canvas(&mut self) -> &mut Canvas {
        &mut self.canvas
    }

    /// Framebuffer facts for the log.
    pub fn info(&self) -> &FramebufferInfo {
        &self.info
    }

    /// Copies whatever was drawn since the last call to the visible framebuffer.
    pub fn present(&mut self) {
        let Some(damage) = self.canvas.take_damage() else { return };
        let x0 = damage.x.min(self.info.width);
        let x1 = damage.right().min(self.info.width);
        let y1 = damage.bottom().min(self.info.height);
        if x1 <= x0 {
            return;
        }
        let count = (x1 - x0) as usize;
        for y in damage.y..y1 {
            self.canvas.encode_row_into(y, x0, x1, self.layout, &mut self.row[..count]);
            let offset = (y as usize * self.info.stride as usize + x0 as usize) * 4;
            let dst = (self.info.base as usize + offset) as *mut u32;
            // `new` checked that stride * height * 4 bytes lie inside the framebuffer,
            // and x1 <= width <= stride, y < height, so the row segment is in bounds.
            // SAFETY: in bounds (above); the identity-mapped framebuffer is written only
            // by this struct, and `row` is a separate heap buffer, so no overlap.
            unsafe { core::ptr::copy_nonoverlapping(self.row.as_ptr(), dst, count) };
        }
    }
}
