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
#[derive(Clone)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
    damage: Rect,
    /// The damage as separate rectangles, so a keystroke and a streamed token far apart
    /// on screen do not make the whole space between them count as changed. A fixed
    /// array: the panic screen draws without allocating.
    rects: Damage,
}

/// Damaged rectangles: at most [`MAX_DAMAGE_RECTS`], together covering everything drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Damage {
    rects: [Rect; MAX_DAMAGE_RECTS],
    len: usize,
}

impl Damage {
    /// The rectangles.
    pub fn rects(&self) -> &[Rect] {
        &self.rects[..self.len]
    }

    fn push(&mut self, rect: Rect) {
        if self.len < MAX_DAMAGE_RECTS {
            self.rects[self.len] = rect;
            self.len += 1;
        }
    }

    fn remove(&mut self, i: usize) -> Rect {
        let r = self.rects[i];
        self.rects[i] = self.rects[self.len - 1];
        self.len -= 1;
        r
    }
}

/// Separate damaged rectangles tracked before the closest two are merged.
pub const MAX_DAMAGE_RECTS: usize = 8;

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
        let all = Rect::new(0, 0, width, height);
        let mut rects = Damage::default();
        rects.push(all);
        Canvas { width, height, pixels: vec![0; len], damage: all, rects }
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
        if clipped.is_empty() {
            return;
        }
        self.damage = self.damage.union(&clipped);
        // Swallowed by a rectangle already there, or swallowing some.
        if self.rects.rects().iter().any(|r| r.union(&clipped) == *r) {
            return;
        }
        let mut i = 0;
        while i < self.rects.len {
            if clipped.union(&self.rects.rects[i]) == clipped {
                self.rects.remove(i);
            } else {
                i += 1;
            }
        }
        if self.rects.len == MAX_DAMAGE_RECTS {
            // Full: merge the new one into the rectangle it wastes least area with.
            let best = (0..self.rects.len)
                .min_by_key(|&i| {
                    let r = self.rects.rects[i];
                    area(r.union(&clipped)).saturating_sub(area(r) + area(clipped))
                })
                .unwrap_or(0);
            self.rects.rects[best] = self.rects.rects[best].union(&clipped);
        } else {
            self.rects.push(clipped);
        }
    }

    /// The rectangle covering everything drawn since the last call, if
    /// anything was; clears the damage.
    pub fn take_damage(&mut self) -> Option<Rect> {
        self.rects = Damage::default();
        let damage = core::mem::take(&mut self.damage);
        (!damage.is_empty()).then_some(damage)
    }

    /// The damaged rectangles since the last call (at most [`MAX_DAMAGE_RECTS`], covering
    /// everything drawn); clears the damage.
    pub fn take_damage_rects(&mut self) -> Damage {
        self.damage = Rect::default();
        core::mem::take(&mut self.rects)
    }

    /// Blends a `width` x `height` coverage mask (0 = none, 255 = full ink) with its top
    /// left at (`x`, `y`), which may lie partly or wholly off the canvas.
    pub fn blend_coverage(&mut self, x: i64, y: i64, width: u32, height: u32, coverage: &[u8], ink: Rgb) {
        if coverage.len() < (width as usize).saturating_mul(height as usize) {
            return;
        }
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x + i64::from(width)).min(i64::from(self.width));
        let y1 = (y + i64::from(height)).min(i64::from(self.height));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let ink = ink.to_u32();
        for py in y0..y1 {
            let row = &coverage[((py - y) as usize) * width as usize..][..width as usize];
            let src = &row[(x0 - x) as usize..(x1 - x) as usize];
            let dst = self.span_mut(py as u32, x0 as u32, x1 as u32);
            for (pixel, &alpha) in dst.iter_mut().zip(src) {
                match alpha {
                    0 => {}
                    255 => *pixel = ink,
                    a => *pixel = crate::color::blend(*pixel, ink, u32::from(a)),
                }
            }
        }
        self.add_damage(Rect::new(x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32));
    }

    /// Paints the whole canvas.
    pub fn fill(&mut self, color: Rgb) {
        self.pixels.fill(color.to_u32());
        self.add_damage(self.bounds());
    }

    /// Moves the pixels inside `rect` (clipped) `dy` rows up (negative) or down (positive),
    /// as a scroll does; the rows left behind keep their old pixels for the caller to
    /// paint. The whole rectangle is damaged.
    pub fn shift_rows(&mut self, rect: Rect, dy: i32) {
        let clipped = rect.intersect(&self.bounds());
        let by = dy.unsigned_abs();
        if clipped.is_empty() || by == 0 || by >= clipped.h {
            return;
        }
        let width = self.width as usize;
        let (x0, x1) = (clipped.x as usize, clipped.right() as usize);
        let moved = clipped.h - by;
        let mut copy_row = |from: u32, to: u32| {
            let (from, to) = (from as usize * width, to as usize * width);
            self.pixels.copy_within(from + x0..from + x1, to + x0);
        };
        if dy < 0 {
            for i in 0..moved {
                copy_row(clipped.y + by + i, clipped.y + i);
            }
        } else {
            for i in (0..moved).rev() {
                copy_row(clipped.y + i, clipped.y + by + i);
            }
        }
        self.add_damage(clipped);
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
        self.add_damage(clipped);
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

fn area(r: Rect) -> u64 {
    u64::from(r.w) * u64::from(r.h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separate_damage_stays_separate_up_to_a_limit() {
        let mut canvas = fresh(1000, 1000);
        canvas.fill_rect(Rect::new(0, 0, 10, 10), RED);
        canvas.fill_rect(Rect::new(900, 900, 10, 10), RED);
        canvas.fill_rect(Rect::new(2, 2, 3, 3), RED);
        assert_eq!(canvas.take_damage_rects().rects(), [Rect::new(0, 0, 10, 10), Rect::new(900, 900, 10, 10)]);
        assert_eq!(canvas.take_damage(), None);
        for i in 0..20 {
            canvas.fill_rect(Rect::new(i * 40, i * 40, 5, 5), RED);
        }
        let damage = canvas.take_damage_rects();
        let rects = damage.rects();
        assert!(rects.len() <= MAX_DAMAGE_RECTS);
        for i in 0..20 {
            let dot = Rect::new(i * 40, i * 40, 5, 5);
            assert!(rects.iter().any(|r| r.union(&dot) == *r), "{dot:?} not covered by {rects:?}");
        }
    }

    #[test]
    fn coverage_blends_and_clips() {
        let mut canvas = fresh(4, 4);
        let mask = [0, 128, 255, 255];
        canvas.blend_coverage(-1, 3, 2, 2, &mask, Rgb::WHITE);
        assert_eq!(canvas.pixel(0, 3), Some(Rgb(128, 128, 128)));
        canvas.blend_coverage(3, 0, 2, 2, &mask, Rgb::WHITE);
        assert_eq!(canvas.pixel(3, 1), Some(Rgb::WHITE));
        canvas.blend_coverage(100, 100, 2, 2, &mask, Rgb::WHITE);
        canvas.blend_coverage(0, 0, 20, 20, &mask, Rgb::WHITE);
        assert_eq!(canvas.take_damage(), Some(Rect::new(0, 0, 4, 4)));
    }

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
