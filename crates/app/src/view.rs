//! What the screen shows, built from the state for `tui` to draw.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tui::ui::{
    Block, BlockKind, Confirm, Frame, Header, HelpSection, InputBox, NetBadge, Notice, NoticeLevel,
    Overlay as UiOverlay, Picker as UiPicker, PickerItem, Transcript, Wizard as UiWizard, WizardRow, WizardRowKind,
};

use crate::commands::{COMMANDS, KEYS};
use crate::conversation::{EntryState, Who};
use crate::io::NetPhase;
use crate::overlay::Overlay;
use crate::settings::Backend;
use crate::state::{NoticeKind, State};
use crate::wizard::{self, RowKind};

const HELP: [HelpSection<'static>; 2] = [
    HelpSection { title: "Keys", lines: KEYS },
    HelpSection { title: "Commands (also on the serial console)", lines: COMMANDS },
];

/// The screen's content, borrowing the state; [`View::frame`] is what `tui` draws.
#[derive(Debug)]
pub struct View<'a> {
    state: &'a State,
    provider: String,
    context: String,
    blocks: Vec<Block<'a>>,
    picker: Vec<PickerItem<'a>>,
    picker_title: &'static str,
    wizard_rows: Vec<WizardRow<'a>>,
    /// "Step 2 of 6 \u{b7} Provider", the step's sentence, its outcome line.
    wizard_text: (String, String, String),
}

/// Builds the view of `state`.
pub fn view(state: &State) -> View<'_> {
    let active = state.settings.active();
    let provider = match state.settings.backend(active) {
        Backend::Remote { model, .. } => format!("{} \u{b7} {model}", active.label()),
        Backend::Local { name, .. } => format!("Local \u{b7} {name}"),
        Backend::Unavailable(_) if state.settings.config.is_none() => String::from("no provider set up"),
        Backend::Unavailable(_) => format!("{} \u{b7} not set up", active.label()),
    };
    let context = context_use(state);
    let blocks = state
        .conversation()
        .transcript()
        .iter()
        .map(|entry| Block {
            id: entry.id,
            kind: match entry.who {
                Who::User => BlockKind::User,
                Who::Assistant => BlockKind::Assistant,
                Who::System => BlockKind::Error,
                Who::Info => BlockKind::Info,
            },
            text: &entry.text,
            mark: match entry.state {
                EntryState::Cut => Some("cut short"),
                EntryState::NotSent => Some("not sent"),
                _ => None,
            },
            streaming: entry.state == EntryState::Streaming,
        })
        .collect();
    let (picker, picker_title) = match &state.overlay {
        Some(Overlay::Picker(p)) => (
            p.visible()
                .into_iter()
                .map(|i| {
                    let c = &p.choices[i];
                    PickerItem {
                        label: &c.label,
                        detail: &c.detail,
                        current: c.current,
                        disabled: c.disabled.is_some(),
                    }
                })
                .collect(),
            match p.kind {
                crate::overlay::PickerKind::Provider => "Provider",
                crate::overlay::PickerKind::Model(_) => "Model",
                crate::overlay::PickerKind::Conversation => "Conversations",
                crate::overlay::PickerKind::Setting => "Settings",
            },
        ),
        _ => (Vec::new(), ""),
    };
    let (wizard_rows, wizard_text) = match &state.overlay {
        Some(Overlay::Wizard(w)) => (
            w.rows
                .iter()
                .map(|row| WizardRow {
                    label: &row.label,
                    kind: match &row.kind {
                        RowKind::Choice { chosen, detail, disabled } => {
                            WizardRowKind::Choice { chosen: *chosen, detail, disabled: *disabled }
                        }
                        RowKind::Field { text, cursor, masked, placeholder } => {
                            WizardRowKind::Field { text, cursor: *cursor, masked: *masked, placeholder }
                        }
                        RowKind::Info { value } => WizardRowKind::Info { value },
                    },
                })
                .collect(),
            (
                format!("Step {} of 6 \u{b7} {}", w.step() as u32 + 1, wizard::title(w.step())),
                wizard::intro(w),
                String::from(w.status().map_or("", |(text, _)| text)),
            ),
        ),
        _ => (Vec::new(), (String::new(), String::new(), String::new())),
    };
    View { state, provider, context, blocks, picker, picker_title, wizard_rows, wizard_text }
}

/// "1.2k / 200k tokens" (or just the count when the window is unknown).
fn context_use(state: &State) -> String {
    let used: usize = state.conversation().request_messages().iter().map(|m| llm::estimate_tokens(&m.content)).sum();
    if used == 0 {
        return String::new();
    }
    let active = state.settings.active();
    let window = match state.settings.backend(active) {
        Backend::Local { context, .. } => Some(context as usize),
        Backend::Remote { model, .. } => llm::context_window(active, &model).map(|w| w as usize),
        Backend::Unavailable(_) => None,
    };
    match window {
        Some(window) => format!("context {} / {}", short(used), short(window)),
        None => format!("context ~{} tokens", short(used)),
    }
}

fn short(n: usize) -> String {
    if n >= 10_000 {
        format!("{}k", n / 1000)
    } else if n >= 1000 {
        format!("{:.1}k", n as f32 / 1000.0)
    } else {
        format!("{n}")
    }
}

impl View<'_> {
    /// The frame to draw.
    pub fn frame(&self) -> Frame<'_> {
        let state = self.state;
        let net = match state.net.phase {
            NetPhase::Offline => NetBadge::Offline,
            NetPhase::Connecting => NetBadge::Connecting,
            NetPhase::Connected => NetBadge::Connected,
            NetPhase::Error => NetBadge::Error,
        };
        let overlay = match &state.overlay {
            None => None,
            Some(Overlay::Help) => Some(UiOverlay::Help(&HELP)),
            Some(Overlay::Picker(p)) => Some(UiOverlay::Picker(UiPicker {
                title: self.picker_title,
                items: &self.picker,
                selected: p.selected,
                filter: &p.filter,
                status: &p.status,
            })),
            Some(Overlay::Wizard(w)) => Some(UiOverlay::Wizard(UiWizard {
                title: "Set up moteOS",
                step: &self.wizard_text.0,
                problem: w.problem(),
                intro: &self.wizard_text.1,
                rows: &self.wizard_rows,
                focus: w.focus(),
                status: w.status().map(|(_, kind)| Notice { text: &self.wizard_text.2, level: level(kind) }),
                keys: wizard::keys(w),
            })),
            Some(Overlay::ConfirmPowerOff { yes_focused }) => Some(UiOverlay::Confirm(Confirm {
                title: "Power off?",
                text: "The conversation in memory will be gone.",
                yes: "Power off",
                no: "Cancel",
                yes_focused: *yes_focused,
            })),
        };
        let editor = &state.editor;
        Frame {
            theme: state.theme,
            header: Header {
                provider: &self.provider,
                net,
                net_text: state.net.address.as_deref().unwrap_or(""),
                speed: &state.speed,
                context: &self.context,
            },
            transcript: Transcript {
                blocks: &self.blocks,
                scroll: state.scroll,
                empty_hint: "Type a message and press Enter \u{b7} F1 for help",
            },
            input: InputBox {
                text: editor.text(),
                cursor: editor.cursor(),
                masked: editor.is_masked(),
                placeholder: if state.is_replying() { "Ctrl+C stops the reply" } else { "Message" },
                hint: "Enter send \u{b7} Shift+Enter new line \u{b7} F1 help \u{b7} F2 provider \u{b7} F3 model \u{b7} F9 new \u{b7} F10 off",
            },
            notice: state.notice.as_ref().map(|(text, kind)| Notice { text, level: level(*kind) }),
            overlay,
        }
    }
}

fn level(kind: NoticeKind) -> NoticeLevel {
    match kind {
        NoticeKind::Info => NoticeLevel::Info,
        NoticeKind::Warning => NoticeLevel::Warning,
        NoticeKind::Error => NoticeLevel::Error,
    }
}
