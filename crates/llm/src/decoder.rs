//! From response bytes to reply events, for either dialect.

use alloc::string::String;
use alloc::vec::Vec;

use http::{ResponseHead, SseEvent, SseParser};
use serde::Deserialize;

use crate::error::{ErrorKind, LlmError, clip};
use crate::provider::Dialect;
use crate::{anthropic, openai};

/// Largest non-streamed body kept (error bodies, plain JSON replies).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Token counts reported by the provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the request (prompt), when reported.
    pub input_tokens: Option<u32>,
    /// Tokens of the reply, when reported.
    pub output_tokens: Option<u32>,
}

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// It finished its turn (or hit a stop sequence).
    Stop,
    /// It reached `max_tokens`; the reply is cut short.
    Length,
    /// A safety filter stopped it.
    ContentFilter,
    /// Any other reason, as the provider named it.
    Other(String),
}

impl FinishReason {
    /// The reason as one word for the log.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content filter",
            FinishReason::Other(other) => other,
        }
    }
}

/// What the decoder reports while a reply arrives.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyEvent {
    /// The next piece of the reply's text.
    Text(String),
    /// Token counts (may come more than once; later values are more complete).
    Usage(Usage),
    /// The reply is complete. Always the last event of a successful reply.
    Finished(FinishReason),
    /// The reply failed or was cut; text already reported stays valid. Always last.
    Failed(LlmError),
    /// Something in the stream was skipped (garbage data, an unknown event): worth a
    /// log line, not worth stopping the reply.
    Skipped(String),
    /// The local model is reading the prompt: `done` of `total` tokens so far (nothing is
    /// written before it finishes, which takes a while on a slow CPU).
    Prompt {
        /// Prompt tokens processed.
        done: u32,
        /// Prompt tokens in all.
        total: u32,
    },
}

/// A step of the stream, as the dialect modules understand it.
#[derive(Debug, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Usage(Usage),
    /// The finish reason; the reply may still carry usage after it.
    Finish(FinishReason),
    /// The stream's own end marker (`message_stop`, `[DONE]`).
    Done,
    /// An error event in the stream with the provider's explanation.
    Error(String),
    Skipped(String),
}

#[derive(Debug)]
enum State {
    AwaitingHead,
    /// A 2xx event stream.
    Streaming(SseParser),
    /// A body read whole: a plain JSON reply (`ok`) or an error (`!ok`).
    Collecting {
        ok: bool,
        status: u16,
        retry_after: Option<u64>,
        body: Vec<u8>,
    },
    Done,
}

/// Turns the response to a chat request into [`ReplyEvent`]s: feed it the head, the
/// body bytes in pieces of any size, then the end (or the loss of the connection).
///
/// Every path ends with exactly one `Finished` or `Failed`; after that the decoder
/// ignores further input.
#[derive(Debug)]
pub struct ReplyDecoder {
    dialect: Dialect,
    provider: &'static str,
    state: State,
    text_bytes: usize,
    finish: Option<FinishReason>,
    usage: Usage,
    skipped: u32,
}

impl ReplyDecoder {
    pub(crate) fn new(dialect: Dialect, provider: &'static str) -> Self {
        ReplyDecoder {
            dialect,
            provider,
            state: State::AwaitingHead,
            text_bytes: 0,
            finish: None,
            usage: Usage::default(),
            skipped: 0,
        }
    }

    /// Whether the final event has been reported.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Bytes of reply text reported so far.
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// The status line and headers arrived.
    pub fn on_head(&mut self, head: &ResponseHead) {
        if !matches!(self.state, State::AwaitingHead) {
            return;
        }
        self.state = if head.is_success() && head.is_event_stream() {
            State::Streaming(SseParser::new())
        } else {
            State::Collecting {
                ok: head.is_success(),
                status: head.status,
                retry_after: head.retry_after_seconds(),
                body: Vec::new(),
            }
        };
    }

    /// The next piece of the (de-chunked) body.
    pub fn on_body(&mut self, bytes: &[u8], out: &mut Vec<ReplyEvent>) {
        match &mut self.state {
            State::Streaming(parser) => {
                let mut events = Vec::new();
                parser.feed(bytes, &mut |event| events.push(event));
                for event in events {
                    self.on_event(&event, out);
                    if self.is_done() {
                        break;
                    }
                }
            }
            State::Collecting { body, .. } => {
                let room = MAX_BODY_BYTES.saturating_sub(body.len());
                let take = &bytes[..bytes.len().min(room)];
                if body.try_reserve(take.len()).is_err() {
                    let detail =
                        alloc::format!("not enough memory for the response ({} bytes)", body.len() + take.len());
                    return self.fail(ErrorKind::Malformed, None, &detail, out);
                }
                body.extend_from_slice(take);
            }
            State::AwaitingHead | State::Done => {}
        }
    }

    /// The response ended normally (HTTP framing complete).
    pub fn on_end(&mut self, out: &mut Vec<ReplyEvent>) {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Streaming(mut parser) => {
                // The event-stream rules drop an event not closed by a blank line; some
                // servers end with `data: [DONE]` and no blank line, so close it here (a
                // line cut in the middle then fails to parse and is skipped, as it should).
                let mut events = Vec::new();
                parser.feed(b"\n\n", &mut |event| events.push(event));
                parser.finish();
                self.state = State::Streaming(parser);
                for event in events {
                    self.on_event(&event, out);
                }
                if !self.is_done() {
                    // Some servers end the stream after the finish reason without an end marker.
                    match self.finish.take() {
                        Some(reason) => self.complete(reason, out),
                        None => self.fail(ErrorKind::Cut, None, "the stream ended without its end marker", out),
                    }
                }
            }
            State::Collecting { ok: true, status, body, .. } => self.whole_reply(status, &body, out),
            State::Collecting { ok: false, status, retry_after, body } => {
                let message = error_message(&body).unwrap_or_else(|| fallback_message(&body));
                self.state = State::Done;
                out.push(ReplyEvent::Failed(LlmError::from_status(self.provider, status, retry_after, &message)));
            }
            State::AwaitingHead => {
                self.fail(ErrorKind::Malformed, None, "the response ended before its head", out);
            }
            State::Done => {}
        }
    }

    /// The connection failed (`why` says how) before the response ended.
    pub fn on_disconnect(&mut self, why: &str, out: &mut Vec<ReplyEvent>) {
        match &self.state {
            State::Done => {}
            State::Collecting { ok: false, .. } => self.on_end(out),
            _ => self.fail(ErrorKind::Cut, None, why, out),
        }
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ReplyEvent>) {
        let pieces = match self.dialect {
            Dialect::Anthropic => anthropic::stream_event(event),
            Dialect::OpenAi => openai::stream_event(event),
        };
        self.apply(pieces, out);
    }

    fn apply(&mut self, pieces: Vec<Piece>, out: &mut Vec<ReplyEvent>) {
        for piece in pieces {
            if self.is_done() {
                return;
            }
            match piece {
                Piece::Text(text) if !text.is_empty() => {
                    self.text_bytes += text.len();
                    out.push(ReplyEvent::Text(text));
                }
                Piece::Text(_) => {}
                Piece::Usage(usage) => {
                    self.usage.input_tokens = usage.input_tokens.or(self.usage.input_tokens);
                    self.usage.output_tokens = usage.output_tokens.or(self.usage.output_tokens);
                    out.push(ReplyEvent::Usage(self.usage));
                }
                // The provider's own words reach the log: clipped like every quoted text.
                Piece::Finish(FinishReason::Other(reason)) => self.finish = Some(FinishReason::Other(clip(&reason))),
                Piece::Finish(reason) => self.finish = Some(reason),
                Piece::Done => {
                    let reason = self.finish.take().unwrap_or(FinishReason::Stop);
                    self.complete(reason, out);
                }
                Piece::Error(message) => self.fail(ErrorKind::StreamError, None, &message, out),
                Piece::Skipped(what) => {
                    self.skipped += 1;
                    // It may quote an event name or data of any length (up to the SSE limits).
                    out.push(ReplyEvent::Skipped(clip(&what)));
                }
            }
        }
    }

    fn whole_reply(&mut self, status: u16, body: &[u8], out: &mut Vec<ReplyEvent>) {
        let pieces = match self.dialect {
            Dialect::Anthropic => anthropic::whole_reply(body),
            Dialect::OpenAi => openai::whole_reply(body),
        };
        match pieces {
            Some(mut pieces) => {
                self.state = State::Streaming(SseParser::new());
                pieces.push(Piece::Done);
                self.apply(pieces, out);
            }
            None => {
                let detail = alloc::format!("HTTP {status} with a body that is neither an event stream nor a reply");
                self.fail(ErrorKind::Malformed, Some(status), &detail, out);
            }
        }
    }

    fn complete(&mut self, reason: FinishReason, out: &mut Vec<ReplyEvent>) {
        self.state = State::Done;
        if self.text_bytes == 0 {
            let detail = alloc::format!("it stopped ({}) before writing anything", reason.as_str());
            out.push(ReplyEvent::Failed(LlmError::new(self.provider, ErrorKind::EmptyReply, None, &detail)));
        } else {
            out.push(ReplyEvent::Finished(reason));
        }
    }

    fn fail(&mut self, kind: ErrorKind, status: Option<u16>, message: &str, out: &mut Vec<ReplyEvent>) {
        self.state = State::Done;
        out.push(ReplyEvent::Failed(LlmError::new(self.provider, kind, status, message)));
    }
}

/// The error shapes seen in the wild: `{"error": {"message": ...}}` (OpenAI, Anthropic,
/// Groq, xAI), `{"error": "text"}` (Ollama), `{"message": ...}` / `{"detail": ...}` (gateways).
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorField {
        Object {
            message: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
        },
        Text(String),
    }
    #[derive(Deserialize)]
    struct Body {
        error: Option<ErrorField>,
        message: Option<String>,
        detail: Option<String>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    match body.error {
        Some(ErrorField::Object { message: Some(message), .. }) => Some(message),
        Some(ErrorField::Object { kind: Some(kind), .. }) => Some(kind),
        Some(ErrorField::Text(text)) => Some(text),
        _ => body.message.or(body.detail),
    }
}

/// A readable excerpt of a body that is not a known error shape (HTML from a proxy...).
fn fallback_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    if text.trim_start().starts_with('<') { String::from("the server sent an HTML page") } else { text.into_owned() }
}
