//! Laying blocks of text out into visual lines of fixed-width cells.
//!
//! The font is monospaced, so layout works in columns: a line is a list of styled
//! spans at column positions, and its height is one body line. Wrapping is by display
//! width (wide characters take two cells, combining marks none).

use alloc::string::String;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use unicode_width::UnicodeWidthChar;

/// How a span is coloured and weighted; the theme maps roles to colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Body text.
    Text,
    /// Secondary text.
    Muted,
    /// An error's text.
    Error,
    /// A heading.
    Heading,
    /// Inline or block code.
    Code,
    /// A keyword in code.
    Keyword,
    /// A string literal in code.
    String,
    /// A number in code.
    Number,
    /// A comment in code.
    Comment,
    /// A link's text.
    Link,
    /// A list bullet or number, a quote bar.
    Marker,
    /// The user's label.
    UserLabel,
    /// The model's label.
    AssistantLabel,
    /// moteOS's label on an error.
    ErrorLabel,
    /// moteOS's label on information.
    InfoLabel,
}

/// A run of text in one style.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The column it starts at.
    pub col: u32,
    /// The text (no line breaks).
    pub text: String,
    /// Colour role.
    pub role: Role,
    /// Heavy strokes.
    pub bold: bool,
    /// Slanted strokes.
    pub italic: bool,
    /// Drawn on the code background (inline code).
    pub boxed: bool,
}

/// What is behind a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LineBack {
    /// The page.
    #[default]
    Plain,
    /// A fenced code block: the raised colour from column `indent` to the right edge.
    Code {
        /// Where the block starts.
        indent: u32,
    },
    /// A block quote: a bar at column `indent`.
    Quote {
        /// Where the bar is.
        indent: u32,
    },
    /// A horizontal rule across the text width.
    Rule,
    /// The user's message: a surface band behind the whole line.
    User,
}

/// One line on screen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VLine {
    /// The styled runs, left to right.
    pub spans: Vec<Span>,
    /// The background.
    pub back: LineBack,
}

impl VLine {
    /// A hash of everything drawn, to tell whether a row must be redrawn.
    pub fn key(&self) -> u64 {
        let mut h = Fnv::new();
        self.hash(&mut h);
        h.finish()
    }

    /// The column just after the last character.
    pub fn end_col(&self) -> u32 {
        self.spans.last().map_or(0, |s| s.col + display_width(&s.text))
    }
}

/// FNV-1a, a small deterministic hasher for row keys (no_std has no default hasher).
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Fnv {
    /// A fresh hash.
    pub const fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Cells `c` occupies: 0 for combining marks and controls, 2 for wide (East Asian)
/// characters, 1 otherwise.
pub fn char_width(c: char) -> u32 {
    match c {
        '\t' => 1,
        _ => c.width().unwrap_or(0) as u32,
    }
}

/// Cells `text` occupies.
pub fn display_width(text: &str) -> u32 {
    text.chars().map(char_width).sum()
}

/// A style applied to a run of characters while wrapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Colour role.
    pub role: Role,
    /// Heavy.
    pub bold: bool,
    /// Slanted.
    pub italic: bool,
    /// Inline code box.
    pub boxed: bool,
}

impl Style {
    /// Plain text in `role`.
    pub const fn plain(role: Role) -> Style {
        Style { role, bold: false, italic: false, boxed: false }
    }
}

/// Builds wrapped lines from styled runs: words are kept whole when they fit, a word
/// longer than a line is broken anywhere, and every line after the first starts at
/// `hanging` (the indent of a list item's text).
#[derive(Debug)]
pub struct LineBuilder {
    width: u32,
    hanging: u32,
    back: LineBack,
    lines: Vec<VLine>,
    current: VLine,
    col: u32,
    /// Whether the current line has any text yet (besides its indent and prefix).
    started: bool,
}

impl LineBuilder {
    /// Lines `width` cells wide; the first starts at `first_indent`, the others at
    /// `hanging`.
    pub fn new(width: u32, first_indent: u32, hanging: u32, back: LineBack) -> Self {
        // Deep nesting in a narrow space keeps at least half the line for text.
        let width = width.max(2);
        let first_indent = first_indent.min(width / 2);
        let hanging = hanging.min(width / 2);
        LineBuilder {
            width,
            hanging,
            back,
            lines: Vec::new(),
            current: VLine { spans: Vec::new(), back },
            col: first_indent,
            started: false,
        }
    }

    /// Puts `text` at the start of the first line without wrapping (a bullet).
    pub fn prefix(&mut self, text: &str, style: Style) {
        self.push_run(text, style);
    }

    /// Adds text that may wrap at spaces. `\n` starts a new line.
    pub fn text(&mut self, text: &str, style: Style) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.break_line();
            }
            self.words(piece, style);
        }
    }

    /// Adds text that never wraps at spaces (code): it is cut at the line's end instead.
    pub fn verbatim(&mut self, text: &str, style: Style) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.break_line();
            }
            self.chars(piece, style);
        }
    }

    /// Ends the current line (an empty one too).
    pub fn break_line(&mut self) {
        // Spaces at a wrap are not part of either line.
        if let Some(last) = self.current.spans.last_mut() {
            let kept = last.text.trim_end_matches(' ').len();
            last.text.truncate(kept);
            if last.text.is_empty() {
                self.current.spans.pop();
            }
        }
        let line = core::mem::replace(&mut self.current, VLine { spans: Vec::new(), back: self.back });
        self.lines.push(line);
        self.col = self.hanging;
        self.started = false;
    }

    /// The lines; the last one is kept if it has anything on it.
    pub fn finish(mut self) -> Vec<VLine> {
        if self.started || !self.current.spans.is_empty() || self.lines.is_empty() {
            let line = core::mem::take(&mut self.current);
            self.lines.push(line);
        }
        self.lines
    }

    fn words(&mut self, text: &str, style: Style) {
        let mut rest = text;
        while !rest.is_empty() {
            // A word and the spaces after it.
            let word_end = rest.find(' ').unwrap_or(rest.len());
            let spaces_end = rest[word_end..].find(|c| c != ' ').map_or(rest.len(), |i| word_end + i);
            let word = &rest[..word_end];
            let spaces = &rest[word_end..spaces_end];
            let w = display_width(word);
            if self.started && self.col + w > self.width && w <= self.width - self.hanging {
                self.break_line();
            }
            self.chars(word, style);
            if self.col + display_width(spaces) <= self.width {
                self.push_run(spaces, style);
            } else if !spaces.is_empty() {
                self.break_line();
            }
            rest = &rest[spaces_end..];
        }
    }

    fn chars(&mut self, text: &str, style: Style) {
        let mut start = 0;
        let mut col = self.col;
        for (i, c) in text.char_indices() {
            let w = char_width(c);
            if col + w > self.width && (self.started || i > start) {
                self.push_run(&text[start..i], style);
                self.break_line();
                start = i;
                col = self.col;
            }
            col += w;
        }
        self.push_run(&text[start..], style);
    }

    fn push_run(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        let w = display_width(text);
        if let Some(last) = self.current.spans.last_mut()
            && last.role == style.role
            && last.bold == style.bold
            && last.italic == style.italic
            && last.boxed == style.boxed
            && last.col + display_width(&last.text) == self.col
        {
            last.text.push_str(text);
        } else {
            self.current.spans.push(Span {
                col: self.col,
                text: String::from(text),
                role: style.role,
                bold: style.bold,
                italic: style.italic,
                boxed: style.boxed,
            });
        }
        self.col += w;
        self.started = true;
    }
}

/// Plain text wrapped to `width` cells (user messages, notices).
pub fn plain(text: &str, width: u32, role: Role, back: LineBack) -> Vec<VLine> {
    let mut b = LineBuilder::new(width, 0, 0, back);
    b.text(text, Style::plain(role));
    b.finish()
}
