//! Streaming detokenization: text out as soon as whole characters are available.

use alloc::string::String;
use alloc::vec::Vec;

use super::{TokenType, Tokenizer};

/// Turns generated token ids into text one token at a time.
///
/// A token may end in the middle of a UTF-8 character (byte-level BPE splits rare characters
/// into byte tokens, SentencePiece falls back to `<0xE2>`-style tokens), so the decoder keeps
/// the incomplete tail and emits it when the character is complete. Bytes that can never form
/// a character are emitted as U+FFFD right away, so one bad token cannot stall the stream.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    skip_special: bool,
}

impl Decoder {
    /// A decoder that shows control tokens as their text (`<|im_end|>`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that drops control tokens (what a chat screen wants).
    pub fn skipping_special() -> Self {
        Self { pending: Vec::new(), skip_special: true }
    }

    /// Adds one token; returns the text that became complete (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> String {
        if self.skip_special && tokenizer.token_type(id) == Some(TokenType::Control) {
            return String::new();
        }
        match tokenizer.token_bytes(id) {
            Some(bytes) => self.pending.extend_from_slice(bytes),
            None => self.pending.extend_from_slice("\u{FFFD}".as_bytes()),
        }
        self.take_complete()
    }

    /// Ends the stream: whatever is pending (an unfinished character) comes out as U+FFFD.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }

    /// Whether bytes of an unfinished character are waiting for the next token.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Removes and returns the longest prefix of `pending` that is settled text.
    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut rest = self.pending.as_slice();
        loop {
            match core::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(text);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid` is valid UTF-8 by the error's definition.
                    out.push_str(core::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        // Bytes that no continuation can fix: one replacement character.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // A character cut short at the end: wait for the next token.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        let drained = self.pending.len() - keep;
        self.pending.drain(..drained);
        out
    }
}
