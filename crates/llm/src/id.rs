//! Which provider: the one identity type shared by the configuration, the clients and the
//! application, with each provider's names and defaults.

use core::fmt;

use serde::{Serialize, Serializer};

use crate::provider::Dialect;

/// A provider moteOS knows by name: the value of `[provider] active` in `config.toml` and the
/// `[providers.NAME]` tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderId {
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

impl ProviderId {
    /// Every provider, in the order the wizard and messages list them.
    pub const ALL: [ProviderId; 6] = [
        ProviderId::Anthropic,
        ProviderId::OpenAi,
        ProviderId::Groq,
        ProviderId::Xai,
        ProviderId::OpenAiCompatible,
        ProviderId::Local,
    ];

    /// The hosted providers with a fixed endpoint and a mandatory API key.
    pub const CLOUD: [ProviderId; 4] = [ProviderId::Anthropic, ProviderId::OpenAi, ProviderId::Groq, ProviderId::Xai];

    /// The name used in `config.toml`, both for `active` and for the `[providers.NAME]` table.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderId::Anthropic => "anthropic",
            ProviderId::OpenAi => "openai",
            ProviderId::Groq => "groq",
            ProviderId::Xai => "xai",
            ProviderId::OpenAiCompatible => "openai-compatible",
            ProviderId::Local => "local",
        }
    }

    /// The provider with exactly this `config.toml` name.
    pub fn from_name(name: &str) -> Option<Self> {
        ProviderId::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// A short name for menus and the header ("Anthropic", "OpenAI-compatible", "Local").
    pub const fn label(self) -> &'static str {
        match self {
            ProviderId::OpenAiCompatible => "OpenAI-compatible",
            ProviderId::Local => "Local model",
            other => other.display_name(),
        }
    }

    /// How people write the provider's name in prose ("OpenAI", "xAI", "the local model").
    pub const fn display_name(self) -> &'static str {
        match self {
            ProviderId::Anthropic => "Anthropic",
            ProviderId::OpenAi => "OpenAI",
            ProviderId::Groq => "Groq",
            ProviderId::Xai => "xAI",
            ProviderId::OpenAiCompatible => "the OpenAI-compatible server",
            ProviderId::Local => "the local model",
        }
    }

    /// Whether this is a hosted provider (needs an API key, has a default endpoint).
    pub const fn is_cloud(self) -> bool {
        matches!(self, ProviderId::Anthropic | ProviderId::OpenAi | ProviderId::Groq | ProviderId::Xai)
    }

    /// The API root used when `base_url` is not set; `None` where there is no sensible default.
    pub const fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderId::Anthropic => Some("https://api.anthropic.com"),
            ProviderId::OpenAi => Some("https://api.openai.com/v1"),
            ProviderId::Groq => Some("https://api.groq.com/openai/v1"),
            ProviderId::Xai => Some("https://api.x.ai/v1"),
            ProviderId::OpenAiCompatible | ProviderId::Local => None,
        }
    }

    /// The model used when `model` is not set.
    ///
    /// These are reasonable choices at the time of writing, not a promise: providers retire
    /// models, and users pick another with `model = "…"` in the provider's table.
    pub const fn default_model(self) -> Option<&'static str> {
        match self {
            ProviderId::Anthropic => Some("claude-sonnet-4-5"),
            ProviderId::OpenAi => Some("gpt-4o-mini"),
            ProviderId::Groq => Some("llama-3.3-70b-versatile"),
            ProviderId::Xai => Some("grok-3-mini"),
            ProviderId::OpenAiCompatible | ProviderId::Local => None,
        }
    }

    /// How this provider's API keys begin, used only to warn about a key pasted into the wrong table.
    pub const fn api_key_prefix(self) -> Option<&'static str> {
        match self {
            ProviderId::Anthropic => Some("sk-ant-"),
            ProviderId::OpenAi => Some("sk-"),
            ProviderId::Groq => Some("gsk_"),
            ProviderId::Xai => Some("xai-"),
            ProviderId::OpenAiCompatible | ProviderId::Local => None,
        }
    }

    /// Whether `key` looks like it belongs to some other provider (a warning, never a refusal).
    pub fn key_looks_foreign(self, key: &str) -> bool {
        let Some(prefix) = self.api_key_prefix() else { return false };
        // Anthropic keys also start with OpenAI's `sk-`, so that prefix alone proves nothing.
        !key.starts_with(prefix) || (self == ProviderId::OpenAi && key.starts_with("sk-ant-"))
    }

    /// The API dialect a remote provider speaks; `None` for the local model.
    pub const fn dialect(self) -> Option<Dialect> {
        match self {
            ProviderId::Anthropic => Some(Dialect::Anthropic),
            ProviderId::OpenAi | ProviderId::Groq | ProviderId::Xai | ProviderId::OpenAiCompatible => {
                Some(Dialect::OpenAi)
            }
            ProviderId::Local => None,
        }
    }

    /// Hosted providers refuse every request without a key, so asking without one is
    /// reported before anything is sent. Self-hosted servers often need none.
    pub const fn requires_key(self) -> bool {
        self.is_cloud()
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProviderId {
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
        for kind in ProviderId::ALL {
            assert_eq!(ProviderId::from_name(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ProviderId::from_name("openai-compatible"), Some(ProviderId::OpenAiCompatible));
        assert_eq!(ProviderId::from_name("Anthropic"), None);
    }

    #[test]
    fn cloud_providers_have_defaults() {
        for kind in ProviderId::CLOUD {
            assert!(kind.is_cloud());
            assert!(kind.default_base_url().unwrap().starts_with("https://"));
            assert!(kind.default_model().is_some());
        }
        assert_eq!(ProviderId::Groq.default_base_url(), Some("https://api.groq.com/openai/v1"));
        assert!(!ProviderId::Local.is_cloud());
        assert_eq!(ProviderId::OpenAiCompatible.default_model(), None);
    }

    #[test]
    fn spots_keys_from_other_providers() {
        assert!(!ProviderId::Anthropic.key_looks_foreign("sk-ant-api03-xyz"));
        assert!(ProviderId::Anthropic.key_looks_foreign("sk-proj-xyz"));
        assert!(ProviderId::OpenAi.key_looks_foreign("sk-ant-api03-xyz"));
        assert!(!ProviderId::OpenAi.key_looks_foreign("sk-proj-xyz"));
        assert!(ProviderId::Groq.key_looks_foreign("xai-123"));
        assert!(!ProviderId::Local.key_looks_foreign("anything"));
    }
}
