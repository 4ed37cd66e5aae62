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
// node bench.mjs MODEL PROMPT_TOKENS GEN_TOKENS RUNS THREADS[,THREADS..] -> one JSON line per thread count
// One context per thread count; one unmeasured run each, then RUNS rounds of one run per context
// in turn, as the moteOS side does.
import {getLlama} from "node-llama-cpp";
const [modelPath, nPrompt, nGen, runs, threadList] = process.argv.slice(2).map((v, i) => i && i < 4 ? Number(v) : v);
const counts = threadList.split(",").map(Number);
const llama = await getLlama({gpu: false, build: "never", maxThreads: Math.max(...counts)});
const model = await llama.loadModel({modelPath});
const contexts = [];
for (const threads of counts) {
  contexts.push(await model.createContext({contextSize: 1024, threads, batchSize: 512})); // BATCH in infer.rs
}
// The same synthetic prompt of ordinary tokens as the moteOS side.
const prompt = Array.from({length: nPrompt}, (_, i) => 1000 + (i * 7919) % 20000);
const seqs = contexts.map((c) => c.getSequence());
async function once(seq) {
  await seq.clearHistory();
  let t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  const p = nPrompt / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let n = 0;
  for await (const t of seq.evaluate([prompt[0]], {temperature: 0})) { if (++n >= nGen) break; }
  const g = n / ((performance.now() - t0) / 1000);
  return [p, g];
}
for (const seq of seqs) await once(seq);
const speeds = counts.map(() => []);
for (let r = 0; r < runs; r++) {
  for (let i = 0; i < seqs.length; i++) speeds[i].push(await once(seqs[i]));
}
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
counts.forEach((threads, i) => {
  const vs = (k) => med(speeds[i].map((s, r) => s[k] / speeds[0][r][k]));
  const best = (j, k) => Math.max(...speeds[j].map((s) => s[k]));
  console.log(JSON.stringify({threads, prompt_tps: med(speeds[i].map((s) => s[0])), gen_tps: med(speeds[i].map((s) => s[1])),
    prompt_vs_first: vs(0), gen_vs_first: vs(1), prompt_vs_first_best: best(i, 0) / best(0, 0), gen_vs_first_best: best(i, 1) / best(0, 1)}));
});
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

/// One engine's measurement at one thread count, from its JSON line.
#[derive(Clone, Copy)]
struct Speed {
    /// Median tokens/s.
    prompt: f64,
    generate: f64,
    /// Median over rounds of this count's speed over the first count's in the same round.
    prompt_gain: f64,
    generate_gain: f64,
    /// This count's fastest run over the first count's fastest (the least disturbed rounds).
    prompt_gain_best: f64,
    generate_gain_best: f64,
}

const MISSING: Speed = Speed {
    prompt: f64::NAN,
    generate: f64::NAN,
    prompt_gain: f64::NAN,
    generate_gain: f64::NAN,
    prompt_gain_best: f64::NAN,
    generate_gain_best: f64::NAN,
};

/// Every JSON line of `stdout`, by thread count, in order.
fn speeds(stdout: &[u8]) -> Result<Vec<(usize, Speed, serde_json::Value)>> {
    let text = String::from_utf8_lossy(stdout);
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let speed = Speed {
            prompt: f("prompt_tps"),
            generate: f("gen_tps"),
            prompt_gain: f("prompt_vs_first"),
            generate_gain: f("gen_vs_first"),
            prompt_gain_best: f("prompt_vs_first_best"),
            generate_gain_best: f("gen_vs_first_best"),
        };
        out.push((v["threads"].as_u64().context("a result line without its thread count")? as usize, speed, v));
    }
    if out.is_empty() {
        bail!("no JSON result line");
    }
    Ok(out)
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

/// One file's measurements: (threads, moteOS, llama.cpp) per thread count.
type Rows = Vec<(usize, Speed, Speed)>;

/// llama.cpp on `file` at each of `threads` through the node script, alternating between them
/// as the moteOS side does (NaN when unavailable).
fn peer_speeds(
    script: Option<&Path>,
    file: &Path,
    name: &str,
    args: &[String],
    threads: &str,
) -> Result<Vec<(usize, Speed)>> {
    let missing = || threads.split(',').filter_map(|n| n.parse().ok()).map(|n| (n, MISSING)).collect();
    let Some(script) = script else { return Ok(missing()) };
    let out = std::process::Command::new("node")
        .current_dir(script.parent().unwrap_or(Path::new(".")))
        .arg(script)
        .arg(file)
        .args(args)
        .arg(threads)
        .output();
    Ok(match out {
        Ok(out) if out.status.success() => speeds(&out.stdout)?.into_iter().map(|(n, s, _)| (n, s)).collect(),
        Ok(out) => {
            eprintln!("llama.cpp failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
            missing()
        }
        Err(e) => {
            eprintln!("llama.cpp could not run on {name}: {e}");
            missing()
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
    // Prompt tokens per forward pass on both sides: llama.cpp's context batch (`batchSize` in the
    // script), so each engine takes the whole prompt in one batch.
    const BATCH: usize = 512;
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
        "bench infer: threads {threads:?} (each engine alternates between them run by run, after one unmeasured run each), \
         {PROMPT}-token prompt (in batches of up to {BATCH} tokens on both sides) then {GEN} generated tokens, median of {runs}; memcpy {:.1} GB/s \
         (a copy reads and writes every byte: streaming reads alone can beat this bound)",
        bw / 1e9
    );
    let args = [PROMPT.to_string(), GEN.to_string(), runs.to_string()];
    let mut table: Vec<(String, Rows)> = Vec::new();
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let list = threads.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        let out = std::process::Command::new(&ours)
            .arg("--model")
            .arg(file)
            .arg("--bench")
            .args(&args)
            .args(["--threads", &list, "--batch", &BATCH.to_string()])
            .output()
            .context("running the moteOS engine")?;
        if !out.status.success() {
            bail!("moteOS engine failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let results = speeds(&out.stdout)?;
        let peers = peer_speeds(script.as_deref(), file, &name, &args, &list)?;
        let mut rows = Rows::new();
        for (n, ours, v) in results {
            let peer = peers.iter().find(|p| p.0 == n).map_or(MISSING, |p| p.1);
            let (p, g) = (ours.prompt, ours.generate);
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
        // Speed-ups from the rounds themselves: each round ran every count back to back, so a
        // slow minute on the host slows both sides of the ratio. Beside them, the ratio of each
        // count's fastest run: on a shared host, multi-thread runs are the ones another tenant
        // slows, in bursts that a median of 5 rounds does not always outvote.
        let first = threads[0];
        for &(n, ours, peer) in rows.iter().skip(1) {
            println!(
                "bench infer {name}: {n} threads / {first}: prompt moteOS {:.2}x (target >= {:.1}x), llama.cpp {:.2}x; generation moteOS {:.2}x, llama.cpp {:.2}x (median of the per-round ratios); fastest runs: prompt moteOS {:.2}x, llama.cpp {:.2}x; generation moteOS {:.2}x, llama.cpp {:.2}x",
                ours.prompt_gain,
                0.9 * n as f64 / first as f64,
                peer.prompt_gain,
                ours.generate_gain,
                peer.generate_gain,
                ours.prompt_gain_best,
                peer.prompt_gain_best,
                ours.generate_gain_best,
                peer.generate_gain_best,
            );
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
