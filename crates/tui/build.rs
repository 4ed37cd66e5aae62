//! Copies the fonts the renderer embeds out of the `dejavu` crate into `OUT_DIR`, so the
//! `no_std` library can `include_bytes!` them without depending on a `std` crate.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (name, bytes) in [
        ("DejaVuSansMono.ttf", dejavu::sans_mono::regular()),
        ("DejaVuSansMono-Bold.ttf", dejavu::sans_mono::bold()),
        ("DejaVuSansMono-Oblique.ttf", dejavu::sans_mono::oblique()),
    ] {
        std::fs::write(out.join(name), bytes).expect("OUT_DIR is writable");
    }
}
