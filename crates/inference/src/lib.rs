//! moteOS local inference: runs a small Llama, Qwen, Gemma or Phi model from a GGUF file on the CPU.
//!
//! Portable (`no_std + alloc`); `unsafe` lives only in the SIMD kernels, each block justified.
//!
//! Layers, bottom up: [`gguf`] (zero-copy file reader) → [`tensor`] (block formats, dequantising,
//! fused quantised dot products with scalar / SSE2 / AVX2 / NEON paths chosen at run time) →
//! [`family`] (what distinguishes the architectures, as data) → [`model`] (one loader and one
//! forward pass for all of them, KV cache, split over a [`WorkPool`]) → [`sampler`] → [`engine`] (step-wise requests over
//! token ids) → [`chat`] (template + tokenizer + streamed text). [`quantize`] re-encodes a model.
//!
//! How an event loop drives it (each `step` is bounded: one prompt batch or one token):
//!
//! ```ignore
//! // x86_64: enable AVX state (CR4.OSXSAVE, XCR0) first, so detection can pick AVX2.
//! let mut chat = ChatEngine::load(model_bytes, EngineOptions { context: 1024, clock: Some(now_us), ..Default::default() })?;
//! chat.start(&[Message::user("Hello")], SamplingParams::default())?;
//! loop {
//!     if ctrl_c_pressed() { chat.cancel(); }
//!     match chat.step()? {
//!         ChatStep::Prefill { done, total } => show_progress(done, total),
//!         ChatStep::Text(piece) => append_to_reply(&piece),
//!         ChatStep::Finished(_) => break,
//!     }
//! }
//! show_status(chat.generation_tokens_per_second());
//! ```

#![no_std]
#![warn(missing_docs)]
// Only the SIMD module may use `unsafe` (it allows it explicitly).
#![deny(unsafe_code)]

extern crate alloc;

pub mod chat;
pub mod engine;
pub mod family;
pub mod gguf;
pub mod model;
pub mod pool;
pub mod quantize;
mod reply;
pub mod sampler;
#[allow(unsafe_code)]
mod simd;
pub mod summary;
pub mod tensor;
pub mod tokenizer;

pub use chat::{ChatEngine, ChatError, ChatStep};
pub use engine::{Engine, EngineError, EngineOptions, FinishReason, MIN_ADAPTIVE_BATCH, Stats, Step};
pub use family::Family;
pub use model::LoadError;
pub use pool::{SingleThread, WorkPool};
pub use sampler::SamplingParams;
pub use summary::ModelSummary;
pub use tokenizer::{Message, Role};
