//! Text styles, font metrics and glyph lookup over the pre-rasterised Noto Sans
//! Mono bitmaps.
//!
//! The font is monospaced: every character occupies one cell of
//! [`FontSize::advance`] by [`FontSize::line_height`] pixels, whatever its
//! weight, so measuring text needs no font data and wrapping is arithmetic.

use crate::color::Rgb;
use noto_sans_mono_bitmap::{self as noto, RasterHeight};

/// The sizes text comes in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FontSize {
    /// Dense detail: status lines, hints (16 px line, 7 px cell).
    Small,
    /// Body text (20 px line, 9 px cell).
    Normal,
    /// Emphasis and headings (24 px line, 11 px cell).
    Large,
    /// Screen titles (32 px line, 14 px cell).
    Title,
}

impl FontSize {
    /// Every size, smallest first.
    pub const ALL: [FontSize; 4] = [FontSize::Small, FontSize::Normal, FontSize::Large, FontSize::Title];

    const fn raster(self) -> RasterHeight {
        match self {
            FontSize::Small => RasterHeight::Size16,
            FontSize::Normal => RasterHeight::Size20,
            FontSize::Large => RasterHeight::Size24,
            FontSize::Title => RasterHeight::Size32,
        }
    }

    /// Height of one line of text, ascender to descender; lines stacked at this
    /// pitch touch without overlapping.
    pub const fn line_height(self) -> u32 {
        self.raster().val() as u32
    }

    /// Width of one character cell, spacing included.
    pub const fn advance(self) -> u32 {
        noto::get_raster_width(noto::FontWeight::Regular, self.raster()) as u32
    }
}

/// Stroke weight.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum FontWeight {
    /// Normal strokes.
    #[default]
    Regular,
    /// Heavy strokes, same cell width as regular.
    Bold,
}

impl FontWeight {
    const fn noto(self) -> noto::FontWeight {
        match self {
            FontWeight::Regular => noto::FontWeight::Regular,
            FontWeight::Bold => noto::FontWeight::Bold,
        }
    }
}

/// How a run of text looks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TextStyle {
    /// Cell size.
    pub size: FontSize,
    /// Stroke weight.
    pub weight: FontWeight,
    /// Ink colour, blended over whatever is already drawn.
    pub color: Rgb,
}

impl TextStyle {
    /// Regular-weight text of `size` in `color`.
    pub const fn new(size: FontSize, color: Rgb) -> TextStyle {
        TextStyle { size, weight: FontWeight::Regular, color }
    }

    /// The same style in bold.
    pub const fn bold(self) -> TextStyle {
        TextStyle { weight: FontWeight::Bold, ..self }
    }
}

/// Width in pixels of `text` drawn on one line at `size`; equals the distance
/// [`Canvas::draw_text`](crate::Canvas::draw_text) advances. Saturates instead
/// of overflowing for absurdly long text.
pub fn text_width(text: &str, size: FontSize) -> u32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    chars.saturating_mul(size.advance())
}

/// A glyph's coverage bitmap: `width * height` bytes, row-major, 0 = background,
/// 255 = ink.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Glyph {
    pub coverage: &'static [u8],
    pub width: usize,
    pub height: usize,
}

/// The glyph drawn for `c`. Characters outside the font's ranges are shown as
/// an ASCII look-alike when one reads the same (curly quotes, dashes, accented
/// Latin-1 letters: language-model output is full of them, and a wall of
/// replacement marks would be far less readable), as a blank when they are
/// whitespace, and otherwise as the replacement character.
pub(crate) fn glyph(c: char, weight: FontWeight, size: FontSize) -> Option<Glyph> {
    let lookup = |ch: char| noto::get_raster(ch, weight.noto(), size.raster());
    let raster = lookup(c)
        .or_else(|| look_alike(c).and_then(lookup))
        .or_else(|| if c.is_whitespace() { lookup(' ') } else { None })
        .or_else(|| lookup(char::REPLACEMENT_CHARACTER))
        .or_else(|| lookup('?'))?;
    Some(Glyph { coverage: raster.pixels(), width: raster.width(), height: raster.height() })
}

/// Latin-1 letters U+00C0..=U+00FF without their diacritics; 0 where no ASCII
/// letter reads the same (Æ, Þ, ß, ÷ ...).
const LATIN1_BASE: &[u8; 64] = b"AAAAAA\0CEEEEIIIIDNOOOOOxOUUUUY\0\0aaaaaa\0ceeeeiiiidnooooo\0ouuuuy\0y";

fn look_alike(c: char) -> Option<char> {
    let ascii = match c {
        '\u{c0}'..='\u{ff}' => LATIN1_BASE[c as usize - 0xc0],
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{b4}' => b'\'',
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' => b'"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{ad}' => b'-',
        '\u{2022}' | '\u{2023}' | '\u{2043}' | '\u{25cf}' => b'*',
        '\u{b7}' | '\u{2027}' | '\u{22c5}' => b'.',
        '\u{2039}' | '\u{ab}' => b'<',
        '\u{203a}' | '\u{bb}' => b'>',
        _ => 0,
    };
    (ascii != 0).then_some(ascii as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_the_rasters() {
        for size in FontSize::ALL {
            for weight in [FontWeight::Regular, FontWeight::Bold] {
                let g = glyph('M', weight, size).unwrap();
                assert_eq!(g.width as u32, size.advance(), "{size:?} {weight:?}");
                assert_eq!(g.height as u32, size.line_height(), "{size:?} {weight:?}");
                assert_eq!(g.coverage.len(), g.width * g.height);
            }
        }
    }

    #[test]
    fn sizes_grow() {
        for pair in FontSize::ALL.windows(2) {
            assert!(pair[0].line_height() < pair[1].line_height());
            assert!(pair[0].advance() < pair[1].advance());
        }
    }

    #[test]
    fn width_counts_chars_not_bytes() {
        assert_eq!(text_width("", FontSize::Normal), 0);
        assert_eq!(text_width("abc", FontSize::Small), 3 * FontSize::Small.advance());
        assert_eq!(text_width("h\u{e9}\u{6f22}", FontSize::Title), 3 * FontSize::Title.advance());
    }

    fn same_glyph(a: char, b: char) -> bool {
        let (ga, gb) =
            (glyph(a, FontWeight::Regular, FontSize::Normal), glyph(b, FontWeight::Regular, FontSize::Normal));
        ga.unwrap().coverage == gb.unwrap().coverage
    }

    #[test]
    fn missing_characters_fall_back() {
        assert!(same_glyph('\u{6f22}', char::REPLACEMENT_CHARACTER));
        assert!(same_glyph('\u{1f600}', char::REPLACEMENT_CHARACTER));
        assert!(same_glyph('\u{7}', char::REPLACEMENT_CHARACTER));
        assert!(!same_glyph('?', char::REPLACEMENT_CHARACTER));
        assert!(same_glyph('\t', ' '));
        assert!(same_glyph('\u{a0}', ' '));
        assert!(same_glyph('\u{2019}', '\''));
        assert!(same_glyph('\u{2014}', '-'));
        assert!(same_glyph('\u{e9}', 'e'));
        assert!(same_glyph('\u{c7}', 'C'));
        assert!(same_glyph('\u{df}', char::REPLACEMENT_CHARACTER));
    }

    #[test]
    fn latin1_table_is_aligned() {
        assert_eq!(look_alike('\u{c0}'), Some('A'));
        assert_eq!(look_alike('\u{d1}'), Some('N'));
        assert_eq!(look_alike('\u{dd}'), Some('Y'));
        assert_eq!(look_alike('\u{f1}'), Some('n'));
        assert_eq!(look_alike('\u{fc}'), Some('u'));
        assert_eq!(look_alike('\u{ff}'), Some('y'));
        assert_eq!(look_alike('\u{fe}'), None);
    }
}
