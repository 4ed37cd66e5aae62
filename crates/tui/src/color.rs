//! Colours and the theme palette.

use core::fmt;

/// An opaque 8-bit-per-channel sRGB colour: red, green, blue.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Black, the colour of a fresh canvas.
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    /// White.
    pub const WHITE: Rgb = Rgb(255, 255, 255);

    /// The canonical pixel value of this colour: `0x00RRGGBB`.
    pub const fn to_u32(self) -> u32 {
        ((self.0 as u32) << 16) | ((self.1 as u32) << 8) | self.2 as u32
    }

    /// The colour of a canonical `0x00RRGGBB` pixel; the top byte is ignored.
    pub const fn from_u32(pixel: u32) -> Rgb {
        Rgb((pixel >> 16) as u8, (pixel >> 8) as u8, pixel as u8)
    }

    /// This colour moved towards `other` by `amount` / 255 (0 keeps `self`,
    /// 255 gives `other`). Used to derive tints and shades from the palette.
    pub const fn mix(self, other: Rgb, amount: u8) -> Rgb {
        Rgb::from_u32(blend(self.to_u32(), other.to_u32(), amount as u32))
    }
}

impl fmt::Debug for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex is how colours are written everywhere else (design tools, the palette).
        write!(f, "Rgb(#{:06x})", self.to_u32())
    }
}

/// Blends canonical pixel `src` over `dst` with coverage `alpha` (0..=255).
///
/// Each channel is rounded to nearest so that repeated blends of the same
/// colour converge on it instead of drifting one step short.
#[inline]
pub(crate) const fn blend(dst: u32, src: u32, alpha: u32) -> u32 {
    let inv = 255 - alpha;
    let r = (((src >> 16) & 0xff) * alpha + ((dst >> 16) & 0xff) * inv + 127) / 255;
    let g = (((src >> 8) & 0xff) * alpha + ((dst >> 8) & 0xff) * inv + 127) / 255;
    let b = ((src & 0xff) * alpha + (dst & 0xff) * inv + 127) / 255;
    (r << 16) | (g << 8) | b
}

/// The moteOS theme: a deep navy night with a warm, dust-in-sunlight accent.
pub mod palette {
    use super::Rgb;

    /// The page: deep navy.
    pub const BACKGROUND: Rgb = Rgb(0x0b, 0x11, 0x1f);
    /// Raised panels and bars, one step lighter than the background.
    pub const SURFACE: Rgb = Rgb(0x14, 0x1c, 0x2e);
    /// Hairlines and panel borders.
    pub const BORDER: Rgb = Rgb(0x26, 0x31, 0x48);
    /// Body text.
    pub const FOREGROUND: Rgb = Rgb(0xe8, 0xec, 0xf4);
    /// Secondary text: status lines, hints, timestamps.
    pub const MUTED: Rgb = Rgb(0x7d, 0x8a, 0xa6);
    /// Highlights: the mote, rules, the cursor.
    pub const ACCENT: Rgb = Rgb(0xf4, 0xb9, 0x4e);
    /// Errors: icons, bands, the text of failures.
    pub const ERROR: Rgb = Rgb(0xe5, 0x48, 0x4d);
    /// Background of full-screen errors: a dark red that keeps white text readable.
    pub const ERROR_BACKGROUND: Rgb = Rgb(0x2a, 0x0c, 0x13);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_u32_is_0rgb() {
        assert_eq!(Rgb(0x12, 0x34, 0x56).to_u32(), 0x0012_3456);
        assert_eq!(Rgb::from_u32(0xff12_3456), Rgb(0x12, 0x34, 0x56));
    }

    #[test]
    fn blend_endpoints_and_midpoint() {
        let a = Rgb(10, 200, 0);
        let b = Rgb(250, 0, 255);
        assert_eq!(a.mix(b, 0), a);
        assert_eq!(a.mix(b, 255), b);
        assert_eq!(a.mix(b, 128), Rgb(130, 100, 128));
    }

    #[test]
    fn debug_is_hex() {
        assert_eq!(alloc::format!("{:?}", Rgb(1, 2, 255)), "Rgb(#0102ff)");
    }
}
