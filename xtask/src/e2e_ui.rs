//! End-to-end tests of the chat interface: one boot per architecture walks through what a
//! person does (paste, type, read, scroll, open the menus, stop a reply, power off) and
//! checks what the mock provider received and what the screen shows.
//!
//! The screen is read with `tesseract` (OCR; `cargo xtask setup` installs it): it confuses
//! some letters, so the checks look for distinctive words, not exact lines.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, ScreenStats, chat_config, keep_screenshot};
use crate::mock_llm::{self, Dialect, MockLlm};
use crate::qemu::{Display, Machine};
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The whole chat interface in one boot, on the keyboard QEMU emulates (PS/2 on x86_64,
/// virtio-input on AArch64) and on the serial console.
pub(crate) fn chat_interface(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    let config = chat_config("anthropic", &format!("http://10.0.2.2:{}", mock.port), "claude-mock");
    let files = [
        EspEntry::File("config.toml", config.into_bytes()),
        // The kernel logs each key's time to the screen (what `bench ui` reads in the guest).
        EspEntry::File("boot-options", b"bench-keys\n".to_vec()),
    ];
    let m = slot.insert(ctx.boot(&files, Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let mut replies = 0;

    // 1. A 20 KB paste over the serial console, inside bracketed-paste markers: its line
    // breaks are new lines in the editor (no send), and it reaches the provider whole.
    let (pasted, expected) = paste_text(20_000);
    let mut bytes = b"\x1b[200~".to_vec();
    bytes.extend_from_slice(pasted.as_bytes());
    bytes.extend_from_slice(b"\x1b[201~");
    m.send_serial(&bytes)?;
    m.wait_for("input: a bracketed paste arrived", TIMEOUT).context("the paste's end marker was not seen")?;
    ensure!(mock.recorded().is_empty(), "a line break inside the paste sent the message");
    m.send_serial(b"\r")?;
    // The debug image lays out and echoes the 20 KB message before it sends it: close to a
    // minute under TCG when another guest shares the host's two cores.
    m.wait_for(&format!("assistant: {}", mock_llm::bytes_reply(expected.len())), 2 * TIMEOUT)
        .context("the pasted message got no reply (or arrived with another length)")?;
    replies = wait_replies(m, replies + 1)?;
    let said = last_user_message(&mock, 0)?;
    ensure!(said.len() == expected.len(), "the provider got {} of the {} pasted bytes", said.len(), expected.len());
    ensure!(said == expected, "the pasted text arrived changed");
    ensure!(!m.serial_text().contains("events lost"), "input was lost: {}", m.serial_tail(5));

    // F9 starts a new conversation, so the next one is the markdown exchange alone.
    m.send_keys(&["f9"])?;
    m.wait_for("chat: new conversation", TIMEOUT).context("F9 did not start a new conversation")?;

    // 2. A two-line prompt typed on the emulated keyboard (Shift+Enter between the lines).
    let prompt = "trigger-markdown please\nsecond line";
    type_text(m, prompt)?;
    m.send_keys(&["ret"])?;
    replies = wait_replies(m, replies + 1)?;
    let said = last_user_message(&mock, 1)?;
    ensure!(said == prompt, "the typed prompt arrived as {said:?}, expected {prompt:?}");

    // 3. The markdown reply is drawn without its markers; the view follows its end, and
    // PgUp brings its first line back.
    std::thread::sleep(Duration::from_millis(800));
    let bottom = screen_text(m, ctx, "ui-reply-end")?;
    ensure!(bottom.contains("walrus"), "the reply's last line is not on screen: {bottom}");
    ensure!(!bottom.contains("quokka"), "the reply's first line should have scrolled out of view: {bottom}");
    // About 90 lines: a few pages take the view back to the prompt above the reply.
    m.send_keys(&["pgup", "pgup", "pgup", "pgup", "pgup"])?;
    std::thread::sleep(Duration::from_millis(1000));
    let top = screen_text(m, ctx, "ui-reply-start")?;
    ensure!(top.contains("quokka heading"), "PgUp did not bring the reply's heading back: {top}");
    ensure!(top.contains("boldword"), "the bold text is missing: {top}");
    for marker in ["# quokka", "**", "```", "`inline"] {
        ensure!(!top.contains(marker), "the markdown marker {marker:?} is drawn: {top}");
    }
    ensure!(top.contains("fn main"), "the code block is missing: {top}");

    // 4. F1, F2, F3 open the help and the two pickers (each visibly), Escape closes them.
    let before = ctx.screenshot_path("ui-before-menus");
    m.screendump(&before)?;
    for (key, line, name) in [
        ("f1", "screen: help", "help"),
        ("f2", "screen: provider picker", "providers"),
        ("f3", "screen: model picker", "models"),
    ] {
        let seen = m.serial_text().matches(line).count();
        m.send_keys(&[key])?;
        wait_count(m, line, seen + 1).with_context(|| format!("{key} did not open the {name}"))?;
        std::thread::sleep(Duration::from_millis(600));
        let shot = ctx.screenshot_path(&format!("ui-{name}"));
        m.screendump(&shot)?;
        keep_screenshot(&shot, &format!("{}-ui-{name}", ctx.arch()));
        let changed = ScreenStats::changed_pixels(&before, &shot)?;
        ensure!(changed > 5_000, "{key} changed only {changed} pixels on screen");
        m.send_keys(&["esc"])?;
    }
    let help = ocr(&ctx.screenshot_path("ui-help"))?;
    // Phrases rather than key names: OCR reads "F10" as "Fl0" on some renders.
    for phrase in ["keys and commands", "power off", "saved conversations"] {
        ensure!(help.contains(phrase), "the help does not say {phrase:?}: {help}");
    }

    // 5. A reply that never ends: Ctrl+C on the keyboard stops it while it streams fast,
    // the text so far stays (marked), and the next prompt is answered.
    std::thread::sleep(Duration::from_millis(300));
    type_text(m, "trigger-endless go")?;
    m.send_keys(&["ret"])?;
    // (Only words: a log line may fall between "assistant: " and the text on the console.)
    m.wait_for("w0 w1 w2 ", TIMEOUT)?;
    m.wait_for("w40 ", TIMEOUT).context("the endless stream did not keep coming")?;
    m.send_keys(&["ctrl-c"])?;
    m.wait_for("chat: reply stopped by the user (Ctrl+C)", TIMEOUT).context("Ctrl+C did not stop the stream")?;
    // How long keys and the screen waited for a turn while the stream poured in (reported,
    // not asserted: TCG timing varies with the host's load).
    let turns = m.wait_for_line("main loop: longest turn while the reply streamed", TIMEOUT)?;
    println!("    {}", turns.trim());
    std::thread::sleep(Duration::from_millis(800));
    let stopped = screen_text(m, ctx, "ui-stopped")?;
    ensure!(stopped.contains("stopped"), "the stopped reply is not marked on screen: {stopped}");
    type_text(m, "after the stop")?;
    m.send_keys(&["ret"])?;
    replies = wait_replies(m, replies + 2)?;
    let body = last_request(&mock)?;
    let messages = body["messages"].as_array().context("no messages")?;
    let kept = messages.iter().rev().nth(1).and_then(|m| m["content"].as_str()).unwrap_or_default();
    ensure!(kept.starts_with("Endless w0 w1 w2"), "the stopped reply was not kept: {kept:.80}");
    ensure!(messages.last().and_then(|m| m["content"].as_str()) == Some("after the stop"), "wrong last message");

    // 6. F9 starts a new conversation: the next request carries only the new message.
    m.send_keys(&["f9"])?;
    wait_count(m, "chat: new conversation", 2).context("F9 did not start a new conversation")?;
    type_text(m, "fresh start")?;
    m.send_keys(&["ret"])?;
    wait_replies(m, replies + 1)?;
    let body = last_request(&mock)?;
    ensure!(body["messages"].as_array().map(Vec::len) == Some(1), "F9 kept the old conversation: {body}");

    // 7. F10 asks first (Enter on the focused "No" keeps running); F10, Tab, Enter powers off
    // and QEMU exits by itself.
    m.send_keys(&["f10"])?;
    m.wait_for("screen: power off?", TIMEOUT)?;
    m.send_keys(&["ret"])?;
    std::thread::sleep(Duration::from_secs(2));
    ensure!(m.is_running()? && !m.serial_text().contains("power: switching off"), "Enter on No powered off");
    m.send_keys(&["f10", "tab", "ret"])?;
    m.wait_for("power: switching off", TIMEOUT)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.is_running()? {
        ensure!(Instant::now() < deadline, "QEMU did not exit after the power-off");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = m.serial_text();
    ensure!(!log.contains(mock_llm::MOCK_KEY), "the API key appeared on the serial console");
    for source in ["the keyboard", "serial"] {
        let mut times: Vec<u64> = log
            .lines()
            .filter(|l| l.contains("bench: key to screen") && l.ends_with(&format!("from {source})")))
            .filter_map(|l| l.split("key to screen ").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        ensure!(!times.is_empty(), "no key-to-screen time was logged for keys from {source}");
        times.sort_unstable();
        println!(
            "    key to screen from {source}: median {} us over {} redraws (debug build, TCG)",
            times[times.len() / 2],
            times.len()
        );
    }
    Ok(())
}

/// About `len` bytes of text as a terminal pastes it (CR line breaks, a few CR LF, blank
/// lines, UTF-8), with `trigger-bytes` in its first line; and what the editor must hold.
fn paste_text(len: usize) -> (String, String) {
    let mut text = String::from("trigger-bytes: a long paste");
    let mut n = 0u32;
    while text.len() < len {
        n += 1;
        text.push_str(if n.is_multiple_of(9) { "\r\n" } else { "\r" });
        if n.is_multiple_of(13) {
            text.push('\r');
        }
        text.push_str(&format!("{n:04} fn step(x: u32) -> u32 {{ x * 2 + {n} }} // héllo → ünïcode ✓ [{n}]"));
    }
    let expected = text.replace("\r\n", "\n").replace('\r', "\n");
    (text, expected)
}

/// Waits until `needle` has appeared `count` times on the serial console.
fn wait_count(m: &mut Machine, needle: &str, count: usize) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    while m.serial_text().matches(needle).count() < count {
        if Instant::now() > deadline {
            bail!("{needle:?} appeared fewer than {count} times");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Waits for the `n`th finished reply (complete or stopped); returns `n`.
fn wait_replies(m: &mut Machine, n: usize) -> Result<usize> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = m.serial_text();
        let done = log.matches("chat: reply complete").count() + log.matches("chat: reply stopped").count();
        if done >= n {
            return Ok(n);
        }
        if Instant::now() > deadline {
            bail!("reply {n} did not finish");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The JSON body of the last chat request the mock received.
fn last_request(mock: &MockLlm) -> Result<serde_json::Value> {
    let requests: Vec<_> = mock.recorded().into_iter().filter(|r| r.request_line.starts_with("POST ")).collect();
    let last = requests.last().context("the mock got no chat request")?;
    serde_json::from_slice(&last.body).context("the guest sent a body that is not JSON")
}

/// The last user message of the `index`th chat request.
fn last_user_message(mock: &MockLlm, index: usize) -> Result<String> {
    let requests: Vec<_> = mock.recorded().into_iter().filter(|r| r.request_line.starts_with("POST ")).collect();
    let request = requests.get(index).with_context(|| format!("the mock got no chat request {index}"))?;
    let body: serde_json::Value = serde_json::from_slice(&request.body)?;
    let last = body["messages"].as_array().and_then(|m| m.last()).context("no messages")?;
    Ok(last["content"].as_str().context("no text content")?.to_string())
}

/// Types `text` on the emulated keyboard; `\n` is Shift+Enter.
pub(crate) fn type_text(m: &mut Machine, text: &str) -> Result<()> {
    let mut chords = Vec::new();
    for c in text.chars() {
        let chord = match c {
            'a'..='z' | '0'..='9' => c.to_string(),
            'A'..='Z' => format!("shift-{}", c.to_ascii_lowercase()),
            ' ' => String::from("spc"),
            '-' => String::from("minus"),
            '.' => String::from("dot"),
            ',' => String::from("comma"),
            '\n' => String::from("shift-ret"),
            other => bail!("no key for {other:?}"),
        };
        chords.push(chord);
    }
    let chords: Vec<&str> = chords.iter().map(String::as_str).collect();
    m.send_keys(&chords)
}

/// Takes a screenshot (kept under `target/e2e-screenshots/`) and reads it with OCR.
fn screen_text(m: &mut Machine, ctx: &Ctx, name: &str) -> Result<String> {
    let shot = ctx.screenshot_path(name);
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-{name}", ctx.arch()));
    ocr(&shot)
}

/// The text `tesseract` reads in a screenshot, lowercased.
pub(crate) fn ocr(shot: &Path) -> Result<String> {
    let out = Command::new("tesseract")
        .arg(shot)
        .arg("stdout")
        .output()
        .context("tesseract is not installed (cargo xtask setup installs tesseract-ocr)")?;
    ensure!(out.status.success(), "tesseract failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).to_lowercase())
}
