//! The step-wise inference engine: each [`Engine::step`] call does a bounded amount of work (one
//! prompt batch or one generated token) so an event loop can check the keyboard in between.

use alloc::vec::Vec;
use core::fmt;

use crate::gguf::Gguf;
use crate::model::{Config, LoadError, Model, Precision, State};
use crate::pool::{SingleThread, WorkPool};
use crate::sampler::{Sampler, SamplingParams};
use crate::tensor::{Isa, Kernels};

/// How the engine is set up.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Positions in the KV cache (prompt + reply, all turns of a conversation). Clamped to the
    /// model's training context.
    pub context: usize,
    /// Seed of the sampler's random generator.
    pub seed: u64,
    /// Prompt tokens processed per [`Engine::step`] (larger is faster, smaller more responsive);
    /// with a [`EngineOptions::prefill_budget_micros`], the most per step.
    pub prefill_batch: usize,
    /// With a clock, how long one prompt step may take, in microseconds: steps start at
    /// [`MIN_ADAPTIVE_BATCH`] tokens, the batch doubles (up to `prefill_batch`) after a full step
    /// that took under half of this and halves (down to [`MIN_ADAPTIVE_BATCH`]) after one that
    /// took longer. A fast machine gets large batches (weights read once for many tokens), a slow
    /// one stays responsive. 0 (the default): every step is `prefill_batch` tokens.
    pub prefill_budget_micros: u64,
    /// Kernels to use; `None` picks the best this CPU supports.
    pub kernels: Option<Kernels>,
    /// A monotonic clock in microseconds, for the tokens-per-second figures; `None` disables timing.
    pub clock: Option<fn() -> u64>,
    /// Quantised (normal) or float matrix products (slow; for verification).
    pub precision: Precision,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            context: 2048,
            seed: 0,
            prefill_batch: 32,
            prefill_budget_micros: 0,
            kernels: None,
            clock: None,
            precision: Precision::Quantized,
        }
    }
}

/// The smallest prompt step an adaptive batch goes down to: the width of the 4-token tile kernels
/// (a smaller batch costs more per token and is no more responsive on a machine where four tokens
/// already take longer than the budget).
pub const MIN_ADAPTIVE_BATCH: usize = 4;

/// What one [`Engine::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Processed prompt tokens: `done` of `total` so far.
    Prefill {
        /// Prompt tokens processed so far (reused cache included).
        done: usize,
        /// Prompt length.
        total: usize,
    },
    /// Generated a token.
    Token(u32),
    /// Generation is over (returned again by further calls until the next `begin`).
    Finished(FinishReason),
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced a stop token (not reported as a [`Step::Token`]).
    Stop(u32),
    /// `max_tokens` were generated.
    MaxTokens,
    /// The KV cache is full.
    ContextFull,
    /// [`Engine::cancel`] was called.
    Cancelled,
}

/// A request the engine cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// `step` before any `begin`.
    NotStarted,
    /// An empty prompt gives the model nothing to continue.
    EmptyPrompt,
    /// The prompt does not fit the context.
    PromptTooLong {
        /// Prompt tokens.
        tokens: usize,
        /// Context size.
        context: usize,
    },
    /// A token id outside the vocabulary.
    TokenOutOfRange {
        /// The id.
        token: u32,
        /// Vocabulary size.
        vocab: usize,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotStarted => f.write_str("the engine was asked for a token before it was given a prompt"),
            Self::EmptyPrompt => f.write_str("the prompt is empty"),
            Self::PromptTooLong { tokens, context } => {
                write!(f, "the prompt has {tokens} tokens but the context holds only {context}")
            }
            Self::TokenOutOfRange { token, vocab } => {
                write!(f, "token id {token} is outside the model's vocabulary of {vocab}")
            }
        }
    }
}

impl core::error::Error for EngineError {}

/// Counters for the tokens-per-second figures (times need [`EngineOptions::clock`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Prompt tokens run through the model for the current request (cache hits excluded).
    pub prompt_tokens: usize,
    /// Prompt tokens reused from the KV cache.
    pub reused_tokens: usize,
    /// Microseconds spent on the prompt.
    pub prompt_micros: u64,
    /// Tokens generated for the current request.
    pub generated_tokens: usize,
    /// Microseconds spent generating.
    pub generation_micros: u64,
}

impl Stats {
    /// Prompt tokens per second (0 without a clock).
    pub fn prompt_tokens_per_second(&self) -> f64 {
        per_second(self.prompt_tokens, self.prompt_micros)
    }

    /// Generated tokens per second (0 without a clock).
    pub fn generation_tokens_per_second(&self) -> f64 {
        per_second(self.generated_tokens, self.generation_micros)
    }
}

fn per_second(n: usize, micros: u64) -> f64 {
    if micros == 0 { 0.0 } else { n as f64 * 1e6 / micros as f64 }
}

#[derive(Debug)]
enum Phase {
    Idle,
    Prefill { done: usize },
    Generate { pending: Option<u32> },
    Finished(FinishReason),
}

/// A loaded model with its KV cache, sampler and the request in progress.
#[derive(Debug)]
pub struct Engine<'a> {
    gguf: Gguf<'a>,
    model: Model<'a>,
    state: State,
    sampler: Sampler,
    options: EngineOptions,
    params: SamplingParams,
    phase: Phase,
    /// Every token of the conversation so far; the first `cached` have their K/V in the cache.
    tokens: Vec<u32>,
    cached: usize,
    prompt_len: usize,
    stop_tokens: Vec<u32>,
    stats: Stats,
    kernel_fallback: Option<Isa>,
    pool: PoolRef<'a>,
    /// Prompt tokens the next prompt step takes (see [`EngineOptions::prefill_budget_micros`]).
    batch: usize,
}

/// The pool in use (printed as its thread count).
#[derive(Clone, Copy)]
struct PoolRef<'a>(&'a dyn WorkPool);

impl fmt::Debug for PoolRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkPool({} threads)", self.0.threads())
    }
}

/// End-of-turn markers of common chat formats, stopped on when the vocabulary has them.
const END_MARKERS: [&str; 8] =
    ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<end_of_turn>", "<|end|>"];

impl<'a> Engine<'a> {
    /// Parses the GGUF file, maps the weights and allocates the KV cache.
    pub fn load(bytes: &'a [u8], options: EngineOptions) -> Result<Self, LoadError> {
        let gguf = Gguf::parse(bytes)?;
        let kernels = options.kernels.unwrap_or_else(Kernels::detect);
        let mut model = Model::load(&gguf, kernels)?;
        // Automatically chosen SIMD kernels must agree with the portable ones on this model's
        // weights (some paths, NEON among them, cannot be run by the host tests).
        let mut kernel_fallback = None;
        if options.kernels.is_none() && kernels.isa() != Isa::Scalar && !model.kernels_agree_with_portable() {
            kernel_fallback = Some(kernels.isa());
            model = Model::load(&gguf, Kernels::with_isa(Isa::Scalar).unwrap_or(kernels))?;
        }
        model.precision = options.precision;
        let mut options = options;
        options.context = options.context.clamp(1, model.config.train_context.max(1));
        options.prefill_batch = options.prefill_batch.clamp(1, options.context);
        model.set_context(options.context);
        let state = State::new(&model.config, options.context, options.prefill_batch)?;
        let adaptive = options.prefill_budget_micros > 0 && options.clock.is_some();

        let mut stop_tokens = Vec::new();
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
            if let Ok(id) = gguf.get_u32(key) {
                stop_tokens.push(id);
            }
        }
        if let Ok(vocab) = gguf.get_array("tokenizer.ggml.tokens")
            && let Ok(iter) = vocab.iter_str()
        {
            for (id, tok) in iter.enumerate() {
                if let Ok(tok) = tok
                    && END_MARKERS.contains(&tok)
                {
                    stop_tokens.push(id as u32);
                }
            }
        }
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        stop_tokens.retain(|&t| (t as usize) < model.config.vocab);

        Ok(Self {
            gguf,
            model,
            state,
            sampler: Sampler::new(options.seed),
            params: SamplingParams::default(),
            phase: Phase::Idle,
            tokens: Vec::new(),
            cached: 0,
            prompt_len: 0,
            stop_tokens,
            stats: Stats::default(),
            kernel_fallback,
            pool: PoolRef(&SingleThread),
            batch: if adaptive { MIN_ADAPTIVE_BATCH.min(options.prefill_batch) } else { options.prefill_batch },
            options,
        })
    }

    /// The instruction set whose kernels failed the load-time check against the portable
    /// kernels (the engine then runs the portable ones); `None` when all is well.
    pub fn kernel_fallback(&self) -> Option<Isa> {
        self.kernel_fallback
    }

    /// Splits the work of every following step over `pool` (one thread until this is called).
    /// The results are bit-identical whatever the pool.
    pub fn set_pool(&mut self, pool: &'a dyn WorkPool) {
        self.pool = PoolRef(pool);
    }

    /// The parsed file (for the tokenizer and chat template).
    pub fn gguf(&self) -> &Gguf<'a> {
        &self.gguf
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.model.config
    }

    /// The model.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// The options in effect (context and batch after clamping).
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Tokens that end generation.
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop_tokens
    }

    /// Counters of the current (or last) request.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Every token in the context: prompts and generated tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Logits of the last processed position.
    pub fn logits(&self) -> &[f32] {
        &self.state.logits
    }

    /// Forgets the conversation (the KV cache is reused from the start).
    pub fn reset(&mut self) {
        self.tokens.clear();
        self.cached = 0;
        self.phase = Phase::Idle;
    }

    /// Reseeds the sampler.
    pub fn reseed(&mut self, seed: u64) {
        self.sampler = Sampler::new(seed);
    }

    /// Starts a request: `prompt` is the *whole* context to continue (e.g. the full templated
    /// conversation). The longest prefix already in the KV cache is reused.
    pub fn begin(&mut self, prompt: &[u32], params: SamplingParams) -> Result<(), EngineError> {
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if prompt.len() > self.options.context {
            return Err(EngineError::PromptTooLong { tokens: prompt.len(), context: self.options.context });
        }
        let vocab = self.model.config.vocab;
        if let Some(&token) = prompt.iter().find(|&&t| t as usize >= vocab) {
            return Err(EngineError::TokenOutOfRange { token, vocab });
        }
        // At least the last prompt token is recomputed: its logits start the reply.
        let common = self.tokens[..self.cached].iter().zip(prompt).take_while(|(a, b)| a == b).count();
        self.cached = common.min(prompt.len() - 1);
        self.tokens.clear();
        self.tokens.extend_from_slice(prompt);
        self.prompt_len = prompt.len();
        self.params = params;
        self.stats = Stats { reused_tokens: self.cached, ..Stats::default() };
        self.phase = Phase::Prefill { done: self.cached };
        Ok(())
    }

    /// Prompt tokens the next prompt step takes.
    pub fn prefill_batch(&self) -> usize {
        self.batch
    }

    /// After a prompt step of `tokens` that took `micros`: the next step's batch (see
    /// [`EngineOptions::prefill_budget_micros`]).
    fn adapt_batch(&mut self, tokens: usize, micros: u64) {
        let budget = self.options.prefill_budget_micros;
        if budget == 0 || self.options.clock.is_none() {
            return;
        }
        let floor = MIN_ADAPTIVE_BATCH.min(self.state.max_batch);
        if micros > budget {
            self.batch = (self.batch / 2).max(floor);
        } else if tokens == self.batch && micros.saturating_mul(2) < budget {
            // Only a full step says how long a full batch takes (a prompt's last is shorter).
            self.batch = (self.batch * 2).min(self.state.max_batch);
        }
    }

    /// Makes the next `step` end the request with [`FinishReason::Cancelled`].
    pub fn cancel(&mut self) {
        if !matches!(self.phase, Phase::Idle | Phase::Finished(_)) {
            self.phase = Phase::Finished(FinishReason::Cancelled);
        }
    }

    fn now(&self) -> u64 {
        self.options.clock.map_or(0, |c| c())
    }

    /// Does one bounded piece of work: a batch of the prompt, or one generated token.
    pub fn step(&mut self) -> Result<Step, EngineError> {
        match self.phase {
            Phase::Idle => Err(EngineError::NotStarted),
            Phase::Finished(r) => Ok(Step::Finished(r)),
            Phase::Prefill { done } => {
                let start = self.now();
                let end = (done + self.batch).min(self.prompt_len);
                self.model.forward_with(&mut self.state, &self.tokens[done..end], done, self.pool.0);
                self.cached = end;
                self.stats.prompt_tokens += end - done;
                let took = self.now().saturating_sub(start);
                self.stats.prompt_micros += took;
                self.adapt_batch(end - done, took);
                self.phase = if end == self.prompt_len {
                    Phase::Generate { pending: None }
                } else {
                    Phase::Prefill { done: end }
                };
                Ok(Step::Prefill { done: end, total: self.prompt_len })
            }
            Phase::Generate { pending } => {
                let start = self.now();
                if let Some(t) = pending {
                    if self.cached >= self.options.context {
                        self.phase = Phase::Finished(FinishReason::ContextFull);
                        return Ok(Step::Finished(FinishReason::ContextFull));
                    }
                    self.model.forward_with(&mut self.state, &[t], self.cached, self.pool.0);
                    self.cached += 1;
                }
                if self.stats.generated_tokens >= self.params.max_tokens {
                    self.phase = Phase::Finished(FinishReason::MaxTokens);
                    return Ok(Step::Finished(FinishReason::MaxTokens));
                }
                let token = self.sampler.sample(&mut self.state.logits, &self.tokens, &self.params);
                self.stats.generation_micros += self.now().saturating_sub(start);
                if !self.params.ignore_stop_tokens
                    && (self.stop_tokens.contains(&token) || self.params.extra_stop_tokens.contains(&token))
                {
                    // The stop token joins the context (a chat template expects it there); it is
                    // run through the model when the next request continues the conversation.
                    self.tokens.push(token);
                    self.phase = Phase::Finished(FinishReason::Stop(token));
                    return Ok(Step::Finished(FinishReason::Stop(token)));
                }
                self.tokens.push(token);
                self.stats.generated_tokens += 1;
                self.phase = Phase::Generate { pending: Some(token) };
                Ok(Step::Token(token))
            }
        }
    }

    /// Runs the whole request to the end, collecting generated tokens (for tests and tools).
    pub fn generate(
        &mut self,
        prompt: &[u32],
        params: SamplingParams,
    ) -> Result<(Vec<u32>, FinishReason), EngineError> {
        self.begin(prompt, params)?;
        let mut out = Vec::new();
        loop {
            match self.step()? {
                Step::Prefill { .. } => {}
                Step::Token(t) => out.push(t),
                Step::Finished(r) => return Ok((out, r)),
            }
        }
    }
}
