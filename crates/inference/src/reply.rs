//! The local model as an [`llm::ReplySource`]: the same events a remote provider's reply
//! produces, so the caller's loop treats both alike.

use alloc::string::ToString;
use alloc::vec::Vec;

use llm::{Activity, ErrorKind, FinishReason as ReplyFinish, LlmError, ReplyEvent, ReplySource, Usage};

use crate::chat::{ChatEngine, ChatError, ChatStep};
use crate::engine::{EngineError, FinishReason};
use crate::sampler::SamplingParams;
use crate::tokenizer::Message;

/// How the local model is named in messages.
const NAME: &str = "the local model";
/// Token counts are reported this often while the reply is written.
const USAGE_EVERY: usize = 8;

impl ChatEngine<'_> {
    /// Starts a reply to a provider-style conversation (`system` first if given). When the
    /// real token count does not fit the context, the oldest exchanges are left out and it
    /// tries again (the last message always stays). Fails with the sentence to show.
    pub fn start_reply(
        &mut self,
        system: Option<&str>,
        messages: &[llm::Message],
        params: SamplingParams,
    ) -> Result<(), LlmError> {
        let mut turns: Vec<Message<'_>> = Vec::with_capacity(messages.len() + 1);
        if let Some(system) = system {
            turns.push(Message::system(system));
        }
        let skip = turns.len();
        turns.extend(messages.iter().map(|m| match m.role {
            llm::Role::User => Message::user(&m.content),
            llm::Role::Assistant => Message::assistant(&m.content),
        }));
        let mut first = skip;
        loop {
            let kept: Vec<Message<'_>> = turns[..skip].iter().chain(&turns[first..]).copied().collect();
            match self.start(&kept, params.clone()) {
                Ok(()) => return Ok(()),
                Err(ChatError::Engine(EngineError::PromptTooLong { .. })) if first + 2 < turns.len() => first += 2,
                Err(e) => return Err(LlmError::new(NAME, ErrorKind::InvalidSettings, None, &e.to_string())),
            }
        }
    }

    fn usage(&self) -> Usage {
        let stats = self.stats();
        Usage {
            input_tokens: u32::try_from(stats.prompt_tokens).ok(),
            output_tokens: u32::try_from(stats.generated_tokens).ok(),
        }
    }
}

impl<Io: ?Sized> ReplySource<Io> for ChatEngine<'_> {
    fn step(&mut self, _io: Option<&mut Io>, _now_ms: u64, out: &mut Vec<ReplyEvent>) -> Activity {
        match ChatEngine::step(self) {
            Ok(ChatStep::Prefill { done, total }) => {
                out.push(ReplyEvent::Prompt {
                    done: u32::try_from(done).unwrap_or(u32::MAX),
                    total: u32::try_from(total).unwrap_or(u32::MAX),
                });
                Activity::Busy
            }
            Ok(ChatStep::Text(text)) => {
                out.push(ReplyEvent::Text(text));
                if self.stats().generated_tokens.is_multiple_of(USAGE_EVERY) {
                    out.push(ReplyEvent::Usage(self.usage()));
                }
                Activity::Busy
            }
            Ok(ChatStep::Finished(reason)) => {
                out.push(ReplyEvent::Usage(self.usage()));
                out.push(if self.reply().trim().is_empty() {
                    ReplyEvent::Failed(LlmError::new(
                        NAME,
                        ErrorKind::EmptyReply,
                        None,
                        "it stopped before writing anything",
                    ))
                } else {
                    ReplyEvent::Finished(match reason {
                        FinishReason::MaxTokens | FinishReason::ContextFull => ReplyFinish::Length,
                        _ => ReplyFinish::Stop,
                    })
                });
                Activity::Done
            }
            Err(e) => {
                out.push(ReplyEvent::Failed(LlmError::new(NAME, ErrorKind::StreamError, None, &e.to_string())));
                Activity::Done
            }
        }
    }

    fn cancel(&mut self, _io: Option<&mut Io>) {
        ChatEngine::cancel(self);
    }
}
