//! Golden images of every screen, rendered on the host from states reached through the
//! reducer (regenerate with `UPDATE_GOLDEN=1 cargo test -p app --test screens`, then
//! review the images).

mod common;

use app::LocalModel;
use common::{Harness, MARKDOWN_REPLY, check};
use hal::keys::Key;

#[test]
fn welcome_1024x768() {
    let mut h = Harness::new();
    check("welcome_1024x768", &h.render(1024, 768));
}

#[test]
fn markdown_and_code_1024x768() {
    let mut h = Harness::new();
    h.exchange("How do I read a file in Rust?", MARKDOWN_REPLY);
    h.key(Key::PageUp);
    h.render(1024, 768);
    h.key(Key::PageUp);
    check("markdown_and_code_1024x768", &h.render(1024, 768));
}

#[test]
fn code_languages_1920x1080() {
    let mut h = Harness::new();
    h.exchange(
        "Show me hello world everywhere",
        "```python\ndef hello(name: str) -> None:\n    \"\"\"Greets.\"\"\"\n    print(f\"hi {name}\")  # 42\n```\n\n```c\n#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; /* done */ }\n```\n\n```typescript\nconst greet = (n: string): void => console.log(`hi ${n}`); // 3.14\n```\n\n```bash\nfor f in *.txt; do echo \"$f\"; done # loop\n```\n\n```json\n{\"name\": \"mote\", \"size\": 135, \"ok\": true, \"tags\": null}\n```",
    );
    check("code_languages_1920x1080", &h.render(1920, 1080));
}

#[test]
fn long_conversation_scrolled_1920x1080() {
    let mut h = Harness::new();
    for i in 1..=12 {
        h.exchange(
            &format!("Question number {i}: tell me something about the number {i}."),
            &format!(
                "Number **{i}** is {}. {}",
                if i % 2 == 0 { "even" } else { "odd" },
                "It appears in many places. ".repeat(i)
            ),
        );
    }
    h.render(1920, 1080);
    for _ in 0..3 {
        h.key(Key::PageUp);
    }
    check("long_conversation_scrolled_1920x1080", &h.render(1920, 1080));
}

#[test]
fn error_banner_1024x768() {
    let mut h = Harness::new();
    let job = h.send("hello?").unwrap();
    h.reply(job.id, llm::ReplyEvent::Failed(llm::LlmError::from_status("Anthropic", 401, None, "invalid x-api-key")));
    check("error_banner_1024x768", &h.render(1024, 768));
}

#[test]
fn help_overlay_1024x768() {
    let mut h = Harness::new();
    h.exchange("hi", "Hello! How can I help?");
    h.key(Key::F(1));
    check("help_overlay_1024x768", &h.render(1024, 768));
}

#[test]
fn provider_picker_1024x768() {
    let mut h = Harness::new();
    h.key(Key::F(2));
    check("provider_picker_1024x768", &h.render(1024, 768));
}

#[test]
fn model_picker_1920x1080() {
    let mut h = Harness::new();
    h.key(Key::F(3));
    let id = h
        .effects
        .iter()
        .rev()
        .find_map(|e| match e {
            app::Effect::FetchModels { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    h.input(app::Input::Models {
        id,
        result: Ok(vec!["claude-opus-4-1".into(), "claude-sonnet-4-5".into(), "claude-haiku-4-5".into()]),
    });
    h.key(Key::Down);
    check("model_picker_1920x1080", &h.render(1920, 1080));
}

#[test]
fn power_off_question_1024x768() {
    let mut h = Harness::new();
    h.key(Key::F(10));
    check("power_off_question_1024x768", &h.render(1024, 768));
}

#[test]
fn light_theme_and_multiline_input_1024x768() {
    let mut h = Harness::new();
    h.type_text("/theme light");
    h.key(Key::Enter);
    h.exchange("What is a mote?", MARKDOWN_REPLY);
    h.type_text("First line of a question\nsecond line, and a third\nthird line");
    check("light_theme_and_multiline_input_1024x768", &h.render(1024, 768));
}

#[test]
fn local_model_streaming_1024x768() {
    let mut h = Harness::with(None, LocalModel::Ready { name: "SmolLM2-135M-Instruct".into(), context: 2048 });
    let job = h.send("What is the capital of France?").unwrap();
    h.reply(job.id, llm::ReplyEvent::Prompt { done: 24, total: 24 });
    h.reply(job.id, llm::ReplyEvent::Text("The capital of France is".into()));
    check("local_model_streaming_1024x768", &h.render(1024, 768));
}

fn first_boot() -> Harness {
    Harness::boot(app::Boot {
        config: None,
        config_problem: None,
        local: LocalModel::Missing,
        config_text: None,
        unix_time: None,
    })
}

#[test]
fn wizard_network_dhcp_1024x768() {
    let mut h = first_boot();
    h.input(app::Input::Network(app::NetInfo {
        phase: app::NetPhase::Connected,
        address: Some("10.0.2.15".into()),
        detail: String::new(),
    }));
    check("wizard_network_dhcp_1024x768", &h.render(1024, 768));
}

#[test]
fn wizard_provider_compatible_url_1024x768() {
    let mut h = first_boot();
    h.key(Key::Enter);
    for _ in 0..4 {
        h.key(Key::Down);
    }
    h.key(Key::Enter);
    h.type_text("http://192.168.100.200:11434/a/rather/long/path/to/the/openai/compatible/api/v1");
    check("wizard_provider_compatible_url_1024x768", &h.render(1024, 768));
}

#[test]
fn wizard_key_masked_and_scrolled_1024x768() {
    let mut h = first_boot();
    h.key(Key::Enter);
    h.key(Key::Enter);
    h.type_text(&format!("sk-ant-{}", "k".repeat(120)));
    check("wizard_key_masked_and_scrolled_1024x768", &h.render(1024, 768));
}

#[test]
fn wizard_test_failed_1920x1080() {
    let mut h = first_boot();
    h.key(Key::Enter);
    h.key(Key::Enter);
    h.type_text("sk-ant-wrong");
    h.key(Key::Enter);
    h.key(Key::Enter);
    let id = h
        .effects
        .iter()
        .rev()
        .find_map(|e| match e {
            app::Effect::StartReply(job) => Some(job.id),
            _ => None,
        })
        .unwrap();
    h.reply(id, llm::ReplyEvent::Failed(llm::LlmError::from_status("Anthropic", 401, None, "invalid x-api-key")));
    check("wizard_test_failed_1920x1080", &h.render(1920, 1080));
}

#[test]
fn wizard_broken_config_1024x768() {
    let text = "[provider]\nactive = \"antropic\"\n\n[providers.anthropic]\napi_key = \"sk-ant-kept\"\n";
    let problem = config::parse_file(text.as_bytes()).unwrap_err().to_string();
    let mut h = Harness::boot(app::Boot {
        config: None,
        config_problem: Some(problem),
        local: LocalModel::Missing,
        config_text: Some(text.into()),
        unix_time: None,
    });
    check("wizard_broken_config_1024x768", &h.render(1024, 768));
}

/// Drawing only what changed (rows moved by a scroll instead of painted again, the
/// scrollbar redrawn) ends with the same pixels as drawing everything: while a reply streams
/// in line by line, after PgUp, after PgDn, and after the reply ends.
#[test]
fn incremental_drawing_matches_a_full_redraw() {
    fn full(h: &mut Harness, width: u32, height: u32) -> tui::Canvas {
        let mut fresh = tui::ui::Renderer::new();
        let mut canvas = tui::Canvas::new(width, height);
        let view = app::view(&h.state);
        fresh.draw(&view.frame(), &mut canvas);
        canvas
    }
    fn same(h: &mut Harness, width: u32, height: u32, when: &str) {
        let incremental = h.render(width, height);
        let whole = full(h, width, height);
        let differ = incremental.pixels().iter().zip(whole.pixels()).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{differ} pixels differ from a full redraw {when}");
    }
    let mut h = Harness::new();
    h.exchange("first question", &"An earlier answer line.\n\n".repeat(30));
    same(&mut h, 1024, 768, "before the reply");
    let job = h.send("stream a long answer").unwrap();
    for i in 0..80 {
        h.reply(job.id, llm::ReplyEvent::Text(format!("Line {i} of the streamed answer.\n\n")));
        if i % 7 == 0 {
            same(&mut h, 1024, 768, &format!("after streamed line {i}"));
        } else {
            h.render(1024, 768);
        }
    }
    for key in [Key::PageUp, Key::PageUp, Key::PageDown, Key::Up, Key::Down] {
        h.key(key);
        same(&mut h, 1024, 768, &format!("after {key:?}"));
    }
    h.reply(job.id, llm::ReplyEvent::Finished(llm::FinishReason::Stop));
    same(&mut h, 1024, 768, "after the reply ended");
    // What sits below the transcript changes height: the transcript keeps its rows.
    h.key(Key::End);
    h.input(app::Input::Notice("A notice above the input line.".into()));
    same(&mut h, 1024, 768, "after a notice appeared");
    h.type_text(&"a question long enough to wrap onto more input lines ".repeat(6));
    same(&mut h, 1024, 768, "after the input grew");
    let job = h.send("").unwrap();
    same(&mut h, 1024, 768, "after the input shrank again");
    h.reply(job.id, llm::ReplyEvent::Text("A short answer.".into()));
    h.reply(job.id, llm::ReplyEvent::Finished(llm::FinishReason::Stop));
    same(&mut h, 1024, 768, "after the next reply");
}
