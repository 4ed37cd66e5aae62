//! `cargo xtask fuzz`: every cargo-fuzz target in `fuzz/` (parsers of model files, config
//! files, URLs, CA bundles, server responses and terminal bytes), built once, run one after
//! another. `cargo xtask test` runs each for a few seconds.

use crate::builder;
use crate::cargo;
use anyhow::{Context, Result, bail};

/// Every target in `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] =
    &["gguf", "tokenizer", "chat_template", "config", "llm_reply", "url", "pem", "serial", "response", "sse"];

/// Seconds per target in `cargo xtask test`: a smoke run (ten targets plus their build stay
/// within a few minutes); long runs are `cargo xtask fuzz`.
pub const SECONDS_IN_TEST: u64 = 8;

/// How long each target runs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Wall-clock seconds per target.
    pub seconds: u64,
    /// Stop after this many executions instead (the time limit still applies).
    pub runs: Option<u64>,
}

/// Build flags shared by `build` and `run` (they must match, or `run` rebuilds). No
/// sanitizer: every crate fuzzed forbids `unsafe` (the inference SIMD kernels are not on the
/// scalar path the fuzzer uses), so ASan would find nothing a panic would not, and it slows
/// both the build and each execution. 16 codegen units build much faster than cargo-fuzz's 1.
const BUILD_FLAGS: &[&str] = &["--sanitizer", "none", "--codegen-units", "16"];

/// libFuzzer limits: a runaway allocation (a count from the input believed) is a crash.
const LIMITS: &[&str] = &["-rss_limit_mb=2048", "-malloc_limit_mb=1024", "-timeout=10"];

/// Installs cargo-fuzz when missing.
fn ensure_cargo_fuzz() -> Result<()> {
    let have = cargo().args(["fuzz", "--version"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !have {
        println!("fuzz: installing cargo-fuzz");
        let status = cargo().args(["install", "cargo-fuzz", "--locked"]).status().context("installing cargo-fuzz")?;
        if !status.success() {
            bail!("installing cargo-fuzz failed");
        }
    }
    Ok(())
}

/// Builds the targets once, then runs `only` (or all) within `budget`; a crash fails and
/// leaves its input in `fuzz/artifacts/TARGET/`. Prints each target's execution count.
pub fn run(budget: Budget, only: Option<&str>) -> Result<()> {
    ensure_cargo_fuzz()?;
    let root = builder::root();
    let started = std::time::Instant::now();
    let status = cargo()
        .current_dir(&root)
        .args(["fuzz", "build"])
        .args(BUILD_FLAGS)
        .status()
        .context("building fuzz targets")?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    println!("fuzz: targets built in {:.0} s", started.elapsed().as_secs_f64());
    let targets: Vec<&str> = TARGETS.iter().copied().filter(|t| only.is_none_or(|o| o == *t)).collect();
    if targets.is_empty() {
        bail!("no fuzz target called {}; there are {}", only.unwrap_or_default(), TARGETS.join(", "));
    }
    let mut counts = Vec::new();
    for target in &targets {
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
        let mut cmd = cargo();
        cmd.current_dir(&root).args(["fuzz", "run"]).args(BUILD_FLAGS).arg(target).arg(&corpus);
        let seeds = root.join("fuzz/seeds").join(target);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--").args(LIMITS).arg(format!("-max_total_time={}", budget.seconds)).arg("-print_final_stats=1");
        if let Some(runs) = budget.runs {
            cmd.arg(format!("-runs={runs}"));
        }
        let output = cmd.output().with_context(|| format!("running fuzz target {target}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        let executions = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if !output.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("fuzz target {target} found a crash (input in fuzz/artifacts/{target}/):\n{}", tail.join("\n"));
        }
        let executions = executions.unwrap_or(0);
        println!("fuzz: {target}: {executions} executions, no crash");
        counts.push((*target, executions));
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "fuzz: {} targets, {total} executions without a crash in {:.0} s (build included)",
        counts.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
