//! A canvas with the fonts, sizes and theme of one frame: everything the renderer's
//! drawing functions need, in one borrow.

use super::Theme;
use super::layout::{char_width, display_width};
use crate::glyphs::{Cell, Face, Glyphs, Pen};
use crate::{Canvas, Rect, Rgb};

/// The text sizes of a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sizes {
    /// Conversation and input text.
    pub body: Cell,
    /// Labels, the header, hints.
    pub detail: Cell,
}

impl Sizes {
    /// Sizes for a `width` x `height` screen at `scale` percent (100 = the default for the
    /// resolution): about 45 lines of body text on any screen, never below 14 pixels.
    pub fn for_screen(glyphs: &Glyphs, width: u32, height: u32, scale: u16) -> Sizes {
        // 1x up to 1200 lines of pixels, 2x above (4K and large laptop panels).
        let base: u32 = if height >= 1400 && width >= 2000 {
            32
        } else if height >= 1000 {
            20
        } else {
            16
        };
        let body = (base * u32::from(scale.clamp(50, 300)) / 100).clamp(12, 96) as u16;
        let detail = (u32::from(body) * 4 / 5).max(11) as u16;
        Sizes { body: glyphs.cell(body), detail: glyphs.cell(detail) }
    }
}

/// Drawing for one frame.
pub struct Painter<'a> {
    /// Where to draw.
    pub canvas: &'a mut Canvas,
    /// The fonts.
    pub glyphs: &'a mut Glyphs,
    /// The colours.
    pub theme: &'a Theme,
    /// The text sizes.
    pub sizes: Sizes,
}

impl core::fmt::Debug for Painter<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Painter").field("sizes", &self.sizes).finish_non_exhaustive()
    }
}

impl Painter<'_> {
    /// Draws `text` from (`x`, `y`) in cells of `cell`, wide characters in two cells;
    /// returns the x after the text.
    pub fn text(&mut self, x: u32, y: u32, text: &str, face: Face, cell: Cell, ink: Rgb) -> u32 {
        let mut pen = x;
        for c in text.chars() {
            let w = char_width(c);
            if w == 0 {
                continue;
            }
            if !c.is_whitespace() {
                let offset = (w - 1) * cell.advance / 2;
                self.glyphs.draw_char(self.canvas, pen + offset, y, c, Pen { face, cell, ink });
            }
            pen = pen.saturating_add(w * cell.advance);
        }
        pen
    }

    /// Width of `text` in pixels at `cell`.
    pub fn width(text: &str, cell: Cell) -> u32 {
        display_width(text) * cell.advance
    }

    /// Fills a rectangle.
    pub fn fill(&mut self, rect: Rect, color: Rgb) {
        self.canvas.fill_rect(rect, color);
    }

    /// Fills a rounded rectangle.
    pub fn round(&mut self, rect: Rect, radius: u32, color: Rgb) {
        self.canvas.fill_rounded_rect(rect, radius, color);
    }
}
