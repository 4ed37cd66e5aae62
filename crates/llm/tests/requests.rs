//! The requests each dialect sends: endpoint, headers, JSON body.

use llm::{ChatRequest, Message, Provider, ProviderId, builtin_models, trim_to_budget};
use serde_json::{Value, json};

fn header<'a>(request: &'a http::Request, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn body(request: &http::Request) -> Value {
    serde_json::from_slice(&request.body).expect("the body is JSON")
}

fn conversation() -> Vec<Message> {
    vec![Message::user("Hi \"there\"\n"), Message::assistant("Hello!"), Message::user("Ünïcödé ✓")]
}

#[test]
fn anthropic_request() {
    let provider = Provider::new(ProviderId::Anthropic, "https://api.anthropic.com", Some("sk-ant-1")).unwrap();
    let messages = conversation();
    let chat =
        ChatRequest { system: Some("Be brief."), temperature: Some(0.5), ..ChatRequest::new("claude-x", &messages) };
    let request = provider.chat_request(&chat).unwrap();
    assert_eq!(request.method, http::Method::Post);
    assert_eq!(request.url.to_string(), "https://api.anthropic.com/v1/messages");
    assert_eq!(header(&request, "x-api-key"), Some("sk-ant-1"));
    assert_eq!(header(&request, "anthropic-version"), Some("2023-06-01"));
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        body(&request),
        json!({
            "model": "claude-x", "max_tokens": 1024, "system": "Be brief.", "temperature": 0.5, "stream": true,
            "messages": [
                {"role": "user", "content": "Hi \"there\"\n"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Ünïcödé ✓"},
            ],
        })
    );
    assert!(request.encode().is_ok());
    // A base URL that already names the version is not doubled.
    let provider = Provider::new(ProviderId::Anthropic, "http://10.0.2.2:9000/v1/", Some("k")).unwrap();
    assert_eq!(provider.chat_request(&chat).unwrap().url.to_string(), "http://10.0.2.2:9000/v1/messages");
    assert_eq!(provider.models_request().url.to_string(), "http://10.0.2.2:9000/v1/models?limit=100");
}

#[test]
fn openai_family_requests() {
    let messages = conversation();
    let chat = ChatRequest { system: Some("Be brief."), max_tokens: 200, ..ChatRequest::new("m", &messages) };
    let cases = [
        (ProviderId::OpenAi, "https://api.openai.com/v1", Some("sk-1")),
        (ProviderId::Groq, "https://api.groq.com/openai/v1", Some("gsk-1")),
        (ProviderId::Xai, "https://api.x.ai/v1", Some("xai-1")),
        (ProviderId::OpenAiCompatible, "http://10.0.2.2:11434/v1", None),
    ];
    for (id, base, key) in cases {
        let provider = Provider::new(id, base, key).unwrap();
        let request = provider.chat_request(&chat).unwrap();
        assert_eq!(request.url.to_string(), format!("{base}/chat/completions"));
        assert_eq!(header(&request, "authorization").map(String::from), key.map(|k| format!("Bearer {k}")));
        let body = body(&request);
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["model"], json!("m"));
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(body["messages"][3], json!({"role": "user", "content": "Ünïcödé ✓"}));
        assert!(body.get("temperature").is_none(), "no temperature unless asked");
        match id {
            ProviderId::OpenAi => {
                assert_eq!(body["max_completion_tokens"], json!(200));
                assert!(body.get("max_tokens").is_none());
            }
            _ => assert_eq!(body["max_tokens"], json!(200)),
        }
        assert_eq!(body.get("stream_options").is_some(), id != ProviderId::OpenAiCompatible);
        assert_eq!(provider.models_request().url.to_string(), format!("{base}/models"));
    }
}

#[test]
fn model_lists() {
    let provider = Provider::new(ProviderId::OpenAiCompatible, "http://h/v1", None).unwrap();
    let body = br#"{"object":"list","data":[{"id":"llama3.2","object":"model"},{"id":"qwen3","object":"model"}]}"#;
    assert_eq!(provider.parse_models(body).unwrap(), ["llama3.2", "qwen3"]);
    let e = provider.parse_models(b"<html>").unwrap_err();
    assert!(e.to_string().contains("model list"), "{e}");
    for id in [ProviderId::Anthropic, ProviderId::OpenAi, ProviderId::Groq, ProviderId::Xai] {
        assert!(!builtin_models(id).is_empty());
    }
}

#[test]
fn trimming_keeps_requests_inside_the_budget() {
    let messages: Vec<Message> =
        (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    Message::user("question ".repeat(50))
                } else {
                    Message::assistant("answer ".repeat(80))
                }
            })
            .collect();
    let first = trim_to_budget(&messages, Some("system"), 4000);
    assert!(first > 0 && first < 199);
    let kept: usize = messages[first..].iter().map(|m| llm::estimate_tokens(&m.content) + 4).sum();
    assert!(kept <= 4000, "{kept}");
}
