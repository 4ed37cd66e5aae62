//! The reducer, key by key and command by command: what changes in the state, what is
//! sent, written to the console and logged.

mod common;

use app::{Effect, Input, LocalModel, NoticeKind, Overlay, PickerKind, Target};
use common::Harness;
use hal::keys::{Key, Modifiers};
use llm::{ErrorKind, FinishReason, LlmError, Message, ProviderId, ReplyEvent};
use tui::ui::Scroll;

fn started(fx: &[Effect]) -> Option<&app::ReplyJob> {
    fx.iter().find_map(|e| match e {
        Effect::StartReply(job) => Some(job),
        _ => None,
    })
}

#[test]
fn enter_sends_and_shift_enter_adds_a_line() {
    let mut h = Harness::new();
    h.type_text("first line");
    h.chord(Key::Enter, Modifiers::SHIFT);
    h.type_text("second line");
    let fx = h.key(Key::Enter);
    let job = started(&fx).expect("Enter sends");
    assert_eq!(job.messages, [Message::user("first line\nsecond line")]);
    match &job.target {
        Target::Remote { provider, model } => {
            assert_eq!(provider.id(), ProviderId::Anthropic);
            assert_eq!(model, "claude-sonnet-4-5");
        }
        Target::Local => panic!("remote expected"),
    }
    assert!(h.state.editor().is_empty());
    assert!(h.console().contains("you: first line\nsecond line"));
    // Ctrl+Enter sends too.
    h.answer(job.id, "ok");
    h.type_text("again");
    assert!(started(&h.chord(Key::Enter, Modifiers::CTRL)).is_some());
}

#[test]
fn a_reply_streams_to_the_console_and_the_log_sums_it_up() {
    let mut h = Harness::new();
    let job = h.send("hello").unwrap();
    h.reply(job.id, ReplyEvent::Text("Hi ".into()));
    h.reply(job.id, ReplyEvent::Text("there\u{1b}[2J".into()));
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    assert!(h.console().contains("assistant: Hi there[2J\n"), "{:?}", h.console());
    assert!(h.log().iter().any(|l| l.starts_with("chat: reply complete (stop): ")));
    assert!(!h.state.is_replying());
    assert_eq!(h.state.conversation().transcript()[1].text, "Hi there[2J");
}

#[test]
fn ctrl_c_stops_a_reply_and_keeps_its_text() {
    let mut h = Harness::new();
    let job = h.send("tell me a story").unwrap();
    h.reply(job.id, ReplyEvent::Text("Once upon".into()));
    let fx = h.ctrl('c');
    assert!(fx.iter().any(|e| matches!(e, Effect::CancelReply(id) if *id == job.id)));
    assert!(h.log().iter().any(|l| l == "chat: reply stopped by the user (Ctrl+C)"));
    assert_eq!(h.state.conversation().transcript()[1].state, app::EntryState::Cut);
    // Events that were on their way are ignored.
    h.reply(job.id, ReplyEvent::Text(" a time".into()));
    assert_eq!(h.state.conversation().transcript()[1].text, "Once upon");
    // Without a reply Ctrl+C clears the input.
    h.type_text("draft");
    h.ctrl('c');
    assert!(h.state.editor().is_empty());
}

#[test]
fn a_second_message_waits_for_the_reply() {
    let mut h = Harness::new();
    let job = h.send("one").unwrap();
    h.type_text("two");
    assert!(started(&h.key(Key::Enter)).is_none());
    assert_eq!(h.state.editor().text(), "two", "the words stay in the input");
    assert_eq!(h.state.notice().map(|n| n.1), Some(NoticeKind::Warning));
    h.answer(job.id, "done");
    assert!(started(&h.key(Key::Enter)).is_some());
}

#[test]
fn errors_are_shown_and_the_question_is_kept_but_not_resent() {
    let mut h = Harness::new();
    let job = h.send("first").unwrap();
    h.reply(job.id, ReplyEvent::Failed(LlmError::from_status("Anthropic", 401, None, "invalid x-api-key")));
    let (text, kind) = h.state.notice().unwrap();
    assert_eq!(kind, NoticeKind::Error);
    assert!(text.contains("API key"), "{text}");
    assert!(h.log().iter().any(|l| l.starts_with("chat: error: ")));
    let job = h.send("second").unwrap();
    assert_eq!(job.messages, [Message::user("second")]);
}

#[test]
fn ctrl_r_asks_again() {
    let mut h = Harness::new();
    h.exchange("q1", "a1");
    let job = h.send("q2").unwrap();
    h.answer(job.id, "a bad answer");
    let fx = h.ctrl('r');
    let again = started(&fx).expect("Ctrl+R starts a reply");
    assert_eq!(again.messages, [Message::user("q1"), Message::assistant("a1"), Message::user("q2")]);
    assert_eq!(h.state.conversation().transcript().len(), 4, "the old answer is replaced");
    // /retry is the same.
    h.answer(again.id, "better");
    h.type_text("/retry");
    assert!(started(&h.key(Key::Enter)).is_some());
}

#[test]
fn a_reply_past_the_cap_is_cut_and_marked() {
    let mut h = Harness::new();
    let job = h.send("endless").unwrap();
    let piece = "x".repeat(64 * 1024);
    let mut cancelled = false;
    for _ in 0..10 {
        let fx = h.reply(job.id, ReplyEvent::Text(piece.clone()));
        cancelled |= fx.iter().any(|e| matches!(e, Effect::CancelReply(id) if *id == job.id));
    }
    assert!(cancelled, "the source is stopped");
    let entries = h.state.conversation().transcript();
    assert_eq!(entries[1].text.len(), app::MAX_REPLY_BYTES);
    assert_eq!(entries[1].state, app::EntryState::Cut);
    assert!(entries[2].text.contains("reply truncated"));
    assert!(!h.state.is_replying());
}

#[test]
fn editing_keys() {
    let mut h = Harness::new();
    h.type_text("one two three");
    h.chord(Key::Left, Modifiers::CTRL);
    h.type_text("big ");
    assert_eq!(h.state.editor().text(), "one two big three");
    h.key(Key::End);
    h.ctrl('w');
    assert_eq!(h.state.editor().text(), "one two big ");
    h.key(Key::Home);
    h.key(Key::Delete);
    assert_eq!(h.state.editor().text(), "ne two big ");
    h.key(Key::End);
    h.ctrl('u');
    assert!(h.state.editor().is_empty());
    // History: Up on the first line recalls the last message.
    h.exchange("remember me", "ok");
    h.type_text("x");
    h.key(Key::Backspace);
    h.type_text("y");
    h.key(Key::Up);
    assert_eq!(h.state.editor().text(), "remember me");
    h.key(Key::Down);
    assert_eq!(h.state.editor().text(), "y");
}

#[test]
fn scrolling_keys() {
    let mut h = Harness::new();
    for i in 0..30 {
        h.exchange(&format!("question {i}"), &"word ".repeat(80));
    }
    h.render(800, 600);
    assert_eq!(h.state.scroll(), Scroll::Follow);
    h.key(Key::PageUp);
    let Scroll::FromTop(top) = h.state.scroll() else { panic!("PgUp scrolls") };
    h.key(Key::Up);
    assert_eq!(h.state.scroll(), Scroll::FromTop(top - 1), "Up scrolls a line when the input is empty");
    h.chord(Key::Home, Modifiers::CTRL);
    assert_eq!(h.state.scroll(), Scroll::FromTop(0));
    h.key(Key::PageDown);
    assert!(matches!(h.state.scroll(), Scroll::FromTop(t) if t > 0));
    h.chord(Key::End, Modifiers::CTRL);
    assert_eq!(h.state.scroll(), Scroll::Follow);
    h.key(Key::PageUp);
    h.key(Key::Escape);
    assert_eq!(h.state.scroll(), Scroll::Follow, "Esc goes back to the newest text");
    // Sending follows the new reply again.
    h.key(Key::PageUp);
    h.send("new").unwrap();
    assert_eq!(h.state.scroll(), Scroll::Follow);
}

#[test]
fn function_keys_open_their_windows() {
    let mut h = Harness::new();
    h.key(Key::F(1));
    assert_eq!(h.state.overlay(), Some(&Overlay::Help));
    h.key(Key::Escape);
    assert_eq!(h.state.overlay(), None);
    h.key(Key::F(2));
    let Some(Overlay::Picker(p)) = h.state.overlay() else { panic!() };
    assert_eq!(p.kind, PickerKind::Provider);
    assert_eq!(p.choices.len(), 6);
    assert!(p.choices.iter().find(|c| c.label == "Groq").unwrap().disabled.is_some(), "Groq is not set up");
    h.key(Key::Escape);
    let fx = h.key(Key::F(3));
    assert!(fx.iter().any(|e| matches!(e, Effect::FetchModels { .. })), "F3 asks for the live list");
    h.key(Key::Escape);
    h.key(Key::F(10));
    assert!(matches!(h.state.overlay(), Some(Overlay::ConfirmPowerOff { yes_focused: false })));
    assert!(!h.key(Key::Enter).iter().any(|e| matches!(e, Effect::PowerOff)), "Enter on Cancel cancels");
    h.key(Key::F(10));
    h.key(Key::Left);
    assert!(h.key(Key::Enter).iter().any(|e| matches!(e, Effect::PowerOff)));
}

#[test]
fn the_provider_picker_switches_and_keeps_the_conversation() {
    let mut h = Harness::new();
    h.exchange("hello", "hi");
    h.key(Key::F(2));
    h.type_text("compat");
    h.key(Key::Enter);
    assert_eq!(h.state.settings().active(), ProviderId::OpenAiCompatible);
    let job = h.send("still there?").unwrap();
    assert_eq!(job.messages.len(), 3, "the conversation carries on");
    match &job.target {
        Target::Remote { provider, model } => {
            assert_eq!(provider.id(), ProviderId::OpenAiCompatible);
            assert_eq!(model, "llama3.2");
        }
        Target::Local => panic!(),
    }
    // A provider that is not set up is refused with a reason.
    h.answer(job.id, "yes");
    h.type_text("/provider groq");
    h.key(Key::Enter);
    assert_eq!(h.state.settings().active(), ProviderId::OpenAiCompatible);
    assert!(h.state.notice().unwrap().0.contains("groq"));
}

#[test]
fn the_model_picker_uses_the_live_list_or_falls_back() {
    let mut h = Harness::new();
    let fx = h.key(Key::F(3));
    let id = fx.iter().find_map(|e| if let Effect::FetchModels { id, .. } = e { Some(*id) } else { None }).unwrap();
    h.input(Input::Models { id, result: Err("HTTP 503".into()) });
    let Some(Overlay::Picker(p)) = h.state.overlay() else { panic!() };
    assert!(p.status.contains("HTTP 503"));
    assert!(p.choices.iter().any(|c| c.label == "claude-opus-4-1"), "built-in list");
    h.type_text("opus");
    h.key(Key::Enter);
    let job = h.send("hi").unwrap();
    assert!(matches!(&job.target, Target::Remote { model, .. } if model == "claude-opus-4-1"));
    // /model NAME sets it directly; a late list for a closed picker is ignored.
    h.answer(job.id, "hello");
    h.type_text("/model claude-haiku-4-5");
    h.key(Key::Enter);
    let job = h.send("hi").unwrap();
    assert!(matches!(&job.target, Target::Remote { model, .. } if model == "claude-haiku-4-5"));
}

#[test]
fn slash_commands_on_the_console() {
    let mut h = Harness::new();
    h.type_text("/help");
    h.key(Key::Enter);
    assert!(h.console().contains("/provider NAME"));
    h.key(Key::Escape);
    let fx = {
        h.type_text("/models");
        h.key(Key::Enter)
    };
    let id = fx.iter().find_map(|e| if let Effect::FetchModels { id, .. } = e { Some(*id) } else { None }).unwrap();
    h.input(Input::Models { id, result: Ok(vec!["m1".into(), "m2".into()]) });
    assert!(h.console().contains("models: m1, m2 (using claude-sonnet-4-5)"), "{}", h.console());
    h.type_text("/nonsense");
    h.key(Key::Enter);
    assert!(h.state.notice().unwrap().0.contains("unknown command /nonsense"));
    h.type_text("/new");
    h.key(Key::Enter);
    h.type_text("/theme light");
    h.key(Key::Enter);
    assert_eq!(h.state.theme(), tui::ui::ThemeId::Light);
    h.type_text("/off");
    assert!(h.key(Key::Enter).iter().any(|e| matches!(e, Effect::PowerOff)));
}

#[test]
fn a_new_conversation_starts_empty_and_stops_a_reply() {
    let mut h = Harness::new();
    h.exchange("one", "1");
    let job = h.send("two").unwrap();
    let fx = h.key(Key::F(9));
    assert!(fx.iter().any(|e| matches!(e, Effect::CancelReply(id) if *id == job.id)));
    assert!(h.state.conversation().is_empty());
    let job = h.send("fresh").unwrap();
    assert_eq!(job.messages, [Message::user("fresh")]);
}

#[test]
fn without_a_provider_words_stay_unsent() {
    let mut h = Harness::with(None, LocalModel::Missing);
    // Nothing is set up: the setup wizard opens; closed, the chat says what is missing.
    assert!(matches!(h.state.overlay(), Some(app::Overlay::Wizard(_))));
    h.key(Key::Escape);
    assert!(h.state.overlay().is_none());
    assert!(h.state.notice().unwrap().0.contains("no provider is set up"));
    h.type_text("hello?");
    assert!(started(&h.key(Key::Enter)).is_none());
    assert_eq!(h.state.conversation().transcript()[0].state, app::EntryState::NotSent);
    assert!(h.console().contains("moteOS: no provider is set up"));
}

#[test]
fn the_local_model_answers_when_nothing_else_is_set_up() {
    let mut h = Harness::with(None, LocalModel::Ready { name: "SmolLM2".into(), context: 2048 });
    let job = h.send("hi").unwrap();
    assert!(matches!(job.target, Target::Local));
    assert!(h.state.local_busy());
    h.reply(job.id, ReplyEvent::Prompt { done: 4, total: 8 });
    h.reply(job.id, ReplyEvent::Text("Hello".into()));
    h.reply(job.id, ReplyEvent::Usage(llm::Usage { input_tokens: Some(8), output_tokens: Some(3) }));
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    assert!(h.log().iter().any(|l| l.starts_with("chat: local model: 8 prompt tokens at ")));
    let job = h.send("bye").unwrap();
    h.reply(job.id, ReplyEvent::Failed(LlmError::new("the local model", ErrorKind::EmptyReply, None, "it stopped")));
    assert!(!h.state.local_busy());
}

#[test]
fn typed_text_and_secrets_never_reach_the_log_above_trace() {
    let mut h = Harness::new();
    h.exchange("my secret plan", "ok");
    for effect in &h.effects {
        if let Effect::Log(level, line) = effect
            && *level != app::Level::Trace
        {
            assert!(!line.contains("secret plan"), "{line}");
        }
        if let Effect::StartReply(job) = effect {
            assert!(!format!("{job:?}").contains("sk-ant-test-key"), "{job:?}");
            assert!(!format!("{job:?}").contains("secret plan"), "{job:?}");
        }
    }
}

#[test]
fn nothing_breaks_on_odd_input() {
    let mut h = Harness::new();
    let job = h.send(&"x".repeat(10_000)).unwrap();
    h.reply(job.id, ReplyEvent::Text("\u{0}\u{7}\u{1b}[31m\u{fffd}\u{fffd}".into()));
    h.reply(job.id, ReplyEvent::Text("a".repeat(100_000)));
    h.reply(job.id, ReplyEvent::Skipped("y".repeat(1 << 20)));
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    let long = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log(level, line) if *level != app::Level::Trace => Some(line.len()),
            _ => None,
        })
        .max()
        .unwrap();
    assert!(long < 1024, "a server's note is capped in the log ({long} bytes)");
    for (w, hh) in [(640, 480), (1024, 768), (1920, 1080)] {
        h.render(w, hh);
    }
    for key in [Key::F(12), Key::Insert, Key::Tab, Key::PageDown, Key::F(1), Key::Char('x'), Key::Escape] {
        h.key(key);
        h.render(1024, 768);
    }
}
