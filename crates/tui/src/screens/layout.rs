//! Measurements shared by the screens, so every screen scales alike.

use crate::{Canvas, FontSize, TextStyle, text_width};

/// The left edge that centres something `inner` wide in `outer`.
pub(crate) fn centred(outer: u32, inner: u32) -> u32 {
    outer.saturating_sub(inner) / 2
}

/// Draws `text` centred horizontally on the canvas at `y`.
pub(crate) fn draw_centred(canvas: &mut Canvas, y: u32, text: &str, style: TextStyle) {
    let x = centred(canvas.width(), text_width(text, style.size));
    canvas.draw_text(x, y, text, style);
}

/// Whether the screen is tall enough that text one size up reads better.
/// The raster sizes are fixed, so big screens get bigger sizes, not scaling.
pub(crate) fn is_large(canvas: &Canvas) -> bool {
    canvas.height() >= 1000 && canvas.width() >= 1400
}

/// Body text size for the canvas.
pub(crate) fn body_size(canvas: &Canvas) -> FontSize {
    if is_large(canvas) { FontSize::Large } else { FontSize::Normal }
}

/// Detail text size (status lines, hints) for the canvas.
pub(crate) fn detail_size(canvas: &Canvas) -> FontSize {
    if is_large(canvas) { FontSize::Normal } else { FontSize::Small }
}

/// A font size and integer enlargement for display type (titles) close to
/// `target` pixels tall, keeping `text` at most `max_width` wide.
///
/// The fixed rasters and whole-number enlargements offer only a few heights;
/// picking from them keeps titles proportional to the screen.
pub(crate) fn display_type(text: &str, target: u32, max_width: u32) -> (FontSize, u32) {
    // Enlarging more than twice loses detail, so big sizes come from the
    // biggest raster.
    const CHOICES: [(FontSize, u32); 7] = [
        (FontSize::Normal, 1),
        (FontSize::Large, 1),
        (FontSize::Title, 1),
        (FontSize::Large, 2),
        (FontSize::Title, 2),
        (FontSize::Title, 3),
        (FontSize::Title, 4),
    ];
    CHOICES
        .into_iter()
        .filter(|&(size, scale)| text_width(text, size).saturating_mul(scale) <= max_width)
        .min_by_key(|&(size, scale)| (size.line_height() * scale).abs_diff(target))
        .unwrap_or(CHOICES[0])
}
