//! moteOS language-model clients, sans-I/O.
//!
//! A [`Provider`] turns a conversation into an [`http::Request`] and the bytes of the
//! response into [`ReplyEvent`]s: text deltas as they stream, token usage, why the reply
//! ended, or a typed [`LlmError`] whose `Display` is a sentence for the user. The kernel
//! owns the sockets and TLS; nothing here does I/O, so every wire format is tested on the
//! host with recorded streams split at every byte.
//!
//! Two dialects cover every provider moteOS knows: Anthropic's Messages API and OpenAI's
//! Chat Completions API (OpenAI, Groq, xAI and any OpenAI-compatible server such as
//! Ollama, llama.cpp's server, vLLM or OpenRouter).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod anthropic;
mod chat;
mod decoder;
mod error;
mod id;
mod models;
mod openai;
mod provider;
mod source;
mod trim;

pub use chat::{ChatRequest, Message, Role};
pub use decoder::{FinishReason, ReplyDecoder, ReplyEvent, Usage};
pub use error::{ErrorKind, LlmError};
pub use id::ProviderId;
pub use models::{builtin_models, context_window};
pub use provider::{Dialect, Provider};
pub use source::{Activity, ReplySource};
pub use trim::{estimate_tokens, trim_to_budget};
