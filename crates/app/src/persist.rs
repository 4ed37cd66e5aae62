//! What is kept across reboots: the settings (saved at once after every change) and the
//! conversations (saved after every completed or cut reply, the last one resumed at boot).
//!
//! All decisions live here; the kernel lists, reads, writes and removes the files it is
//! told to and answers with [`Input::Dir`], [`Input::Files`] and [`Input::Written`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hal::clock::Instant;

use crate::conversation::{Conversation, SavedMeta};
use crate::io::{Effect, Level, RequestId, Secret};
use crate::overlay::{Choice, Overlay, Picker, PickerKind};
use crate::saved::{self, CHATS_DIR, ChatFiles, MAX_FILE_BYTES, SavedChat};
use crate::settings::{Backend, REMOTE_BUDGET};
use crate::state::{NoticeKind, State};

/// Requests to the storage the application waits for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending {
    /// The listing of the chats folder at boot (to resume the newest).
    boot_list: Option<RequestId>,
    /// The newest conversation's file, read at boot.
    boot_read: Option<RequestId>,
    /// The listing for the conversations window.
    menu_list: Option<RequestId>,
    /// The files read for the conversations window.
    menu_read: Option<RequestId>,
    /// Writes in flight: what each one is.
    writes: Vec<(RequestId, Written)>,
}

/// What a write was.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Written {
    Settings,
    /// A configuration file that could not be read, kept beside the new one.
    Broken,
    Conversation(u32),
}

/// What the storage holds, as far as the application knows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Persist {
    pub(crate) pending: Pending,
    /// The conversation files (None until the folder was listed).
    pub(crate) files: Option<ChatFiles>,
    /// The conversations listed in the window, by file number.
    pub(crate) listed: Vec<(u32, SavedChat)>,
    /// The last failure told on screen, so the same one is not repeated after every reply.
    told: Option<String>,
}

/// At boot: list the chats folder to resume the newest conversation.
pub(crate) fn start(state: &mut State, fx: &mut Vec<Effect>) {
    let id = state.next_request();
    state.persist.pending.boot_list = Some(id);
    fx.push(Effect::ListDir { id, path: String::from(CHATS_DIR) });
}

/// Seconds since 1970 at `now`, if the clock is known.
pub(crate) fn unix_at(state: &State, now: Instant) -> Option<i64> {
    state.unix_at_boot.map(|base| base + (now.as_millis() / 1000) as i64)
}

/// A folder listing arrived.
pub(crate) fn on_dir(
    state: &mut State,
    id: RequestId,
    result: Result<Vec<(String, u64)>, String>,
    fx: &mut Vec<Effect>,
) {
    let p = &mut state.persist.pending;
    if p.boot_list == Some(id) {
        p.boot_list = None;
        match result {
            Ok(entries) => {
                let files = ChatFiles::from_names(entries.iter().map(|(name, _)| name.as_str()));
                fx.push(Effect::Log(Level::Info, format!("chats: {} saved conversations", files.len())));
                if let Some(newest) = files.newest() {
                    let id = state.next_request();
                    state.persist.pending.boot_read = Some(id);
                    fx.push(Effect::ReadFiles {
                        id,
                        paths: alloc::vec![saved::path_of(newest)],
                        limit: MAX_FILE_BYTES as u64,
                    });
                }
                state.persist.files = Some(files);
            }
            Err(why) => {
                fx.push(Effect::Log(Level::Warn, format!("chats: saved conversations unavailable: {why}")));
                state.persist.files = Some(ChatFiles::default());
            }
        }
    } else if p.menu_list == Some(id) {
        p.menu_list = None;
        match result {
            Ok(entries) => {
                let files = ChatFiles::from_names(entries.iter().map(|(name, _)| name.as_str()));
                let paths: Vec<String> = files.newest_first().map(saved::path_of).collect();
                state.persist.files = Some(files);
                if paths.is_empty() {
                    set_list_status(state, String::from("no saved conversations yet"));
                    return;
                }
                let id = state.next_request();
                state.persist.pending.menu_read = Some(id);
                fx.push(Effect::ReadFiles { id, paths, limit: MAX_FILE_BYTES as u64 });
            }
            Err(why) => set_list_status(state, format!("the saved conversations cannot be read: {why}")),
        }
    }
}

/// Files arrived.
pub(crate) fn on_files(
    state: &mut State,
    id: RequestId,
    files: Vec<(String, Result<Vec<u8>, String>)>,
    fx: &mut Vec<Effect>,
) {
    if state.persist.pending.boot_read == Some(id) {
        state.persist.pending.boot_read = None;
        let Some((path, result)) = files.into_iter().next() else { return };
        let number = path.rsplit('\\').next().and_then(saved::number_of);
        match result
            .map_err(|e| e.to_string())
            .and_then(|bytes| SavedChat::from_json(&bytes).map_err(|e| e.to_string()))
        {
            Ok(chat) => resume(state, number, chat, fx),
            Err(why) => {
                fx.push(Effect::Log(Level::Warn, format!("chats: {path}: {why}")));
                state.set_notice(format!("The last conversation could not be read: {why}."), NoticeKind::Warning);
            }
        }
    } else if state.persist.pending.menu_read == Some(id) {
        state.persist.pending.menu_read = None;
        let mut listed = Vec::new();
        let mut broken = 0;
        for (path, result) in files {
            let number = path.rsplit('\\').next().and_then(saved::number_of);
            match (
                number,
                result.map_err(|e| e.to_string()).and_then(|b| SavedChat::from_json(&b).map_err(|e| e.to_string())),
            ) {
                (Some(n), Ok(chat)) => listed.push((n, chat)),
                (_, Err(why)) => {
                    broken += 1;
                    fx.push(Effect::Log(Level::Warn, format!("chats: {path}: {why}")));
                }
                (None, Ok(_)) => {}
            }
        }
        state.persist.listed = listed;
        let status = match broken {
            0 => String::from("Enter opens, Delete removes, Esc closes; /rename TITLE renames the open one"),
            n => format!("{n} files could not be read (see the log); Enter opens, Delete removes"),
        };
        let choices = list_choices(state);
        if let Some(Overlay::Picker(picker)) = state.overlay.as_mut()
            && picker.kind == PickerKind::Conversation
        {
            picker.set_choices(choices, status);
        }
        state.touch();
    }
}

fn list_choices(state: &State) -> Vec<Choice> {
    let open = state.conversation().saved().file;
    state
        .persist
        .listed
        .iter()
        .map(|(n, chat)| Choice {
            label: if chat.title.is_empty() { format!("conversation {n}") } else { chat.title.clone() },
            detail: format!("{} \u{b7} {} turns", chat.model, chat.turns.len()),
            current: open == Some(*n),
            disabled: None,
        })
        .collect()
}

fn set_list_status(state: &mut State, status: String) {
    if let Some(Overlay::Picker(picker)) = state.overlay.as_mut()
        && picker.kind == PickerKind::Conversation
    {
        picker.set_choices(Vec::new(), status);
    }
    state.touch();
}

/// The newest conversation comes back at boot (unless the user already started another).
fn resume(state: &mut State, number: Option<u32>, chat: SavedChat, fx: &mut Vec<Effect>) {
    if !state.conversation().is_empty() || state.reply.is_some() {
        return;
    }
    let turns = chat.turns.len();
    let conversation = restored(state, number, chat);
    state.conversations[state.active] = conversation;
    state.apply_backend(fx);
    fx.push(Effect::Log(Level::Info, format!("chats: resumed the last conversation ({turns} turns)")));
    fx.push(Effect::Console(format!(
        "moteOS: the last conversation is back ({turns} turns); F9 or /new starts a new one\n"
    )));
    state
        .conversation_mut()
        .info("The last conversation, as it was left. F9 starts a new one; /chats lists the others.");
    state.touch();
}

fn restored(state: &State, number: Option<u32>, chat: SavedChat) -> Conversation {
    let meta = SavedMeta { file: number, title: Some(chat.title), created: chat.created };
    Conversation::restore(state.conversation().system().map(String::from), REMOTE_BUDGET, &chat.turns, meta)
}

/// After a completed or cut reply: the conversation goes to its file.
pub(crate) fn save_conversation(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let turns = SavedChat::turns_of(state.conversation());
    if turns.is_empty() {
        return;
    }
    let active = state.settings.active();
    let model = match state.settings.backend(active) {
        Backend::Remote { model, .. } => model,
        Backend::Local { name, .. } => name,
        Backend::Unavailable(_) => String::new(),
    };
    let unix = unix_at(state, now);
    let meta = state.conversation().saved().clone();
    let title = meta.title.clone().unwrap_or_else(|| saved::title_from(&turns[0].text));
    let created = meta.created.or(unix);
    let chat = SavedChat {
        format: 1,
        title: title.clone(),
        provider: String::from(active.as_str()),
        model,
        created,
        updated: unix,
        turns,
    };
    let files = state.persist.files.get_or_insert_with(ChatFiles::default);
    let plan = files.plan_save(meta.file);
    for old in &plan.remove {
        fx.push(Effect::RemoveFile { path: saved::path_of(*old) });
    }
    let bytes = chat.to_json();
    let id = state.next_request();
    state.persist.pending.writes.push((id, Written::Conversation(plan.number)));
    fx.push(Effect::Log(Level::Info, format!("chats: saving conversation {} ({} bytes)", plan.number, bytes.len())));
    fx.push(Effect::WriteFile { id, path: saved::path_of(plan.number), bytes });
    let m = state.conversation_mut().saved_mut();
    m.file = Some(plan.number);
    m.title = Some(title);
    m.created = created;
}

/// The settings changed: save them at once.
pub(crate) fn save_settings(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(config) = state.settings.config.as_ref() else { return };
    let text = config::write_back(state.config_text.as_deref(), config);
    state.config_text = Some(text.clone());
    let id = state.next_request();
    state.persist.pending.writes.push((id, Written::Settings));
    fx.push(Effect::SaveSettings { id, toml: Secret(text) });
}

/// The setup wizard replaces a configuration file that did not read: the old text is kept
/// as `config.toml.broken` beside it (it may hold settings worth copying back by hand).
pub(crate) fn keep_broken(state: &mut State, text: String, fx: &mut Vec<Effect>) {
    let id = state.next_request();
    state.persist.pending.writes.push((id, Written::Broken));
    fx.push(Effect::Log(
        Level::Info,
        format!("storage: keeping the unreadable settings as {}", crate::wizard::BROKEN_PATH),
    ));
    fx.push(Effect::WriteFile { id, path: String::from(crate::wizard::BROKEN_PATH), bytes: text.into_bytes() });
}

/// A write finished.
pub(crate) fn on_written(state: &mut State, id: RequestId, result: Result<String, String>, fx: &mut Vec<Effect>) {
    let Some(i) = state.persist.pending.writes.iter().position(|(w, _)| *w == id) else { return };
    let (_, what) = state.persist.pending.writes.remove(i);
    let name = match what {
        Written::Settings => String::from("settings"),
        Written::Broken => String::from("the unreadable config.toml"),
        Written::Conversation(n) => format!("conversation {n}"),
    };
    match result {
        Ok(place) => {
            fx.push(Effect::Log(Level::Info, format!("storage: {name} saved to {place}")));
            if let Some(warning) = place.strip_prefix("the EFI variable only: ") {
                tell(state, format!("Settings are kept in EFI variables only: {warning}."), fx);
            }
        }
        Err(why) => {
            fx.push(Effect::Log(Level::Warn, format!("storage: {name} not saved: {why}")));
            let text = match what {
                Written::Settings => {
                    format!("The settings were not saved: {why}. They stay in effect until power-off.")
                }
                Written::Broken => {
                    format!("The unreadable config.toml could not be kept as config.toml.broken: {why}.")
                }
                Written::Conversation(n) => {
                    if let Some(files) = state.persist.files.as_mut() {
                        files.forget(n);
                    }
                    for c in &mut state.conversations {
                        if c.saved().file == Some(n) {
                            c.saved_mut().file = None;
                        }
                    }
                    format!("This conversation is not saved: {why}. It stays on screen.")
                }
            };
            tell(state, text, fx);
        }
    }
}

/// A storage problem on screen, once per distinct sentence.
fn tell(state: &mut State, text: String, fx: &mut Vec<Effect>) {
    if state.persist.told.as_deref() == Some(text.as_str()) {
        return;
    }
    fx.push(Effect::Console(format!("moteOS: {text}\n")));
    state.persist.told = Some(text.clone());
    state.set_notice(text, NoticeKind::Warning);
}

/// `/chats`: the conversations window.
pub(crate) fn open_list(state: &mut State, fx: &mut Vec<Effect>) {
    let id = state.next_request();
    state.persist.pending.menu_list = Some(id);
    state.persist.listed.clear();
    state.overlay = Some(Overlay::Picker(Picker::new(
        PickerKind::Conversation,
        Vec::new(),
        String::from("reading the saved conversations\u{2026}"),
    )));
    fx.push(Effect::Log(Level::Info, String::from("screen: conversations")));
    fx.push(Effect::ListDir { id, path: String::from(CHATS_DIR) });
}

/// Enter in the conversations window: that conversation replaces the one on screen (which
/// is saved already).
pub(crate) fn open_listed(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let Some((n, chat)) = state.persist.listed.get(index).cloned() else { return };
    crate::update::stop_reply(
        state,
        "stopped: another conversation opened",
        "stopped: another conversation opened",
        fx,
    );
    state.overlay = None;
    let title = chat.title.clone();
    let conversation = restored(state, Some(n), chat);
    if state.conversation().is_empty() {
        state.conversations[state.active] = conversation;
    } else {
        state.conversations.push(conversation);
        state.active = state.conversations.len() - 1;
    }
    state.apply_backend(fx);
    state.scroll = tui::ui::Scroll::Follow;
    fx.push(Effect::Log(Level::Info, format!("chats: opened conversation {n}")));
    fx.push(Effect::Console(format!("\n--- {title} ---\n")));
    state.touch();
}

/// Delete in the conversations window.
pub(crate) fn delete_listed(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    if index >= state.persist.listed.len() {
        return;
    }
    let (n, _) = state.persist.listed.remove(index);
    if let Some(files) = state.persist.files.as_mut() {
        files.forget(n);
    }
    for c in &mut state.conversations {
        if c.saved().file == Some(n) {
            c.saved_mut().file = None;
        }
    }
    fx.push(Effect::RemoveFile { path: saved::path_of(n) });
    fx.push(Effect::Log(Level::Info, format!("chats: deleted conversation {n}")));
    let choices = list_choices(state);
    if let Some(Overlay::Picker(picker)) = state.overlay.as_mut() {
        let keep = picker.selected;
        picker.set_choices(choices, String::from("deleted; Enter opens, Delete removes, Esc closes"));
        picker.selected = keep.min(picker.visible().len().saturating_sub(1));
    }
    state.touch();
}

/// `/rename TITLE`: the open conversation's title (saved now if it has a file).
pub(crate) fn rename(state: &mut State, title: &str, now: Instant, fx: &mut Vec<Effect>) {
    let title = saved::clip(title.trim(), 60);
    state.conversation_mut().saved_mut().title = Some(title.clone());
    fx.push(Effect::Log(Level::Info, String::from("chats: renamed the conversation")));
    if state.reply.is_none() {
        save_conversation(state, now, fx);
    }
    state.conversation_mut().info(&format!("renamed: {title}"));
    state.touch();
}
