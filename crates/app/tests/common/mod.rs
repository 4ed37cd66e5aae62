//! A harness that drives the application like the kernel does: inputs in, effects
//! collected, frames rendered with `tui` and their measurements fed back.

#![allow(dead_code)]

use app::{Boot, Effect, Input, LocalModel, ReplyJob, RequestId, State};
use hal::clock::Instant;
use hal::keys::{Key, KeyEvent, Modifiers};
use llm::{FinishReason, ReplyEvent, Usage};
use tui::Canvas;
use tui::ui::Renderer;

/// A configuration with Anthropic (active) and an OpenAI-compatible server.
pub const CONFIG: &str = r#"
[provider]
active = "anthropic"

[providers.anthropic]
api_key = "sk-ant-test-key-0123456789"
model = "claude-sonnet-4-5"

[providers.openai-compatible]
base_url = "http://192.168.1.10:11434/v1"
model = "llama3.2"
"#;

pub struct Harness {
    pub state: State,
    pub now: u64,
    pub effects: Vec<Effect>,
    pub renderer: Renderer,
    /// The screen: the renderer draws only what changed, so it must keep the same canvas.
    pub canvas: Option<Canvas>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(Some(CONFIG), LocalModel::Missing)
    }

    pub fn with(config: Option<&str>, local: LocalModel) -> Harness {
        let config = config.map(|text| config::parse_file(text.as_bytes()).expect("test config parses").config);
        let (state, effects) =
            State::new(Boot { config, config_problem: None, local, config_text: None, unix_time: Some(1_780_000_000) });
        Harness { state, now: 1_000, effects, renderer: Renderer::new(), canvas: None }
    }

    /// The application started from `boot` as the kernel gives it.
    pub fn boot(boot: Boot) -> Harness {
        let (state, effects) = State::new(boot);
        Harness { state, now: 1_000, effects, renderer: Renderer::new(), canvas: None }
    }

    pub fn input(&mut self, input: Input) -> Vec<Effect> {
        self.now += 10;
        let fx = app::update(&mut self.state, input, Instant::from_millis(self.now));
        self.effects.extend(fx.iter().cloned());
        fx
    }

    pub fn key(&mut self, key: Key) -> Vec<Effect> {
        self.input(Input::Key(KeyEvent::plain(key)))
    }

    pub fn chord(&mut self, key: Key, modifiers: Modifiers) -> Vec<Effect> {
        self.input(Input::Key(KeyEvent::new(key, modifiers)))
    }

    pub fn ctrl(&mut self, c: char) -> Vec<Effect> {
        self.input(Input::Key(KeyEvent::ctrl(c)))
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            if c == '\n' {
                self.chord(Key::Enter, Modifiers::SHIFT);
            } else {
                self.input(Input::Key(KeyEvent::char(c)));
            }
        }
    }

    /// Types `text`, presses Enter, and returns the reply job that was started.
    pub fn send(&mut self, text: &str) -> Option<ReplyJob> {
        self.type_text(text);
        self.key(Key::Enter).into_iter().find_map(|e| match e {
            Effect::StartReply(job) => Some(job),
            _ => None,
        })
    }

    pub fn reply(&mut self, id: RequestId, event: ReplyEvent) -> Vec<Effect> {
        self.input(Input::Reply { id, event })
    }

    /// Answers the reply `id` with `text` in pieces and finishes it.
    pub fn answer(&mut self, id: RequestId, text: &str) {
        for piece in text.split_inclusive(' ') {
            self.reply(id, ReplyEvent::Text(String::from(piece)));
        }
        self.reply(id, ReplyEvent::Usage(Usage { input_tokens: Some(12), output_tokens: Some(40) }));
        self.reply(id, ReplyEvent::Finished(FinishReason::Stop));
    }

    /// A user message answered with `reply`.
    pub fn exchange(&mut self, question: &str, reply: &str) {
        let job = self.send(question).expect("a reply starts");
        self.answer(job.id, reply);
    }

    /// Draws the state like the kernel does (and feeds the layout back).
    pub fn render(&mut self, width: u32, height: u32) -> Canvas {
        let mut canvas = match self.canvas.take() {
            Some(c) if (c.width(), c.height()) == (width, height) => c,
            _ => Canvas::new(width, height),
        };
        self.draw(&mut canvas);
        let out = canvas.clone();
        self.canvas = Some(canvas);
        out
    }

    pub fn draw(&mut self, canvas: &mut Canvas) {
        let view = app::view(&self.state);
        let geometry = self.renderer.draw(&view.frame(), canvas);
        drop(view);
        self.input(Input::Layout(geometry));
    }

    /// Everything written to the serial console so far.
    pub fn console(&self) -> String {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Console(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log(_, text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn check(name: &str, canvas: &Canvas) {
    tui::golden::check(env!("CARGO_MANIFEST_DIR"), env!("CARGO_TARGET_TMPDIR"), name, canvas);
}

/// A reply with every kind of markdown a model writes.
pub const MARKDOWN_REPLY: &str = "## Reading a file in Rust\n\nUse **`std::fs::read_to_string`** for small files; *stream* large ones with a [`BufReader`](https://doc.rust-lang.org/std/io/struct.BufReader.html).\n\n```rust\nuse std::fs;\n\nfn main() -> std::io::Result<()> {\n    let text = fs::read_to_string(\"notes.txt\")?; // whole file\n    println!(\"{} bytes\", text.len());\n    Ok(())\n}\n```\n\nSteps:\n\n1. Open the file\n2. Read it\n   - lines: `lines()`\n   - bytes: `bytes()`\n3. Handle errors\n\n> Errors are values: `?` returns them early.\n\n| Method | Memory | Speed |\n|:-------|:------:|------:|\n| read_to_string | whole file | fast |\n| BufReader | one line | steady |\n\nThat is all — café, naïve, Ελληνικά, русский, → ✓.";
