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
const PEER_SCRIPT: &str = r#"// Written by `cargo xtask bench infer`: llama.cpp's speed on one GGUF file with N threads.
// node bench.mjs MODEL PROMPT_TOKENS GEN_TOKENS RUNS THREADS -> {"prompt_tps":..,"gen_tps":..}
import {getLlama} from "node-llama-cpp";
const [modelPath, nPrompt, nGen, runs, threads] = process.argv.slice(2).map((v, i) => i ? Number(v) : v);
const llama = await getLlama({gpu: false, build: "never", maxThreads: threads});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 1024, threads, batchSize: 512});
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

/// One engine's median speeds on one file at one thread count (NaN where it could not run).
#[derive(Clone, Copy)]
struct Speed {
    prompt: f64,
    generate: f64,
}

/// One file's measurements: (threads, moteOS, llama.cpp) per thread count.
type Rows = Vec<(usize, Speed, Speed)>;

const MISSING: Speed = Speed { prompt: f64::NAN, generate: f64::NAN };

/// llama.cpp on `file` with `threads` threads through the node script (NaN when unavailable).
fn peer_speed(script: Option<&Path>, file: &Path, name: &str, args: &[String], threads: usize) -> Result<Speed> {
    let Some(script) = script else { return Ok(MISSING) };
    let out = std::process::Command::new("node")
        .current_dir(script.parent().unwrap_or(Path::new(".")))
        .arg(script)
        .arg(file)
        .args(args)
        .arg(threads.to_string())
        .output();
    Ok(match out {
        Ok(out) if out.status.success() => {
            let (prompt, generate, _) = speeds(&out.stdout)?;
            Speed { prompt, generate }
        }
        Ok(out) => {
            eprintln!("llama.cpp failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
            MISSING
        }
        Err(e) => {
            eprintln!("llama.cpp could not run on {name}: {e}");
            MISSING
        }
    })
}

/// The host's 1-minute load average (Linux), or "?".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// `cargo xtask bench infer --threads 1,2`: prompt and generation speed of each variant of the
/// bundled model and of a synthetic ~0.5B model per family, at each thread count, against
/// llama.cpp on the same file with the same threads in the same run (and, on one thread, against
/// the memory-bandwidth bound); then how much each engine gains from more threads.
pub fn bench(runs: usize, threads: &[usize]) -> Result<()> {
    const PROMPT: usize = 128;
    const GEN: usize = 64;
    let threads: Vec<usize> = if threads.is_empty() { vec![1] } else { threads.to_vec() };
    if threads.contains(&0) {
        bail!("--threads: every count must be at least 1");
    }
    let mut files = vec![crate::model::ensure()?];
    files.extend(crate::model::quantize(false)?);
    files.extend(crate::model::synthetic_bench()?);
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
    let load_before = load_average();
    println!(
        "bench infer: threads {threads:?}, {PROMPT}-token prompt then {GEN} generated tokens, median of {runs}; memcpy {:.1} GB/s \
         (a copy reads and writes every byte: streaming reads alone can beat this bound)",
        bw / 1e9
    );
    let args = [PROMPT.to_string(), GEN.to_string(), runs.to_string()];
    let mut table: Vec<(String, Rows)> = Vec::new();
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut rows = Rows::new();
        for &n in &threads {
            let out = std::process::Command::new(&ours)
                .arg("--model")
                .arg(file)
                .arg("--bench")
                .args(&args)
                .args(["--threads", &n.to_string()])
                .output()
                .context("running the moteOS engine")?;
            if !out.status.success() {
                bail!("moteOS engine failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
            }
            let (p, g, v) = speeds(&out.stdout)?;
            let ours = Speed { prompt: p, generate: g };
            let peer = peer_speed(script.as_deref(), file, &name, &args, n)?;
            let bytes = v["weight_bytes_per_token"].as_f64().unwrap_or(f64::NAN);
            let bound = if n == 1 {
                format!(
                    "; memcpy-bandwidth bound {:.0} tok/s ({:.0} MB of weights per token; generation at {:.0} % of it)",
                    bw / bytes,
                    bytes / 1e6,
                    100.0 * g / (bw / bytes)
                )
            } else {
                String::new()
            };
            println!(
                "bench infer {name} ({}, {n} thread{}): prompt {p:.0} tok/s vs llama.cpp {:.0} ({:.2}x); generation {g:.0} tok/s vs llama.cpp {:.0} ({:.2}x){bound}",
                v["isa"].as_str().unwrap_or("?"),
                if n == 1 { "" } else { "s" },
                peer.prompt,
                p / peer.prompt,
                peer.generate,
                g / peer.generate,
            );
            rows.push((n, ours, peer));
        }
        if let Some(&(_, one, peer_one)) = rows.iter().find(|r| r.0 == 1) {
            for &(n, ours, peer) in rows.iter().filter(|r| r.0 > 1) {
                println!(
                    "bench infer {name}: {n} threads / 1 thread: prompt moteOS {:.2}x (target >= {:.1}x), llama.cpp {:.2}x; generation moteOS {:.2}x, llama.cpp {:.2}x",
                    ours.prompt / one.prompt,
                    0.9 * n as f64,
                    peer.prompt / peer_one.prompt,
                    ours.generate / one.generate,
                    peer.generate / peer_one.generate,
                );
            }
        }
        table.push((name, rows));
    }
    // The same numbers as one table (tokens/s; ratio = moteOS / llama.cpp).
    println!(
        "bench infer summary (host load average {load_before} before, {} after: other processes on the cores skew \
         multi-thread results): file | threads | prompt moteOS / llama.cpp (ratio) | generation moteOS / llama.cpp (ratio)",
        load_average()
    );
    for (name, rows) in &table {
        for (n, ours, peer) in rows {
            println!(
                "  {name} | {n} | {:.0} / {:.0} ({:.2}x) | {:.0} / {:.0} ({:.2}x)",
                ours.prompt,
                peer.prompt,
                ours.prompt / peer.prompt,
                ours.generate,
                peer.generate,
                ours.generate / peer.generate
            );
        }
    }
    Ok(())
}
