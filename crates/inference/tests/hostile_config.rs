//! Crafted model files whose metadata would overflow or break a size the loader derives: each
//! is refused with a sentence (never a panic or an arithmetic overflow), and the untouched tiny
//! model loads and runs, so the refusals are about the one key changed.

mod common;

use common::writer::{GgufWriter, Kv, tiny_llama};
use inference::{Engine, EngineOptions, LoadError, SamplingParams};

fn load(w: &GgufWriter, options: EngineOptions) -> Result<(), LoadError> {
    let bytes = w.bytes();
    let mut engine = Engine::load(&bytes, options)?;
    // A model that loads must also run.
    engine.generate(&[1, 5, 6], SamplingParams { max_tokens: 2, ..SamplingParams::greedy() }).unwrap();
    Ok(())
}

/// Loads `w` with default options and returns the refusal's sentence.
fn refusal(w: &GgufWriter) -> String {
    match load(w, EngineOptions::default()) {
        Ok(()) => panic!("the crafted file was accepted"),
        Err(e) => e.to_string(),
    }
}

fn with(key: &str, value: Kv) -> GgufWriter {
    let mut w = tiny_llama();
    w.set(key, value);
    w
}

#[test]
fn the_untouched_tiny_model_loads_and_runs() {
    load(&tiny_llama(), EngineOptions::default()).unwrap();
}

#[test]
fn key_length_near_2_pow_63_is_refused() {
    let msg = refusal(&with("llama.attention.key_length", Kv::U64(1 << 63)));
    assert!(msg.contains("attention.head_count × attention.key_length is too large"), "{msg}");
    let msg = refusal(&with("llama.attention.key_length", Kv::U64(u64::MAX - 1)));
    assert!(msg.contains("too large") || msg.contains("out of range"), "{msg}");
}

#[test]
fn head_counts_that_overflow_are_refused() {
    let mut w = with("llama.attention.key_length", Kv::U64(1 << 32));
    w.set("llama.attention.head_count", Kv::U64(1 << 32)).set("llama.attention.head_count_kv", Kv::U64(1 << 32));
    let msg = refusal(&w);
    assert!(msg.contains("overflows"), "{msg}");
    // Huge but not overflowing: the tensors do not have that shape.
    let msg = refusal(&with("llama.attention.head_count", Kv::U64(1 << 40)));
    assert!(msg.contains("has shape") || msg.contains("not a multiple"), "{msg}");
    assert!(refusal(&with("llama.attention.head_count_kv", Kv::U32(0))).contains("zero"));
    assert!(refusal(&with("llama.attention.head_count_kv", Kv::U32(3))).contains("multiple"));
}

#[test]
fn feed_forward_and_width_near_2_pow_63_are_refused() {
    let msg = refusal(&with("llama.feed_forward_length", Kv::U64(1 << 63)));
    assert!(msg.contains("blk.0.ffn_gate.weight") && msg.contains("has shape"), "{msg}");
    let msg = refusal(&with("llama.embedding_length", Kv::U64(u64::MAX)));
    assert!(msg.contains("has shape") || msg.contains("not a multiple"), "{msg}");
}

#[test]
fn a_block_count_near_2_pow_63_asks_for_a_missing_tensor() {
    let msg = refusal(&with("llama.block_count", Kv::U64((1 << 63) + 5)));
    assert!(msg.contains("no tensor \"blk.1."), "{msg}");
}

#[test]
fn rotary_and_value_widths_are_checked() {
    assert!(refusal(&with("llama.rope.dimension_count", Kv::U64(u64::MAX))).contains("rotary"));
    assert!(refusal(&with("llama.rope.dimension_count", Kv::U32(7))).contains("rotary"));
    assert!(refusal(&with("llama.attention.value_length", Kv::U32(8))).contains("value head width"));
}

#[test]
fn non_finite_numbers_are_refused() {
    for (key, value) in [
        ("llama.rope.freq_base", f32::NAN),
        ("llama.rope.freq_base", f32::INFINITY),
        ("llama.attention.layer_norm_rms_epsilon", f32::NAN),
        ("llama.attention.layer_norm_rms_epsilon", -1.0),
    ] {
        let msg = refusal(&with(key, Kv::F32(value)));
        assert!(msg.contains("out of range") || msg.contains("epsilon"), "{key}={value}: {msg}");
    }
}

#[test]
fn huge_contexts_are_clamped_or_refused_without_overflow() {
    // The model claims an enormous training window; the engine's own context bounds the cache.
    load(&with("llama.context_length", Kv::U64(u64::MAX)), EngineOptions::default()).unwrap();
    // Asked for more than memory can hold: a sentence about memory, not an overflow.
    let w = with("llama.context_length", Kv::U64(u64::MAX));
    for context in [usize::MAX, usize::MAX / 3, 1 << 60] {
        let err = load(&w, EngineOptions { context, prefill_batch: 8, ..Default::default() }).unwrap_err();
        assert!(matches!(err, LoadError::OutOfMemory { .. }), "{err}");
        assert!(err.to_string().contains("not enough memory"));
    }
    // A batch larger than memory, within a small context, is clamped to the context.
    load(&tiny_llama(), EngineOptions { context: 16, prefill_batch: usize::MAX, ..Default::default() }).unwrap();
}
