//! Recorded-style provider streams (Anthropic Messages, OpenAI Chat
//! Completions) through the SSE parser, alone and behind a chunked HTTP
//! response, with every line-end convention and every way of splitting.

use http::{ResponseEvent, ResponseParser, SseEvent, SseParser};

const ANTHROPIC: &str = include_str!("fixtures/anthropic_messages.sse");
const ANTHROPIC_ERROR: &str = include_str!("fixtures/anthropic_error.sse");
const OPENAI: &str = include_str!("fixtures/openai_chat.sse");

fn sse(pieces: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed(piece, &mut |e| events.push(e));
    }
    let discarded = parser.finish();
    (events, discarded)
}

fn line_end_variants(text: &str) -> [String; 3] {
    [text.to_owned(), text.replace('\n', "\r\n"), text.replace('\n', "\r")]
}

/// The `"text":"..."` or `"content":"..."` values, in order: good enough to
/// check the reply survives without a JSON parser.
fn strings_after(events: &[SseEvent], key: &str) -> String {
    let needle = format!("\"{key}\":\"");
    events
        .iter()
        .filter_map(|e| e.data.split_once(&needle))
        .map(|(_, rest)| rest.split_once('"').map_or("", |(value, _)| value))
        .collect()
}

#[test]
fn anthropic_stream() {
    for text in line_end_variants(ANTHROPIC) {
        let (events, discarded) = sse(&[text.as_bytes()]);
        assert!(!discarded);
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(strings_after(&events[3..6], "text"), "Hello, héllo 🌍 世界!");
        assert_eq!(events[8].data, r#"{"type":"message_stop"}"#);
        assert!(events.iter().all(|e| e.id.is_none() && e.retry.is_none()));
    }
}

#[test]
fn anthropic_error_event() {
    let (events, _) = sse(&[ANTHROPIC_ERROR.as_bytes()]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event, "error");
    assert!(events[1].data.contains("overloaded_error"));
}

#[test]
fn openai_stream() {
    for text in line_end_variants(OPENAI) {
        let (events, discarded) = sse(&[text.as_bytes()]);
        assert!(!discarded);
        assert_eq!(events.len(), 6, "the comment line is not an event");
        assert!(events.iter().all(|e| e.event == "message"));
        assert_eq!(strings_after(&events, "content"), "Hello, héllo 🌍 世界!");
        assert_eq!(events.last().unwrap().data, "[DONE]");
    }
}

#[test]
fn every_two_way_split_gives_the_same_events() {
    for fixture in [ANTHROPIC, OPENAI, ANTHROPIC_ERROR] {
        for text in line_end_variants(fixture) {
            let bytes = text.as_bytes();
            let whole = sse(&[bytes]);
            for split in 0..=bytes.len() {
                let (a, b) = bytes.split_at(split);
                assert_eq!(sse(&[a, b]), whole, "split at {split}");
            }
            let single: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(sse(&single), whole);
        }
    }
}

#[test]
fn stream_cut_mid_event_is_not_dispatched() {
    let cut = &OPENAI[..OPENAI.find("[DONE]").unwrap() + 6];
    let (events, discarded) = sse(&[cut.as_bytes()]);
    assert!(discarded);
    assert_eq!(events.len(), 5);
}

/// Wraps `body` in a chunked HTTP response with chunks of the given sizes.
fn chunked_response(body: &[u8], sizes: impl Iterator<Item = usize>) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
        cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        .to_vec();
    let mut rest = body;
    for size in sizes {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The kernel's pipeline: socket bytes -> ResponseParser -> SseParser.
fn through_http(wire: &[u8], piece: usize) -> Vec<SseEvent> {
    let mut response = ResponseParser::new(false);
    let mut sse = SseParser::new();
    let mut events = Vec::new();
    let mut saw_stream = false;
    let mut handle = |event: ResponseEvent<'_>| match event {
        ResponseEvent::Head(head) => saw_stream = head.is_event_stream(),
        ResponseEvent::Body(bytes) => sse.feed(bytes, &mut |e| events.push(e)),
        ResponseEvent::End => assert!(!sse.finish()),
    };
    for chunk in wire.chunks(piece) {
        response.feed(chunk, &mut handle).unwrap();
    }
    response.finish(&mut handle).unwrap();
    assert!(saw_stream);
    events
}

#[test]
fn providers_behind_chunked_http() {
    for fixture in [ANTHROPIC, OPENAI] {
        for text in line_end_variants(fixture) {
            let expected = sse(&[text.as_bytes()]).0;
            // Chunk sizes that cut through lines and multi-byte characters.
            for sizes in [[1usize, 2, 3, 5, 7], [13, 64, 100, 1, 17], [4096, 1, 1, 1, 1]] {
                let wire = chunked_response(text.as_bytes(), sizes.iter().copied().cycle());
                for piece in [1, 3, 64, 1500, wire.len()] {
                    assert_eq!(through_http(&wire, piece), expected);
                }
            }
        }
    }
}
