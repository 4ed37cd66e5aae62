//! The screen shown when moteOS cannot continue.

use super::layout::{body_size, detail_size, display_type};
use crate::{Canvas, Rect, Rgb, TextStyle, WrapLines, palette, wrap_lines};

const HINT: &str = "The details are also on the serial console.";

/// Draws a full-screen error: `title` (e.g. "moteOS stopped") in a red band,
/// `message` word-wrapped below it, and a pointer to the serial log.
///
/// Runs inside the panic handler, so it allocates nothing and copes with any
/// canvas size and any message length (lines that do not fit are cut, ending
/// with "...").
pub fn draw_panic(canvas: &mut Canvas, title: &str, message: &str) {
    let (width, height) = (canvas.width(), canvas.height());
    canvas.fill(palette::ERROR_BACKGROUND);

    let margin = (width / 14).clamp(16, 120).min(height / 10 + 8);
    let body = TextStyle::new(body_size(canvas), palette::FOREGROUND);
    let hint = TextStyle::new(detail_size(canvas), palette::FOREGROUND.mix(palette::ERROR_BACKGROUND, 110));
    // Long lines are tiring to read; on wide screens the column stops at
    // about a hundred characters.
    let column = width.saturating_sub(2 * margin).min(100 * body.size.advance());

    // The band: a brighter red holding the icon and the title.
    let (title_size, title_scale) = display_type(title, height / 16, column.saturating_sub(column / 8));
    let title_h = title_size.line_height() * title_scale;
    let icon_d = title_h * 15 / 16;
    let pad = margin * 3 / 5;
    let band_h = title_h + 2 * pad;
    canvas.fill_rect(Rect::new(0, 0, width, band_h), palette::ERROR.mix(palette::ERROR_BACKGROUND, 150));
    canvas.fill_rect(Rect::new(0, band_h, width, (icon_d / 16).max(2)), palette::ERROR);
    // The icon is centred on the title's lower-case letters, not its cell,
    // whose bottom quarter is room for descenders.
    let icon_y = (pad + title_h * 9 / 16).saturating_sub(icon_d / 2);
    draw_icon(canvas, margin, icon_y, icon_d);
    let title_style = TextStyle::new(title_size, Rgb::WHITE).bold();
    canvas.draw_text_scaled(margin + icon_d * 3 / 2, pad, title, title_style, title_scale);

    // The hint sits at the bottom under a hairline; the message fills the space
    // between.
    let hint_y = height.saturating_sub(margin * 3 / 4 + hint.size.line_height());
    let hairline_y = hint_y.saturating_sub(hint.size.line_height());
    canvas.fill_rect(Rect::new(margin, hairline_y, column, 1), palette::ERROR.mix(palette::ERROR_BACKGROUND, 140));
    canvas.draw_text(margin, hint_y, HINT, hint);

    let pitch = body.size.line_height() * 5 / 4;
    let top = band_h + margin * 3 / 4;
    let rows = hairline_y.saturating_sub(top + pitch / 2) / pitch;
    let mut y = top;
    for line in fit_rows(wrap_lines(message, body.size, column), rows as usize) {
        canvas.draw_text(margin, y, line, body);
        y += pitch;
    }
}

/// At most `rows` of `lines`; when some do not fit, the last row says so
/// with "..." rather than the rest vanishing silently.
fn fit_rows<'a>(lines: WrapLines<'a>, rows: usize) -> impl Iterator<Item = &'a str> {
    let mut lines = lines.peekable();
    (0..rows).map_while(move |row| {
        let line = lines.next()?;
        let cut = row + 1 == rows && lines.peek().is_some();
        Some(if cut { "..." } else { line })
    })
}

/// A white exclamation mark on a red disc `diameter` pixels across, with its
/// top-left corner at `(x, y)`. Drawn from shapes rather than the font's "!",
/// which is too thin at this size and sits off-centre in its cell.
fn draw_icon(canvas: &mut Canvas, x: u32, y: u32, diameter: u32) {
    let r = diameter / 2;
    canvas.fill_circle(x + r, y + r, r, palette::ERROR);
    let stroke = (diameter / 8).max(2);
    let bar = Rect::new(x + r - stroke / 2, y + diameter * 7 / 32, stroke, diameter * 3 / 8);
    canvas.fill_rounded_rect(bar, stroke / 2, Rgb::WHITE);
    let dot_r = stroke.div_ceil(2);
    canvas.fill_circle(bar.x + stroke / 2, y + diameter * 23 / 32 + dot_r / 2, dot_r, Rgb::WHITE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FontSize;
    use alloc::vec;
    use alloc::vec::Vec;

    fn fit(text: &str, rows: usize) -> Vec<&str> {
        fit_rows(wrap_lines(text, FontSize::Normal, 1000), rows).collect()
    }

    #[test]
    fn lines_that_fit_are_all_shown() {
        assert_eq!(fit("a\nb", 2), vec!["a", "b"]);
        assert_eq!(fit("a\nb", 5), vec!["a", "b"]);
        assert!(fit("", 3).is_empty());
    }

    #[test]
    fn overflow_ends_with_an_ellipsis() {
        assert_eq!(fit("a\nb\nc", 2), vec!["a", "..."]);
        assert_eq!(fit("a\nb", 1), vec!["..."]);
        assert!(fit("a", 0).is_empty());
    }

    #[test]
    fn the_screen_is_red_with_a_band() {
        let mut canvas = Canvas::new(800, 600);
        draw_panic(&mut canvas, "moteOS stopped", "boom");
        assert_eq!(canvas.pixel(799, 599), Some(palette::ERROR_BACKGROUND));
        let band = canvas.pixel(799, 0).unwrap();
        assert!(band.0 > 2 * band.1 && band != palette::ERROR_BACKGROUND, "{band:?}");
        assert_eq!(canvas.take_damage(), Some(canvas.bounds()));
    }
}
