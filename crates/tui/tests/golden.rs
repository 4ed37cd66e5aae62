//! Golden-image tests: screens rendered on the host and compared pixel for
//! pixel with the PNGs in `tests/golden/`.
//!
//! After an intended visual change, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p tui --test golden` and review the images.

use tui::Canvas;
use tui::screens::{SplashInfo, draw_panic, draw_splash};

const SPLASH: SplashInfo<'static> =
    SplashInfo { version: "0.1.0", arch: "x86_64", lines: &["1024 MiB memory", "1280x800 framebuffer", "Booting..."] };

const PANIC_MESSAGE: &str = "panicked at crates/kernel/src/memory.rs:88:17:\n\
    the firmware memory map lists 4294967295 descriptors of 48 bytes each, which cannot fit \
    in the 65536-byte buffer it was read into; refusing to guess which regions are usable \
    (UEFI status 0x8000000000000005, EFI_BUFFER_TOO_SMALL)\n\n\
    at crates/kernel/src/memory.rs:88:17";

#[test]
fn splash_800x600() {
    let mut canvas = Canvas::new(800, 600);
    draw_splash(&mut canvas, &SPLASH);
    check("splash_800x600", &canvas);
}

#[test]
fn splash_1280x800() {
    let mut canvas = Canvas::new(1280, 800);
    draw_splash(&mut canvas, &SPLASH);
    check("splash_1280x800", &canvas);
}

#[test]
fn panic_800x600() {
    let mut canvas = Canvas::new(800, 600);
    draw_panic(&mut canvas, "moteOS stopped", PANIC_MESSAGE);
    check("panic_800x600", &canvas);
}

fn check(name: &str, canvas: &Canvas) {
    tui::golden::check(env!("CARGO_MANIFEST_DIR"), env!("CARGO_TARGET_TMPDIR"), name, canvas);
}
