//! Framebuffer pixel formats and conversion from the canvas's canonical pixels.
//!
//! Framebuffer pixels are 32-bit words written in the CPU's native (little-endian)
//! order, which is how UEFI GOP describes them.

use crate::color::Rgb;

/// How a 32-bit framebuffer pixel stores a colour.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PixelLayout {
    /// Byte 0 red, byte 1 green, byte 2 blue, byte 3 reserved
    /// (GOP `PixelRedGreenBlueReserved8BitPerColor`).
    Rgbx,
    /// Byte 0 blue, byte 1 green, byte 2 red, byte 3 reserved
    /// (GOP `PixelBlueGreenRedReserved8BitPerColor`). This is the canvas's own
    /// layout, so converting to it is a plain copy.
    Bgrx,
    /// Each channel occupies the bits set in its mask (GOP `PixelBitMask`).
    /// Masks may be of any width; a zero mask means the channel is absent.
    Bitmask {
        /// Bits of the red channel.
        red: u32,
        /// Bits of the green channel.
        green: u32,
        /// Bits of the blue channel.
        blue: u32,
    },
}

impl PixelLayout {
    /// The framebuffer word that shows colour `c`.
    pub fn encode(&self, c: Rgb) -> u32 {
        match *self {
            PixelLayout::Rgbx => rgbx_from_canonical(c.to_u32()),
            PixelLayout::Bgrx => c.to_u32(),
            PixelLayout::Bitmask { red, green, blue } => MaskEncoder::new(red, green, blue).encode(c.to_u32()),
        }
    }

    /// The colour a framebuffer word shows; the inverse of [`encode`](Self::encode)
    /// up to the precision of narrow masks. Absent channels read as 0.
    pub fn decode(&self, raw: u32) -> Rgb {
        match *self {
            PixelLayout::Rgbx => Rgb::from_u32(rgbx_from_canonical(raw)),
            PixelLayout::Bgrx => Rgb::from_u32(raw),
            PixelLayout::Bitmask { red, green, blue } => {
                Rgb(Channel::new(red).unscale(raw), Channel::new(green).unscale(raw), Channel::new(blue).unscale(raw))
            }
        }
    }

    /// Converts a run of canonical `0x00RRGGBB` pixels into `out`, as many as
    /// fit in the shorter of the two.
    pub(crate) fn encode_slice(&self, src: &[u32], out: &mut [u32]) {
        let n = src.len().min(out.len());
        let (src, out) = (&src[..n], &mut out[..n]);
        match *self {
            PixelLayout::Bgrx => out.copy_from_slice(src),
            PixelLayout::Rgbx => {
                for (o, &p) in out.iter_mut().zip(src) {
                    *o = rgbx_from_canonical(p);
                }
            }
            PixelLayout::Bitmask { red, green, blue } => {
                // Mask analysis costs more than a pixel; do it once per run.
                let encoder = MaskEncoder::new(red, green, blue);
                for (o, &p) in out.iter_mut().zip(src) {
                    *o = encoder.encode(p);
                }
            }
        }
    }
}

/// Swaps the red and blue bytes; the same operation converts both ways.
#[inline]
const fn rgbx_from_canonical(p: u32) -> u32 {
    ((p & 0xff) << 16) | (p & 0xff00) | ((p >> 16) & 0xff)
}

/// One channel of a bitmask format, analysed once.
#[derive(Clone, Copy)]
struct Channel {
    mask: u32,
    shift: u32,
    /// The largest value the channel holds once shifted down.
    max: u32,
}

impl Channel {
    fn new(mask: u32) -> Channel {
        if mask == 0 {
            return Channel { mask: 0, shift: 0, max: 0 };
        }
        let shift = mask.trailing_zeros();
        Channel { mask, shift, max: mask >> shift }
    }

    /// Scales 8-bit `v` to the mask's width (rounding to nearest, so 255 is
    /// always full intensity and 0 always zero) and moves it into place.
    /// Masks with holes are not real formats; masking keeps them harmless.
    #[inline]
    fn scale(&self, v: u32) -> u32 {
        let scaled = (u64::from(v) * u64::from(self.max) + 127) / 255;
        ((scaled as u32) << self.shift) & self.mask
    }

    fn unscale(&self, raw: u32) -> u8 {
        if self.max == 0 {
            return 0;
        }
        let v = u64::from((raw & self.mask) >> self.shift);
        let max = u64::from(self.max);
        ((v * 255 + max / 2) / max).min(255) as u8
    }
}

/// The three channels of a bitmask format.
#[derive(Clone, Copy)]
struct MaskEncoder {
    red: Channel,
    green: Channel,
    blue: Channel,
}

impl MaskEncoder {
    fn new(red: u32, green: u32, blue: u32) -> MaskEncoder {
        MaskEncoder { red: Channel::new(red), green: Channel::new(green), blue: Channel::new(blue) }
    }

    #[inline]
    fn encode(&self, p: u32) -> u32 {
        self.red.scale((p >> 16) & 0xff) | self.green.scale((p >> 8) & 0xff) | self.blue.scale(p & 0xff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB565: PixelLayout = PixelLayout::Bitmask { red: 0xf800, green: 0x07e0, blue: 0x001f };
    const TEN_BIT: PixelLayout = PixelLayout::Bitmask { red: 0x3ff0_0000, green: 0x000f_fc00, blue: 0x0000_03ff };

    #[test]
    fn rgbx_puts_red_in_byte_zero() {
        let raw = PixelLayout::Rgbx.encode(Rgb(0x11, 0x22, 0x33));
        assert_eq!(raw.to_le_bytes(), [0x11, 0x22, 0x33, 0]);
    }

    #[test]
    fn bgrx_puts_blue_in_byte_zero() {
        let raw = PixelLayout::Bgrx.encode(Rgb(0x11, 0x22, 0x33));
        assert_eq!(raw.to_le_bytes(), [0x33, 0x22, 0x11, 0]);
    }

    #[test]
    fn rgbx_and_bitmask_8bit_agree() {
        let as_mask = PixelLayout::Bitmask { red: 0xff, green: 0xff00, blue: 0xff_0000 };
        for c in [Rgb(0, 0, 0), Rgb(255, 255, 255), Rgb(1, 128, 254), Rgb(0xab, 0xcd, 0xef)] {
            assert_eq!(as_mask.encode(c), PixelLayout::Rgbx.encode(c));
        }
    }

    #[test]
    fn rgb565() {
        assert_eq!(RGB565.encode(Rgb(255, 255, 255)), 0xffff);
        assert_eq!(RGB565.encode(Rgb(0, 0, 0)), 0);
        assert_eq!(RGB565.encode(Rgb(255, 0, 0)), 0xf800);
        assert_eq!(RGB565.encode(Rgb(0, 255, 0)), 0x07e0);
        assert_eq!(RGB565.encode(Rgb(0, 0, 255)), 0x001f);
        // 128/255 of 31 is 15.56 -> 16; of 63 is 31.6 -> 32.
        assert_eq!(RGB565.encode(Rgb(128, 128, 128)), (16 << 11) | (32 << 5) | 16);
    }

    #[test]
    fn ten_bit_channels() {
        assert_eq!(TEN_BIT.encode(Rgb(255, 255, 255)), 0x3fff_ffff);
        assert_eq!(TEN_BIT.encode(Rgb(255, 0, 0)), 0x3ff0_0000);
        assert_eq!(TEN_BIT.encode(Rgb(0, 0, 255)), 0x3ff);
        // 128 * 1023 / 255 = 513.5 -> 514.
        assert_eq!(TEN_BIT.encode(Rgb(0, 128, 0)), 514 << 10);
    }

    #[test]
    fn one_bit_and_full_width_masks() {
        let tiny = PixelLayout::Bitmask { red: 1 << 31, green: 1 << 7, blue: 1 };
        assert_eq!(tiny.encode(Rgb(255, 255, 255)), (1 << 31) | (1 << 7) | 1);
        assert_eq!(tiny.encode(Rgb(127, 128, 0)), 1 << 7);
        let wide = PixelLayout::Bitmask { red: u32::MAX, green: 0, blue: 0 };
        assert_eq!(wide.encode(Rgb(255, 0, 0)), u32::MAX);
        assert_eq!(wide.encode(Rgb(0, 255, 255)), 0);
    }

    #[test]
    fn zero_masks_drop_the_channel() {
        let no_blue = PixelLayout::Bitmask { red: 0xff_0000, green: 0xff00, blue: 0 };
        assert_eq!(no_blue.encode(Rgb(1, 2, 255)), 0x0001_0200);
        let nothing = PixelLayout::Bitmask { red: 0, green: 0, blue: 0 };
        assert_eq!(nothing.encode(Rgb::WHITE), 0);
        assert_eq!(nothing.decode(u32::MAX), Rgb::BLACK);
    }

    #[test]
    fn decode_inverts_encode() {
        let c = Rgb(0x12, 0x80, 0xfe);
        for layout in [PixelLayout::Rgbx, PixelLayout::Bgrx, TEN_BIT] {
            assert_eq!(layout.decode(layout.encode(c)), c, "{layout:?}");
        }
        // Five bits keep 32 levels: a round trip lands within one step.
        let back = RGB565.decode(RGB565.encode(c));
        assert!(back.0.abs_diff(c.0) <= 4 && back.1.abs_diff(c.1) <= 2 && back.2.abs_diff(c.2) <= 4);
    }
}
