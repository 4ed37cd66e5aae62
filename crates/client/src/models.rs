//! Fetching the list of models a provider offers.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use http::{ResponseEvent, Timeouts};
use llm::{ErrorKind, LlmError, Provider};
use net::{Device, NetStack};
use tls::rustls::ClientConfig;

use crate::exchange::Exchange;

/// The most of a model list kept (real lists are a few KiB; OpenRouter's is a few hundred).
const MAX_BODY: usize = 1 << 20;

/// A `GET .../models` in progress.
#[derive(Debug)]
pub struct ModelList {
    exchange: Exchange,
    provider: Provider,
    status: u16,
    body: Vec<u8>,
}

impl ModelList {
    /// Plans the request.
    pub fn start(provider: &Provider, tls: Option<Arc<ClientConfig>>, now_ms: u64) -> Result<ModelList, LlmError> {
        let exchange = Exchange::new(&provider.models_request(), tls, Timeouts::LLM, now_ms).map_err(|e| {
            LlmError::new(provider.id().display_name(), ErrorKind::InvalidSettings, None, &e.to_string())
        })?;
        Ok(ModelList { exchange, provider: provider.clone(), status: 0, body: Vec::new() })
    }

    /// Moves the request along; `Some` once it has ended, with the model ids or why there
    /// are none.
    pub fn step<D: Device>(
        &mut self,
        io: Option<&mut NetStack<D>>,
        now_ms: u64,
    ) -> Option<Result<Vec<String>, String>> {
        let Some(stack) = io else { return Some(Err(String::from("there is no network"))) };
        let (status, body) = (&mut self.status, &mut self.body);
        let mut sink = |event: ResponseEvent<'_>| match event {
            ResponseEvent::Head(head) => *status = head.status,
            ResponseEvent::Body(bytes) => {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            ResponseEvent::End => {}
        };
        if let Err(why) = self.exchange.step(stack, now_ms, &mut sink) {
            return Some(Err(why.to_string()));
        }
        if !self.exchange.is_finished() {
            return None;
        }
        Some(match self.status {
            200..=299 => self.provider.parse_models(&self.body).map_err(|e| e.to_string()),
            status => Err(alloc::format!("HTTP {status}")),
        })
    }

    /// Whether the caller should step again soon (input is waiting).
    pub fn has_more(&self) -> bool {
        self.exchange.has_more()
    }

    /// Stops the request.
    pub fn cancel<D: Device>(&mut self, io: Option<&mut NetStack<D>>) {
        if let Some(stack) = io {
            self.exchange.abort(stack);
        }
    }
}
