//! Golden-image checks for host tests (feature `golden`, needs `std`): a canvas is
//! compared pixel for pixel with a PNG under the calling crate's `tests/golden/`.
//!
//! After an intended visual change, regenerate the images with `UPDATE_GOLDEN=1` and
//! review them; a failing comparison writes what was rendered next to the test binaries
//! (`target/golden-actual/`).

extern crate std;

use std::format;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;
use std::vec;
use std::vec::Vec;

use crate::Canvas;

/// Compares `canvas` with `<manifest_dir>/tests/golden/<name>.png` (or writes it when
/// `UPDATE_GOLDEN=1`); `scratch` is the test's `CARGO_TARGET_TMPDIR`.
///
/// # Panics
/// When the images differ or the golden image is missing, saying where the rendering is.
pub fn check(manifest_dir: &str, scratch: &str, name: &str, canvas: &Canvas) {
    let golden = Path::new(manifest_dir).join("tests/golden").join(format!("{name}.png"));
    let tmp = Path::new(scratch);
    let out = tmp.parent().unwrap_or(tmp).join("golden-actual").join(format!("{name}.png"));
    let actual = to_rgb_bytes(canvas);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        write_png(&golden, canvas.width(), canvas.height(), &actual);
        return;
    }
    assert!(
        golden.exists(),
        "golden image {} is missing: run the test with UPDATE_GOLDEN=1 to create it, then review it",
        golden.display()
    );
    let (width, height, expected) = read_png(&golden);
    let differing = if (width, height) == (canvas.width(), canvas.height()) {
        actual.chunks_exact(3).zip(expected.chunks_exact(3)).filter(|(a, e)| a != e).count()
    } else {
        (canvas.width() * canvas.height()) as usize
    };
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

/// Writes `canvas` as a PNG (screenshots for review).
pub fn save(path: &Path, canvas: &Canvas) {
    write_png(path, canvas.width(), canvas.height(), &to_rgb_bytes(canvas));
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
