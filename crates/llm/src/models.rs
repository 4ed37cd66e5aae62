//! Model lists for the model picker.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::id::ProviderId;

/// `{"data": [{"id": ...}, ...]}`: the shape of both dialects' model lists (and Ollama's,
/// llama.cpp's and vLLM's OpenAI-style endpoints).
pub(crate) fn parse_list(body: &[u8]) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Entry {
        id: String,
    }
    #[derive(Deserialize)]
    struct List {
        data: Vec<Entry>,
    }
    let list: List = serde_json::from_slice(body).ok()?;
    Some(list.data.into_iter().map(|e| e.id).filter(|id| !id.is_empty()).collect())
}

/// Models offered when the provider's list cannot be fetched (no network yet, a key
/// without list permission). Current as of late 2025; the user can type any other name.
pub fn builtin_models(id: ProviderId) -> &'static [&'static str] {
    match id {
        ProviderId::Anthropic => &["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"],
        ProviderId::OpenAi => &["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"],
        ProviderId::Groq => &["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
        ProviderId::Xai => &["grok-4", "grok-3-mini"],
        ProviderId::OpenAiCompatible | ProviderId::Local => &[],
    }
}

/// The context window of a well-known model, in tokens (as published by the providers in
/// late 2025); `None` for models this table does not know (self-hosted ones especially).
pub fn context_window(id: ProviderId, model: &str) -> Option<u32> {
    let m = model.to_ascii_lowercase();
    Some(match id {
        ProviderId::Anthropic if m.starts_with("claude") => 200_000,
        ProviderId::OpenAi if m.starts_with("gpt-4.1") => 1_047_576,
        ProviderId::OpenAi if m.starts_with("gpt-4o") || m.starts_with("gpt-4-turbo") => 128_000,
        ProviderId::OpenAi if m.starts_with("gpt-5") => 400_000,
        ProviderId::OpenAi if m.starts_with('o') => 200_000,
        ProviderId::Groq if m.starts_with("llama-3") => 131_072,
        ProviderId::Xai if m.starts_with("grok-4") => 256_000,
        ProviderId::Xai if m.starts_with("grok-3") => 131_072,
        _ => return None,
    })
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn known_windows() {
        assert_eq!(context_window(ProviderId::Anthropic, "claude-sonnet-4-5"), Some(200_000));
        assert_eq!(context_window(ProviderId::OpenAi, "gpt-4o-mini"), Some(128_000));
        assert_eq!(context_window(ProviderId::OpenAiCompatible, "llama3.2"), None);
        assert_eq!(context_window(ProviderId::Anthropic, "some-proxy-model"), None);
    }
}
