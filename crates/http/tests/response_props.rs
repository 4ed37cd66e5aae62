//! Property tests: however a response is framed and however the socket
//! splits it, the parser reports the same head, the same body bytes and the
//! same end (or the same error).

use http::{HttpError, ResponseEvent, ResponseHead, ResponseParser};
use proptest::prelude::*;

/// Everything a parse produced, with body pieces joined (their boundaries
/// follow the input split and are not part of the contract).
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    heads: Vec<ResponseHead>,
    body: Vec<u8>,
    ends: usize,
    error: Option<HttpError>,
}

fn parse(pieces: &[&[u8]], head_request: bool) -> Outcome {
    let mut parser = ResponseParser::new(head_request);
    let mut outcome = Outcome::default();
    let mut heads = Vec::new();
    let mut body = Vec::new();
    let mut ends = 0;
    let mut record = |event: ResponseEvent<'_>| match event {
        ResponseEvent::Head(head) => heads.push(head),
        ResponseEvent::Body(bytes) => body.extend_from_slice(bytes),
        ResponseEvent::End => ends += 1,
    };
    let mut result = Ok(());
    for piece in pieces {
        match parser.feed(piece, &mut record) {
            Ok(used) => assert_eq!(used, piece.len()),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        result = parser.finish(&mut record);
    }
    outcome.error = result.err();
    (outcome.heads, outcome.body, outcome.ends) = (heads, body, ends);
    outcome
}

/// Cuts `input` at the given positions (taken modulo its length).
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

#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked { sizes: Vec<usize>, extensions: Vec<String>, trailers: Vec<(String, String)>, bare_lf: bool },
    Close,
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        "[a-z \n\r:é🌍世界{}\"]{0,200}".prop_map(String::into_bytes),
        Just("héllo 🌍 世界".as_bytes().to_vec()),
    ]
}

fn framing_strategy() -> impl Strategy<Value = Framing> {
    let chunked = (
        proptest::collection::vec(1usize..300, 1..20),
        proptest::collection::vec("(;[a-z]{1,8}(=[a-z0-9]{0,8})?){0,3}", 1..20),
        proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,30}"), 0..4),
        any::<bool>(),
    )
        .prop_map(|(sizes, extensions, trailers, bare_lf)| Framing::Chunked {
            sizes,
            extensions,
            trailers,
            bare_lf,
        });
    prop_oneof![Just(Framing::Length), chunked, Just(Framing::Close)]
}

fn encode(status: u16, headers: &[(String, String)], body: &[u8], framing: &Framing) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Whatever\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    match framing {
        Framing::Length => out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()),
        Framing::Chunked { .. } => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
        Framing::Close => out.extend_from_slice(b"\r\n"),
    }
    match framing {
        Framing::Length | Framing::Close => out.extend_from_slice(body),
        Framing::Chunked { sizes, extensions, trailers, bare_lf } => {
            let eol: &[u8] = if *bare_lf { b"\n" } else { b"\r\n" };
            let mut rest = body;
            let mut i = 0;
            while !rest.is_empty() {
                let size = sizes[i % sizes.len()].min(rest.len());
                let (chunk, tail) = rest.split_at(size);
                // Upper- or lower-case hex, sometimes zero-padded.
                let size_text = match i % 3 {
                    0 => format!("{size:x}"),
                    1 => format!("{size:X}"),
                    _ => format!("{size:04x}"),
                };
                out.extend_from_slice(size_text.as_bytes());
                out.extend_from_slice(extensions[i % extensions.len()].as_bytes());
                out.extend_from_slice(eol);
                out.extend_from_slice(chunk);
                out.extend_from_slice(eol);
                rest = tail;
                i += 1;
            }
            out.extend_from_slice(b"0");
            out.extend_from_slice(eol);
            for (name, value) in trailers {
                out.extend_from_slice(format!("{name}: {value}").as_bytes());
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(eol);
        }
    }
    out
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("X-[A-Za-z0-9-]{1,12}", "[ -~]{0,40}"), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn framed_bodies_survive_any_split(
        body in body_strategy(),
        framing in framing_strategy(),
        headers in header_strategy(),
        status in prop_oneof![Just(200u16), Just(201), Just(400), Just(429), Just(500), 200u16..600],
        interim in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut wire = if interim { b"HTTP/1.1 100 Continue\r\n\r\n".to_vec() } else { Vec::new() };
        wire.extend(encode(status, &headers, &body, &framing));
        let whole = parse(&[&wire], false);

        prop_assert_eq!(&whole.error, &None);
        prop_assert_eq!(whole.heads.len(), 1);
        prop_assert_eq!(whole.heads[0].status, status);
        prop_assert_eq!(whole.ends, 1);
        let bodyless = status == 204 || status == 304;
        prop_assert_eq!(&whole.body, if bodyless { &[][..] } else { &body[..] });
        for (name, value) in &headers {
            prop_assert!(whole.heads[0].headers_named(name).any(|v| v == value.trim()));
        }

        prop_assert_eq!(&parse(&split(&wire, &cuts), false), &whole);
    }

    #[test]
    fn every_single_split_point(body in body_strategy(), framing in framing_strategy()) {
        let wire = encode(200, &[], &body, &framing);
        let whole = parse(&[&wire], false);
        prop_assert_eq!(&whole.body, &body);
        for point in 0..=wire.len() {
            let (a, b) = wire.split_at(point);
            prop_assert_eq!(&parse(&[a, b], false), &whole, "split at {}", point);
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(&parse(&bytes, false), &whole);
    }

    #[test]
    fn truncated_responses_fail_or_end_the_same_way_split_or_not(
        body in body_strategy(),
        framing in framing_strategy(),
        cut in any::<usize>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let wire = encode(200, &[], &body, &framing);
        let truncated = &wire[..cut % (wire.len() + 1)];
        let whole = parse(&[truncated], false);
        // Only a close-delimited body (or a chunked one whose last chunk
        // arrived) may end cleanly when the connection drops early.
        if whole.error.is_none() && truncated.len() < wire.len() {
            let chunked_done = matches!(framing, Framing::Chunked { .. }) && whole.body == body;
            prop_assert!(matches!(framing, Framing::Close) || chunked_done);
        }
        prop_assert_eq!(&parse(&split(truncated, &cuts), false), &whole);
    }

    #[test]
    fn mutated_responses_never_panic_and_do_not_depend_on_the_split(
        body in body_strategy(),
        framing in framing_strategy(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        head_request in any::<bool>(),
    ) {
        let mut wire = encode(200, &[], &body, &framing);
        for (at, byte, kind) in edits {
            let at = at % (wire.len() + 1);
            match kind {
                0 if at < wire.len() => wire[at] = byte,
                1 => wire.insert(at, byte),
                _ if at < wire.len() => { wire.remove(at); }
                _ => {}
            }
        }
        let whole = parse(&[&wire], head_request);
        prop_assert_eq!(&parse(&split(&wire, &cuts), head_request), &whole);
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(&parse(&bytes, head_request), &whole);
        if let Some(error) = &whole.error {
            let message = error.to_string();
            prop_assert!(message.starts_with("HTTP: "), "{}", message);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
        wire.extend_from_slice(&input);
        prop_assert_eq!(parse(&split(&wire, &cuts), false), parse(&[&wire], false));
        prop_assert_eq!(parse(&split(&input, &cuts), false), parse(&[&input], false));
    }
}
