//! Arbitrary response bytes through the reply decoders of both dialects (Anthropic and the
//! OpenAI family): as an event stream, a JSON reply or an error body, whole and split at an
//! arbitrary point. Every path must end with exactly one `Finished` or `Failed`, both runs
//! must agree, and no text the server sent may reach the log unclipped.
//!
//! Input: byte 0 picks the dialect, status and content type and how the response ends,
//! bytes 1-2 the split point, the rest is the body.

#![no_main]

use http::ResponseHead;
use libfuzzer_sys::fuzz_target;
use llm::{Provider, ProviderId, ReplyEvent};

const STATUSES: [u16; 4] = [200, 400, 429, 503];

fn run(id: ProviderId, head: &ResponseHead, pieces: &[&[u8]], clean_end: bool) -> Vec<ReplyEvent> {
    let provider = Provider::new(id, "https://api.example.com/v1", Some("fuzz-key")).expect("valid provider");
    let mut decoder = provider.reply_decoder();
    let mut out = Vec::new();
    decoder.on_head(head);
    for piece in pieces {
        decoder.on_body(piece, &mut out);
    }
    if clean_end {
        decoder.on_end(&mut out);
    } else {
        decoder.on_disconnect("the connection dropped", &mut out);
    }
    assert!(decoder.is_done());
    out
}

fuzz_target!(|data: &[u8]| {
    let [control, hi, lo, body @ ..] = data else { return };
    let id = if control & 1 == 0 { ProviderId::Anthropic } else { ProviderId::OpenAi };
    let status = STATUSES[usize::from(control >> 1) % STATUSES.len()];
    let content_type = if control & 8 == 0 { "text/event-stream" } else { "application/json" };
    let clean_end = control & 16 == 0;
    let head = ResponseHead {
        status,
        reason: String::new(),
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("retry-after".into(), String::from_utf8_lossy(&body[..body.len().min(4)]).into_owned()),
        ],
    };
    let whole = run(id, &head, &[body], clean_end);
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (body.len() + 1);
    let (a, b) = body.split_at(at);
    assert_eq!(run(id, &head, &[a, b], clean_end), whole, "the split changed the events");
    let ends = whole.iter().filter(|e| matches!(e, ReplyEvent::Finished(_) | ReplyEvent::Failed(_))).count();
    assert_eq!(ends, 1, "{whole:?}");
    assert!(matches!(whole.last(), Some(ReplyEvent::Finished(_) | ReplyEvent::Failed(_))));
    for event in &whole {
        let logged = match event {
            ReplyEvent::Skipped(what) => what.clone(),
            ReplyEvent::Failed(error) => error.to_string(),
            ReplyEvent::Finished(reason) => reason.as_str().to_string(),
            _ => continue,
        };
        assert!(logged.chars().count() < 500, "{} characters reach the log", logged.chars().count());
    }
});
