//! Conversations on disk: one JSON file per conversation in `\moteos\chats\`, named by a
//! sequence number so the newest is the one with the highest number.
//!
//! The reducer decides what is saved and when (after every completed or cut reply); the
//! kernel only writes, lists, reads and removes the files it is told to.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::conversation::{Conversation, EntryState, Who};

/// The folder of saved conversations on the boot partition.
pub const CHATS_DIR: &str = "\\moteos\\chats";
/// At most this many conversations are kept; the oldest go first.
pub const MAX_SAVED: usize = 100;
/// The largest conversation file written or read. A longer conversation is saved without its
/// oldest turns; a larger file is refused when read (it is not one of ours).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The longest title, in characters.
const MAX_TITLE_CHARS: usize = 60;
/// The format written today.
const FORMAT: u32 = 1;

/// Who said a saved turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SavedRole {
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One turn of a saved conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTurn {
    /// Who said it.
    pub role: SavedRole,
    /// What was said.
    pub text: String,
    /// Whether the reply stopped early (Ctrl+C, a lost connection).
    #[serde(default, skip_serializing_if = "is_false")]
    pub cut: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A conversation as stored in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChat {
    /// The file format (1).
    pub format: u32,
    /// From the first prompt, or set with `/rename`.
    pub title: String,
    /// Who answered last (`anthropic`, `local`...).
    pub provider: String,
    /// The model that answered last.
    pub model: String,
    /// When it started, in seconds since 1970 (UTC), if the clock was known.
    #[serde(default)]
    pub created: Option<i64>,
    /// When it last changed.
    #[serde(default)]
    pub updated: Option<i64>,
    /// The turns, oldest first.
    pub turns: Vec<SavedTurn>,
}

/// Why a file could not be used as a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavedError {
    /// Over [`MAX_FILE_BYTES`].
    TooLarge(usize),
    /// Not JSON of the expected shape; the parser's sentence.
    NotAConversation(String),
    /// Written by a newer moteOS.
    NewerFormat(u32),
}

impl fmt::Display for SavedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedError::TooLarge(len) => {
                write!(
                    f,
                    "the file is {} KiB, more than a conversation can be ({} KiB)",
                    len / 1024,
                    MAX_FILE_BYTES / 1024
                )
            }
            SavedError::NotAConversation(why) => write!(f, "the file is not a saved conversation ({why})"),
            SavedError::NewerFormat(v) => write!(f, "the file was written by a newer moteOS (format {v})"),
        }
    }
}

impl SavedChat {
    /// Reads a conversation file.
    pub fn from_json(bytes: &[u8]) -> Result<SavedChat, SavedError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(SavedError::TooLarge(bytes.len()));
        }
        let chat: SavedChat =
            serde_json::from_slice(bytes).map_err(|e| SavedError::NotAConversation(format!("{e}")))?;
        if chat.format > FORMAT {
            return Err(SavedError::NewerFormat(chat.format));
        }
        Ok(chat)
    }

    /// The file's bytes, dropping the oldest turns (two at a time, so it still starts with a
    /// question) until it fits in [`MAX_FILE_BYTES`].
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        if bytes.len() <= MAX_FILE_BYTES {
            return bytes;
        }
        let mut shorter = self.clone();
        while bytes.len() > MAX_FILE_BYTES && !shorter.turns.is_empty() {
            let drop = shorter.turns.len().min(2);
            shorter.turns.drain(..drop);
            bytes = serde_json::to_vec(&shorter).unwrap_or_default();
        }
        bytes
    }

    /// The turns of `conversation` that reached the model (notices, unsent lines and a reply
    /// still arriving are not saved).
    pub fn turns_of(conversation: &Conversation) -> Vec<SavedTurn> {
        conversation
            .transcript()
            .iter()
            .filter(|e| matches!(e.state, EntryState::Complete | EntryState::Cut))
            .filter_map(|e| {
                let role = match e.who {
                    Who::User => SavedRole::User,
                    Who::Assistant if !e.text.trim().is_empty() => SavedRole::Assistant,
                    _ => return None,
                };
                Some(SavedTurn { role, text: e.text.clone(), cut: e.state == EntryState::Cut })
            })
            .collect()
    }
}

/// A title from the first prompt: its first line, at most [`MAX_TITLE_CHARS`] characters.
pub fn title_from(prompt: &str) -> String {
    let line = prompt.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    clip(line, MAX_TITLE_CHARS)
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    if text.chars().count() > max {
        out.push('\u{2026}');
    }
    out
}

/// The path of conversation number `n`.
pub fn path_of(n: u32) -> String {
    format!("{CHATS_DIR}\\{n:08}.json")
}

/// The number of a conversation file name (`00000012.json`); other files are not ours.
pub fn number_of(name: &str) -> Option<u32> {
    let (stem, ext) = name.split_once('.')?;
    if !ext.eq_ignore_ascii_case("json") || stem.len() != 8 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The conversation files known on disk, by number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatFiles {
    /// Numbers of the files, ascending.
    numbers: Vec<u32>,
}

/// Where to save a conversation and what to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavePlan {
    /// The number to write.
    pub number: u32,
    /// Files to remove: the conversation's previous file (it moves to the newest number so
    /// the newest file is always the last conversation used) and the oldest beyond
    /// [`MAX_SAVED`].
    pub remove: Vec<u32>,
}

impl ChatFiles {
    /// From a directory listing (names that are not conversation files are ignored).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut numbers: Vec<u32> = names.into_iter().filter_map(number_of).collect();
        numbers.sort_unstable();
        numbers.dedup();
        ChatFiles { numbers }
    }

    /// The newest conversation's number.
    pub fn newest(&self) -> Option<u32> {
        self.numbers.last().copied()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Every number, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.numbers.iter().rev().copied()
    }

    /// Plans saving a conversation that was in file `current` (None: never saved), and
    /// records the outcome as if it succeeded.
    pub fn plan_save(&mut self, current: Option<u32>) -> SavePlan {
        let newest = self.newest();
        if let Some(n) = current
            && newest == Some(n)
        {
            return SavePlan { number: n, remove: Vec::new() };
        }
        let number = newest.map_or(1, |n| n.saturating_add(1));
        let mut remove = Vec::new();
        if let Some(old) = current
            && self.forget(old)
        {
            remove.push(old);
        }
        self.numbers.push(number);
        while self.numbers.len() > MAX_SAVED {
            remove.push(self.numbers.remove(0));
        }
        SavePlan { number, remove }
    }

    /// Forgets file `n` (removed); false if it was not known.
    pub fn forget(&mut self, n: u32) -> bool {
        match self.numbers.iter().position(|&m| m == n) {
            Some(i) => {
                self.numbers.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn chat(turns: usize, len: usize) -> SavedChat {
        SavedChat {
            format: FORMAT,
            title: String::from("t"),
            provider: String::from("local"),
            model: String::from("m"),
            created: Some(1),
            updated: None,
            turns: (0..turns)
                .map(|i| SavedTurn {
                    role: if i % 2 == 0 { SavedRole::User } else { SavedRole::Assistant },
                    text: "x".repeat(len),
                    cut: i == 1,
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip() {
        let c = chat(4, 10);
        assert_eq!(SavedChat::from_json(&c.to_json()).unwrap(), c);
    }

    #[test]
    fn large_conversations_lose_their_oldest_turns_in_pairs() {
        let c = chat(40, 60_000);
        let bytes = c.to_json();
        assert!(bytes.len() <= MAX_FILE_BYTES);
        let back = SavedChat::from_json(&bytes).unwrap();
        assert!(back.turns.len() < 40 && back.turns.len().is_multiple_of(2));
        assert_eq!(back.turns[0].role, SavedRole::User);
        assert_eq!(back.turns.last(), c.turns.last());
    }

    #[test]
    fn bad_files_are_refused_with_a_sentence() {
        let e = SavedChat::from_json(b"not json").unwrap_err();
        assert!(e.to_string().starts_with("the file is not a saved conversation"), "{e}");
        let e = SavedChat::from_json(&vec![b' '; MAX_FILE_BYTES + 1]).unwrap_err();
        assert_eq!(e, SavedError::TooLarge(MAX_FILE_BYTES + 1));
        let mut c = chat(0, 0);
        c.format = 9;
        assert_eq!(SavedChat::from_json(&c.to_json()).unwrap_err(), SavedError::NewerFormat(9));
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(number_of("00000012.json"), Some(12));
        assert_eq!(number_of("00000012.JSON"), Some(12));
        assert_eq!(number_of("00000012.json.bak"), None);
        assert_eq!(number_of("notes.json"), None);
        assert_eq!(path_of(7), "\\moteos\\chats\\00000007.json");
    }

    #[test]
    fn saving_moves_a_conversation_to_the_newest_number_and_keeps_at_most_the_limit() {
        let mut files = ChatFiles::from_names(["00000003.json", "00000001.json", "x.txt"]);
        assert_eq!(files.newest(), Some(3));
        // Never saved: the next number.
        assert_eq!(files.plan_save(None), SavePlan { number: 4, remove: vec![] });
        // The newest again: same file.
        assert_eq!(files.plan_save(Some(4)), SavePlan { number: 4, remove: vec![] });
        // An older one continued: moves to the top.
        assert_eq!(files.plan_save(Some(1)), SavePlan { number: 5, remove: vec![1] });
        for _ in 0..MAX_SAVED {
            files.plan_save(None);
        }
        assert_eq!(files.len(), MAX_SAVED);
        let plan = files.plan_save(None);
        assert_eq!(plan.remove.len(), 1);
        assert_eq!(files.len(), MAX_SAVED);
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(title_from("\n  hello there \nsecond"), "hello there");
        assert_eq!(title_from(&"a".repeat(100)).chars().count(), MAX_TITLE_CHARS + 1);
        assert_eq!("".to_string(), title_from(""));
    }
}
