//! The setup wizard through every step and back, as the kernel drives it: keys in, effects
//! out (model lists, the test request, the saved settings).

mod common;

use app::wizard::{Step, Test};
use app::{Boot, Effect, Input, LocalModel, Overlay, ReplyJob, RequestId, Target, Wizard};
use common::Harness;
use hal::keys::{Key, KeyEvent, Modifiers};
use llm::{ErrorKind, FinishReason, LlmError, ReplyEvent};

const KEY: &str = "sk-ant-wizard-secret-0123456789abcdef";

fn first_boot() -> Harness {
    Harness::boot(Boot {
        config: None,
        config_problem: None,
        local: LocalModel::Missing,
        config_text: None,
        unix_time: None,
    })
}

fn wizard(h: &Harness) -> &Wizard {
    match h.state.overlay() {
        Some(Overlay::Wizard(w)) => w,
        other => panic!("the wizard is not open: {other:?}"),
    }
}

fn step(h: &Harness) -> Step {
    wizard(h).step()
}

fn last_fetch(h: &Harness) -> RequestId {
    h.effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::FetchModels { id, .. } => Some(*id),
            _ => None,
        })
        .expect("a model list was asked for")
}

fn last_reply(h: &Harness) -> ReplyJob {
    h.effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::StartReply(job) => Some(job.clone()),
            _ => None,
        })
        .expect("a test request was sent")
}

fn saved_toml(h: &Harness) -> String {
    h.effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::SaveSettings { toml, .. } => Some(toml.0.clone()),
            _ => None,
        })
        .expect("the settings were saved")
}

/// Pastes over the serial console: characters, the pasted line break as Shift+Enter.
fn paste(h: &mut Harness, text: &str) {
    for c in text.chars() {
        h.input(Input::Key(KeyEvent::char(c)));
    }
    h.chord(Key::Enter, Modifiers::SHIFT);
}

/// Network (DHCP) → Anthropic → key → the listed model → a passing test → ready.
fn to_ready(h: &mut Harness) {
    assert_eq!(step(h), Step::Network);
    h.key(Key::Enter);
    assert_eq!(step(h), Step::Provider);
    h.key(Key::Enter);
    assert_eq!(step(h), Step::Key);
    paste(h, KEY);
    h.key(Key::Enter);
    assert_eq!(step(h), Step::Model);
    let id = last_fetch(h);
    h.input(Input::Models { id, result: Ok(vec!["claude-opus-4-1".into(), "claude-haiku-4-5".into()]) });
    h.key(Key::Down);
    h.key(Key::Enter);
    assert_eq!(step(h), Step::Test);
    let job = last_reply(h);
    assert!(matches!(&job.target, Target::Remote { model, .. } if model == "claude-opus-4-1"));
    h.reply(job.id, ReplyEvent::Text("Hello from the test.".into()));
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    assert!(matches!(wizard(h).test(), Test::Passed(said) if said.contains("Hello from the test.")));
    h.key(Key::Enter);
    assert_eq!(step(h), Step::Ready);
}

#[test]
fn first_boot_completes_and_saves_provider_model_and_key() {
    let mut h = first_boot();
    assert!(h.log().iter().any(|l| l == "wizard: step network"));
    to_ready(&mut h);
    h.key(Key::Enter);
    assert!(h.state.overlay().is_none(), "the chat opens");
    let toml = saved_toml(&h);
    let saved = config::parse_file(toml.as_bytes()).expect("the saved file reads back").config;
    assert_eq!(saved.provider.active, llm::ProviderId::Anthropic);
    let table = saved.providers.anthropic.as_ref().unwrap();
    assert_eq!(table.api_key, KEY);
    assert_eq!(table.model.as_deref(), Some("claude-opus-4-1"));
    for s in ["network", "provider", "key", "model", "test", "ready"] {
        assert!(h.log().iter().any(|l| *l == format!("wizard: step {s}")), "no log line for step {s}");
    }
    // The chat uses it right away.
    let job = h.send("hello").unwrap();
    assert!(matches!(job.target, Target::Remote { model, .. } if model == "claude-opus-4-1"));
}

#[test]
fn the_key_never_reaches_the_log_the_console_or_a_debug_print() {
    let mut h = first_boot();
    to_ready(&mut h);
    let debug = format!("{:?}", h.state);
    h.key(Key::Enter);
    assert!(!debug.contains(KEY) && !debug.contains("wizard-secret"), "Debug of the state shows the key");
    for effect in &h.effects {
        match effect {
            Effect::Log(_, line) | Effect::Console(line) => assert!(!line.contains("wizard-secret"), "{line}"),
            _ => {}
        }
        assert!(!format!("{effect:?}").contains("wizard-secret"), "{effect:?}");
    }
    // The screen shows bullets only.
    h.render(1024, 768);
}

#[test]
fn esc_goes_back_through_every_step_and_keeps_what_was_typed() {
    let mut h = first_boot();
    // Static network with an address typed.
    h.key(Key::Down);
    h.key(Key::Enter);
    h.type_text("10.0.2.99/24");
    h.key(Key::Enter);
    h.type_text("10.0.2.2");
    h.key(Key::Enter);
    h.type_text("10.0.2.3");
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Provider);
    // The static address is put into effect at once (the test request goes over it).
    let applied: Vec<_> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::ConfigureNetwork(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0].mode, config::NetworkMode::Static);
    assert_eq!(applied[0].address.unwrap().to_string(), "10.0.2.99/24");
    // OpenAI-compatible with a URL.
    for _ in 0..4 {
        h.key(Key::Down);
    }
    h.key(Key::Enter);
    h.type_text("http://10.0.2.2:8080/v1");
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Key);
    h.type_text("local-key");
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Model);
    h.type_text("llama3.2");
    // Back, back, back, back: every field still holds its text.
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Key);
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Provider);
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Network);
    h.key(Key::Enter); // on "Static address": the fields are still filled
    for _ in 0..3 {
        h.key(Key::Enter);
    }
    assert_eq!(step(&h), Step::Provider);
    assert_eq!(wizard(&h).provider(), llm::ProviderId::OpenAiCompatible);
    h.key(Key::Enter); // the focus is on OpenAI-compatible: on to its URL
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Key);
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Model);
    // The list fails: the model typed earlier is still there and used.
    let id = last_fetch(&h);
    h.input(Input::Models { id, result: Err("connection refused".into()) });
    assert!(wizard(&h).status().unwrap().0.contains("did not list its models"));
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Test);
    let job = last_reply(&h);
    match &job.target {
        Target::Remote { provider, model } => {
            assert_eq!(model, "llama3.2");
            let url = provider.base_url();
            assert_eq!((url.host(), url.port(), url.path_and_query()), ("10.0.2.2", 8080, "/v1"));
        }
        Target::Local => panic!("the test went to the local model"),
    }
    h.answer(job.id, "ok");
    h.key(Key::Enter);
    h.key(Key::Enter);
    let saved = config::parse_file(saved_toml(&h).as_bytes()).unwrap().config;
    assert_eq!(saved.network.mode, config::NetworkMode::Static);
    assert_eq!(saved.network.address.unwrap().to_string(), "10.0.2.99/24");
    let compatible = saved.providers.openai_compatible.unwrap();
    assert_eq!(
        (compatible.base_url.as_str(), compatible.api_key.as_deref(), compatible.model.as_str()),
        ("http://10.0.2.2:8080/v1", Some("local-key"), "llama3.2")
    );
    assert!(h.state.notice().unwrap().0.contains("Set up:"));
    // Passing the network step again with the same settings changed nothing more.
    assert_eq!(h.effects.iter().filter(|e| matches!(e, Effect::ConfigureNetwork(_))).count(), 1);
}

#[test]
fn bad_inputs_get_a_sentence_and_the_step_stays() {
    let mut h = first_boot();
    h.key(Key::Down);
    h.key(Key::Enter);
    h.type_text("10.0.2");
    for _ in 0..3 {
        h.key(Key::Enter);
    }
    assert_eq!(step(&h), Step::Network);
    assert!(wizard(&h).status().unwrap().0.contains("The address 10.0.2 cannot be used"), "{:?}", wizard(&h).status());
    for _ in 0..4 {
        h.key(Key::Up);
    }
    h.key(Key::Enter); // DHCP after all
    assert_eq!(step(&h), Step::Provider);
    h.key(Key::Enter);
    h.key(Key::Enter); // no key typed
    assert_eq!(step(&h), Step::Key);
    assert!(wizard(&h).status().unwrap().0.contains("needs an API key"));
    h.key(Key::Escape);
    for _ in 0..4 {
        h.key(Key::Down);
    }
    h.key(Key::Enter);
    h.type_text("ftp://nowhere");
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Provider);
    assert!(wizard(&h).status().unwrap().0.starts_with("The server URL cannot be used"));
    // Up from the URL field lands on "Local model", which cannot be chosen: no model file.
    h.key(Key::Up);
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Provider);
    assert!(
        wizard(&h).status().unwrap().0.contains("cannot be chosen: no model on the disk"),
        "{:?}",
        wizard(&h).status()
    );
}

#[test]
fn a_failing_test_says_what_to_fix_and_passes_after_the_fix() {
    let mut h = first_boot();
    h.key(Key::Enter);
    h.key(Key::Enter);
    h.type_text("sk-ant-wrong");
    h.key(Key::Enter);
    let id = last_fetch(&h);
    h.input(Input::Models { id, result: Err("HTTP 401".into()) });
    // The built-in list stands in.
    assert!(wizard(&h).models().iter().any(|m| m == "claude-sonnet-4-5"));
    h.key(Key::Enter);
    let job = last_reply(&h);
    h.reply(job.id, ReplyEvent::Failed(LlmError::from_status("Anthropic", 401, None, "invalid x-api-key")));
    match wizard(&h).test() {
        Test::Failed(why) => assert!(why.contains("refused the API key") && why.contains("back to the key"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(wizard(&h).status().unwrap().0.starts_with('\u{2717}'));
    // Back to the key: the wrong one is still there; fix it.
    h.key(Key::Escape);
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Key);
    h.ctrl('u');
    h.type_text(KEY);
    h.key(Key::Enter);
    h.key(Key::Enter);
    let fixed = last_reply(&h);
    assert_ne!(fixed.id, job.id);
    h.reply(fixed.id, ReplyEvent::Failed(LlmError::new("Anthropic", ErrorKind::ProviderTrouble, Some(503), "busy")));
    assert!(matches!(wizard(&h).test(), Test::Failed(why) if why.contains("Enter tries again")));
    h.key(Key::Enter);
    let again = last_reply(&h);
    assert_ne!(again.id, fixed.id);
    h.answer(again.id, "Hi!");
    assert!(matches!(wizard(&h).test(), Test::Passed(_)));
    h.key(Key::Enter);
    h.key(Key::Enter);
    assert!(saved_toml(&h).contains(KEY));
}

#[test]
fn esc_during_the_test_cancels_it() {
    let mut h = first_boot();
    h.key(Key::Enter);
    h.key(Key::Enter);
    h.type_text(KEY);
    h.key(Key::Enter);
    h.key(Key::Enter);
    let job = last_reply(&h);
    let fx = h.key(Key::Escape);
    assert!(fx.iter().any(|e| matches!(e, Effect::CancelReply(id) if *id == job.id)));
    assert_eq!(step(&h), Step::Model);
    // A late event of the cancelled request changes nothing.
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    assert_eq!(step(&h), Step::Model);
}

#[test]
fn a_broken_config_opens_the_wizard_with_the_problem_and_keeps_the_other_values() {
    let text = "# my settings\n[provider]\nactive = \"antropic\"\n\n[providers.anthropic]\napi_key = \"sk-ant-kept-key\"\nmodel = \"claude-haiku-4-5\"\n";
    let problem = config::parse_file(text.as_bytes()).unwrap_err().to_string();
    assert!(problem.contains("line 3"), "{problem}");
    let mut h = Harness::boot(Boot {
        config: None,
        config_problem: Some(problem.clone()),
        local: LocalModel::Missing,
        config_text: Some(text.into()),
        unix_time: None,
    });
    assert_eq!(wizard(&h).problem(), Some(problem.as_str()));
    assert!(h.console().contains("problem: config.toml line 3"));
    h.key(Key::Enter);
    h.key(Key::Enter); // Anthropic
    h.key(Key::Enter); // the key recovered from the file
    assert_eq!(step(&h), Step::Model);
    let id = last_fetch(&h);
    h.input(Input::Models { id, result: Err("offline".into()) });
    h.key(Key::Enter); // the model recovered from the file
    let job = last_reply(&h);
    assert!(matches!(&job.target, Target::Remote { model, .. } if model == "claude-haiku-4-5"));
    h.answer(job.id, "Hello");
    h.key(Key::Enter);
    h.key(Key::Enter);
    let toml = saved_toml(&h);
    assert!(toml.starts_with("# my settings\n"), "the user's comment is kept: {toml}");
    assert!(toml.contains("sk-ant-kept-key") && toml.contains("active = \"anthropic\""), "{toml}");
    // The file did not read: the original is kept beside the new one.
    let kept = h.effects.iter().find_map(|e| match e {
        Effect::WriteFile { path, bytes, .. } if path == app::wizard::BROKEN_PATH => Some(bytes.clone()),
        _ => None,
    });
    assert_eq!(kept.as_deref(), Some(text.as_bytes()));
}

#[test]
fn a_file_that_is_not_toml_at_all_is_replaced_and_kept_aside() {
    let text = "\u{0}\u{1}garbage = = =\n[[[";
    // Nothing of it can be recovered: a configuration with no provider tables.
    let (recovered, _) = app::wizard::recover(text).unwrap();
    assert!(recovered.providers.is_empty());
    let mut h = Harness::boot(Boot {
        config: None,
        config_problem: Some("config.toml line 1, column 1: garbage".into()),
        local: LocalModel::Missing,
        config_text: Some(text.into()),
        unix_time: None,
    });
    to_ready(&mut h);
    h.key(Key::Enter);
    let toml = saved_toml(&h);
    assert!(config::parse_file(toml.as_bytes()).is_ok(), "{toml}");
    assert!(h.effects.iter().any(|e| matches!(e, Effect::WriteFile { path, .. } if path == app::wizard::BROKEN_PATH)));
}

#[test]
fn the_local_model_opens_the_chat_with_the_f4_line_and_run_setup_opens_the_wizard() {
    let mut h = Harness::with(None, LocalModel::Ready { name: "SmolLM2".into(), context: 2048 });
    assert!(h.state.overlay().is_none(), "the chat opens, not the wizard");
    assert!(h.state.notice().unwrap().0.contains("F4"));
    assert!(h.console().contains("F4"));
    let job = h.send("hi").unwrap();
    assert!(matches!(job.target, Target::Local));
    h.reply(job.id, ReplyEvent::Finished(FinishReason::Stop));
    // F4 → Run setup.
    h.key(Key::F(4));
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Network);
    h.key(Key::Enter);
    // The local model is offered and chosen (it is in use): key and model are skipped.
    assert_eq!(wizard(&h).provider(), llm::ProviderId::Local);
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Test);
    assert!(matches!(wizard(&h).test(), Test::Passed(said) if said.contains("SmolLM2")));
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Provider);
    h.key(Key::Enter);
    h.key(Key::Enter);
    h.key(Key::Enter);
    let saved = config::parse_file(saved_toml(&h).as_bytes()).unwrap().config;
    assert_eq!(saved.provider.active, llm::ProviderId::Local);
}

#[test]
fn a_long_pasted_key_scrolls_in_its_field_and_shows_as_bullets() {
    let mut h = first_boot();
    h.key(Key::Enter);
    h.key(Key::Enter);
    let long = format!("sk-ant-{}", "x".repeat(300));
    paste(&mut h, &long);
    h.key(Key::Enter);
    assert_eq!(step(&h), Step::Model, "the pasted line break does not end the key; Enter does");
    h.key(Key::Escape);
    assert_eq!(step(&h), Step::Key);
    h.key(Key::Enter);
    h.key(Key::Enter);
    let job = last_reply(&h);
    h.answer(job.id, "ok");
    h.key(Key::Enter);
    h.key(Key::Enter);
    assert!(saved_toml(&h).contains(&long));
}

#[test]
fn a_broken_model_without_settings_opens_the_wizard_with_its_problem() {
    let why = "the local model \\moteos\\model.gguf cannot be used: attention.key_length is too large";
    let mut h = Harness::with(None, LocalModel::Broken(why.into()));
    assert_eq!(step(&h), Step::Network);
    assert_eq!(wizard(&h).problem(), Some(why), "the model's problem is shown above the setup");
    assert!(h.console().contains(why), "the serial console is told too");
    // Esc closes it; the chat says why nothing answers and keeps taking input.
    h.key(Key::Escape);
    assert!(h.state.overlay().is_none());
    assert!(h.send("still here?").is_none(), "nothing can answer yet");
}
