//! Pre-tokenization: cutting text into words before byte-level BPE merges them.
//!
//! The reference tokenizers describe each rule as a list of regular expressions applied in
//! turn, each one splitting every fragment left by the previous one into matches and the gaps
//! between them, e.g. for SmolLM `\p{N}` then
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
//!
//! Why hand-written rules instead of a regex engine (measured on this host, Nov 2026, release
//! builds with fat LTO, on the 10 KB text that `tests/tokenizer_reference.rs` times):
//! - `regex` needs `std`; `regex-automata` builds without it but has no look-ahead, which the
//!   `\s+(?!\S)` alternative (a run of spaces leaves its last space to the next word) needs.
//! - `fancy-regex` 0.20 builds without `std` and has look-ahead. Its GPT-2 pattern split the
//!   text in ~0.33 ms against ~0.05 ms for these rules (both gave the same 2,749 words, and
//!   the same 2,454 for the Llama 3 pattern), compiling the pattern took ~0.9 ms, and it made a
//!   stripped test program 1.48 MB larger (1.84 MB against 0.36 MB) in an OS image of ~1.7 MB.
//! - Each rule below is a short greedy left-to-right scan needing one character of look-ahead,
//!   so writing it by hand is small and exact; the reference test checks the result against
//!   the `tokenizers` package on tricky text.
//!
//! Character classes follow the reference: `\p{L}` and `\p{N}` are Unicode general categories
//! (from `unicode-general-category`), `\s` is the Unicode `White_Space` property
//! (`char::is_whitespace`).

use alloc::vec::Vec;
use core::ops::Range;

use unicode_general_category::{GeneralCategory, get_general_category};

use super::PreTokenizer;

/// The classes the rules distinguish. Every character is exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\s`.
    Space,
    /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks, controls...
    Other,
}

/// One character of the text with its class and where it starts.
#[derive(Debug, Clone, Copy)]
struct CharInfo {
    ch: char,
    class: Class,
    offset: usize,
}

fn classify(ch: char) -> Class {
    if ch.is_ascii() {
        return match ch {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' => Class::Space,
            _ => Class::Other,
        };
    }
    if ch.is_whitespace() {
        return Class::Space;
    }
    use GeneralCategory as G;
    match get_general_category(ch) {
        G::UppercaseLetter | G::LowercaseLetter | G::TitlecaseLetter | G::ModifierLetter | G::OtherLetter => {
            Class::Letter
        }
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => Class::Number,
        _ => Class::Other,
    }
}

/// A rule tried at position `i` of a fragment: the end of its match, or `None` when nothing
/// matches there (the character then joins the gap before the next match).
type Rule = fn(&[CharInfo], usize) -> Option<usize>;

/// The rules applied in turn for each pre-tokenizer.
fn rules(pre: PreTokenizer) -> &'static [Rule] {
    match pre {
        PreTokenizer::Gpt2 => &[gpt2_word],
        PreTokenizer::Smollm => &[single_digit, gpt2_word],
        PreTokenizer::Llama3 => &[llama3_word],
        PreTokenizer::Qwen2 => &[qwen2_word],
        PreTokenizer::Default => &[punctuation_run, gpt2_word, number_run, ascii_digit_triple],
    }
}

/// Splits `text` into the words byte-level BPE encodes one by one, in order, covering it all.
pub(crate) fn split(pre: PreTokenizer, text: &str, words: &mut Vec<Range<usize>>) {
    let chars: Vec<CharInfo> =
        text.char_indices().map(|(offset, ch)| CharInfo { ch, class: classify(ch), offset }).collect();
    if chars.is_empty() {
        return;
    }
    // Fragments as character index ranges; each rule splits every fragment further.
    let mut fragments = alloc::vec![0..chars.len()];
    let mut next = Vec::new();
    for rule in rules(pre) {
        next.clear();
        for fragment in &fragments {
            apply(*rule, &chars[fragment.clone()], fragment.start, &mut next);
        }
        core::mem::swap(&mut fragments, &mut next);
    }
    let byte_at = |i: usize| chars.get(i).map_or(text.len(), |c| c.offset);
    words.extend(fragments.into_iter().map(|r| byte_at(r.start)..byte_at(r.end)));
}

/// Splits one fragment (starting at character `base` of the text) into matches and gaps.
fn apply(rule: Rule, chars: &[CharInfo], base: usize, out: &mut Vec<Range<usize>>) {
    let mut gap_start = 0;
    let mut i = 0;
    while i < chars.len() {
        match rule(chars, i) {
            // Rules only ever report non-empty matches; the guard keeps the loop finite anyway.
            Some(end) if end > i => {
                if gap_start < i {
                    out.push(base + gap_start..base + i);
                }
                out.push(base + i..base + end);
                i = end;
                gap_start = end;
            }
            _ => i += 1,
        }
    }
    if gap_start < chars.len() {
        out.push(base + gap_start..base + chars.len());
    }
}

/// End of the run of characters of class `class` starting at `i`.
fn run_end(chars: &[CharInfo], i: usize, class: Class) -> usize {
    chars[i..].iter().position(|c| c.class != class).map_or(chars.len(), |n| i + n)
}

fn class_at(chars: &[CharInfo], i: usize) -> Option<Class> {
    chars.get(i).map(|c| c.class)
}

/// `'s|'t|'re|'ve|'m|'ll|'d` at `i` (optionally case-insensitive): the end of the match.
fn contraction(chars: &[CharInfo], i: usize, ignore_case: bool) -> Option<usize> {
    if chars.get(i)?.ch != '\'' {
        return None;
    }
    let lower = |k: usize| chars.get(k).map(|c| if ignore_case { c.ch.to_ascii_lowercase() } else { c.ch });
    match (lower(i + 1)?, lower(i + 2)) {
        ('s' | 't' | 'm' | 'd', _) => Some(i + 2),
        ('r', Some('e')) | ('v', Some('e')) | ('l', Some('l')) => Some(i + 3),
        _ => None,
    }
}

/// The whitespace alternatives shared by both word rules, `\s+(?!\S)|\s+`, at a space `i`:
/// a run of whitespace followed by a non-space gives its last character to the next word
/// (so `"  a"` becomes `" "`, `" a"`), unless the run is that single character.
fn whitespace(chars: &[CharInfo], i: usize) -> usize {
    let end = run_end(chars, i, Class::Space);
    if end == chars.len() || end - i == 1 { end } else { end - 1 }
}

/// The GPT-2 word rule:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
fn gpt2_word(chars: &[CharInfo], i: usize) -> Option<usize> {
    if let Some(end) = contraction(chars, i, false) {
        return Some(end);
    }
    let c = chars.get(i)?;
    // ` ?X+`: one literal space may lead a run of letters, digits or other symbols.
    let start = match class_at(chars, i + 1) {
        Some(next) if c.ch == ' ' && next != Class::Space => i + 1,
        _ => i,
    };
    let class = chars[start].class;
    if class == Class::Space { Some(whitespace(chars, i)) } else { Some(run_end(chars, start, class)) }
}

/// The Llama 3 word rule: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
/// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
fn llama3_word(chars: &[CharInfo], i: usize) -> Option<usize> {
    llama3_like_word(chars, i, 3)
}

/// The Qwen2 word rule: the Llama 3 rule with `\p{N}` (one digit) for `\p{N}{1,3}`.
fn qwen2_word(chars: &[CharInfo], i: usize) -> Option<usize> {
    llama3_like_word(chars, i, 1)
}

/// The Llama 3 rule with digit runs of at most `max_digits`.
fn llama3_like_word(chars: &[CharInfo], i: usize, max_digits: usize) -> Option<usize> {
    if let Some(end) = contraction(chars, i, true) {
        return Some(end);
    }
    let c = chars.get(i)?;
    let is_newline = |ch: char| ch == '\r' || ch == '\n';
    // `[^\r\n\p{L}\p{N}]?\p{L}+`: any one non-newline, non-letter, non-digit may lead letters.
    if c.class == Class::Letter {
        return Some(run_end(chars, i, Class::Letter));
    }
    if c.class != Class::Number && !is_newline(c.ch) && class_at(chars, i + 1) == Some(Class::Letter) {
        return Some(run_end(chars, i + 1, Class::Letter));
    }
    // `\p{N}{1,3}`.
    if c.class == Class::Number {
        return Some(run_end(chars, i, Class::Number).min(i + max_digits));
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`.
    let start = if c.ch == ' ' && class_at(chars, i + 1) == Some(Class::Other) { i + 1 } else { i };
    if chars[start].class == Class::Other {
        let mut end = run_end(chars, start, Class::Other);
        while chars.get(end).is_some_and(|c| is_newline(c.ch)) {
            end += 1;
        }
        return Some(end);
    }
    // `\s*[\r\n]+`: greedy whitespace backs off to the last newline of the run.
    let run = run_end(chars, i, Class::Space);
    if let Some(last_newline) = (i..run).rev().find(|&k| is_newline(chars[k].ch)) {
        return Some(last_newline + 1);
    }
    Some(whitespace(chars, i))
}

/// `\p{N}`: every digit is a word of its own.
fn single_digit(chars: &[CharInfo], i: usize) -> Option<usize> {
    (chars.get(i)?.class == Class::Number).then_some(i + 1)
}

/// `\p{N}+`.
fn number_run(chars: &[CharInfo], i: usize) -> Option<usize> {
    (chars.get(i)?.class == Class::Number).then(|| run_end(chars, i, Class::Number))
}

/// `[0-9][0-9][0-9]`.
fn ascii_digit_triple(chars: &[CharInfo], i: usize) -> Option<usize> {
    let digits = chars.get(i..i + 3)?;
    digits.iter().all(|c| c.ch.is_ascii_digit()).then_some(i + 3)
}

/// `[\p{P}\$\+<=>\^~\|]+`.
fn punctuation_run(chars: &[CharInfo], i: usize) -> Option<usize> {
    fn is_punctuation(ch: char) -> bool {
        use GeneralCategory as G;
        matches!(ch, '$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
            || matches!(
                get_general_category(ch),
                G::ConnectorPunctuation
                    | G::DashPunctuation
                    | G::OpenPunctuation
                    | G::ClosePunctuation
                    | G::InitialPunctuation
                    | G::FinalPunctuation
                    | G::OtherPunctuation
            )
    }
    let len = chars[i..].iter().take_while(|c| is_punctuation(c.ch)).count();
    (len > 0).then_some(i + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn words(pre: PreTokenizer, text: &str) -> Vec<&str> {
        let mut ranges = Vec::new();
        split(pre, text, &mut ranges);
        ranges.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn gpt2_basic_words_and_spaces() {
        assert_eq!(words(PreTokenizer::Gpt2, "Hello world"), ["Hello", " world"]);
        assert_eq!(words(PreTokenizer::Gpt2, "a  b"), ["a", " ", " b"]);
        assert_eq!(words(PreTokenizer::Gpt2, "a   "), ["a", "   "]);
        assert_eq!(words(PreTokenizer::Gpt2, "a\tb"), ["a", "\t", "b"]);
        assert_eq!(words(PreTokenizer::Gpt2, "a \t b"), ["a", " \t", " b"]);
        assert_eq!(words(PreTokenizer::Gpt2, "x 123 !?"), ["x", " 123", " !?"]);
        assert_eq!(words(PreTokenizer::Gpt2, ""), Vec::<&str>::new());
    }

    #[test]
    fn gpt2_contractions_are_case_sensitive() {
        assert_eq!(words(PreTokenizer::Gpt2, "don't"), ["don", "'t"]);
        assert_eq!(words(PreTokenizer::Gpt2, "we'll 're"), ["we", "'ll", " '", "re"]);
        assert_eq!(words(PreTokenizer::Gpt2, "DON'T"), ["DON", "'", "T"]);
    }

    #[test]
    fn smollm_splits_every_digit() {
        assert_eq!(words(PreTokenizer::Smollm, "in 2024,"), ["in", " ", "2", "0", "2", "4", ","]);
        assert_eq!(words(PreTokenizer::Smollm, "x٣٤"), ["x", "٣", "٤"]);
    }

    #[test]
    fn llama3_rules() {
        assert_eq!(words(PreTokenizer::Llama3, "I'M 12345 ok"), ["I", "'M", " ", "123", "45", " ok"]);
        assert_eq!(words(PreTokenizer::Llama3, "(a) \n\n  b"), ["(a", ")", " \n\n", " ", " b"]);
        assert_eq!(words(PreTokenizer::Llama3, "x !!\n\ny"), ["x", " !!\n\n", "y"]);
    }

    #[test]
    fn qwen2_rule_splits_single_digits() {
        assert_eq!(words(PreTokenizer::Qwen2, "I'M 12345 ok"), ["I", "'M", " ", "1", "2", "3", "4", "5", " ok"]);
        assert_eq!(words(PreTokenizer::Qwen2, "x !!\n\ny"), ["x", " !!\n\n", "y"]);
    }

    #[test]
    fn default_rule_splits_punctuation_first_and_digit_triples() {
        assert_eq!(words(PreTokenizer::Default, "a, b 1234567"), ["a", ",", " b", " ", "123", "456", "7"]);
    }

    #[test]
    fn unicode_classes() {
        // A combining accent is a mark, not a letter; the ideographic space is whitespace.
        assert_eq!(words(PreTokenizer::Gpt2, "e\u{301}t\u{e9}"), ["e", "\u{301}", "t\u{e9}"]);
        assert_eq!(words(PreTokenizer::Gpt2, "日本\u{3000}語"), ["日本", "\u{3000}", "語"]);
        assert_eq!(words(PreTokenizer::Gpt2, "hi 👋🏽!"), ["hi", " 👋🏽!"]);
    }

    #[test]
    fn words_cover_the_text() {
        let text = "Mixed: 12 apples, 'quoted' text\t\n\n  ok 日本語 😀 don't";
        for pre in
            [PreTokenizer::Gpt2, PreTokenizer::Smollm, PreTokenizer::Llama3, PreTokenizer::Qwen2, PreTokenizer::Default]
        {
            assert_eq!(words(pre, text).concat(), text, "{pre:?}");
        }
    }
}
