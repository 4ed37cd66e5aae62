//! Text from an outline font, rasterised on demand and cached.
//!
//! DejaVu Sans Mono (regular, bold, oblique), embedded at build time from the `dejavu`
//! crate: Latin with all its extensions, Greek, Cyrillic, general punctuation, arrows,
//! box drawing and block elements, in one monospaced design. Glyphs are rasterised by
//! `ab_glyph` the first time a character is drawn at a size, then blended from the cache.
//! Characters the font lacks are drawn as one replacement glyph.
//!
//! (The small bitmap font in [`crate::font`] stays for the splash and panic screens, which
//! must draw without allocating.)

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};

use crate::{Canvas, Rgb};

static REGULAR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSansMono.ttf"));
static BOLD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSansMono-Bold.ttf"));
static OBLIQUE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSansMono-Oblique.ttf"));

/// Stroke style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Face {
    /// Regular.
    Regular,
    /// Bold.
    Bold,
    /// Oblique (italic).
    Italic,
}

/// The cell every character of a size occupies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Pixels from one character to the next.
    pub advance: u32,
    /// Pixels from one line to the next.
    pub line: u32,
    /// Pixels from the top of the line to the baseline.
    pub ascent: u32,
    /// The size asked for, in pixels per line of the font's design height.
    pub px: u16,
}

/// How text is drawn: face, size and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pen {
    /// Stroke style.
    pub face: Face,
    /// Size.
    pub cell: Cell,
    /// Colour.
    pub ink: Rgb,
}

/// A rasterised glyph: coverage at an offset from the cell's top left.
#[derive(Clone, Debug)]
struct Raster {
    left: i32,
    top: i32,
    width: u32,
    height: u32,
    coverage: Vec<u8>,
}

/// The fonts and every glyph drawn so far.
#[derive(Debug)]
pub struct Glyphs {
    fonts: [FontRef<'static>; 3],
    cache: BTreeMap<(char, Face, u16), Option<Raster>>,
}

/// The character drawn for ones the font lacks.
const REPLACEMENT: char = '\u{fffd}';
/// The most glyphs kept (a long session meeting many scripts stays bounded).
const CACHE_LIMIT: usize = 4096;

impl Default for Glyphs {
    fn default() -> Self {
        Glyphs::new()
    }
}

impl Glyphs {
    /// Opens the embedded fonts.
    ///
    /// # Panics
    /// If an embedded font does not parse (a build problem, checked by the tests).
    pub fn new() -> Self {
        let open = |bytes: &'static [u8]| FontRef::try_from_slice(bytes).expect("the embedded font parses");
        Glyphs { fonts: [open(REGULAR), open(BOLD), open(OBLIQUE)], cache: BTreeMap::new() }
    }

    fn font(&self, face: Face) -> &FontRef<'static> {
        &self.fonts[face as usize]
    }

    /// The cell of text `px` pixels high.
    pub fn cell(&self, px: u16) -> Cell {
        let font = self.font(Face::Regular).as_scaled(PxScale::from(f32::from(px)));
        let advance = font.h_advance(font.glyph_id('M'));
        let ascent = font.ascent();
        let height = font.ascent() - font.descent() + font.line_gap();
        Cell { advance: round(advance).max(1), line: round(height + 0.49).max(1), ascent: round(ascent), px }
    }

    /// Draws `text` with its first cell's top left at (`x`, `y`), one cell per character
    /// (callers give wide characters two cells); returns the x after the last cell.
    pub fn draw(&mut self, canvas: &mut Canvas, x: u32, y: u32, text: &str, pen: Pen) -> u32 {
        let mut at = x;
        for c in text.chars() {
            if !c.is_whitespace() {
                self.draw_char(canvas, at, y, c, pen);
            }
            at = at.saturating_add(pen.cell.advance);
        }
        at
    }

    /// Draws one character in the cell at (`x`, `y`).
    pub fn draw_char(&mut self, canvas: &mut Canvas, x: u32, y: u32, c: char, pen: Pen) {
        let Pen { face, cell, ink } = pen;
        let key = (c, face, cell.px);
        if !self.cache.contains_key(&key) {
            if self.cache.len() >= CACHE_LIMIT {
                self.cache.clear();
            }
            let raster = self.rasterise(c, face, cell);
            self.cache.insert(key, raster);
        }
        if let Some(Some(r)) = self.cache.get(&key) {
            let gx = i64::from(x) + i64::from(r.left);
            let gy = i64::from(y) + i64::from(r.top);
            canvas.blend_coverage(gx, gy, r.width, r.height, &r.coverage, ink);
        }
    }

    fn rasterise(&self, c: char, face: Face, cell: Cell) -> Option<Raster> {
        let font = self.font(face);
        let mut id = font.glyph_id(c);
        if id == GlyphId(0) {
            id = font.glyph_id(REPLACEMENT);
        }
        let scale = PxScale::from(f32::from(cell.px));
        let glyph = id.with_scale_and_position(scale, point(0.0, cell.ascent as f32));
        let outlined = font.outline_glyph(glyph)?;
        let bounds = outlined.px_bounds();
        let width = (bounds.max.x - bounds.min.x).max(0.0) as u32;
        let height = (bounds.max.y - bounds.min.y).max(0.0) as u32;
        if width == 0 || height == 0 || width > 4 * cell.advance + 8 || height > 4 * cell.line + 8 {
            return None;
        }
        let mut coverage = alloc::vec![0u8; (width * height) as usize];
        outlined.draw(|gx, gy, v| {
            if gx < width && gy < height {
                coverage[(gy * width + gx) as usize] = (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
            }
        });
        Some(Raster { left: bounds.min.x as i32, top: bounds.min.y as i32, width, height, coverage })
    }

    /// Glyphs in the cache (for tests and memory accounting).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

fn round(v: f32) -> u32 {
    if v <= 0.0 { 0 } else { (v + 0.5) as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fonts_cover_the_scripts_promised() {
        let g = Glyphs::new();
        let wanted = "AzÀÿĀſΑωАяЁ—’“”…•→←↑↓─│┌┐└┘├┤█▒░ß€";
        for face in [Face::Regular, Face::Bold, Face::Italic] {
            for c in wanted.chars() {
                assert_ne!(g.font(face).glyph_id(c), GlyphId(0), "{c} missing in {face:?}");
            }
        }
        assert_eq!(g.font(Face::Regular).glyph_id('漢'), GlyphId(0));
        assert_ne!(g.font(Face::Regular).glyph_id(REPLACEMENT), GlyphId(0));
    }

    #[test]
    fn cells_grow_with_size_and_glyphs_stay_inside() {
        let mut g = Glyphs::new();
        let mut last = Cell { advance: 0, line: 0, ascent: 0, px: 0 };
        for px in [12u16, 16, 20, 24, 32, 48] {
            let cell = g.cell(px);
            assert!(cell.advance > last.advance && cell.line > last.line, "{px}: {cell:?}");
            assert!(cell.advance * 10 > cell.line * 4, "monospace proportions {cell:?}");
            last = cell;
            let mut canvas = Canvas::new(cell.advance * 3, cell.line);
            canvas.fill(Rgb::BLACK);
            g.draw(&mut canvas, 0, 0, "Mgy", Pen { face: Face::Regular, cell, ink: Rgb::WHITE });
            let lit = canvas.pixels().iter().filter(|&&p| p != 0).count();
            assert!(lit > (cell.advance * cell.line) as usize / 4, "{px}: {lit}");
        }
        let before = g.cached();
        let mut canvas = Canvas::new(40, 40);
        let cell = g.cell(16);
        g.draw(&mut canvas, 0, 0, "MMM", Pen { face: Face::Regular, cell, ink: Rgb::WHITE });
        assert_eq!(g.cached(), before, "drawn glyphs come from the cache");
    }

    #[test]
    fn missing_characters_are_the_replacement_glyph() {
        let mut g = Glyphs::new();
        let cell = g.cell(20);
        let draw = |g: &mut Glyphs, c: &str| {
            let mut canvas = Canvas::new(cell.advance, cell.line);
            g.draw(&mut canvas, 0, 0, c, Pen { face: Face::Regular, cell, ink: Rgb::WHITE });
            canvas.pixels().to_vec()
        };
        assert_eq!(draw(&mut g, "漢"), draw(&mut g, "\u{fffd}"));
        assert_eq!(draw(&mut g, "\u{1f600}"), draw(&mut g, "\u{fffd}"));
        assert_ne!(draw(&mut g, "a"), draw(&mut g, "\u{fffd}"));
    }
}
