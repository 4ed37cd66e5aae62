//! Recorded provider streams (written from the public API documentation) decoded in
//! pieces of every size, including splits inside UTF-8 characters.

use http::ResponseHead;
use llm::{ErrorKind, FinishReason, Provider, ProviderId, ReplyEvent, Usage};
use proptest::prelude::*;

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",",
    "\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,",
    "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", wörld 🌍!\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},",
    "\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",",
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",",
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",",
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\", wörld 🌍!\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",",
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",",
    "\"choices\":[],\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":15,\"total_tokens\":40}}\r\n\r\n",
    "data: [DONE]\r\n\r\n",
);

fn head(status: u16, content_type: &str, extra: &[(&str, &str)]) -> ResponseHead {
    let mut headers = vec![(String::from("content-type"), String::from(content_type))];
    headers.extend(extra.iter().map(|(n, v)| (String::from(*n), String::from(*v))));
    ResponseHead { status, reason: String::new(), headers }
}

fn provider(id: ProviderId) -> Provider {
    Provider::new(id, "http://10.0.2.2:8080/v1", Some("test-key")).expect("valid provider")
}

/// Feeds `body` cut at `cuts` (sorted offsets) and returns every event.
fn decode(id: ProviderId, head: &ResponseHead, body: &[u8], cuts: &[usize], end: bool) -> Vec<ReplyEvent> {
    let mut decoder = provider(id).reply_decoder();
    let mut out = Vec::new();
    decoder.on_head(head);
    let mut start = 0;
    for &cut in cuts.iter().chain(core::iter::once(&body.len())) {
        decoder.on_body(&body[start..cut], &mut out);
        start = cut;
    }
    if end {
        decoder.on_end(&mut out);
    } else {
        decoder.on_disconnect("connection reset", &mut out);
    }
    assert!(decoder.is_done(), "every path must end the reply");
    out
}

fn text_of(events: &[ReplyEvent]) -> String {
    events.iter().filter_map(|e| if let ReplyEvent::Text(t) = e { Some(t.as_str()) } else { None }).collect()
}

fn last(events: &[ReplyEvent]) -> &ReplyEvent {
    events.last().expect("at least one event")
}

fn sse() -> ResponseHead {
    head(200, "text/event-stream; charset=utf-8", &[])
}

#[test]
fn anthropic_stream_decodes_text_usage_and_stop() {
    let events = decode(ProviderId::Anthropic, &sse(), ANTHROPIC_STREAM.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Hello, wörld 🌍!");
    assert!(events.contains(&ReplyEvent::Usage(Usage { input_tokens: Some(25), output_tokens: Some(15) })));
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
    assert!(!events.iter().any(|e| matches!(e, ReplyEvent::Skipped(_))), "{events:?}");
}

#[test]
fn openai_stream_decodes_text_usage_and_stop() {
    for id in [ProviderId::OpenAi, ProviderId::Groq, ProviderId::Xai, ProviderId::OpenAiCompatible] {
        let events = decode(id, &sse(), OPENAI_STREAM.as_bytes(), &[], true);
        assert_eq!(text_of(&events), "Hello, wörld 🌍!");
        assert!(events.contains(&ReplyEvent::Usage(Usage { input_tokens: Some(25), output_tokens: Some(15) })));
        assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
    }
}

#[test]
fn every_two_way_split_gives_the_same_events() {
    for (id, stream) in [(ProviderId::Anthropic, ANTHROPIC_STREAM), (ProviderId::OpenAi, OPENAI_STREAM)] {
        let whole = decode(id, &sse(), stream.as_bytes(), &[], true);
        let whole_text = text_of(&whole);
        for cut in 0..=stream.len() {
            let events = decode(id, &sse(), stream.as_bytes(), &[cut], true);
            assert_eq!(text_of(&events), whole_text, "{id:?} split at {cut}");
            assert_eq!(last(&events), last(&whole), "{id:?} split at {cut}");
        }
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_text(cuts in proptest::collection::vec(0usize..2000, 0..40)) {
        for (id, stream) in [(ProviderId::Anthropic, ANTHROPIC_STREAM), (ProviderId::OpenAi, OPENAI_STREAM)] {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let events = decode(id, &sse(), stream.as_bytes(), &cuts, true);
            prop_assert_eq!(text_of(&events), "Hello, wörld 🌍!");
            prop_assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
        }
    }
}

#[test]
fn groq_usage_in_x_groq_is_read() {
    let stream = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],",
        "\"x_groq\":{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":1}}}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode(ProviderId::Groq, &sse(), stream.as_bytes(), &[], true);
    assert!(events.contains(&ReplyEvent::Usage(Usage { input_tokens: Some(7), output_tokens: Some(1) })));
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Length));
}

#[test]
fn anthropic_mid_stream_error_keeps_the_text_and_says_why() {
    let cut = ANTHROPIC_STREAM.find("event: content_block_stop").expect("fixture");
    let stream = format!(
        "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n",
        &ANTHROPIC_STREAM[..cut]
    );
    let events = decode(ProviderId::Anthropic, &sse(), stream.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Hello, wörld 🌍!");
    let ReplyEvent::Failed(error) = last(&events) else { panic!("{events:?}") };
    assert_eq!(error.kind, ErrorKind::StreamError);
    assert_eq!(error.to_string(), "Anthropic stopped the reply with an error: Overloaded");
}

#[test]
fn openai_mid_stream_error_keeps_the_text_and_says_why() {
    let stream = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Part\"},\"finish_reason\":null}]}\n\n",
        "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\"}}\n\n",
    );
    let events = decode(ProviderId::OpenAi, &sse(), stream.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Part");
    let ReplyEvent::Failed(error) = last(&events) else { panic!("{events:?}") };
    assert_eq!(error.kind, ErrorKind::StreamError);
    assert!(error.to_string().contains("processing your request"), "{error}");
}

#[test]
fn a_dropped_connection_keeps_the_partial_text_and_marks_it_cut() {
    let cut = OPENAI_STREAM.find("\"finish_reason\":\"stop\"").expect("fixture");
    let events = decode(ProviderId::OpenAi, &sse(), &OPENAI_STREAM.as_bytes()[..cut], &[], false);
    assert_eq!(text_of(&events), "Hello, wörld 🌍!");
    let ReplyEvent::Failed(error) = last(&events) else { panic!("{events:?}") };
    assert_eq!(error.kind, ErrorKind::Cut);
    assert_eq!(error.to_string(), "the connection to OpenAI ended before the reply was complete: connection reset");
    // The same when the server closes cleanly but too early.
    let events = decode(ProviderId::Anthropic, &sse(), &ANTHROPIC_STREAM.as_bytes()[..400], &[], true);
    assert!(matches!(last(&events), ReplyEvent::Failed(e) if e.kind == ErrorKind::Cut), "{events:?}");
}

#[test]
fn garbage_and_unknown_events_are_skipped_and_the_reply_goes_on() {
    let stream = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"},\"finish_reason\":null}]}\n\n",
        "data: {not json at all\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"B\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode(ProviderId::OpenAi, &sse(), stream.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "AB");
    assert!(events.iter().any(|e| matches!(e, ReplyEvent::Skipped(w) if w.contains("not JSON"))), "{events:?}");
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));

    let cut = ANTHROPIC_STREAM.find("event: message_delta").expect("fixture");
    let stream = format!(
        "{}event: brand_new\ndata: {{\"type\":\"brand_new\",\"x\":1}}\n\n{}",
        &ANTHROPIC_STREAM[..cut],
        &ANTHROPIC_STREAM[cut..]
    );
    let events = decode(ProviderId::Anthropic, &sse(), stream.as_bytes(), &[], true);
    assert!(events.iter().any(|e| matches!(e, ReplyEvent::Skipped(w) if w.contains("brand_new"))));
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
}

#[test]
fn an_empty_reply_is_an_error_with_a_sentence() {
    let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let events = decode(ProviderId::OpenAiCompatible, &sse(), stream.as_bytes(), &[], true);
    let ReplyEvent::Failed(error) = last(&events) else { panic!("{events:?}") };
    assert_eq!(error.kind, ErrorKind::EmptyReply);
    assert_eq!(
        error.to_string(),
        "the OpenAI-compatible server sent an empty reply: it stopped (stop) before writing anything"
    );
}

#[test]
fn error_bodies_become_sentences() {
    // (provider, status, extra headers, body, sentence)
    type Case<'a> = (ProviderId, u16, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            ProviderId::Anthropic,
            401,
            &[],
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            "Anthropic refused the API key (HTTP 401): check api_key in config.toml: invalid x-api-key",
        ),
        (
            ProviderId::OpenAi,
            401,
            &[],
            r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            "OpenAI refused the API key (HTTP 401): check api_key in config.toml: Incorrect API key provided.",
        ),
        (
            ProviderId::Groq,
            429,
            &[("retry-after", "7")],
            r#"{"error":{"message":"Rate limit reached","type":"tokens"}}"#,
            "Groq is rate limiting requests (HTTP 429); try again in 7 s: Rate limit reached",
        ),
        (
            ProviderId::OpenAiCompatible,
            404,
            &[],
            r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            "the OpenAI-compatible server does not know this model or address (HTTP 404): check model and base_url in config.toml: model \"llama9\" not found, try pulling it first",
        ),
        (
            ProviderId::Anthropic,
            529,
            &[],
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "Anthropic is having trouble (HTTP 529); try again shortly: Overloaded",
        ),
        (
            ProviderId::Xai,
            400,
            &[],
            r#"{"code":"Client specified an invalid argument","error":"Incorrect API key"}"#,
            "xAI rejected the request (HTTP 400): Incorrect API key",
        ),
        (
            ProviderId::OpenAi,
            502,
            &[],
            "<html><body>Bad gateway</body></html>",
            "OpenAI is having trouble (HTTP 502); try again shortly: the server sent an HTML page",
        ),
    ];
    for (id, status, extra, body, sentence) in cases {
        let head = head(*status, "application/json", extra);
        // Split everywhere: the body is collected whole before it is read.
        for cut in [0, body.len() / 2, body.len()] {
            let events = decode(*id, &head, body.as_bytes(), &[cut], true);
            assert_eq!(events.len(), 1, "{events:?}");
            let ReplyEvent::Failed(error) = &events[0] else { panic!("{events:?}") };
            assert_eq!(error.status, Some(*status));
            assert_eq!(&error.to_string(), sentence);
        }
    }
}

#[test]
fn an_error_body_cut_short_still_reports_the_status() {
    let events = decode(ProviderId::OpenAi, &head(503, "application/json", &[]), b"{\"error\":{\"mess", &[], false);
    let ReplyEvent::Failed(error) = last(&events) else { panic!("{events:?}") };
    assert_eq!(error.kind, ErrorKind::ProviderTrouble);
}

#[test]
fn servers_that_ignore_stream_still_work() {
    let body = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Whole reply"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
    let events = decode(ProviderId::OpenAiCompatible, &head(200, "application/json", &[]), body.as_bytes(), &[9], true);
    assert_eq!(text_of(&events), "Whole reply");
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));

    let body = r#"{"id":"msg","type":"message","role":"assistant","content":[{"type":"text","text":"Hi there"}],"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":2}}"#;
    let events = decode(ProviderId::Anthropic, &head(200, "application/json", &[]), body.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Hi there");
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Length));

    let events = decode(ProviderId::Anthropic, &head(200, "text/plain", &[]), b"hello", &[], true);
    assert!(matches!(last(&events), ReplyEvent::Failed(e) if e.kind == ErrorKind::Malformed), "{events:?}");
}

#[test]
fn a_last_event_without_its_blank_line_still_counts() {
    let stream =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]";
    let events = decode(ProviderId::OpenAiCompatible, &sse(), stream.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Hi");
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
    let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}";
    let events = decode(ProviderId::OpenAiCompatible, &sse(), stream.as_bytes(), &[], true);
    assert_eq!(text_of(&events), "Hi");
    assert_eq!(last(&events), &ReplyEvent::Finished(FinishReason::Stop));
}

/// Server-supplied words that reach the log (skipped events, finish reasons, error messages)
/// are clipped, however long the server made them.
#[test]
fn server_strings_reaching_the_log_are_clipped() {
    let long = "x".repeat(1 << 20);
    let sse = head(200, "text/event-stream", &[]);
    let body = format!("event: {long}\ndata: {{}}\n\n");
    let events = decode(ProviderId::Anthropic, &sse, body.as_bytes(), &[], false);
    let skipped: Vec<&String> =
        events.iter().filter_map(|e| if let ReplyEvent::Skipped(s) = e { Some(s) } else { None }).collect();
    assert_eq!(skipped.len(), 1, "{events:?}");
    assert!(skipped[0].chars().count() <= 301, "{} characters", skipped[0].len());

    let reason = "y".repeat(100_000);
    let body = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"hi\"}},\"finish_reason\":\"{reason}\"}}]}}\n\ndata: [DONE]\n\n"
    );
    let events = decode(ProviderId::OpenAi, &sse, body.as_bytes(), &[], true);
    match events.last() {
        Some(ReplyEvent::Finished(FinishReason::Other(reason))) => assert!(reason.chars().count() <= 301),
        other => panic!("{other:?}"),
    }

    let error = format!("{{\"error\":{{\"message\":\"{long}\"}}}}");
    let events = decode(ProviderId::OpenAi, &head(500, "application/json", &[]), error.as_bytes(), &[], true);
    match events.last() {
        Some(ReplyEvent::Failed(e)) => assert!(e.to_string().chars().count() < 400, "{}", e.to_string().len()),
        other => panic!("{other:?}"),
    }
}
