//! The host half of `cargo xtask bench ui` (run in release mode): how long the chat
//! screen takes to redraw at 1920x1080 (everything, after one keystroke, after one
//! streamed token), each beside a plain copy of one 1920x1080 frame measured in the same
//! run (fastest of 200 runs each, so a busy machine does not blur the ratios). Drawing goes through the real path: `app::update`, `app::view`, `tui`'s renderer
//! into the back buffer, then the damaged rectangles copied to a framebuffer-sized buffer
//! as the kernel's `Display::present` does.

use app::{Boot, Effect, Input, LocalModel, RequestId, State};
use hal::clock::Instant;
use hal::keys::{Key, KeyEvent, Modifiers};
use llm::{FinishReason, ReplyEvent};
use std::hint::black_box;
use std::time::{Duration, Instant as Clock};
use tui::ui::Renderer;
use tui::{Canvas, PixelLayout};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const RUNS: usize = 200;

const CONFIG: &str = "[provider]\nactive = \"anthropic\"\n\n[providers.anthropic]\napi_key = \"sk-ant-bench-0123456789\"\nmodel = \"claude-sonnet-4-5\"\n";

/// A markdown answer of the kind the screen must handle: headings, lists, bold, code.
fn answer(n: usize) -> String {
    let mut text = format!("## Answer {n}\n\nHere is **the plan** with `inline code` and a list:\n\n");
    for i in 1..=6 {
        text.push_str(&format!("- step {i}: read the *input*, then write the output\n"));
    }
    text.push_str(
        "\n```rust\nfn main() {\n    let total: u64 = (1..=10).sum(); // 55\n    println!(\"{total}\");\n}\n```\n\n",
    );
    text.push_str("That is all; the numbers 1, 2 and 3 and a \"string\" close it.");
    text
}

/// The application, its renderer, the back buffer and a stand-in framebuffer.
struct Screen {
    state: State,
    now: u64,
    renderer: Renderer,
    canvas: Canvas,
    fb: Vec<u32>,
    row: Vec<u32>,
}

impl Screen {
    fn input(&mut self, input: Input) -> Vec<Effect> {
        self.now += 10;
        app::update(&mut self.state, input, Instant::from_millis(self.now))
    }

    fn send(&mut self, text: &str) -> RequestId {
        for c in text.chars() {
            self.input(Input::Key(KeyEvent::char(c)));
        }
        let fx = self.input(Input::Key(KeyEvent::plain(Key::Enter)));
        fx.into_iter()
            .find_map(|e| match e {
                Effect::StartReply(job) => Some(job.id),
                _ => None,
            })
            .expect("Enter starts a reply")
    }

    /// What the kernel does after inputs: view, draw, present, feed the layout back.
    fn draw(&mut self) {
        let view = app::view(&self.state);
        let geometry = self.renderer.draw(&view.frame(), &mut self.canvas);
        drop(view);
        let damage = self.canvas.take_damage_rects();
        for rect in damage.rects() {
            let x0 = rect.x.min(WIDTH);
            let x1 = rect.right().min(WIDTH);
            if x1 <= x0 {
                continue;
            }
            let row = &mut self.row[..(x1 - x0) as usize];
            for y in rect.y..rect.bottom().min(HEIGHT) {
                self.canvas.encode_row_into(y, x0, x1, PixelLayout::Bgrx, row);
                let start = (y * WIDTH + x0) as usize;
                self.fb[start..start + row.len()].copy_from_slice(row);
            }
        }
        black_box(&self.fb);
        self.input(Input::Layout(geometry));
    }
}

/// The fastest run: on a shared machine the others are mostly the process waiting for a
/// core, which says nothing about the code (the baseline is measured the same way).
fn fastest(v: Vec<Duration>) -> Duration {
    v.into_iter().min().unwrap_or_default()
}

fn time(mut f: impl FnMut()) -> Duration {
    let start = Clock::now();
    f();
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let pixels = (WIDTH * HEIGHT) as usize;
    // Baseline: one plain copy of a whole 1920x1080 frame (what an undamaged-tracking
    // screen would have to write at the very least, every time).
    let source: Vec<u32> = (0..pixels as u32).collect();
    let mut target = vec![0u32; pixels];
    let copy = fastest(
        (0..RUNS)
            .map(|_| {
                time(|| {
                    target.copy_from_slice(black_box(&source));
                    black_box(&target);
                })
            })
            .collect(),
    );

    let config = config::parse_file(CONFIG.as_bytes()).expect("bench config").config;
    let (state, _) = State::new(Boot {
        config: Some(config),
        config_problem: None,
        local: LocalModel::Missing,
        config_text: None,
        unix_time: None,
    });
    let mut s = Screen {
        state,
        now: 1_000,
        renderer: Renderer::new(),
        canvas: Canvas::new(WIDTH, HEIGHT),
        fb: vec![0; pixels],
        row: vec![0; WIDTH as usize],
    };
    // A conversation long enough to fill the screen several times over.
    for n in 1..=8 {
        let id = s.send(&format!("question number {n}: how does this work?"));
        for piece in answer(n).split_inclusive(' ') {
            s.input(Input::Reply { id, event: ReplyEvent::Text(piece.to_string()) });
        }
        s.input(Input::Reply { id, event: ReplyEvent::Finished(FinishReason::Stop) });
    }
    s.draw();

    let full = fastest(
        (0..RUNS)
            .map(|_| {
                s.renderer.invalidate();
                time(|| s.draw())
            })
            .collect(),
    );

    // A keystroke: the key through the reducer, then the redraw it causes.
    let mut keys = Vec::new();
    for i in 0..RUNS {
        if i % 40 == 39 {
            s.input(Input::Key(KeyEvent::new(Key::Char('u'), Modifiers::CTRL)));
            s.draw();
        }
        let c = char::from(b'a' + (i % 26) as u8);
        keys.push(time(|| {
            s.input(Input::Key(KeyEvent::char(c)));
            s.draw();
        }));
    }
    let key = fastest(keys);
    s.input(Input::Key(KeyEvent::new(Key::Char('u'), Modifiers::CTRL)));
    s.draw();

    // A streamed token: a reply event through the reducer, then its redraw.
    let id = s.send("one more question, answered slowly");
    s.input(Input::Reply { id, event: ReplyEvent::Text(String::from("Streaming ")) });
    s.draw();
    let mut tokens = Vec::new();
    for i in 0..RUNS {
        let piece = if i % 12 == 11 { String::from("word.\n\n") } else { format!("tok{i} ") };
        tokens.push(time(|| {
            s.input(Input::Reply { id, event: ReplyEvent::Text(piece.clone()) });
            s.draw();
        }));
    }
    let token = fastest(tokens);
    s.input(Input::Reply { id, event: ReplyEvent::Finished(FinishReason::Stop) });

    println!("bench ui host ({WIDTH}x{HEIGHT}, best of {RUNS}; baseline: plain copy of one frame {:.3} ms)", ms(copy));
    for (what, took, target) in
        [("full redraw", full, 2.0), ("keystroke redraw", key, 0.2), ("streamed token redraw", token, 0.5)]
    {
        println!(
            "  {what:<22} {:>8.3} ms = {:>6.2}x a frame copy   (target < {target} ms: {})",
            ms(took),
            took.as_secs_f64() / copy.as_secs_f64(),
            if ms(took) < target { "met" } else { "MISSED" }
        );
    }
}
