//! The RAM back buffer everything draws into.

mod shapes;
mod text;

use crate::color::Rgb;
use crate::geometry::Rect;
use crate::pixel::PixelLayout;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// A `width` x `height` buffer of canonical `0x00RRGGBB` pixels, row-major with
/// no padding, plus the rectangle drawn on since the damage was last taken.
///
/// Every drawing method clips to the canvas and adds what it touched to the
/// pending damage, so a caller can present only what changed.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
    damage: Rect,
}

impl fmt::Debug for Canvas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Millions of pixels help nobody reading a log.
        f.debug_struct("Canvas")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("damage", &self.damage)
            .finish_non_exhaustive()
    }
}

impl Canvas {
    /// A black canvas. All of it starts out damaged: whatever the screen shows
    /// now, it is not this canvas yet.
    pub fn new(width: u32, height: u32) -> Canvas {
        let len = (width as usize).saturating_mul(height as usize);
        Canvas { width, height, pixels: vec![0; len], damage: Rect::new(0, 0, width, height) }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole canvas as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// All pixels, row after row, `0x00RRGGBB`.
    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    /// Row `y`, or an empty slice below the bottom edge.
    pub fn row(&self, y: u32) -> &[u32] {
        if y >= self.height {
            return &[];
        }
        let start = y as usize * self.width as usize;
        &self.pixels[start..start + self.width as usize]
    }

    /// The colour at `(x, y)`, or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        self.row(y).get(x as usize).map(|&p| Rgb::from_u32(p))
    }

    /// Marks `rect` (clipped) as needing presentation even though nothing was
    /// drawn, e.g. after the framebuffer was overwritten behind our back.
    pub fn add_damage(&mut self, rect: Rect) {
        let clipped = rect.intersect(&self.bounds());
        self.damage = self.damage.union(&clipped);
    }

    /// The rectangle covering everything drawn since the last call, if
    /// anything was; clears it.
    pub fn take_damage(&mut self) -> Option<Rect> {
        let damage = core::mem::take(&mut self.damage);
        (!damage.is_empty()).then_some(damage)
    }

    /// Paints the whole canvas.
    pub fn fill(&mut self, color: Rgb) {
        self.pixels.fill(color.to_u32());
        self.add_damage(self.bounds());
    }

    /// Paints `rect`, clipped to the canvas.
    pub fn fill_rect(&mut self, rect: Rect, color: Rgb) {
        let clipped = rect.intersect(&self.bounds());
        if clipped.is_empty() {
            return;
        }
        let value = color.to_u32();
        for y in clipped.y..clipped.bottom() {
            self.span_mut(y, clipped.x, clipped.right()).fill(value);
        }
        self.damage = self.damage.union(&clipped);
    }

    /// Converts pixels `x0..x1` of row `y` to framebuffer `layout` into
    /// `out[..x1 - x0]`. The span is clipped to the canvas and to `out`'s
    /// length; nothing is written for an empty span or a row outside.
    pub fn encode_row_into(&self, y: u32, x0: u32, x1: u32, layout: PixelLayout, out: &mut [u32]) {
        let row = self.row(y);
        let x1 = (x1 as usize).min(row.len());
        let x0 = x0 as usize;
        if x0 >= x1 {
            return;
        }
        layout.encode_slice(&row[x0..x1], out);
    }

    /// Pixels `x0..x1` of row `y`; callers pass coordinates already clipped.
    fn span_mut(&mut self, y: u32, x0: u32, x1: u32) -> &mut [u32] {
        let start = y as usize * self.width as usize;
        &mut self.pixels[start + x0 as usize..start + x1 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: Rgb = Rgb(255, 0, 0);

    fn fresh(width: u32, height: u32) -> Canvas {
        let mut canvas = Canvas::new(width, height);
        canvas.take_damage();
        canvas
    }

    #[test]
    fn new_canvas_is_black_and_fully_damaged() {
        let mut canvas = Canvas::new(4, 3);
        assert_eq!(canvas.pixels().len(), 12);
        assert!(canvas.pixels().iter().all(|&p| p == 0));
        assert_eq!(canvas.take_damage(), Some(Rect::new(0, 0, 4, 3)));
        assert_eq!(canvas.take_damage(), None);
    }

    #[test]
    fn rows_and_pixels() {
        let mut canvas = fresh(3, 2);
        canvas.fill_rect(Rect::new(1, 1, 1, 1), RED);
        assert_eq!(canvas.row(1), &[0, 0xff_0000, 0]);
        assert_eq!(canvas.pixel(1, 1), Some(RED));
        assert_eq!(canvas.pixel(3, 0), None);
        assert_eq!(canvas.pixel(0, 2), None);
        assert!(canvas.row(2).is_empty());
    }

    #[test]
    fn fill_rect_clips_at_edges() {
        let mut canvas = fresh(10, 10);
        canvas.fill_rect(Rect::new(8, 7, 100, 100), RED);
        assert_eq!(canvas.pixel(9, 9), Some(RED));
        assert_eq!(canvas.pixel(7, 9), Some(Rgb::BLACK));
        assert_eq!(canvas.pixel(9, 6), Some(Rgb::BLACK));
        assert_eq!(canvas.take_damage(), Some(Rect::new(8, 7, 2, 3)));
        canvas.fill_rect(Rect::new(u32::MAX, u32::MAX, u32::MAX, u32::MAX), RED);
        canvas.fill_rect(Rect::new(10, 0, 5, 5), RED);
        canvas.fill_rect(Rect::new(0, 0, 0, 5), RED);
        assert_eq!(canvas.take_damage(), None);
    }

    #[test]
    fn damage_accumulates_until_taken() {
        let mut canvas = fresh(100, 100);
        canvas.fill_rect(Rect::new(10, 10, 5, 5), RED);
        canvas.fill_rect(Rect::new(50, 60, 10, 1), RED);
        assert_eq!(canvas.take_damage(), Some(Rect::new(10, 10, 50, 51)));
        assert_eq!(canvas.take_damage(), None);
        canvas.add_damage(Rect::new(90, 90, 50, 50));
        assert_eq!(canvas.take_damage(), Some(Rect::new(90, 90, 10, 10)));
        canvas.fill(RED);
        assert_eq!(canvas.take_damage(), Some(canvas.bounds()));
    }

    #[test]
    fn empty_canvas_is_harmless() {
        let mut canvas = Canvas::new(0, 0);
        canvas.fill(RED);
        canvas.fill_rect(Rect::new(0, 0, 5, 5), RED);
        assert_eq!(canvas.take_damage(), None);
        assert!(canvas.row(0).is_empty());
        let mut out = [7u32; 4];
        canvas.encode_row_into(0, 0, 4, PixelLayout::Bgrx, &mut out);
        assert_eq!(out, [7; 4]);
    }

    #[test]
    fn encode_row_converts_the_span() {
        let mut canvas = fresh(4, 2);
        canvas.fill_rect(Rect::new(0, 1, 4, 1), Rgb(0x11, 0x22, 0x33));
        canvas.fill_rect(Rect::new(2, 1, 1, 1), Rgb(0xaa, 0xbb, 0xcc));
        let mut out = [0u32; 4];
        canvas.encode_row_into(1, 1, 3, PixelLayout::Bgrx, &mut out);
        assert_eq!(out, [0x11_2233, 0xaa_bbcc, 0, 0]);
        canvas.encode_row_into(1, 1, 3, PixelLayout::Rgbx, &mut out);
        assert_eq!(out, [0x33_2211, 0xcc_bbaa, 0, 0]);
        let rgb565 = PixelLayout::Bitmask { red: 0xf800, green: 0x07e0, blue: 0x1f };
        canvas.encode_row_into(1, 2, 3, rgb565, &mut out);
        assert_eq!(out[0], rgb565.encode(Rgb(0xaa, 0xbb, 0xcc)));
        assert_eq!(out[1], 0xcc_bbaa, "only x1 - x0 words are written");
    }

    #[test]
    fn encode_row_clips_instead_of_panicking() {
        let mut canvas = fresh(4, 2);
        canvas.fill(Rgb(0, 0, 1));
        let mut out = [9u32; 3];
        canvas.encode_row_into(0, 2, 100, PixelLayout::Bgrx, &mut out);
        assert_eq!(out, [1, 1, 9]);
        let mut short = [9u32; 1];
        canvas.encode_row_into(0, 0, 4, PixelLayout::Bgrx, &mut short);
        assert_eq!(short, [1]);
        let mut out = [9u32; 3];
        canvas.encode_row_into(5, 0, 4, PixelLayout::Bgrx, &mut out);
        canvas.encode_row_into(0, 3, 1, PixelLayout::Bgrx, &mut out);
        assert_eq!(out, [9; 3]);
    }
}
