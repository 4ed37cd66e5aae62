//! Which provider, where it lives, and how to ask it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use http::{Request, Url};

use crate::chat::ChatRequest;
use crate::decoder::ReplyDecoder;
use crate::error::{ErrorKind, LlmError};
use crate::id::ProviderId;
use crate::{anthropic, models, openai};

/// The two API dialects every supported provider speaks one of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic's Messages API.
    Anthropic,
    /// OpenAI's Chat Completions API.
    OpenAi,
}

/// A provider ready to be asked: its identity, API root and key.
///
/// `Debug` never shows the key.
#[derive(Clone)]
pub struct Provider {
    id: ProviderId,
    dialect: Dialect,
    base_url: Url,
    api_key: Option<String>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Provider {
    /// A provider at `base_url` (the API root: `https://api.anthropic.com`,
    /// `https://api.openai.com/v1`, `http://10.0.2.2:11434/v1`...). An empty key counts
    /// as none. Fails with a sentence when the URL is unusable or a hosted provider
    /// has no key.
    pub fn new(id: ProviderId, base_url: &str, api_key: Option<&str>) -> Result<Provider, LlmError> {
        let name = id.display_name();
        let Some(dialect) = id.dialect() else {
            return Err(LlmError::new(
                name,
                ErrorKind::InvalidSettings,
                None,
                "it runs on this machine, not over HTTP",
            ));
        };
        let base_url = Url::parse(base_url)
            .map_err(|e| LlmError::new(name, ErrorKind::InvalidSettings, None, &alloc::format!("base_url: {e}")))?;
        if id.is_cloud() && !base_url.is_tls() && !base_url.host_is_loopback_or_private() {
            return Err(LlmError::new(
                name,
                ErrorKind::InvalidSettings,
                None,
                &alloc::format!(
                    "base_url {base_url} is plain http:// to a public host, which would send the API key \
                     unencrypted: use https:// (plain http:// is allowed only to this machine or a private \
                     network address such as 192.168.x.x)"
                ),
            ));
        }
        let api_key = api_key.map(str::trim).filter(|k| !k.is_empty()).map(String::from);
        if api_key.is_none() && id.requires_key() {
            return Err(LlmError::new(
                name,
                ErrorKind::InvalidSettings,
                None,
                "no API key: set api_key in config.toml",
            ));
        }
        if api_key.as_deref().is_some_and(|k| k.chars().any(char::is_control)) {
            return Err(LlmError::new(
                name,
                ErrorKind::InvalidSettings,
                None,
                "the API key contains a line break or control character",
            ));
        }
        Ok(Provider { id, dialect, base_url, api_key })
    }

    /// Which provider this is.
    pub fn id(&self) -> ProviderId {
        self.id
    }

    /// The API root requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// A warning to show the user once when the key of a hosted provider travels as plain HTTP
    /// (allowed only to a loopback or private address, such as a gateway on the LAN); `None`
    /// when the connection is encrypted or no key is sent.
    pub fn plain_http_warning(&self) -> Option<String> {
        let plain = self.id.is_cloud() && !self.base_url.is_tls() && self.api_key.is_some();
        plain.then(|| {
            alloc::format!(
                "{}'s API key goes unencrypted to {} (plain http:// on the local network): anyone on \
                 that network can read it; use https:// if you can",
                self.id.display_name(),
                self.base_url.authority()
            )
        })
    }

    /// The streaming request for the next assistant turn.
    pub fn chat_request(&self, chat: &ChatRequest<'_>) -> Result<Request, LlmError> {
        let request = match self.dialect {
            Dialect::Anthropic => anthropic::chat_request(&self.base_url, self.api_key.as_deref(), chat),
            Dialect::OpenAi => openai::chat_request(self.id, &self.base_url, self.api_key.as_deref(), chat),
        };
        request.map_err(|why| LlmError::new(self.id.display_name(), ErrorKind::InvalidSettings, None, &why))
    }

    /// The request listing the models the key can use (`GET .../models`).
    pub fn models_request(&self) -> Request {
        match self.dialect {
            Dialect::Anthropic => anthropic::models_request(&self.base_url, self.api_key.as_deref()),
            Dialect::OpenAi => openai::models_request(&self.base_url, self.api_key.as_deref()),
        }
    }

    /// The model ids in a successful model-list response, in the order given.
    pub fn parse_models(&self, body: &[u8]) -> Result<Vec<String>, LlmError> {
        models::parse_list(body).ok_or_else(|| {
            LlmError::new(
                self.id.display_name(),
                ErrorKind::Malformed,
                None,
                "the model list is not in the usual format",
            )
        })
    }

    /// A decoder for the response to a [`chat_request`](Self::chat_request).
    pub fn reply_decoder(&self) -> ReplyDecoder {
        ReplyDecoder::new(self.dialect, self.id.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn hosted_providers_need_a_key_and_self_hosted_ones_do_not() {
        let e = Provider::new(ProviderId::OpenAi, "https://api.openai.com/v1", Some("  ")).unwrap_err();
        assert_eq!(e.to_string(), "cannot send to OpenAI: no API key: set api_key in config.toml");
        assert!(Provider::new(ProviderId::OpenAiCompatible, "http://10.0.2.2:11434/v1", None).is_ok());
    }

    #[test]
    fn bad_urls_and_keys_are_refused_with_a_sentence() {
        let e = Provider::new(ProviderId::Anthropic, "ftp://example", Some("k")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSettings);
        assert!(e.to_string().starts_with("cannot send to Anthropic: base_url:"), "{e}");
        let e = Provider::new(ProviderId::Anthropic, "https://api.anthropic.com", Some("sk\r\nX-Evil: 1")).unwrap_err();
        assert!(!e.to_string().contains("Evil"), "the key must never be echoed: {e}");
    }

    #[test]
    fn plain_http_to_a_cloud_provider_is_refused_unless_local() {
        for id in [ProviderId::Anthropic, ProviderId::OpenAi, ProviderId::Groq, ProviderId::Xai] {
            let e = Provider::new(id, "http://api.anthropic.com", Some("sk-ant-secret-key-1234")).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidSettings);
            let text = e.to_string();
            assert!(text.contains("plain http:// to a public host") && text.contains("use https://"), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
        let e = Provider::new(ProviderId::Anthropic, "http://8.8.8.8/?api-key=sk-in-query", Some("k")).unwrap_err();
        assert!(!e.to_string().contains("sk-in-query"), "{e}");
        // A gateway on the LAN or this machine: allowed, with a warning to show once.
        let lan = Provider::new(ProviderId::Anthropic, "http://192.168.1.5:8080", Some("sk-ant-x")).unwrap();
        let warning = lan.plain_http_warning().unwrap();
        assert!(warning.contains("192.168.1.5:8080") && warning.contains("unencrypted"), "{warning}");
        assert!(!warning.contains("sk-ant-x"));
        assert!(
            Provider::new(ProviderId::Groq, "http://127.0.0.1:9", Some("k")).unwrap().plain_http_warning().is_some()
        );
        // Encrypted, or a self-hosted server: nothing to warn about or refuse.
        let https = Provider::new(ProviderId::Anthropic, "https://api.anthropic.com", Some("k")).unwrap();
        assert!(https.plain_http_warning().is_none());
        let ollama = Provider::new(ProviderId::OpenAiCompatible, "http://ollama.example.com/v1", Some("k")).unwrap();
        assert!(ollama.plain_http_warning().is_none());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let p = Provider::new(ProviderId::Groq, "https://api.groq.com/openai/v1", Some("gsk_secret")).unwrap();
        assert!(!format!("{p:?}").contains("gsk_secret"));
    }
}
