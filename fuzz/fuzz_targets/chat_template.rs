//! Arbitrary chat-template sources (they come from model files) and message contents:
//! detecting the style and rendering a conversation must not panic.
//!
//! Input: the template source, a NUL byte, then messages separated by NUL bytes (their
//! roles cycle system, user, assistant); the first byte of the input also decides whether
//! a generation prompt is added.

#![no_main]

use inference::tokenizer::{ChatTemplate, Message, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let source = parts.next().unwrap_or_default();
    let contents: Vec<&str> = parts.collect();
    let messages: Vec<Message<'_>> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| match i % 3 {
            0 => Message::system(c),
            1 => Message::user(c),
            _ => Message::assistant(c),
        })
        .collect();
    let add_prompt = data.first().is_some_and(|b| b & 1 == 1);
    for template in [ChatTemplate::detect(source).ok(), Some(ChatTemplate::chatml())].into_iter().flatten() {
        let bos = contents.first().map(|s| s.to_string());
        let template = template.with_special_tokens(bos, None);
        let rendered = template.render(&messages, add_prompt);
        // Every user turn reaches the prompt (trimmed by some formats; a lone system prompt
        // may have no place in Llama 2's).
        for message in messages.iter().filter(|m| m.role == Role::User) {
            assert!(rendered.contains(message.content.trim()), "a user turn went missing");
        }
    }
});
