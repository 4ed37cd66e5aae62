//! The application's state: everything the screen and the serial console show, and
//! everything needed to decide what happens next.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use config::MoteConfig;
use hal::clock::Instant;
use tui::ui::{Geometry, Scroll, ThemeId};

use crate::conversation::{Conversation, MAX_INPUT_BYTES};
use crate::editor::Editor;
use crate::io::{Effect, Level, NetInfo, RequestId};
use crate::overlay::Overlay;
use crate::settings::{Backend, LocalModel, REMOTE_BUDGET, Settings};

/// What the kernel knows at boot.
#[derive(Clone, Debug)]
pub struct Boot {
    /// The configuration, if a usable one was found.
    pub config: Option<MoteConfig>,
    /// Why the configuration file could not be used (its first problem, located), if it
    /// could not.
    pub config_problem: Option<String>,
    /// The local model.
    pub local: LocalModel,
    /// The settings file's text as read (kept so saving changes keeps its comments).
    pub config_text: Option<String>,
    /// The wall clock at boot, in seconds since 1970 (UTC), if the firmware had one.
    pub unix_time: Option<i64>,
}

/// How a notice is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Information.
    Info,
    /// Worth a look.
    Warning,
    /// A failure.
    Error,
}

/// A reply being produced.
#[derive(Clone, Debug)]
pub(crate) struct ActiveReply {
    pub id: RequestId,
    /// Whether the local model writes it.
    pub local: bool,
    pub started: Instant,
    pub first_text: Option<Instant>,
    pub first_shown: Option<Instant>,
    pub text_bytes: usize,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    /// Whether "assistant: " was written on the serial console.
    pub console_open: bool,
    /// Notes from the decoder about skipped input, logged when the reply ends.
    pub skipped: Vec<String>,
}

/// A model list being fetched, and who asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ModelsRequest {
    pub id: RequestId,
    pub provider: llm::ProviderId,
    /// `/models` on the command line (answered in the transcript) rather than the picker.
    pub for_command: bool,
}

/// The whole application.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) settings: Settings,
    pub(crate) conversations: Vec<Conversation>,
    pub(crate) active: usize,
    pub(crate) editor: Editor,
    pub(crate) overlay: Option<Overlay>,
    pub(crate) notice: Option<(String, NoticeKind)>,
    pub(crate) net: NetInfo,
    pub(crate) reply: Option<ActiveReply>,
    pub(crate) models: Option<ModelsRequest>,
    pub(crate) next_id: u64,
    pub(crate) scroll: Scroll,
    pub(crate) geometry: Geometry,
    pub(crate) theme: ThemeId,
    /// The speed shown in the header ("42 tok/s", "reading 12/40").
    pub(crate) speed: String,
    /// Counts changes to what is shown.
    pub(crate) revision: u64,
    pub(crate) powering_off: bool,
    /// Files on the boot partition: saved conversations, writes in flight.
    pub(crate) persist: crate::persist::Persist,
    /// The settings file's text as last read or written.
    pub(crate) config_text: Option<String>,
    /// Seconds since 1970 when the monotonic clock read zero.
    pub(crate) unix_at_boot: Option<i64>,
    /// The provider whose API key the (masked) input line is taking (`/key`).
    pub(crate) key_for: Option<llm::ProviderId>,
    /// The time of the input being handled.
    pub(crate) now: Instant,
    /// The `[network]` configuration the machine runs with (the file's at boot, then what
    /// the setup wizard put into effect).
    pub(crate) network_in_use: config::NetworkConfig,
}

impl State {
    /// The application at boot, and the effects of starting it (log lines, the console
    /// greeting).
    pub fn new(boot: Boot) -> (State, Vec<Effect>) {
        let settings = Settings { config: boot.config, config_problem: boot.config_problem, local: boot.local };
        let mut state = State {
            settings,
            conversations: vec![Conversation::new(None, REMOTE_BUDGET)],
            active: 0,
            editor: Editor::new(MAX_INPUT_BYTES),
            overlay: None,
            notice: None,
            net: NetInfo::default(),
            reply: None,
            models: None,
            next_id: 1,
            scroll: Scroll::Follow,
            geometry: Geometry::default(),
            theme: ThemeId::Dark,
            speed: String::new(),
            revision: 0,
            powering_off: false,
            persist: crate::persist::Persist::default(),
            config_text: boot.config_text,
            unix_at_boot: boot.unix_time,
            key_for: None,
            now: Instant::from_millis(0),
            network_in_use: Default::default(),
        };
        state.network_in_use = state.settings.config.as_ref().map(|c| c.network.clone()).unwrap_or_default();
        let mut effects = Vec::new();
        crate::commands::apply_settings(&mut state, &mut effects);
        state.apply_backend(&mut effects);
        crate::persist::start(&mut state, &mut effects);
        if let Some(problem) = state.settings.config_problem.clone() {
            state.set_notice(alloc::format!("config.toml cannot be used: {problem}"), NoticeKind::Error);
        }
        // No usable configuration: the setup wizard (or the local model, said on screen).
        crate::wizard::at_boot(&mut state, &mut effects);
        (state, effects)
    }

    /// Counts every change to what is shown: draw when it moved.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The conversation on screen.
    pub fn conversation(&self) -> &Conversation {
        &self.conversations[self.active]
    }

    pub(crate) fn conversation_mut(&mut self) -> &mut Conversation {
        &mut self.conversations[self.active]
    }

    /// The input editor.
    pub fn editor(&self) -> &Editor {
        &self.editor
    }

    /// The window over the chat, if one is open.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    /// The notice above the input, if any.
    pub fn notice(&self) -> Option<(&str, NoticeKind)> {
        self.notice.as_ref().map(|(text, kind)| (text.as_str(), *kind))
    }

    /// Whether a reply is being produced.
    pub fn is_replying(&self) -> bool {
        self.reply.is_some()
    }

    /// Whether the reply's first text has not been drawn yet (the moment the user sees the
    /// model answer: worth drawing at once rather than at the next throttled redraw).
    pub fn first_text_unshown(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.first_text.is_some() && r.first_shown.is_none())
    }

    /// Whether the local model is computing (the kernel then keeps the CPU busy).
    pub fn local_busy(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.local)
    }

    /// The settings in effect.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The theme in use.
    pub fn theme(&self) -> ThemeId {
        self.theme
    }

    /// Which part of the transcript is shown.
    pub fn scroll(&self) -> Scroll {
        self.scroll
    }

    pub(crate) fn touch(&mut self) {
        self.revision += 1;
    }

    pub(crate) fn next_request(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn set_notice(&mut self, text: String, kind: NoticeKind) {
        self.notice = Some((text, kind));
        self.touch();
    }

    /// Adapts the conversation to the active provider (context budget) and says on the log
    /// who answers.
    pub(crate) fn apply_backend(&mut self, effects: &mut Vec<Effect>) {
        let active = self.settings.active();
        let (budget, line) = match self.settings.backend(active) {
            Backend::Remote { provider, model } => {
                // A hosted provider's key over plain HTTP on the LAN: allowed, but said on screen.
                if let Some(warning) = provider.plain_http_warning() {
                    effects.push(Effect::Log(Level::Warn, alloc::format!("chat: {warning}")));
                    self.set_notice(warning, NoticeKind::Warning);
                }
                (
                    REMOTE_BUDGET,
                    alloc::format!(
                        "chat: {} at {} with model {model}",
                        provider.id().display_name(),
                        provider.base_url()
                    ),
                )
            }
            Backend::Local { name, context } => {
                // Room for the chat template, a system prompt and the reply.
                (
                    context as usize * 6 / 10,
                    alloc::format!("chat: the local model {name} answers ({context} tokens of context)"),
                )
            }
            Backend::Unavailable(why) => {
                effects.push(Effect::Log(Level::Warn, alloc::format!("chat: {why}")));
                self.set_notice(why, NoticeKind::Warning);
                return;
            }
        };
        self.conversation_mut().set_budget(budget);
        effects.push(Effect::Log(Level::Info, line));
    }
}
