//! Mock LLM APIs on the host's loopback, speaking the Anthropic Messages and OpenAI Chat
//! Completions wire formats (streamed SSE over chunked HTTP/1.1, optionally over TLS), so
//! the end-to-end tests and the time-to-first-token benchmark exercise the real guest code
//! against what the real services send.
//!
//! Behaviour is chosen by words in the last user message, so one server covers every path:
//! `trigger-401` answers 401 with the dialect's error body, `trigger-midstream` streams part
//! of a reply and then an error event, `trigger-garbage` puts a non-JSON event in the
//! middle of a good reply, `trigger-slow` streams slowly enough to be cancelled,
//! `trigger-markdown` answers with [`MARKDOWN_REPLY`], `trigger-endless` streams without
//! end (until the guest hangs up), `trigger-bytes` answers with the message's length; the
//! Anthropic mock's model list always answers 503 (the OpenAI one lists two models). Anything else gets a deterministic reply quoting the message.

use crate::servers::{RecordedRequest, read_request};
use anyhow::Result;
use serde_json::{Value, json};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The API key the mock accepts.
pub const MOCK_KEY: &str = "mock-key-0123456789";

/// Which wire format the mock speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /v1/messages`, `x-api-key`.
    Anthropic,
    /// `POST /v1/chat/completions`, `Authorization: Bearer`.
    OpenAi,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Anthropic => "anthropic",
            Dialect::OpenAi => "openai",
        }
    }
}

/// A running mock.
#[derive(Debug)]
pub struct MockLlm {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<AtomicBool>,
}

/// Pause between streamed pieces, like a model producing tokens.
const TOKEN_DELAY: Duration = Duration::from_millis(4);

impl MockLlm {
    /// Serves `dialect` over plain HTTP, or over TLS with `tls`.
    pub fn start(dialect: Dialect, tls: Option<Arc<rustls::ServerConfig>>) -> Result<MockLlm> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(AtomicU32::new(0));
        let (stop2, requests2) = (Arc::clone(&stop), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (requests, replies, tls) = (Arc::clone(&requests2), Arc::clone(&replies), tls.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let _ = stream.set_nodelay(true);
                    match tls {
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                            let mut tls = rustls::StreamOwned::new(conn, stream);
                            if tls.conn.complete_io(&mut tls.sock).is_err() {
                                return;
                            }
                            let _ = serve(&mut tls, dialect, &requests, &replies);
                            tls.conn.send_close_notify();
                            let _ = tls.conn.complete_io(&mut tls.sock);
                        }
                        None => {
                            let _ = serve(stream, dialect, &requests, &replies);
                        }
                    }
                });
            }
        });
        Ok(MockLlm { port, requests, stop })
    }

    /// The requests received so far.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The body of the `index`th request the mock received, as text.
pub fn recorded_body(mock: &MockLlm, index: usize) -> Result<String> {
    let requests = mock.recorded();
    let request = requests.get(index).ok_or_else(|| anyhow::anyhow!("the mock saw no request {index}"))?;
    Ok(String::from_utf8_lossy(&request.body).into_owned())
}

/// The `trigger-markdown` reply: a heading, bold text, a fenced code block and enough
/// lines that the screen must scroll; its first and last lines hold words a test can find.
pub const MARKDOWN_REPLY: &str = "# Quokka Heading\n\nThe **boldword** here and `inline` code.\n\n\
```rust\nfn main() {\n    let answer = 42; // comment\n    println!(\"hi\");\n}\n```\n\n";

/// The last line of the `trigger-markdown` reply.
pub const MARKDOWN_LAST: &str = "Walrus closing line.";

/// The `trigger-markdown` reply in full: [`MARKDOWN_REPLY`], 70 numbered filler lines, then
/// [`MARKDOWN_LAST`].
pub fn markdown_reply() -> String {
    let mut text = String::from(MARKDOWN_REPLY);
    for i in 1..=70 {
        text.push_str(&format!("- filler line {i} about lighthouses\n"));
    }
    text.push('\n');
    text.push_str(MARKDOWN_LAST);
    text
}

/// The `trigger-bytes` reply for a message of `n` bytes.
pub fn bytes_reply(n: usize) -> String {
    format!("Received {n} bytes.")
}

/// The reply text the mock streams for `said` as its `n`th reply.
pub fn expected_reply(dialect: Dialect, n: u32, said: &str, turns: usize) -> String {
    format!("Mock {} reply #{n}: you said \u{201c}{said}\u{201d} ({turns} turns) \u{2713} ünïcode", dialect.name())
}

fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// One chunk of a chunked body, flushed at once so the guest sees it as it happens.
fn chunk(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    write!(out, "{:x}\r\n", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

fn serve(
    stream: impl Read + Write,
    dialect: Dialect,
    log: &Mutex<Vec<RecordedRequest>>,
    replies: &AtomicU32,
) -> Result<()> {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader)? else { return Ok(()) };
    if let Ok(mut l) = log.lock() {
        l.push(request.clone());
    }
    let out = reader.get_mut();
    // The query (a gateway's `?api-key=` on the base URL) does not choose the route.
    let path = request.request_line.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/");
    let expected_path = match dialect {
        Dialect::Anthropic => "/v1/messages",
        Dialect::OpenAi => "/v1/chat/completions",
    };
    let key_ok = match dialect {
        Dialect::Anthropic => header(&request, "x-api-key") == Some(MOCK_KEY),
        Dialect::OpenAi => header(&request, "authorization") == Some(&format!("Bearer {MOCK_KEY}")),
    };
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let said = messages.last().and_then(|m| m["content"].as_str()).unwrap_or("").to_string();
    let error_body = |kind: &str, message: &str| match dialect {
        Dialect::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message}}),
        Dialect::OpenAi => json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
    };
    let simple = |out: &mut dyn Write, status: &str, body: &Value| -> std::io::Result<()> {
        let text = body.to_string();
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        )?;
        out.flush()
    };
    if path.starts_with("/v1/models") && request.request_line.starts_with("GET ") {
        if !key_ok {
            simple(out, "401 Unauthorized", &error_body("authentication_error", "invalid x-api-key"))?;
        } else if dialect == Dialect::Anthropic {
            // The Anthropic mock's list is "down", so the guest's built-in list is exercised.
            simple(out, "503 Service Unavailable", &error_body("overloaded_error", "Overloaded"))?;
        } else {
            let list = json!({"object": "list", "data": [{"id": "mock-small", "object": "model"}, {"id": "mock-large", "object": "model"}]});
            simple(out, "200 OK", &list)?;
        }
        return Ok(());
    }
    if path != expected_path {
        simple(out, "404 Not Found", &error_body("not_found_error", &format!("no route for {path}")))?;
        return Ok(());
    }
    if !key_ok || said.contains("trigger-401") {
        simple(out, "401 Unauthorized", &error_body("authentication_error", "invalid x-api-key"))?;
        return Ok(());
    }
    if body["stream"] != json!(true) {
        simple(out, "400 Bad Request", &error_body("invalid_request_error", "stream must be true"))?;
        return Ok(());
    }
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )?;
    out.flush()?;
    let midstream = said.contains("trigger-midstream");
    let slow = said.contains("trigger-slow");
    let delay = if slow { Duration::from_millis(300) } else { TOKEN_DELAY };
    let garbage = said.contains("trigger-garbage");
    let endless = said.contains("trigger-endless");
    let text = if said.contains("trigger-markdown") {
        markdown_reply()
    } else if said.contains("trigger-bytes") {
        bytes_reply(said.len())
    } else if endless {
        // Only the opening; the pieces after it are made as they are sent.
        String::from("Endless ")
    } else if midstream {
        String::from("Partial answer before the failure")
    } else if slow {
        String::from("Slowly, piece by piece, a reply long enough to be stopped halfway through by the user")
    } else {
        let n = replies.fetch_add(1, Ordering::SeqCst) + 1;
        expected_reply(dialect, n, &said, messages.len())
    };
    // Pieces of a few characters, like tokens; multi-byte characters stay whole in the
    // JSON, the chunk boundaries fall wherever the bytes do.
    let chars: Vec<char> = text.chars().collect();
    let pieces: Vec<String> = chars.chunks(5).map(|c| c.iter().collect()).collect();
    let event = |name: &str, data: &Value| format!("event: {name}\ndata: {data}\n\n");
    match dialect {
        Dialect::Anthropic => {
            let start = json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
                "content": [], "model": body["model"], "stop_reason": null, "usage": {"input_tokens": 12, "output_tokens": 1}}});
            chunk(out, event("message_start", &start).as_bytes())?;
            let block =
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
            chunk(out, event("content_block_start", &block).as_bytes())?;
            chunk(out, b"event: ping\ndata: {\"type\": \"ping\"}\n\n")?;
            for (i, piece) in pieces.iter().enumerate() {
                std::thread::sleep(delay);
                if garbage && i == 2 {
                    chunk(out, b"event: content_block_delta\ndata: {this is not json\n\n")?;
                }
                let delta =
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}});
                chunk(out, event("content_block_delta", &delta).as_bytes())?;
            }
            for i in (0u64..).take_while(|_| endless) {
                std::thread::sleep(delay);
                let delta = json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": format!("w{i} ")}});
                chunk(out, event("content_block_delta", &delta).as_bytes())?;
            }
            if midstream {
                let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
                chunk(out, event("error", &error).as_bytes())?;
            } else {
                chunk(out, event("content_block_stop", &json!({"type": "content_block_stop", "index": 0})).as_bytes())?;
                let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": pieces.len()}});
                chunk(out, event("message_delta", &delta).as_bytes())?;
                chunk(out, event("message_stop", &json!({"type": "message_stop"})).as_bytes())?;
            }
        }
        Dialect::OpenAi => {
            let data = |v: &Value| format!("data: {v}\n\n");
            let first = json!({"id": "c1", "object": "chat.completion.chunk", "model": body["model"],
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
            chunk(out, data(&first).as_bytes())?;
            for (i, piece) in pieces.iter().enumerate() {
                std::thread::sleep(delay);
                if garbage && i == 2 {
                    chunk(out, b"data: {this is not json\n\n")?;
                }
                let delta = json!({"id": "c1", "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
                chunk(out, data(&delta).as_bytes())?;
            }
            for i in (0u64..).take_while(|_| endless) {
                std::thread::sleep(delay);
                let delta = json!({"id": "c1", "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}, "finish_reason": null}]});
                chunk(out, data(&delta).as_bytes())?;
            }
            if midstream {
                let error = json!({"error": {"message": "The server had an error while processing your request.",
                    "type": "server_error"}});
                chunk(out, data(&error).as_bytes())?;
            } else {
                let stop = json!({"id": "c1", "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                chunk(out, data(&stop).as_bytes())?;
                let usage = json!({"id": "c1", "object": "chat.completion.chunk", "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": pieces.len(), "total_tokens": 12 + pieces.len()}});
                chunk(out, data(&usage).as_bytes())?;
                chunk(out, b"data: [DONE]\n\n")?;
            }
        }
    }
    chunk(out, b"")?;
    Ok(())
}
