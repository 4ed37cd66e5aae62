//! The file as bytes and text: size and encoding checks, and TOML syntax errors in plain words.

use alloc::string::{String, ToString};

use crate::MAX_FILE_SIZE;
use crate::problem::{ConfigError, Location};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Checks size and encoding and returns the text without a byte-order mark.
pub(crate) fn decode(bytes: &[u8]) -> Result<&str, ConfigError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(ConfigError::TooLarge { len: bytes.len() });
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    // Notepad's "Unicode" is UTF-16; a BOM or an ASCII letter followed by NUL gives it away and
    // deserves a better message than "byte 0x00 is not UTF-8".
    let utf16_bom = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    let utf16_ascii = matches!(bytes, [a, 0, ..] | [0, a, ..] if a.is_ascii() && *a != 0);
    if utf16_bom || utf16_ascii {
        return Err(ConfigError::Utf16);
    }
    core::str::from_utf8(bytes).map_err(|err| {
        let valid = err.valid_up_to();
        let prefix = core::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let byte = bytes.get(valid).copied().unwrap_or_default();
        ConfigError::NotUtf8 { location: Location::of(prefix, valid), byte }
    })
}

/// The text without a leading byte-order mark, which some Windows editors add.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Turns the TOML parser's error into a located sentence.
pub(crate) fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let span = error.span().unwrap_or(0..0);
    let location = Location::of(text, span.start);
    let line_text = text.lines().nth(location.line as usize - 1).unwrap_or_default().trim_end_matches('\r');
    let message = explain(text, error.message(), span, line_text);
    ConfigError::Syntax { location, message, line_text: mask_secret(line_text) }
}

/// The line with the value masked when it sets a key, so a broken `api_key` line can be shown
/// and logged without leaking the key. Masking keeps one character per character, so the
/// column of the error still points at the right place.
fn mask_secret(line: &str) -> String {
    let key_end = line.find(['=', ':']).unwrap_or_else(|| {
        let start = line.len() - line.trim_start().len();
        line[start..].find(char::is_whitespace).map_or(line.len(), |i| start + i)
    });
    if !line[..key_end].to_ascii_lowercase().contains("key") {
        return line.to_string();
    }
    let mut masked = String::from(&line[..key_end]);
    masked.extend(line[key_end..].chars().map(|c| if c.is_alphanumeric() || "-_.+/".contains(c) { '*' } else { c }));
    masked
}

/// Rephrases the parser's most common complaints for people who do not know TOML.
///
/// The parser's wording is not a stable interface, so anything unrecognised passes through
/// unchanged rather than being guessed at.
fn explain(text: &str, message: &str, span: core::ops::Range<usize>, line_text: &str) -> String {
    let what = message.split(", expected").next().unwrap_or(message);
    let before = text.get(..span.start).and_then(|b| b.chars().next_back());
    let at = text.get(span.start..).and_then(|a| a.chars().next());
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let plain = match what {
        "key with no value" if line_text.contains(':') && !line_text.contains('=') => {
            "expected `=` after the key (TOML uses `=`, not `:`)"
        }
        "key with no value" if before.is_some_and(char::is_whitespace) && at.is_some_and(is_key_char) => {
            "expected `=` after the key (a key cannot contain spaces: use `_` instead)"
        }
        "key with no value" => "expected `=` after the key",
        "string values must be quoted" if at.is_none_or(|c| c == '\r' || c == '\n' || c == '#') => {
            "the value after `=` is missing"
        }
        "string values must be quoted" => "text values must be in quotes, like \"anthropic\"",
        "invalid basic string" | "invalid literal string" => "this text has no closing quote",
        "invalid multi-line basic string" | "invalid multi-line literal string" => {
            "this multi-line text has no closing triple quote"
        }
        "unclosed table" => "the table header has no closing `]`",
        "unclosed array" => "the list has no closing `]`",
        "unclosed inline table" => "the inline table has no closing `}`",
        "unexpected key or value" => "only a comment may follow on the same line: put each setting on its own line",
        "duplicate key" => return duplicate(text, span, line_text),
        _ => return message.to_string(),
    };
    plain.to_string()
}

fn duplicate(text: &str, span: core::ops::Range<usize>, line_text: &str) -> String {
    let trimmed = line_text.trim_start();
    if trimmed.starts_with('[') {
        let header = trimmed.trim_start_matches('[').split(']').next().unwrap_or_default().trim();
        return alloc::format!("the table [{header}] is defined twice: merge the two into one");
    }
    let key = text.get(span).unwrap_or_default();
    alloc::format!("`{key}` is set twice in the same table: keep only one")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\r\nbé = 2\n";
        assert_eq!(Location::of(text, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of(text, 7), Location { line: 2, column: 1 });
        // `é` is two bytes but one column.
        assert_eq!(Location::of(text, 11), Location { line: 2, column: 4 });
        assert_eq!(Location::of(text, 999), Location { line: 3, column: 1 });
        // An offset inside a character moves back to its start instead of panicking.
        assert_eq!(Location::of(text, 9), Location { line: 2, column: 2 });
    }

    #[test]
    fn secrets_in_broken_lines_are_masked() {
        assert_eq!(mask_secret("api_key = \"sk-ant-123"), "api_key = \"**********");
        assert_eq!(mask_secret("  api_key \"sk-1\""), "  api_key \"****\"");
        assert_eq!(mask_secret("model = \"llama"), "model = \"llama");
        assert_eq!(mask_secret(""), "");
    }

    #[test]
    fn decode_checks_size_and_encoding() {
        assert_eq!(decode(b"a = 1"), Ok("a = 1"));
        assert_eq!(decode(b"\xEF\xBB\xBFa = 1"), Ok("a = 1"));
        assert_eq!(decode(b"\xFF\xFEa\0"), Err(ConfigError::Utf16));
        assert_eq!(decode(b"[\0p\0"), Err(ConfigError::Utf16));
        assert_eq!(
            decode(b"a = 1\nb = \"caf\xE9\""),
            Err(ConfigError::NotUtf8 { location: Location { line: 2, column: 9 }, byte: 0xE9 })
        );
        let big = alloc::vec![b'#'; MAX_FILE_SIZE + 1];
        assert_eq!(decode(&big), Err(ConfigError::TooLarge { len: MAX_FILE_SIZE + 1 }));
        assert!(decode(&big[..MAX_FILE_SIZE]).is_ok());
    }
}
