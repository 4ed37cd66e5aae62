//! What survives a reboot: conversations saved after every reply and resumed at boot, the
//! conversations window, settings saved after every change, and API keys kept off the
//! screen, the console and the log.

mod common;

use app::saved::{SavedChat, path_of};
use app::{Effect, Input, Overlay, PickerKind, RequestId};
use common::Harness;
use hal::keys::Key;
use llm::{Message, ProviderId, ReplyEvent};

fn list_request(fx: &[Effect]) -> Option<RequestId> {
    fx.iter().find_map(|e| match e {
        Effect::ListDir { id, path } if path == "\\moteos\\chats" => Some(*id),
        _ => None,
    })
}

fn read_request(fx: &[Effect]) -> Option<(RequestId, Vec<String>)> {
    fx.iter().find_map(|e| match e {
        Effect::ReadFiles { id, paths, .. } => Some((*id, paths.clone())),
        _ => None,
    })
}

fn writes(fx: &[Effect]) -> Vec<(RequestId, String, Vec<u8>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::WriteFile { id, path, bytes } => Some((*id, path.clone(), bytes.clone())),
            _ => None,
        })
        .collect()
}

fn settings_saved(fx: &[Effect]) -> Option<String> {
    fx.iter().find_map(|e| match e {
        Effect::SaveSettings { toml, .. } => Some(toml.0.clone()),
        _ => None,
    })
}

fn saved_json(turns: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from(
        r#"{"format":1,"title":"Lyon trip","provider":"anthropic","model":"claude-sonnet-4-5","created":1780000000,"updated":null,"turns":["#,
    );
    for (i, (role, said)) in turns.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(r#"{{"role":"{role}","text":"{said}"}}"#));
    }
    text.push_str("]}");
    text.into_bytes()
}

/// A harness whose boot found `names` in the chats folder.
fn booted_with(names: &[&str]) -> (Harness, Vec<Effect>) {
    let mut h = Harness::new();
    let id = list_request(&h.effects).expect("the chats folder is listed at boot");
    let entries = names.iter().map(|n| (String::from(*n), 100)).collect();
    let fx = h.input(Input::Dir { id, result: Ok(entries) });
    (h, fx)
}

#[test]
fn the_newest_conversation_is_resumed_at_boot_and_carried_in_the_next_request() {
    let (mut h, fx) = booted_with(&["00000002.json", "00000010.json", "00000010.json.bak", "notes.txt"]);
    let (id, paths) = read_request(&fx).expect("the newest file is read");
    assert_eq!(paths, [path_of(10)]);
    let bytes = saved_json(&[("user", "Where is Lyon?"), ("assistant", "In France.")]);
    h.input(Input::Files { id, files: vec![(path_of(10), Ok(bytes))] });
    assert_eq!(h.state.conversation().transcript().len(), 3, "two turns and a line saying it is back");
    assert!(h.console().contains("the last conversation is back (2 turns)"));

    let job = h.send("And Paris?").expect("a reply starts");
    assert_eq!(
        job.messages,
        [Message::user("Where is Lyon?"), Message::assistant("In France."), Message::user("And Paris?")]
    );
    let fx = h.reply(job.id, ReplyEvent::Text("Also France.".into()));
    assert!(writes(&fx).is_empty(), "nothing is saved while the reply streams");
    let fx = h.reply(job.id, ReplyEvent::Finished(llm::FinishReason::Stop));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].1, path_of(10), "the newest conversation keeps its file");
    let saved = SavedChat::from_json(&w[0].2).unwrap();
    assert_eq!(saved.title, "Lyon trip");
    assert_eq!(saved.turns.len(), 4);
    assert_eq!(saved.turns[3].text, "Also France.");
}

#[test]
fn a_broken_conversation_file_is_a_notice_and_the_chat_starts_empty() {
    let (mut h, fx) = booted_with(&["00000001.json"]);
    let (id, _) = read_request(&fx).unwrap();
    h.input(Input::Files { id, files: vec![(path_of(1), Ok(b"{not json".to_vec()))] });
    let (text, _) = h.state.notice().expect("a notice");
    assert!(
        text.starts_with("The last conversation could not be read: the file is not a saved conversation"),
        "{text}"
    );
    assert!(h.state.conversation().is_empty());
    // Nothing is lost: the next conversation is saved under a new number.
    h.exchange("hi", "hello");
    let w = writes(&h.effects);
    assert_eq!(w.last().unwrap().1, path_of(2));
}

#[test]
fn every_reply_saves_and_a_failed_save_says_so_once_and_keeps_the_chat() {
    let (mut h, _) = booted_with(&[]);
    let job = h.send("first").unwrap();
    h.answer(job.id, "one");
    let w = writes(&h.effects);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].1, path_of(1));
    let saved = SavedChat::from_json(&w[0].2).unwrap();
    assert_eq!(saved.title, "first");
    assert_eq!(saved.provider, "anthropic");
    assert_eq!(saved.created, Some(1_780_000_001), "boot clock plus the harness's second");
    h.input(Input::Written { id: w[0].0, result: Err(String::from("the disk is full")) });
    let (text, _) = h.state.notice().unwrap();
    assert_eq!(text, "This conversation is not saved: the disk is full. It stays on screen.");
    assert_eq!(h.state.conversation().transcript().len(), 2);

    // A cut reply (Ctrl+C) is saved too, marked.
    let job = h.send("second").unwrap();
    h.reply(job.id, ReplyEvent::Text("partial".into()));
    h.ctrl('c');
    let w = writes(&h.effects);
    let saved = SavedChat::from_json(&w.last().unwrap().2).unwrap();
    assert!(saved.turns.last().unwrap().cut);
    h.input(Input::Written { id: w.last().unwrap().0, result: Err(String::from("the disk is full")) });
    let told = h.console().matches("This conversation is not saved").count();
    assert_eq!(told, 1, "the same failure is told once");
}

#[test]
fn the_conversations_window_opens_and_deletes() {
    let (mut h, _) = booted_with(&[]);
    let fx = h.key(Key::F(5));
    let id = list_request(&fx).expect("F5 lists the folder");
    assert!(h.log().iter().any(|l| l == "screen: conversations"));
    let fx = h.input(Input::Dir { id, result: Ok(vec![("00000003.json".into(), 10), ("00000007.json".into(), 10)]) });
    let (id, paths) = read_request(&fx).unwrap();
    assert_eq!(paths, [path_of(7), path_of(3)], "newest first");
    h.input(Input::Files {
        id,
        files: vec![
            (path_of(7), Ok(saved_json(&[("user", "seven"), ("assistant", "7")]))),
            (path_of(3), Err(String::from("the FAT is damaged"))),
        ],
    });
    let Some(Overlay::Picker(picker)) = h.state.overlay() else { panic!("the window is open") };
    assert_eq!(picker.kind, PickerKind::Conversation);
    assert_eq!(picker.choices.len(), 1);
    assert!(picker.status.starts_with("1 files could not be read"));
    let fx = h.key(Key::Delete);
    assert!(fx.iter().any(|e| matches!(e, Effect::RemoveFile { path } if *path == path_of(7))));
    h.key(Key::Escape);
    assert!(h.state.overlay().is_none());
}

#[test]
fn opening_a_listed_conversation_continues_it_under_the_newest_number() {
    let (mut h, _) = booted_with(&["00000004.json", "00000009.json"]);
    let id = list_request(&h.key(Key::F(5))).unwrap();
    let fx = h.input(Input::Dir { id, result: Ok(vec![("00000004.json".into(), 10), ("00000009.json".into(), 10)]) });
    let (id, _) = read_request(&fx).unwrap();
    h.input(Input::Files {
        id,
        files: vec![
            (path_of(9), Ok(saved_json(&[("user", "nine"), ("assistant", "9")]))),
            (path_of(4), Ok(saved_json(&[("user", "four"), ("assistant", "4")]))),
        ],
    });
    h.key(Key::Down);
    h.key(Key::Enter);
    assert!(h.state.overlay().is_none());
    let job = h.send("more").unwrap();
    assert_eq!(job.messages[0], Message::user("four"));
    h.answer(job.id, "ok");
    let w = writes(&h.effects);
    assert_eq!(w.last().unwrap().1, path_of(10), "continued: it becomes the newest");
    assert!(h.effects.iter().any(|e| matches!(e, Effect::RemoveFile { path } if *path == path_of(4))));
}

#[test]
fn changing_the_model_or_provider_saves_the_settings() {
    let mut h = Harness::new();
    h.send("/model claude-opus-4-1");
    let toml = settings_saved(&h.effects).expect("saved at once");
    assert!(toml.contains("model = \"claude-opus-4-1\""), "{toml}");
    let toml_again = config::parse(&toml).unwrap();
    assert!(toml_again.active_provider().map(|p| format!("{p:?}")).unwrap().contains("claude-opus-4-1"));
    h.effects.clear();
    h.send("/provider openai-compatible");
    let toml = settings_saved(&h.effects).expect("saved at once");
    assert!(toml.contains("active = \"openai-compatible\""), "{toml}");
}

#[test]
fn an_api_key_is_typed_hidden_saved_and_never_shown_or_logged() {
    let mut h = Harness::new();
    h.send("/key groq");
    assert!(h.state.editor().is_masked());
    h.type_text("gsk_secret_value_123456");
    h.key(Key::Enter);
    assert!(!h.state.editor().is_masked());
    let toml = settings_saved(&h.effects).expect("saved");
    assert!(toml.contains("gsk_secret_value_123456"), "the key goes to the file");
    let debug = format!("{:?}", h.effects);
    assert!(!debug.contains("gsk_secret_value_123456"), "no effect's Debug shows it");
    assert!(!h.console().contains("gsk_secret_value_123456"));
    assert!(!h.log().iter().any(|l| l.contains("gsk_secret_value_123456")));
    let screen = h.state.conversation().transcript().iter().map(|e| e.text.clone()).collect::<Vec<_>>().join("\n");
    assert!(!screen.contains("gsk_secret_value_123456"));
    assert!(screen.contains("the Groq key is saved"));
    // And the provider can now be chosen.
    h.effects.clear();
    h.send("/provider groq");
    assert!(settings_saved(&h.effects).unwrap().contains("active = \"groq\""));

    // Esc gives up without changing anything.
    h.effects.clear();
    h.send("/key xai");
    h.type_text("xai-abc");
    h.key(Key::Escape);
    assert!(!h.state.editor().is_masked() && h.state.editor().is_empty());
    assert!(settings_saved(&h.effects).is_none());

    // /forget-keys removes every key.
    h.effects.clear();
    h.send("/forget-keys");
    let toml = settings_saved(&h.effects).unwrap();
    assert!(!toml.contains("gsk_secret_value_123456") && !toml.contains("sk-ant-test-key"), "{toml}");
    assert_eq!(h.state.settings().active(), ProviderId::Groq);
}

#[test]
fn set_changes_applies_and_saves_keeping_the_users_comments() {
    let mut h = Harness::new();
    h.send("/set chat.theme light");
    assert_eq!(h.state.theme(), tui::ui::ThemeId::Light);
    let toml = settings_saved(&h.effects).expect("saved");
    assert!(toml.contains("theme = \"light\""), "{toml}");
    h.effects.clear();
    h.send("/system Answer in French.");
    assert_eq!(h.state.conversation().system(), Some("Answer in French."));
    let job = h.send("hi").unwrap();
    assert_eq!(job.system.as_deref(), Some("Answer in French."));
    h.answer(job.id, "salut");
    h.effects.clear();
    h.send("/set providers.anthropic.temperature 0.5");
    let job = h.send("again").unwrap();
    assert_eq!(job.temperature, Some(0.5));
    // Keys only through the hidden entry; unknown keys get a suggestion.
    h.send("/set providers.anthropic.api_key sk-ant-visible");
    assert!(h.state.notice().unwrap().0.contains("/key"));
    h.send("/set chat.them dark");
    assert!(h.state.notice().unwrap().0.contains("chat.theme"), "{:?}", h.state.notice());
    // F4 lists every setting, keys redacted.
    h.key(Key::F(4));
    let Some(Overlay::Picker(picker)) = h.state.overlay() else { panic!("settings open") };
    assert_eq!(picker.kind, PickerKind::Setting);
    assert!(picker.choices.iter().any(|c| c.label == "chat.theme" && c.detail == "light"));
    assert!(!picker.choices.iter().any(|c| c.detail.contains("sk-ant-test-key-0123456789")));
}
