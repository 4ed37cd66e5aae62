//! Finding special tokens (`<|im_start|>`...) written out in text.

use alloc::vec::Vec;

/// A piece of input text: plain text to tokenize, or a special token written out in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// The special tokens to look for, indexed by their first byte and longest first, so the
/// scan checks only the few tokens that can start at each position.
#[derive(Debug, Default)]
pub(crate) struct SpecialMatcher {
    /// For each first byte, the candidates as (text, id, always matched), longest text first.
    by_first_byte: Vec<Vec<(alloc::string::String, u32, bool)>>,
}

impl SpecialMatcher {
    /// Builds a matcher for `(text, id, always)` entries; `always` entries are matched even
    /// when special-token parsing is off (user-defined tokens), the others only when it is on.
    pub(crate) fn new(entries: impl Iterator<Item = (alloc::string::String, u32, bool)>) -> Self {
        let mut by_first_byte: Vec<Vec<_>> = (0..256).map(|_| Vec::new()).collect();
        for entry in entries {
            if let Some(&first) = entry.0.as_bytes().first() {
                by_first_byte[usize::from(first)].push(entry);
            }
        }
        for list in &mut by_first_byte {
            // Longest first, so `<|im_start|>` wins over a shorter token that is its prefix.
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        }
        Self { by_first_byte }
    }

    /// Cuts `text` into plain text and special tokens, leftmost first, longest at each position.
    pub(crate) fn split<'a>(&self, text: &'a str, parse_special: bool, out: &mut Vec<Fragment<'a>>) {
        let bytes = text.as_bytes();
        let mut plain_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let found = self.by_first_byte.get(usize::from(bytes[i])).and_then(|list| {
                list.iter()
                    .find(|(token, _, always)| (*always || parse_special) && bytes[i..].starts_with(token.as_bytes()))
            });
            match found {
                // A token's first byte is where a UTF-8 character starts in `token`, and the
                // bytes match, so `i` and `i + len` are character boundaries of `text` too.
                Some((token, id, _)) => {
                    if plain_start < i {
                        out.push(Fragment::Text(&text[plain_start..i]));
                    }
                    out.push(Fragment::Token(*id));
                    i += token.len();
                    plain_start = i;
                }
                None => i += 1,
            }
        }
        if plain_start < bytes.len() {
            out.push(Fragment::Text(&text[plain_start..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn matcher() -> SpecialMatcher {
        SpecialMatcher::new(
            [("<|im_start|>", 1, false), ("<|im", 7, false), ("<think>", 9, true)]
                .into_iter()
                .map(|(t, id, always)| (t.to_string(), id, always)),
        )
    }

    #[test]
    fn finds_longest_special_when_parsing() {
        let mut out = Vec::new();
        matcher().split("a<|im_start|>b<|imx<think>", true, &mut out);
        assert_eq!(
            out,
            [
                Fragment::Text("a"),
                Fragment::Token(1),
                Fragment::Text("b"),
                Fragment::Token(7),
                Fragment::Text("x"),
                Fragment::Token(9)
            ]
        );
    }

    #[test]
    fn control_tokens_stay_text_without_parsing() {
        let mut out = Vec::new();
        matcher().split("é<|im_start|><think>", false, &mut out);
        assert_eq!(out, [Fragment::Text("é<|im_start|>"), Fragment::Token(9)]);
    }
}
