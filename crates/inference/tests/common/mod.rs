//! Shared by the integration tests: finding the bundled model.

#![allow(dead_code)]

pub mod writer;

use std::path::PathBuf;

/// File name of the bundled model.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Path of a model file: env `MOTEOS_MODEL`, else `<workspace>/target/models/<name>`.
pub fn model_path_named(name: &str) -> PathBuf {
    match std::env::var_os("MOTEOS_MODEL") {
        Some(p) if name == MODEL_FILE => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models").join(name),
    }
}

/// The bundled model's bytes, `None` (after saying so) when `MOTEOS_SKIP_MODEL_TESTS=1` and it is absent.
///
/// Panics with instructions when the file is absent and skipping was not asked for.
pub fn load_model() -> Option<Vec<u8>> {
    load_model_named(MODEL_FILE)
}

/// Like [`load_model`] for another file in `target/models` (e.g. a `cargo xtask model --quantize` variant).
pub fn load_model_named(name: &str) -> Option<Vec<u8>> {
    let path = model_path_named(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("MOTEOS_SKIP_MODEL_TESTS").as_deref() == Ok("1") {
                eprintln!("skipped: model {} not found ({e}) and MOTEOS_SKIP_MODEL_TESTS=1", path.display());
                None
            } else {
                panic!("model {} not found ({e}): run `cargo xtask model` (or set MOTEOS_MODEL)", path.display());
            }
        }
    }
}
