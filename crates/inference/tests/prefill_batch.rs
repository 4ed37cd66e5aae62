//! The adaptive prompt batch (`EngineOptions::prefill_budget_micros`): steps grow while they are
//! fast, shrink when they overrun, and never go below the tile width, measured with a clock the
//! test controls.

use std::cell::Cell;

use inference::{Engine, EngineOptions, MIN_ADAPTIVE_BATCH, SamplingParams, Step};

thread_local! {
    static NOW: Cell<u64> = const { Cell::new(0) };
    /// How far the clock moves per reading: the engine reads it before and after each step, so
    /// every step "takes" this long.
    static TICK: Cell<u64> = const { Cell::new(1_000) };
}

fn clock() -> u64 {
    let now = NOW.with(|n| n.get()) + TICK.with(Cell::get);
    NOW.with(|n| n.set(now));
    now
}

fn model() -> Vec<u8> {
    let path = format!("{}/tests/fixtures/synthetic/qwen3-tiny.gguf", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The prompt positions reached after each prompt step of a 100-token prompt, with the clock
/// moving 1 ms per reading, and `slow_tick` per reading from step `slow_from` (0-based) on.
fn steps(bytes: &[u8], budget: u64, slow_from: usize, slow_tick: u64) -> Vec<usize> {
    NOW.with(|n| n.set(0));
    TICK.with(|t| t.set(1_000));
    let options = EngineOptions {
        context: 256,
        prefill_batch: 32,
        prefill_budget_micros: budget,
        clock: Some(clock),
        ..Default::default()
    };
    let mut engine = Engine::load(bytes, options).unwrap();
    let prompt: Vec<u32> = (0..100).map(|i| 3 + i % 50).collect();
    engine.begin(&prompt, SamplingParams { max_tokens: 1, ..SamplingParams::greedy() }).unwrap();
    let mut done = Vec::new();
    loop {
        if done.len() == slow_from {
            TICK.with(|t| t.set(slow_tick));
        }
        match engine.step().unwrap() {
            Step::Prefill { done: d, .. } => done.push(d),
            _ => return done,
        }
    }
}

#[test]
fn prompt_steps_grow_while_fast_and_shrink_when_slow() {
    let bytes = model();
    assert_eq!(MIN_ADAPTIVE_BATCH, 4);
    // No budget: every step is the configured batch.
    assert_eq!(steps(&bytes, 0, usize::MAX, 0), [32, 64, 96, 100]);
    // Steps of 1 ms against a 10 ms budget: doubling up to the configured 32.
    assert_eq!(steps(&bytes, 10_000, usize::MAX, 0), [4, 12, 28, 60, 92, 100]);
    // Against a 1.5 ms budget a 1 ms step is neither over it nor under half of it: stays at 4.
    let steady = steps(&bytes, 1_500, usize::MAX, 0);
    assert_eq!(steady.len(), 25);
    assert!(steady.windows(2).all(|w| w[1] - w[0] == 4), "{steady:?}");
    // Fast, then 50 ms steps from the fourth on: 4, 8, 16, then 32 halving back to the floor.
    assert_eq!(steps(&bytes, 10_000, 3, 50_000)[..7], [4, 12, 28, 60, 76, 84, 88]);
    // Slower than the budget from the start: never under the floor.
    let slow = steps(&bytes, 500, 0, 1_000);
    assert!(slow.windows(2).all(|w| w[1] - w[0] == 4), "{slow:?}");
}
