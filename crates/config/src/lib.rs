//! moteOS configuration: `\moteos\config.toml` as types, read with precise messages, written back.
//!
//! The kernel reads the file's bytes from the boot partition and hands them to [`parse_file`]:
//! - `Ok` gives the configuration plus warnings to log;
//! - `Err` gives a [`ConfigError`] whose sentence the setup wizard shows, e.g.
//!   "config.toml line 3, column 9: expected `=` after the key".
//!
//! A missing file is not an error here and is never replaced by a default behind the user's
//! back: the kernel sees `None` from its [`SettingsStore`] and starts the first-boot wizard.
//!
//! Reading is split in two so the wizard can reuse the second half: [`parse`] checks the shape
//! of the file (syntax, types, names, addresses) and [`MoteConfig::validate`] checks that the
//! result is usable (the active provider is set up, the URL is sensible, the network adds up).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod addr;
mod chat;
pub mod migrate;
mod model;
mod outline;
mod problem;

mod read;
mod redact;
mod sampling;
mod settable;
mod source;
mod store;
mod suggest;
mod url;
mod validate;
mod writeback;

use alloc::string::String;
use alloc::vec::Vec;

pub use addr::{AddressError, Ipv4, Ipv4Cidr};
pub use chat::{ChatSettings, FontScale, Theme};
pub use llm::ProviderId;
pub use migrate::CURRENT_VERSION;
pub use model::{
    ActiveProvider, CloudProvider, CompatibleProvider, DEFAULT_MODEL_FILE, LocalProvider, MoteConfig, NetworkConfig,
    NetworkMode, ProviderSection, Providers, TlsConfig,
};
pub use problem::{AddressField, ConfigError, ConfigProblem, HostAddressIssue, Location, ProblemKind, Severity};
pub use redact::redact_key;
pub use sampling::{
    FloatRange, IntRange, LocalSampling, MAX_TOKENS, PROBABILITY, REPEAT_PENALTY, SEED, TEMPERATURE, TOP_K,
};
pub use settable::{SetError, SettingKey, forget_keys, get, set, settable};
pub use store::{MemoryStore, SettingsStore, StoreError};
pub use url::UrlError;
pub use writeback::write_back;

/// Where the file lives on the boot partition.
pub const CONFIG_PATH: &str = "\\moteos\\config.toml";

/// The name used at the start of messages.
pub const FILE_NAME: &str = "config.toml";

/// The largest file accepted. Real configurations are under a kilobyte; anything near this is the
/// wrong file, and the limit bounds the memory a corrupt partition can make the parser use.
pub const MAX_FILE_SIZE: usize = 64 * 1024;

/// A configuration read from a file, with the warnings found on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The configuration.
    pub config: MoteConfig,
    /// Problems that do not stop it from working (unknown keys, plain HTTP…), located in the file.
    pub warnings: Vec<ConfigProblem>,
}

/// Reads a configuration from text, checking its shape but not whether it is usable.
///
/// Fails on TOML syntax errors, values of the wrong type, unknown provider or network-mode
/// names and malformed addresses. Unknown keys are ignored here; [`parse_with_warnings`]
/// reports them. A leading byte-order mark and Windows line endings are accepted.
pub fn parse(text: &str) -> Result<MoteConfig, ConfigError> {
    parse_with_warnings(text).map(|parsed| parsed.config)
}

/// [`parse`], also returning the warnings (unknown keys with suggestions).
pub fn parse_with_warnings(text: &str) -> Result<Parsed, ConfigError> {
    let reading = read::read(source::strip_bom(text))?;
    match reading.config {
        Some(config) if !reading.problems.iter().any(ConfigProblem::is_error) => {
            Ok(Parsed { config, warnings: sorted(reading.problems) })
        }
        _ => Err(ConfigError::Invalid { problems: sorted(reading.problems) }),
    }
}

/// [`parse`] for the raw contents of the file: rejects files over [`MAX_FILE_SIZE`] and text
/// that is not UTF-8 with messages that say so.
pub fn parse_bytes(bytes: &[u8]) -> Result<MoteConfig, ConfigError> {
    parse(source::decode(bytes)?)
}

/// Everything the kernel needs at boot: decodes, parses and validates the file's bytes.
///
/// `Err` means the configuration is unusable and holds every problem found; `Ok` holds the
/// configuration and the warnings to log. Validation problems point at the line of the setting
/// they are about.
pub fn parse_file(bytes: &[u8]) -> Result<Parsed, ConfigError> {
    let text = source::decode(bytes)?;
    let reading = read::read(text)?;
    let Some(config) = reading.config else {
        return Err(ConfigError::Invalid { problems: sorted(reading.problems) });
    };
    let mut problems = reading.problems;
    for mut problem in config.validate() {
        // A value that could not be read also looks missing to validation; say it only once.
        let already_reported = problems.iter().any(|p| p.is_error() && p.field.is_some() && p.field == problem.field);
        if already_reported {
            continue;
        }
        problem.location = problem.field.as_deref().and_then(|field| nearest_location(&reading.locations, field));
        problems.push(problem);
    }
    if problems.iter().any(ConfigProblem::is_error) {
        Err(ConfigError::Invalid { problems: sorted(problems) })
    } else {
        Ok(Parsed { config, warnings: sorted(problems) })
    }
}

/// Reads the configuration from `store`; `Ok(None)` when nothing is stored (first boot).
pub fn load_from<S: SettingsStore + ?Sized>(store: &mut S) -> Result<Option<Parsed>, ConfigError> {
    match store.load()? {
        Some(bytes) => parse_file(&bytes).map(Some),
        None => Ok(None),
    }
}

impl MoteConfig {
    /// The configuration as `config.toml` text that [`parse`] reads back to an equal value.
    ///
    /// Keys are written in full: this is what gets saved. Comments and unknown keys of the file
    /// this came from are not kept.
    pub fn to_toml(&self) -> String {
        let mut text = String::from("# moteOS configuration, written by moteOS. Safe to edit by hand.\n\n");
        match toml::to_string(self) {
            Ok(body) => text.push_str(&body),
            // Not reachable with these types (strings, tables and arrays only). If it ever happens
            // the file still parses, fails for lack of [provider], and the wizard shows why.
            Err(error) => {
                text.push_str("# could not write the configuration: ");
                text.push_str(&alloc::format!("{error}").replace('\n', " "));
                text.push('\n');
            }
        }
        text
    }

    /// The configuration as TOML with every API key redacted (`sk-ant-…abcd`), for logs and screens.
    pub fn redacted(&self) -> String {
        let mut copy = self.clone();
        for kind in ProviderId::CLOUD {
            if let Some(Some(cloud)) = copy.providers.cloud_mut(kind) {
                if validate::model_holds_key(cloud.model.as_deref(), Some(&cloud.api_key)) {
                    cloud.model = Some(redact_key(&cloud.api_key));
                }
                cloud.api_key = redact_key(&cloud.api_key);
            }
        }
        if let Some(compatible) = &mut copy.providers.openai_compatible {
            if validate::model_holds_key(Some(&compatible.model), compatible.api_key.as_deref()) {
                compatible.model = redact_key(compatible.api_key.as_deref().unwrap_or_default());
            }
            compatible.api_key = compatible.api_key.as_deref().map(redact_key);
        }
        copy.to_toml()
    }

    /// Writes [`MoteConfig::to_toml`] to `store`.
    pub fn save_to<S: SettingsStore + ?Sized>(&self, store: &mut S) -> Result<(), ConfigError> {
        let text = self.to_toml();
        if text.len() > MAX_FILE_SIZE {
            // Saving it would produce a file the next boot refuses.
            return Err(ConfigError::TooLarge { len: text.len() });
        }
        store.save(text.as_bytes())?;
        Ok(())
    }
}

/// The location of `field`, or of the closest enclosing table present in the file.
fn nearest_location(locations: &read::Locations, field: &str) -> Option<Location> {
    let mut path = field;
    loop {
        if let Some(location) = locations.get(path) {
            return Some(*location);
        }
        path = &path[..path.rfind('.')?];
    }
}

/// Errors first, then in file order, so the first line shown is the one to fix first.
fn sorted(mut problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    problems.sort_by_key(|p| (core::cmp::Reverse(p.severity), p.location.is_none(), p.location));
    problems
}
