//! From parsed TOML to [`MoteConfig`], collecting every problem with its place in the file.
//!
//! The `toml` crate parses the syntax into a tree that remembers byte spans; this module walks
//! that tree by hand instead of deriving `Deserialize`, because derived code stops at the first
//! error and cannot say "unknown key `modle` in [providers.anthropic] — did you mean `model`?".

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::addr::{Ipv4, Ipv4Cidr};
use crate::chat::{ChatSettings, FontScale, Theme};
use crate::migrate::{CURRENT_VERSION, UNVERSIONED, migrate};
use crate::model::{
    CloudProvider, CompatibleProvider, LocalProvider, MoteConfig, NetworkConfig, NetworkMode, ProviderSection,
    Providers, TlsConfig,
};
use crate::problem::{AddressField, ConfigError, ConfigProblem, Location, ProblemKind, Severity};
use crate::sampling::{self, FloatRange, IntRange, LocalSampling};
use crate::source::syntax_error;
use crate::suggest::closest;
use llm::ProviderId;

/// Where each setting was found, by dotted path, so later problems can point into the file.
pub(crate) type Locations = BTreeMap<String, Location>;

/// The outcome of reading a file whose TOML syntax is valid.
pub(crate) struct Reading {
    /// The configuration, unless a problem made it impossible to build.
    pub config: Option<MoteConfig>,
    /// Errors and warnings, located.
    pub problems: Vec<ConfigProblem>,
    /// Locations of the settings present.
    pub locations: Locations,
}

/// Parses `text` (already without a byte-order mark) and maps it onto the schema.
pub(crate) fn read(text: &str) -> Result<Reading, ConfigError> {
    let document = DeTable::parse(text).map_err(|err| syntax_error(text, &err))?;
    let mut reader = Reader { text, problems: Vec::new(), locations: Locations::new() };
    let config = reader.document(document.get_ref());
    Ok(Reading { config, problems: reader.problems, locations: reader.locations })
}

const TOP_LEVEL: [&str; 6] = ["version", "provider", "providers", "network", "chat", "tls"];
const PROVIDER_KEYS: [&str; 1] = ["active"];
const CLOUD_KEYS: [&str; 5] = ["api_key", "model", "base_url", "temperature", "max_tokens"];
const COMPATIBLE_KEYS: [&str; 5] = ["base_url", "api_key", "model", "temperature", "max_tokens"];
const LOCAL_KEYS: [&str; 7] = ["model_file", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"];
const CHAT_KEYS: [&str; 3] = ["theme", "system_prompt", "font_scale"];

const NETWORK_KEYS: [&str; 4] = ["mode", "address", "gateway", "dns"];
const TLS_KEYS: [&str; 1] = ["extra_ca_file"];

type Entry<'t, 'i> = (&'t Spanned<alloc::borrow::Cow<'i, str>>, &'t Spanned<DeValue<'i>>);

struct Reader<'a> {
    text: &'a str,
    problems: Vec<ConfigProblem>,
    locations: Locations,
}

impl Reader<'_> {
    fn document(&mut self, root: &DeTable<'_>) -> Option<MoteConfig> {
        let mut active = None;
        let mut provider_seen = false;
        let mut providers = Providers::default();
        let mut network = NetworkConfig::default();
        let mut tls = TlsConfig::default();
        let mut chat = ChatSettings::default();
        let mut version = Some(UNVERSIONED);
        for (key, value) in root.iter() {
            let name = key.get_ref().as_ref();
            let key_span = self.key_span(key, value);
            self.locate(name.to_owned(), key_span.clone());
            match name {
                "provider" => {
                    provider_seen = true;
                    if let Some(table) = self.table(value, "", name, "a table like [provider]") {
                        active = self.provider_section(table, key_span);
                    }
                }
                "providers" => {
                    if let Some(table) = self.table(value, "", name, "a table like [providers.anthropic]") {
                        providers = self.providers(table);
                    }
                }
                "network" => {
                    if let Some(table) = self.table(value, "", name, "a table like [network]") {
                        network = self.network(table);
                    }
                }
                "tls" => {
                    if let Some(table) = self.table(value, "", name, "a table like [tls]") {
                        tls = self.tls(table);
                    }
                }
                "chat" => {
                    if let Some(table) = self.table(value, "", name, "a table like [chat]") {
                        chat = self.chat(table);
                    }
                }
                "version" => version = self.version(value),
                _ => self.unknown_top_level(name, key_span, value),
            }
        }
        if !provider_seen {
            // No location: the problem is about the whole file, not its first line.
            let kind = ProblemKind::MissingActive { section_present: false };
            self.problems.push(ConfigProblem::new(Severity::Error, Some("provider".into()), kind));
        }
        let active = active?;
        let version = version?;
        let mut config = MoteConfig { version, provider: ProviderSection { active }, providers, network, chat, tls };
        migrate(&mut config, version);
        Some(config)
    }

    fn version(&mut self, value: &Spanned<DeValue<'_>>) -> Option<u32> {
        let number = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        let Some(version) = number.and_then(|n| u32::try_from(n).ok()).filter(|&n| n >= 1) else {
            let kind = ProblemKind::BadVersion { value: self.source(value.span()) };
            self.problem(Severity::Error, "version", value.span(), kind);
            return None;
        };
        if version > CURRENT_VERSION {
            self.problem(Severity::Warning, "version", value.span(), ProblemKind::NewerVersion { version });
        }
        Some(version)
    }

    fn chat(&mut self, table: &DeTable<'_>) -> ChatSettings {
        self.unknown_keys(table, "chat", &CHAT_KEYS);
        let mut chat = ChatSettings::default();
        if let Some((_, value)) = entry(table, "theme") {
            self.locate("chat.theme".into(), value.span());
            if let Some(name) = self.string(value, "chat", "theme") {
                match Theme::from_name(name) {
                    Some(theme) => chat.theme = theme,
                    None => {
                        let suggestion = closest(name, Theme::ALL.map(Theme::as_str));
                        let kind = ProblemKind::UnknownTheme { value: name.to_owned(), suggestion };
                        self.problem(Severity::Error, "chat.theme", value.span(), kind);
                    }
                }
            }
        }
        chat.system_prompt = self.optional_string(table, "chat", "system_prompt").filter(|s| !s.is_empty());
        if let Some((_, value)) = entry(table, "font_scale") {
            self.locate("chat.font_scale".into(), value.span());
            let scale = match value.get_ref() {
                DeValue::String(text) => FontScale::from_name(text),
                DeValue::Integer(i) => FontScale::from_name(i.as_str()).filter(|_| i.radix() == 10),
                _ => None,
            };
            match scale {
                Some(scale) => chat.font_scale = scale,
                None => {
                    let kind = ProblemKind::BadFontScale { value: self.source(value.span()) };
                    self.problem(Severity::Error, "chat.font_scale", value.span(), kind);
                }
            }
        }
        chat
    }

    fn provider_section(&mut self, table: &DeTable<'_>, header: Range<usize>) -> Option<ProviderId> {
        self.unknown_keys(table, "provider", &PROVIDER_KEYS);
        let Some((_, value)) = entry(table, "active") else {
            self.problem(Severity::Error, "provider", header, ProblemKind::MissingActive { section_present: true });
            return None;
        };
        self.locate("provider.active".into(), value.span());
        let name = self.string(value, "provider", "active")?;
        // Capitalisation is forgiven ("OpenAI"): there is no other provider it could mean.
        let kind = ProviderId::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(name));
        if kind.is_none() {
            let suggestion = closest(name, ProviderId::ALL.map(ProviderId::as_str));
            let kind = ProblemKind::UnknownProvider { value: name.to_owned(), suggestion };
            self.problem(Severity::Error, "provider.active", value.span(), kind);
        }
        kind
    }

    fn providers(&mut self, table: &DeTable<'_>) -> Providers {
        let mut providers = Providers::default();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let path = format!("providers.{name}");
            let key_span = self.key_span(key, value);
            self.locate(path.clone(), key_span.clone());
            let Some(kind) = ProviderId::from_name(name) else {
                let suggestion = closest(name, ProviderId::ALL.map(ProviderId::as_str));
                let problem = ProblemKind::UnknownProviderTable { name: name.to_owned(), suggestion };
                self.problem(Severity::Warning, &path, key_span, problem);
                continue;
            };
            let Some(section) = self.table(value, "providers", name, "a table") else { continue };
            match kind {
                ProviderId::OpenAiCompatible => providers.openai_compatible = Some(self.compatible(section, &path)),
                ProviderId::Local => providers.local = Some(self.local(section, &path)),
                _ => {
                    let cloud = self.cloud(section, &path);
                    if let Some(slot) = providers.cloud_mut(kind) {
                        *slot = Some(cloud);
                    }
                }
            }
        }
        providers
    }

    fn cloud(&mut self, table: &DeTable<'_>, path: &str) -> CloudProvider {
        self.unknown_keys(table, path, &CLOUD_KEYS);
        CloudProvider {
            api_key: self.optional_string(table, path, "api_key").unwrap_or_default(),
            model: self.optional_string(table, path, "model").filter(|s| !s.is_empty()),
            base_url: self.optional_string(table, path, "base_url").filter(|s| !s.is_empty()),
            temperature: self.optional_float(table, path, "temperature", sampling::TEMPERATURE),
            max_tokens: self.optional_u32(table, path, "max_tokens", sampling::MAX_TOKENS),
        }
    }

    fn compatible(&mut self, table: &DeTable<'_>, path: &str) -> CompatibleProvider {
        self.unknown_keys(table, path, &COMPATIBLE_KEYS);
        CompatibleProvider {
            base_url: self.optional_string(table, path, "base_url").unwrap_or_default(),
            // `api_key = ""` is how the example file says "no key", so it means `None`.
            api_key: self.optional_string(table, path, "api_key").filter(|s| !s.is_empty()),
            model: self.optional_string(table, path, "model").unwrap_or_default(),
            temperature: self.optional_float(table, path, "temperature", sampling::TEMPERATURE),
            max_tokens: self.optional_u32(table, path, "max_tokens", sampling::MAX_TOKENS),
        }
    }

    fn local(&mut self, table: &DeTable<'_>, path: &str) -> LocalProvider {
        self.unknown_keys(table, path, &LOCAL_KEYS);
        let mut local = LocalProvider::default();
        if let Some(model_file) = self.optional_string(table, path, "model_file") {
            local.model_file = model_file;
        }
        let d = LocalSampling::DEFAULT;
        let top_k = self.optional_u32(table, path, "top_k", sampling::TOP_K);
        let seed = self.optional_uint(table, path, "seed", sampling::SEED.max, sampling::SEED);
        local.set_sampling(LocalSampling {
            temperature: self
                .optional_float(table, path, "temperature", sampling::TEMPERATURE)
                .unwrap_or(d.temperature),
            top_p: self.optional_float(table, path, "top_p", sampling::PROBABILITY).unwrap_or(d.top_p),
            top_k: top_k.unwrap_or(d.top_k),
            min_p: self.optional_float(table, path, "min_p", sampling::PROBABILITY).unwrap_or(d.min_p),
            repeat_penalty: self
                .optional_float(table, path, "repeat_penalty", sampling::REPEAT_PENALTY)
                .unwrap_or(d.repeat_penalty),
            seed,
        });
        local
    }

    /// A decimal setting; whole numbers are accepted too, NaN and infinities are not. Whether it
    /// is within `advice` (named in the message) is checked by validation.
    fn optional_float(&mut self, table: &DeTable<'_>, path: &str, key: &str, advice: FloatRange) -> Option<f32> {
        let (_, value) = entry(table, key)?;
        self.locate(format!("{path}.{key}"), value.span());
        let number = match value.get_ref() {
            // Parsed as f32 from the text, so `0.1` is the f32 nearest 0.1, as written back.
            DeValue::Float(f) => f.as_str().parse::<f32>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f32),
            other => {
                self.wrong_type(path, key, value.span(), "a number", other);
                return None;
            }
        };
        let number = number.filter(|n| n.is_finite());
        if number.is_none() {
            self.out_of_range(path, key, value.span(), alloc::string::ToString::to_string(&advice));
        }
        number
    }

    fn optional_u32(&mut self, table: &DeTable<'_>, path: &str, key: &str, advice: IntRange) -> Option<u32> {
        let n = self.optional_uint(table, path, key, u64::from(u32::MAX), advice)?;
        u32::try_from(n).ok()
    }

    /// A whole-number setting from 0 to `fits`; whether it is within `advice` (named in the
    /// message) is checked by validation.
    fn optional_uint(
        &mut self,
        table: &DeTable<'_>,
        path: &str,
        key: &str,
        fits: u64,
        advice: IntRange,
    ) -> Option<u64> {
        let (_, value) = entry(table, key)?;
        self.locate(format!("{path}.{key}"), value.span());
        let number = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            other => {
                self.wrong_type(path, key, value.span(), "a whole number", other);
                return None;
            }
        };
        let number = number.and_then(|n| u64::try_from(n).ok()).filter(|&n| n <= fits);
        if number.is_none() {
            self.out_of_range(path, key, value.span(), alloc::string::ToString::to_string(&advice));
        }
        number
    }

    fn out_of_range(&mut self, path: &str, key: &str, span: Range<usize>, expected: String) {
        let kind =
            ProblemKind::OutOfRange { key: format!("[{path}] {key}"), value: self.source(span.clone()), expected };
        self.problem(Severity::Error, &format!("{path}.{key}"), span, kind);
    }

    /// The text of the file at `span`, for messages (never a secret: only numbers use this).
    fn source(&self, span: Range<usize>) -> String {
        self.text.get(span).unwrap_or_default().to_owned()
    }

    fn network(&mut self, table: &DeTable<'_>) -> NetworkConfig {
        self.unknown_keys(table, "network", &NETWORK_KEYS);
        let mut network = NetworkConfig::default();
        if let Some((_, value)) = entry(table, "mode") {
            self.locate("network.mode".into(), value.span());
            if let Some(mode) = self.string(value, "network", "mode") {
                match mode.to_ascii_lowercase().as_str() {
                    "dhcp" => network.mode = NetworkMode::Dhcp,
                    "static" => network.mode = NetworkMode::Static,
                    _ => {
                        let suggestion = closest(mode, ["dhcp", "static"]);
                        let kind = ProblemKind::UnknownNetworkMode { value: mode.to_owned(), suggestion };
                        self.problem(Severity::Error, "network.mode", value.span(), kind);
                    }
                }
            }
        }
        if let Some((_, value)) = entry(table, "address") {
            self.locate("network.address".into(), value.span());
            if let Some(text) = self.string(value, "network", "address") {
                network.address =
                    self.address::<Ipv4Cidr>(text, AddressField::Address, value.span(), "network.address");
            }
        }
        if let Some((_, value)) = entry(table, "gateway") {
            self.locate("network.gateway".into(), value.span());
            if let Some(text) = self.string(value, "network", "gateway") {
                network.gateway = self.address::<Ipv4>(text, AddressField::Gateway, value.span(), "network.gateway");
            }
        }
        if let Some((_, value)) = entry(table, "dns") {
            self.locate("network.dns".into(), value.span());
            network.dns = self.dns(value);
        }
        network
    }

    fn dns(&mut self, value: &Spanned<DeValue<'_>>) -> Vec<Ipv4> {
        let mut servers = Vec::new();
        match value.get_ref() {
            // One server without brackets is an easy slip with an obvious meaning.
            DeValue::String(text) => {
                servers.extend(self.address::<Ipv4>(text, AddressField::Dns, value.span(), "network.dns"))
            }
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(text) => {
                            servers.extend(self.address::<Ipv4>(text, AddressField::Dns, item.span(), "network.dns"));
                        }
                        other => self.wrong_type("network", "dns", item.span(), "a list of addresses in quotes", other),
                    }
                }
            }
            other => self.wrong_type("network", "dns", value.span(), "a list of addresses like [\"10.0.2.3\"]", other),
        }
        servers
    }

    fn tls(&mut self, table: &DeTable<'_>) -> TlsConfig {
        self.unknown_keys(table, "tls", &TLS_KEYS);
        TlsConfig { extra_ca_file: self.optional_string(table, "tls", "extra_ca_file").filter(|s| !s.is_empty()) }
    }

    fn unknown_top_level(&mut self, name: &str, span: Range<usize>, value: &Spanned<DeValue<'_>>) {
        if matches!(value.get_ref(), DeValue::Table(_)) {
            // `[anthropic]` instead of `[providers.anthropic]` is the likeliest slip of all.
            let suggestion = match ProviderId::from_name(name) {
                Some(kind) => Some(format!("providers.{kind}")),
                None => closest(name, TOP_LEVEL).map(str::to_owned),
            };
            self.problem(
                Severity::Warning,
                name,
                span,
                ProblemKind::UnknownTable { name: name.to_owned(), suggestion },
            );
        } else {
            let suggestion = closest(name, TOP_LEVEL).map(str::to_owned);
            let kind = ProblemKind::UnknownKey { table: String::new(), key: name.to_owned(), suggestion };
            self.problem(Severity::Warning, name, span, kind);
        }
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, path: &str, known: &[&'static str]) {
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if !known.contains(&name) {
                let suggestion = closest(name, known.iter().copied()).map(str::to_owned);
                let kind = ProblemKind::UnknownKey { table: path.to_owned(), key: name.to_owned(), suggestion };
                let span = self.key_span(key, value);
                self.problem(Severity::Warning, &format!("{path}.{name}"), span, kind);
            }
        }
    }

    /// The value of `key` in `table` if present and a string; records its location.
    fn optional_string(&mut self, table: &DeTable<'_>, path: &str, key: &str) -> Option<String> {
        let (_, value) = entry(table, key)?;
        self.locate(format!("{path}.{key}"), value.span());
        self.string(value, path, key).map(str::to_owned)
    }

    fn string<'v>(&mut self, value: &'v Spanned<DeValue<'_>>, path: &str, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text.as_ref()),
            other => {
                self.wrong_type(path, key, value.span(), "text in quotes", other);
                None
            }
        }
    }

    fn table<'v, 'i>(
        &mut self,
        value: &'v Spanned<DeValue<'i>>,
        path: &str,
        key: &str,
        expected: &'static str,
    ) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.wrong_type(path, key, value.span(), expected, other);
                None
            }
        }
    }

    fn address<T: core::str::FromStr<Err = crate::addr::AddressError>>(
        &mut self,
        text: &str,
        field: AddressField,
        span: Range<usize>,
        path: &str,
    ) -> Option<T> {
        match text.parse::<T>() {
            Ok(address) => Some(address),
            Err(error) => {
                self.problem(
                    Severity::Error,
                    path,
                    span,
                    ProblemKind::BadAddress { field, value: text.to_owned(), error },
                );
                None
            }
        }
    }

    fn wrong_type(&mut self, path: &str, key: &str, span: Range<usize>, expected: &'static str, found: &DeValue<'_>) {
        let shown = if path.is_empty() { format!("`{key}`") } else { format!("[{path}] {key}") };
        let kind = ProblemKind::WrongType { key: shown, expected, found: describe(found) };
        let field = if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
        self.problem(Severity::Error, &field, span, kind);
    }

    fn problem(&mut self, severity: Severity, field: &str, span: Range<usize>, kind: ProblemKind) {
        let mut problem = ConfigProblem::new(severity, Some(field.to_owned()), kind);
        problem.location = Some(Location::of(self.text, span.start));
        self.problems.push(problem);
    }

    /// Where to point for a key: the key itself, or for a table the start of its header line,
    /// because the parser's span covers only the last name in `[providers.openai]`.
    fn key_span(&self, key: &Spanned<alloc::borrow::Cow<'_, str>>, value: &Spanned<DeValue<'_>>) -> Range<usize> {
        let span = key.span();
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            return span;
        }
        let start = span.start.min(self.text.len());
        let line_start = self.text.get(..start).and_then(|before| before.rfind('\n')).map_or(0, |i| i + 1);
        let indent = self.text.get(line_start..start).map_or(0, |line| line.len() - line.trim_start().len());
        line_start + indent..span.end
    }

    fn locate(&mut self, path: String, span: Range<usize>) {
        self.locations.insert(path, Location::of(self.text, span.start));
    }
}

fn entry<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<Entry<'t, 'i>> {
    table.get_key_value(key)
}

/// A TOML value's type in words for "must be …, not …".
fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "text",
        DeValue::Integer(_) | DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "true or false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}
