//! Property tests: an event stream gives the same events however it is
//! split, and the events are the ones that were written.

use http::{SseEvent, SseParser};
use proptest::prelude::*;

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<SseEvent>,
    discarded: bool,
    last_event_id: Option<String>,
    reconnection_time_ms: Option<u64>,
    oversized_lines: u64,
    oversized_events: u64,
}

fn parse_with(parser: SseParser, pieces: &[&[u8]]) -> Outcome {
    let mut parser = parser;
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed(piece, &mut |e| events.push(e));
    }
    let discarded = parser.finish();
    Outcome {
        events,
        discarded,
        last_event_id: parser.last_event_id().map(String::from),
        reconnection_time_ms: parser.reconnection_time_ms(),
        oversized_lines: parser.oversized_lines(),
        oversized_events: parser.oversized_events(),
    }
}

fn parse(pieces: &[&[u8]]) -> Outcome {
    parse_with(SseParser::new(), pieces)
}

fn split<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points {
        pieces.push(&input[start..p]);
        start = p;
    }
    pieces.push(&input[start..]);
    pieces
}

/// One event as a server would write it.
#[derive(Debug, Clone)]
struct Written {
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
    retry: Option<u64>,
    comment: Option<String>,
    space_after_colon: bool,
}

/// Text without line breaks, rich in multi-byte characters and colons.
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 :{}\"\\[\\],.é ü🌍世界\u{FEFF}\u{FFFD}]{0,24}"
}

fn written() -> impl Strategy<Value = Written> {
    (
        proptest::option::of("[a-z_]{1,16}"),
        proptest::collection::vec(value(), 1..4),
        proptest::option::of("[a-z0-9-]{0,8}"),
        proptest::option::of(0u64..100_000),
        proptest::option::of(value()),
        any::<bool>(),
    )
        .prop_map(|(event, data, id, retry, comment, space_after_colon)| Written {
            event,
            data,
            id,
            retry,
            comment,
            space_after_colon,
        })
}

fn serialize(events: &[Written], eol: &str, bom: bool) -> String {
    let mut out = String::new();
    if bom {
        out.push('\u{FEFF}');
    }
    for e in events {
        let sep = if e.space_after_colon { ": " } else { ":" };
        if let Some(comment) = &e.comment {
            out += &format!(":{comment}{eol}");
        }
        if let Some(name) = &e.event {
            out += &format!("event{sep}{name}{eol}");
        }
        for line in &e.data {
            // Without the optional space, a value that itself starts with a
            // space would lose it: always write the space then.
            let sep = if line.starts_with(' ') { ": " } else { sep };
            out += &format!("data{sep}{line}{eol}");
        }
        if let Some(id) = &e.id {
            out += &format!("id{sep}{id}{eol}");
        }
        if let Some(retry) = e.retry {
            out += &format!("retry{sep}{retry}{eol}");
        }
        out += eol;
    }
    out
}

/// What the standard says a browser would see for `events`.
fn expected(events: &[Written]) -> Vec<SseEvent> {
    let mut last_id = None;
    events
        .iter()
        .map(|e| {
            if let Some(id) = &e.id {
                last_id = Some(id.clone()).filter(|id| !id.is_empty());
            }
            SseEvent {
                event: e.event.clone().unwrap_or_else(|| "message".into()),
                data: e.data.join("\n"),
                id: last_id.clone(),
                retry: e.retry,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_events_come_back_whatever_the_split(
        events in proptest::collection::vec(written(), 0..8),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        bom in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let text = serialize(&events, eol, bom);
        let bytes = text.as_bytes();
        let whole = parse(&[bytes]);
        prop_assert_eq!(&whole.events, &expected(&events));
        prop_assert!(!whole.discarded);
        prop_assert_eq!(&parse(&split(bytes, &cuts)), &whole);
    }

    #[test]
    fn every_single_split_point(
        events in proptest::collection::vec(written(), 1..4),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    ) {
        let text = serialize(&events, eol, false);
        let bytes = text.as_bytes();
        let whole = parse(&[bytes]);
        prop_assert_eq!(&whole.events, &expected(&events));
        for point in 0..=bytes.len() {
            let (a, b) = bytes.split_at(point);
            prop_assert_eq!(&parse(&[a, b]), &whole, "split at {}", point);
        }
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&parse(&single), &whole);
    }

    #[test]
    fn arbitrary_bytes_do_not_depend_on_the_split(
        input in proptest::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                2 => Just(b'\n'),
                2 => Just(b'\r'),
                2 => Just(b':'),
                1 => Just(0xF0u8),
                1 => Just(0x9Fu8),
                1 => Just(0xE4u8),
                1 => Just(0x80u8),
            ],
            0..300,
        ),
        prefix in prop_oneof![Just(&b""[..]), Just(&b"data: "[..]), Just(&b"id: "[..]), Just(&b"\xEF\xBB"[..])],
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&input);
        let whole = parse(&[&bytes]);
        prop_assert_eq!(&parse(&split(&bytes, &cuts)), &whole);
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&parse(&single), &whole);
        // Decoding matches Rust's lossy UTF-8 decoding (the same maximal
        // subpart rule as the WHATWG decoder) on a line-end-free stream.
        let clean: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect();
        let mut framed = b"data:".to_vec();
        framed.extend_from_slice(&clean);
        framed.extend_from_slice(b"\n\n");
        let got = parse(&split(&framed, &cuts));
        prop_assert_eq!(got.events.len(), 1);
        let lossy = String::from_utf8_lossy(&clean);
        prop_assert_eq!(&got.events[0].data, lossy.strip_prefix(' ').unwrap_or(&lossy));
    }

    #[test]
    fn limits_hold_whatever_the_split(
        events in proptest::collection::vec(written(), 1..6),
        max_line in 8usize..64,
        max_event in 8usize..128,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let text = serialize(&events, "\n", false);
        let bytes = text.as_bytes();
        let limited = || SseParser::with_limits(max_line, max_event);
        let whole = parse_with(limited(), &[bytes]);
        for e in &whole.events {
            prop_assert!(e.data.len() < max_event);
        }
        prop_assert_eq!(&parse_with(limited(), &split(bytes, &cuts)), &whole);
    }
}
