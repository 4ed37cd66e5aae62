//! Word wrapping for the monospaced font.

use crate::font::FontSize;
use alloc::string::String;
use alloc::vec::Vec;
use core::str::Split;

/// The lines of `text` wrapped to `max_width` pixels at `size`, as slices of
/// `text`; see [`wrap_lines`]. Allocates nothing, so a panic screen can use it.
#[derive(Clone, Debug)]
pub struct WrapLines<'a> {
    /// Explicit lines still to wrap; `None` for empty text, which has no lines.
    paragraphs: Option<Split<'a, char>>,
    /// What is left of the paragraph being wrapped.
    rest: Option<&'a str>,
    /// Whether the current paragraph has produced a line yet.
    emitted: bool,
    max_chars: usize,
}

/// Wraps `text` into lines no wider than `max_width` pixels at `size`.
///
/// Lines break at whitespace, which is dropped at the break; a word longer
/// than a whole line is broken wherever it must be. `\n` (or `\r\n`) always
/// starts a new line, so blank lines survive as empty lines. Empty text has no
/// lines. Indentation at the start of a paragraph is kept. A width narrower
/// than one character still fits one character per line.
pub fn wrap_lines(text: &str, size: FontSize, max_width: u32) -> WrapLines<'_> {
    let max_chars = (max_width / size.advance()).max(1) as usize;
    let paragraphs = (!text.is_empty()).then(|| text.split('\n'));
    WrapLines { paragraphs, rest: None, emitted: false, max_chars }
}

/// [`wrap_lines`] collected into owned strings.
pub fn wrap_text(text: &str, size: FontSize, max_width: u32) -> Vec<String> {
    wrap_lines(text, size, max_width).map(String::from).collect()
}

impl<'a> Iterator for WrapLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let Some(rest) = self.rest else {
                let paragraph = self.paragraphs.as_mut()?.next()?;
                self.rest = Some(paragraph.strip_suffix('\r').unwrap_or(paragraph));
                self.emitted = false;
                continue;
            };
            if rest.is_empty() {
                self.rest = None;
                if self.emitted {
                    continue;
                }
                // A blank (or all-blank) paragraph still occupies a line.
                return Some("");
            }
            let (line, remainder) = split_line(rest, self.max_chars);
            self.rest = Some(remainder);
            if !line.is_empty() {
                self.emitted = true;
                return Some(line);
            }
        }
    }
}

/// Splits the first line (at most `max` chars, `max` >= 1) off `rest`. The
/// line may come back empty when `rest` starts with whitespace that is being
/// dropped; the remainder is then strictly shorter, so callers make progress.
fn split_line(rest: &str, max: usize) -> (&str, &str) {
    let Some((cut, first_excess)) = rest.char_indices().nth(max) else {
        return (rest.trim_end(), "");
    };
    if first_excess.is_whitespace() {
        return (rest[..cut].trim_end(), rest[cut..].trim_start());
    }
    let head = &rest[..cut];
    match head.char_indices().rev().find(|&(_, c)| c.is_whitespace()) {
        // Whatever stands before the last space, possibly nothing but
        // indentation, which a word too long for it then pushes away.
        Some((space, _)) => (head[..space].trim_end(), rest[space..].trim_start()),
        // One word longer than the line.
        None => (head, &rest[cut..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_width;
    use alloc::vec;

    /// Wraps to a width of `chars` cells at the small size.
    fn wrap(text: &str, chars: u32) -> Vec<String> {
        wrap_text(text, FontSize::Small, chars * FontSize::Small.advance())
    }

    #[test]
    fn empty_text_has_no_lines() {
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn short_text_is_one_line() {
        assert_eq!(wrap("hello world", 40), vec!["hello world"]);
    }

    #[test]
    fn breaks_greedily_at_spaces() {
        assert_eq!(wrap("the quick brown fox jumps", 11), vec!["the quick", "brown fox", "jumps"]);
        assert_eq!(wrap("the quick brown", 9), vec!["the quick", "brown"]);
        assert_eq!(wrap("abc     def", 5), vec!["abc", "def"]);
    }

    #[test]
    fn long_words_are_broken() {
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab cdefghijk", 5), vec!["ab", "cdefg", "hijk"]);
        assert_eq!(wrap("   abcdefgh", 5), vec!["abcde", "fgh"]);
    }

    #[test]
    fn newlines_start_lines() {
        assert_eq!(wrap("a\n\nb", 10), vec!["a", "", "b"]);
        assert_eq!(wrap("a\n", 10), vec!["a", ""]);
        assert_eq!(wrap("\n", 10), vec!["", ""]);
        assert_eq!(wrap("one two\r\nthree", 5), vec!["one", "two", "three"]);
        assert_eq!(wrap("   \nx", 10), vec!["", "x"]);
    }

    #[test]
    fn indentation_is_kept() {
        assert_eq!(wrap("  ab cd", 10), vec!["  ab cd"]);
    }

    #[test]
    fn narrow_widths_still_progress() {
        assert_eq!(wrap_text("abc", FontSize::Large, 0), vec!["a", "b", "c"]);
        assert_eq!(wrap("a b", 1), vec!["a", "b"]);
    }

    #[test]
    fn counts_chars_not_bytes() {
        assert_eq!(wrap("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}", 2), vec!["\u{e9}\u{e9}", "\u{e9}\u{e9}", "\u{e9}"]);
    }

    #[test]
    fn lines_fit_and_keep_every_word() {
        let text = "panicked at crates/kernel/src/memory.rs:88:17: the firmware memory map \
                    has 4294967296 descriptors, which is impossible\n\nhttps://example.com/a/really/long/url";
        for size in FontSize::ALL {
            for width in [0, 30, 100, 333, 800] {
                let lines: Vec<&str> = wrap_lines(text, size, width).collect();
                for line in &lines {
                    assert!(text_width(line, size) <= width.max(size.advance()), "{line:?} at {width}");
                }
                let ink = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
                assert_eq!(ink(&lines.concat()), ink(text));
            }
        }
    }
}
