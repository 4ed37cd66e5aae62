//! moteOS drawing: a RAM [`Canvas`] in one canonical pixel format, text from a
//! pre-rasterised font, conversion to whatever pixel format the firmware's
//! framebuffer uses, damage tracking, and the screens built from them.
//!
//! Everything draws into RAM. Framebuffer memory is slow to touch (uncached or
//! write-combined, and very slow under emulation), so the kernel copies only the
//! damaged rectangle to it, converting rows with [`Canvas::encode_row_into`].
//! Nothing here knows about hardware, so the same code renders golden PNGs in
//! host tests.
//!
//! Coordinates are unsigned pixels with the origin at the top left. Every drawing
//! operation clips to the canvas, so drawing partly or wholly outside it is
//! harmless.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod canvas;
mod color;
mod font;
mod geometry;
pub mod glyphs;
#[cfg(feature = "golden")]
pub mod golden;
mod pixel;
pub mod screens;
pub mod ui;
mod wrap;

pub use canvas::{Canvas, Damage, MAX_DAMAGE_RECTS};
pub use color::{Rgb, palette};
pub use font::{FontSize, FontWeight, TextStyle, text_width};
pub use geometry::Rect;
pub use pixel::PixelLayout;
pub use wrap::{WrapLines, wrap_lines, wrap_text};
