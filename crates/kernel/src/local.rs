//! The local model: the engine over the file the boot loader read, or why there is none.

use crate::boot_info::{ModelFile, ModelLoad};
use crate::time;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use app::LocalModel;
use inference::{ChatEngine, EngineOptions};
use log::{info, warn};

/// Positions in the local model's KV cache: the whole conversation must fit.
const LOCAL_CONTEXT: usize = 2048;
/// The most prompt tokens per engine step. The engine starts at 4 (the width of the tile
/// kernels) and doubles the batch while steps take under half of [`PREFILL_BUDGET_MICROS`]: on
/// hardware, where four tokens take a few milliseconds, prompts run in batches of up to 64 (the
/// weights are read once per batch); under emulation, where four take about 2 s, steps stay at 4.
const LOCAL_PREFILL_BATCH: usize = 64;
/// How long one prompt step may take: bounded work between two looks at the keyboard.
const PREFILL_BUDGET_MICROS: u64 = 50_000;

/// Loads the engine over `file`, or says why it cannot run.
pub fn load(file: Option<&ModelFile>, seed: u64) -> (Option<Box<ChatEngine<'static>>>, LocalModel) {
    let Some(file) = file else { return (None, LocalModel::Missing) };
    let bytes = match &file.load {
        ModelLoad::Loaded(bytes) => *bytes,
        ModelLoad::Missing => return (None, LocalModel::Missing),
        ModelLoad::Unreadable(why) => {
            let why = format!("the local model {} cannot be loaded: {why}", file.path);
            warn!("chat: {why}");
            return (None, LocalModel::Broken(why));
        }
    };
    let started = time::now().as_millis();
    let options = EngineOptions {
        context: LOCAL_CONTEXT,
        seed,
        prefill_batch: LOCAL_PREFILL_BATCH,
        prefill_budget_micros: PREFILL_BUDGET_MICROS,
        clock: Some(micros),
        ..EngineOptions::default()
    };
    match ChatEngine::load(bytes, options) {
        Ok(mut engine) => {
            // Matrix rows and attention heads go to every processor that came up.
            engine.engine_mut().set_pool(crate::arch::pool::shared());
            let name = String::from(engine.engine().gguf().get_str("general.name").unwrap_or("model"));
            let kernels = match engine.engine().kernel_fallback() {
                // The load-time check caught SIMD kernels disagreeing with the portable ones.
                Some(isa) => format!("portable kernels ({} kernels failed their self-check)", isa.name()),
                None => format!("{} kernels", inference::tensor::Kernels::detect().isa().name()),
            };
            info!(
                "chat: local model {} ({:.1} MB) ready in {} ms, {kernels}",
                file.path,
                bytes.len() as f64 / 1e6,
                time::now().as_millis().saturating_sub(started),
            );
            let context = u32::try_from(LOCAL_CONTEXT).unwrap_or(u32::MAX);
            (Some(Box::new(engine)), LocalModel::Ready { name, context })
        }
        Err(e) => {
            let why = format!("the local model {} cannot be used: {e}", file.path);
            warn!("chat: {why}");
            (None, LocalModel::Broken(why))
        }
    }
}

/// The monotonic clock in microseconds, for the engine's tokens-per-second figures.
fn micros() -> u64 {
    time::now().as_nanos() / 1000
}
