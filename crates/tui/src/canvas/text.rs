//! Text rendering: glyph coverage blended over the canvas.

use super::Canvas;
use crate::color::blend;
use crate::font::{self, FontSize, Glyph, TextStyle};
use crate::geometry::Rect;

impl Canvas {
    /// Draws `text` on one line with its cell's top-left corner at `(x, y)` and
    /// returns the x just after the last character, whether or not it was
    /// clipped; that is `x + text_width(text, style.size)`, saturating.
    ///
    /// Each glyph's anti-aliasing is blended against what is already there, so
    /// text can sit on any background. Line breaks are not interpreted: lay
    /// lines out with [`wrap_lines`](crate::wrap_lines).
    pub fn draw_text(&mut self, x: u32, y: u32, text: &str, style: TextStyle) -> u32 {
        self.draw_text_scaled(x, y, text, style, 1)
    }

    /// Like [`draw_text`](Self::draw_text) with every glyph enlarged `scale`
    /// times (0 counts as 1), for display type bigger than the largest raster.
    ///
    /// Enlarging interpolates the glyph's coverage and then steepens the
    /// edges, so big letters stay crisp instead of blocky or blurred.
    pub fn draw_text_scaled(&mut self, x: u32, y: u32, text: &str, style: TextStyle, scale: u32) -> u32 {
        let scale = scale.max(1);
        let advance = style.size.advance().saturating_mul(scale);
        let line = style.size.line_height().saturating_mul(scale);
        let ink = style.color.to_u32();
        let mut pen = x;
        for c in text.chars() {
            if pen < self.width
                && y < self.height
                && let Some(glyph) = font::glyph(c, style.weight, style.size)
            {
                if scale == 1 {
                    self.blit(pen, y, glyph, ink);
                } else {
                    self.blit_scaled(pen, y, glyph, ink, scale);
                }
            }
            pen = pen.saturating_add(advance);
        }
        self.add_damage(Rect::new(x, y, pen - x, line));
        pen
    }

    /// Width of `text` at `size`; see [`text_width`](crate::text_width).
    pub fn text_width(&self, text: &str, size: FontSize) -> u32 {
        font::text_width(text, size)
    }

    /// Height of a line of text at `size`.
    pub fn line_height(&self, size: FontSize) -> u32 {
        size.line_height()
    }

    /// Blends a glyph at `(x, y)`, which must lie on the canvas.
    fn blit(&mut self, x: u32, y: u32, glyph: Glyph, ink: u32) {
        let w = glyph.width.min((self.width - x) as usize);
        let h = glyph.height.min((self.height - y) as usize);
        for (row, coverage) in glyph.coverage.chunks_exact(glyph.width).take(h).enumerate() {
            let dst = self.span_mut(y + row as u32, x, x + w as u32);
            for (pixel, &alpha) in dst.iter_mut().zip(coverage) {
                *pixel = mix(*pixel, ink, u32::from(alpha));
            }
        }
    }

    /// Blends a glyph enlarged `scale` (>= 2) times at `(x, y)`, which must lie
    /// on the canvas.
    fn blit_scaled(&mut self, x: u32, y: u32, glyph: Glyph, ink: u32, scale: u32) {
        let out_w = (glyph.width as u32).saturating_mul(scale).min(self.width - x);
        let out_h = (glyph.height as u32).saturating_mul(scale).min(self.height - y);
        for oy in 0..out_h {
            let (sy, fy) = source_position(oy, scale);
            let dst = self.span_mut(y + oy, x, x + out_w);
            for (ox, pixel) in (0..out_w).zip(dst.iter_mut()) {
                let (sx, fx) = source_position(ox, scale);
                let at = |dx: i64, dy: i64| coverage_at(glyph, sx + dx, sy + dy);
                let top = lerp(at(0, 0), at(1, 0), fx);
                let bottom = lerp(at(0, 1), at(1, 1), fx);
                let smooth = lerp(top, bottom, fy);
                *pixel = mix(*pixel, ink, sharpen(smooth, scale));
            }
        }
    }
}

#[inline]
fn mix(dst: u32, ink: u32, alpha: u32) -> u32 {
    match alpha {
        0 => dst,
        255.. => ink,
        _ => blend(dst, ink, alpha),
    }
}

/// The source texel left of / above output pixel `o`'s centre and the
/// fraction (0..256) of the way to the next one.
fn source_position(o: u32, scale: u32) -> (i64, u32) {
    // Centre of output pixel o in source units is (o + 0.5) / scale; texel
    // centres sit at i + 0.5. Work in 1/256ths to stay in integers.
    let pos = (i64::from(o) * 2 + 1) * 128 / i64::from(scale) - 128;
    (pos.div_euclid(256), pos.rem_euclid(256) as u32)
}

fn coverage_at(glyph: Glyph, x: i64, y: i64) -> u32 {
    if x < 0 || y < 0 || x as usize >= glyph.width || y as usize >= glyph.height {
        return 0;
    }
    u32::from(glyph.coverage[y as usize * glyph.width + x as usize])
}

fn lerp(a: u32, b: u32, t: u32) -> u32 {
    (a * (256 - t) + b * t + 128) >> 8
}

/// Interpolation spreads each anti-aliased edge over about `scale` pixels;
/// steepening around half coverage brings it back to about one.
fn sharpen(coverage: u32, scale: u32) -> u32 {
    let steep = (i64::from(coverage) - 128) * i64::from(scale) + 128;
    steep.clamp(0, 255) as u32
}

#[cfg(test)]
mod tests {
    use crate::{Canvas, FontSize, Rect, Rgb, TextStyle, palette, text_width};

    const WHITE_SMALL: TextStyle = TextStyle::new(FontSize::Small, Rgb::WHITE);

    fn fresh(width: u32, height: u32) -> Canvas {
        let mut canvas = Canvas::new(width, height);
        canvas.take_damage();
        canvas
    }

    fn lit_pixels(canvas: &Canvas, rect: Rect) -> usize {
        (rect.y..rect.bottom())
            .flat_map(|y| (rect.x..rect.right()).map(move |x| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y).is_some_and(|p| p != Rgb::BLACK))
            .count()
    }

    #[test]
    fn returned_x_matches_text_width() {
        let mut canvas = fresh(400, 100);
        for size in FontSize::ALL {
            for text in ["", "a", "moteOS 0.1.0", "\u{e9}t\u{e9} \u{6f22}\u{5b57}"] {
                let style = TextStyle::new(size, Rgb::WHITE);
                assert_eq!(canvas.draw_text(5, 5, text, style), 5 + text_width(text, size));
                assert_eq!(canvas.text_width(text, size), text_width(text, size));
                assert_eq!(canvas.draw_text_scaled(5, 5, text, style, 3), 5 + 3 * text_width(text, size));
            }
        }
    }

    #[test]
    fn ink_stays_inside_the_text_box_and_damage_covers_it() {
        let mut canvas = fresh(200, 60);
        let end = canvas.draw_text(10, 20, "Hello", WHITE_SMALL);
        let lh = canvas.line_height(FontSize::Small);
        let text_box = Rect::new(10, 20, end - 10, lh);
        assert_eq!(canvas.take_damage(), Some(text_box));
        let lit = lit_pixels(&canvas, canvas.bounds());
        assert!(lit > 40, "only {lit} pixels inked");
        assert_eq!(lit, lit_pixels(&canvas, text_box));
    }

    #[test]
    fn glyphs_are_antialiased_against_the_background() {
        let mut canvas = fresh(40, 40);
        canvas.fill(palette::BACKGROUND);
        canvas.draw_text(0, 0, "O", TextStyle::new(FontSize::Title, palette::FOREGROUND));
        let mut partial = 0;
        for p in canvas.pixels() {
            let c = Rgb::from_u32(*p);
            assert!(c.0 >= palette::BACKGROUND.0 && c.0 <= palette::FOREGROUND.0);
            if c != palette::BACKGROUND && c != palette::FOREGROUND {
                partial += 1;
            }
        }
        assert!(partial > 10, "{partial} blended pixels");
    }

    #[test]
    fn bold_has_more_ink() {
        let mut regular = fresh(100, 40);
        let mut bold = fresh(100, 40);
        regular.draw_text(0, 0, "mote", TextStyle::new(FontSize::Large, Rgb::WHITE));
        bold.draw_text(0, 0, "mote", TextStyle::new(FontSize::Large, Rgb::WHITE).bold());
        let ink = |c: &Canvas| c.pixels().iter().map(|p| u64::from(p & 0xff)).sum::<u64>();
        assert!(ink(&bold) > ink(&regular) * 11 / 10);
    }

    #[test]
    fn text_clips_at_every_edge() {
        let mut canvas = fresh(30, 10);
        let end = canvas.draw_text(20, 3, "clipped text", WHITE_SMALL);
        assert_eq!(end, 20 + text_width("clipped text", FontSize::Small));
        assert_eq!(canvas.take_damage(), Some(Rect::new(20, 3, 10, 7)));
        assert!(lit_pixels(&canvas, Rect::new(0, 0, 20, 10)) == 0);
        canvas.draw_text(u32::MAX - 3, u32::MAX - 3, "far away", WHITE_SMALL);
        canvas.draw_text(0, 10, "below", WHITE_SMALL);
        canvas.draw_text(30, 0, "right", WHITE_SMALL);
        canvas.draw_text_scaled(25, 5, "big", WHITE_SMALL, 40);
        assert_eq!(canvas.take_damage(), Some(Rect::new(25, 5, 5, 5)));
        assert_eq!(canvas.draw_text(u32::MAX - 3, 0, "saturates", WHITE_SMALL), u32::MAX);
    }

    #[test]
    fn missing_glyphs_are_drawn_not_skipped() {
        let mut a = fresh(20, 20);
        let mut b = fresh(20, 20);
        a.draw_text(0, 0, "\u{6f22}", WHITE_SMALL);
        b.draw_text(0, 0, "\u{fffd}", WHITE_SMALL);
        assert_eq!(a.pixels(), b.pixels());
        assert!(lit_pixels(&a, a.bounds()) > 10);
    }

    #[test]
    fn scaled_text_keeps_edges_sharp() {
        // Soft (partly covered) pixels run along edges. Enlarging s times makes
        // edges s times longer; plain interpolation would also make them s
        // times wider, so sharp enlargement has about s, not s², times as many.
        let soft = |scale: u32| {
            let mut canvas = fresh(200, 140);
            canvas.draw_text_scaled(0, 0, "mO", TextStyle::new(FontSize::Title, Rgb::WHITE).bold(), scale);
            canvas.pixels().iter().filter(|&&p| p != 0 && p != 0xff_ffff).count()
        };
        let (one, four) = (soft(1), soft(4));
        assert!(one > 20, "{one}");
        assert!(four < one * 4 * 2, "1x: {one} soft pixels, 4x: {four}");
        assert!(four > one * 2, "1x: {one} soft pixels, 4x: {four}");
    }
}
