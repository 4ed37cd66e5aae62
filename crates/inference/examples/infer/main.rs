//! Host front end of the engine (run by `cargo xtask infer`, always as a release build):
//!
//! `infer --model FILE (--prompt TEXT | --chat TEXT) [-n N] [--greedy] [--temperature T] [--seed S]
//!        [--context N] [--batch N] [--isa scalar|sse2|avx2|avx512|neon] [--threads N]`
//! `infer --model FILE --bench PROMPT_TOKENS GEN_TOKENS RUNS [--threads N[,N..]] [--batch N] [--isa ..]`
//!
//! Streams the continuation to stdout, then prints one line with prompt and generation tokens/s;
//! with `--bench`, prints one JSON line of median speeds per thread count instead (`cargo xtask
//! bench infer`). With several thread counts the runs alternate between them, so each count sees
//! the same host conditions, and each line also gives the median of the per-run speed-ups over
//! the first count.

mod pool;

use std::io::Write;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Instant;

use inference::tensor::{Isa, Kernels};
use inference::tokenizer::{Decoder, EncodeOptions, Message, Tokenizer};
use inference::{Engine, EngineOptions, FinishReason, SamplingParams, Step, WorkPool};

fn micros() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

struct Args {
    model: String,
    /// `--bench PROMPT_TOKENS GEN_TOKENS RUNS`: measure instead of chatting.
    bench: Option<(usize, usize, usize)>,
    text: String,
    chat: bool,
    n: usize,
    params: SamplingParams,
    seed: u64,
    context: usize,
    batch: usize,
    isa: Option<Isa>,
    /// One count, or (with `--bench`) several to alternate between.
    threads: Vec<usize>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut model = None;
    let mut text = None;
    let mut chat = false;
    let mut n = 128;
    let mut params = SamplingParams::default();
    let mut seed = 0;
    let mut context = 2048;
    let mut batch = EngineOptions::default().prefill_batch;
    let mut isa = None;
    let mut greedy = false;
    let mut bench = None;
    let mut threads = vec![1];
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--model" => model = Some(val()?),
            "--prompt" => text = Some(val()?),
            "--chat" => {
                text = Some(val()?);
                chat = true;
            }
            "-n" => n = val()?.parse().map_err(|e| format!("-n: {e}"))?,
            "--greedy" => greedy = true,
            "--bench" => {
                let mut num = || -> Result<usize, String> {
                    it.next().and_then(|v| v.parse().ok()).ok_or("--bench needs PROMPT_TOKENS GEN_TOKENS RUNS".into())
                };
                bench = Some((num()?, num()?, num()?));
            }
            "--temperature" => params.temperature = val()?.parse().map_err(|e| format!("--temperature: {e}"))?,
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--context" => context = val()?.parse().map_err(|e| format!("--context: {e}"))?,
            "--batch" => batch = val()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--threads" => {
                threads = val()?
                    .split(',')
                    .map(|v| v.trim().parse::<usize>().map_err(|e| format!("--threads: {e}")))
                    .collect::<Result<_, _>>()?;
                if threads.contains(&0) {
                    return Err("--threads: at least 1".into());
                }
            }
            "--isa" => {
                isa = Some(match val()?.as_str() {
                    "scalar" => Isa::Scalar,
                    "sse2" => Isa::Sse2,
                    "avx2" => Isa::Avx2,
                    "avx512" => Isa::Avx512,
                    "neon" => Isa::Neon,
                    other => return Err(format!("--isa: unknown instruction set {other}")),
                })
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if greedy {
        params = SamplingParams::greedy();
    }
    params.max_tokens = n;
    if bench.is_none() && threads.len() != 1 {
        return Err("--threads: several counts only with --bench".into());
    }
    Ok(Args {
        model: model.ok_or("--model FILE is required")?,
        text: match (text, bench) {
            (Some(t), _) => t,
            (None, Some(_)) => String::new(),
            (None, None) => return Err("--prompt TEXT or --chat TEXT is required".into()),
        },
        bench,
        chat,
        n,
        params,
        seed,
        context,
        batch,
        isa,
        threads,
    })
}

fn run(args: Args) -> Result<(), String> {
    let bytes = std::fs::read(&args.model).map_err(|e| format!("cannot read {}: {e}", args.model))?;
    let kernels = match args.isa {
        Some(isa) => Some(Kernels::with_isa(isa).ok_or(format!("this CPU cannot run {}", isa.name()))?),
        None => None,
    };
    let opts = EngineOptions {
        context: args.context,
        seed: args.seed,
        prefill_batch: args.batch,
        kernels,
        clock: Some(micros),
        ..Default::default()
    };
    let mut engine = Engine::load(&bytes, opts).map_err(|e| e.to_string())?;
    let pools: Vec<pool::HostPool> = args.threads.iter().map(|&n| pool::HostPool::new(n)).collect();
    std::thread::scope(|scope| {
        for pool in &pools {
            for index in 1..pool.threads() {
                scope.spawn(move || pool.work(index));
            }
        }
        let result = match args.bench {
            Some((n_prompt, n_gen, runs)) => bench(&mut engine, &pools, n_prompt, n_gen, runs),
            None => {
                engine.set_pool(&pools[0]);
                drive(&mut engine, &args)
            }
        };
        pools.iter().for_each(pool::HostPool::stop);
        result
    })
}

fn drive(engine: &mut Engine<'_>, args: &Args) -> Result<(), String> {
    let threads = args.threads[0];
    let tokenizer = Tokenizer::from_gguf(engine.gguf()).map_err(|e| e.to_string())?;
    let prompt = if args.chat {
        let template = tokenizer.chat_template().map_err(|e| e.to_string())?;
        tokenizer.encode_conversation(&template, &[Message::user(&args.text)], true)
    } else {
        // Raw text: no template, BOS only if the model asks for one.
        tokenizer
            .encode(&args.text, EncodeOptions { add_bos: tokenizer.model_options(false).add_bos, ..Default::default() })
    };
    eprintln!(
        "model: {} {} layers, width {}, {} kernels, {threads} threads; prompt: {} tokens; generating up to {}",
        engine.config().family.name,
        engine.config().n_layers,
        engine.config().dim,
        engine.model().kernels().isa().name(),
        prompt.len(),
        args.n
    );
    engine.begin(&prompt, args.params.clone()).map_err(|e| e.to_string())?;
    let mut decoder = Decoder::new();
    let mut out = std::io::stdout().lock();
    if !args.chat {
        let _ = write!(out, "{}", args.text);
    }
    let reason = loop {
        match engine.step().map_err(|e| e.to_string())? {
            Step::Prefill { .. } => {}
            Step::Token(t) => {
                let _ = write!(out, "{}", decoder.push(&tokenizer, t));
                let _ = out.flush();
            }
            Step::Finished(r) => break r,
        }
    };
    let _ = writeln!(out, "{}", decoder.finish());
    let s = engine.stats();
    let why = match reason {
        FinishReason::Stop(_) => "stop token",
        FinishReason::MaxTokens => "token limit",
        FinishReason::ContextFull => "context full",
        FinishReason::Cancelled => "cancelled",
    };
    let _ = writeln!(
        out,
        "[prompt: {} tokens, {:.1} tokens/s | generation: {} tokens, {:.1} tokens/s | ended by {why}]",
        s.prompt_tokens,
        s.prompt_tokens_per_second(),
        s.generated_tokens,
        s.generation_tokens_per_second()
    );
    Ok(())
}

/// Speed with each of `pools` on a synthetic prompt of ordinary tokens (the same ids the
/// llama.cpp side of `cargo xtask bench infer` uses): one unmeasured run per pool, then `runs`
/// rounds of one run per pool in turn. One JSON line per pool on stdout: median speeds, the
/// median over rounds of the speed-up against the first pool in the same round, and the speed-up
/// of the fastest run of each pool.
fn bench<'a>(
    engine: &mut Engine<'a>,
    pools: &'a [pool::HostPool],
    n_prompt: usize,
    n_gen: usize,
    runs: usize,
) -> Result<(), String> {
    let prompt: Vec<u32> = (0..n_prompt).map(|i| 1000 + (i as u32 * 7919) % 20000).collect();
    let params = SamplingParams { max_tokens: n_gen, ignore_stop_tokens: true, ..SamplingParams::greedy() };
    let once = |engine: &mut Engine<'a>, pool: &'a pool::HostPool| -> Result<(f64, f64), String> {
        engine.set_pool(pool);
        engine.reset();
        engine.generate(&prompt, params.clone()).map_err(|e| e.to_string())?;
        Ok((engine.stats().prompt_tokens_per_second(), engine.stats().generation_tokens_per_second()))
    };
    for pool in pools {
        once(engine, pool)?;
    }
    // speeds[pool][round] = (prompt, generation)
    let mut speeds = vec![Vec::new(); pools.len()];
    for _ in 0..runs.max(1) {
        for (pool, out) in pools.iter().zip(&mut speeds) {
            out.push(once(engine, pool)?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (pool, runs) in pools.iter().zip(&speeds) {
        let first = &speeds[0];
        // 0 when there is nothing to compare (no generated tokens): JSON has no NaN.
        let ratio = |pick: fn(&(f64, f64)) -> f64| {
            let r = median(runs.iter().zip(first).map(|(r, f)| pick(r) / pick(f)).collect());
            if r.is_finite() { r } else { 0.0 }
        };
        // The same from each count's fastest run: the rounds least disturbed by anything else on
        // the host (which slows multi-thread runs far more than single-thread ones).
        let best_ratio = |pick: fn(&(f64, f64)) -> f64| {
            let best = |v: &[(f64, f64)]| v.iter().map(pick).fold(0.0, f64::max);
            let r = best(runs) / best(first);
            if r.is_finite() { r } else { 0.0 }
        };
        println!(
            "{{\"prompt_tps\":{:.2},\"gen_tps\":{:.2},\"prompt_vs_first\":{:.3},\"gen_vs_first\":{:.3},\"prompt_vs_first_best\":{:.3},\"gen_vs_first_best\":{:.3},\"weight_bytes_per_token\":{},\"isa\":\"{}\",\"threads\":{}}}",
            median(runs.iter().map(|r| r.0).collect()),
            median(runs.iter().map(|r| r.1).collect()),
            ratio(|r| r.0),
            ratio(|r| r.1),
            best_ratio(|r| r.0),
            best_ratio(|r| r.1),
            engine.model().weight_bytes_per_token(),
            engine.model().kernels().isa().name(),
            pool.threads(),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("infer: {e}");
            ExitCode::FAILURE
        }
    }
}
