//! The boot splash: the mote, the name, the version, and what booting found.

use super::layout::{body_size, centred, detail_size, display_type, draw_centred};
use crate::{Canvas, Rect, Rgb, TextStyle, palette, text_width};

/// What the splash shows besides the name.
#[derive(Clone, Copy, Debug)]
pub struct SplashInfo<'a> {
    /// The moteOS version, e.g. `"0.1.0"`; shown as `v0.1.0`.
    pub version: &'a str,
    /// The CPU architecture, e.g. `"x86_64"`.
    pub arch: &'a str,
    /// Status lines shown muted under the name, e.g. `"1024 MiB memory"`.
    pub lines: &'a [&'a str],
}

const NAME: &str = "moteOS";

/// Draws the boot splash over the whole canvas: a glowing mote, the name,
/// version and architecture, and the status lines, centred as one group and
/// scaled to the canvas (640x480 up to 1920x1080 and beyond).
pub fn draw_splash(canvas: &mut Canvas, info: &SplashInfo<'_>) {
    let (width, height) = (canvas.width(), canvas.height());
    let top = palette::BACKGROUND.mix(palette::SURFACE, 160);
    canvas.fill_vertical_gradient(canvas.bounds(), top, palette::BACKGROUND);

    // Everything is sized from the title's height (`em`), and the title from
    // the screen's, so the composition keeps its proportions at any size.
    let (title_size, title_scale) = display_type(NAME, height * 95 / 1000, width * 3 / 5);
    let em = title_size.line_height() * title_scale;
    let u = |n: u32| n * em / 64;
    let title = TextStyle::new(title_size, palette::FOREGROUND).bold();
    let version = TextStyle::new(body_size(canvas), palette::MUTED);
    let status = TextStyle::new(detail_size(canvas), palette::MUTED.mix(palette::BACKGROUND, 50));

    let logo_h = u(56);
    let rule_h = (em / 32).max(2);
    let version_h = version.size.line_height();
    let status_pitch = status.size.line_height() + u(8);
    let status_h = status_pitch.saturating_mul(info.lines.len() as u32);
    let gaps = [u(34), u(24), u(24), u(56)];
    let total = logo_h + em + rule_h + version_h + status_h + gaps.iter().sum::<u32>();
    // A little above the middle: the optical centre of a screen is higher
    // than its geometric one.
    let mut y = height.saturating_sub(total) * 9 / 20;

    draw_mote(canvas, width / 2, y + logo_h / 2, em);
    y += logo_h + gaps[0];

    let title_w = text_width(NAME, title_size) * title_scale;
    canvas.draw_text_scaled(centred(width, title_w), y, NAME, title, title_scale);
    y += em + gaps[1];

    let rule_w = u(80);
    canvas.fill_rect(Rect::new(centred(width, rule_w), y, rule_w, rule_h), palette::ACCENT);
    y += rule_h + gaps[2];

    draw_version_line(canvas, y, info, version);
    y += version_h + gaps[3];

    for line in info.lines {
        draw_centred(canvas, y, line, status);
        y = y.saturating_add(status_pitch);
    }
}

/// "v0.1.0 • x86_64", the bullet drawn as a small accent dot because the
/// font has no bullet glyph.
fn draw_version_line(canvas: &mut Canvas, y: u32, info: &SplashInfo<'_>, style: TextStyle) {
    let prefix = if info.version.starts_with(|c: char| c.is_ascii_digit()) { "v" } else { "" };
    let cell = style.size.advance();
    let separator_w = 3 * cell;
    let line_w = text_width(prefix, style.size)
        .saturating_add(text_width(info.version, style.size))
        .saturating_add(separator_w)
        .saturating_add(text_width(info.arch, style.size));
    let x = centred(canvas.width(), line_w);
    let x = canvas.draw_text(x, y, prefix, style);
    let x = canvas.draw_text(x, y, info.version, style);
    // Level with the middle of the lower-case letters.
    let dot_r = (cell / 5).max(2);
    let dot_y = y + style.size.line_height() * 9 / 16;
    canvas.fill_circle(x.saturating_add(separator_w / 2), dot_y, dot_r, palette::ACCENT);
    canvas.draw_text(x.saturating_add(separator_w), y, info.arch, style);
}

/// The logo: a mote of dust caught in light, a glowing core with a few
/// fainter specks drifting around it, sized from `em`.
fn draw_mote(canvas: &mut Canvas, cx: u32, cy: u32, em: u32) {
    let u = |n: u32| n * em / 64;
    let warm = palette::ACCENT;
    canvas.draw_glow(cx, cy, u(72), warm, 60);
    canvas.draw_glow(cx, cy, u(28), warm.mix(Rgb::WHITE, 60), 150);
    canvas.fill_circle(cx, cy, u(12), warm.mix(Rgb::WHITE, 80));
    // A soft hot centre rather than a second disc, which would read as a ring.
    canvas.draw_glow(cx, cy, u(11), Rgb::WHITE, 210);
    // (dx, dy, radius, opacity) in 64ths of em: placed by eye so the specks
    // drift rather than orbit.
    let specks: [(i32, i32, u32, u8); 4] = [(44, -18, 4, 210), (-38, 14, 4, 150), (26, 28, 2, 140), (-22, -30, 2, 120)];
    for (dx, dy, r, alpha) in specks {
        let scaled = |d: i32| d * em as i32 / 64;
        let x = cx.saturating_add_signed(scaled(dx));
        let y = cy.saturating_add_signed(scaled(dy));
        canvas.blend_circle(x, y, u(r).max(1), warm.mix(Rgb::WHITE, 40), alpha);
    }
}
