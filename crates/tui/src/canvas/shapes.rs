//! Shapes beyond the plain rectangle: translucent fills, gradients, and
//! anti-aliased discs, rounded rectangles and glows.
//!
//! Everything is integer arithmetic: the results are identical on every
//! target, which golden tests rely on, and nothing needs `libm`.

use super::Canvas;
use crate::color::{Rgb, blend};
use crate::geometry::Rect;

/// Samples per axis when estimating how much of a pixel a curve covers.
const SUBSAMPLES: i64 = 4;
/// Sub-pixel units per pixel: samples sit at odd multiples of 1/(2 * SUBSAMPLES).
const UNIT: i64 = 2 * SUBSAMPLES;
/// Larger than any screen; bounding radii keeps the squared distances below
/// far from overflowing `i64`.
const MAX_RADIUS: u32 = 1 << 16;

impl Canvas {
    /// Blends `color` over `rect` (clipped) with opacity `alpha` (0..=255).
    pub fn blend_rect(&mut self, rect: Rect, color: Rgb, alpha: u8) {
        let clipped = rect.intersect(&self.bounds());
        if clipped.is_empty() || alpha == 0 {
            return;
        }
        let ink = color.to_u32();
        for y in clipped.y..clipped.bottom() {
            for pixel in self.span_mut(y, clipped.x, clipped.right()) {
                *pixel = blend(*pixel, ink, u32::from(alpha));
            }
        }
        self.add_damage(clipped);
    }

    /// Paints `rect` (clipped) with a vertical gradient from `top` on its first
    /// row to `bottom` on its last. Each row is one colour, so this costs no
    /// more than [`fill_rect`](Self::fill_rect).
    pub fn fill_vertical_gradient(&mut self, rect: Rect, top: Rgb, bottom: Rgb) {
        let clipped = rect.intersect(&self.bounds());
        if clipped.is_empty() {
            return;
        }
        let last = u64::from(rect.h.saturating_sub(1).max(1));
        for y in clipped.y..clipped.bottom() {
            let t = u64::from(y - rect.y) * 255 / last;
            let value = top.mix(bottom, t.min(255) as u8).to_u32();
            self.span_mut(y, clipped.x, clipped.right()).fill(value);
        }
        self.add_damage(clipped);
    }

    /// An anti-aliased disc of `radius` centred on the pixel corner
    /// `(center_x, center_y)`, so it spans exactly `2 * radius` pixels each way.
    pub fn fill_circle(&mut self, center_x: u32, center_y: u32, radius: u32, color: Rgb) {
        self.blend_circle(center_x, center_y, radius, color, 255);
    }

    /// [`fill_circle`](Self::fill_circle) at opacity `alpha`.
    pub fn blend_circle(&mut self, center_x: u32, center_y: u32, radius: u32, color: Rgb, alpha: u8) {
        let radius = radius.min(MAX_RADIUS);
        let square = Rect::new(
            center_x.saturating_sub(radius),
            center_y.saturating_sub(radius),
            radius.saturating_mul(2),
            radius.saturating_mul(2),
        );
        let clipped = square.intersect(&self.bounds());
        if clipped.is_empty() || alpha == 0 {
            return;
        }
        let ink = color.to_u32();
        for y in clipped.y..clipped.bottom() {
            for x in clipped.x..clipped.right() {
                let cover = disc_coverage(x, y, center_x, center_y, radius);
                self.blend_pixel(x, y, ink, cover * u32::from(alpha) / 255);
            }
        }
        self.add_damage(clipped);
    }

    /// `rect` (clipped) with its corners rounded to `radius`, anti-aliased. The
    /// radius shrinks to fit rectangles smaller than two radii.
    pub fn fill_rounded_rect(&mut self, rect: Rect, radius: u32, color: Rgb) {
        let clipped = rect.intersect(&self.bounds());
        if clipped.is_empty() {
            return;
        }
        let r = radius.min(rect.w / 2).min(rect.h / 2).min(MAX_RADIUS);
        let ink = color.to_u32();
        let (inner_left, inner_right) = (rect.x.saturating_add(r), rect.right() - r);
        let (inner_top, inner_bottom) = (rect.y.saturating_add(r), rect.bottom() - r);
        for y in clipped.y..clipped.bottom() {
            let corner_y = if y < inner_top {
                Some(inner_top)
            } else if y >= inner_bottom {
                Some(inner_bottom)
            } else {
                None
            };
            let Some(cy) = corner_y else {
                self.span_mut(y, clipped.x, clipped.right()).fill(ink);
                continue;
            };
            // Only the corners need coverage; the span between them is solid (blending
            // every pixel of a wide box's top rows cost more than the rest of the box).
            let mid = (clipped.x.max(inner_left), clipped.right().min(inner_right));
            for x in clipped.x..mid.0.min(clipped.right()) {
                self.blend_pixel(x, y, ink, disc_coverage(x, y, inner_left, cy, r));
            }
            if mid.0 < mid.1 {
                self.span_mut(y, mid.0, mid.1).fill(ink);
            }
            for x in mid.1.max(clipped.x)..clipped.right() {
                self.blend_pixel(x, y, ink, disc_coverage(x, y, inner_right, cy, r));
            }
        }
        self.add_damage(clipped);
    }

    /// A soft radial glow centred on the pixel corner `(center_x, center_y)`:
    /// opacity `strength` at the centre falling smoothly to nothing at `radius`.
    pub fn draw_glow(&mut self, center_x: u32, center_y: u32, radius: u32, color: Rgb, strength: u8) {
        let radius = radius.min(MAX_RADIUS);
        let square = Rect::new(
            center_x.saturating_sub(radius),
            center_y.saturating_sub(radius),
            radius.saturating_mul(2),
            radius.saturating_mul(2),
        );
        let clipped = square.intersect(&self.bounds());
        if clipped.is_empty() || strength == 0 {
            return;
        }
        let ink = color.to_u32();
        // Distances in half pixels, measured to pixel centres.
        let r2 = (i64::from(radius) * 2).pow(2);
        for y in clipped.y..clipped.bottom() {
            let dy = i64::from(y) * 2 + 1 - i64::from(center_y) * 2;
            for x in clipped.x..clipped.right() {
                let dx = i64::from(x) * 2 + 1 - i64::from(center_x) * 2;
                let d2 = dx * dx + dy * dy;
                if d2 >= r2 {
                    continue;
                }
                // (1 - d²/R²)² has no square root and a flat, bright centre.
                let t = ((r2 - d2) << 16) / r2;
                let alpha = (i64::from(strength) * t * t) >> 32;
                self.blend_pixel(x, y, ink, alpha as u32);
            }
        }
        self.add_damage(clipped);
    }

    /// Blends one pixel known to be on the canvas.
    #[inline]
    fn blend_pixel(&mut self, x: u32, y: u32, ink: u32, alpha: u32) {
        let i = y as usize * self.width as usize + x as usize;
        self.pixels[i] = match alpha {
            0 => return,
            255.. => ink,
            _ => blend(self.pixels[i], ink, alpha),
        };
    }
}

/// How much (0..=255) of pixel `(px, py)` lies inside the disc of `radius`
/// around pixel corner `(cx, cy)`.
fn disc_coverage(px: u32, py: u32, cx: u32, cy: u32, radius: u32) -> u32 {
    let left = (i64::from(px) - i64::from(cx)) * UNIT;
    let top = (i64::from(py) - i64::from(cy)) * UNIT;
    let r2 = (i64::from(radius) * UNIT).pow(2);
    // Most pixels are wholly inside or outside; decide those from the nearest
    // and farthest points of the pixel before sampling.
    let far = |lo: i64| lo.abs().max((lo + UNIT).abs());
    let near = |lo: i64| {
        if lo > 0 {
            lo
        } else if lo + UNIT < 0 {
            -(lo + UNIT)
        } else {
            0
        }
    };
    if far(left).pow(2) + far(top).pow(2) <= r2 {
        return 255;
    }
    if near(left).pow(2) + near(top).pow(2) >= r2 {
        return 0;
    }
    let mut inside = 0;
    for j in 0..SUBSAMPLES {
        let sy = top + 2 * j + 1;
        for i in 0..SUBSAMPLES {
            let sx = left + 2 * i + 1;
            if sx * sx + sy * sy < r2 {
                inside += 1;
            }
        }
    }
    (inside * 255 / (SUBSAMPLES * SUBSAMPLES)) as u32
}

#[cfg(test)]
mod tests {
    use crate::{Canvas, Rect, Rgb};

    const RED: Rgb = Rgb(255, 0, 0);

    fn fresh(width: u32, height: u32) -> Canvas {
        let mut canvas = Canvas::new(width, height);
        canvas.take_damage();
        canvas
    }

    #[test]
    fn blend_rect_mixes_and_damages() {
        let mut canvas = fresh(4, 4);
        canvas.blend_rect(Rect::new(1, 1, 10, 10), Rgb(200, 100, 0), 128);
        assert_eq!(canvas.pixel(2, 2), Some(Rgb(100, 50, 0)));
        assert_eq!(canvas.pixel(0, 0), Some(Rgb::BLACK));
        assert_eq!(canvas.take_damage(), Some(Rect::new(1, 1, 3, 3)));
        canvas.blend_rect(Rect::new(0, 0, 4, 4), RED, 0);
        assert_eq!(canvas.take_damage(), None);
    }

    #[test]
    fn gradient_runs_top_to_bottom() {
        let mut canvas = fresh(2, 11);
        canvas.fill_vertical_gradient(canvas.bounds(), Rgb(0, 0, 0), Rgb(250, 0, 100));
        assert_eq!(canvas.pixel(1, 0), Some(Rgb(0, 0, 0)));
        assert_eq!(canvas.pixel(1, 10), Some(Rgb(250, 0, 100)));
        let middle = canvas.pixel(0, 5).unwrap();
        assert!((124..=126).contains(&middle.0), "{middle:?}");
        canvas.fill_vertical_gradient(Rect::new(0, 0, 2, 1), RED, RED);
        assert_eq!(canvas.pixel(0, 0), Some(RED));
    }

    #[test]
    fn circle_is_symmetric_and_antialiased() {
        let mut canvas = fresh(20, 20);
        canvas.fill_circle(10, 10, 6, RED);
        assert_eq!(canvas.take_damage(), Some(Rect::new(4, 4, 12, 12)));
        let red = |x, y| canvas.pixel(x, y).unwrap().0;
        assert_eq!(red(10, 10), 255);
        assert_eq!(red(4, 4), 0);
        for (x, y) in [(4, 9), (5, 6), (6, 5), (7, 4)] {
            let v = red(x, y);
            assert_eq!(v, red(19 - x, y));
            assert_eq!(v, red(x, 19 - y));
            assert_eq!(v, red(y, x));
        }
        let soft = canvas.pixels().iter().filter(|&&p| p != 0 && p != 0xff_0000).count();
        assert!(soft >= 8, "{soft} edge pixels");
        // Area within 10% of pi r^2.
        let area: u32 = canvas.pixels().iter().map(|p| p >> 16).sum::<u32>() / 255;
        assert!((102..=124).contains(&area), "area {area}");
    }

    #[test]
    fn shapes_clip_at_edges() {
        let mut canvas = fresh(10, 10);
        canvas.fill_circle(0, 0, 5, RED);
        canvas.fill_circle(10, 10, 3, RED);
        canvas.blend_circle(u32::MAX, u32::MAX, u32::MAX, RED, 10);
        canvas.fill_rounded_rect(Rect::new(8, 8, 50, 50), 6, RED);
        canvas.fill_rounded_rect(Rect::new(u32::MAX - 1, 0, 5, 5), 2, RED);
        canvas.draw_glow(9, 0, 40, RED, 255);
        canvas.draw_glow(0, 0, 0, RED, 255);
        canvas.fill_vertical_gradient(Rect::new(5, 5, u32::MAX, u32::MAX), RED, Rgb::WHITE);
        assert_eq!(canvas.take_damage(), Some(canvas.bounds()));
        assert_eq!(canvas.pixel(0, 0), Some(RED));
    }

    #[test]
    fn rounded_rect_has_soft_corners_and_solid_sides() {
        let mut canvas = fresh(30, 20);
        let rect = Rect::new(5, 5, 20, 10);
        canvas.fill_rounded_rect(rect, 4, RED);
        assert_eq!(canvas.take_damage(), Some(rect));
        let red = |x, y| canvas.pixel(x, y).unwrap().0;
        assert_eq!(red(5, 5), 0, "outside the corner arc");
        assert_eq!(red(24, 14), 0);
        assert_eq!(red(15, 5), 255, "top edge between the corners");
        assert_eq!(red(5, 10), 255, "left edge between the corners");
        assert!((1..255).contains(&red(6, 6)));
        assert_eq!(red(6, 6), red(23, 13));
        // A radius larger than the rectangle degrades to a pill, not a panic.
        canvas.fill_rounded_rect(Rect::new(0, 0, 30, 4), 100, RED);
    }

    #[test]
    fn glow_fades_from_the_centre() {
        let mut canvas = fresh(40, 40);
        canvas.draw_glow(20, 20, 16, Rgb::WHITE, 200);
        let level = |x, y| canvas.pixel(x, y).unwrap().0;
        assert!(level(20, 20) >= 195);
        assert!(level(20, 20) > level(26, 20) && level(26, 20) > level(32, 20));
        assert_eq!(level(20, 36), 0);
        assert_eq!(level(3, 3), 0);
        assert_eq!(level(19, 19), level(20, 20), "centred on the pixel corner");
    }
}
