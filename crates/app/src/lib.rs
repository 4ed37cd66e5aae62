//! The moteOS application as a reducer: everything a user sees and every decision about
//! it, without hardware.
//!
//! - [`State`] holds the conversations, the input editor, the window over the chat, the
//!   settings, the network as last reported and the reply in progress.
//! - [`update`] applies one [`Input`] (a key, a reply event, a network change...) at a
//!   given time and returns [`Effect`]s as data: start or cancel a reply, fetch a model
//!   list, write to the serial console, log a line, power off.
//! - [`view`] builds what the `tui` crate draws.
//!
//! No I/O, no clock reads, no globals: the kernel is the runtime that turns interrupts
//! into inputs and effects into device work, and every behaviour here is host-tested.
//! Nothing is ever lost: a failed request leaves the user's words on screen (marked), a
//! reply cut short keeps its text, and the next message works.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod commands;
mod conversation;
mod editor;
mod io;
mod overlay;
mod persist;
pub mod saved;
mod settings;
mod state;
mod update;
mod view;
pub mod wizard;

pub use conversation::{
    Conversation, Entry, EntryState, MAX_INPUT_BYTES, MAX_REPLY_BYTES, SavedMeta, SubmitError, Who,
};
pub use editor::Editor;
pub use io::{Effect, Input, Level, NetInfo, NetPhase, ReplyJob, RequestId, Target};
pub use overlay::{Choice, Overlay, Picker, PickerKind};
pub use settings::{Backend, LocalModel, Settings};
pub use state::{Boot, NoticeKind, State};
pub use update::update;
pub use view::{View, view};
pub use wizard::Wizard;
