//! Chat on top of the engine: a conversation goes through the model's chat template and the
//! tokenizer, and the reply streams back as text pieces (complete UTF-8 only).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::engine::{Engine, EngineError, EngineOptions, FinishReason, Stats, Step};
use crate::model::LoadError;
use crate::sampler::SamplingParams;
use crate::tokenizer::{ChatTemplate, Decoder, Message, Role, Tokenizer, TokenizerError};

/// Why a chat request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatError {
    /// The model could not be loaded.
    Load(LoadError),
    /// The model's tokenizer could not be built.
    Tokenizer(TokenizerError),
    /// The engine refused the request.
    Engine(EngineError),
    /// The model's chat template is of a format this crate does not render (its first line).
    UnknownTemplate(String),
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Load(e) => e.fmt(f),
            Self::Tokenizer(e) => write!(f, "model tokenizer: {e}"),
            Self::Engine(e) => write!(f, "local model: {e}"),
            Self::UnknownTemplate(start) => write!(
                f,
                "the model's chat template (\"{start}\") is none of the formats moteOS renders (ChatML, Llama 2, Llama 3, Gemma, Phi-3)"
            ),
        }
    }
}

impl core::error::Error for ChatError {}

impl From<LoadError> for ChatError {
    fn from(e: LoadError) -> Self {
        Self::Load(e)
    }
}

impl From<TokenizerError> for ChatError {
    fn from(e: TokenizerError) -> Self {
        Self::Tokenizer(e)
    }
}

impl From<EngineError> for ChatError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

/// What one [`ChatEngine::step`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatStep {
    /// Prompt processing progress.
    Prefill {
        /// Prompt tokens processed so far (reused cache included).
        done: usize,
        /// Prompt length in tokens.
        total: usize,
    },
    /// More of the reply (never empty; a token that ends mid-character yields nothing until the
    /// character is complete, and `step` then goes on to the next token).
    Text(String),
    /// The reply is complete.
    Finished(FinishReason),
}

/// A local chat model: engine + tokenizer + chat template.
#[derive(Debug)]
pub struct ChatEngine<'a> {
    engine: Engine<'a>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    decoder: Decoder,
    reply: String,
}

impl<'a> ChatEngine<'a> {
    /// Loads the model, its tokenizer and chat template (the family's usual format when the file
    /// has no template; a template of an unknown format is refused, naming it).
    pub fn load(bytes: &'a [u8], options: EngineOptions) -> Result<Self, ChatError> {
        let engine = Engine::load(bytes, options)?;
        let tokenizer = Tokenizer::from_gguf(engine.gguf())?;
        let template = match tokenizer.chat_template() {
            Ok(t) => t,
            Err(TokenizerError::NoChatTemplate) => tokenizer.plain_chat_template(engine.config().family.default_chat),
            Err(_) => {
                let source = tokenizer.chat_template_source().unwrap_or_default();
                let first: String = source.trim().lines().next().unwrap_or_default().chars().take(60).collect();
                return Err(ChatError::UnknownTemplate(first));
            }
        };
        Ok(Self { engine, tokenizer, template, decoder: Decoder::skipping_special(), reply: String::new() })
    }

    /// The model family's name ("Qwen3", "Gemma 3"...).
    pub fn family_name(&self) -> &'static str {
        self.engine.config().family.name
    }

    /// Starts a reply to `conversation` (system, user and assistant turns, oldest first; the last
    /// is usually the user's). The part of the conversation already in the KV cache from the
    /// previous request is not recomputed.
    ///
    /// A conversation too long for the context loses its oldest turns (a leading system message
    /// is kept) until it fits with room for a quarter of the context as reply; if even the last
    /// turn alone does not fit, [`EngineError::PromptTooLong`] is returned.
    pub fn start(&mut self, conversation: &[Message<'_>], params: SamplingParams) -> Result<(), ChatError> {
        let context = self.engine.options().context;
        let room = context - context / 4;
        let system = usize::from(conversation.first().is_some_and(|m| m.role == Role::System));
        let mut first = system;
        let mut tokens = self.tokenizer.encode_conversation(&self.template, conversation, true);
        while tokens.len() > room && first + 1 < conversation.len() {
            first += 1;
            let kept: Vec<Message<'_>> = conversation[..system].iter().chain(&conversation[first..]).copied().collect();
            tokens = self.tokenizer.encode_conversation(&self.template, &kept, true);
        }
        self.engine.begin(&tokens, params)?;
        self.decoder = Decoder::skipping_special();
        self.reply.clear();
        Ok(())
    }

    /// Does one bounded piece of work (a prompt batch or one token) and reports it.
    pub fn step(&mut self) -> Result<ChatStep, ChatError> {
        loop {
            match self.engine.step()? {
                Step::Prefill { done, total } => return Ok(ChatStep::Prefill { done, total }),
                Step::Token(t) => {
                    let text = self.decoder.push(&self.tokenizer, t);
                    if !text.is_empty() {
                        self.reply.push_str(&text);
                        return Ok(ChatStep::Text(text));
                    }
                }
                Step::Finished(reason) => {
                    let tail = self.decoder.finish();
                    if !tail.is_empty() {
                        self.reply.push_str(&tail);
                        return Ok(ChatStep::Text(tail));
                    }
                    return Ok(ChatStep::Finished(reason));
                }
            }
        }
    }

    /// Runs the whole reply and returns it (for tests and tools).
    pub fn reply_to(&mut self, conversation: &[Message<'_>], params: SamplingParams) -> Result<String, ChatError> {
        self.start(conversation, params)?;
        while !matches!(self.step()?, ChatStep::Finished(_)) {}
        Ok(self.reply.clone())
    }

    /// Stops the reply at the next step (Ctrl+C).
    pub fn cancel(&mut self) {
        self.engine.cancel();
    }

    /// The reply so far.
    pub fn reply(&self) -> &str {
        &self.reply
    }

    /// Token counts and times of the current (or last) reply.
    pub fn stats(&self) -> Stats {
        self.engine.stats()
    }

    /// Prompt tokens per second of the last reply (0 without a clock).
    pub fn prompt_tokens_per_second(&self) -> f64 {
        self.engine.stats().prompt_tokens_per_second()
    }

    /// Generated tokens per second of the last reply (0 without a clock).
    pub fn generation_tokens_per_second(&self) -> f64 {
        self.engine.stats().generation_tokens_per_second()
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Engine<'a> {
        &self.engine
    }

    /// The engine underneath, mutably (e.g. to reset the conversation).
    pub fn engine_mut(&mut self) -> &mut Engine<'a> {
        &mut self.engine
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The chat template in use.
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// Token ids of a conversation as [`ChatEngine::start`] would feed them.
    pub fn encode(&self, conversation: &[Message<'_>]) -> Vec<u32> {
        self.tokenizer.encode_conversation(&self.template, conversation, true)
    }
}
