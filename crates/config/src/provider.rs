//! The kinds of language-model provider moteOS can talk to, and their defaults.

use core::fmt;

use serde::{Serialize, Serializer};

/// Which provider answers the chat: the value of `[provider] active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    /// Anthropic's Messages API (`anthropic`).
    Anthropic,
    /// OpenAI's Chat Completions API (`openai`).
    OpenAi,
    /// Groq's OpenAI-style API (`groq`).
    Groq,
    /// xAI's OpenAI-style API (`xai`).
    Xai,
    /// Any server speaking the OpenAI API: Ollama, llama.cpp, vLLM, OpenRouter… (`openai-compatible`).
    OpenAiCompatible,
    /// The model file on the boot partition, run by moteOS itself (`local`).
    Local,
}

impl ProviderKind {
    /// Every provider, in the order the wizard and messages list them.
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Anthropic,
        ProviderKind::OpenAi,
        ProviderKind::Groq,
        ProviderKind::Xai,
        ProviderKind::OpenAiCompatible,
        ProviderKind::Local,
    ];

    /// The hosted providers with a fixed endpoint and a mandatory API key.
    pub const CLOUD: [ProviderKind; 4] =
        [ProviderKind::Anthropic, ProviderKind::OpenAi, ProviderKind::Groq, ProviderKind::Xai];

    /// The name used in `config.toml`, both for `active` and for the `[providers.NAME]` table.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Groq => "groq",
            ProviderKind::Xai => "xai",
            ProviderKind::OpenAiCompatible => "openai-compatible",
            ProviderKind::Local => "local",
        }
    }

    /// The provider with exactly this `config.toml` name.
    pub fn from_name(name: &str) -> Option<Self> {
        ProviderKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How people write the provider's name in prose ("OpenAI", "xAI").
    pub const fn display_name(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "Anthropic",
            ProviderKind::OpenAi => "OpenAI",
            ProviderKind::Groq => "Groq",
            ProviderKind::Xai => "xAI",
            ProviderKind::OpenAiCompatible => "OpenAI-compatible server",
            ProviderKind::Local => "local model",
        }
    }

    /// Whether this is a hosted provider (needs an API key, has a default endpoint).
    pub const fn is_cloud(self) -> bool {
        matches!(self, ProviderKind::Anthropic | ProviderKind::OpenAi | ProviderKind::Groq | ProviderKind::Xai)
    }

    /// The API root used when `base_url` is not set; `None` where there is no sensible default.
    pub const fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
            ProviderKind::Groq => Some("https://api.groq.com/openai/v1"),
            ProviderKind::Xai => Some("https://api.x.ai/v1"),
            ProviderKind::OpenAiCompatible | ProviderKind::Local => None,
        }
    }

    /// The model used when `model` is not set.
    ///
    /// These are reasonable choices at the time of writing, not a promise: providers retire
    /// models, and users pick another with `model = "…"` in the provider's table.
    pub const fn default_model(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("claude-sonnet-4-5"),
            ProviderKind::OpenAi => Some("gpt-4o-mini"),
            ProviderKind::Groq => Some("llama-3.3-70b-versatile"),
            ProviderKind::Xai => Some("grok-3-mini"),
            ProviderKind::OpenAiCompatible | ProviderKind::Local => None,
        }
    }

    /// How this provider's API keys begin, used only to warn about a key pasted into the wrong table.
    pub const fn api_key_prefix(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("sk-ant-"),
            ProviderKind::OpenAi => Some("sk-"),
            ProviderKind::Groq => Some("gsk_"),
            ProviderKind::Xai => Some("xai-"),
            ProviderKind::OpenAiCompatible | ProviderKind::Local => None,
        }
    }

    /// Whether `key` looks like it belongs to some other provider.
    pub(crate) fn key_looks_foreign(self, key: &str) -> bool {
        let Some(prefix) = self.api_key_prefix() else { return false };
        // Anthropic keys also start with OpenAI's `sk-`, so that prefix alone proves nothing.
        !key.starts_with(prefix) || (self == ProviderKind::OpenAi && key.starts_with("sk-ant-"))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ProviderKind::from_name("openai-compatible"), Some(ProviderKind::OpenAiCompatible));
        assert_eq!(ProviderKind::from_name("Anthropic"), None);
    }

    #[test]
    fn cloud_providers_have_defaults() {
        for kind in ProviderKind::CLOUD {
            assert!(kind.is_cloud());
            assert!(kind.default_base_url().unwrap().starts_with("https://"));
            assert!(kind.default_model().is_some());
        }
        assert_eq!(ProviderKind::Groq.default_base_url(), Some("https://api.groq.com/openai/v1"));
        assert!(!ProviderKind::Local.is_cloud());
        assert_eq!(ProviderKind::OpenAiCompatible.default_model(), None);
    }

    #[test]
    fn spots_keys_from_other_providers() {
        assert!(!ProviderKind::Anthropic.key_looks_foreign("sk-ant-api03-xyz"));
        assert!(ProviderKind::Anthropic.key_looks_foreign("sk-proj-xyz"));
        assert!(ProviderKind::OpenAi.key_looks_foreign("sk-ant-api03-xyz"));
        assert!(!ProviderKind::OpenAi.key_looks_foreign("sk-proj-xyz"));
        assert!(ProviderKind::Groq.key_looks_foreign("xai-123"));
        assert!(!ProviderKind::Local.key_looks_foreign("anything"));
    }
}
