//! The settings a user may change at run time: one table behind `/set KEY VALUE` and the
//! settings screen, with reading, writing and range checks in one place.

use core::fmt;
use core::str::FromStr;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::addr::{Ipv4, Ipv4Cidr};
use crate::chat::{FontScale, Theme};
use crate::model::{CloudProvider, CompatibleProvider, DEFAULT_MODEL_FILE, LocalProvider, MoteConfig, NetworkMode};
use crate::redact::redact_key;
use crate::sampling::{self, FloatRange, IntRange, LocalSampling};
use crate::suggest::closest;
use crate::url::parse_base_url;
use llm::ProviderId;

/// One setting of [`settable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingKey {
    /// The dotted name typed after `/set`, e.g. `chat.theme`.
    pub name: &'static str,
    /// One line saying what it does and which values it takes.
    pub help: &'static str,
    /// An API key: [`get`] shows it redacted and a screen must read it in masked mode.
    pub secret: bool,
}

const fn key(name: &'static str, help: &'static str) -> SettingKey {
    SettingKey { name, help, secret: false }
}

const fn secret(name: &'static str, help: &'static str) -> SettingKey {
    SettingKey { name, help, secret: true }
}

/// The whole table: the settings before and after the remote providers, and five settings for
/// each remote provider in between.
macro_rules! table {
    ([$($before:expr,)*], [$(($name:literal, $who:literal),)*], [$($after:expr,)*]) => {
        [
            $($before,)*
            $(
                key(concat!("providers.", $name, ".model"), concat!("model asked of ", $who, "; empty for the default")),
                key(
                    concat!("providers.", $name, ".temperature"),
                    concat!("sampling temperature for ", $who, ", 0 to 2; empty leaves it to the provider"),
                ),
                key(
                    concat!("providers.", $name, ".max_tokens"),
                    concat!("longest answer from ", $who, " in tokens, 1 to 65536; empty for the default"),
                ),
                key(concat!("providers.", $name, ".base_url"), concat!("API root of ", $who, "; empty for the default")),
                secret(concat!("providers.", $name, ".api_key"), concat!("API key for ", $who, " (secret)")),
            )*
            $($after,)*
        ]
    };
}

static ALL: [SettingKey; 41] = table!(
    [
        key("provider.active", "the provider that answers: anthropic, openai, groq, xai, openai-compatible or local"),
        key("chat.theme", "colours of the chat: dark or light"),
        key("chat.system_prompt", "text sent before every conversation as the system message; empty for none"),
        key("chat.font_scale", "text size: auto, 1 or 2"),
    ],
    [
        ("anthropic", "Anthropic"),
        ("openai", "OpenAI"),
        ("groq", "Groq"),
        ("xai", "xAI"),
        ("openai-compatible", "the OpenAI-compatible server"),
    ],
    [
        key("providers.local.model_file", "path of the local .gguf model on the boot partition"),
        key("providers.local.temperature", "local model temperature, 0 to 2 (default 0.2)"),
        key("providers.local.top_p", "local model nucleus sampling, 0 to 1 (default 0.9)"),
        key("providers.local.top_k", "local model keeps this many likeliest tokens, 0 (all) to 100000 (default 40)"),
        key(
            "providers.local.min_p",
            "local model drops tokens below this share of the likeliest, 0 to 1 (default 0.05)"
        ),
        key("providers.local.repeat_penalty", "local model penalty on repeated tokens, 1 (off) to 2 (default 1.1)"),
        key("providers.local.seed", "fixed random seed for the local model; empty for a new one each time"),
        key("network.mode", "dhcp or static"),
        key("network.address", "static address with prefix length, like 10.0.2.15/24"),
        key("network.gateway", "static default router, like 10.0.2.2"),
        key("network.dns", "DNS servers separated by commas, like 10.0.2.3, 1.1.1.1"),
        key("tls.extra_ca_file", "PEM file on the boot partition trusted besides the built-in roots"),
    ]
);

/// Every setting `/set` and the settings screen can change, in the order a screen lists them.
pub fn settable() -> &'static [SettingKey] {
    &ALL
}

/// Why a setting could not be read or changed; `Display` says what to type instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetError {
    /// No setting has this name.
    UnknownKey {
        /// The name as typed.
        key: String,
        /// A setting it resembles.
        suggestion: Option<&'static str>,
    },
    /// The value cannot be used for this setting.
    BadValue {
        /// The setting.
        key: &'static str,
        /// The value as typed (shortened when long).
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// The setting has no default and cannot be emptied.
    Required {
        /// The setting.
        key: &'static str,
        /// What to give instead.
        expected: &'static str,
    },
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::UnknownKey { key, suggestion: Some(s) } => {
                write!(f, "there is no setting `{key}` — did you mean `{s}`?")
            }
            SetError::UnknownKey { key, suggestion: None } => {
                write!(f, "there is no setting `{key}`: the settings screen (F4) lists them all")
            }
            SetError::BadValue { key, value, expected } => write!(f, "{key} cannot be \"{value}\": use {expected}"),
            SetError::Required { key, expected } => write!(f, "{key} cannot be empty: give {expected}"),
        }
    }
}

/// A parsed setting name.
#[derive(Clone, Copy)]
enum Target {
    Active,
    Theme,
    SystemPrompt,
    FontScale,
    Remote(ProviderId, RemoteKey),
    LocalModelFile,
    Local(LocalKey),
    NetworkMode,
    Address,
    Gateway,
    Dns,
    ExtraCaFile,
}

#[derive(Clone, Copy)]
enum RemoteKey {
    Model,
    Temperature,
    MaxTokens,
    BaseUrl,
    ApiKey,
}

#[derive(Clone, Copy)]
enum LocalKey {
    Temperature,
    TopP,
    TopK,
    MinP,
    RepeatPenalty,
    Seed,
}

fn target(name: &str) -> Result<(&'static str, Target), SetError> {
    let Some(entry) = settable().iter().find(|k| k.name == name) else {
        let suggestion = closest(name, settable().iter().map(|k| k.name));
        return Err(SetError::UnknownKey { key: shorten(name), suggestion });
    };
    let name = entry.name;
    let target = match name {
        "provider.active" => Target::Active,
        "chat.theme" => Target::Theme,
        "chat.system_prompt" => Target::SystemPrompt,
        "chat.font_scale" => Target::FontScale,
        "providers.local.model_file" => Target::LocalModelFile,
        "providers.local.temperature" => Target::Local(LocalKey::Temperature),
        "providers.local.top_p" => Target::Local(LocalKey::TopP),
        "providers.local.top_k" => Target::Local(LocalKey::TopK),
        "providers.local.min_p" => Target::Local(LocalKey::MinP),
        "providers.local.repeat_penalty" => Target::Local(LocalKey::RepeatPenalty),
        "providers.local.seed" => Target::Local(LocalKey::Seed),
        "network.mode" => Target::NetworkMode,
        "network.address" => Target::Address,
        "network.gateway" => Target::Gateway,
        "network.dns" => Target::Dns,
        "tls.extra_ca_file" => Target::ExtraCaFile,
        _ => {
            // providers.NAME.KEY, the only other shape in the table.
            let rest = name.strip_prefix("providers.").unwrap_or(name);
            let (provider, field) = rest.rsplit_once('.').unwrap_or((rest, ""));
            let kind = ProviderId::from_name(provider).unwrap_or(ProviderId::Anthropic);
            let field = match field {
                "model" => RemoteKey::Model,
                "temperature" => RemoteKey::Temperature,
                "max_tokens" => RemoteKey::MaxTokens,
                "base_url" => RemoteKey::BaseUrl,
                _ => RemoteKey::ApiKey,
            };
            Target::Remote(kind, field)
        }
    };
    Ok((name, target))
}

/// The value of setting `key` as text: what [`set`] would take to set it again, the empty
/// string when unset (the default applies), and API keys redacted.
pub fn get(config: &MoteConfig, key: &str) -> Result<String, SetError> {
    let (_, target) = target(key.trim())?;
    let text = match target {
        Target::Active => config.provider.active.as_str().to_owned(),
        Target::Theme => config.chat.theme.as_str().to_owned(),
        Target::SystemPrompt => config.chat.system_prompt.clone().unwrap_or_default(),
        Target::FontScale => config.chat.font_scale.to_string(),
        Target::Remote(kind, field) => remote_get(config, kind, field),
        Target::LocalModelFile => {
            config.providers.local.as_ref().map_or(DEFAULT_MODEL_FILE, |l| &l.model_file).to_owned()
        }
        Target::Local(field) => {
            let s = config.local_sampling();
            match field {
                LocalKey::Temperature => s.temperature.to_string(),
                LocalKey::TopP => s.top_p.to_string(),
                LocalKey::TopK => s.top_k.to_string(),
                LocalKey::MinP => s.min_p.to_string(),
                LocalKey::RepeatPenalty => s.repeat_penalty.to_string(),
                LocalKey::Seed => s.seed.map(|n| n.to_string()).unwrap_or_default(),
            }
        }
        Target::NetworkMode => config.network.mode.as_str().to_owned(),
        Target::Address => config.network.address.map(|a| a.to_string()).unwrap_or_default(),
        Target::Gateway => config.network.gateway.map(|a| a.to_string()).unwrap_or_default(),
        Target::Dns => config.network.dns.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        Target::ExtraCaFile => config.tls.extra_ca_file.clone().unwrap_or_default(),
    };
    Ok(text)
}

fn remote_get(config: &MoteConfig, kind: ProviderId, field: RemoteKey) -> String {
    let (model, temperature, max_tokens, base_url, api_key) = match kind {
        ProviderId::OpenAiCompatible => match &config.providers.openai_compatible {
            Some(c) => {
                (Some(c.model.as_str()), c.temperature, c.max_tokens, Some(c.base_url.as_str()), c.api_key.as_deref())
            }
            None => return String::new(),
        },
        _ => match config.providers.cloud(kind) {
            Some(c) => {
                (c.model.as_deref(), c.temperature, c.max_tokens, c.base_url.as_deref(), Some(c.api_key.as_str()))
            }
            None => return String::new(),
        },
    };
    match field {
        RemoteKey::Model => model.unwrap_or_default().to_owned(),
        RemoteKey::Temperature => temperature.map(|t| t.to_string()).unwrap_or_default(),
        RemoteKey::MaxTokens => max_tokens.map(|n| n.to_string()).unwrap_or_default(),
        RemoteKey::BaseUrl => base_url.unwrap_or_default().to_owned(),
        RemoteKey::ApiKey => api_key.filter(|k| !k.is_empty()).map(redact_key).unwrap_or_default(),
    }
}

/// Changes setting `key` to `value` after checking it; an empty `value` or `default` unsets an
/// optional setting (its default applies again). A provider's table is created when one of its
/// settings is set. On error `config` is unchanged.
pub fn set(config: &mut MoteConfig, key: &str, value: &str) -> Result<(), SetError> {
    let (name, target) = target(key.trim())?;
    let value = value.trim();
    let unset = value.is_empty() || value.eq_ignore_ascii_case("default");
    let bad = |expected: &str| SetError::BadValue { key: name, value: shorten(value), expected: expected.to_owned() };
    match target {
        Target::Active => {
            let kind = ProviderId::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(value));
            match kind {
                Some(kind) => config.provider.active = kind,
                None if unset => return Err(SetError::Required { key: name, expected: "a provider name" }),
                None => return Err(bad("anthropic, openai, groq, xai, openai-compatible or local")),
            }
        }
        Target::Theme => {
            config.chat.theme =
                if unset { Theme::default() } else { Theme::from_name(value).ok_or_else(|| bad("dark or light"))? }
        }
        Target::SystemPrompt => config.chat.system_prompt = (!unset).then(|| value.to_owned()),
        Target::FontScale => {
            config.chat.font_scale = if unset {
                FontScale::default()
            } else {
                FontScale::from_name(value).ok_or_else(|| bad("auto, 1 or 2"))?
            }
        }
        Target::Remote(kind, field) => remote_set(config, kind, field, name, value, unset)?,
        Target::LocalModelFile => {
            let file = if unset { DEFAULT_MODEL_FILE } else { value };
            config.providers.local.get_or_insert_with(LocalProvider::default).model_file = file.to_owned();
        }
        Target::Local(field) => {
            let mut s = config.local_sampling();
            let d = LocalSampling::DEFAULT;
            match field {
                LocalKey::Temperature => {
                    s.temperature = float(name, value, unset, sampling::TEMPERATURE)?.unwrap_or(d.temperature)
                }
                LocalKey::TopP => s.top_p = float(name, value, unset, sampling::PROBABILITY)?.unwrap_or(d.top_p),
                LocalKey::TopK => s.top_k = int(name, value, unset, sampling::TOP_K)?.map_or(d.top_k, narrow),
                LocalKey::MinP => s.min_p = float(name, value, unset, sampling::PROBABILITY)?.unwrap_or(d.min_p),
                LocalKey::RepeatPenalty => {
                    s.repeat_penalty = float(name, value, unset, sampling::REPEAT_PENALTY)?.unwrap_or(d.repeat_penalty)
                }
                LocalKey::Seed => s.seed = int(name, value, unset, sampling::SEED)?,
            }
            config.providers.local.get_or_insert_with(LocalProvider::default).set_sampling(s);
        }
        Target::NetworkMode => {
            config.network.mode = match value.to_ascii_lowercase().as_str() {
                "" | "default" | "dhcp" => NetworkMode::Dhcp,
                "static" => NetworkMode::Static,
                _ => return Err(bad("dhcp or static")),
            }
        }
        Target::Address => {
            config.network.address =
                address::<Ipv4Cidr>(value, unset, &bad, "an address with a prefix length like 10.0.2.15/24")?
        }
        Target::Gateway => config.network.gateway = address::<Ipv4>(value, unset, &bad, "an address like 10.0.2.2")?,
        Target::Dns => {
            let mut servers = Vec::new();
            if !unset {
                for part in value.split([',', ' ']).filter(|p| !p.is_empty()) {
                    servers.push(
                        part.parse::<Ipv4>()
                            .map_err(|_| bad("addresses separated by commas, like 10.0.2.3, 1.1.1.1"))?,
                    );
                }
            }
            config.network.dns = servers;
        }
        Target::ExtraCaFile => config.tls.extra_ca_file = (!unset).then(|| value.to_owned()),
    }
    Ok(())
}

fn remote_set(
    config: &mut MoteConfig,
    kind: ProviderId,
    field: RemoteKey,
    name: &'static str,
    value: &str,
    unset: bool,
) -> Result<(), SetError> {
    // Check first, so an error leaves the configuration as it was.
    let temperature = match field {
        RemoteKey::Temperature => float(name, value, unset, sampling::TEMPERATURE)?,
        _ => None,
    };
    let max_tokens = match field {
        RemoteKey::MaxTokens => int(name, value, unset, sampling::MAX_TOKENS)?.map(narrow),
        _ => None,
    };
    if let RemoteKey::BaseUrl = field
        && !unset
        && let Err(error) = parse_base_url(value)
    {
        let shown = format!("{}", http::RedactedUrl(value));
        return Err(SetError::BadValue {
            key: name,
            value: shorten(&shown),
            expected: format!("a URL like https://api.example.com/v1 (this one {error})"),
        });
    }
    if kind == ProviderId::OpenAiCompatible {
        if unset && matches!(field, RemoteKey::Model | RemoteKey::BaseUrl) {
            let expected = match field {
                RemoteKey::Model => "the model's name as the server knows it, like llama3.2",
                _ => "the server's API root, like http://192.168.1.10:11434/v1",
            };
            return Err(SetError::Required { key: name, expected });
        }
        if unset && config.providers.openai_compatible.is_none() {
            return Ok(());
        }
        let c = config.providers.openai_compatible.get_or_insert_with(CompatibleProvider::default);
        match field {
            RemoteKey::Model => c.model = value.to_owned(),
            RemoteKey::Temperature => c.temperature = temperature,
            RemoteKey::MaxTokens => c.max_tokens = max_tokens,
            RemoteKey::BaseUrl => c.base_url = value.to_owned(),
            RemoteKey::ApiKey => c.api_key = (!value.is_empty()).then(|| value.to_owned()),
        }
        return Ok(());
    }
    let Some(slot) = config.providers.cloud_mut(kind) else { return Ok(()) };
    if unset && slot.is_none() {
        return Ok(());
    }
    let c = slot.get_or_insert_with(CloudProvider::default);
    let text = (!unset).then(|| value.to_owned());
    match field {
        RemoteKey::Model => c.model = text,
        RemoteKey::Temperature => c.temperature = temperature,
        RemoteKey::MaxTokens => c.max_tokens = max_tokens,
        RemoteKey::BaseUrl => c.base_url = text,
        // A key is never "default": only empty clears it, so a key spelt "default" is kept.
        RemoteKey::ApiKey => c.api_key = value.to_owned(),
    }
    Ok(())
}

/// Removes every API key (the providers' other settings stay), for `/forget-keys`.
pub fn forget_keys(config: &mut MoteConfig) {
    for kind in ProviderId::CLOUD {
        if let Some(Some(cloud)) = config.providers.cloud_mut(kind) {
            cloud.api_key = String::new();
        }
    }
    if let Some(compatible) = &mut config.providers.openai_compatible {
        compatible.api_key = None;
    }
}

fn float(name: &'static str, value: &str, unset: bool, range: FloatRange) -> Result<Option<f32>, SetError> {
    if unset {
        return Ok(None);
    }
    match f32::from_str(value) {
        Ok(n) if range.contains(n) => Ok(Some(n)),
        _ => Err(SetError::BadValue { key: name, value: shorten(value), expected: range.to_string() }),
    }
}

fn int(name: &'static str, value: &str, unset: bool, range: IntRange) -> Result<Option<u64>, SetError> {
    if unset {
        return Ok(None);
    }
    match u64::from_str(value) {
        Ok(n) if range.contains(n) => Ok(Some(n)),
        _ => Err(SetError::BadValue { key: name, value: shorten(value), expected: range.to_string() }),
    }
}

/// A number already checked to be within a `u32` range.
fn narrow(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn address<T: FromStr>(
    value: &str,
    unset: bool,
    bad: &dyn Fn(&str) -> SetError,
    expected: &str,
) -> Result<Option<T>, SetError> {
    if unset {
        return Ok(None);
    }
    value.parse::<T>().map(Some).map_err(|_| bad(expected))
}

/// At most 40 characters of what was typed, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
