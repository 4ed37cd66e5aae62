//! Where each setting sits in a TOML text: the byte spans `write_back` edits.
//!
//! Built from the events of `toml_parser` (the parser under `toml`), which report every key,
//! value, table header and inline table with its byte range, so edits can change one value and
//! leave every comment, blank line and formatting choice of the file alone.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use toml_parser::decoder::Encoding;
use toml_parser::parser::{EventReceiver, parse_document};
use toml_parser::{ErrorSink, Raw, Source, Span};

/// A key/value pair of the text.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The full dotted path: the table header's names, then the key's.
    pub path: Vec<String>,
    /// The std table header it is under (`None` for the top of the file).
    pub section: Option<usize>,
    /// The inline table it is inside, if any.
    pub inline: Option<usize>,
    /// Where its key starts.
    pub key_start: usize,
    /// Its value, from the first character to the last.
    pub value: Range<usize>,
}

/// A `[table]` header.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    /// Its dotted path.
    pub path: Vec<String>,
    /// The start of its line.
    pub start: usize,
    /// Just after its line (after the newline, or the end of the text).
    pub header_end: usize,
}

/// A `{ … }` value.
#[derive(Clone, Debug)]
pub(crate) struct Inline {
    /// Its dotted path.
    pub path: Vec<String>,
    /// Where its `}` is.
    pub close: usize,
    /// Its own entries, in order.
    pub entries: Vec<usize>,
}

/// Every entry, header and inline table of a text that parses as TOML.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outline {
    pub entries: Vec<Entry>,
    pub sections: Vec<Section>,
    pub inlines: Vec<Inline>,
}

impl Outline {
    /// The outline of `text`, which must be valid TOML (spans are meaningless otherwise).
    pub fn of(text: &str) -> Outline {
        let tokens: Vec<_> = Source::new(text).lex().collect();
        let mut builder = Builder { text, ..Builder::default() };
        parse_document(&tokens, &mut builder, &mut ());
        builder.outline
    }

    /// The entry with exactly this path.
    pub fn entry(&self, path: &[String]) -> Option<usize> {
        self.entries.iter().position(|e| e.path == path)
    }
}

#[derive(Default)]
struct Builder<'t> {
    text: &'t str,
    outline: Outline,
    in_header: bool,
    header: Vec<String>,
    header_start: usize,
    section: Option<usize>,
    key: Vec<String>,
    key_start: usize,
    awaiting_value: bool,
    /// Entry being read whose value is an array (with how deep inside it we are).
    array: Option<(usize, usize)>,
    /// Open inline tables: (inline index, entry index holding it).
    inlines: Vec<(usize, usize)>,
}

impl Builder<'_> {
    fn prefix(&self) -> Vec<String> {
        match self.inlines.last() {
            Some(&(inline, _)) => self.outline.inlines[inline].path.clone(),
            None => self
                .outline
                .sections
                .get(self.section.unwrap_or(usize::MAX))
                .map(|s| s.path.clone())
                .unwrap_or_default(),
        }
    }

    /// Starts the entry whose value begins at `start`; returns its index.
    fn begin_value(&mut self, start: usize) -> usize {
        let mut path = self.prefix();
        path.append(&mut self.key);
        let inline = self.inlines.last().map(|&(inline, _)| inline);
        let index = self.outline.entries.len();
        self.outline.entries.push(Entry {
            path,
            section: self.section,
            inline,
            key_start: self.key_start,
            value: start..start,
        });
        if let Some(inline) = inline {
            self.outline.inlines[inline].entries.push(index);
        }
        self.awaiting_value = false;
        index
    }

    fn line_end(&self, from: usize) -> usize {
        self.text.get(from..).and_then(|rest| rest.find('\n')).map_or(self.text.len(), |i| from + i + 1)
    }
}

impl EventReceiver for Builder<'_> {
    fn std_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.in_header = true;
        self.header.clear();
        self.header_start = span.start();
    }

    fn std_table_close(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.in_header = false;
        let start = self.text.get(..self.header_start).and_then(|b| b.rfind('\n')).map_or(0, |i| i + 1);
        let header_end = self.line_end(span.end());
        let path = core::mem::take(&mut self.header);
        self.section = Some(self.outline.sections.len());
        self.outline.sections.push(Section { path, start, header_end });
    }

    fn array_table_open(&mut self, span: Span, error: &mut dyn ErrorSink) {
        // Not used by moteOS; kept as a section so its keys are not mistaken for others.
        self.std_table_open(span, error);
    }

    fn array_table_close(&mut self, span: Span, error: &mut dyn ErrorSink) {
        self.std_table_close(span, error);
        if let Some(section) = self.outline.sections.last_mut() {
            section.path.push(String::from("[]"));
        }
    }

    fn inline_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) -> bool {
        if let Some((_, depth)) = &mut self.array {
            *depth += 1;
            return true;
        }
        let entry = self.begin_value(span.start());
        let path = self.outline.entries[entry].path.clone();
        self.inlines.push((self.outline.inlines.len(), entry));
        self.outline.inlines.push(Inline { path, close: span.end(), entries: Vec::new() });
        true
    }

    fn inline_table_close(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        if let Some((_, depth)) = &mut self.array {
            *depth -= 1;
            return;
        }
        if let Some((inline, entry)) = self.inlines.pop() {
            self.outline.inlines[inline].close = span.start();
            self.outline.entries[entry].value.end = span.end();
        }
    }

    fn array_open(&mut self, span: Span, _error: &mut dyn ErrorSink) -> bool {
        match &mut self.array {
            Some((_, depth)) => *depth += 1,
            None => {
                let entry = self.begin_value(span.start());
                self.array = Some((entry, 1));
            }
        }
        true
    }

    fn array_close(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        if let Some((entry, depth)) = &mut self.array {
            *depth -= 1;
            if *depth == 0 {
                self.outline.entries[*entry].value.end = span.end();
                self.array = None;
            }
        }
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        if self.array.is_some() {
            return;
        }
        let raw = Raw::new_unchecked(self.text.get(span.start()..span.end()).unwrap_or_default(), encoding, span);
        let mut name = String::new();
        raw.decode_key(&mut name, &mut ());
        if self.in_header {
            self.header.push(name);
        } else {
            if self.key.is_empty() {
                self.key_start = span.start();
            }
            self.key.push(name);
        }
    }

    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.array.is_none() {
            self.awaiting_value = true;
        }
    }

    fn scalar(&mut self, span: Span, _encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        if self.array.is_none() && self.awaiting_value {
            let entry = self.begin_value(span.start());
            self.outline.entries[entry].value.end = span.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::borrow::ToOwned;

    fn paths(outline: &Outline) -> Vec<String> {
        outline.entries.iter().map(|e| e.path.join(".")).collect()
    }

    #[test]
    fn finds_keys_in_every_form() {
        let text = "a = 1 # c\n[t.'u v']\nb.c = \"x\"\nd = { e = [1, {f = 2}], g = {} }\n[h]\n\"i\" = [\n 1,\n]\n";
        let o = Outline::of(text);
        assert_eq!(paths(&o), ["a", "t.u v.b.c", "t.u v.d", "t.u v.d.e", "t.u v.d.g", "h.i"]);
        let value = |i: usize| &text[o.entries[i].value.clone()];
        assert_eq!(value(0), "1");
        assert_eq!(value(1), "\"x\"");
        assert_eq!(value(2), "{ e = [1, {f = 2}], g = {} }");
        assert_eq!(value(3), "[1, {f = 2}]");
        assert_eq!(value(4), "{}");
        assert_eq!(value(5), "[\n 1,\n]");
        assert_eq!(o.sections.len(), 2);
        assert_eq!(&text[o.sections[0].start..o.sections[0].header_end], "[t.'u v']\n");
        assert_eq!(o.inlines[0].entries, [3, 4]);
        assert_eq!(&text[o.inlines[0].close..o.inlines[0].close + 1], "}");
        assert_eq!(o.entry(&["h".to_owned(), "i".to_owned()]), Some(5));
    }
}
