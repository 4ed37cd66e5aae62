//! The moteOS chat application, without hardware: what the conversation holds, what to
//! send next, and how replies and failures change it.
//!
//! The kernel owns the devices. It asks [`Chat`] for the messages of the next request,
//! hands it every [`llm::ReplyEvent`] as the reply streams in, and draws
//! [`Chat::transcript`]. Nothing is ever lost: a failed request leaves the user's words on
//! screen (marked), a reply cut short keeps its text, and the next message works.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod chat;

pub use chat::{Chat, Entry, EntryState, SubmitError, Who};
