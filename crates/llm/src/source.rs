//! Where a reply comes from: a request to a provider, or the model on this machine. Both
//! are stepped by the same loop and report the same [`ReplyEvent`]s.

use alloc::vec::Vec;

use crate::decoder::ReplyEvent;

/// What a [`ReplySource`] wants after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Waiting for I/O: step again when the network (or a timer) says so.
    Waiting,
    /// Work is ready now (more input buffered, or computation to do): step again as soon
    /// as input and the screen have had their turn.
    Busy,
    /// The reply has ended (its last event was `Finished` or `Failed`).
    Done,
}

/// A reply produced step by step, each step a bounded amount of work so the caller's loop
/// stays responsive.
///
/// `Io` is what the source needs lent for a step (the kernel's network stack for a remote
/// provider; nothing for the local model, which accepts any `Io`). It is `None` when the
/// machine has none (no network card): a remote source then fails with a sentence.
pub trait ReplySource<Io: ?Sized> {
    /// Does one bounded step of work at `now_ms` (the caller's monotonic milliseconds) and
    /// appends what happened to `out`.
    fn step(&mut self, io: Option<&mut Io>, now_ms: u64, out: &mut Vec<ReplyEvent>) -> Activity;

    /// Stops the reply now (Ctrl+C): connections are reset, computation ends, and no
    /// further events are produced.
    fn cancel(&mut self, io: Option<&mut Io>);
}
