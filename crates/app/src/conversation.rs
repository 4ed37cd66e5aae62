//! One conversation: its transcript, the reply in progress, and what is sent next.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use llm::{LlmError, Message, ReplyEvent, Role, Usage};

use crate::saved::{SavedRole, SavedTurn};

/// The longest message accepted from the keyboard, in bytes (a few pages of text).
pub const MAX_INPUT_BYTES: usize = 32 * 1024;

/// The longest reply kept, in bytes. A server that streams without end is cut here (the
/// reply is marked truncated) so memory stays bounded; real replies are far shorter.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// Who an entry of the transcript comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The person at the keyboard.
    User,
    /// The model.
    Assistant,
    /// moteOS itself: errors and notices, never sent to the model.
    System,
    /// moteOS answering a command (a model list...), never sent to the model.
    Info,
}

/// Where an entry stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// Done and part of the conversation.
    Complete,
    /// The reply is arriving.
    Streaming,
    /// The reply stopped early (connection lost, cancelled, provider error); its text is
    /// kept and stays in the conversation, marked so.
    Cut,
    /// The request failed before any reply: the words stay on screen but are not sent
    /// again, so the next message starts clean.
    NotSent,
}

/// One block of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique within the conversation and never reused: lets a screen cache the block's
    /// layout.
    pub id: u64,
    /// Who wrote it.
    pub who: Who,
    /// The text so far.
    pub text: String,
    /// Where it stands.
    pub state: EntryState,
}

/// Why a line was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// Nothing but whitespace.
    Empty,
    /// A reply is still arriving.
    Busy,
    /// Longer than [`MAX_INPUT_BYTES`].
    TooLong,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::Empty => "type a message first",
            SubmitError::Busy => "a reply is still arriving: wait for it or press Ctrl+C to stop it",
            SubmitError::TooLong => "the message is too long (32 KiB at most)",
        })
    }
}

/// A conversation with one model.
#[derive(Clone, Debug)]
pub struct Conversation {
    system: Option<String>,
    budget: usize,
    entries: Vec<Entry>,
    /// Index of the user entry whose reply is awaited, and of its reply entry.
    pending: Option<(usize, usize)>,
    usage: Option<Usage>,
    generation: u64,
    next_id: u64,
    /// Its file in `\\moteos\\chats` once saved, its title and when it started.
    saved: SavedMeta,
}

/// What a conversation knows about its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedMeta {
    /// The file's number, once saved.
    pub file: Option<u32>,
    /// The title (from the first prompt, or `/rename`).
    pub title: Option<String>,
    /// When it started, in seconds since 1970.
    pub created: Option<i64>,
}

impl Conversation {
    /// An empty chat with an optional system prompt and a context budget in estimated
    /// tokens for what is sent (older turns beyond it are left out of requests).
    pub fn new(system: Option<String>, context_budget: usize) -> Self {
        Conversation {
            system,
            budget: context_budget,
            entries: Vec::new(),
            pending: None,
            usage: None,
            generation: 0,
            next_id: 0,
            saved: SavedMeta::default(),
        }
    }

    /// A conversation read back from its file: every turn as it was (a cut reply stays
    /// marked), ready to continue.
    pub fn restore(system: Option<String>, context_budget: usize, turns: &[SavedTurn], saved: SavedMeta) -> Self {
        let mut c = Conversation::new(system, context_budget);
        for turn in turns {
            let who = match turn.role {
                SavedRole::User => Who::User,
                SavedRole::Assistant => Who::Assistant,
            };
            let state = if turn.cut { EntryState::Cut } else { EntryState::Complete };
            c.push(who, turn.text.clone(), state);
        }
        c.saved = saved;
        c
    }

    /// Its file, title and start time.
    pub fn saved(&self) -> &SavedMeta {
        &self.saved
    }

    pub(crate) fn saved_mut(&mut self) -> &mut SavedMeta {
        &mut self.saved
    }

    /// Changes the system prompt sent with the next request.
    pub fn set_system(&mut self, system: Option<String>) {
        self.system = system;
    }

    /// Changes the context budget (another model, another window).
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
    }

    /// Whether nothing has been said yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The text of the reply in progress, if any.
    pub fn pending_reply(&self) -> Option<&str> {
        self.pending.map(|(_, reply)| self.entries[reply].text.as_str())
    }

    fn push(&mut self, who: Who, text: String, state: EntryState) {
        self.entries.push(Entry { id: self.next_id, who, text, state });
        self.next_id += 1;
        self.generation += 1;
    }

    /// The system prompt.
    pub fn system(&self) -> Option<&str> {
        self.system.as_deref()
    }

    /// Everything to show, oldest first.
    pub fn transcript(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether a reply is awaited.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Token counts of the last reply, as reported by the provider.
    pub fn last_usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Counts every change to the transcript, so a screen knows when to redraw.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a user line and starts waiting for the reply. The caller then sends
    /// [`request_messages`](Self::request_messages).
    pub fn submit(&mut self, line: &str) -> Result<(), SubmitError> {
        let line = line.trim();
        if self.is_busy() {
            return Err(SubmitError::Busy);
        }
        if line.is_empty() {
            return Err(SubmitError::Empty);
        }
        if line.len() > MAX_INPUT_BYTES {
            return Err(SubmitError::TooLong);
        }
        self.push(Who::User, String::from(line), EntryState::Complete);
        self.await_reply();
        Ok(())
    }

    fn await_reply(&mut self) {
        self.push(Who::Assistant, String::new(), EntryState::Streaming);
        self.pending = Some((self.entries.len() - 2, self.entries.len() - 1));
        self.usage = None;
    }

    /// Asks again: everything after the last user message (the reply, notices about it) is
    /// removed, the message counts as sent again, and a new reply is awaited. Returns
    /// false when there is nothing to ask again or a reply is arriving.
    pub fn retry(&mut self) -> bool {
        if self.is_busy() {
            return false;
        }
        let Some(last_user) = self.entries.iter().rposition(|e| e.who == Who::User) else { return false };
        self.entries.truncate(last_user + 1);
        self.entries[last_user].state = EntryState::Complete;
        self.generation += 1;
        self.await_reply();
        true
    }

    /// Ends the reply in progress because it grew past [`MAX_REPLY_BYTES`]: the text so far
    /// stays (marked cut) and `note` says why.
    pub fn truncate_reply(&mut self, note: &str) {
        if let Some((user, reply)) = self.pending {
            self.end_early(user, reply);
            self.info(note);
        }
    }

    /// The turns to send for the awaited reply: every exchange that reached the model,
    /// trimmed to the context budget, ending with the pending user line.
    pub fn request_messages(&self) -> Vec<Message> {
        let end = self.pending.map_or(self.entries.len(), |(_, reply)| reply);
        let messages: Vec<Message> = self.entries[..end]
            .iter()
            .filter(|e| !matches!(e.state, EntryState::NotSent | EntryState::Streaming))
            .filter(|e| !(e.who == Who::Assistant && e.text.trim().is_empty()))
            .filter_map(|e| match e.who {
                Who::User => Some(Message { role: Role::User, content: e.text.clone() }),
                Who::Assistant => Some(Message { role: Role::Assistant, content: e.text.clone() }),
                Who::System | Who::Info => None,
            })
            .collect();
        let first = llm::trim_to_budget(&messages, self.system.as_deref(), self.budget);
        messages[first..].to_vec()
    }

    /// Applies one event of the streaming reply. Returns the error to show when the
    /// reply failed (it is also added to the transcript as a notice).
    pub fn on_reply(&mut self, event: &ReplyEvent) -> Option<LlmError> {
        let (user, reply) = self.pending?;
        match event {
            ReplyEvent::Text(text) => {
                // A server must not be able to drive the screen or a terminal: control
                // characters (escape sequences included) are dropped, line breaks and tabs kept.
                let target = &mut self.entries[reply].text;
                target.extend(text.chars().filter(|&c| !c.is_control() || c == '\n' || c == '\t'));
                self.generation += 1;
                None
            }
            ReplyEvent::Usage(usage) => {
                self.usage = Some(*usage);
                None
            }
            ReplyEvent::Finished(_) => {
                self.entries[reply].state = EntryState::Complete;
                self.pending = None;
                self.generation += 1;
                None
            }
            ReplyEvent::Failed(error) => {
                self.end_early(user, reply);
                self.notice(&alloc::format!("{error}"));
                Some(error.clone())
            }
            ReplyEvent::Skipped(_) | ReplyEvent::Prompt { .. } => None,
        }
    }

    /// Stops waiting for the reply (Ctrl+C, or the network went away). Text already
    /// received is kept and marked cut.
    pub fn cancel(&mut self, why: &str) {
        if let Some((user, reply)) = self.pending {
            self.end_early(user, reply);
            self.notice(why);
        }
    }

    /// The user stopped the reply (Ctrl+C): like [`cancel`](Self::cancel), but `note` is
    /// information, not an error.
    pub fn stop(&mut self, note: &str) {
        if let Some((user, reply)) = self.pending {
            self.end_early(user, reply);
            self.info(note);
        }
    }

    /// Adds a line from moteOS itself (an error, a hint) to the transcript.
    pub fn notice(&mut self, text: &str) {
        self.push(Who::System, String::from(text), EntryState::Complete);
    }

    /// Keeps a line that could not be sent at all (no provider is set up): it stays on
    /// screen, marked, and is never sent later.
    pub fn record_unsent(&mut self, line: &str) {
        let line = line.trim();
        if !line.is_empty() {
            self.push(Who::User, String::from(line), EntryState::NotSent);
        }
    }

    /// Adds information from moteOS itself (the answer to a command) to the transcript.
    pub fn info(&mut self, text: &str) {
        self.push(Who::Info, String::from(text), EntryState::Complete);
    }

    fn end_early(&mut self, user: usize, reply: usize) {
        if self.entries[reply].text.trim().is_empty() {
            // Nothing came back: the question stays on screen but is not resent.
            self.entries.remove(reply);
            self.entries[user].state = EntryState::NotSent;
        } else {
            self.entries[reply].state = EntryState::Cut;
        }
        self.pending = None;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm::{ErrorKind, FinishReason};

    fn failed(kind: ErrorKind) -> ReplyEvent {
        ReplyEvent::Failed(LlmError::new("Anthropic", kind, Some(401), "invalid x-api-key"))
    }

    #[test]
    fn a_reply_streams_into_the_transcript() {
        let mut chat = Conversation::new(Some(String::from("be brief")), 10_000);
        chat.submit("  hello  ").unwrap();
        assert!(chat.is_busy());
        assert_eq!(chat.request_messages(), [Message::user("hello")]);
        chat.on_reply(&ReplyEvent::Text(String::from("Hi")));
        chat.on_reply(&ReplyEvent::Text(String::from(" there")));
        assert_eq!(chat.transcript()[1].state, EntryState::Streaming);
        chat.on_reply(&ReplyEvent::Finished(FinishReason::Stop));
        assert!(!chat.is_busy());
        assert_eq!(
            chat.transcript()[1],
            Entry { id: 1, who: Who::Assistant, text: "Hi there".into(), state: EntryState::Complete }
        );
        chat.submit("again").unwrap();
        assert_eq!(
            chat.request_messages(),
            [Message::user("hello"), Message::assistant("Hi there"), Message::user("again")]
        );
    }

    #[test]
    fn a_failed_request_keeps_the_words_but_does_not_resend_them() {
        let mut chat = Conversation::new(None, 10_000);
        chat.submit("first").unwrap();
        let error = chat.on_reply(&failed(ErrorKind::Unauthorized)).expect("the error is returned");
        assert_eq!(error.kind, ErrorKind::Unauthorized);
        assert!(!chat.is_busy());
        assert_eq!(chat.transcript()[0].state, EntryState::NotSent);
        assert_eq!(chat.transcript()[1].who, Who::System);
        assert!(chat.transcript()[1].text.contains("refused the API key"));
        chat.submit("second").unwrap();
        assert_eq!(chat.request_messages(), [Message::user("second")]);
    }

    #[test]
    fn a_cut_reply_keeps_its_text_and_stays_in_the_conversation() {
        let mut chat = Conversation::new(None, 10_000);
        chat.submit("q").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("partial")));
        chat.on_reply(&failed(ErrorKind::Cut));
        assert_eq!(chat.transcript()[1].state, EntryState::Cut);
        assert_eq!(chat.transcript()[1].text, "partial");
        chat.submit("go on").unwrap();
        assert_eq!(
            chat.request_messages(),
            [Message::user("q"), Message::assistant("partial"), Message::user("go on")]
        );
    }

    #[test]
    fn a_reply_of_only_whitespace_is_never_sent_back() {
        let mut chat = Conversation::new(None, 10_000);
        chat.submit("q").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("\n\n")));
        chat.cancel("stopped");
        assert_eq!(chat.transcript()[0].state, EntryState::NotSent);
        chat.submit("again").unwrap();
        assert_eq!(chat.request_messages(), [Message::user("again")]);
    }

    #[test]
    fn unsendable_lines_are_kept_but_never_sent() {
        let mut chat = Conversation::new(None, 10_000);
        chat.record_unsent("  hello  ");
        chat.record_unsent("   ");
        assert_eq!(chat.transcript().len(), 1);
        assert_eq!(chat.transcript()[0].state, EntryState::NotSent);
        chat.submit("later").unwrap();
        assert_eq!(chat.request_messages(), [Message::user("later")]);
    }

    #[test]
    fn cancel_and_bad_lines() {
        let mut chat = Conversation::new(None, 10_000);
        assert_eq!(chat.submit("   "), Err(SubmitError::Empty));
        assert_eq!(chat.submit(&"x".repeat(MAX_INPUT_BYTES + 1)), Err(SubmitError::TooLong));
        chat.submit("q").unwrap();
        assert_eq!(chat.submit("q2"), Err(SubmitError::Busy));
        chat.cancel("stopped");
        assert!(!chat.is_busy());
        assert_eq!(chat.transcript().last().map(|e| e.text.as_str()), Some("stopped"));
        chat.submit("q3").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("part")));
        chat.stop("stopped (Ctrl+C)");
        assert_eq!(chat.transcript().last().map(|e| e.who), Some(Who::Info));
        // The first question got nothing back (not resent); the stopped reply stays.
        assert_eq!(chat.request_messages(), [Message::user("q3"), Message::assistant("part")]);
        // Events after the end are ignored.
        assert_eq!(chat.on_reply(&failed(ErrorKind::Cut)), None);
    }

    #[test]
    fn control_characters_from_a_server_never_reach_the_transcript() {
        let mut chat = Conversation::new(None, 10_000);
        chat.submit("q").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("a\u{1b}[31mred\u{7}\r\nb\tc")));
        assert_eq!(chat.pending_reply(), Some("a[31mred\nb\tc"));
    }

    #[test]
    fn retry_asks_the_last_question_again() {
        let mut chat = Conversation::new(None, 10_000);
        assert!(!chat.retry());
        chat.submit("q1").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("a1")));
        chat.on_reply(&ReplyEvent::Finished(FinishReason::Stop));
        chat.submit("q2").unwrap();
        chat.on_reply(&failed(ErrorKind::Unauthorized));
        assert!(chat.retry());
        assert_eq!(chat.request_messages(), [Message::user("q1"), Message::assistant("a1"), Message::user("q2")]);
        assert!(!chat.retry(), "busy");
        assert_eq!(chat.transcript().len(), 4);
    }

    #[test]
    fn a_truncated_reply_keeps_its_text() {
        let mut chat = Conversation::new(None, 10_000);
        chat.submit("q").unwrap();
        chat.on_reply(&ReplyEvent::Text(String::from("endless")));
        chat.truncate_reply("reply truncated");
        assert!(!chat.is_busy());
        assert_eq!(chat.transcript()[1].state, EntryState::Cut);
        assert_eq!(chat.transcript()[2].text, "reply truncated");
    }

    #[test]
    fn long_chats_are_trimmed_from_the_oldest_turn() {
        let mut chat = Conversation::new(None, 200);
        for i in 0..50 {
            chat.submit(&alloc::format!("question {i} {}", "x".repeat(100))).unwrap();
            chat.on_reply(&ReplyEvent::Text("y".repeat(100)));
            chat.on_reply(&ReplyEvent::Finished(FinishReason::Stop));
        }
        chat.submit("last").unwrap();
        let sent = chat.request_messages();
        assert!(sent.len() < 10, "{}", sent.len());
        assert_eq!(sent.first().map(|m| m.role), Some(Role::User));
        assert_eq!(sent.last(), Some(&Message::user("last")));
        assert_eq!(chat.transcript().len(), 102, "the screen keeps everything");
    }
}
