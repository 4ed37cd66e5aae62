//! `cargo xtask infer`: runs the local inference engine on the host (always a release build).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

use crate::builder;

/// Builds the engine's host front end (`crates/inference/examples/infer.rs`) in release mode
/// and returns the binary.
pub fn build_frontend() -> Result<PathBuf> {
    let status = crate::cargo()
        .current_dir(builder::root())
        .args(["build", "--quiet", "--release", "--package", "inference", "--example", "infer"])
        .status()
        .context("building the inference front end")?;
    if !status.success() {
        bail!("building the inference front end failed");
    }
    Ok(builder::root().join("target/release/examples/infer"))
}

/// Runs the front end with `args` (already in its syntax), streaming its output.
pub fn run(model: &Path, args: &[String]) -> Result<()> {
    let bin = build_frontend()?;
    let status = std::process::Command::new(&bin)
        .arg("--model")
        .arg(model)
        .args(args)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        bail!("inference failed");
    }
    Ok(())
}

/// llama.cpp's side of the benchmark: prebuilt binaries from npm, driven through their JS API.
const NODE_LLAMA_CPP: &str = "node-llama-cpp@3.21.1";
const PEER_SCRIPT: &str = r#"// Written by `cargo xtask bench infer`: llama.cpp single-thread speed on one GGUF file.
// node bench.mjs MODEL PROMPT_TOKENS GEN_TOKENS RUNS -> {"prompt_tps":..,"gen_tps":..}
import {getLlama} from "node-llama-cpp";
const [modelPath, nPrompt, nGen, runs] = process.argv.slice(2).map((v, i) => i ? Number(v) : v);
const llama = await getLlama({gpu: false, build: "never", maxThreads: 1});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 1024, threads: 1, batchSize: 512});
const seq = context.getSequence();
// The same synthetic prompt of ordinary tokens as the moteOS side.
const prompt = Array.from({length: nPrompt}, (_, i) => 1000 + (i * 7919) % 20000);
const ptps = [], gtps = [];
for (let r = 0; r < runs; r++) {
  await seq.clearHistory();
  let t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  ptps.push(nPrompt / ((performance.now() - t0) / 1000));
  t0 = performance.now();
  let n = 0;
  for await (const t of seq.evaluate([prompt[0]], {temperature: 0})) { if (++n >= nGen) break; }
  gtps.push(n / ((performance.now() - t0) / 1000));
}
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({prompt_tps: med(ptps), gen_tps: med(gtps)}));
process.exit(0);
"#;

/// Installs node-llama-cpp in `target/bench-peers/` if needed; returns the script's path.
fn peer_script() -> Result<PathBuf> {
    let dir = builder::root().join("target/bench-peers");
    std::fs::create_dir_all(&dir)?;
    if !dir.join("node_modules/node-llama-cpp/package.json").exists() {
        println!("bench infer: installing {NODE_LLAMA_CPP} (prebuilt llama.cpp) in {}", dir.display());
        if !dir.join("package.json").exists() {
            std::fs::write(dir.join("package.json"), "{\"private\": true, \"type\": \"module\"}\n")?;
        }
        let status = std::process::Command::new("npm")
            .current_dir(&dir)
            .args(["install", "--no-audit", "--no-fund", "-E", NODE_LLAMA_CPP])
            .status()
            .context("running npm (is Node.js installed?)")?;
        if !status.success() {
            bail!("npm install {NODE_LLAMA_CPP} failed");
        }
    }
    let script = dir.join("bench.mjs");
    std::fs::write(&script, PEER_SCRIPT)?;
    Ok(script)
}

/// `(prompt tokens/s, generation tokens/s)` from a JSON line.
fn speeds(stdout: &[u8]) -> Result<(f64, f64, serde_json::Value)> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("no JSON result line")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok((v["prompt_tps"].as_f64().unwrap_or(f64::NAN), v["gen_tps"].as_f64().unwrap_or(f64::NAN), v))
}

/// Bytes per second of a large `memcpy` (each byte read once and written once), best of 5.
fn memcpy_bandwidth() -> f64 {
    let len = 256 << 20;
    let src = vec![1u8; len];
    let mut dst = vec![0u8; len];
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        dst.copy_from_slice(&src);
        std::hint::black_box(&mut dst);
        best = best.min(t.elapsed().as_secs_f64());
    }
    len as f64 / best
}

/// `cargo xtask bench infer`: prompt and generation speed of each model variant, single thread,
/// against llama.cpp on the same file in the same run, and against the memory-bandwidth bound.
pub fn bench(runs: usize) -> Result<()> {
    const PROMPT: usize = 128;
    const GEN: usize = 64;
    let mut files = vec![crate::model::ensure()?];
    files.extend(crate::model::quantize(false)?);
    let ours = build_frontend()?;
    // Without Node.js or npm the comparison column is missing, the measurement still runs.
    let script = match peer_script() {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("bench infer: llama.cpp unavailable ({e:#}); measuring moteOS only");
            None
        }
    };
    let bw = memcpy_bandwidth();
    println!(
        "bench infer: single thread, {PROMPT}-token prompt then {GEN} generated tokens, median of {runs}; memcpy {:.1} GB/s \
         (a copy reads and writes every byte: streaming reads alone can beat this bound)",
        bw / 1e9
    );
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let out = std::process::Command::new(&ours)
            .arg("--model")
            .arg(file)
            .args(["--bench", &PROMPT.to_string(), &GEN.to_string(), &runs.to_string()])
            .output()
            .context("running the moteOS engine")?;
        if !out.status.success() {
            bail!("moteOS engine failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let (p, g, v) = speeds(&out.stdout)?;
        let bytes = v["weight_bytes_per_token"].as_f64().unwrap_or(f64::NAN);
        let peer = script.as_ref().map(|script| {
            std::process::Command::new("node")
                .current_dir(script.parent().unwrap_or(Path::new(".")))
                .arg(script)
                .arg(file)
                .args([PROMPT.to_string(), GEN.to_string(), runs.to_string()])
                .output()
        });
        let (lp, lg) = match peer {
            Some(Ok(out)) if out.status.success() => {
                let (a, b, _) = speeds(&out.stdout)?;
                (a, b)
            }
            Some(Ok(out)) => {
                eprintln!("llama.cpp failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
                (f64::NAN, f64::NAN)
            }
            Some(Err(e)) => {
                eprintln!("llama.cpp could not run on {name}: {e}");
                (f64::NAN, f64::NAN)
            }
            None => (f64::NAN, f64::NAN),
        };
        println!(
            "bench infer {name} ({}): prompt {p:.0} tok/s vs llama.cpp {lp:.0} ({:.2}x); generation {g:.0} tok/s vs llama.cpp {lg:.0} ({:.2}x); memcpy-bandwidth bound {:.0} tok/s ({:.0} MB of weights per token; generation at {:.0} % of it)",
            v["isa"].as_str().unwrap_or("?"),
            p / lp,
            g / lg,
            bw / bytes,
            bytes / 1e6,
            100.0 * g / (bw / bytes),
        );
    }
    Ok(())
}
