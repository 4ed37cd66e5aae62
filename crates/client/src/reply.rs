//! A provider's reply as a [`ReplySource`]: the exchange carries the request, the decoder
//! turns the streamed body into reply events.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use http::{ResponseEvent, Timeouts};
use llm::{Activity, ChatRequest, ErrorKind, LlmError, Provider, ReplyDecoder, ReplyEvent, ReplySource};
use log::info;
use net::{Device, NetStack};
use tls::rustls::ClientConfig;

use crate::exchange::Exchange;

/// A streaming chat reply from a remote provider.
pub struct RemoteReply {
    exchange: Exchange,
    decoder: ReplyDecoder,
    provider: &'static str,
    /// Set once the last event was produced.
    done: bool,
}

impl fmt::Debug for RemoteReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteReply").field("exchange", &self.exchange).field("done", &self.done).finish()
    }
}

impl RemoteReply {
    /// Plans the request for `chat` to `provider`; fails with the sentence to show when
    /// it cannot be sent at all (a bad setting, TLS missing for `https://`).
    pub fn start(
        provider: &Provider,
        chat: &ChatRequest<'_>,
        tls: Option<Arc<ClientConfig>>,
        now_ms: u64,
    ) -> Result<RemoteReply, LlmError> {
        let name = provider.id().display_name();
        let request = provider.chat_request(chat)?;
        let exchange = Exchange::new(&request, tls, Timeouts::LLM, now_ms)
            .map_err(|e| LlmError::new(name, ErrorKind::InvalidSettings, None, &e.to_string()))?;
        Ok(RemoteReply { exchange, decoder: provider.reply_decoder(), provider: name, done: false })
    }

    /// Bytes of the reply's text received so far.
    pub fn text_bytes(&self) -> usize {
        self.decoder.text_bytes()
    }

    /// When the first response byte arrived (caller's milliseconds).
    pub fn first_byte_ms(&self) -> Option<u64> {
        self.exchange.first_byte_ms()
    }
}

impl<D: Device> ReplySource<NetStack<D>> for RemoteReply {
    fn step(&mut self, io: Option<&mut NetStack<D>>, now_ms: u64, out: &mut Vec<ReplyEvent>) -> Activity {
        if self.done {
            return Activity::Done;
        }
        let Some(stack) = io else {
            self.decoder.on_disconnect("there is no network: moteOS found no network card", out);
            self.done = true;
            return Activity::Done;
        };
        let decoder = &mut self.decoder;
        let mut sink = |event: ResponseEvent<'_>| match event {
            ResponseEvent::Head(head) => {
                info!("client: {} answered HTTP {} {}", self.provider, head.status, head.content_type().unwrap_or(""));
                decoder.on_head(&head);
            }
            ResponseEvent::Body(bytes) => decoder.on_body(bytes, out),
            ResponseEvent::End => decoder.on_end(out),
        };
        let result = self.exchange.step(stack, now_ms, &mut sink);
        if let Err(why) = result {
            self.decoder.on_disconnect(&why.to_string(), out);
        }
        if self.decoder.is_done() {
            // The reply can be complete (or failed) before the HTTP body's last chunk:
            // close the connection instead of leaving it open.
            if !self.exchange.is_finished() {
                self.exchange.close(stack);
            }
            self.done = true;
            return Activity::Done;
        }
        if self.exchange.is_finished() {
            // The exchange ended without the decoder seeing an end: report it as a cut.
            self.decoder.on_disconnect("the connection ended", out);
            self.done = true;
            return Activity::Done;
        }
        if self.exchange.has_more() { Activity::Busy } else { Activity::Waiting }
    }

    fn cancel(&mut self, io: Option<&mut NetStack<D>>) {
        if let Some(stack) = io {
            self.exchange.abort(stack);
        }
        self.done = true;
    }
}
