//! Anthropic's Messages API: `POST /v1/messages` with `stream: true`.
//!
//! The stream is a sequence of named events: `message_start` (input usage),
//! `content_block_start`/`content_block_delta`/`content_block_stop` (the text arrives as
//! `text_delta`s), `message_delta` (stop reason, output usage), `message_stop`, with
//! `ping`s anywhere and an `error` event when the provider gives up mid-reply.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use http::{Request, SseEvent, Url};
use serde::{Deserialize, Serialize};

use crate::chat::ChatRequest;
use crate::decoder::{FinishReason, Piece, Usage, error_message};

/// The API version moteOS is written against (sent as `anthropic-version`).
pub(crate) const API_VERSION: &str = "2023-06-01";

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<Turn<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: &'a str,
}

/// `base` is the API root; a root that already ends in `/v1` is accepted as well.
fn endpoint(base: &Url, path: &str) -> Url {
    if base.path_and_query().split('?').next().is_some_and(|p| p.trim_end_matches('/').ends_with("/v1")) {
        base.join(path)
    } else {
        base.join(&alloc::format!("v1/{path}"))
    }
}

fn headers(request: Request, api_key: Option<&str>) -> Request {
    let request = request.header("anthropic-version", API_VERSION);
    match api_key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    }
}

pub(crate) fn chat_request(base: &Url, api_key: Option<&str>, chat: &ChatRequest<'_>) -> Result<Request, String> {
    let body = Body {
        model: chat.model,
        max_tokens: chat.max_tokens,
        system: chat.system.filter(|s| !s.is_empty()),
        messages: chat.messages.iter().map(|m| Turn { role: m.role.as_str(), content: &m.content }).collect(),
        temperature: chat.temperature,
        stream: true,
    };
    let json = serde_json::to_vec(&body).map_err(|e| alloc::format!("{e}"))?;
    let request = Request::post(endpoint(base, "messages"), json)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream");
    Ok(headers(request, api_key))
}

pub(crate) fn models_request(base: &Url, api_key: Option<&str>) -> Request {
    headers(Request::get(endpoint(base, "models?limit=100")), api_key)
}

#[derive(Deserialize)]
struct RawUsage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

impl From<RawUsage> for Usage {
    fn from(raw: RawUsage) -> Usage {
        Usage { input_tokens: raw.input_tokens, output_tokens: raw.output_tokens }
    }
}

#[derive(Deserialize)]
struct Message {
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

/// The union of the fields the events carry; the event's `type` says which are present.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    message: Option<Message>,
    content_block: Option<Block>,
    delta: Option<Delta>,
    usage: Option<RawUsage>,
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(String::from(other)),
    }
}

pub(crate) fn stream_event(event: &SseEvent) -> Vec<Piece> {
    // The `event:` name and the JSON `type` agree; the JSON is authoritative, and
    // `ping`s or unknown events with no data are simply ignored.
    if event.data.is_empty() || event.event == "ping" {
        return Vec::new();
    }
    if event.event == "error" {
        let message = error_message(event.data.as_bytes()).unwrap_or_else(|| String::from("unknown error"));
        return vec![Piece::Error(message)];
    }
    let parsed: Event = match serde_json::from_str(&event.data) {
        Ok(parsed) => parsed,
        Err(e) => return vec![Piece::Skipped(alloc::format!("`{}` event with unreadable data ({e})", event.event))],
    };
    match parsed.kind.as_str() {
        "message_start" => {
            parsed.message.and_then(|m| m.usage).map(|u| vec![Piece::Usage(u.into())]).unwrap_or_default()
        }
        "content_block_start" => match parsed.content_block {
            Some(Block { kind, text: Some(text) }) if kind == "text" => vec![Piece::Text(text)],
            _ => Vec::new(),
        },
        "content_block_delta" => match parsed.delta {
            Some(Delta { kind: Some(kind), text: Some(text), .. }) if kind == "text_delta" => vec![Piece::Text(text)],
            // Thinking, signatures and tool input are not shown in this chat.
            _ => Vec::new(),
        },
        "message_delta" => {
            let mut pieces = Vec::new();
            if let Some(usage) = parsed.usage {
                pieces.push(Piece::Usage(usage.into()));
            }
            if let Some(reason) = parsed.delta.and_then(|d| d.stop_reason) {
                pieces.push(Piece::Finish(stop_reason(&reason)));
            }
            pieces
        }
        "message_stop" => vec![Piece::Done],
        "error" => vec![Piece::Error(error_message(event.data.as_bytes()).unwrap_or_default())],
        "content_block_stop" | "ping" => Vec::new(),
        // New event types may appear; the API's versioning policy says to ignore them.
        other => vec![Piece::Skipped(alloc::format!("unknown event type `{other}`"))],
    }
}

/// A complete (non-streamed) Messages response, from servers that ignore `stream`.
pub(crate) fn whole_reply(body: &[u8]) -> Option<Vec<Piece>> {
    #[derive(Deserialize)]
    struct Reply {
        content: Vec<Block>,
        stop_reason: Option<String>,
        usage: Option<RawUsage>,
    }
    let reply: Reply = serde_json::from_slice(body).ok()?;
    let mut pieces: Vec<Piece> =
        reply.content.into_iter().filter(|b| b.kind == "text").filter_map(|b| b.text).map(Piece::Text).collect();
    if let Some(usage) = reply.usage {
        pieces.push(Piece::Usage(usage.into()));
    }
    pieces.push(Piece::Finish(reply.stop_reason.as_deref().map_or(FinishReason::Stop, stop_reason)));
    Some(pieces)
}
