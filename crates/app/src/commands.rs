//! Slash commands, the F-key windows and what their choices do.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hal::clock::Instant;
use hal::keys::{Key, KeyEvent};
use llm::ProviderId;
use tui::ui::{Scroll, ThemeId};

use crate::conversation::Conversation;
use crate::io::{Effect, Level, RequestId};
use crate::overlay::{Choice, Overlay, Picker, PickerKind};
use crate::persist;
use crate::settings::{Backend, LocalModel, REMOTE_BUDGET};
use crate::state::{ModelsRequest, NoticeKind, State};
use crate::update::{start_reply, stop_reply};

/// Keys, for the help window and `/help`.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the message"),
    ("Shift+Enter", "new line (Ctrl+J too)"),
    ("Up / Down", "scroll when the input is empty; else move or recall earlier messages"),
    ("PgUp / PgDn", "scroll a page"),
    ("Ctrl+Home / End", "start / end of the conversation"),
    ("Ctrl+Left / Right", "move by word"),
    ("Ctrl+W / Ctrl+U", "delete word / to line start"),
    ("Ctrl+C", "stop the reply (or clear the input)"),
    ("Ctrl+R", "ask again (regenerate the last reply)"),
    ("Ctrl+L", "redraw the screen"),
    ("F1", "this help"),
    ("F2", "choose the provider"),
    ("F3", "choose the model"),
    ("F4", "settings"),
    ("F5", "saved conversations"),
    ("F9", "new conversation"),
    ("F10", "power off"),
    ("Esc", "close a window, dismiss a notice"),
];

/// Slash commands, for the help window and `/help`.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/help", "keys and commands"),
    ("/models", "list the provider's models"),
    ("/model NAME", "use another model"),
    ("/provider NAME", "use another provider (anthropic, openai, groq, xai, openai-compatible, local)"),
    ("/new", "start a new conversation"),
    ("/chats", "saved conversations: open, delete"),
    ("/rename TITLE", "rename this conversation"),
    ("/key PROVIDER", "enter a provider's API key (hidden as you type)"),
    ("/forget-keys", "remove every API key from the disk and EFI variables"),
    ("/retry", "ask again"),
    ("/theme dark|light", "change the colours"),
    ("/system TEXT", "instructions for the model (empty: none)"),
    ("/set KEY VALUE", "change a setting (F4 lists them); /set KEY shows it"),
    ("/off", "power off"),
];

/// Runs a `/command` typed in the input (or on the serial console).
pub(crate) fn run(state: &mut State, line: &str, now: Instant, fx: &mut Vec<Effect>) {
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (line, ""),
    };
    fx.push(Effect::Log(Level::Info, format!("chat: command {name}")));
    match name {
        "/help" => {
            say(state, "keys: F1 help, F2 provider, F3 model, F9 new conversation, F10 power off; commands:", fx);
            for (command, what) in COMMANDS {
                fx.push(Effect::Console(format!("  {command:<18} {what}\n")));
            }
            open_help(state, fx);
        }
        "/models" => list_models(state, fx),
        "/model" if !arg.is_empty() => choose_model(state, arg, fx),
        "/provider" if !arg.is_empty() => match ProviderId::from_name(arg) {
            Some(id) => choose_provider(state, id, fx),
            None => complain(
                state,
                format!(
                    "there is no provider called {arg}: try anthropic, openai, groq, xai, openai-compatible or local"
                ),
                fx,
            ),
        },
        "/new" => new_conversation(state, fx),
        "/chats" => persist::open_list(state, fx),
        "/rename" if !arg.is_empty() => persist::rename(state, arg, now, fx),
        "/rename" => complain(state, String::from("/rename needs a title, e.g. /rename Trip to Lyon"), fx),
        "/key" => ask_key(state, arg, fx),
        "/forget-keys" => forget_keys(state, fx),
        "/system" => set_setting(state, "chat.system_prompt", arg, fx),
        "/set" => match arg.split_once(char::is_whitespace) {
            Some((key, value)) => set_setting(state, key, value.trim(), fx),
            None if !arg.is_empty() => show_setting(state, arg, fx),
            None => open_settings(state, fx),
        },
        "/retry" => retry(state, now, fx),
        "/theme" => match ThemeId::from_name(arg) {
            Some(theme) => {
                let name = String::from(theme.as_str());
                set_setting(state, "chat.theme", &name, fx);
            }
            None => complain(state, String::from("/theme takes dark or light"), fx),
        },
        "/off" => power_off(state, fx),
        "/model" | "/provider" => {
            complain(state, format!("{name} needs a name, e.g. {name} NAME (or press F2/F3)"), fx)
        }
        other => {
            let mut shown: String = other.chars().take(40).collect();
            if shown.len() < other.len() {
                shown.push('\u{2026}');
            }
            complain(state, format!("unknown command {shown}: try /help"), fx);
        }
    }
    state.touch();
}

/// Shows moteOS's answer to a command in the transcript and on the console.
fn say(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    fx.push(Effect::Console(format!("{text}\n")));
    fx.push(Effect::Log(Level::Info, format!("chat: {text}")));
    state.conversation_mut().info(text);
}

/// A command that could not be done: a notice and a console line.
fn complain(state: &mut State, text: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Console(format!("moteOS: {text}\n")));
    fx.push(Effect::Log(Level::Info, format!("chat: {text}")));
    state.set_notice(text, NoticeKind::Warning);
}

pub(crate) fn open_help(state: &mut State, fx: &mut Vec<Effect>) {
    state.overlay = Some(Overlay::Help);
    fx.push(Effect::Log(Level::Info, String::from("screen: help")));
}

/// The label of the model a provider uses.
fn model_of(state: &State, id: ProviderId) -> Option<String> {
    match state.settings.backend(id) {
        Backend::Remote { model, .. } => Some(model),
        Backend::Local { name, .. } => Some(name),
        Backend::Unavailable(_) => None,
    }
}

pub(crate) fn open_provider_picker(state: &mut State, fx: &mut Vec<Effect>) {
    let active = state.settings.active();
    let choices = ProviderId::ALL
        .into_iter()
        .map(|id| {
            let (detail, disabled) = match state.settings.backend(id) {
                Backend::Remote { model, .. } => (model, None),
                Backend::Local { name, .. } => (name, None),
                Backend::Unavailable(why) => (String::from("not set up"), Some(why)),
            };
            Choice { label: String::from(id.label()), detail, current: id == active, disabled }
        })
        .collect();
    state.overlay = Some(Overlay::Picker(Picker::new(PickerKind::Provider, choices, String::new())));
    fx.push(Effect::Log(Level::Info, String::from("screen: provider picker")));
}

pub(crate) fn open_model_picker(state: &mut State, fx: &mut Vec<Effect>) {
    let active = state.settings.active();
    let current = model_of(state, active);
    let (choices, status) = match state.settings.backend(active) {
        Backend::Remote { provider, model } => {
            let id = state.next_request();
            state.models = Some(ModelsRequest { id, provider: active, for_command: false });
            fx.push(Effect::FetchModels { id, provider });
            let choices = [model.as_str()]
                .into_iter()
                .chain(llm::builtin_models(active).iter().copied().filter(|m| *m != model))
                .map(|m| choice(m, current.as_deref()))
                .collect();
            (choices, format!("asking {} for its models\u{2026}", active.display_name()))
        }
        Backend::Local { name, .. } => (
            alloc::vec![Choice {
                label: name,
                detail: String::from("on the boot partition"),
                current: true,
                disabled: None
            }],
            String::from("the local model is the file on the boot partition"),
        ),
        Backend::Unavailable(why) => (Vec::new(), why),
    };
    state.overlay = Some(Overlay::Picker(Picker::new(PickerKind::Model(active), choices, status)));
    fx.push(Effect::Log(Level::Info, String::from("screen: model picker")));
}

fn choice(model: &str, current: Option<&str>) -> Choice {
    Choice { label: String::from(model), detail: String::new(), current: current == Some(model), disabled: None }
}

fn list_models(state: &mut State, fx: &mut Vec<Effect>) {
    let active = state.settings.active();
    match state.settings.backend(active) {
        Backend::Remote { provider, .. } => {
            if state.models.is_some_and(|m| m.for_command) {
                complain(state, String::from("the model list is already being fetched"), fx);
                return;
            }
            let id = state.next_request();
            state.models = Some(ModelsRequest { id, provider: active, for_command: true });
            fx.push(Effect::Log(Level::Info, format!("chat: asking {} for its models", active.display_name())));
            fx.push(Effect::FetchModels { id, provider });
        }
        Backend::Local { name, .. } => {
            say(state, &format!("models: {name} (the model file on the boot partition)"), fx)
        }
        Backend::Unavailable(why) => complain(state, why, fx),
    }
}

/// A model list that can be offered, or why not (an empty list is a failure too).
pub(crate) fn usable_models(result: Result<Vec<String>, String>) -> Result<Vec<String>, String> {
    match result {
        Ok(list) if list.is_empty() => Err(String::from("the list is empty")),
        other => other,
    }
}

/// A model list arrived (or failed).
pub(crate) fn on_models(state: &mut State, id: RequestId, result: Result<Vec<String>, String>, fx: &mut Vec<Effect>) {
    let Some(request) = state.models.filter(|m| m.id == id) else { return };
    state.models = None;
    let provider = request.provider;
    let current = model_of(state, provider);
    let (list, status) = match usable_models(result) {
        Ok(list) => (list, format!("{} offers these models", provider.label())),
        Err(why) => {
            fx.push(Effect::Log(
                Level::Warn,
                format!("chat: {} did not list its models: {why}", provider.display_name()),
            ));
            let builtin: Vec<String> = llm::builtin_models(provider).iter().map(|m| String::from(*m)).collect();
            (builtin, format!("{} did not list its models ({why}); known models:", provider.label()))
        }
    };
    if request.for_command {
        let using = current.unwrap_or_default();
        let text = if list.is_empty() {
            format!("{status} none built in; using {using}")
        } else if status.ends_with(':') {
            format!("{status} {} (using {using})", list.join(", "))
        } else {
            format!("models: {} (using {using})", list.join(", "))
        };
        say(state, &text, fx);
        return;
    }
    if let Some(Overlay::Picker(picker)) = state.overlay.as_mut()
        && picker.kind == PickerKind::Model(provider)
    {
        let mut choices: Vec<Choice> = list.iter().map(|m| choice(m, current.as_deref())).collect();
        if let Some(current) = current.as_deref()
            && !list.iter().any(|m| m == current)
        {
            choices.insert(0, choice(current, Some(current)));
        }
        picker.set_choices(choices, status);
        state.touch();
    }
}

/// Keys while a window is open.
pub(crate) fn overlay_key(state: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(overlay) = state.overlay.as_mut() else { return };
    match overlay {
        Overlay::Help => {
            if matches!(key.key, Key::Escape | Key::F(1) | Key::Enter | Key::Char('q')) {
                state.overlay = None;
            }
        }
        Overlay::ConfirmPowerOff { yes_focused } => match key.key {
            Key::Left | Key::Right | Key::Tab => *yes_focused = !*yes_focused,
            Key::Char('y' | 'Y') => power_off(state, fx),
            Key::Enter if *yes_focused => power_off(state, fx),
            Key::Enter | Key::Escape | Key::Char('n' | 'N') | Key::F(10) => state.overlay = None,
            _ => {}
        },
        Overlay::Wizard(_) => crate::wizard::on_key(state, key, fx),
        Overlay::Picker(picker) => match key.key {
            Key::Escape => state.overlay = None,
            Key::Up => picker.move_by(-1),
            Key::Down | Key::Tab => picker.move_by(1),
            Key::PageUp => picker.move_by(-10),
            Key::PageDown => picker.move_by(10),
            Key::Home => picker.move_by(isize::MIN / 2),
            Key::End => picker.move_by(isize::MAX / 2),
            Key::Backspace => {
                picker.backspace();
            }
            Key::Char(c) if !key.modifiers.ctrl && !key.modifiers.alt => picker.type_char(c),
            Key::Delete if picker.kind == PickerKind::Conversation => {
                if let Some(&index) = picker.visible().get(picker.selected) {
                    persist::delete_listed(state, index, fx);
                }
            }
            Key::Enter if picker.kind == PickerKind::Conversation => {
                if let Some(&index) = picker.visible().get(picker.selected) {
                    persist::open_listed(state, index, fx);
                }
            }
            Key::Enter => {
                let kind = picker.kind;
                let Some(choice) = picker.highlighted().cloned() else { return };
                if let Some(why) = choice.disabled {
                    state.set_notice(why, NoticeKind::Warning);
                    return;
                }
                state.overlay = None;
                match kind {
                    PickerKind::Provider => {
                        if let Some(id) = ProviderId::ALL.into_iter().find(|id| id.label() == choice.label) {
                            choose_provider(state, id, fx);
                        }
                    }
                    PickerKind::Model(_) => choose_model(state, &choice.label, fx),
                    PickerKind::Conversation => {}
                    PickerKind::Setting => edit_setting(state, &choice.label, fx),
                }
            }
            _ => {}
        },
    }
}

/// Makes `id` the provider that answers, keeping the conversation.
fn choose_provider(state: &mut State, id: ProviderId, fx: &mut Vec<Effect>) {
    if let Backend::Unavailable(why) = state.settings.backend(id) {
        complain(state, why, fx);
        return;
    }
    if state.settings.active() == id {
        say(state, &format!("already using {}", id.label()), fx);
        return;
    }
    stop_reply(state, "stopped: the provider changed", "stopped: the provider changed", fx);
    state.settings.set_active(id);
    state.notice = None;
    state.apply_backend(fx);
    persist::save_settings(state, fx);
    let model = model_of(state, id).unwrap_or_default();
    say(state, &format!("now using {} \u{b7} {model}", id.label()), fx);
}

/// Makes `model` the active provider's model, keeping the conversation.
fn choose_model(state: &mut State, model: &str, fx: &mut Vec<Effect>) {
    let active = state.settings.active();
    if active == ProviderId::Local {
        match &state.settings.local {
            LocalModel::Ready { name, .. } if name == model => say(state, &format!("already using {name}"), fx),
            _ => complain(
                state,
                String::from("the local model is the file on the boot partition; other files cannot be chosen yet"),
                fx,
            ),
        }
        return;
    }
    if model.len() > 200 || model.chars().any(|c| c.is_control() || c.is_whitespace()) {
        complain(state, String::from("a model name has no spaces and is at most 200 characters"), fx);
        return;
    }
    if !state.settings.set_model(active, model) {
        complain(state, format!("{} is not set up", active.label()), fx);
        return;
    }
    stop_reply(state, "stopped: the model changed", "stopped: the model changed", fx);
    say(state, &format!("now using {} \u{b7} {model}", active.label()), fx);
    persist::save_settings(state, fx);
}

pub(crate) fn new_conversation(state: &mut State, fx: &mut Vec<Effect>) {
    stop_reply(state, "stopped: a new conversation started", "stopped: a new conversation started", fx);
    if state.conversation().is_empty() {
        return;
    }
    let mut fresh = Conversation::new(state.conversation().system().map(String::from), REMOTE_BUDGET);
    fresh.set_budget(REMOTE_BUDGET);
    state.conversations.push(fresh);
    state.active = state.conversations.len() - 1;
    state.apply_backend(fx);
    state.scroll = Scroll::Follow;
    state.notice = None;
    fx.push(Effect::Console(String::from("\n--- new conversation ---\n")));
    fx.push(Effect::Log(Level::Info, String::from("chat: new conversation")));
}

/// Ctrl+R and `/retry`: asks the last question again.
pub(crate) fn retry(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    if state.reply.is_some() {
        complain(state, String::from("a reply is still arriving: press Ctrl+C first"), fx);
        return;
    }
    if let Backend::Unavailable(why) = state.settings.backend(state.settings.active()) {
        complain(state, why, fx);
        return;
    }
    if !state.conversation_mut().retry() {
        complain(state, String::from("there is nothing to ask again yet"), fx);
        return;
    }
    fx.push(Effect::Console(String::from("(asking again)\n")));
    state.notice = None;
    state.scroll = Scroll::Follow;
    start_reply(state, now, fx);
}

fn power_off(state: &mut State, fx: &mut Vec<Effect>) {
    stop_reply(state, "stopped: powering off", "stopped: powering off", fx);
    state.overlay = None;
    state.powering_off = true;
    fx.push(Effect::Console(String::from("moteOS: powering off\n")));
    fx.push(Effect::Log(Level::Info, String::from("power: switching off")));
    fx.push(Effect::PowerOff);
}

/// `/key PROVIDER`: the input line turns masked and takes the key.
fn ask_key(state: &mut State, arg: &str, fx: &mut Vec<Effect>) {
    let id = if arg.is_empty() { Some(state.settings.active()) } else { ProviderId::from_name(arg) };
    let Some(id) = id.filter(|id| *id != ProviderId::Local) else {
        complain(state, String::from("/key takes a provider: anthropic, openai, groq, xai or openai-compatible"), fx);
        return;
    };
    state.key_for = Some(id);
    state.editor.set_masked(true);
    fx.push(Effect::Log(Level::Info, format!("chat: waiting for the {} API key (hidden)", id.label())));
    fx.push(Effect::Console(format!("moteOS: type or paste the {} API key, then Enter (Esc cancels)\n", id.label())));
    state.set_notice(
        format!(
            "Type or paste the {} API key, then Enter; Esc cancels. It is kept unencrypted on the boot disk and in an EFI variable (/forget-keys removes it).",
            id.label()
        ),
        NoticeKind::Info,
    );
}

/// Enter while the masked line takes a key.
pub(crate) fn take_key(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(id) = state.key_for.take() else { return };
    let key = String::from(state.editor.text().trim());
    state.editor.set_masked(false);
    fx.push(Effect::Console(String::from("\nyou: (API key hidden)\n")));
    if key.is_empty() {
        complain(state, String::from("no key entered; nothing changed"), fx);
        return;
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) || key.len() > 512 {
        complain(
            state,
            String::from("an API key has no spaces or line breaks and is at most 512 characters; nothing changed"),
            fx,
        );
        return;
    }
    let config = state.settings.config.get_or_insert_with(|| config::MoteConfig::new(id));
    if id == ProviderId::OpenAiCompatible {
        match config.providers.openai_compatible.as_mut() {
            Some(c) => c.api_key = Some(key.clone()),
            None => {
                complain(
                    state,
                    String::from("set up the OpenAI-compatible server's address first (its base_url in config.toml)"),
                    fx,
                );
                return;
            }
        }
    } else if let Some(slot) = config.providers.cloud_mut(id) {
        slot.get_or_insert_with(Default::default).api_key = key.clone();
    }
    state.notice = None;
    state.apply_backend(fx);
    say(state, &format!("the {} key is saved ({})", id.label(), config::redact_key(&key)), fx);
    persist::save_settings(state, fx);
}

/// Esc while the masked line takes a key.
pub(crate) fn cancel_key(state: &mut State, fx: &mut Vec<Effect>) {
    if state.key_for.take().is_some() {
        state.editor.set_masked(false);
        state.notice = None;
        fx.push(Effect::Console(String::from("moteOS: no key entered; nothing changed\n")));
    }
}

/// `/forget-keys`: every API key leaves the settings, the file and the EFI variable.
fn forget_keys(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(config) = state.settings.config.as_mut() else {
        say(state, "there are no keys to forget", fx);
        return;
    };
    config::forget_keys(config);
    stop_reply(state, "stopped: the keys were removed", "stopped: the keys were removed", fx);
    state.apply_backend(fx);
    say(state, "every API key is removed from the boot disk and the EFI variable", fx);
    persist::save_settings(state, fx);
}

/// Applies what a setting changes right away (the theme, the system prompt, who answers).
pub(crate) fn apply_settings(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(config) = state.settings.config.as_ref() else { return };
    state.theme = match config.chat.theme {
        config::Theme::Dark => ThemeId::Dark,
        config::Theme::Light => ThemeId::Light,
    };
    let system = config.chat.system_prompt.clone().filter(|s| !s.trim().is_empty());
    state.conversation_mut().set_system(system);
    state.apply_backend(fx);
}

/// `/set KEY VALUE` (and `/theme`, `/system`): changes one setting, applies it and saves.
fn set_setting(state: &mut State, key: &str, value: &str, fx: &mut Vec<Effect>) {
    if config::settable().iter().any(|k| k.name == key && k.secret) {
        complain(state, String::from("API keys are entered hidden: use /key PROVIDER"), fx);
        return;
    }
    let mut changed = match state.settings.config.clone() {
        Some(config) => config,
        None => config::MoteConfig::new(state.settings.active()),
    };
    if let Err(e) = config::set(&mut changed, key, value) {
        complain(state, format!("{e}"), fx);
        return;
    }
    let provider_changed = state.settings.config.as_ref().map(|c| c.provider.active) != Some(changed.provider.active);
    if provider_changed {
        stop_reply(state, "stopped: the provider changed", "stopped: the provider changed", fx);
    }
    state.settings.config = Some(changed);
    state.notice = None;
    apply_settings(state, fx);
    let shown = state.settings.config.as_ref().and_then(|c| config::get(c, key).ok()).unwrap_or_default();
    let shown = if shown.is_empty() { String::from("(default)") } else { shown };
    say(state, &format!("{key} = {shown}"), fx);
    persist::save_settings(state, fx);
}

/// `/set KEY`: shows a setting (keys redacted).
fn show_setting(state: &mut State, key: &str, fx: &mut Vec<Effect>) {
    let config = state.settings.config.clone().unwrap_or_else(|| config::MoteConfig::new(state.settings.active()));
    match config::get(&config, key) {
        Ok(value) if value.is_empty() => say(state, &format!("{key} is not set (the default applies)"), fx),
        Ok(value) => say(state, &format!("{key} = {value}"), fx),
        Err(e) => complain(state, format!("{e}"), fx),
    }
}

/// F4: every setting with its value; Enter puts `/set KEY VALUE` on the input line to edit
/// (an API key opens the hidden key entry instead).
pub(crate) fn open_settings(state: &mut State, fx: &mut Vec<Effect>) {
    let config = state.settings.config.clone().unwrap_or_else(|| config::MoteConfig::new(state.settings.active()));
    let setup = Choice {
        label: String::from(crate::wizard::RUN_SETUP),
        detail: String::from("network, provider, key, model, a test request"),
        current: false,
        disabled: None,
    };
    let choices = core::iter::once(setup)
        .chain(config::settable().iter().map(|k| {
            let value = config::get(&config, k.name).unwrap_or_default();
            let detail = if value.is_empty() { String::from("default") } else { value };
            Choice { label: String::from(k.name), detail, current: false, disabled: None }
        }))
        .collect();
    let status = String::from("Enter edits on the input line (/set KEY VALUE); type to filter; Esc closes");
    state.overlay = Some(Overlay::Picker(Picker::new(PickerKind::Setting, choices, status)));
    fx.push(Effect::Log(Level::Info, String::from("screen: settings")));
}

/// Enter on a setting.
fn edit_setting(state: &mut State, key: &str, fx: &mut Vec<Effect>) {
    state.overlay = None;
    if key == crate::wizard::RUN_SETUP {
        crate::wizard::open(state, None, fx);
        return;
    }
    if let Some(provider) = key.strip_prefix("providers.").and_then(|rest| rest.strip_suffix(".api_key")) {
        ask_key(state, provider, fx);
        return;
    }
    let config = state.settings.config.clone().unwrap_or_else(|| config::MoteConfig::new(state.settings.active()));
    let value = config::get(&config, key).unwrap_or_default();
    state.editor.set_text(&format!("/set {key} {value}"));
    let help = config::settable().iter().find(|k| k.name == key).map_or("", |k| k.help);
    state.set_notice(format!("{key}: {help}. Edit the value and press Enter."), NoticeKind::Info);
}
