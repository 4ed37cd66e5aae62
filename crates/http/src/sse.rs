//! A server-sent events parser following the WHATWG HTML standard,
//! "9.2.6 Interpreting an event stream", step for step.
//!
//! Bytes go in exactly as they come off the response body, split anywhere
//! (even inside a multi-byte character or between the CR and LF of one line
//! end); complete events come out. Memory stays bounded whatever the server
//! sends: an overlong line or event is dropped and counted, never buffered.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::str;

/// Default longest line kept (1 MiB); longer lines are dropped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default largest `data` buffer of one event (4 MiB); larger events are dropped.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `"message"` when there was none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event ID in force when the event was dispatched (it persists
    /// across events until the server changes it); `None` when empty.
    pub id: Option<String>,
    /// A valid `retry:` field received since the previous blank line, in
    /// milliseconds. The stream-wide value is
    /// [`SseParser::reconnection_time_ms`].
    pub retry: Option<u64>,
}

/// The event-stream parser: see the module documentation.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_line_bytes: usize,
    max_event_bytes: usize,

    /// Leading bytes of a UTF-8 sequence cut off at the end of the last feed.
    pending: [u8; 4],
    pending_len: usize,
    /// Whether the first character of the stream has been seen (a BOM there
    /// is dropped, anywhere else it is data).
    started: bool,
    /// The last feed ended in CR: an LF starting the next one belongs to it.
    after_cr: bool,

    line: String,
    /// The current line grew past the limit and is being skipped to its end.
    skipping_line: bool,

    event_type: String,
    data: String,
    /// The current event's data grew past the limit; it will be dropped.
    data_overflow: bool,
    retry_in_event: Option<u64>,
    last_event_id_buffer: String,
    last_event_id: String,
    reconnection_time_ms: Option<u64>,

    oversized_lines: u64,
    oversized_events: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default limits.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that drops lines longer than `max_line_bytes` and events
    /// whose data exceeds `max_event_bytes` (both counted in UTF-8 bytes).
    pub fn with_limits(max_line_bytes: usize, max_event_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            max_event_bytes,
            pending: [0; 4],
            pending_len: 0,
            started: false,
            after_cr: false,
            line: String::new(),
            skipping_line: false,
            event_type: String::new(),
            data: String::new(),
            data_overflow: false,
            retry_in_event: None,
            last_event_id_buffer: String::new(),
            last_event_id: String::new(),
            reconnection_time_ms: None,
            oversized_lines: 0,
            oversized_events: 0,
        }
    }

    /// The last event ID string (sent as `Last-Event-ID` when reconnecting);
    /// `None` while empty.
    pub fn last_event_id(&self) -> Option<&str> {
        Some(self.last_event_id.as_str()).filter(|id| !id.is_empty())
    }

    /// The reconnection time the server asked for with `retry:`, in ms.
    pub fn reconnection_time_ms(&self) -> Option<u64> {
        self.reconnection_time_ms
    }

    /// How many lines were dropped for being longer than the line limit.
    pub fn oversized_lines(&self) -> u64 {
        self.oversized_lines
    }

    /// How many events were dropped for carrying more data than the limit.
    pub fn oversized_events(&self) -> u64 {
        self.oversized_events
    }

    /// Parses the next bytes of the stream and calls `out` for every event
    /// they complete.
    pub fn feed(&mut self, bytes: &[u8], out: &mut impl FnMut(SseEvent)) {
        let mut rest = bytes;
        // First complete a character cut off by the previous feed, one byte
        // at a time (it needs at most three).
        while self.pending_len > 0 {
            let Some((&byte, tail)) = rest.split_first() else { return };
            let mut buf = self.pending;
            let len = self.pending_len + 1;
            let Some(slot) = buf.get_mut(self.pending_len) else { break };
            *slot = byte;
            match str::from_utf8(buf.get(..len).unwrap_or_default()) {
                Ok(text) => {
                    self.pending_len = 0;
                    rest = tail;
                    self.push_text(text, out);
                }
                Err(e) if e.error_len().is_none() => {
                    (self.pending, self.pending_len) = (buf, len);
                    rest = tail;
                }
                Err(_) => {
                    // The kept bytes are a maximal invalid subpart: one
                    // U+FFFD for them, and `byte` starts afresh below.
                    self.pending_len = 0;
                    self.push_text("\u{FFFD}", out);
                }
            }
        }
        loop {
            match str::from_utf8(rest) {
                Ok(text) => {
                    self.push_text(text, out);
                    return;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    self.push_text(str::from_utf8(valid).unwrap_or_default(), out);
                    match e.error_len() {
                        // Invalid bytes: one U+FFFD per maximal subpart, as
                        // the WHATWG UTF-8 decoder (and Rust's lossy decoding).
                        Some(bad) => {
                            self.push_text("\u{FFFD}", out);
                            rest = after.get(bad..).unwrap_or_default();
                        }
                        // A character cut off by the end of this feed.
                        None => {
                            let keep = after.len().min(self.pending.len());
                            if let (Some(dst), Some(src)) = (self.pending.get_mut(..keep), after.get(..keep)) {
                                dst.copy_from_slice(src);
                                self.pending_len = keep;
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream. Per the standard an event without its closing blank
    /// line is discarded, not dispatched; returns whether anything was
    /// discarded (worth a log line: the stream was cut short).
    ///
    /// The last event ID and reconnection time survive, so the same parser
    /// can read the stream of a reconnection.
    pub fn finish(&mut self) -> bool {
        let discarded = self.pending_len > 0
            || !self.line.is_empty()
            || self.skipping_line
            || !self.data.is_empty()
            || self.data_overflow
            || !self.event_type.is_empty();
        self.pending_len = 0;
        self.started = false;
        self.after_cr = false;
        self.line = String::new();
        self.skipping_line = false;
        self.event_type = String::new();
        self.data = String::new();
        self.data_overflow = false;
        self.retry_in_event = None;
        // An `id:` whose event never completed must not leak into the next stream.
        self.last_event_id_buffer.clone_from(&self.last_event_id);
        discarded
    }

    /// Splits decoded text into lines (CRLF, LF or CR each end one).
    fn push_text(&mut self, text: &str, out: &mut impl FnMut(SseEvent)) {
        let mut rest = text;
        if rest.is_empty() {
            return;
        }
        if !self.started {
            self.started = true;
            rest = rest.strip_prefix('\u{FEFF}').unwrap_or(rest);
        }
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
        while let Some(end) = rest.find(['\r', '\n']) {
            let (content, tail) = rest.split_at(end);
            self.append_to_line(content);
            let mut tail = tail.get(1..).unwrap_or_default();
            if rest.as_bytes().get(end) == Some(&b'\r') {
                match tail.strip_prefix('\n') {
                    Some(after_lf) => tail = after_lf,
                    None => self.after_cr = tail.is_empty(),
                }
            }
            rest = tail;
            self.end_line(out);
        }
        self.append_to_line(rest);
    }

    fn append_to_line(&mut self, text: &str) {
        if self.skipping_line || text.is_empty() {
            return;
        }
        // A line the heap cannot hold is dropped like an overlong one, not a halt.
        if self.line.len() + text.len() > self.max_line_bytes || self.line.try_reserve(text.len()).is_err() {
            self.skipping_line = true;
            self.oversized_lines += 1;
            // Give the memory back rather than keep a huge empty buffer.
            self.line = String::new();
            return;
        }
        self.line.push_str(text);
    }

    fn end_line(&mut self, out: &mut impl FnMut(SseEvent)) {
        if self.skipping_line {
            // The dropped line is gone entirely: its end is not a blank line.
            self.skipping_line = false;
            return;
        }
        let line = core::mem::take(&mut self.line);
        self.process_line(&line, out);
        self.line = line;
        self.line.clear();
    }

    fn process_line(&mut self, line: &str, out: &mut impl FnMut(SseEvent)) {
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(':') {
            return; // A comment: servers send these as keep-alive pings.
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event_type),
            "data" => {
                if self.data_overflow {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.max_event_bytes
                    || self.data.try_reserve(value.len() + 1).is_err()
                {
                    self.data_overflow = true;
                    self.data = String::new();
                    return;
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_event_id_buffer),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = value.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')));
                self.reconnection_time_ms = Some(ms);
                self.retry_in_event = Some(ms);
            }
            _ => {} // Unknown fields are ignored, as the standard says.
        }
    }

    fn dispatch(&mut self, out: &mut impl FnMut(SseEvent)) {
        // Step 1 happens even when nothing is dispatched.
        if self.last_event_id != self.last_event_id_buffer {
            self.last_event_id.clone_from(&self.last_event_id_buffer);
        }
        let retry = self.retry_in_event.take();
        if self.data_overflow {
            self.data_overflow = false;
            self.oversized_events += 1;
            self.event_type.clear();
            return;
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = core::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = match core::mem::take(&mut self.event_type) {
            name if name.is_empty() => String::from("message"),
            name => name,
        };
        let id = self.last_event_id().map(String::from);
        out(SseEvent { event, data, id, retry });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn parse_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut |e| events.push(e));
        }
        events
    }

    fn parse(input: &str) -> Vec<SseEvent> {
        parse_all(&mut SseParser::new(), &[input.as_bytes()])
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent { event: event.into(), data: data.into(), id: id.map(String::from), retry: None }
    }

    #[test]
    fn standard_example_stock_ticker() {
        // The examples from the HTML standard's event-stream section.
        let events = parse("data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(events, [ev("message", "YHOO\n+2\n10", None)]);
    }

    #[test]
    fn standard_example_ids_and_comments() {
        let events =
            parse(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n");
        assert_eq!(
            events,
            [
                ev("message", "first event", Some("1")),
                ev("message", "second event", None),
                ev("message", " third event", None)
            ]
        );
    }

    #[test]
    fn standard_example_empty_data() {
        let events = parse("data\n\ndata\ndata\n\ndata:");
        assert_eq!(events, [ev("message", "", None), ev("message", "\n", None)]);
    }

    #[test]
    fn standard_example_same_event_two_ways() {
        assert_eq!(parse("data:test\n\ndata: test\n\n"), [ev("message", "test", None), ev("message", "test", None)]);
    }

    #[test]
    fn event_type_applies_once_and_resets() {
        let events = parse("event: add\ndata: 1\n\ndata: 2\n\nevent: lonely\n\ndata: 3\n\n");
        assert_eq!(events, [ev("add", "1", None), ev("message", "2", None), ev("message", "3", None)]);
    }

    #[test]
    fn all_three_line_ends_and_split_crlf() {
        assert_eq!(parse("data: a\r\n\r\ndata: b\r\rdata: c\n\n").len(), 3);
        // CR at the end of one feed, LF at the start of the next: one line end.
        let mut p = SseParser::new();
        let events = parse_all(&mut p, &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(events, [ev("message", "a\nb", None)]);
        // ...but CR then CR are two line ends, the second one dispatching.
        let mut p = SseParser::new();
        assert_eq!(parse_all(&mut p, &[b"data: a\r", b"\r"]), [ev("message", "a", None)]);
    }

    #[test]
    fn one_space_stripped_and_colon_in_value_kept() {
        assert_eq!(parse("data:  two spaces\n\n")[0].data, " two spaces");
        assert_eq!(parse("data: {\"a\": \"b:c\"}\n\n")[0].data, "{\"a\": \"b:c\"}");
        assert_eq!(parse("data:\tx\n\n")[0].data, "\tx");
    }

    #[test]
    fn unknown_fields_and_case_sensitivity() {
        assert_eq!(parse("Data: x\n\nfoo: bar\n\n"), []);
        assert_eq!(parse("data : x\n\n"), []);
    }

    #[test]
    fn id_persists_resets_and_rejects_nul() {
        let mut p = SseParser::new();
        let events = parse_all(&mut p, &[b"id: 7\ndata: a\n\ndata: b\n\nid: 8\0x\ndata: c\n\n"]);
        assert_eq!(
            events,
            [ev("message", "a", Some("7")), ev("message", "b", Some("7")), ev("message", "c", Some("7"))]
        );
        assert_eq!(p.last_event_id(), Some("7"));
        // An id on an event without data still becomes the last event ID.
        parse_all(&mut p, &[b"id: 9\n\n"]);
        assert_eq!(p.last_event_id(), Some("9"));
        parse_all(&mut p, &[b"id\n\n"]);
        assert_eq!(p.last_event_id(), None);
    }

    #[test]
    fn retry_only_digits() {
        let mut p = SseParser::new();
        let events = parse_all(&mut p, &[b"retry: 1500\ndata: a\n\nretry: 12a\ndata: b\n\nretry:\n\nretry: -1\n\n"]);
        assert_eq!(events[0].retry, Some(1500));
        assert_eq!(events[1].retry, None);
        assert_eq!(p.reconnection_time_ms(), Some(1500));
        parse_all(&mut p, &[b"retry: 99999999999999999999999\n\n"]);
        assert_eq!(p.reconnection_time_ms(), Some(u64::MAX));
    }

    #[test]
    fn bom_stripped_once() {
        let events = parse("\u{FEFF}data: a\n\n\u{FEFF}data: b\n\n");
        assert_eq!(events, [ev("message", "a", None)]);
        assert_eq!(parse("\u{FEFF}\u{FEFF}data: a\n\n"), []);
        // A BOM split across feeds is still the stream's first character.
        let mut p = SseParser::new();
        let events = parse_all(&mut p, &[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(events, [ev("message", "x", None)]);
    }

    #[test]
    fn utf8_split_inside_characters() {
        let text = "data: héllo 🌍 世界\n\n".as_bytes();
        for split in 0..text.len() {
            let mut p = SseParser::new();
            let (a, b) = text.split_at(split);
            assert_eq!(parse_all(&mut p, &[a, b]), [ev("message", "héllo 🌍 世界", None)], "split at {split}");
        }
        let mut p = SseParser::new();
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_all(&mut p, &bytes)[0].data, "héllo 🌍 世界");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let cases: [&[u8]; 6] =
            [b"\xff", b"\xe2\x82", b"\xf0\x80\x80", b"\xed\xa0\x80", b"a\xc3(b", b"\xf0\x9f\x8c\x8d\x8d"];
        for case in cases {
            let mut input = b"data: ".to_vec();
            input.extend_from_slice(case);
            input.extend_from_slice(b"\n\n");
            let expected = String::from_utf8_lossy(case).into_owned();
            for split in 0..input.len() {
                let (a, b) = input.split_at(split);
                let events = parse_all(&mut SseParser::new(), &[a, b]);
                assert_eq!(events[0].data, expected, "{case:?} split at {split}");
            }
        }
    }

    #[test]
    fn incomplete_event_at_eof_is_discarded() {
        let mut p = SseParser::new();
        assert_eq!(parse_all(&mut p, &[b"data: a\n\ndata: b\n"]).len(), 1);
        assert!(p.finish());
        let mut p = SseParser::new();
        parse_all(&mut p, &[b"data: a\n\n"]);
        assert!(!p.finish());
        let mut p = SseParser::new();
        parse_all(&mut p, &[b"data: a\n\n\xe2"]);
        assert!(p.finish());
    }

    #[test]
    fn finish_resets_for_a_reconnection() {
        let mut p = SseParser::new();
        parse_all(&mut p, &[b"id: 1\ndata: a\n\nid: 2\ndata: half", b"\r"]);
        assert!(p.finish());
        assert_eq!(p.last_event_id(), Some("1"));
        // The next stream starts fresh: BOM stripped again, no stale CR or data.
        let events = parse_all(&mut p, &[b"\xEF\xBB\xBF\ndata: b\n\n"]);
        assert_eq!(events, [ev("message", "b", Some("1"))]);
    }

    #[test]
    fn oversized_lines_are_dropped_and_counted() {
        let mut p = SseParser::with_limits(16, 1024);
        let mut events = Vec::new();
        p.feed(b"data: short\ndata: this line is much too long", &mut |e| events.push(e));
        p.feed(b" and keeps going\ndata: end\n\n", &mut |e| events.push(e));
        assert_eq!(events, [ev("message", "short\nend", None)]);
        assert_eq!(p.oversized_lines(), 1);
        // Exactly at the limit is fine.
        let mut p = SseParser::with_limits(8, 1024);
        assert_eq!(parse_all(&mut p, &[b"data: ab\n\n"])[0].data, "ab");
        assert_eq!(p.oversized_lines(), 0);
    }

    #[test]
    fn oversized_events_are_dropped_and_counted() {
        let mut p = SseParser::with_limits(64, 10);
        let events = parse_all(&mut p, &[b"data: 12345\ndata: 67890\n\ndata: ok\n\n"]);
        assert_eq!(events, [ev("message", "ok", None)]);
        assert_eq!(p.oversized_events(), 1);
    }
}
