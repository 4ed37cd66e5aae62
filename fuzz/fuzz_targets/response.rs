//! Feeds arbitrary bytes to `ResponseParser`, once whole and once split at an
//! arbitrary point, and checks that nothing panics and both runs agree.
//!
//! Input layout: byte 0 picks the HEAD flag and a canned prefix (so the
//! fuzzer starts past the status line check), bytes 1-2 the split point,
//! the rest is the wire.

#![no_main]

use http::{HttpError, ResponseEvent, ResponseHead, ResponseParser};
use libfuzzer_sys::fuzz_target;

const PREFIXES: [&[u8]; 4] = [
    b"",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n",
];

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    heads: Vec<ResponseHead>,
    body: Vec<u8>,
    ends: usize,
    error: Option<HttpError>,
}

fn run(head_request: bool, pieces: &[&[u8]]) -> Outcome {
    let mut parser = ResponseParser::new(head_request);
    let (mut heads, mut body, mut ends) = (Vec::new(), Vec::new(), 0);
    let mut record = |event: ResponseEvent<'_>| match event {
        ResponseEvent::Head(head) => heads.push(head),
        ResponseEvent::Body(bytes) => body.extend_from_slice(bytes),
        ResponseEvent::End => ends += 1,
    };
    let mut result = Ok(());
    for piece in pieces {
        match parser.feed(piece, &mut record) {
            Ok(used) => assert_eq!(used, piece.len()),
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    if result.is_ok() {
        result = parser.finish(&mut record);
    }
    let error = result.err();
    if let Some(err) = &error {
        // Every error must render as a user-facing sentence.
        assert!(err.to_string().starts_with("HTTP: "));
    }
    assert!(ends <= 1 && heads.len() <= 1);
    Outcome { heads, body, ends, error }
}

fuzz_target!(|data: &[u8]| {
    let [control, hi, lo, rest @ ..] = data else { return };
    let head_request = control & 1 == 1;
    let mut wire = PREFIXES[usize::from(control >> 1) % PREFIXES.len()].to_vec();
    wire.extend_from_slice(rest);
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (wire.len() + 1);
    let whole = run(head_request, &[&wire]);
    let (a, b) = wire.split_at(at);
    assert_eq!(run(head_request, &[a, b]), whole);
});
