//! The effect runner: the application (`app`) decides, this module does. Keys, reply
//! events and network changes become [`app::Input`]s; the [`app::Effect`]s that come back
//! become device work (a request over the network, the local model, the serial console,
//! the power switch); the state is drawn with `tui` when it changed.
//!
//! No chat policy lives here: what is sent, what is shown and every sentence come from
//! `app`.

use crate::display::Display;
use crate::logger::console_write;
use crate::network::Network;
use crate::storage_service::{SavedTo, ServiceError, StorageService};
use crate::time;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use app::{Effect, Input, Level, ReplyJob, RequestId, State, Target};
use client::{ModelList, RemoteReply};
use core::time::Duration;
use inference::{ChatEngine, SamplingParams};
use llm::{Activity, ChatRequest, ErrorKind, LlmError, ReplyEvent, ReplySource};
use log::{info, trace, warn};
use net::NetStack;
use tui::ui::Renderer;

use crate::drivers::nic::NicDevice;

/// The network stack a request borrows for a step.
type Stack = NetStack<NicDevice>;

/// Least time between two redraws while a reply streams in, so a fast stream spends its
/// time on text rather than on repainting (keys are drawn at once).
const STREAM_REDRAW_MS: u64 = 50;

/// Where the reply in flight comes from.
enum Source {
    Remote(Box<RemoteReply>),
    /// The local engine (held by the runner) is writing it.
    Local,
}

/// The application and the devices its effects use.
pub struct Runner {
    state: State,
    renderer: Renderer,
    tls: Option<Arc<tls::rustls::ClientConfig>>,
    local: Option<Box<ChatEngine<'static>>>,
    reply: Option<(RequestId, Source)>,
    models: Option<(RequestId, ModelList)>,
    /// Whether the last reply step has more work ready (no sleeping meanwhile).
    busy: bool,
    drawn: Option<u64>,
    last_draw_ms: u64,
    power_off: bool,
    /// Files on the boot partition and the settings mirror.
    storage: StorageService,
}

impl core::fmt::Debug for Runner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Runner").field("replying", &self.reply.is_some()).finish_non_exhaustive()
    }
}

impl Runner {
    /// Starts the application.
    pub fn new(
        boot: app::Boot,
        tls: Option<Arc<tls::rustls::ClientConfig>>,
        local: Option<Box<ChatEngine<'static>>>,
        storage: StorageService,
    ) -> Runner {
        let (state, effects) = State::new(boot);
        let mut runner = Runner {
            state,
            renderer: Renderer::new(),
            tls,
            local,
            reply: None,
            models: None,
            busy: false,
            drawn: None,
            last_draw_ms: 0,
            power_off: false,
            storage,
        };
        runner.run(effects, None);
        runner
    }

    /// Feeds one input to the application and runs what it asks for.
    pub fn input(&mut self, input: Input, network: Option<&mut Network>) {
        let effects = app::update(&mut self.state, input, time::now());
        self.run(effects, network);
    }

    /// Whether the application asked to switch the machine off.
    pub fn wants_power_off(&self) -> bool {
        self.power_off
    }

    /// Whether a reply is streaming from a server (not the local model).
    pub fn streams_remote_reply(&self) -> bool {
        matches!(self.reply, Some((_, Source::Remote(_))))
    }

    /// Whether there is work to do right away (the local model computing, input left in
    /// a connection): the main loop then does not halt.
    pub fn wants_cpu(&self) -> bool {
        self.busy
    }

    /// Moves the reply and any model list along by one bounded step each.
    pub fn step(&mut self, mut network: Option<&mut Network>) {
        self.busy = false;
        let now = time::now().as_millis();
        if let Some((id, list)) = self.models.as_mut() {
            let id = *id;
            let outcome = list.step(network.as_deref_mut().map(Network::stack), now);
            self.busy |= list.has_more();
            if let Some(result) = outcome {
                self.models = None;
                self.input(Input::Models { id, result }, network.as_deref_mut());
            }
        }
        let Some((id, source)) = self.reply.as_mut() else { return };
        let id = *id;
        let mut events = Vec::new();
        let activity = match source {
            Source::Remote(reply) => reply.step(network.as_deref_mut().map(Network::stack), now, &mut events),
            Source::Local => match self.local.as_deref_mut() {
                Some(engine) => ReplySource::<Stack>::step(engine, None, now, &mut events),
                None => {
                    events.push(ReplyEvent::Failed(LlmError::new(
                        "the local model",
                        ErrorKind::InvalidSettings,
                        None,
                        "it is not loaded",
                    )));
                    Activity::Done
                }
            },
        };
        let local = matches!(source, Source::Local);
        match activity {
            Activity::Done => {
                if local && let Some(engine) = self.local.as_deref() {
                    // The adaptive prompt batch this machine settled on (4 under emulation).
                    // (Not under "chat: local model: ", which the benchmarks read for the speeds.)
                    info!("chat: local prompt steps ended at {} tokens", engine.engine().prefill_batch());
                }
                self.reply = None;
            }
            Activity::Busy => self.busy = true,
            Activity::Waiting => {}
        }
        for event in events {
            self.input(Input::Reply { id, event }, network.as_deref_mut());
        }
    }

    fn run(&mut self, effects: Vec<Effect>, mut network: Option<&mut Network>) {
        for effect in effects {
            match effect {
                Effect::StartReply(job) => self.start_reply(job, network.as_deref_mut()),
                Effect::CancelReply(id) => {
                    if let Some((current, source)) = self.reply.take_if(|(current, _)| *current == id) {
                        let stack = network.as_deref_mut().map(Network::stack);
                        match source {
                            Source::Remote(mut reply) => ReplySource::cancel(&mut *reply, stack),
                            Source::Local => {
                                if let Some(engine) = self.local.as_deref_mut() {
                                    ReplySource::<Stack>::cancel(engine, stack);
                                }
                            }
                        }
                        let _ = current;
                    }
                }
                Effect::FetchModels { id, provider } => {
                    if let Some((_, mut old)) = self.models.take() {
                        old.cancel(network.as_deref_mut().map(Network::stack));
                    }
                    match ModelList::start(&provider, self.tls.clone(), time::now().as_millis()) {
                        Ok(list) => self.models = Some((id, list)),
                        Err(e) => {
                            let input = Input::Models { id, result: Err(alloc::format!("{e}")) };
                            let effects = app::update(&mut self.state, input, time::now());
                            self.run(effects, network.as_deref_mut());
                        }
                    }
                }
                Effect::Console(text) => console_write(&text),
                Effect::Log(Level::Info, text) => info!("{text}"),
                Effect::Log(Level::Warn, text) => warn!("{text}"),
                Effect::Log(Level::Trace, text) => trace!("{text}"),
                Effect::Redraw => {
                    self.renderer.invalidate();
                    self.drawn = None;
                }
                Effect::PowerOff => self.power_off = true,
                Effect::ListDir { id, path } => {
                    let result = match self.storage.list(&path) {
                        Ok(files) => Ok(files.into_iter().map(|f| (f.name, f.size)).collect()),
                        // A folder never written to is an empty one.
                        Err(ServiceError::Disk(storage::StorageError::NotFound(_))) => Ok(Vec::new()),
                        Err(e) => Err(alloc::format!("{e}")),
                    };
                    self.answer(Input::Dir { id, result }, network.as_deref_mut());
                }
                Effect::ReadFiles { id, paths, limit } => {
                    let started = time::now();
                    let files: Vec<_> = paths
                        .into_iter()
                        .map(|path| {
                            let result = self.storage.read_file(&path, limit).map_err(|e| alloc::format!("{e}"));
                            (path, result)
                        })
                        .collect();
                    info!(
                        "storage: read {} files in {} us",
                        files.len(),
                        time::now().saturating_duration_since(started).as_micros()
                    );
                    self.answer(Input::Files { id, files }, network.as_deref_mut());
                }
                Effect::WriteFile { id, path, bytes } => {
                    let started = time::now();
                    let result = self.storage.write_file(&path, &bytes).map_err(|e| alloc::format!("{e}"));
                    let took = time::now().saturating_duration_since(started).as_micros();
                    let result = result.map(|()| alloc::format!("{path} ({} bytes, {took} us)", bytes.len()));
                    self.answer(Input::Written { id, result }, network.as_deref_mut());
                }
                Effect::RemoveFile { path } => {
                    if let Err(e) = self.storage.remove(&path) {
                        warn!("storage: {path} not removed: {e}");
                    }
                }
                Effect::ConfigureNetwork(settings) => match network.as_deref_mut() {
                    Some(net) => net.reconfigure(&settings),
                    None => log::warn!("net: no network card to configure"),
                },
                Effect::SaveSettings { id, toml } => {
                    let started = time::now();
                    let outcome = self.storage.save_settings(&toml.0);
                    let took = time::now().saturating_duration_since(started).as_micros();
                    let result = match outcome {
                        Ok(SavedTo::FileAndVariable) => {
                            Ok(alloc::format!("\\moteos\\config.toml and the EFI variable ({took} us)"))
                        }
                        Ok(SavedTo::FileOnly(why)) => {
                            Ok(alloc::format!("\\moteos\\config.toml only; the EFI variable failed: {why} ({took} us)"))
                        }
                        Ok(SavedTo::VariableOnly(why)) => Ok(alloc::format!("the EFI variable only: {why}")),
                        Err(e) => Err(alloc::format!("{e}")),
                    };
                    self.answer(Input::Written { id, result }, network.as_deref_mut());
                }
            }
        }
    }

    fn start_reply(&mut self, job: ReplyJob, network: Option<&mut Network>) {
        let now = time::now().as_millis();
        let started = match &job.target {
            Target::Remote { provider, model } => {
                let request = ChatRequest {
                    system: job.system.as_deref(),
                    max_tokens: job.max_tokens,
                    temperature: job.temperature,
                    ..ChatRequest::new(model, &job.messages)
                };
                info!("chat: sending {} messages to {}", job.messages.len(), provider.id().display_name());
                RemoteReply::start(provider, &request, self.tls.clone(), now).map(|r| Source::Remote(Box::new(r)))
            }
            Target::Local => match self.local.as_deref_mut() {
                Some(engine) => {
                    let s = job.sampling;
                    let params = SamplingParams {
                        max_tokens: job.max_tokens as usize,
                        temperature: s.temperature,
                        top_k: s.top_k as usize,
                        top_p: s.top_p,
                        min_p: s.min_p,
                        repetition_penalty: s.repeat_penalty,
                        ..SamplingParams::default()
                    };
                    info!("chat: the local model is reading {} messages", job.messages.len());
                    engine.start_reply(job.system.as_deref(), &job.messages, params).map(|()| Source::Local)
                }
                None => Err(LlmError::new("the local model", ErrorKind::InvalidSettings, None, "it is not loaded")),
            },
        };
        match started {
            Ok(source) => self.reply = Some((job.id, source)),
            Err(error) => self.input(Input::Reply { id: job.id, event: ReplyEvent::Failed(error) }, network),
        }
    }

    /// How soon the screen wants another look (a throttled redraw is pending).
    pub fn next_wake(&self) -> Option<Duration> {
        (self.drawn != Some(self.state.revision())).then_some(Duration::from_millis(STREAM_REDRAW_MS))
    }

    /// Redraws what changed (at most every [`STREAM_REDRAW_MS`] while a reply streams);
    /// returns whether it drew.
    pub fn draw(&mut self, display: &mut Display, network: Option<&mut Network>) -> bool {
        if self.drawn == Some(self.state.revision()) {
            return false;
        }
        let now = time::now().as_millis();
        let streaming = self.state.is_replying() && self.reply.is_some();
        if streaming && !self.state.first_text_unshown() && now.saturating_sub(self.last_draw_ms) < STREAM_REDRAW_MS {
            return false;
        }
        self.last_draw_ms = now;
        self.drawn = Some(self.state.revision());
        let view = app::view(&self.state);
        let geometry = self.renderer.draw(&view.frame(), display.canvas());
        display.present();
        drop(view);
        self.input(Input::Layout(geometry), network);
        true
    }

    /// Feeds the answer to an effect back to the application at once.
    fn answer(&mut self, input: Input, network: Option<&mut Network>) {
        let effects = app::update(&mut self.state, input, time::now());
        self.run(effects, network);
    }

    /// Shows a notice that did not come from the chat (a failed download...).
    pub fn notice(&mut self, text: String, network: Option<&mut Network>) {
        self.input(Input::Notice(text), network);
    }
}
