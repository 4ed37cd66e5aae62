//! What can be wrong with a configuration, as sentences a user can act on.

use core::fmt;

use alloc::string::String;
use alloc::vec::Vec;

use crate::addr::{AddressError, Ipv4, Ipv4Cidr};
use crate::store::StoreError;
use crate::url::UrlError;
use crate::{FILE_NAME, MAX_FILE_SIZE};
use http::RedactedUrl;
use llm::ProviderId;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a line in the log; the configuration still works.
    Warning,
    /// The configuration cannot be used as it is: the wizard opens and shows it.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A position in `config.toml`, both counted from 1; columns count characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line number.
    pub line: u32,
    /// Column number.
    pub column: u32,
}

impl Location {
    /// The location of byte `offset` in `text` (clamped to the text).
    pub(crate) fn of(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        Location { line: saturate(line), column: saturate(column) }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One thing found wrong in a configuration, with how bad it is and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Error (unusable) or warning (logged).
    pub severity: Severity,
    /// Where in `config.toml`, when the problem came from a file.
    pub location: Option<Location>,
    /// The setting concerned as a dotted path (`providers.anthropic.api_key`), so the wizard
    /// can jump to the field; `None` for the file as a whole.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl ConfigProblem {
    pub(crate) fn new(severity: Severity, field: Option<String>, kind: ProblemKind) -> Self {
        ConfigProblem { severity, location: None, field, kind }
    }

    /// Whether the configuration is unusable because of this problem.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = self.location {
            write!(f, "{FILE_NAME} {location}: ")?;
        }
        fmt::Display::fmt(&self.kind, f)
    }
}

/// Which `[network]` setting an address came from, to phrase the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressField {
    /// `address = "10.0.2.15/24"`.
    Address,
    /// `gateway = "10.0.2.2"`.
    Gateway,
    /// An entry of `dns = [...]`.
    Dns,
}

/// Why an address cannot be this machine's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAddressIssue {
    /// `0.0.0.0`.
    Unspecified,
    /// `127.x.x.x`.
    Loopback,
    /// `224.0.0.0` and above.
    MulticastOrReserved,
    /// All host bits zero.
    NetworkAddress,
    /// All host bits one.
    BroadcastAddress,
    /// `/0`: nothing would go through the gateway.
    ZeroPrefix,
    /// A prefix above 32 (only possible when built in code).
    PrefixTooLong,
}

impl fmt::Display for HostAddressIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostAddressIssue::Unspecified => "0.0.0.0 means no address at all",
            HostAddressIssue::Loopback => "127.x.x.x addresses only reach the machine itself",
            HostAddressIssue::MulticastOrReserved => "addresses from 224.0.0.0 up are multicast or reserved",
            HostAddressIssue::NetworkAddress => "it is the network's own address (all host bits zero)",
            HostAddressIssue::BroadcastAddress => "it is the network's broadcast address (all host bits one)",
            HostAddressIssue::ZeroPrefix => "a /0 prefix puts the whole internet on the local network",
            HostAddressIssue::PrefixTooLong => "the prefix length must be at most 32",
        })
    }
}

/// The list of providers, as messages print it.
const PROVIDER_LIST: &str = "anthropic, openai, groq, xai, openai-compatible or local";

/// What is wrong; `Display` is the sentence shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A key this version does not know (ignored).
    UnknownKey {
        /// The table it is in, as a dotted path; empty for the top of the file.
        table: String,
        /// The key.
        key: String,
        /// A known key it resembles.
        suggestion: Option<String>,
    },
    /// A table this version does not know (ignored).
    UnknownTable {
        /// Its dotted name.
        name: String,
        /// A known table it resembles.
        suggestion: Option<String>,
    },
    /// A `[providers.NAME]` table whose name is no provider (ignored).
    UnknownProviderTable {
        /// The name after `providers.`.
        name: String,
        /// A provider name it resembles.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong TOML type.
    WrongType {
        /// The setting as printed: `[network] dns`.
        key: String,
        /// What it should be, e.g. "text in quotes".
        expected: &'static str,
        /// What it is, e.g. "a number".
        found: &'static str,
    },
    /// `[provider]` is missing, or has no `active`.
    MissingActive {
        /// Whether the `[provider]` table exists.
        section_present: bool,
    },
    /// `active` names no provider.
    UnknownProvider {
        /// The value as written.
        value: String,
        /// A provider name it resembles.
        suggestion: Option<&'static str>,
    },
    /// `[network] mode` is neither `dhcp` nor `static`.
    UnknownNetworkMode {
        /// The value as written.
        value: String,
        /// The mode it resembles.
        suggestion: Option<&'static str>,
    },
    /// An address in `[network]` does not parse.
    BadAddress {
        /// Which setting.
        field: AddressField,
        /// The text as written.
        value: String,
        /// Why it does not parse.
        error: AddressError,
    },
    /// The active provider has no table.
    ActiveWithoutSection {
        /// The active provider.
        kind: ProviderId,
    },
    /// A provider that needs a key has an empty one.
    EmptyApiKey {
        /// The provider.
        kind: ProviderId,
    },
    /// An API key with spaces or line breaks, usually a paste accident.
    ApiKeyWhitespace {
        /// The provider.
        kind: ProviderId,
    },
    /// A model name that holds the provider's API key (pasted into the wrong field): it
    /// would travel in every request body and show wherever the model is named.
    ModelHoldsApiKey {
        /// The provider.
        kind: ProviderId,
    },
    /// An API key that looks like another provider's.
    ApiKeyLooksForeign {
        /// The provider whose table holds the key.
        kind: ProviderId,
    },
    /// A required text setting is empty or absent.
    MissingSetting {
        /// The provider whose table lacks it.
        kind: ProviderId,
        /// The key, e.g. `model`.
        key: &'static str,
    },
    /// `base_url` cannot be used.
    BadBaseUrl {
        /// The provider.
        kind: ProviderId,
        /// The URL as written, credentials masked.
        url: String,
        /// Why.
        error: UrlError,
    },
    /// `base_url` is plain `http://` to a public host while a key is sent.
    PlainHttp {
        /// The provider.
        kind: ProviderId,
        /// The URL as written, credentials masked.
        url: String,
    },
    /// A hosted provider's `base_url` is plain `http://` to a public host: refused, since the
    /// key would cross the internet unencrypted.
    PlainHttpRefused {
        /// The provider.
        kind: ProviderId,
        /// The URL as written, credentials masked.
        url: String,
    },
    /// A hosted provider's `base_url` is plain `http://` to this machine or a private address
    /// (a gateway on the LAN): allowed, with this warning shown once.
    PlainHttpLocal {
        /// The provider.
        kind: ProviderId,
        /// The URL as written, credentials masked.
        url: String,
    },
    /// `mode = "static"` without `address`.
    StaticWithoutAddress,
    /// The static address cannot be a host address.
    NotAHostAddress {
        /// The address as configured.
        address: Ipv4Cidr,
        /// Why.
        issue: HostAddressIssue,
    },
    /// The gateway is not on the configured network.
    GatewayOutsideNetwork {
        /// The gateway.
        gateway: Ipv4,
        /// The configured address.
        address: Ipv4Cidr,
    },
    /// Static mode without a gateway: only the local network is reachable.
    StaticWithoutGateway,
    /// Static mode without DNS servers: host names cannot be resolved.
    StaticWithoutDns,
    /// A DNS server that cannot be one.
    UnusableDnsServer {
        /// The address.
        server: Ipv4,
    },
    /// `address` or `gateway` in DHCP mode, where they are ignored.
    IgnoredWithDhcp {
        /// The key.
        key: &'static str,
    },
    /// A number outside the values a setting allows (or one that is not a number at all).
    OutOfRange {
        /// The setting as printed: `[providers.local] temperature`.
        key: String,
        /// The value as written.
        value: String,
        /// What is allowed, e.g. "a number from 0 to 2".
        expected: String,
    },
    /// `version` is not a positive whole number.
    BadVersion {
        /// The value as written.
        value: String,
    },
    /// `version` is newer than this moteOS knows.
    NewerVersion {
        /// The file's version.
        version: u32,
    },
    /// `[chat] theme` names no theme.
    UnknownTheme {
        /// The value as written.
        value: String,
        /// The theme it resembles.
        suggestion: Option<&'static str>,
    },
    /// `[chat] font_scale` is not `"auto"`, 1 or 2.
    BadFontScale {
        /// The value as written.
        value: String,
    },
    /// A file path that is not absolute on the boot partition.
    RelativePath {
        /// The setting as printed: `[tls] extra_ca_file`.
        key: &'static str,
        /// The path as written.
        path: String,
    },
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::UnknownKey { table, key, suggestion } => {
                if table.is_empty() {
                    write!(f, "unknown key `{key}` at the top of the file")?;
                } else {
                    write!(f, "unknown key `{key}` in [{table}]")?;
                }
                match suggestion {
                    Some(s) => write!(f, " — did you mean `{s}`?"),
                    None => f.write_str(" is ignored"),
                }
            }
            ProblemKind::UnknownTable { name, suggestion } => match suggestion {
                Some(s) => write!(f, "unknown table [{name}] — did you mean [{s}]?"),
                None => write!(f, "unknown table [{name}] is ignored"),
            },
            ProblemKind::UnknownProviderTable { name, suggestion } => match suggestion {
                Some(s) => write!(f, "[providers.{name}] is not a provider — did you mean [providers.{s}]?"),
                None => write!(
                    f,
                    "[providers.{name}] is not a provider and is ignored: use {PROVIDER_LIST} \
                     (openai-compatible covers Ollama, llama.cpp, vLLM and OpenRouter)"
                ),
            },
            ProblemKind::WrongType { key, expected, found } => write!(f, "{key} must be {expected}, not {found}"),
            ProblemKind::MissingActive { section_present: true } => write!(
                f,
                "[provider] has no `active` key: add a line like active = \"anthropic\"; \
                 the choices are {PROVIDER_LIST}"
            ),
            ProblemKind::MissingActive { section_present: false } => write!(
                f,
                "no provider is chosen: add a [provider] table with a line like active = \"anthropic\"; \
                 the choices are {PROVIDER_LIST}"
            ),
            ProblemKind::UnknownProvider { value, suggestion } => {
                write!(f, "[provider] active = \"{value}\" is not a provider: use {PROVIDER_LIST}")?;
                match suggestion {
                    Some(s) => write!(f, " — did you mean \"{s}\"?"),
                    None => Ok(()),
                }
            }
            ProblemKind::UnknownNetworkMode { value, suggestion } => {
                write!(f, "[network] mode = \"{value}\" is not a network mode: use dhcp or static")?;
                match suggestion {
                    Some(s) => write!(f, " — did you mean \"{s}\"?"),
                    None => Ok(()),
                }
            }
            ProblemKind::BadAddress { field, value, error } => match field {
                AddressField::Address => write!(
                    f,
                    "[network] address = \"{value}\" is not an IPv4 address with a prefix length \
                     like \"10.0.2.15/24\": {error}"
                ),
                AddressField::Gateway => {
                    write!(f, "[network] gateway = \"{value}\" is not an IPv4 address like \"10.0.2.2\": {error}")
                }
                AddressField::Dns => {
                    write!(f, "[network] dns entry \"{value}\" is not an IPv4 address like \"10.0.2.3\": {error}")
                }
            },
            ProblemKind::ActiveWithoutSection { kind } => {
                let what = match kind {
                    ProviderId::OpenAiCompatible => "base_url and model",
                    _ => "your api_key",
                };
                write!(
                    f,
                    "[provider] active = \"{kind}\" but there is no [providers.{kind}] table: add one with {what}"
                )
            }
            ProblemKind::EmptyApiKey { kind } => {
                write!(f, "[providers.{kind}] api_key is empty: paste your {} API key", kind.display_name())?;
                match kind.api_key_prefix() {
                    Some(prefix) => write!(f, " (it starts with {prefix})"),
                    None => Ok(()),
                }
            }
            ProblemKind::ApiKeyWhitespace { kind } => write!(
                f,
                "[providers.{kind}] api_key contains spaces or line breaks, which API keys never do: paste it again"
            ),
            ProblemKind::ModelHoldsApiKey { kind } => write!(
                f,
                "[providers.{kind}] model holds the API key: write the model's name there (the key belongs in api_key)"
            ),
            ProblemKind::ApiKeyLooksForeign { kind } => {
                write!(f, "[providers.{kind}] api_key does not look like an {} key", kind.display_name())?;
                match kind.api_key_prefix() {
                    Some(prefix) => write!(f, " (those start with {prefix}); is it in the right table?"),
                    None => Ok(()),
                }
            }
            ProblemKind::MissingSetting { kind, key } => {
                write!(f, "[providers.{kind}] needs {key}")?;
                match (kind, *key) {
                    (ProviderId::OpenAiCompatible, "base_url") => {
                        f.write_str(", the server's API root, like \"http://192.168.1.10:11434/v1\"")
                    }
                    (ProviderId::OpenAiCompatible, "model") => {
                        f.write_str(", the model's name as the server knows it, like \"llama3.2\"")
                    }
                    (ProviderId::Local, "model_file") => {
                        f.write_str(", the path of a .gguf file on the boot partition, like \"\\moteos\\model.gguf\"")
                    }
                    _ => Ok(()),
                }
            }
            ProblemKind::BadBaseUrl { kind, url, error } => {
                let url = RedactedUrl(url);
                write!(f, "[providers.{kind}] base_url = \"{url}\" {error}")?;
                if *error == UrlError::NoScheme {
                    write!(f, ", like \"https://{url}\"")?;
                }
                Ok(())
            }
            ProblemKind::PlainHttp { kind, url } => write!(
                f,
                "[providers.{kind}] base_url = \"{}\" is not encrypted: your API key would travel to \
                 a public server in clear text; use https://",
                RedactedUrl(url)
            ),
            ProblemKind::PlainHttpRefused { kind, url } => write!(
                f,
                "[providers.{kind}] base_url = \"{}\" is refused: plain http:// would send your {} API key \
                 unencrypted over the internet; use https:// (plain http:// is allowed only to this machine \
                 or a private address such as 192.168.x.x)",
                RedactedUrl(url),
                kind.display_name()
            ),
            ProblemKind::PlainHttpLocal { kind, url } => write!(
                f,
                "[providers.{kind}] base_url = \"{}\" is not encrypted: your {} API key travels in clear \
                 text on the local network",
                RedactedUrl(url),
                kind.display_name()
            ),
            ProblemKind::StaticWithoutAddress => f.write_str(
                "[network] mode = \"static\" needs this machine's address and prefix length, \
                 like address = \"10.0.2.15/24\"",
            ),
            ProblemKind::NotAHostAddress { address, issue } => {
                write!(f, "[network] address = \"{address}\" cannot be this machine's address: {issue}")
            }
            ProblemKind::GatewayOutsideNetwork { gateway, address } => write!(
                f,
                "[network] gateway = \"{gateway}\" is outside the network {}/{} of address = \"{address}\", \
                 so it cannot be reached",
                address.network(),
                address.prefix_len
            ),
            ProblemKind::StaticWithoutGateway => f.write_str(
                "[network] mode = \"static\" has no gateway, so only the local network can be reached: \
                 add one like gateway = \"10.0.2.2\"",
            ),
            ProblemKind::StaticWithoutDns => f.write_str(
                "[network] mode = \"static\" has no dns servers, so host names such as api.anthropic.com \
                 cannot be looked up: add some like dns = [\"10.0.2.3\"]",
            ),
            ProblemKind::UnusableDnsServer { server } => {
                write!(f, "[network] dns entry \"{server}\" cannot be a DNS server and will be skipped")
            }
            ProblemKind::IgnoredWithDhcp { key } => {
                write!(f, "[network] {key} is ignored because mode = \"dhcp\": set mode = \"static\" to use it")
            }
            ProblemKind::OutOfRange { key, value, expected } => {
                write!(f, "{key} = {value} is not allowed: use {expected}")
            }
            ProblemKind::BadVersion { value } => write!(
                f,
                "version = {value} is not a version: use a whole number like version = {}",
                crate::CURRENT_VERSION
            ),
            ProblemKind::NewerVersion { version } => write!(
                f,
                "version = {version} is newer than this moteOS understands ({}): settings it does not know \
                 are ignored but kept in the file",
                crate::CURRENT_VERSION
            ),
            ProblemKind::UnknownTheme { value, suggestion } => {
                write!(f, "[chat] theme = \"{value}\" is not a theme: use dark or light")?;
                match suggestion {
                    Some(s) => write!(f, " — did you mean \"{s}\"?"),
                    None => Ok(()),
                }
            }
            ProblemKind::BadFontScale { value } => {
                write!(f, "[chat] font_scale = {value} is not a font scale: use \"auto\", 1 or 2")
            }
            ProblemKind::RelativePath { key, path } => write!(
                f,
                "{key} = \"{path}\" should be a full path on the boot partition starting with a backslash, \
                 like \"\\moteos\\{}\"",
                path.trim_start_matches(['.', '/', '\\'])
            ),
        }
    }
}

/// Why a configuration cannot be used at all. The kernel shows it in the setup wizard.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file is larger than [`MAX_FILE_SIZE`].
    TooLarge {
        /// Its size in bytes.
        len: usize,
    },
    /// The file is UTF-16 (Windows Notepad's "Unicode").
    Utf16,
    /// The file is not valid UTF-8.
    NotUtf8 {
        /// Where the first invalid byte is.
        location: Location,
        /// That byte.
        byte: u8,
    },
    /// The file is not valid TOML.
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// What it expected, in words.
        message: String,
        /// The offending line, so the wizard can show it with a marker under `location.column`.
        line_text: String,
    },
    /// The file is valid TOML but its settings cannot be used. Holds every problem found,
    /// errors first; at least one is an error.
    Invalid {
        /// The problems.
        problems: Vec<ConfigProblem>,
    },
    /// The settings store could not be read or written.
    Store(StoreError),
}

impl ConfigError {
    /// Always [`Severity::Error`]: a `ConfigError` means the configuration is unusable.
    pub fn severity(&self) -> Severity {
        Severity::Error
    }

    /// Where in the file the (first) error is, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::NotUtf8 { location, .. } | ConfigError::Syntax { location, .. } => Some(*location),
            ConfigError::Invalid { problems } => problems.iter().find(|p| p.is_error()).and_then(|p| p.location),
            _ => None,
        }
    }

    /// Every problem found, for a list in the wizard; empty for errors about the file as a whole.
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooLarge { len } => write!(
                f,
                "{FILE_NAME} is {len} bytes, more than the {MAX_FILE_SIZE} bytes (64 KiB) a configuration may \
                 have: is it the right file?"
            ),
            ConfigError::Utf16 => write!(
                f,
                "{FILE_NAME} is saved as UTF-16; save it as UTF-8 instead (in Notepad: Save As, Encoding: UTF-8)"
            ),
            ConfigError::NotUtf8 { location, byte } => {
                write!(f, "{FILE_NAME} {location}: byte 0x{byte:02X} is not UTF-8 text; save the file as UTF-8")
            }
            ConfigError::Syntax { location, message, .. } => write!(f, "{FILE_NAME} {location}: {message}"),
            ConfigError::Invalid { problems } => {
                let mut errors = problems.iter().filter(|p| p.is_error());
                match errors.next() {
                    Some(first) => write!(f, "{first}")?,
                    None => write!(f, "{FILE_NAME} cannot be used")?,
                }
                match errors.count() {
                    0 => Ok(()),
                    1 => f.write_str(" (and 1 more error)"),
                    n => write!(f, " (and {n} more errors)"),
                }
            }
            ConfigError::Store(error) => write!(f, "settings storage: {error}"),
        }
    }
}

impl From<StoreError> for ConfigError {
    fn from(error: StoreError) -> Self {
        ConfigError::Store(error)
    }
}
