//! The chat as the kernel runs it: keys edit a line, Enter sends it to the configured
//! provider over the network, the reply streams onto the screen and the serial console.
//!
//! The conversation itself (what is kept, what is sent, how failures change it) is the
//! portable [`app::Chat`]; this module only moves bytes and draws.

use crate::boot_info::{ModelFile, ModelLoad};
use crate::display::Display;
use crate::exchange::Exchange;
use crate::logger::console_write;
use crate::network::Network;
use crate::time;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use app::{Chat, EntryState, Who};
use config::{ActiveProvider, MoteConfig, ProviderKind};
use hal::keys::{Key, KeyEvent};
use http::{ResponseEvent, Timeouts};
use inference::{ChatEngine, ChatStep, EngineOptions, SamplingParams};
use llm::{ChatRequest, ErrorKind, FinishReason, LlmError, Provider, ProviderId, ReplyDecoder, ReplyEvent};
use log::{info, warn};
use tui::screens::{ChatBlock, ChatView, Speaker, draw_chat};

/// Estimated tokens of conversation sent with each request. Leaves room in every
/// current hosted model's window (the estimate can be 2x off for code).
const CONTEXT_BUDGET: usize = 24_000;
/// The longest reply asked for.
const MAX_TOKENS: u32 = 1024;
/// Positions in the local model's KV cache: the whole conversation must fit.
const LOCAL_CONTEXT: usize = 2048;
/// Estimated tokens of conversation given to the local model (the rest of its context is
/// for the chat template, the default system prompt and the reply).
const LOCAL_BUDGET: usize = 1200;
/// The longest local reply.
const LOCAL_MAX_TOKENS: usize = 400;
/// Prompt tokens per engine step: bounded work between two looks at the keyboard (under
/// emulation a step of 4 takes about 2 s; on hardware a few milliseconds). Four matches
/// the width of the AVX2 tile kernels.
const LOCAL_PREFILL_BATCH: usize = 4;
/// How the local provider is named on screen and in messages.
const LOCAL_NAME: &str = "the local model";
/// The longest line the input field holds, in characters.
const MAX_INPUT_CHARS: usize = 4000;
/// Least time between two redraws while a reply streams in, so that a fast stream
/// spends its time on text, not on repainting.
const STREAM_REDRAW_MS: u64 = 60;

/// Who answers.
enum Backend {
    Remote {
        provider: Provider,
        model: String,
        tls: Option<Arc<tls::rustls::ClientConfig>>,
    },
    /// The model file from the boot partition, run on this CPU.
    Local(Box<ChatEngine<'static>>),
    /// Nothing can answer yet; the sentence says why and what to do.
    Unavailable(String),
}

/// Where the reply in flight comes from.
enum Source {
    Remote {
        exchange: Box<Exchange>,
        decoder: Box<ReplyDecoder>,
    },
    /// The local engine (held by the backend) is producing it step by step.
    Local {
        text_bytes: usize,
    },
}

/// The model list being fetched for `/models`.
struct ModelsFetch {
    exchange: Box<Exchange>,
    status: u16,
    body: Vec<u8>,
}

/// The most of a model list kept (real lists are a few KiB).
const MAX_MODELS_BODY: usize = 1 << 20;

/// A request in flight.
struct Active {
    source: Source,
    sent_ms: u64,
    first_text_ms: Option<u64>,
    /// When the first text was drawn (the number the TTFT benchmark reads).
    first_shown_ms: Option<u64>,
    output_tokens: Option<u32>,
    /// What the decoder skipped; logged when the reply ends so that the log does not
    /// break the reply's line on the console.
    skipped: Vec<String>,
}

/// The chat screen and line-mode console.
pub struct ChatTask {
    chat: Chat,
    backend: Backend,
    label: String,
    input: String,
    notice: String,
    network_status: String,
    speed: String,
    active: Option<Active>,
    /// A `/models` request in flight.
    models: Option<ModelsFetch>,
    cancel: bool,
    drawn: Option<(u64, usize, usize, usize)>,
    last_draw_ms: u64,
}

impl core::fmt::Debug for ChatTask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChatTask").field("label", &self.label).finish_non_exhaustive()
    }
}

fn provider_id(kind: ProviderKind) -> Option<ProviderId> {
    Some(match kind {
        ProviderKind::Anthropic => ProviderId::Anthropic,
        ProviderKind::OpenAi => ProviderId::OpenAi,
        ProviderKind::Groq => ProviderId::Groq,
        ProviderKind::Xai => ProviderId::Xai,
        ProviderKind::OpenAiCompatible => ProviderId::OpenAiCompatible,
        ProviderKind::Local => return None,
    })
}

impl ChatTask {
    /// Sets the chat up from the configuration (or explains why it cannot answer). Without a
    /// usable configuration, a model file on the boot partition answers.
    pub fn new(
        settings: Option<&MoteConfig>,
        tls: Option<Arc<tls::rustls::ClientConfig>>,
        model: Option<&ModelFile>,
        seed: u64,
    ) -> ChatTask {
        let (backend, label) = match settings.map(|s| (s.provider.active, s.active_provider())) {
            None => match model {
                Some(file) if !matches!(file.load, ModelLoad::Missing) => load_local(file, seed),
                _ => (
                    Backend::Unavailable(String::from(
                        "no provider is set up: put a config.toml (or a model.gguf) in \\moteos\\ on the boot partition (see the README)",
                    )),
                    String::from("moteOS · no provider"),
                ),
            },
            Some((kind, None)) => (
                Backend::Unavailable(format!(
                    "{} is chosen but [providers.{}] is missing from config.toml",
                    kind.display_name(),
                    kind.as_str()
                )),
                format!("moteOS · {}", kind.display_name()),
            ),
            Some((_, Some(ActiveProvider::Local { model_file }))) => match model {
                Some(file) => load_local(file, seed),
                None => (
                    Backend::Unavailable(format!("the local model {model_file} was not read at boot")),
                    String::from("local model"),
                ),
            },
            Some((kind, Some(ActiveProvider::Remote { base_url, api_key, model, .. }))) => {
                let label = format!("{} · {model}", kind.display_name());
                match provider_id(kind)
                    .ok_or_else(|| String::from("unknown provider"))
                    .and_then(|id| Provider::new(id, base_url, api_key).map_err(|e| format!("{e}")))
                {
                    Ok(provider) => (Backend::Remote { provider, model: String::from(model), tls }, label),
                    Err(why) => (Backend::Unavailable(why), label),
                }
            }
        };
        let budget = match &backend {
            Backend::Remote { provider, model, .. } => {
                info!("chat: {} at {} with model {model}", provider.id().display_name(), provider.base_url());
                CONTEXT_BUDGET
            }
            Backend::Local(_) => LOCAL_BUDGET,
            Backend::Unavailable(why) => {
                warn!("chat: {why}");
                CONTEXT_BUDGET
            }
        };
        let mut task = ChatTask {
            chat: Chat::new(None, budget),
            backend,
            label,
            input: String::new(),
            notice: String::new(),
            network_status: String::new(),
            speed: String::new(),
            active: None,
            models: None,
            cancel: false,
            drawn: None,
            last_draw_ms: 0,
        };
        if let Backend::Unavailable(why) = &task.backend {
            task.notice = why.clone();
        }
        // A hosted provider's key over plain HTTP on the LAN: allowed, but said once on screen.
        if let Backend::Remote { provider, .. } = &task.backend
            && let Some(warning) = provider.plain_http_warning()
        {
            warn!("chat: {warning}");
            task.notice = warning;
        }
        task
    }

    /// Whether the local model is working on a reply: the main loop then keeps the CPU
    /// busy instead of halting.
    pub fn wants_cpu(&self) -> bool {
        self.active.as_ref().is_some_and(|a| matches!(a.source, Source::Local { .. }))
    }

    /// Shows the network state in the status bar.
    pub fn set_network_status(&mut self, status: &str) {
        if self.network_status != status {
            self.network_status = String::from(status);
            self.drawn = None;
        }
    }

    /// Shows an error that did not come from the chat itself (a failed download...).
    pub fn set_notice(&mut self, notice: &str) {
        if self.notice != notice {
            self.notice = String::from(notice);
            self.drawn = None;
        }
    }

    /// Applies one key to the input line.
    pub fn on_key(&mut self, key: KeyEvent) {
        info!("key: {key}");
        match key.key {
            Key::Char('c') if key.modifiers.ctrl => {
                if self.active.is_some() {
                    self.cancel = true;
                }
            }
            Key::Char('u') if key.modifiers.ctrl => self.input.clear(),
            Key::Char(c) if !key.modifiers.ctrl && !key.modifiers.alt => {
                if self.input.chars().count() < MAX_INPUT_CHARS {
                    self.input.push(c);
                }
            }
            Key::Backspace => {
                self.input.pop();
            }
            Key::Enter => {
                info!("line: {}", self.input);
                let line = self.input.clone();
                let taken =
                    if line.trim_start().starts_with('/') { self.command(line.trim()) } else { self.submit(&line) };
                if taken {
                    self.input.clear();
                }
            }
            _ => return,
        }
        self.drawn = None;
    }

    /// Runs a `/command` typed in the chat; returns whether it was taken.
    fn command(&mut self, line: &str) -> bool {
        console_write(&format!("\nyou: {line}\n"));
        match line.split_whitespace().next().unwrap_or("") {
            "/help" => self.say("commands: /models lists the models the provider offers; /help shows this"),
            "/models" => match &self.backend {
                Backend::Remote { provider, model, tls } => {
                    if self.models.is_some() {
                        self.notice = String::from("the model list is already being fetched");
                        return false;
                    }
                    match Exchange::new("models", &provider.models_request(), tls.clone(), Timeouts::LLM) {
                        Ok(exchange) => {
                            info!("chat: asking {} for its models (using {model})", provider.id().display_name());
                            self.models =
                                Some(ModelsFetch { exchange: Box::new(exchange), status: 0, body: Vec::new() });
                        }
                        Err(why) => self.say(&format!("the model list cannot be fetched: {why}")),
                    }
                }
                Backend::Local(_) => {
                    let label = self.label.clone();
                    self.say(&format!("models: {label} (the model file on the boot partition)"));
                }
                Backend::Unavailable(why) => {
                    let why = why.clone();
                    self.notice = why;
                    return false;
                }
            },
            other => {
                self.notice = format!("unknown command {other}: try /help");
                return false;
            }
        }
        true
    }

    /// Shows moteOS's answer to a command, on screen and serial.
    fn say(&mut self, text: &str) {
        console_write(&format!("{text}\n"));
        info!("chat: {text}");
        self.chat.info(text);
        self.drawn = None;
    }

    /// Moves a `/models` request along; shows the list (or the built-in one) when done.
    fn step_models(&mut self, network: Option<&mut Network>) {
        let Some(fetch) = self.models.as_mut() else { return };
        let Backend::Remote { provider, model, .. } = &self.backend else {
            self.models = None;
            return;
        };
        let name = provider.id().display_name();
        let outcome = match network {
            None => Some(Err(String::from("there is no network"))),
            Some(network) => {
                let (status, body) = (&mut fetch.status, &mut fetch.body);
                let mut sink = |event: ResponseEvent<'_>| match event {
                    ResponseEvent::Head(head) => *status = head.status,
                    ResponseEvent::Body(bytes) => {
                        let room = MAX_MODELS_BODY.saturating_sub(body.len());
                        body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    }
                    ResponseEvent::End => {}
                };
                let mut result = None;
                loop {
                    match fetch.exchange.step(network, &mut sink) {
                        Ok(true) if !fetch.exchange.is_finished() => {
                            network.poll();
                        }
                        Ok(_) => break,
                        Err(why) => {
                            result = Some(Err(why));
                            break;
                        }
                    }
                }
                if result.is_none() && fetch.exchange.is_finished() {
                    result = Some(match fetch.status {
                        200..=299 => provider.parse_models(&fetch.body).map_err(|e| format!("{e}")),
                        status => Err(format!("HTTP {status}")),
                    });
                }
                result
            }
        };
        let Some(outcome) = outcome else { return };
        self.models = None;
        let text = match outcome {
            Ok(list) if !list.is_empty() => format!("models: {} (using {model})", list.join(", ")),
            Ok(_) | Err(_) => {
                let why = match &outcome {
                    Err(why) => why.clone(),
                    Ok(_) => String::from("the list is empty"),
                };
                let builtin = llm::builtin_models(provider.id());
                if builtin.is_empty() {
                    format!("{name} did not list its models ({why}); using {model}")
                } else {
                    format!(
                        "{name} did not list its models ({why}); known models: {} (using {model})",
                        builtin.join(", ")
                    )
                }
            }
        };
        self.say(&text);
    }

    /// Sends `line`; returns whether it was taken (otherwise it stays in the input field
    /// and the notice says why).
    fn submit(&mut self, line: &str) -> bool {
        if line.trim().is_empty() {
            return true;
        }
        if let Backend::Unavailable(why) = &self.backend {
            // Nothing can answer until the configuration changes: keep the words on screen
            // (marked as not sent) rather than in the way of the next line.
            let why = why.clone();
            warn!("chat: {why}");
            self.notice = why;
            self.chat.record_unsent(line);
            return true;
        }
        if let Err(e) = self.chat.submit(line) {
            self.notice = format!("{e}");
            return false;
        }
        let messages = self.chat.request_messages();
        console_write(&format!("\nyou: {}\n", line.trim()));
        self.notice.clear();
        let sent_ms = time::now().as_millis();
        let system = self.chat.system();
        let started = match &mut self.backend {
            Backend::Remote { provider, model, tls } => {
                let request = ChatRequest { system, max_tokens: MAX_TOKENS, ..ChatRequest::new(model, &messages) };
                let planned = provider
                    .chat_request(&request)
                    .map_err(|e| format!("{e}"))
                    .and_then(|request| Exchange::new("chat", &request, tls.clone(), Timeouts::LLM));
                match planned {
                    Ok(exchange) => {
                        info!("chat: sending {} messages to {}", messages.len(), provider.id().display_name());
                        Ok(Source::Remote { exchange: Box::new(exchange), decoder: Box::new(provider.reply_decoder()) })
                    }
                    Err(why) => {
                        Err(LlmError::new(provider.id().display_name(), ErrorKind::InvalidSettings, None, &why))
                    }
                }
            }
            Backend::Local(engine) => {
                let turns: Vec<inference::Message<'_>> = messages
                    .iter()
                    .map(|m| match m.role {
                        llm::Role::User => inference::Message::user(&m.content),
                        llm::Role::Assistant => inference::Message::assistant(&m.content),
                    })
                    .collect();
                let params = SamplingParams { max_tokens: LOCAL_MAX_TOKENS, ..SamplingParams::default() };
                // The budget is an estimate; when the real token count does not fit, leave
                // out the oldest exchange and try again (the last message always stays).
                let mut first = 0;
                loop {
                    match engine.start(&turns[first..], params.clone()) {
                        Ok(()) => {
                            info!("chat: the local model is reading {} messages", turns.len() - first);
                            break Ok(Source::Local { text_bytes: 0 });
                        }
                        Err(inference::ChatError::Engine(inference::EngineError::PromptTooLong { .. }))
                            if first + 2 < turns.len() =>
                        {
                            first += 2;
                        }
                        Err(e) => {
                            break Err(LlmError::new(LOCAL_NAME, ErrorKind::InvalidSettings, None, &format!("{e}")));
                        }
                    }
                }
            }
            Backend::Unavailable(_) => return false,
        };
        match started {
            Ok(source) => {
                self.active = Some(Active {
                    source,
                    sent_ms,
                    first_text_ms: None,
                    first_shown_ms: None,
                    output_tokens: None,
                    skipped: Vec::new(),
                });
            }
            Err(error) => self.apply(&[ReplyEvent::Failed(error)]),
        }
        true
    }

    /// Moves the reply (and any `/models` request) in flight along. Returns whether
    /// anything changed.
    pub fn step(&mut self, mut network: Option<&mut Network>) -> bool {
        if self.models.is_some() {
            self.step_models(network.as_deref_mut());
        }
        let Some(active) = self.active.as_mut() else { return false };
        if self.cancel {
            self.cancel = false;
            match (&mut active.source, &mut self.backend, network) {
                (Source::Remote { exchange, .. }, _, Some(network)) => exchange.abort(network),
                (Source::Local { .. }, Backend::Local(engine), _) => engine.cancel(),
                _ => {}
            }
            self.finish_console();
            self.active = None;
            info!("chat: reply stopped by the user (Ctrl+C)");
            self.chat.stop("stopped (Ctrl+C)");
            self.drawn = None;
            return true;
        }
        let mut events = Vec::new();
        // Logged after the reply's line is finished on the console.
        let mut summary = None;
        let moved = match &mut active.source {
            Source::Remote { exchange, decoder } => match network {
                Some(network) => Self::step_remote(exchange, decoder, network, &mut events),
                None => {
                    decoder.on_disconnect("there is no network: moteOS found no network card", &mut events);
                    true
                }
            },
            Source::Local { text_bytes } => {
                let Backend::Local(engine) = &mut self.backend else { return false };
                match engine.step() {
                    Ok(ChatStep::Prefill { .. }) => {}
                    Ok(ChatStep::Text(text)) => {
                        *text_bytes += text.len();
                        events.push(ReplyEvent::Text(text));
                        // The status bar follows the speed while the reply is written.
                        let stats = engine.stats();
                        if stats.generated_tokens % 8 == 0 {
                            self.speed = format!("{:.1} tok/s", engine.generation_tokens_per_second());
                            self.drawn = None;
                        }
                    }
                    Ok(ChatStep::Finished(reason)) => {
                        let stats = engine.stats();
                        active.output_tokens = u32::try_from(stats.generated_tokens).ok();
                        self.speed = format!(
                            "{:.1} tok/s (prompt {:.0} tok/s)",
                            engine.generation_tokens_per_second(),
                            engine.prompt_tokens_per_second()
                        );
                        summary = Some(format!(
                            "chat: local model: {} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s",
                            stats.prompt_tokens,
                            engine.prompt_tokens_per_second(),
                            stats.generated_tokens,
                            engine.generation_tokens_per_second()
                        ));
                        events.push(match (reason, *text_bytes) {
                            (_, 0) => ReplyEvent::Failed(LlmError::new(
                                LOCAL_NAME,
                                ErrorKind::EmptyReply,
                                None,
                                "it stopped before writing anything",
                            )),
                            (inference::FinishReason::MaxTokens | inference::FinishReason::ContextFull, _) => {
                                ReplyEvent::Finished(FinishReason::Length)
                            }
                            _ => ReplyEvent::Finished(FinishReason::Stop),
                        });
                    }
                    Err(e) => events.push(ReplyEvent::Failed(LlmError::new(
                        LOCAL_NAME,
                        ErrorKind::StreamError,
                        None,
                        &format!("{e}"),
                    ))),
                }
                true
            }
        };
        if !events.is_empty() {
            self.apply(&events);
        }
        if let Some(summary) = summary {
            info!("{summary}");
        }
        moved
    }

    fn step_remote(
        exchange: &mut Exchange,
        decoder: &mut ReplyDecoder,
        network: &mut Network,
        events: &mut Vec<ReplyEvent>,
    ) -> bool {
        let mut moved = false;
        loop {
            let mut sink = |event: ResponseEvent<'_>| match event {
                ResponseEvent::Head(head) => {
                    info!("chat: HTTP {} {}", head.status, head.content_type().unwrap_or(""));
                    decoder.on_head(&head);
                }
                ResponseEvent::Body(bytes) => decoder.on_body(bytes, events),
                ResponseEvent::End => decoder.on_end(events),
            };
            match exchange.step(network, &mut sink) {
                Ok(true) => moved = true,
                Ok(false) => break,
                Err(why) => {
                    decoder.on_disconnect(&why, events);
                    moved = true;
                    break;
                }
            }
            if exchange.is_finished() || decoder.is_done() {
                break;
            }
            network.poll();
        }
        // The reply can be complete (or failed) before the HTTP body's last chunk: close
        // the connection instead of leaving it open.
        if decoder.is_done() && !exchange.is_finished() {
            exchange.close(network);
        }
        moved
    }

    fn apply(&mut self, events: &[ReplyEvent]) {
        let now = time::now().as_millis();
        for event in events {
            match event {
                ReplyEvent::Text(text) => {
                    if let Some(active) = self.active.as_mut()
                        && active.first_text_ms.is_none()
                    {
                        active.first_text_ms = Some(now);
                        info!("chat: first text after {} ms", now.saturating_sub(active.sent_ms));
                        // After the log line, so the reply reads as one line on a terminal.
                        console_write("assistant: ");
                    }
                    // A server must not be able to drive the terminal with escape sequences.
                    let shown: String =
                        text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect();
                    console_write(&shown);
                }
                ReplyEvent::Usage(usage) => {
                    if let Some(active) = self.active.as_mut() {
                        active.output_tokens = usage.output_tokens.or(active.output_tokens);
                    }
                }
                ReplyEvent::Finished(reason) => {
                    self.finish_console();
                    if let Some(active) = self.active.take() {
                        let total = now.saturating_sub(active.sent_ms);
                        let first = active.first_text_ms.map_or(0, |t| t.saturating_sub(active.sent_ms));
                        let shown = active
                            .first_shown_ms
                            .map_or(String::from("?"), |t| format!("{}", t.saturating_sub(active.sent_ms)));
                        let streamed = now.saturating_sub(active.first_text_ms.unwrap_or(now));
                        if let Some(tokens) = active.output_tokens
                            && streamed > 0
                        {
                            self.speed = format!("{} tok/s", u64::from(tokens) * 1000 / streamed);
                        }
                        info!(
                            "chat: reply complete ({}): {} bytes, {} tokens, first text after {first} ms (on screen after {shown} ms), {total} ms in all",
                            reason.as_str(),
                            match &active.source {
                                Source::Remote { decoder, .. } => decoder.text_bytes(),
                                Source::Local { text_bytes } => *text_bytes,
                            },
                            active.output_tokens.map_or(String::from("?"), |t| format!("{t}")),
                        );
                    }
                }
                ReplyEvent::Failed(error) => {
                    self.finish_console();
                    self.active = None;
                    warn!("chat: error: {error}");
                    self.notice = format!("{error}");
                }
                ReplyEvent::Skipped(what) => match self.active.as_mut() {
                    Some(active) => active.skipped.push(what.clone()),
                    None => warn!("chat: skipped {what}"),
                },
            }
            self.chat.on_reply(event);
        }
        self.drawn = None;
    }

    /// Ends the reply's line on the serial console, if one was started.
    fn finish_console(&mut self) {
        if let Some(active) = self.active.as_mut() {
            if active.first_text_ms.is_some() {
                console_write("\n");
            }
            for what in active.skipped.drain(..) {
                warn!("chat: skipped {what}");
            }
        }
    }

    /// How soon the screen wants another look (a throttled redraw is pending).
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.drawn.is_none().then_some(STREAM_REDRAW_MS)
    }

    /// Redraws the screen if anything changed (at most every `STREAM_REDRAW_MS` while
    /// streaming).
    pub fn draw(&mut self, display: &mut Display) {
        let now = time::now().as_millis();
        if self.drawn.is_some() {
            let key = (self.chat.generation(), self.input.len(), self.notice.len(), self.network_status.len());
            if self.drawn == Some(key) {
                return;
            }
        }
        // Throttled while streaming, except for the first text: that one is the
        // moment the user sees the model answer.
        let first_text = self.active.as_ref().is_some_and(|a| a.first_text_ms.is_some() && a.first_shown_ms.is_none());
        if self.active.is_some() && !first_text && now.saturating_sub(self.last_draw_ms) < STREAM_REDRAW_MS {
            return;
        }
        self.last_draw_ms = now;
        self.drawn = Some((self.chat.generation(), self.input.len(), self.notice.len(), self.network_status.len()));
        let blocks: Vec<ChatBlock<'_>> = self
            .chat
            .transcript()
            .iter()
            .map(|entry| ChatBlock {
                speaker: match entry.who {
                    Who::User => Speaker::User,
                    Who::Assistant => Speaker::Assistant,
                    Who::System => Speaker::Notice,
                    Who::Info => Speaker::Info,
                },
                text: &entry.text,
                mark: match entry.state {
                    EntryState::Cut => Some("[cut short]"),
                    EntryState::NotSent => Some("[not sent]"),
                    _ => None,
                },
                streaming: entry.state == EntryState::Streaming,
            })
            .collect();
        let status = if self.speed.is_empty() {
            self.network_status.clone()
        } else {
            format!("{} · {}", self.speed, self.network_status)
        };
        let view = ChatView {
            provider: &self.label,
            status: &status,
            blocks: &blocks,
            input: &self.input,
            placeholder: "Type a message and press Enter",
            notice: &self.notice,
        };
        draw_chat(display.canvas(), &view);
        display.present();
        if first_text && let Some(active) = self.active.as_mut() {
            // Logged with the reply's summary: a log line now would split the reply on serial.
            active.first_shown_ms = Some(time::now().as_millis());
        }
    }
}

/// The local engine over the model file read at boot, or why it cannot run.
fn load_local(file: &ModelFile, seed: u64) -> (Backend, String) {
    let label = String::from("local model");
    let bytes = match &file.load {
        ModelLoad::Loaded(bytes) => *bytes,
        ModelLoad::Missing => {
            return (
                Backend::Unavailable(format!("the local model {} is not on the boot partition", file.path)),
                label,
            );
        }
        ModelLoad::Unreadable(why) => {
            return (Backend::Unavailable(format!("the local model {} cannot be loaded: {why}", file.path)), label);
        }
    };
    let started = time::now().as_millis();
    let options = EngineOptions {
        context: LOCAL_CONTEXT,
        seed,
        prefill_batch: LOCAL_PREFILL_BATCH,
        clock: Some(micros),
        ..EngineOptions::default()
    };
    match ChatEngine::load(bytes, options) {
        Ok(engine) => {
            let name = engine.engine().gguf().get_str("general.name").unwrap_or("model");
            let label = format!("local · {name}");
            let kernels = match engine.engine().kernel_fallback() {
                // The load-time check caught SIMD kernels disagreeing with the portable ones.
                Some(isa) => format!("portable kernels ({} kernels failed their self-check)", isa.name()),
                None => format!("{} kernels", inference::tensor::Kernels::detect().isa().name()),
            };
            info!(
                "chat: local model {} ({} MB) ready in {} ms, {kernels}",
                file.path,
                bytes.len() / 1_000_000,
                time::now().as_millis().saturating_sub(started),
            );
            (Backend::Local(Box::new(engine)), label)
        }
        Err(e) => (Backend::Unavailable(format!("the local model {} cannot be used: {e}", file.path)), label),
    }
}

/// The monotonic clock in microseconds, for the engine's tokens-per-second figures.
fn micros() -> u64 {
    time::now().as_nanos() / 1000
}
