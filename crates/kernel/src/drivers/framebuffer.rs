//! The firmware's linear framebuffer: the only place the kernel writes pixels to
//! device memory. Everything else draws on RAM canvases and hands rows here.

use crate::boot_info::{FramebufferInfo, PixelFormat};
use tui::PixelLayout;

/// A checked view of the framebuffer.
#[derive(Debug, Clone, Copy)]
pub struct Framebuffer {
    info: FramebufferInfo,
    layout: PixelLayout,
}

impl Framebuffer {
    /// Checks the framebuffer's geometry and finds its pixel layout.
    pub fn new(info: FramebufferInfo) -> Result<Framebuffer, &'static str> {
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
        Ok(Framebuffer { info, layout })
    }

    /// The framebuffer's facts.
    pub fn info(&self) -> &FramebufferInfo {
        &self.info
    }

    /// How pixels are encoded.
    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// Writes encoded `pixels` to row `y` from column `x`, clipped to the screen.
    pub fn write(&self, x: u32, y: u32, pixels: &[u32]) {
        if y >= self.info.height || x >= self.info.width {
            return;
        }
        let count = pixels.len().min((self.info.width - x) as usize);
        let offset = (y as usize * self.info.stride as usize + x as usize) * 4;
        let dst = (self.info.base as usize + offset) as *mut u32;
        // `new` checked that stride * height * 4 bytes lie inside the framebuffer, and
        // x + count <= width <= stride and y < height keep this row segment inside it.
        // SAFETY: in bounds (above); the framebuffer is identity-mapped device memory that
        // only this type writes, and `pixels` is a RAM buffer, so they do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(pixels.as_ptr(), dst, count) };
    }
}
