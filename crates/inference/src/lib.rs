//! moteOS local inference: runs a small llama-family model from a GGUF file on the CPU.
//!
//! Portable (`no_std + alloc`); `unsafe` lives only in the SIMD kernels, each block justified.

#![no_std]
#![warn(missing_docs)]
// Only the SIMD module may use `unsafe` (it allows it explicitly).
#![deny(unsafe_code)]

extern crate alloc;

pub mod chat;
pub mod engine;
pub mod gguf;
pub mod model;
pub mod quantize;
pub mod sampler;
#[allow(unsafe_code)]
mod simd;
pub mod tensor;
pub mod tokenizer;

pub use chat::{ChatEngine, ChatError, ChatStep};
pub use engine::{Engine, EngineError, EngineOptions, FinishReason, Stats, Step};
pub use model::LoadError;
pub use sampler::SamplingParams;
pub use tokenizer::{Message, Role};
