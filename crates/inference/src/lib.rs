//! moteOS local inference: runs a small llama-family model from a GGUF file on the CPU.
//!
//! Portable (`no_std + alloc`); `unsafe` lives only in the SIMD kernels, each block justified.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod gguf;
pub mod tensor;
pub mod tokenizer;
