//! The configuration as typed values: what `config.toml` means once parsed.

use core::fmt;

use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

use crate::addr::{Ipv4, Ipv4Cidr};
use crate::chat::ChatSettings;
use crate::migrate::CURRENT_VERSION;
use crate::redact::Redacted;
use crate::sampling::LocalSampling;
use http::RedactedUrl;
use llm::ProviderId;

/// Where the local provider looks for its model when `model_file` is not given.
pub const DEFAULT_MODEL_FILE: &str = "\\moteos\\model.gguf";

/// The whole of `\moteos\config.toml`.
///
/// There is deliberately no `Default`: a machine without a configuration goes to the setup
/// wizard instead of silently talking to some provider. Start from [`MoteConfig::new`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MoteConfig {
    /// `version = 2`: the layout of the file. Files without it are version 1 and are migrated
    /// when read (see [`crate::migrate`]); a number above [`CURRENT_VERSION`] is kept as is.
    pub version: u32,
    /// `[provider]`: which provider answers.
    pub provider: ProviderSection,
    /// `[providers.*]`: settings of each provider the user has set up.
    #[serde(skip_serializing_if = "Providers::is_empty")]
    pub providers: Providers,
    /// `[network]`: DHCP or a static address.
    pub network: NetworkConfig,
    /// `[chat]`: theme, system prompt, font size.
    pub chat: ChatSettings,
    /// `[tls]`: extra trust anchors.
    #[serde(skip_serializing_if = "TlsConfig::is_empty")]
    pub tls: TlsConfig,
}

impl MoteConfig {
    /// A configuration that uses `active`, with no provider tables yet, DHCP and the built-in roots.
    pub fn new(active: ProviderId) -> Self {
        MoteConfig {
            version: CURRENT_VERSION,
            provider: ProviderSection { active },
            providers: Providers::default(),
            network: NetworkConfig::default(),
            chat: ChatSettings::default(),
            tls: TlsConfig::default(),
        }
    }

    /// The local model's sampling settings, with the defaults when there is no
    /// `[providers.local]` table.
    pub fn local_sampling(&self) -> LocalSampling {
        self.providers.local.as_ref().map_or(LocalSampling::DEFAULT, LocalProvider::sampling)
    }

    /// The active provider with every default filled in, or `None` when its table is missing.
    ///
    /// The local provider needs no table: without one it loads [`DEFAULT_MODEL_FILE`].
    pub fn active_provider(&self) -> Option<ActiveProvider<'_>> {
        self.provider_settings(self.provider.active)
    }

    /// Any provider's settings with every default filled in, or `None` when its table is
    /// missing (the local provider needs none).
    pub fn provider_settings(&self, kind: ProviderId) -> Option<ActiveProvider<'_>> {
        match kind {
            ProviderId::Local => {
                let model_file = self.providers.local.as_ref().map_or(DEFAULT_MODEL_FILE, |l| l.model_file.as_str());
                Some(ActiveProvider::Local { model_file })
            }
            ProviderId::OpenAiCompatible => {
                let c = self.providers.openai_compatible.as_ref()?;
                Some(ActiveProvider::Remote {
                    kind,
                    base_url: &c.base_url,
                    api_key: c.api_key.as_deref().filter(|k| !k.is_empty()),
                    model: &c.model,
                })
            }
            _ => {
                let c = self.providers.cloud(kind)?;
                Some(ActiveProvider::Remote {
                    kind,
                    base_url: c.base_url.as_deref().or(kind.default_base_url()).unwrap_or_default(),
                    api_key: Some(c.api_key.as_str()).filter(|k| !k.is_empty()),
                    model: c.model.as_deref().or(kind.default_model()).unwrap_or_default(),
                })
            }
        }
    }
}

/// A one-line summary for the serial log and the status bar; API keys appear redacted.
impl fmt::Display for MoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provider {}", self.provider.active)?;
        match self.active_provider() {
            Some(ActiveProvider::Remote { base_url, api_key, model, .. }) => {
                if crate::validate::model_holds_key(Some(model), api_key) {
                    f.write_str(" (model hidden: it holds the API key")?;
                } else {
                    write!(f, " (model {model}")?;
                }
                write!(f, ", {}, key {})", RedactedUrl(base_url), Redacted(api_key.unwrap_or_default()))?
            }
            Some(ActiveProvider::Local { model_file }) => write!(f, " ({model_file})")?,
            None => f.write_str(" (not set up)")?,
        }
        write!(f, "; network {}", self.network.mode)?;
        if let Some(address) = self.network.address {
            write!(f, " {address}")?;
        }
        if let Some(gateway) = self.network.gateway {
            write!(f, " via {gateway}")?;
        }
        for (i, server) in self.network.dns.iter().enumerate() {
            f.write_str(if i == 0 { ", dns " } else { " " })?;
            write!(f, "{server}")?;
        }
        if let Some(file) = &self.tls.extra_ca_file {
            write!(f, "; extra CAs from {file}")?;
        }
        Ok(())
    }
}

/// The active provider resolved against the defaults, ready for the `llm` crate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ActiveProvider<'a> {
    /// A provider reached over HTTP(S).
    Remote {
        /// Which provider, so the client knows the API dialect.
        kind: ProviderId,
        /// The API root, e.g. `https://api.openai.com/v1`.
        base_url: &'a str,
        /// The key to send, if any.
        api_key: Option<&'a str>,
        /// The model to ask for.
        model: &'a str,
    },
    /// The model file run on this machine.
    Local {
        /// Path on the boot partition.
        model_file: &'a str,
    },
}

impl fmt::Debug for ActiveProvider<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActiveProvider::Remote { kind, base_url, api_key, model } => f
                .debug_struct("Remote")
                .field("kind", kind)
                .field("base_url", &RedactedUrl(base_url))
                .field("api_key", &api_key.map(Redacted))
                .field("model", model)
                .finish(),
            ActiveProvider::Local { model_file } => f.debug_struct("Local").field("model_file", model_file).finish(),
        }
    }
}

/// `[provider]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderSection {
    /// The provider that answers the chat.
    pub active: ProviderId,
}

/// `[providers.*]`: one optional table per provider, so several can be set up and switched between.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Providers {
    /// `[providers.anthropic]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic: Option<CloudProvider>,
    /// `[providers.openai]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai: Option<CloudProvider>,
    /// `[providers.groq]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groq: Option<CloudProvider>,
    /// `[providers.xai]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xai: Option<CloudProvider>,
    /// `[providers.openai-compatible]`.
    #[serde(rename = "openai-compatible", skip_serializing_if = "Option::is_none")]
    pub openai_compatible: Option<CompatibleProvider>,
    /// `[providers.local]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalProvider>,
}

impl Providers {
    /// Sets the model a provider is asked for (its table must exist; false otherwise). The
    /// local provider has no model name: its file is its model.
    pub fn set_model(&mut self, kind: ProviderId, model: &str) -> bool {
        match kind {
            ProviderId::OpenAiCompatible => match self.openai_compatible.as_mut() {
                Some(c) => {
                    c.model = String::from(model);
                    true
                }
                None => false,
            },
            ProviderId::Local => false,
            _ => match self.cloud_mut(kind).and_then(Option::as_mut) {
                Some(c) => {
                    c.model = Some(String::from(model));
                    true
                }
                None => false,
            },
        }
    }

    /// The table of a hosted provider; `None` for the other kinds or when it is absent.
    pub fn cloud(&self, kind: ProviderId) -> Option<&CloudProvider> {
        match kind {
            ProviderId::Anthropic => self.anthropic.as_ref(),
            ProviderId::OpenAi => self.openai.as_ref(),
            ProviderId::Groq => self.groq.as_ref(),
            ProviderId::Xai => self.xai.as_ref(),
            ProviderId::OpenAiCompatible | ProviderId::Local => None,
        }
    }

    /// The slot holding a hosted provider's table, for the wizard and settings screen to fill in.
    pub fn cloud_mut(&mut self, kind: ProviderId) -> Option<&mut Option<CloudProvider>> {
        match kind {
            ProviderId::Anthropic => Some(&mut self.anthropic),
            ProviderId::OpenAi => Some(&mut self.openai),
            ProviderId::Groq => Some(&mut self.groq),
            ProviderId::Xai => Some(&mut self.xai),
            ProviderId::OpenAiCompatible | ProviderId::Local => None,
        }
    }

    /// Whether the provider has a table at all.
    pub fn is_configured(&self, kind: ProviderId) -> bool {
        match kind {
            ProviderId::OpenAiCompatible => self.openai_compatible.is_some(),
            ProviderId::Local => self.local.is_some(),
            _ => self.cloud(kind).is_some(),
        }
    }

    /// Whether no provider has a table (then `[providers]` is left out of the file).
    pub fn is_empty(&self) -> bool {
        !ProviderId::ALL.into_iter().any(|kind| self.is_configured(kind))
    }
}

/// `[providers.anthropic]`, `[providers.openai]`, `[providers.groq]` or `[providers.xai]`.
///
/// `Debug` shows the key redacted, so logging this value is safe.
#[derive(Clone, Default, PartialEq, Serialize)]
pub struct CloudProvider {
    /// The secret API key; empty when the file does not give one (then `validate` complains
    /// if this provider is the active one).
    pub api_key: String,
    /// The model; `None` means [`ProviderId::default_model`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Replaces the provider's API root (gateways, proxies); `None` means
    /// [`ProviderId::default_base_url`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Sampling temperature sent with each request (0 to 2); `None` leaves it to the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The longest answer asked for, in tokens (1 to 65536); `None` uses moteOS's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl fmt::Debug for CloudProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudProvider")
            .field("api_key", &Redacted(&self.api_key))
            .field("model", &self.model)
            .field("base_url", &self.base_url.as_deref().map(RedactedUrl))
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// `[providers.openai-compatible]`: any server that speaks the OpenAI chat API.
///
/// `Debug` shows the key redacted.
#[derive(Clone, Default, PartialEq, Serialize)]
pub struct CompatibleProvider {
    /// The API root, e.g. `http://192.168.1.10:11434/v1` for Ollama.
    pub base_url: String,
    /// Sent as a bearer token when set; many local servers need none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The model name as the server knows it, e.g. `llama3.2`.
    pub model: String,
    /// Sampling temperature sent with each request (0 to 2); `None` leaves it to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The longest answer asked for, in tokens (1 to 65536); `None` uses moteOS's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl fmt::Debug for CompatibleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompatibleProvider")
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key.as_deref().map(Redacted))
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

/// `[providers.local]`: a GGUF model run by moteOS itself, and how it samples.
///
/// The sampling keys default to [`LocalSampling::DEFAULT`] (the reasons are given there).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalProvider {
    /// Path of the model on the boot partition, with UEFI backslashes.
    pub model_file: String,
    /// See [`LocalSampling::temperature`].
    pub temperature: f32,
    /// See [`LocalSampling::top_p`].
    pub top_p: f32,
    /// See [`LocalSampling::top_k`].
    pub top_k: u32,
    /// See [`LocalSampling::min_p`].
    pub min_p: f32,
    /// See [`LocalSampling::repeat_penalty`].
    pub repeat_penalty: f32,
    /// See [`LocalSampling::seed`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl LocalProvider {
    /// The sampling settings of this table.
    pub fn sampling(&self) -> LocalSampling {
        LocalSampling {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            seed: self.seed,
        }
    }

    /// Replaces the sampling settings of this table.
    pub fn set_sampling(&mut self, sampling: LocalSampling) {
        let LocalSampling { temperature, top_p, top_k, min_p, repeat_penalty, seed } = sampling;
        *self = LocalProvider {
            model_file: core::mem::take(&mut self.model_file),
            temperature,
            top_p,
            top_k,
            min_p,
            repeat_penalty,
            seed,
        };
    }
}

impl Default for LocalProvider {
    fn default() -> Self {
        let mut local = LocalProvider {
            model_file: String::from(DEFAULT_MODEL_FILE),
            temperature: 0.0,
            top_p: 0.0,
            top_k: 0,
            min_p: 0.0,
            repeat_penalty: 0.0,
            seed: None,
        };
        local.set_sampling(LocalSampling::DEFAULT);
        local
    }
}

/// How the network interface gets its address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Ask a DHCP server (the default: right for QEMU and most home networks).
    #[default]
    Dhcp,
    /// Use `address`, `gateway` and `dns` from the file.
    Static,
}

impl NetworkMode {
    /// The name used in `config.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Dhcp => "dhcp",
            NetworkMode::Static => "static",
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[network]`. A file without this table means DHCP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkConfig {
    /// DHCP or static.
    pub mode: NetworkMode,
    /// This machine's address and prefix; required for static mode, ignored with DHCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Cidr>,
    /// The default router; static mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4>,
    /// DNS servers. With DHCP they are tried before the servers the lease offers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4>,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsConfig {
    /// A PEM bundle on the boot partition trusted in addition to the built-in roots
    /// (a company proxy, a self-signed local server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_ca_file: Option<String>,
}

impl TlsConfig {
    /// Whether nothing is set (then `[tls]` is left out of the file).
    pub fn is_empty(&self) -> bool {
        self.extra_ca_file.is_none()
    }
}

impl Serialize for Ipv4 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Ipv4Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
