//! The reducer: an input and the current time in, the state changed and effects out.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hal::clock::Instant;
use hal::keys::{Key, KeyEvent};
use llm::{FinishReason, ReplyEvent};
use tui::ui::Scroll;

use crate::commands;
use crate::conversation::MAX_REPLY_BYTES;
use crate::io::{Effect, Input, Level, NetInfo, ReplyJob, RequestId, Target};
use crate::overlay::Overlay;
use crate::persist;
use crate::settings::{Backend, REMOTE_MAX_TOKENS};
use crate::state::{ActiveReply, NoticeKind, State};
use crate::wizard;

/// The longest local reply, in tokens.
const LOCAL_MAX_TOKENS: u32 = 400;
/// How much of a server-supplied note (a skipped event's name...) reaches the log.
const MAX_NOTE_CHARS: usize = 200;

/// Applies `input` at `now`; returns what the machine must do.
pub fn update(state: &mut State, input: Input, now: Instant) -> Vec<Effect> {
    let mut fx = Vec::new();
    if state.powering_off {
        return fx;
    }
    state.now = now;
    match input {
        Input::Key(key) => on_key(state, key, now, &mut fx),
        Input::Reply { id, event } => {
            if let Some(event) = wizard::take_reply(state, id, event, &mut fx) {
                on_reply(state, id, event, now, &mut fx);
            }
        }
        Input::Models { id, result } => {
            if let Some(result) = wizard::take_models(state, id, result, &mut fx) {
                commands::on_models(state, id, result, &mut fx);
            }
        }
        Input::Network(info) => {
            on_network(state, info);
            wizard::refresh(state);
        }
        Input::Notice(text) => {
            fx.push(Effect::Log(Level::Warn, format!("notice: {text}")));
            state.set_notice(text, NoticeKind::Warning);
        }
        Input::Screen { .. } => state.touch(),
        Input::Layout(geometry) => {
            state.geometry = geometry;
            if let Some(reply) = state.reply.as_mut()
                && reply.first_text.is_some()
                && reply.first_shown.is_none()
            {
                // The frame just drawn is the first with the reply's text on it.
                reply.first_shown = Some(now);
            }
        }
        Input::Tick => {}
        Input::Dir { id, result } => persist::on_dir(state, id, result, &mut fx),
        Input::Files { id, files } => persist::on_files(state, id, files, &mut fx),
        Input::Written { id, result } => persist::on_written(state, id, result, &mut fx),
    }
    fx
}

fn on_network(state: &mut State, info: NetInfo) {
    if state.net != info {
        state.net = info;
        state.touch();
    }
}

// ---- keys ----

fn on_key(state: &mut State, key: KeyEvent, now: Instant, fx: &mut Vec<Effect>) {
    let hidden = state.editor.is_masked() || matches!(&state.overlay, Some(Overlay::Wizard(w)) if w.typing_secret());
    fx.push(Effect::Log(
        Level::Trace,
        format!("key: {}", if hidden { String::from("(hidden)") } else { key.to_string() }),
    ));
    state.touch();
    if matches!(state.overlay, Some(Overlay::Wizard(_))) {
        wizard::on_key(state, key, fx);
        return;
    }
    if state.overlay.is_some() {
        commands::overlay_key(state, key, fx);
        return;
    }
    let m = key.modifiers;
    match key.key {
        Key::Char('c') if m.ctrl => {
            if state.reply.is_some() {
                stop_reply(state, "stopped (Ctrl+C)", "stopped by the user (Ctrl+C)", fx);
            } else {
                state.editor.clear();
            }
        }
        Key::Char('l') if m.ctrl => fx.push(Effect::Redraw),
        Key::Char('r') if m.ctrl => commands::retry(state, now, fx),
        Key::Char('u') if m.ctrl => {
            state.editor.delete_to_line_start();
        }
        Key::Char('w') if m.ctrl => {
            state.editor.delete_word_before();
        }
        Key::Char('a') if m.ctrl => {
            state.editor.home();
        }
        Key::Char('e') if m.ctrl => {
            state.editor.end();
        }
        Key::Char('j') if m.ctrl => {
            state.editor.insert('\n');
        }
        Key::Char(c) if !m.ctrl && !m.alt => {
            if !state.editor.insert(c) {
                state.set_notice(String::from("the message is as long as it can be (32 KiB)"), NoticeKind::Warning);
            }
        }
        Key::Tab if !m.ctrl && !m.alt => {
            state.editor.insert_str("    ");
        }
        Key::Enter if m.shift || m.alt => {
            state.editor.insert('\n');
        }
        Key::Enter if state.key_for.is_some() => commands::take_key(state, fx),
        Key::Escape if state.key_for.is_some() => commands::cancel_key(state, fx),
        Key::Enter => submit(state, now, fx),
        Key::Backspace if m.ctrl || m.alt => {
            state.editor.delete_word_before();
        }
        Key::Backspace => {
            state.editor.backspace();
        }
        Key::Delete => {
            state.editor.delete();
        }
        Key::Left if m.ctrl || m.alt => {
            state.editor.word_left();
        }
        Key::Right if m.ctrl || m.alt => {
            state.editor.word_right();
        }
        Key::Left => {
            state.editor.left();
        }
        Key::Right => {
            state.editor.right();
        }
        Key::Home if m.ctrl => state.scroll = Scroll::FromTop(0),
        Key::End if m.ctrl => state.scroll = Scroll::Follow,
        Key::Home => {
            state.editor.home();
        }
        Key::End => {
            state.editor.end();
        }
        Key::Up if state.editor.is_empty() || m.ctrl => scroll_by(state, -1),
        Key::Down if state.editor.is_empty() || m.ctrl => scroll_by(state, 1),
        Key::Up => {
            if !state.editor.up() {
                state.editor.history_back();
            }
        }
        Key::Down => {
            if !state.editor.down() {
                state.editor.history_forward();
            }
        }
        Key::PageUp => scroll_by(state, -page(state)),
        Key::PageDown => scroll_by(state, page(state)),
        Key::Escape => {
            if state.notice.is_some() {
                state.notice = None;
            } else {
                state.scroll = Scroll::Follow;
            }
        }
        Key::F(1) => commands::open_help(state, fx),
        Key::F(2) => commands::open_provider_picker(state, fx),
        Key::F(3) => commands::open_model_picker(state, fx),
        Key::F(4) => commands::open_settings(state, fx),
        Key::F(5) => persist::open_list(state, fx),
        Key::F(9) => commands::new_conversation(state, fx),
        Key::F(10) => {
            state.overlay = Some(Overlay::ConfirmPowerOff { yes_focused: false });
            fx.push(Effect::Log(Level::Info, String::from("screen: power off?")));
        }
        _ => {}
    }
}

/// A page of the transcript, in lines (what is visible, less one for context).
fn page(state: &State) -> i64 {
    i64::from(state.geometry.visible_lines.saturating_sub(1).max(1))
}

/// Scrolls the transcript by `delta` lines (negative: towards the start).
pub(crate) fn scroll_by(state: &mut State, delta: i64) {
    let g = state.geometry;
    let max_top = i64::from(g.content_lines.saturating_sub(g.visible_lines));
    let top = match state.scroll {
        Scroll::Follow => max_top,
        Scroll::FromTop(line) => i64::from(line).min(max_top),
    };
    let target = (top + delta).max(0);
    state.scroll = if target >= max_top { Scroll::Follow } else { Scroll::FromTop(target as u32) };
}

// ---- sending ----

fn submit(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let text = state.editor.text();
    if text.trim().is_empty() {
        return;
    }
    if text.trim_start().starts_with('/') {
        let line = state.editor.take();
        fx.push(Effect::Console(format!("\nyou: {}\n", line.trim())));
        commands::run(state, line.trim(), now, fx);
        return;
    }
    if state.reply.is_some() {
        state.set_notice(
            String::from("a reply is still arriving: wait for it or press Ctrl+C to stop it"),
            NoticeKind::Warning,
        );
        return;
    }
    let line = state.editor.take();
    fx.push(Effect::Console(format!("\nyou: {}\n", line.trim())));
    fx.push(Effect::Log(Level::Trace, format!("line: {line}")));
    state.notice = None;
    state.scroll = Scroll::Follow;
    let active = state.settings.active();
    if let Backend::Unavailable(why) = state.settings.backend(active) {
        // Nothing can answer until the settings change: keep the words on screen,
        // marked as not sent, rather than in the way of the next message.
        state.conversation_mut().record_unsent(&line);
        fx.push(Effect::Console(format!("moteOS: {why}\n")));
        fx.push(Effect::Log(Level::Warn, format!("chat: error: {why}")));
        state.set_notice(why, NoticeKind::Error);
        return;
    }
    match state.conversation_mut().submit(&line) {
        Ok(()) => start_reply(state, now, fx),
        Err(why) => state.set_notice(why.to_string(), NoticeKind::Warning),
    }
}

/// Starts the reply the active conversation awaits.
pub(crate) fn start_reply(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let active = state.settings.active();
    let config = state.settings.config.as_ref();
    let (temperature, asked_max) = match config {
        Some(c) if active == llm::ProviderId::OpenAiCompatible => {
            c.providers.openai_compatible.as_ref().map_or((None, None), |p| (p.temperature, p.max_tokens))
        }
        Some(c) => c.providers.cloud(active).map_or((None, None), |p| (p.temperature, p.max_tokens)),
        None => (None, None),
    };
    let sampling = config.map_or(config::LocalSampling::DEFAULT, |c| c.local_sampling());
    let (target, max_tokens) = match state.settings.backend(active) {
        Backend::Remote { provider, model } => {
            (Target::Remote { provider, model }, asked_max.unwrap_or(REMOTE_MAX_TOKENS))
        }
        Backend::Local { .. } => (Target::Local, LOCAL_MAX_TOKENS),
        Backend::Unavailable(why) => {
            state.conversation_mut().cancel(&why);
            state.set_notice(why, NoticeKind::Error);
            return;
        }
    };
    let target_kind = if matches!(target, Target::Local) { TargetKind::Local } else { TargetKind::Remote };
    let id = state.next_request();
    let conversation = state.conversation();
    let job = ReplyJob {
        id,
        system: conversation.system().map(String::from),
        messages: conversation.request_messages(),
        target,
        max_tokens,
        temperature: if matches!(target_kind, TargetKind::Remote) { temperature } else { Some(sampling.temperature) },
        sampling,
    };
    state.reply = Some(ActiveReply {
        id,
        local: matches!(job.target, Target::Local),
        started: now,
        first_text: None,
        first_shown: None,
        text_bytes: 0,
        input_tokens: None,
        output_tokens: None,
        console_open: false,
        skipped: Vec::new(),
    });
    state.speed.clear();
    fx.push(Effect::StartReply(job));
}

/// Stops the reply in progress (Ctrl+C, a new conversation, power off): `note` goes in the
/// transcript, `why` in the log.
pub(crate) fn stop_reply(state: &mut State, note: &str, why: &str, fx: &mut Vec<Effect>) {
    let Some(reply) = state.reply.take() else { return };
    fx.push(Effect::CancelReply(reply.id));
    if reply.console_open {
        fx.push(Effect::Console(String::from("\n")));
    }
    fx.push(Effect::Log(Level::Info, format!("chat: reply {why}")));
    state.conversation_mut().stop(note);
    let now = state.now;
    persist::save_conversation(state, now, fx);
}

// ---- replies ----

fn on_reply(state: &mut State, id: RequestId, event: ReplyEvent, now: Instant, fx: &mut Vec<Effect>) {
    let Some(reply) = state.reply.as_mut().filter(|r| r.id == id) else {
        // A reply that was stopped or replaced: its late events mean nothing now.
        return;
    };
    match &event {
        ReplyEvent::Text(text) => {
            if reply.first_text.is_none() {
                reply.first_text = Some(now);
                fx.push(Effect::Log(
                    Level::Info,
                    format!("chat: first text after {} ms", ms_between(reply.started, now)),
                ));
                fx.push(Effect::Console(String::from("assistant: ")));
                reply.console_open = true;
            }
            let room = MAX_REPLY_BYTES.saturating_sub(reply.text_bytes);
            if text.len() > room {
                let mut cut = room;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                let kept = String::from(&text[..cut]);
                reply.text_bytes += kept.len();
                fx.push(Effect::Console(console_safe(&kept)));
                state.conversation_mut().on_reply(&ReplyEvent::Text(kept));
                truncate(state, fx);
                return;
            }
            reply.text_bytes += text.len();
            fx.push(Effect::Console(console_safe(text)));
            if !reply.local {
                // An estimate while the reply streams; the provider's count replaces it.
                let secs = ms_between(reply.first_text.unwrap_or(now), now) as f32 / 1000.0;
                let tokens = reply.text_bytes as f32 / 4.0;
                if secs > 0.5 {
                    state.speed = format!("{:.0} tok/s", tokens / secs);
                }
            }
        }
        ReplyEvent::Usage(usage) => {
            reply.input_tokens = usage.input_tokens.or(reply.input_tokens);
            reply.output_tokens = usage.output_tokens.or(reply.output_tokens);
            if reply.local
                && let (Some(first), Some(out)) = (reply.first_text, reply.output_tokens)
            {
                let secs = ms_between(first, now) as f32 / 1000.0;
                if secs > 0.0 && out > 1 {
                    state.speed = format!("{:.1} tok/s", (out - 1) as f32 / secs);
                }
            }
        }
        ReplyEvent::Prompt { done, total } => {
            state.speed = format!("reading {done}/{total}");
        }
        ReplyEvent::Skipped(what) => {
            let mut note: String = what.chars().take(MAX_NOTE_CHARS).collect();
            if note.len() < what.len() {
                note.push('\u{2026}');
            }
            if reply.skipped.len() < 16 {
                reply.skipped.push(note);
            }
        }
        ReplyEvent::Finished(reason) => {
            finish(state, Some(reason), now, fx);
        }
        ReplyEvent::Failed(error) => {
            let text = error.to_string();
            fx.push(Effect::Log(Level::Warn, format!("chat: error: {text}")));
            finish(state, None, now, fx);
            fx.push(Effect::Console(format!("moteOS: {text}\n")));
            state.set_notice(text, NoticeKind::Error);
        }
    }
    state.conversation_mut().on_reply(&event);
    if matches!(event, ReplyEvent::Finished(_) | ReplyEvent::Failed(_)) {
        persist::save_conversation(state, now, fx);
    }
    state.touch();
}

/// The reply grew past the cap: stop it and say so.
fn truncate(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(reply) = state.reply.take() {
        fx.push(Effect::CancelReply(reply.id));
        if reply.console_open {
            fx.push(Effect::Console(String::from("\n")));
        }
    }
    let note = format!("reply truncated: it passed {} KiB", MAX_REPLY_BYTES / 1024);
    fx.push(Effect::Log(Level::Warn, format!("chat: {note}")));
    state.conversation_mut().truncate_reply(&note);
    let now = state.now;
    persist::save_conversation(state, now, fx);
    state.touch();
}

/// Ends the reply: the console line, the log summary, the speed.
fn finish(state: &mut State, reason: Option<&FinishReason>, now: Instant, fx: &mut Vec<Effect>) {
    let Some(reply) = state.reply.take() else { return };
    if reply.console_open {
        fx.push(Effect::Console(String::from("\n")));
    }
    for what in &reply.skipped {
        fx.push(Effect::Log(Level::Warn, format!("chat: skipped {what}")));
    }
    let Some(reason) = reason else { return };
    let total = ms_between(reply.started, now);
    let first = reply.first_text.map_or(0, |t| ms_between(reply.started, t));
    let shown = reply.first_shown.map_or(String::from("?"), |t| format!("{}", ms_between(reply.started, t)));
    let streamed = reply.first_text.map_or(0, |t| ms_between(t, now));
    if let Some(tokens) = reply.output_tokens
        && streamed > 0
    {
        state.speed = if reply.local {
            format!("{:.1} tok/s", f64::from(tokens.saturating_sub(1)) * 1000.0 / streamed as f64)
        } else {
            format!("{} tok/s", u64::from(tokens) * 1000 / streamed)
        };
    }
    fx.push(Effect::Log(
        Level::Info,
        format!(
            "chat: reply complete ({}): {} bytes, {} tokens, first text after {first} ms (on screen after {shown} ms), {total} ms in all",
            reason.as_str(),
            reply.text_bytes,
            reply.output_tokens.map_or(String::from("?"), |t| format!("{t}")),
        ),
    ));
    if reply.local {
        let prompt = reply.input_tokens.unwrap_or(0);
        let generated = reply.output_tokens.unwrap_or(0);
        let prompt_rate = if first > 0 { f64::from(prompt) * 1000.0 / first as f64 } else { 0.0 };
        let gen_rate =
            if streamed > 0 { f64::from(generated.saturating_sub(1)) * 1000.0 / streamed as f64 } else { 0.0 };
        fx.push(Effect::Log(
            Level::Info,
            format!(
                "chat: local model: {prompt} prompt tokens at {prompt_rate:.1} tok/s, {generated} generated at {gen_rate:.1} tok/s"
            ),
        ));
    }
}

/// Text as it may go to a terminal: no control characters but line breaks and tabs.
fn console_safe(text: &str) -> String {
    text.chars().filter(|&c| !c.is_control() || c == '\n' || c == '\t').collect()
}

fn ms_between(from: Instant, to: Instant) -> u64 {
    to.as_millis().saturating_sub(from.as_millis())
}

/// Which kind of target a reply goes to (for the sampling settings that apply).
enum TargetKind {
    Remote,
    Local,
}
