//! OpenAI's Chat Completions API (`POST {base}/chat/completions`, `stream: true`), which
//! Groq, xAI and the OpenAI-compatible servers speak too.
//!
//! Each SSE `data:` is a `chat.completion.chunk` whose `choices[0].delta.content` carries
//! the text and whose `finish_reason` ends the turn; with `include_usage` a last chunk has
//! empty `choices` and the token counts; the literal `[DONE]` ends the stream. Errors in
//! the middle of a stream arrive as a `data:` object with an `error` member.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use http::{Request, SseEvent, Url};
use serde::{Deserialize, Serialize};

use crate::chat::ChatRequest;
use crate::decoder::{FinishReason, Piece, Usage, error_message};
use crate::id::ProviderId;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Turn<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    /// OpenAI's current name for the limit; its newer models refuse `max_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    /// What every other server understands.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: &'a str,
}

pub(crate) fn chat_request(
    id: ProviderId,
    base: &Url,
    api_key: Option<&str>,
    chat: &ChatRequest<'_>,
) -> Result<Request, String> {
    let mut messages = Vec::with_capacity(chat.messages.len() + 1);
    if let Some(system) = chat.system.filter(|s| !s.is_empty()) {
        messages.push(Turn { role: "system", content: system });
    }
    messages.extend(chat.messages.iter().map(|m| Turn { role: m.role.as_str(), content: &m.content }));
    let is_openai = id == ProviderId::OpenAi;
    let body = Body {
        model: chat.model,
        messages,
        stream: true,
        temperature: chat.temperature,
        max_completion_tokens: is_openai.then_some(chat.max_tokens),
        max_tokens: (!is_openai).then_some(chat.max_tokens),
        // Self-hosted servers differ in what they accept: send them only the basics.
        stream_options: (id != ProviderId::OpenAiCompatible).then_some(StreamOptions { include_usage: true }),
    };
    let json = serde_json::to_vec(&body).map_err(|e| alloc::format!("{e}"))?;
    let request = Request::post(base.join("chat/completions"), json)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream");
    Ok(authorize(request, api_key))
}

fn authorize(request: Request, api_key: Option<&str>) -> Request {
    match api_key {
        Some(key) => request.header("authorization", alloc::format!("Bearer {key}")),
        None => request,
    }
}

pub(crate) fn models_request(base: &Url, api_key: Option<&str>) -> Request {
    authorize(Request::get(base.join("models")), api_key)
}

#[derive(Deserialize)]
struct RawUsage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

impl From<RawUsage> for Usage {
    fn from(raw: RawUsage) -> Usage {
        Usage { input_tokens: raw.prompt_tokens, output_tokens: raw.completion_tokens }
    }
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
    /// In whole (non-streamed) replies.
    message: Option<Delta>,
    finish_reason: Option<String>,
}

/// Groq puts the usage of a stream here instead of in `usage`.
#[derive(Deserialize)]
struct GroqExtra {
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<RawUsage>,
    x_groq: Option<GroqExtra>,
    error: Option<serde_json::Value>,
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" | "eos" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(String::from(other)),
    }
}

fn pieces_of(chunk: Chunk, whole: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    // Only the first choice is shown: moteOS never asks for `n` > 1.
    if let Some(choice) = chunk.choices.into_iter().next() {
        let delta = if whole { choice.message } else { choice.delta };
        if let Some(text) = delta.and_then(|d| d.content) {
            pieces.push(Piece::Text(text));
        }
        if let Some(reason) = choice.finish_reason {
            pieces.push(Piece::Finish(finish_reason(&reason)));
        }
    }
    if let Some(usage) = chunk.usage.or_else(|| chunk.x_groq.and_then(|x| x.usage)) {
        pieces.push(Piece::Usage(usage.into()));
    }
    pieces
}

pub(crate) fn stream_event(event: &SseEvent) -> Vec<Piece> {
    let data = event.data.trim();
    if data.is_empty() {
        return Vec::new();
    }
    if data == "[DONE]" {
        return vec![Piece::Done];
    }
    let chunk: Chunk = match serde_json::from_str(data) {
        Ok(chunk) => chunk,
        Err(e) => return vec![Piece::Skipped(alloc::format!("a chunk that is not JSON ({e})"))],
    };
    if chunk.error.is_some() || event.event == "error" {
        let message = error_message(data.as_bytes()).unwrap_or_else(|| String::from("unknown error"));
        return vec![Piece::Error(message)];
    }
    pieces_of(chunk, false)
}

/// A complete (non-streamed) completion, from servers that ignore `stream`.
pub(crate) fn whole_reply(body: &[u8]) -> Option<Vec<Piece>> {
    let chunk: Chunk = serde_json::from_slice(body).ok()?;
    if chunk.choices.is_empty() {
        return None;
    }
    Some(pieces_of(chunk, true))
}
