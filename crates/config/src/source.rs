//! The file as bytes and text: size and encoding checks, and TOML syntax errors in plain words.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ops::Range;

use toml_parser::decoder::Encoding;
use toml_parser::parser::{EventReceiver, parse_document};
use toml_parser::{ErrorSink, Source, Span};

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
    let line_start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line_text = text[line_start..].lines().next().unwrap_or_default().trim_end_matches('\r');
    let message = explain(text, error.message(), span, line_text);
    ConfigError::Syntax { location, message, line_text: mask_secrets(text, line_start, line_text) }
}

/// The line with every secret in it masked, so a broken line can be shown and logged without
/// leaking a key: values of secret settings (`api_key`, inline tables included) and the
/// credentials inside URLs. The secrets are found by TOML's own event parser, which keeps going
/// past syntax errors. Masking keeps one character per character, so the column of the error
/// still points at the right place.
fn mask_secrets(text: &str, line_start: usize, line: &str) -> String {
    let mut masked: Vec<char> = line.chars().collect();
    let line_end = line_start + line.len();
    for span in secret_spans(text) {
        let (start, end) = (span.start.max(line_start), span.end.min(line_end));
        if start >= end {
            continue;
        }
        // Character positions within the line of the byte range.
        let first = line[..start - line_start].chars().count();
        let count = line[start - line_start..end - line_start].chars().count();
        for c in masked.iter_mut().skip(first).take(count) {
            if !matches!(*c, '"' | '\'') {
                *c = '*';
            }
        }
    }
    masked.into_iter().collect()
}

/// Whether a setting called `key` holds a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["key", "token", "secret", "password", "passwd"].iter().any(|word| key.contains(word))
}

/// Byte ranges of `text` that hold secrets: the values of secret settings and the credentials
/// in URL values.
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let tokens: Vec<_> = Source::new(text).lex().collect();
    let mut finder = SecretFinder { text, secret_key: false, in_value: false, secret_arrays: 0, spans: Vec::new() };
    parse_document(&tokens, &mut finder, &mut ());
    finder.spans
}

/// Follows the parser's events: which key a value belongs to, and where the value is.
struct SecretFinder<'t> {
    text: &'t str,
    /// The last key read names a secret.
    secret_key: bool,
    /// Between `=` and the end of the value.
    in_value: bool,
    /// How deep inside arrays that are a secret's value.
    secret_arrays: usize,
    spans: Vec<Range<usize>>,
}

impl SecretFinder<'_> {
    fn value(&mut self, span: Span) {
        let range = span.start()..span.end();
        if self.secret_arrays > 0 || (self.secret_key && self.in_value) {
            self.spans.push(range);
        } else if let Some(value) = self.text.get(range.clone()) {
            http::credential_spans(value, |inner| self.spans.push(range.start + inner.start..range.start + inner.end));
        }
        if self.secret_arrays == 0 {
            // The value is complete: what follows on the line is not the secret.
            self.in_value = false;
            self.secret_key = false;
        }
    }
}

impl EventReceiver for SecretFinder<'_> {
    fn simple_key(&mut self, span: Span, _kind: Option<Encoding>, _error: &mut dyn ErrorSink) {
        if self.secret_arrays == 0 {
            // Dotted keys report each part; the last one names the setting.
            self.secret_key = self.text.get(span.start()..span.end()).is_some_and(is_secret_key);
            self.in_value = false;
        }
    }

    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.in_value = true;
    }

    fn scalar(&mut self, span: Span, _kind: Option<Encoding>, _error: &mut dyn ErrorSink) {
        self.value(span);
    }

    fn error(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        // Whatever follows a secret's key on a broken line (`api_key "sk-…"`) is its value.
        if self.secret_key {
            self.spans.push(span.start()..span.end());
        }
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        if self.secret_arrays > 0 || (self.secret_key && self.in_value) {
            self.secret_arrays += 1;
        }
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.secret_arrays = self.secret_arrays.saturating_sub(1);
        if self.secret_arrays == 0 {
            self.in_value = false;
            self.secret_key = false;
        }
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.in_value = false;
        true
    }

    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.secret_key = false;
        self.in_value = false;
    }

    fn newline(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.secret_arrays == 0 {
            self.secret_key = false;
            self.in_value = false;
        }
    }
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

    fn masked(text: &str) -> String {
        match syntax_error_of(text) {
            ConfigError::Syntax { line_text, .. } => line_text,
            other => panic!("{other:?}"),
        }
    }

    fn syntax_error_of(text: &str) -> ConfigError {
        let error = toml::from_str::<toml::Table>(text).expect_err("the text must be broken");
        syntax_error(text, &error)
    }

    #[test]
    fn secrets_in_broken_lines_are_masked() {
        assert_eq!(masked("api_key = \"sk-ant-123"), "api_key = \"**********");
        assert_eq!(masked("  api_key \"sk-1\""), "  api_key \"****\"");
        assert_eq!(masked("model = \"llama"), "model = \"llama");
        // Inline tables, dotted keys and keys after other settings on the same line.
        assert_eq!(
            masked("anthropic = { model = \"m\", api_key = \"sk-ant-secret-1\" "),
            "anthropic = { model = \"m\", api_key = \"***************\" "
        );
        assert_eq!(masked("providers.groq.api_key = \"gsk_secret\" x"), "providers.groq.api_key = \"**********\" x");
        assert_eq!(masked("[t]\ntoken = 'tok-secret' ]"), "token = '**********' ]");
        assert_eq!(masked("keys = [\"a-secret\", \"b-secret\"] x"), "keys = [\"********\", \"********\"] x");
        // Credentials inside URLs, whatever the setting.
        assert_eq!(
            masked("base_url = \"https://me:hunter2@gw.example/v1?api-key=sk-q\" junk"),
            "base_url = \"https://**********@gw.example/v1?api-key=****\" junk"
        );
        // Only the broken line is kept, and secrets elsewhere do not shift it.
        assert_eq!(masked("api_key = \"sk-1\"\nmodel = \"é\" oops"), "model = \"é\" oops");
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
