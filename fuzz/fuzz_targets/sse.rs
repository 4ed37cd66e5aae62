//! Feeds arbitrary bytes to `SseParser`, once whole and once split at an
//! arbitrary point, and checks that nothing panics, both runs agree and the
//! memory limits hold.
//!
//! Input layout: byte 0 picks tight or default limits, bytes 1-2 the split
//! point, the rest is the stream.

#![no_main]

use http::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<SseEvent>,
    discarded: bool,
    last_event_id: Option<String>,
    retry: Option<u64>,
    dropped: (u64, u64),
}

fn run(tight: bool, pieces: &[&[u8]]) -> Outcome {
    let (max_line, max_event) = if tight { (16, 48) } else { (1 << 20, 4 << 20) };
    let mut parser = SseParser::with_limits(max_line, max_event);
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed(piece, &mut |e| events.push(e));
    }
    for event in &events {
        assert!(event.data.len() < max_event && event.event.len() <= max_line);
    }
    let discarded = parser.finish();
    Outcome {
        events,
        discarded,
        last_event_id: parser.last_event_id().map(String::from),
        retry: parser.reconnection_time_ms(),
        dropped: (parser.oversized_lines(), parser.oversized_events()),
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, hi, lo, stream @ ..] = data else { return };
    let tight = control & 1 == 1;
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (stream.len() + 1);
    let whole = run(tight, &[stream]);
    let (a, b) = stream.split_at(at);
    assert_eq!(run(tight, &[a, b]), whole);
});
