//! Whole-screen layouts drawn on a [`Canvas`](crate::Canvas).

mod chat;
mod layout;
mod panic;
mod splash;

pub use chat::{ChatBlock, ChatView, Speaker, body_font, draw_chat};
pub use panic::draw_panic;
pub use splash::{SplashInfo, draw_splash};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Canvas, Rect, palette};
    use alloc::string::String;
    use alloc::vec::Vec;

    const INFO: SplashInfo<'static> =
        SplashInfo { version: "0.1.0", arch: "x86_64", lines: &["1024 MiB memory", "Booting..."] };

    /// The bounding box of everything that differs from the row's background,
    /// which both screens paint uniformly along each row at x = 0.
    fn ink_box(canvas: &Canvas) -> Rect {
        let mut ink = Rect::default();
        for y in 0..canvas.height() {
            let row = canvas.row(y);
            for (x, &p) in row.iter().enumerate() {
                if p != row[0] {
                    ink = ink.union(&Rect::new(x as u32, y, 1, 1));
                }
            }
        }
        ink
    }

    #[test]
    fn screens_survive_any_canvas() {
        let many: Vec<&str> = (0..200).map(|_| "status").collect();
        let long = "x".repeat(10_000);
        let noisy = SplashInfo { version: &long, arch: "\u{1f600}\n\t", lines: &many };
        let sizes = [(0, 0), (1, 1), (3, 200), (200, 3), (64, 48), (320, 200), (3840, 2160)];
        for (w, h) in sizes {
            let mut canvas = Canvas::new(w, h);
            draw_splash(&mut canvas, &INFO);
            draw_splash(&mut canvas, &noisy);
            draw_splash(&mut canvas, &SplashInfo { version: "", arch: "", lines: &[] });
            draw_panic(&mut canvas, "", "");
            draw_panic(&mut canvas, &long, &long);
            draw_panic(&mut canvas, "moteOS stopped", &"word \n".repeat(1000));
        }
    }

    #[test]
    fn splash_is_centred() {
        for (w, h) in [(640, 480), (800, 600), (1280, 800), (1920, 1080)] {
            let mut canvas = Canvas::new(w, h);
            draw_splash(&mut canvas, &INFO);
            let ink = ink_box(&canvas);
            assert!((ink.x + ink.right()).abs_diff(w) <= 2, "{w}x{h}: {ink:?}");
            // The group sits around the middle, a little high.
            let middle = (ink.y + ink.bottom()) / 2;
            assert!(middle > h * 2 / 5 && middle < h / 2, "{w}x{h}: {ink:?}");
            assert!(ink.h > h / 3, "{w}x{h}: the group is lost on the screen: {ink:?}");
        }
    }

    #[test]
    fn splash_status_lines_extend_downwards() {
        let mut bottoms = Vec::new();
        for count in 0..3 {
            let lines: Vec<String> = (0..count).map(|i| alloc::format!("status {i}")).collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let mut canvas = Canvas::new(800, 600);
            draw_splash(&mut canvas, &SplashInfo { lines: &lines, ..INFO });
            bottoms.push(ink_box(&canvas).bottom());
            assert_eq!(canvas.pixel(0, 599).map(|c| c.2 <= palette::SURFACE.2), Some(true));
        }
        assert!(bottoms[0] < bottoms[1] && bottoms[1] < bottoms[2], "{bottoms:?}");
    }
}
