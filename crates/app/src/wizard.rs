//! The setup wizard: network, provider, API key, model, a real test request, then the
//! settings are saved and the chat opens.
//!
//! It opens at boot when there is no usable configuration (no `config.toml`, or a broken
//! one, whose problem it shows at the top) and from F4 → "Run setup". Every field keeps its
//! text for the whole life of the wizard: Esc goes back a step and nothing typed is lost.
//! The network step's choice is put into effect as soon as the step is done (the test
//! request goes over it) and saved with the rest at the end.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use config::{CloudProvider, CompatibleProvider, Ipv4, Ipv4Cidr, MoteConfig, NetworkMode};
use hal::keys::{Key, KeyEvent};
use llm::{ErrorKind, Message, ProviderId, ReplyEvent};

use crate::io::{Effect, Level, NetPhase, ReplyJob, RequestId, Target};
use crate::overlay::Overlay;
use crate::settings::{Backend, LocalModel, Settings};
use crate::state::{NoticeKind, State};

/// The label of the F4 entry that opens the wizard.
pub const RUN_SETUP: &str = "Run setup";

/// What the test request asks.
const TEST_PROMPT: &str = "This is a connection test from moteOS. Reply with one short sentence.";
/// The longest test reply asked for, in tokens.
const TEST_MAX_TOKENS: u32 = 32;
/// How much of the test reply is shown.
const TEST_SHOWN_CHARS: usize = 120;
/// The longest text a field takes (a URL, a key, a model name).
const MAX_FIELD_CHARS: usize = 512;

/// The providers offered, in order.
const PROVIDERS: [ProviderId; 6] = [
    ProviderId::Anthropic,
    ProviderId::OpenAi,
    ProviderId::Groq,
    ProviderId::Xai,
    ProviderId::OpenAiCompatible,
    ProviderId::Local,
];

/// The wizard's steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Wired DHCP or a static address.
    Network,
    /// Who answers.
    Provider,
    /// The API key (skipped for the local model).
    Key,
    /// The model (skipped for the local model).
    Model,
    /// A real request to the provider.
    Test,
    /// Save and start chatting.
    Ready,
}

impl Step {
    /// The step's name in the log and on screen.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Network => "network",
            Step::Provider => "provider",
            Step::Key => "key",
            Step::Model => "model",
            Step::Test => "test",
            Step::Ready => "ready",
        }
    }

    const fn number(self) -> u32 {
        self as u32 + 1
    }
}

/// A one-line text field. Its `Debug` shows only the length: a field may hold a key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Field {
    text: String,
    /// A byte offset into `text`, on a character boundary.
    cursor: usize,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field({} bytes)", self.text.len())
    }
}

impl Field {
    fn with(text: &str) -> Field {
        Field { text: String::from(text), cursor: text.len() }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor, a byte offset into the text.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Applies an editing key; false when the key is not an edit.
    fn edit(&mut self, key: &KeyEvent) -> bool {
        let m = key.modifiers;
        match key.key {
            Key::Char('u') if m.ctrl => {
                self.text.replace_range(..self.cursor, "");
                self.cursor = 0;
            }
            Key::Char('a') if m.ctrl => self.cursor = 0,
            Key::Char('e') if m.ctrl => self.cursor = self.text.len(),
            Key::Char(c) if !m.ctrl && !m.alt && !c.is_control() => {
                if self.text.chars().count() < MAX_FIELD_CHARS {
                    self.text.insert(self.cursor, c);
                    self.cursor += c.len_utf8();
                }
            }
            Key::Backspace => {
                if let Some(c) = self.text[..self.cursor].chars().next_back() {
                    self.cursor -= c.len_utf8();
                    self.text.remove(self.cursor);
                }
            }
            Key::Delete => {
                if self.cursor < self.text.len() {
                    self.text.remove(self.cursor);
                }
            }
            Key::Left => {
                if let Some(c) = self.text[..self.cursor].chars().next_back() {
                    self.cursor -= c.len_utf8();
                }
            }
            Key::Right => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.cursor += c.len_utf8();
                }
            }
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.text.len(),
            _ => return false,
        }
        true
    }
}

/// The typed settings of one remote provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Typed {
    key: Field,
    model: Field,
}

/// Where the test request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// Not sent yet.
    NotRun,
    /// Sent; waiting for the reply.
    Running(RequestId),
    /// The provider answered (the start of its words).
    Passed(String),
    /// It failed: the sentence, with what to fix.
    Failed(String),
}

/// A row of the current step, as the view shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub label: String,
    pub kind: RowKind,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum RowKind {
    Choice { chosen: bool, detail: String, disabled: bool },
    Field { text: String, cursor: usize, masked: bool, placeholder: &'static str },
    Info { value: String },
}

/// The setup wizard's state.
#[derive(Clone, PartialEq)]
pub struct Wizard {
    step: Step,
    focus: usize,
    /// Why the configuration file could not be used (shown at the top).
    problem: Option<String>,
    /// The outcome of the step's last action (a refused input, a model list failure).
    status: Option<(String, NoticeKind)>,
    net_static: bool,
    address: Field,
    gateway: Field,
    dns: Field,
    provider: ProviderId,
    base_url: Field,
    typed: Vec<(ProviderId, Typed)>,
    /// The model list shown and whose it is (provider, base URL).
    models: Vec<String>,
    models_for: Option<(ProviderId, String)>,
    models_request: Option<RequestId>,
    test: Test,
    /// The configuration the wizard started from (the file's, or what could be recovered
    /// from a broken one): settings it does not ask about are kept.
    base: Option<MoteConfig>,
    /// The text to write back into (comments kept), if there is one that parses.
    base_text: Option<String>,
    /// A file that does not parse at all: kept as `config.toml.broken` when saving.
    broken_text: Option<String>,
    /// The rows of the current step, rebuilt after every change.
    pub(crate) rows: Vec<Row>,
}

impl fmt::Debug for Wizard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Fields may hold an API key: only the position is shown.
        f.debug_struct("Wizard").field("step", &self.step).field("focus", &self.focus).finish_non_exhaustive()
    }
}

/// Where the broken file is kept when the wizard writes a fresh one.
pub const BROKEN_PATH: &str = "\\moteos\\config.toml.broken";

impl Wizard {
    /// A wizard pre-filled from `base` (the configuration in use, or recovered).
    fn new(base: Option<MoteConfig>, problem: Option<String>, local_ready: bool) -> Wizard {
        let fallback = if local_ready { ProviderId::Local } else { ProviderId::Anthropic };
        let provider = match base.as_ref() {
            // The local model is not there (or the file's choice was lost): the first
            // provider the file sets up.
            Some(c) if c.provider.active == ProviderId::Local && !local_ready => {
                PROVIDERS.into_iter().find(|id| c.providers.is_configured(*id)).unwrap_or(ProviderId::Anthropic)
            }
            Some(c) => c.provider.active,
            None => fallback,
        };
        let network = base.as_ref().map(|c| c.network.clone()).unwrap_or_default();
        let typed = PROVIDERS
            .into_iter()
            .filter(|id| *id != ProviderId::Local)
            .map(|id| {
                let (key, model) = match base.as_ref() {
                    Some(c) if id == ProviderId::OpenAiCompatible => {
                        c.providers.openai_compatible.as_ref().map_or((String::new(), String::new()), |p| {
                            (p.api_key.clone().unwrap_or_default(), p.model.clone())
                        })
                    }
                    Some(c) => c.providers.cloud(id).map_or((String::new(), String::new()), |p| {
                        (p.api_key.clone(), p.model.clone().unwrap_or_default())
                    }),
                    None => (String::new(), String::new()),
                };
                let model = if model.is_empty() { String::from(id.default_model().unwrap_or_default()) } else { model };
                (id, Typed { key: Field::with(&key), model: Field::with(&model) })
            })
            .collect();
        let base_url =
            base.as_ref().and_then(|c| c.providers.openai_compatible.as_ref()).map_or("", |p| p.base_url.as_str());
        let join = |list: &[Ipv4]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
        Wizard {
            step: Step::Network,
            focus: usize::from(network.mode == NetworkMode::Static),
            problem,
            status: None,
            net_static: network.mode == NetworkMode::Static,
            address: Field::with(&network.address.map(|a| a.to_string()).unwrap_or_default()),
            gateway: Field::with(&network.gateway.map(|a| a.to_string()).unwrap_or_default()),
            dns: Field::with(&join(&network.dns)),
            provider,
            base_url: Field::with(base_url),
            typed,
            models: Vec::new(),
            models_for: None,
            models_request: None,
            test: Test::NotRun,
            base,
            base_text: None,
            broken_text: None,
            rows: Vec::new(),
        }
    }

    /// The step shown.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The focused row.
    pub fn focus(&self) -> usize {
        self.focus
    }

    /// The problem with the configuration file, if the wizard opened because of one.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The step's outcome line.
    pub fn status(&self) -> Option<(&str, NoticeKind)> {
        self.status.as_ref().map(|(t, k)| (t.as_str(), *k))
    }

    /// The provider chosen.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The test request's state.
    pub fn test(&self) -> &Test {
        &self.test
    }

    /// The models offered on the model step.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    fn typed(&self, id: ProviderId) -> Option<&Typed> {
        self.typed.iter().find(|(p, _)| *p == id).map(|(_, t)| t)
    }

    fn typed_mut(&mut self, id: ProviderId) -> Option<&mut Typed> {
        self.typed.iter_mut().find(|(p, _)| *p == id).map(|(_, t)| t)
    }

    /// The field the focus is on, if it is on one.
    fn field_mut(&mut self) -> Option<&mut Field> {
        let provider = self.provider;
        match (self.step, self.focus) {
            (Step::Network, 2) if self.net_static => Some(&mut self.address),
            (Step::Network, 3) if self.net_static => Some(&mut self.gateway),
            (Step::Network, 4) if self.net_static => Some(&mut self.dns),
            (Step::Provider, 6) if provider == ProviderId::OpenAiCompatible => Some(&mut self.base_url),
            (Step::Key, 0) => self.typed_mut(provider).map(|t| &mut t.key),
            (Step::Model, 0) => self.typed_mut(provider).map(|t| &mut t.model),
            _ => None,
        }
    }

    /// Whether the focus is on the (masked) key field.
    pub fn typing_secret(&self) -> bool {
        self.step == Step::Key
    }

    fn row_count(&self) -> usize {
        match self.step {
            Step::Network => {
                if self.net_static {
                    5
                } else {
                    2
                }
            }
            Step::Provider => {
                if self.provider == ProviderId::OpenAiCompatible {
                    7
                } else {
                    6
                }
            }
            Step::Key => 1,
            Step::Model => 1 + self.models.len(),
            Step::Test | Step::Ready => 0,
        }
    }

    /// The configuration the wizard's fields describe, over the one it started from.
    fn candidate(&self) -> Result<MoteConfig, String> {
        let mut config = self.base.clone().unwrap_or_else(|| MoteConfig::new(self.provider));
        config.provider.active = self.provider;
        config.network = self.network()?;
        let typed = self.typed(self.provider).cloned().unwrap_or_default();
        let key = String::from(typed.key.text.trim());
        let model = String::from(typed.model.text.trim());
        match self.provider {
            ProviderId::Local => {}
            ProviderId::OpenAiCompatible => {
                let old = config.providers.openai_compatible.take().unwrap_or_default();
                config.providers.openai_compatible = Some(CompatibleProvider {
                    base_url: String::from(self.base_url.text.trim()),
                    api_key: (!key.is_empty()).then_some(key),
                    model,
                    ..old
                });
            }
            id => {
                if let Some(slot) = config.providers.cloud_mut(id) {
                    let table = slot.get_or_insert_with(CloudProvider::default);
                    table.api_key = key;
                    table.model = Some(model);
                }
            }
        }
        Ok(config)
    }

    /// The `[network]` table from the network step; a sentence when a field is wrong.
    fn network(&self) -> Result<config::NetworkConfig, String> {
        let mut network = self.base.as_ref().map(|c| c.network.clone()).unwrap_or_default();
        if !self.net_static {
            network.mode = NetworkMode::Dhcp;
            network.address = None;
            network.gateway = None;
            return Ok(network);
        }
        let address = self.address.text.trim();
        let cidr: Ipv4Cidr = address.parse().map_err(|e| {
            if address.is_empty() {
                String::from("A static address needs this machine's address with its prefix, like 192.168.1.20/24.")
            } else {
                format!("The address {address} cannot be used ({e}): write it with its prefix, like 192.168.1.20/24.")
            }
        })?;
        let gateway = self.gateway.text.trim();
        let gateway = if gateway.is_empty() {
            None
        } else {
            Some(
                gateway
                    .parse::<Ipv4>()
                    .map_err(|e| format!("The gateway {gateway} is not an address ({e}), like 192.168.1.1."))?,
            )
        };
        let mut dns = Vec::new();
        for server in self.dns.text.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
            dns.push(
                server
                    .parse::<Ipv4>()
                    .map_err(|e| format!("The DNS server {server} is not an address ({e}), like 1.1.1.1."))?,
            );
        }
        network.mode = NetworkMode::Static;
        network.address = Some(cidr);
        network.gateway = gateway;
        network.dns = dns;
        Ok(network)
    }
}

/// The configuration recovered from a file that cannot be used: the file's own values when
/// it reads (a value is missing or wrong), else what is left once the lines the reader
/// stops at are taken out (a `[provider]` table that went with them is added back, naming
/// the local model, so the providers' tables still count). Returns the configuration and
/// the text it came from.
pub fn recover(text: &str) -> Option<(MoteConfig, String)> {
    let mut text = String::from(text);
    let mut added_provider = false;
    for _ in 0..16 {
        let e = match config::parse(&text) {
            Ok(config) => return Some((config, text)),
            Err(e) => e,
        };
        let no_provider = e
            .problems()
            .iter()
            .any(|p| p.is_error() && matches!(p.kind, config::ProblemKind::MissingActive { section_present: false }));
        if no_provider && !added_provider {
            added_provider = true;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("\n[provider]\nactive = \"local\"\n");
            continue;
        }
        let line = e.location()?.line as usize;
        let mut lines: Vec<&str> = text.split('\n').collect();
        if line == 0 || line > lines.len() {
            return None;
        }
        lines.remove(line - 1);
        text = lines.join("\n");
    }
    None
}

/// At boot: whether the wizard opens, and the line shown when the local model answers
/// alone. Called by `State::new`.
pub(crate) fn at_boot(state: &mut State, fx: &mut Vec<Effect>) {
    if state.settings.config.is_some() {
        return;
    }
    let local_ready = matches!(state.settings.local, LocalModel::Ready { .. });
    if let Some(problem) = state.settings.config_problem.clone() {
        open(state, Some(problem), fx);
    } else if let LocalModel::Broken(why) = &state.settings.local {
        // The model file was meant to answer and cannot: say why above the setup.
        let problem = why.clone();
        open(state, Some(problem), fx);
    } else if local_ready {
        let text = String::from("The local model answers. F4 \u{2192} Run setup sets up a cloud provider.");
        fx.push(Effect::Console(format!("moteOS: {text}\n")));
        fx.push(Effect::Log(
            Level::Info,
            String::from("chat: no config.toml; the local model answers (F4 sets up a cloud provider)"),
        ));
        state.set_notice(text, NoticeKind::Info);
    } else {
        open(state, None, fx);
    }
}

/// Opens the wizard (at boot, or F4 → Run setup), pre-filled from the settings in use or,
/// when the file is broken, from what can be recovered of it.
pub(crate) fn open(state: &mut State, problem: Option<String>, fx: &mut Vec<Effect>) {
    crate::update::stop_reply(state, "stopped: setup opened", "stopped: setup opened", fx);
    let local_ready = matches!(state.settings.local, LocalModel::Ready { .. });
    let (base, base_text, broken_text) = match (&state.settings.config, &state.config_text) {
        (Some(config), text) => (Some(config.clone()), text.clone(), None),
        (None, Some(text)) => match recover(text) {
            Some((config, recovered)) => {
                // The file itself parses only when nothing had to be taken out.
                let broken = (recovered != *text).then(|| text.clone());
                (Some(config), Some(recovered), broken)
            }
            None => (None, None, Some(text.clone())),
        },
        (None, None) => (None, None, None),
    };
    let mut wizard = Wizard::new(base, problem.clone(), local_ready);
    wizard.base_text = base_text;
    wizard.broken_text = broken_text;
    if let Some(problem) = &problem {
        fx.push(Effect::Log(Level::Info, format!("wizard: opened because {problem}")));
    }
    state.overlay = Some(Overlay::Wizard(alloc::boxed::Box::new(wizard)));
    state.notice = None;
    entered(state, fx);
}

/// Logs the step, writes it on the serial console and rebuilds the rows.
fn entered(state: &mut State, fx: &mut Vec<Effect>) {
    refresh(state);
    let Some(w) = wizard(state) else { return };
    let step = w.step;
    let mut console = format!("\nmoteOS setup, step {} of 6: {}\n", step.number(), title(step));
    if let Some(problem) = &w.problem
        && step == Step::Network
    {
        console.push_str(&format!("  problem: {problem}\n"));
    }
    console.push_str(&format!("  {}\n", intro(w)));
    for (i, row) in w.rows.iter().enumerate() {
        let mark = if i == w.focus { '>' } else { ' ' };
        let line = match &row.kind {
            RowKind::Choice { chosen, detail, .. } => {
                format!("{mark} [{}] {} {}", if *chosen { 'x' } else { ' ' }, row.label, detail)
            }
            RowKind::Field { text, masked: false, .. } => format!("{mark} {}: {text}", row.label),
            RowKind::Field { masked: true, .. } => format!("{mark} {}: (hidden)", row.label),
            RowKind::Info { value } => format!("  {}: {value}", row.label),
        };
        console.push_str(line.trim_end());
        console.push('\n');
    }
    console.push_str(&format!("  ({})\n", keys(w)));
    fx.push(Effect::Log(Level::Info, format!("wizard: step {}", step.as_str())));
    fx.push(Effect::Console(console));
}

fn wizard(state: &State) -> Option<&Wizard> {
    match &state.overlay {
        Some(Overlay::Wizard(w)) => Some(w),
        _ => None,
    }
}

fn wizard_mut(state: &mut State) -> Option<&mut Wizard> {
    match &mut state.overlay {
        Some(Overlay::Wizard(w)) => Some(w),
        _ => None,
    }
}

/// The step's title.
pub(crate) fn title(step: Step) -> &'static str {
    match step {
        Step::Network => "Network",
        Step::Provider => "Provider",
        Step::Key => "API key",
        Step::Model => "Model",
        Step::Test => "Test request",
        Step::Ready => "Ready",
    }
}

/// What the step is for, in a sentence or two.
pub(crate) fn intro(w: &Wizard) -> String {
    let name = w.provider.label();
    match w.step {
        Step::Network => String::from(
            "How this machine joins the network. Wired DHCP suits most networks. The choice takes effect at once and is saved when setup finishes.",
        ),
        Step::Provider => String::from(
            "Who answers your messages: a cloud provider, a server of your own (OpenAI-compatible) or the model on this disk.",
        ),
        Step::Key if w.provider == ProviderId::OpenAiCompatible => String::from(
            "The server's API key, if it needs one (many local servers do not: leave it empty). Typed or pasted, it stays hidden.",
        ),
        Step::Key => format!(
            "Type or paste your {name} API key; it stays hidden. It is stored unencrypted on the boot disk and in an EFI variable (/forget-keys removes it)."
        ),
        Step::Model => format!("The model {name} runs for you: type a name or pick one from the list."),
        Step::Test if w.provider == ProviderId::Local => {
            String::from("The local model needs no network: it is checked on the disk.")
        }
        Step::Test => {
            format!("moteOS sends {name} a short request with these settings, over the network as it is now.")
        }
        Step::Ready => String::from(
            "Enter saves these settings to \\moteos\\config.toml (and the EFI variable) and opens the chat.",
        ),
    }
}

/// The keys of the step.
pub(crate) fn keys(w: &Wizard) -> &'static str {
    match w.step {
        Step::Network => "\u{2191}\u{2193} choose \u{b7} Enter continue \u{b7} Esc close setup",
        Step::Key => "Enter continue \u{b7} Esc back",
        Step::Test => match w.test {
            Test::Passed(_) => "Enter continue \u{b7} Esc back",
            Test::Failed(_) => "Enter try again \u{b7} Esc back to fix",
            _ => "Esc back",
        },
        Step::Ready => "Enter save and chat \u{b7} Esc back",
        _ => "\u{2191}\u{2193} choose \u{b7} Enter continue \u{b7} Esc back",
    }
}

/// Rebuilds the rows the view shows (after every input while the wizard is open).
pub(crate) fn refresh(state: &mut State) {
    let net = state.net.clone();
    let local = state.settings.local.clone();
    let Some(w) = wizard_mut(state) else { return };
    let provider = w.provider;
    let choice = |label: &str, chosen: bool, detail: String, disabled: bool| Row {
        label: String::from(label),
        kind: RowKind::Choice { chosen, detail, disabled },
    };
    let field = |label: &str, f: &Field, masked: bool, placeholder: &'static str| Row {
        label: String::from(label),
        kind: RowKind::Field { text: f.text.clone(), cursor: f.cursor, masked, placeholder },
    };
    let info = |label: &str, value: String| Row { label: String::from(label), kind: RowKind::Info { value } };
    let rows = match w.step {
        Step::Network => {
            let dhcp = match (net.phase, &net.address) {
                (NetPhase::Connected, Some(address)) => format!("got {address}"),
                // Before the kernel's first report the phase is the default: say nothing false.
                (NetPhase::Offline, _) if net.detail.is_empty() => String::from("looking for a network card\u{2026}"),
                (NetPhase::Offline, _) => String::from("no network card found"),
                (NetPhase::Error, _) => String::from("DHCP is not answering"),
                _ => String::from("asking for an address\u{2026}"),
            };
            let mut rows = vec![
                choice("Wired, automatic (DHCP)", !w.net_static, dhcp, false),
                choice("Static address", w.net_static, String::from("address, gateway and DNS of your choice"), false),
            ];
            if w.net_static {
                rows.push(field("Address", &w.address, false, "192.168.1.20/24"));
                rows.push(field("Gateway", &w.gateway, false, "192.168.1.1"));
                rows.push(field("DNS", &w.dns, false, "1.1.1.1, 8.8.8.8"));
            }
            rows
        }
        Step::Provider => {
            let mut rows: Vec<Row> = PROVIDERS
                .into_iter()
                .map(|id| {
                    let (detail, disabled) = match (id, &local) {
                        (ProviderId::Local, LocalModel::Ready { name, .. }) => (format!("{name}, on this disk"), false),
                        (ProviderId::Local, LocalModel::Missing) => (String::from("no model on the disk"), true),
                        (ProviderId::Local, LocalModel::Broken(_)) => {
                            (String::from("the model file cannot be used"), true)
                        }
                        (ProviderId::OpenAiCompatible, _) => {
                            (String::from("Ollama, llama.cpp, vLLM, OpenRouter\u{2026}"), false)
                        }
                        (id, _) => (String::from(id.default_base_url().unwrap_or_default()), false),
                    };
                    choice(id.label(), id == provider, detail, disabled)
                })
                .collect();
            if provider == ProviderId::OpenAiCompatible {
                rows.push(field("Server URL", &w.base_url, false, "http://192.168.1.10:11434/v1"));
            }
            rows
        }
        Step::Key => {
            let placeholder = if provider == ProviderId::OpenAiCompatible { "none" } else { "paste the key here" };
            let typed = w.typed(provider).cloned().unwrap_or_default();
            vec![field("API key", &typed.key, true, placeholder)]
        }
        Step::Model => {
            let typed = w.typed(provider).cloned().unwrap_or_default();
            let current = typed.model.text.trim();
            let mut rows = vec![field("Model", &typed.model, false, "model name")];
            rows.extend(w.models.iter().map(|m| choice(m, m == current, String::new(), false)));
            rows
        }
        Step::Test => {
            let (backend, model) = match w.candidate() {
                Ok(c) if provider == ProviderId::OpenAiCompatible => (
                    c.providers.openai_compatible.as_ref().map(|p| p.base_url.clone()).unwrap_or_default(),
                    model_of(w),
                ),
                _ if provider == ProviderId::Local => (String::from("this machine"), local_name(&local)),
                _ => (String::from(provider.default_base_url().unwrap_or_default()), model_of(w)),
            };
            let result = match &w.test {
                Test::NotRun => String::from("not sent yet"),
                Test::Running(_) => String::from("waiting for the answer\u{2026}"),
                Test::Passed(_) => String::from("\u{2713} answered"),
                Test::Failed(_) => String::from("\u{2717} failed"),
            };
            vec![
                info("Provider", String::from(provider.label())),
                info("Address", backend),
                info("Model", model),
                info("Result", result),
            ]
        }
        Step::Ready => {
            let network =
                if w.net_static { format!("static {}", w.address.text.trim()) } else { String::from("wired, DHCP") };
            let key = match w.typed(provider) {
                Some(t) if !t.key.text.trim().is_empty() => config::redact_key(t.key.text.trim()),
                _ => String::from("none"),
            };
            let model = if provider == ProviderId::Local { local_name(&local) } else { model_of(w) };
            let mut rows =
                vec![info("Network", network), info("Provider", String::from(provider.label())), info("Model", model)];
            if provider != ProviderId::Local {
                rows.push(info("API key", key));
            }
            rows
        }
    };
    w.rows = rows;
    w.focus = w.focus.min(w.rows.len().saturating_sub(1));
}

fn model_of(w: &Wizard) -> String {
    w.typed(w.provider).map(|t| String::from(t.model.text.trim())).unwrap_or_default()
}

fn local_name(local: &LocalModel) -> String {
    match local {
        LocalModel::Ready { name, .. } => name.clone(),
        _ => String::from("none"),
    }
}

/// A key while the wizard is open.
pub(crate) fn on_key(state: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    let m = key.modifiers;
    match key.key {
        Key::Escape => back(state, fx),
        Key::Up => {
            w.focus = w.focus.saturating_sub(1);
        }
        Key::Down | Key::Tab if !m.shift => {
            w.focus = (w.focus + 1).min(w.row_count().saturating_sub(1));
        }
        Key::Tab => w.focus = w.focus.saturating_sub(1),
        Key::PageUp => w.focus = w.focus.saturating_sub(8),
        Key::PageDown => w.focus = (w.focus + 8).min(w.row_count().saturating_sub(1)),
        // Pasted line breaks arrive as Shift+Enter: a field has one line, so they are dropped.
        Key::Enter if m.shift || m.alt => {}
        Key::Enter => enter(state, fx),
        _ => {
            if w.step == Step::Model && w.focus > 0 && matches!(key.key, Key::Char(_) | Key::Backspace) {
                // Typing on the list edits the name.
                w.focus = 0;
            }
            if let Some(field) = w.field_mut()
                && field.edit(&key)
            {
                w.status = None;
            }
        }
    }
    refresh(state);
}

/// Puts the network step's choice into effect at once when it differs from the one the
/// machine runs with, so the test request goes over the network as chosen.
fn apply_network(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(network) = wizard(state).and_then(|w| w.network().ok()) else { return };
    if network == state.network_in_use {
        return;
    }
    let how = match (network.mode, network.address) {
        (NetworkMode::Static, Some(address)) => format!("static address {address}"),
        _ => String::from("DHCP"),
    };
    fx.push(Effect::Log(Level::Info, format!("wizard: the network now uses {how}")));
    state.network_in_use = network.clone();
    fx.push(Effect::ConfigureNetwork(network));
}

/// Enter: choose the focused row, or finish the step.
fn enter(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    w.status = None;
    match w.step {
        Step::Network => match w.focus {
            0 => {
                w.net_static = false;
                apply_network(state, fx);
                advance(state, fx);
            }
            1 => {
                w.net_static = true;
                w.focus = 2;
            }
            2 | 3 => w.focus += 1,
            _ => match w.network() {
                Ok(_) => {
                    apply_network(state, fx);
                    advance(state, fx);
                }
                Err(why) => refuse(state, why, fx),
            },
        },
        Step::Provider => {
            if let Some(&id) = PROVIDERS.get(w.focus) {
                if let Some(Row { kind: RowKind::Choice { disabled: true, detail, .. }, .. }) = w.rows.get(w.focus) {
                    let why = format!("The local model cannot be chosen: {detail}.");
                    refuse(state, why, fx);
                    return;
                }
                w.provider = id;
                if id == ProviderId::OpenAiCompatible {
                    w.focus = 6;
                    return;
                }
                advance(state, fx);
            } else {
                let url = String::from(w.base_url.text.trim());
                if url.is_empty() {
                    refuse(state, String::from("Type the server's address, like http://192.168.1.10:11434/v1."), fx);
                    return;
                }
                match llm::Provider::new(ProviderId::OpenAiCompatible, &url, None) {
                    Ok(_) => advance(state, fx),
                    Err(e) => refuse(state, format!("The server URL cannot be used: {e}."), fx),
                }
            }
        }
        Step::Key => {
            let provider = w.provider;
            let key = w.typed(provider).map(|t| String::from(t.key.text.trim())).unwrap_or_default();
            if key.is_empty() && provider != ProviderId::OpenAiCompatible {
                refuse(state, format!("{} needs an API key: type or paste it, then Enter.", provider.label()), fx);
            } else if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
                refuse(state, String::from("An API key has no spaces or line breaks: check what was pasted."), fx);
            } else {
                advance(state, fx);
            }
        }
        Step::Model => {
            let focus = w.focus;
            let provider = w.provider;
            if focus > 0
                && let Some(name) = w.models.get(focus - 1).cloned()
                && let Some(t) = w.typed_mut(provider)
            {
                t.model = Field::with(&name);
            }
            let model = model_of(w);
            if model.is_empty() {
                refuse(state, String::from("Type the model's name (or pick one from the list), then Enter."), fx);
            } else if model.len() > 200 || model.chars().any(|c| c.is_control() || c.is_whitespace()) {
                refuse(state, String::from("A model name has no spaces and is at most 200 characters."), fx);
            } else {
                advance(state, fx);
            }
        }
        Step::Test => match w.test {
            Test::Passed(_) => advance(state, fx),
            Test::Failed(_) | Test::NotRun => start_test(state, fx),
            Test::Running(_) => {}
        },
        Step::Ready => finish(state, fx),
    }
}

/// A refused input: the sentence on screen and on the console.
fn refuse(state: &mut State, why: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Console(format!("moteOS: {why}\n")));
    fx.push(Effect::Log(Level::Info, format!("wizard: {why}")));
    if let Some(w) = wizard_mut(state) {
        w.status = Some((why, NoticeKind::Error));
    }
}

/// The step after this one (the key and model steps are skipped for the local model).
fn next_step(step: Step, provider: ProviderId) -> Step {
    let local = provider == ProviderId::Local;
    match step {
        Step::Network => Step::Provider,
        Step::Provider if local => Step::Test,
        Step::Provider => Step::Key,
        Step::Key => Step::Model,
        Step::Model => Step::Test,
        Step::Test | Step::Ready => Step::Ready,
    }
}

fn previous_step(step: Step, provider: ProviderId) -> Option<Step> {
    let local = provider == ProviderId::Local;
    Some(match step {
        Step::Network => return None,
        Step::Provider => Step::Network,
        Step::Key => Step::Provider,
        Step::Model => Step::Key,
        Step::Test if local => Step::Provider,
        Step::Test => Step::Model,
        Step::Ready => Step::Test,
    })
}

/// The focus when a step is entered: on the choice in effect, or the first field.
fn initial_focus(w: &Wizard) -> usize {
    match w.step {
        Step::Network => usize::from(w.net_static),
        Step::Provider => PROVIDERS.iter().position(|p| *p == w.provider).unwrap_or(0),
        _ => 0,
    }
}

fn advance(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    w.step = next_step(w.step, w.provider);
    w.focus = initial_focus(w);
    w.status = None;
    let step = w.step;
    match step {
        Step::Model => fetch_models(state, fx),
        Step::Test => {
            if let Some(w) = wizard_mut(state) {
                w.test = Test::NotRun;
            }
            entered(state, fx);
            start_test(state, fx);
            return;
        }
        _ => {}
    }
    entered(state, fx);
}

/// Esc: one step back (the wizard closes from the first step); nothing typed is lost.
fn back(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    if let Test::Running(id) = w.test {
        w.test = Test::NotRun;
        fx.push(Effect::CancelReply(id));
        fx.push(Effect::Log(Level::Info, String::from("wizard: test request stopped")));
    }
    w.status = None;
    match previous_step(w.step, w.provider) {
        Some(step) => {
            w.step = step;
            w.focus = initial_focus(w);
            entered(state, fx);
        }
        None => close(state, fx),
    }
}

/// Leaves the wizard without saving.
fn close(state: &mut State, fx: &mut Vec<Effect>) {
    state.overlay = None;
    fx.push(Effect::Log(Level::Info, String::from("wizard: closed without saving")));
    fx.push(Effect::Console(String::from(
        "moteOS: setup closed; nothing was saved (F4 \u{2192} Run setup opens it again)\n",
    )));
    let active = state.settings.active();
    let text = match state.settings.backend(active) {
        Backend::Unavailable(why) => format!("{why}. F4 \u{2192} Run setup sets moteOS up."),
        _ => String::from("Setup closed; nothing was changed. F4 \u{2192} Run setup opens it again."),
    };
    state.set_notice(text, NoticeKind::Warning);
}

/// Asks the provider for its models (the built-in list stands in until it answers).
fn fetch_models(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    let provider = w.provider;
    let url = String::from(w.base_url.text.trim());
    let whose = (provider, if provider == ProviderId::OpenAiCompatible { url } else { String::new() });
    if w.models_for.as_ref() == Some(&whose) && w.models_request.is_none() && !w.models.is_empty() {
        return;
    }
    let candidate = w.candidate();
    let builtin: Vec<String> = llm::builtin_models(provider).iter().map(|m| String::from(*m)).collect();
    w.models = builtin;
    w.models_for = Some(whose);
    let settings = Settings { config: candidate.ok(), config_problem: None, local: LocalModel::Missing };
    match settings.backend(provider) {
        Backend::Remote { provider: remote, .. } => {
            let id = state.next_request();
            if let Some(w) = wizard_mut(state) {
                w.models_request = Some(id);
                w.status =
                    Some((format!("Asking {} for its models\u{2026}", provider.display_name()), NoticeKind::Info));
            }
            fx.push(Effect::Log(Level::Info, format!("wizard: asking {} for its models", provider.display_name())));
            fx.push(Effect::FetchModels { id, provider: remote });
        }
        Backend::Unavailable(why) | Backend::Local { name: why, .. } => {
            if let Some(w) = wizard_mut(state) {
                w.status = Some((format!("The models cannot be listed ({why}); type a name."), NoticeKind::Warning));
            }
        }
    }
}

/// A model list arrived: the wizard takes it if it asked for it, else it is handed back.
pub(crate) fn take_models(
    state: &mut State,
    id: RequestId,
    result: Result<Vec<String>, String>,
    fx: &mut Vec<Effect>,
) -> Option<Result<Vec<String>, String>> {
    let Some(w) = wizard_mut(state).filter(|w| w.models_request == Some(id)) else { return Some(result) };
    w.models_request = None;
    let provider = w.provider;
    match crate::commands::usable_models(result) {
        Ok(list) => {
            fx.push(Effect::Log(
                Level::Info,
                format!("wizard: {} listed {} models", provider.display_name(), list.len()),
            ));
            w.models = list;
            w.status = Some((format!("{} offers these models.", provider.label()), NoticeKind::Info));
        }
        Err(why) => {
            fx.push(Effect::Log(
                Level::Warn,
                format!("wizard: {} did not list its models: {why}", provider.display_name()),
            ));
            let text = if w.models.is_empty() {
                format!("{} did not list its models ({why}); type the model's name.", provider.label())
            } else {
                format!("{} did not list its models ({why}); these are the models moteOS knows.", provider.label())
            };
            w.status = Some((text, NoticeKind::Warning));
        }
    }
    refresh(state);
    state.touch();
    None
}

/// Sends the test request (or checks the local model).
fn start_test(state: &mut State, fx: &mut Vec<Effect>) {
    let local = state.settings.local.clone();
    let Some(w) = wizard_mut(state) else { return };
    let provider = w.provider;
    if provider == ProviderId::Local {
        w.test = match &local {
            LocalModel::Ready { name, .. } => Test::Passed(format!("{name} is loaded from the disk")),
            LocalModel::Missing => {
                Test::Failed(String::from("There is no model file on the disk: Esc goes back to choose a provider."))
            }
            LocalModel::Broken(why) => {
                Test::Failed(format!("The model file cannot be used ({why}): Esc goes back to choose a provider."))
            }
        };
        return test_done(state, fx);
    }
    let candidate = match w.candidate() {
        Ok(c) => c,
        Err(why) => {
            w.test = Test::Failed(why);
            return test_done(state, fx);
        }
    };
    let settings = Settings { config: Some(candidate), config_problem: None, local: LocalModel::Missing };
    let (remote, model) = match settings.backend(provider) {
        Backend::Remote { provider, model } => (provider, model),
        Backend::Unavailable(why) | Backend::Local { name: why, .. } => {
            if let Some(w) = wizard_mut(state) {
                w.test = Test::Failed(format!("{why}. Esc goes back to fix it."));
            }
            return test_done(state, fx);
        }
    };
    let id = state.next_request();
    if let Some(w) = wizard_mut(state) {
        w.test = Test::Running(id);
        w.status = Some((format!("Sending a test request to {}\u{2026}", provider.display_name()), NoticeKind::Info));
    }
    fx.push(Effect::Log(
        Level::Info,
        format!("wizard: test request to {} with model {model}", provider.display_name()),
    ));
    fx.push(Effect::StartReply(ReplyJob {
        id,
        target: Target::Remote { provider: remote, model },
        system: None,
        messages: vec![Message::user(TEST_PROMPT)],
        max_tokens: TEST_MAX_TOKENS,
        temperature: None,
        sampling: config::LocalSampling::DEFAULT,
    }));
    refresh(state);
}

/// Says how the test ended.
fn test_done(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard_mut(state) else { return };
    let (text, kind, line) = match &w.test {
        Test::Passed(said) => (format!("\u{2713} {said}"), NoticeKind::Info, String::from("wizard: test passed")),
        Test::Failed(why) => (format!("\u{2717} {why}"), NoticeKind::Error, format!("wizard: test failed: {why}")),
        _ => return,
    };
    fx.push(Effect::Log(Level::Info, line));
    fx.push(Effect::Console(format!("moteOS: {text}\n  ({})\n", keys(w))));
    w.status = Some((text, kind));
    refresh(state);
    state.touch();
}

/// A reply event: the wizard takes it if it is the test request's, else it is handed back.
pub(crate) fn take_reply(
    state: &mut State,
    id: RequestId,
    event: ReplyEvent,
    fx: &mut Vec<Effect>,
) -> Option<ReplyEvent> {
    let Some(w) = wizard_mut(state).filter(|w| w.test == Test::Running(id)) else { return Some(event) };
    let provider = w.provider;
    match event {
        ReplyEvent::Text(text) => {
            // The model's words (shortened) stay in the status until the reply ends.
            if !matches!(&w.status, Some((s, NoticeKind::Info)) if s.starts_with("\u{2026} ")) {
                w.status = Some((String::from("\u{2026} "), NoticeKind::Info));
            }
            if let Some((s, _)) = w.status.as_mut() {
                let room = TEST_SHOWN_CHARS.saturating_sub(s.chars().count());
                s.extend(text.chars().filter(|c| !c.is_control()).take(room));
            }
        }
        ReplyEvent::Finished(_) => {
            let said =
                w.status.as_ref().and_then(|(s, _)| s.strip_prefix("\u{2026} ")).map(str::trim).unwrap_or_default();
            let said = if said.is_empty() { String::new() } else { format!(": \u{201c}{said}\u{201d}") };
            w.test = Test::Passed(format!("{} answered{said}", provider.label()));
            test_done(state, fx);
        }
        ReplyEvent::Failed(error) => {
            let hint = match error.kind {
                ErrorKind::Unauthorized => "Esc twice goes back to the key to fix it.",
                ErrorKind::NotFound => "Esc goes back to the model (and further back to the address) to fix it.",
                ErrorKind::RateLimited { .. } | ErrorKind::ProviderTrouble => "Enter tries again.",
                _ => "Check the address and the network; Enter tries again, Esc goes back to fix it.",
            };
            w.test = Test::Failed(format!("{error}. {hint}"));
            test_done(state, fx);
        }
        _ => {}
    }
    state.touch();
    None
}

/// Enter on the last step: the settings are saved and the chat opens.
fn finish(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(w) = wizard(state) else { return };
    let config = match w.candidate() {
        Ok(c) => c,
        Err(why) => return refuse(state, why, fx),
    };
    let broken = w.broken_text.clone();
    let base_text = w.base_text.clone();
    let provider = w.provider;
    state.overlay = None;
    if let Some(text) = broken {
        crate::persist::keep_broken(state, text, fx);
    }
    state.config_text = base_text;
    state.settings.config = Some(config);
    state.settings.config_problem = None;
    crate::commands::apply_settings(state, fx);
    crate::persist::save_settings(state, fx);
    let model = match state.settings.backend(provider) {
        Backend::Remote { model, .. } => model,
        Backend::Local { name, .. } => name,
        Backend::Unavailable(_) => String::new(),
    };
    fx.push(Effect::Log(Level::Info, format!("wizard: done: {} with model {model}, settings saved", provider.label())));
    let text = format!("Set up: {} \u{b7} {model}. Type a message and press Enter.", provider.label());
    fx.push(Effect::Console(format!("moteOS: {text}\n")));
    state.set_notice(text, NoticeKind::Info);
}
