//! A conversation as the providers see it.

use alloc::string::String;

/// Who wrote a turn. The system prompt is not a turn: it travels in [`ChatRequest::system`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The person at the keyboard.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name on the wire (the same in both dialects).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What they wrote.
    pub content: String,
}

impl Message {
    /// A turn typed by the user.
    pub fn user(content: impl Into<String>) -> Self {
        Message { role: Role::User, content: content.into() }
    }

    /// A turn written by the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: Role::Assistant, content: content.into() }
    }
}

/// Everything a provider needs to produce the next assistant turn.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest<'a> {
    /// The model to ask, e.g. `claude-sonnet-4-5` or `gpt-4o-mini`.
    pub model: &'a str,
    /// Instructions for the model, if any.
    pub system: Option<&'a str>,
    /// The turns so far, oldest first; the last one is normally the user's.
    pub messages: &'a [Message],
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// The most tokens the reply may have (Anthropic requires a value).
    pub max_tokens: u32,
}

impl<'a> ChatRequest<'a> {
    /// A request with the provider's default temperature and `max_tokens` of 1024.
    pub fn new(model: &'a str, messages: &'a [Message]) -> Self {
        ChatRequest { model, system: None, messages, temperature: None, max_tokens: 1024 }
    }
}
