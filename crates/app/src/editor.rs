//! The input editor: a multi-line text with a cursor, word motions, a history of earlier
//! messages, and a masked mode for secrets.
//!
//! The cursor is a byte offset that always sits on a character boundary. Lines are
//! separated by `\n`; "up" and "down" move by logical line, keeping the column in
//! characters.

use alloc::string::String;
use alloc::vec::Vec;

/// Earlier messages remembered for Up/Down.
const HISTORY_LEN: usize = 100;

/// The text being typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    cursor: usize,
    max_bytes: usize,
    masked: bool,
    history: Vec<String>,
    /// Which history entry is shown (`None`: the draft being typed).
    browsing: Option<usize>,
    /// What was typed before browsing the history started.
    draft: String,
}

/// Whether a motion could move (for keys that fall through to scrolling or history).
pub type Moved = bool;

impl Editor {
    /// An empty editor holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Editor { max_bytes, ..Editor::default() }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor as a byte offset into [`text`](Self::text).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether the text is a secret (shown as bullets, never logged or echoed).
    pub fn is_masked(&self) -> bool {
        self.masked
    }

    /// Switches masked mode; leaving it clears the text so a secret never lingers.
    pub fn set_masked(&mut self, masked: bool) {
        if self.masked && !masked {
            self.clear();
        }
        self.masked = masked;
    }

    /// Removes the text (history stays).
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Replaces the text, cursor at the end.
    pub fn set_text(&mut self, text: &str) {
        self.text.clear();
        self.insert_str(text);
    }

    /// Takes the text out (to send it): the editor is empty afterwards, and the text is
    /// remembered in the history unless it is a secret.
    pub fn take(&mut self) -> String {
        let text = core::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !self.masked && !text.trim().is_empty() && self.history.last() != Some(&text) {
            if self.history.len() == HISTORY_LEN {
                self.history.remove(0);
            }
            self.history.push(text.clone());
        }
        text
    }

    /// Inserts a character at the cursor; refused (false) when the text is full.
    pub fn insert(&mut self, c: char) -> bool {
        if self.text.len() + c.len_utf8() > self.max_bytes {
            return false;
        }
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        true
    }

    /// Inserts text at the cursor, as much as fits; returns whether all of it did.
    pub fn insert_str(&mut self, text: &str) -> bool {
        for c in text.chars() {
            if !self.insert(c) {
                return false;
            }
        }
        true
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) -> Moved {
        let Some(c) = self.text[..self.cursor].chars().next_back() else { return false };
        self.cursor -= c.len_utf8();
        self.text.remove(self.cursor);
        true
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) -> Moved {
        if self.cursor == self.text.len() {
            return false;
        }
        self.text.remove(self.cursor);
        true
    }

    /// One character left.
    pub fn left(&mut self) -> Moved {
        match self.text[..self.cursor].chars().next_back() {
            Some(c) => {
                self.cursor -= c.len_utf8();
                true
            }
            None => false,
        }
    }

    /// One character right.
    pub fn right(&mut self) -> Moved {
        match self.text[self.cursor..].chars().next() {
            Some(c) => {
                self.cursor += c.len_utf8();
                true
            }
            None => false,
        }
    }

    /// To the start of the word before the cursor (Ctrl+Left).
    pub fn word_left(&mut self) -> Moved {
        let start = self.cursor;
        self.cursor = word_start_before(&self.text, self.cursor);
        self.cursor != start
    }

    /// To the end of the word after the cursor (Ctrl+Right).
    pub fn word_right(&mut self) -> Moved {
        let start = self.cursor;
        let rest = &self.text[self.cursor..];
        let skip_space = rest.char_indices().find(|(_, c)| !c.is_whitespace()).map_or(rest.len(), |(i, _)| i);
        let word = &rest[skip_space..];
        let end = word.char_indices().find(|(_, c)| c.is_whitespace()).map_or(word.len(), |(i, _)| i);
        self.cursor += skip_space + end;
        self.cursor != start
    }

    /// Deletes the word before the cursor (Ctrl+W).
    pub fn delete_word_before(&mut self) -> Moved {
        let start = word_start_before(&self.text, self.cursor);
        if start == self.cursor {
            return false;
        }
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        true
    }

    /// Deletes from the start of the cursor's line to the cursor (Ctrl+U); on an empty
    /// line start, the line break before it.
    pub fn delete_to_line_start(&mut self) -> Moved {
        let start = self.line_start(self.cursor);
        if start == self.cursor {
            return self.backspace();
        }
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        true
    }

    /// To the start of the line (Home).
    pub fn home(&mut self) -> Moved {
        let start = self.line_start(self.cursor);
        let moved = start != self.cursor;
        self.cursor = start;
        moved
    }

    /// To the end of the line (End).
    pub fn end(&mut self) -> Moved {
        let end = self.line_end(self.cursor);
        let moved = end != self.cursor;
        self.cursor = end;
        moved
    }

    /// To the very start (Ctrl+Home).
    pub fn start_of_text(&mut self) -> Moved {
        let moved = self.cursor != 0;
        self.cursor = 0;
        moved
    }

    /// To the very end (Ctrl+End).
    pub fn end_of_text(&mut self) -> Moved {
        let moved = self.cursor != self.text.len();
        self.cursor = self.text.len();
        moved
    }

    /// One line up, keeping the column; false on the first line.
    pub fn up(&mut self) -> Moved {
        let start = self.line_start(self.cursor);
        if start == 0 {
            return false;
        }
        let column = self.text[start..self.cursor].chars().count();
        let prev_start = self.line_start(start - 1);
        self.cursor = advance_chars(&self.text, prev_start, start - 1, column);
        true
    }

    /// One line down, keeping the column; false on the last line.
    pub fn down(&mut self) -> Moved {
        let end = self.line_end(self.cursor);
        if end == self.text.len() {
            return false;
        }
        let column = self.text[self.line_start(self.cursor)..self.cursor].chars().count();
        let next_start = end + 1;
        let next_end = self.line_end(next_start);
        self.cursor = advance_chars(&self.text, next_start, next_end, column);
        true
    }

    /// Shows the previous history entry (Up on the first line); false when there is none.
    pub fn history_back(&mut self) -> Moved {
        if self.masked || self.history.is_empty() {
            return false;
        }
        let index = match self.browsing {
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => return false,
            Some(i) => i - 1,
        };
        self.browsing = Some(index);
        self.show(index);
        true
    }

    /// Shows the next history entry, or the draft after the newest (Down on the last line).
    pub fn history_forward(&mut self) -> Moved {
        let Some(index) = self.browsing else { return false };
        if index + 1 < self.history.len() {
            self.browsing = Some(index + 1);
            self.show(index + 1);
        } else {
            self.browsing = None;
            let draft = core::mem::take(&mut self.draft);
            self.text = draft;
            self.cursor = self.text.len();
        }
        true
    }

    fn show(&mut self, index: usize) {
        self.text = self.history[index].clone();
        self.cursor = self.text.len();
    }

    /// The lines of the text (at least one), for drawing.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }

    /// The cursor as (line, column in characters).
    pub fn cursor_position(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let column = before[self.line_start(self.cursor)..].chars().count();
        (line, column)
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self, at: usize) -> usize {
        self.text[at..].find('\n').map_or(self.text.len(), |i| at + i)
    }
}

/// The byte offset of the start of the word before `at` (skipping spaces first).
fn word_start_before(text: &str, at: usize) -> usize {
    let before = &text[..at];
    let trimmed = before.trim_end_matches(char::is_whitespace);
    trimmed.rfind(char::is_whitespace).map_or(0, |i| i + trimmed[i..].chars().next().map_or(1, char::len_utf8))
}

/// The offset `count` characters after `from`, stopping at `limit`.
fn advance_chars(text: &str, from: usize, limit: usize, count: usize) -> usize {
    text[from..limit].char_indices().nth(count).map_or(limit, |(i, _)| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Editor {
        let mut e = Editor::new(1000);
        e.insert_str(text);
        e
    }

    #[test]
    fn typing_and_deleting() {
        let mut e = typed("héllo");
        assert_eq!(e.cursor(), "héllo".len());
        assert!(e.backspace());
        e.left();
        e.left();
        e.left();
        assert!(e.delete());
        assert_eq!(e.text(), "hll");
        e.home();
        assert!(!e.left());
        assert!(!e.backspace());
        e.insert('¡');
        assert_eq!(e.text(), "¡hll");
        e.end();
        assert!(!e.right());
        assert!(!e.delete());
    }

    #[test]
    fn words() {
        let mut e = typed("one  two three");
        assert!(e.word_left());
        assert_eq!(&e.text()[e.cursor()..], "three");
        e.word_left();
        assert_eq!(&e.text()[e.cursor()..], "two three");
        e.word_right();
        assert_eq!(&e.text()[e.cursor()..], " three");
        e.end();
        assert!(e.delete_word_before());
        assert_eq!(e.text(), "one  two ");
        assert!(e.delete_word_before());
        assert_eq!(e.text(), "one  ");
        e.start_of_text();
        assert!(!e.word_left());
    }

    #[test]
    fn lines_and_columns() {
        let mut e = typed("first line\nab\nthird line");
        assert_eq!(e.cursor_position(), (2, 10));
        assert!(e.up());
        assert_eq!(e.cursor_position(), (1, 2), "clamped to the short line");
        assert!(e.up());
        assert_eq!(e.cursor_position(), (0, 2));
        assert!(!e.up());
        assert!(e.down());
        assert!(e.down());
        assert!(!e.down());
        e.home();
        assert_eq!(e.cursor_position(), (2, 0));
        assert!(e.delete_to_line_start(), "at a line start Ctrl+U joins the lines");
        assert_eq!(e.text(), "first line\nabthird line");
        assert_eq!(e.lines().count(), 2);
    }

    #[test]
    fn history_keeps_the_draft() {
        let mut e = Editor::new(100);
        e.insert_str("one");
        assert_eq!(e.take(), "one");
        e.insert_str("two");
        e.take();
        e.insert_str("dra");
        assert!(e.history_back());
        assert_eq!(e.text(), "two");
        assert!(e.history_back());
        assert_eq!(e.text(), "one");
        assert!(!e.history_back());
        assert!(e.history_forward());
        assert!(e.history_forward());
        assert_eq!(e.text(), "dra");
        assert!(!e.history_forward());
    }

    #[test]
    fn secrets_are_not_remembered() {
        let mut e = Editor::new(100);
        e.set_masked(true);
        e.insert_str("sk-secret");
        assert_eq!(e.take(), "sk-secret");
        assert!(!e.history_back());
        e.insert_str("half");
        e.set_masked(false);
        assert!(e.is_empty(), "leaving masked mode forgets the text");
    }

    #[test]
    fn the_limit_holds() {
        let mut e = Editor::new(4);
        assert!(!e.insert_str("abcdé"));
        assert_eq!(e.text(), "abcd");
        assert!(!e.insert('x'));
    }
}
