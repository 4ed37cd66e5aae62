//! `cargo xtask bench gguf`: how the GGUF reader's time grows with the number of tensors.
//! Parsing 80,000 tensor descriptions is measured against ten times the parse of 8,000 (the
//! baseline, same run): a ratio near 1 means linear growth; quadratic duplicate checks (the
//! reader before hardening) gave about 10.

use crate::gguf_craft::many_tensors;
use anyhow::{Result, ensure};
use inference::gguf::Gguf;
use std::time::{Duration, Instant};

/// Median time of `runs` parses of `bytes`.
fn median_parse(bytes: &[u8], runs: usize) -> Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let g = Gguf::parse(bytes)?;
        std::hint::black_box(&g);
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Runs the benchmark and prints the ratio.
pub fn run(runs: usize) -> Result<()> {
    let small = many_tensors(8_000);
    let large = many_tensors(80_000);
    ensure!(Gguf::parse(&large)?.tensors().len() == 80_000, "the 80,000-tensor file did not parse");
    let runs = runs.max(3);
    let base = median_parse(&small, runs)?;
    let big = median_parse(&large, runs)?;
    let ratio = big.as_secs_f64() / (10.0 * base.as_secs_f64());
    println!(
        "gguf parse: 80,000 tensors ({} KiB) {:.2} ms, baseline 10 x 8,000 tensors {:.2} ms: ratio {ratio:.2} (1 = linear)",
        large.len() / 1024,
        big.as_secs_f64() * 1e3,
        10.0 * base.as_secs_f64() * 1e3,
    );
    Ok(())
}
