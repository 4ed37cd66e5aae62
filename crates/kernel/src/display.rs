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

impl Display {
    /// Wraps the firmware framebuffer, or explains why it cannot be used.
    pub fn new(info: FramebufferInfo) -> Result<Self, &'static str> {
        let needed = u64::from(info.stride) * u64::from(info.height) * 4;
        if info.width == 0 || info.height == 0 || info.stride < info.width {
            return Err("the framebuffer reports impossible dimensions");
        }
        if needed > info.size as u64 {
            return Err("the framebuffer is smaller than its dimensions claim");
        }
        let layout = match info.format {
            PixelFormat::Rgb => PixelLayout::Rgbx,
            PixelFormat::Bgr => PixelLayout::Bgrx,
            PixelFormat::Bitmask { red, green, blue } => PixelLayout::Bitmask { red, green, blue },
        };
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
