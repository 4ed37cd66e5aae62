//! moteOS's HTTP/1.1 client, written sans-I/O: nothing here touches a socket
//! or a clock.
//!
//! - [`Url`] parses and joins the `http://` and `https://` URLs of provider
//!   configurations; its `Display` (and [`RedactedUrl`] for raw text) hides
//!   userinfo and credential-looking query values, so URLs are safe to log.
//! - [`Request::encode`] turns a request into the bytes to send.
//! - [`ResponseParser`] turns received bytes into a [`ResponseHead`], body
//!   pieces and an end (Content-Length, chunked or close-delimited bodies).
//! - [`SseParser`] turns a `text/event-stream` body into [`SseEvent`]s.
//! - [`TimeoutTracker`] says when a connect, first-byte or idle wait has
//!   lasted too long, given "now" in milliseconds.
//!
//! The kernel moves bytes between these and its TCP/TLS sockets. Every
//! failure is an [`HttpError`] whose `Display` is a sentence for the user;
//! nothing panics on any input from the wire.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod error;
mod redact;
mod request;
mod response;
mod sse;
mod timeout;
mod url;

pub use error::{HttpError, UrlProblem};
pub use redact::{MASK, RedactedUrl, credential_spans, is_credential_param};
pub use request::{Method, Request, USER_AGENT};
pub use response::{
    MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, MAX_HEADERS, MAX_INTERIM_RESPONSES, MAX_TRAILER_BYTES, ResponseEvent,
    ResponseHead, ResponseParser,
};
pub use sse::{DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_LINE_BYTES, SseEvent, SseParser};
pub use timeout::{Phase, TimeoutTracker, Timeouts};
pub use url::{Scheme, Url};
