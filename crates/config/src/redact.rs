//! Showing API keys without revealing them.
//!
//! The serial log and screenshots end up in bug reports; a key must never reach them. Enough is
//! shown (the vendor prefix and the last four characters) for a user to tell which key is set.

use core::fmt;

use alloc::string::String;

/// Vendor prefixes worth showing, longest first so `sk-ant-` wins over `sk-`.
const KNOWN_PREFIXES: [&str; 6] = ["sk-or-v1-", "sk-proj-", "sk-ant-", "gsk_", "xai-", "sk-"];

/// Keys shorter than this are shown only as "(set)": four characters of a short key are too
/// large a share of it.
const MIN_LEN_FOR_TAIL: usize = 16;

/// The displayable form of an API key: `sk-ant-…abcd`, `(set)` or `(empty)`.
pub fn redact_key(key: &str) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = fmt::write(&mut out, format_args!("{}", Redacted(key)));
    out
}

/// Formats a key in its redacted form, without allocating.
#[derive(Clone, Copy)]
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.0;
        if key.is_empty() {
            return f.write_str("(empty)");
        }
        let len = key.chars().count();
        if len < MIN_LEN_FOR_TAIL {
            return f.write_str("(set)");
        }
        let prefix = KNOWN_PREFIXES.into_iter().find(|p| key.starts_with(p)).unwrap_or("");
        let tail_start = key.char_indices().nth(len - 4).map_or(key.len(), |(i, _)| i);
        write!(f, "{prefix}…{}", &key[tail_start..])
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_prefix_and_tail_only() {
        assert_eq!(redact_key("sk-ant-api03-abcdefghijklmnop-wxyz"), "sk-ant-…wxyz");
        assert_eq!(redact_key("sk-proj-0123456789abcdef"), "sk-proj-…cdef");
        assert_eq!(redact_key("gsk_0123456789abcdefgh"), "gsk_…efgh");
        assert_eq!(redact_key("0123456789abcdefgh"), "…efgh");
        assert_eq!(redact_key("short-key"), "(set)");
        assert_eq!(redact_key(""), "(empty)");
    }

    #[test]
    fn multibyte_keys_do_not_panic() {
        assert_eq!(redact_key("ééééééééééééééééé"), "…éééé");
    }
}
