//! `cargo xtask parity`: regenerates the synthetic model of every family and records what
//! llama.cpp computes on it, then runs the host test that compares moteOS with the record.
//!
//! llama.cpp is built from PyPI's `llama-cpp-python` source package (its vendored llama.cpp,
//! with its Python bindings) into a virtual environment under `target/parity/` once (several
//! minutes); CI does not run this command: it runs the host tests against the committed
//! fixtures (`crates/inference/tests/fixtures/{synthetic,parity}/`), which this command rewrites.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

use crate::builder;

/// The llama.cpp release the fixtures were recorded with.
const LLAMA_CPP_PYTHON: &str = "llama-cpp-python==0.3.36";

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("{what}: could not start"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Creates the virtual environment with llama.cpp's bindings, `gguf`, `tokenizers` and `jinja2`.
fn venv(dir: &Path) -> Result<std::path::PathBuf> {
    let python = dir.join("venv/bin/python");
    let ready = python.exists()
        && Command::new(&python).args(["-c", "import llama_cpp, gguf, tokenizers, jinja2, numpy"]).status()?.success();
    if ready {
        return Ok(python);
    }
    std::fs::create_dir_all(dir)?;
    run(Command::new("python3").args(["-m", "venv"]).arg(dir.join("venv")), "python3 -m venv (Debian: python3-venv)")?;
    println!("parity: building llama.cpp from the {LLAMA_CPP_PYTHON} source package (several minutes)");
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-binary", "llama-cpp-python", LLAMA_CPP_PYTHON])
            .args(["gguf", "numpy", "tokenizers", "jinja2"])
            .env(
                "CMAKE_ARGS",
                "-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
                 -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF",
            )
            .env("CMAKE_BUILD_PARALLEL_LEVEL", "2"),
        "pip install llama-cpp-python (needs cmake and g++)",
    )?;
    Ok(python)
}

/// Regenerates the synthetic models and the llama.cpp records, then compares.
pub fn parity() -> Result<()> {
    let root = builder::root();
    let python = venv(&root.join("target/parity"))?;
    let reference = root.join("crates/inference/reference");
    let synthetic = root.join("crates/inference/tests/fixtures/synthetic");
    run(Command::new(&python).arg(reference.join("synthetic.py")).arg(&synthetic), "synthetic.py")?;
    run(Command::new(&python).arg(reference.join("parity.py")), "parity.py (llama.cpp)")?;
    run(
        crate::cargo().current_dir(&root).args([
            "test",
            "--release",
            "-p",
            "inference",
            "--test",
            "family_parity",
            "--",
            "--nocapture",
        ]),
        "the family parity test",
    )
}
