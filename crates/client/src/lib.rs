//! moteOS's request engine: one HTTP or HTTPS request and its streamed response over the
//! `net` stack, as a state machine the caller steps with the current time.
//!
//! An [`Exchange`] waits for the network to have an address, resolves the host, connects,
//! runs the TLS handshake for `https://` (never a fallback to plain HTTP), sends the request
//! and hands the response to a sink as [`http::ResponseEvent`]s. Each [`Exchange::step`] does a
//! bounded amount of work (at most [`MAX_BYTES_PER_STEP`] of input), so a caller's event loop
//! gets control back often whatever the server sends; failures are a typed [`ClientError`]
//! whose `Display` is a sentence for the user.
//!
//! On top of it, [`RemoteReply`] is a language-model reply as an [`llm::ReplySource`] (the
//! local model is the other implementation, in `inference`), and [`ModelList`] fetches a
//! provider's model list.
//!
//! Generic over [`net::Device`], so host tests run the whole engine over the `net` crate's
//! in-memory LAN; the kernel runs it over its network card.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod error;
mod exchange;
mod models;
mod reply;

pub use error::ClientError;
pub use exchange::{Exchange, MAX_BYTES_PER_STEP, NETWORK_WAIT_MS};
pub use models::ModelList;
pub use reply::RemoteReply;
