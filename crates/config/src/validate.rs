//! Whether a configuration can be used: the checks that need the whole picture.
//!
//! Reading a file only checks that each value has the right shape. Here the values are judged
//! together (is the active provider set up, is the gateway on the network), and the same checks
//! apply to configurations built by the wizard, which never went through a file.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::model::{MoteConfig, NetworkConfig, NetworkMode};
use crate::problem::{ConfigProblem, HostAddressIssue, ProblemKind, Severity};
use crate::sampling::{self, FloatRange, IntRange};
use crate::url::{host_is_local, parse_base_url};
use http::RedactedUrl;
use llm::ProviderId;

impl MoteConfig {
    /// Every problem that makes this configuration unusable (errors) or suspicious (warnings).
    ///
    /// The kernel opens the wizard when any error is present and logs the warnings otherwise.
    /// Problems carry a `field` but no `location`; [`crate::parse_file`] adds locations.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Problems::default();
        self.check_providers(&mut problems);
        check_network(&self.network, &mut problems);
        if let Some(path) = &self.tls.extra_ca_file {
            check_path(&mut problems, "tls.extra_ca_file", "[tls] extra_ca_file", path);
        }
        self.check_numbers(&mut problems);
        problems.0
    }

    /// Every number a user can set must be within its range, whoever set it.
    fn check_numbers(&self, problems: &mut Problems) {
        for kind in ProviderId::ALL {
            let table = format!("providers.{kind}");
            let (temperature, max_tokens) = match kind {
                ProviderId::OpenAiCompatible => match &self.providers.openai_compatible {
                    Some(c) => (c.temperature, c.max_tokens),
                    None => continue,
                },
                ProviderId::Local => continue,
                _ => match self.providers.cloud(kind) {
                    Some(c) => (c.temperature, c.max_tokens),
                    None => continue,
                },
            };
            if let Some(t) = temperature {
                check_float(problems, &table, "temperature", t, sampling::TEMPERATURE);
            }
            if let Some(n) = max_tokens {
                check_int(problems, &table, "max_tokens", n.into(), sampling::MAX_TOKENS);
            }
        }
        if let Some(local) = &self.providers.local {
            let table = "providers.local";
            check_float(problems, table, "temperature", local.temperature, sampling::TEMPERATURE);
            check_float(problems, table, "top_p", local.top_p, sampling::PROBABILITY);
            check_int(problems, table, "top_k", local.top_k.into(), sampling::TOP_K);
            check_float(problems, table, "min_p", local.min_p, sampling::PROBABILITY);
            check_float(problems, table, "repeat_penalty", local.repeat_penalty, sampling::REPEAT_PENALTY);
            if let Some(seed) = local.seed {
                check_int(problems, table, "seed", seed, sampling::SEED);
            }
        }
    }

    fn check_providers(&self, problems: &mut Problems) {
        let active = self.provider.active;
        for kind in ProviderId::CLOUD {
            let Some(cloud) = self.providers.cloud(kind) else { continue };
            let table = format!("providers.{kind}");
            let key = cloud.api_key.as_str();
            if key.trim().is_empty() {
                // An unused provider may stay half set up; only the active one must work.
                if kind == active {
                    problems.error(format!("{table}.api_key"), ProblemKind::EmptyApiKey { kind });
                }
            } else if key.chars().any(char::is_whitespace) {
                problems.warning(format!("{table}.api_key"), ProblemKind::ApiKeyWhitespace { kind });
            } else if cloud.base_url.is_none() && kind.key_looks_foreign(key) {
                // With a custom base_url the key belongs to the gateway, whose format is unknown.
                problems.warning(format!("{table}.api_key"), ProblemKind::ApiKeyLooksForeign { kind });
            }
            if let Some(url) = &cloud.base_url {
                check_url(problems, kind, kind == active, url, true);
            }
            if model_holds_key(cloud.model.as_deref(), Some(key)) {
                problems.error(format!("{table}.model"), ProblemKind::ModelHoldsApiKey { kind });
            }
        }

        if let Some(compatible) = &self.providers.openai_compatible {
            let kind = ProviderId::OpenAiCompatible;
            let is_active = kind == active;
            let sends_key = compatible.api_key.as_deref().is_some_and(|k| !k.is_empty());
            if compatible.base_url.is_empty() {
                if is_active {
                    problems.error("providers.openai-compatible.base_url".into(), missing(kind, "base_url"));
                }
            } else {
                check_url(problems, kind, is_active, &compatible.base_url, sends_key);
            }
            if compatible.model.trim().is_empty() && is_active {
                problems.error("providers.openai-compatible.model".into(), missing(kind, "model"));
            }
            if model_holds_key(Some(&compatible.model), compatible.api_key.as_deref()) {
                problems.error("providers.openai-compatible.model".into(), ProblemKind::ModelHoldsApiKey { kind });
            }
            if compatible.api_key.as_deref().is_some_and(|k| k.chars().any(char::is_whitespace)) {
                problems.warning("providers.openai-compatible.api_key".into(), ProblemKind::ApiKeyWhitespace { kind });
            }
        }

        let local_file = self.providers.local.as_ref().map(|l| l.model_file.as_str());
        match local_file {
            Some(file) if file.trim().is_empty() => {
                if active == ProviderId::Local {
                    problems.error("providers.local.model_file".into(), missing(ProviderId::Local, "model_file"));
                }
            }
            Some(file) => check_path(problems, "providers.local.model_file", "[providers.local] model_file", file),
            None => {}
        }

        // The local provider works without its table: it then loads DEFAULT_MODEL_FILE.
        if !self.providers.is_configured(active) && active != ProviderId::Local {
            problems.error("provider.active".into(), ProblemKind::ActiveWithoutSection { kind: active });
        }
    }
}

fn check_float(problems: &mut Problems, table: &str, key: &str, value: f32, range: FloatRange) {
    if !range.contains(value) {
        let kind = ProblemKind::OutOfRange {
            key: format!("[{table}] {key}"),
            value: format!("{value}"),
            expected: format!("{range}"),
        };
        problems.error(format!("{table}.{key}"), kind);
    }
}

fn check_int(problems: &mut Problems, table: &str, key: &str, value: u64, range: IntRange) {
    if !range.contains(value) {
        let kind = ProblemKind::OutOfRange {
            key: format!("[{table}] {key}"),
            value: format!("{value}"),
            expected: format!("{range}"),
        };
        problems.error(format!("{table}.{key}"), kind);
    }
}

fn missing(kind: ProviderId, key: &'static str) -> ProblemKind {
    ProblemKind::MissingSetting { kind, key }
}

/// A `base_url` must be usable; plain HTTP that carries a key off the local network is suspicious.
fn check_url(problems: &mut Problems, kind: ProviderId, is_active: bool, url: &str, sends_key: bool) {
    let field = format!("providers.{kind}.base_url");
    // A broken or refused URL in a provider that is not in use does not stop the chat.
    let severity = if is_active { Severity::Error } else { Severity::Warning };
    // Problems keep the URL only with its credentials masked: they are logged and shown.
    let shown = format!("{}", RedactedUrl(url));
    match parse_base_url(url) {
        Err(error) => problems.push(severity, field, ProblemKind::BadBaseUrl { kind, url: shown, error }),
        Ok(parsed) if parsed.secure => {}
        // The hosted providers' keys never cross the internet in clear text (the `llm` crate
        // refuses the same URLs); a gateway on this machine or the LAN is allowed, with a warning.
        Ok(_) if kind.is_cloud() => match http::Url::parse(url) {
            Ok(parsed) if parsed.host_is_loopback_or_private() => {
                problems.warning(field, ProblemKind::PlainHttpLocal { kind, url: shown })
            }
            _ => problems.push(severity, field, ProblemKind::PlainHttpRefused { kind, url: shown }),
        },
        Ok(parsed) => {
            if sends_key && !host_is_local(parsed.host) {
                problems.warning(field, ProblemKind::PlainHttp { kind, url: shown });
            }
        }
    }
}

fn check_network(network: &NetworkConfig, problems: &mut Problems) {
    match network.mode {
        NetworkMode::Static => {
            match network.address {
                None => problems.error("network.address".into(), ProblemKind::StaticWithoutAddress),
                Some(address) => {
                    if let Some(issue) = host_address_issue(address) {
                        problems.error("network.address".into(), ProblemKind::NotAHostAddress { address, issue });
                    } else if let Some(gateway) = network.gateway.filter(|g| !address.contains(*g)) {
                        problems
                            .warning("network.gateway".into(), ProblemKind::GatewayOutsideNetwork { gateway, address });
                    }
                }
            }
            if network.gateway.is_none() {
                problems.warning("network.gateway".into(), ProblemKind::StaticWithoutGateway);
            }
            if network.dns.is_empty() {
                problems.warning("network.dns".into(), ProblemKind::StaticWithoutDns);
            }
        }
        NetworkMode::Dhcp => {
            if network.address.is_some() {
                problems.warning("network.address".into(), ProblemKind::IgnoredWithDhcp { key: "address" });
            }
            if network.gateway.is_some() {
                problems.warning("network.gateway".into(), ProblemKind::IgnoredWithDhcp { key: "gateway" });
            }
        }
    }
    for &server in &network.dns {
        if server.is_unspecified() || server.is_multicast_or_reserved() {
            problems.warning("network.dns".into(), ProblemKind::UnusableDnsServer { server });
        }
    }
}

fn host_address_issue(cidr: crate::addr::Ipv4Cidr) -> Option<HostAddressIssue> {
    let address = cidr.address;
    let issue = if cidr.prefix_len > crate::addr::Ipv4Cidr::MAX_PREFIX_LEN {
        HostAddressIssue::PrefixTooLong
    } else if address.is_unspecified() {
        HostAddressIssue::Unspecified
    } else if address.is_loopback() {
        HostAddressIssue::Loopback
    } else if address.is_multicast_or_reserved() {
        HostAddressIssue::MulticastOrReserved
    } else if cidr.prefix_len == 0 {
        HostAddressIssue::ZeroPrefix
    } else if cidr.prefix_len <= 30 && address == cidr.network() {
        // /31 and /32 have no network or broadcast address (RFC 3021), so only shorter prefixes.
        HostAddressIssue::NetworkAddress
    } else if cidr.prefix_len <= 30 && address == cidr.broadcast() {
        HostAddressIssue::BroadcastAddress
    } else {
        return None;
    };
    Some(issue)
}

/// Files are opened on the boot partition from its root; a relative path has nothing to be relative to.
fn check_path(problems: &mut Problems, field: &str, shown: &'static str, path: &str) {
    if !path.starts_with(['\\', '/']) {
        problems.warning(field.to_owned(), ProblemKind::RelativePath { key: shown, path: path.to_owned() });
    }
}

#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(&mut self, severity: Severity, field: String, kind: ProblemKind) {
        self.0.push(ConfigProblem::new(severity, Some(field), kind));
    }

    fn error(&mut self, field: String, kind: ProblemKind) {
        self.push(Severity::Error, field, kind);
    }

    fn warning(&mut self, field: String, kind: ProblemKind) {
        self.push(Severity::Warning, field, kind);
    }
}

/// Whether a model name holds the API key (the shortest real keys are far longer than
/// 8 characters; shorter "keys" are placeholders that may well be part of a name).
pub(crate) fn model_holds_key(model: Option<&str>, key: Option<&str>) -> bool {
    match (model, key.map(str::trim)) {
        (Some(model), Some(key)) if key.len() >= 8 => model.contains(key),
        _ => false,
    }
}
