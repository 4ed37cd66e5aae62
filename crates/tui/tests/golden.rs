//! Golden-image tests: screens rendered on the host and compared pixel for
//! pixel with the PNGs in `tests/golden/`.
//!
//! After an intended visual change, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p tui --test golden` and review the images.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

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

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.png"))
}

/// `target/golden-actual/`, beside the test binaries' scratch directory.
fn actual_path(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("golden-actual").join(format!("{name}.png"))
}

fn check(name: &str, canvas: &Canvas) {
    let golden = golden_path(name);
    let actual = to_rgb_bytes(canvas);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        write_png(&golden, canvas.width(), canvas.height(), &actual);
        return;
    }
    assert!(
        golden.exists(),
        "golden image {} is missing: run `UPDATE_GOLDEN=1 cargo test -p tui --test golden` to create it, then review it",
        golden.display()
    );
    let (width, height, expected) = read_png(&golden);
    let differing = if (width, height) == (canvas.width(), canvas.height()) {
        actual.chunks_exact(3).zip(expected.chunks_exact(3)).filter(|(a, e)| a != e).count()
    } else {
        (canvas.width() * canvas.height()) as usize
    };
    let out = actual_path(name);
    if differing == 0 {
        // A rendering left over from an earlier failure would only mislead.
        let _ = fs::remove_file(&out);
        return;
    }
    write_png(&out, canvas.width(), canvas.height(), &actual);
    panic!(
        "{name}: {differing} pixels differ from {} (golden {width}x{height}, rendered {}x{}); \
         the rendering is at {}. If the change is intended, rerun with UPDATE_GOLDEN=1.",
        golden.display(),
        canvas.width(),
        canvas.height(),
        out.display()
    );
}

fn to_rgb_bytes(canvas: &Canvas) -> Vec<u8> {
    canvas.pixels().iter().flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8]).collect()
}

fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    let mut encoder = png::Encoder::new(BufWriter::new(File::create(path).unwrap()), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(rgb).unwrap();
    writer.finish().unwrap();
}

/// Decodes an 8-bit RGB or RGBA PNG into RGB bytes.
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}: expected 8-bit channels", path.display());
    let bytes = &buf[..info.buffer_size()];
    let rgb = match info.color_type {
        png::ColorType::Rgb => bytes.to_vec(),
        png::ColorType::Rgba => bytes.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => panic!("{}: unsupported colour type {other:?}", path.display()),
    };
    (info.width, info.height, rgb)
}
