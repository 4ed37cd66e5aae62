//! What the user chose: the configuration read at boot (or a fresh one), the provider
//! and model in use, and whether each provider can answer.

use alloc::format;
use alloc::string::{String, ToString};

use config::{ActiveProvider, MoteConfig};
use llm::{Provider, ProviderId};

/// The local model as the kernel found it at boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalModel {
    /// Loaded and ready.
    Ready {
        /// Its name (from the file's metadata).
        name: String,
        /// Its context window in tokens (as configured for the engine).
        context: u32,
    },
    /// There is no model file.
    Missing,
    /// The file is there but cannot be used; the sentence says why.
    Broken(String),
}

/// Who would answer, and how, for one provider.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A remote provider, ready to be asked.
    Remote {
        /// The client-side provider (address, key).
        provider: Provider,
        /// The model asked for.
        model: String,
    },
    /// The local model.
    Local {
        /// Its name.
        name: String,
        /// Its context window.
        context: u32,
    },
    /// It cannot answer; the sentence says why and what to do.
    Unavailable(String),
}

/// The configuration in effect.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The configuration (read at boot, changed by the user since).
    pub config: Option<MoteConfig>,
    /// Why the file on disk could not be used, if it could not.
    pub config_problem: Option<String>,
    /// The local model.
    pub local: LocalModel,
}

/// Estimated tokens of conversation sent to a remote model: room in every current hosted
/// model's window (the estimate can be 2x off for code).
pub const REMOTE_BUDGET: usize = 24_000;
/// The longest reply asked of a remote model.
pub const REMOTE_MAX_TOKENS: u32 = 1024;

impl Settings {
    /// The provider that answers: the configured one, or the local model when nothing is
    /// configured and a model is loaded.
    pub fn active(&self) -> ProviderId {
        match &self.config {
            Some(config) => config.provider.active,
            None => ProviderId::Local,
        }
    }

    /// Makes `id` the active provider (in memory).
    pub fn set_active(&mut self, id: ProviderId) {
        self.config.get_or_insert_with(|| MoteConfig::new(id)).provider.active = id;
    }

    /// Who would answer for `id`.
    pub fn backend(&self, id: ProviderId) -> Backend {
        if id == ProviderId::Local {
            return match &self.local {
                LocalModel::Ready { name, context } => Backend::Local { name: name.clone(), context: *context },
                LocalModel::Missing => Backend::Unavailable(String::from(
                    "no provider is set up: put a config.toml (or a model.gguf) in \\moteos\\ on the boot partition (see the README)",
                )),
                LocalModel::Broken(why) => Backend::Unavailable(why.clone()),
            };
        }
        let Some(config) = &self.config else {
            return Backend::Unavailable(format!(
                "{} is not set up: add [providers.{}] to config.toml",
                id.label(),
                id.as_str()
            ));
        };
        match config.provider_settings(id) {
            Some(ActiveProvider::Remote { base_url, api_key, model, .. }) => {
                match Provider::new(id, base_url, api_key) {
                    Ok(provider) => Backend::Remote { provider, model: String::from(model) },
                    Err(e) => Backend::Unavailable(e.to_string()),
                }
            }
            Some(ActiveProvider::Local { .. }) => self.backend(ProviderId::Local),
            None => Backend::Unavailable(format!(
                "{} is chosen but [providers.{}] is missing from config.toml",
                id.label(),
                id.as_str()
            )),
        }
    }

    /// Sets the model of `id` (in memory); false when the provider has no table to hold it.
    pub fn set_model(&mut self, id: ProviderId, model: &str) -> bool {
        self.config.as_mut().is_some_and(|c| c.providers.set_model(id, model))
    }
}
