//! Every family's synthetic model (`tests/fixtures/synthetic/*.gguf`, written by
//! `reference/synthetic.py`) loads through the chat engine with its own template and stop
//! tokens, and chats; a broken family, template or tensor is refused with a sentence naming it.

mod common;

use common::writer::{GgufWriter, Kv, tiny_llama};
use inference::{ChatEngine, ChatError, EngineOptions, Message, SamplingParams};

/// The committed synthetic file of `family`.
pub fn synthetic(family: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/synthetic/{family}-tiny.gguf", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FAMILIES: [(&str, &str, &str); 5] = [
    ("llama3", "Llama", "<|eot_id|>"),
    ("qwen2", "Qwen2", "<|im_end|>"),
    ("qwen3", "Qwen3", "<|im_end|>"),
    ("gemma3", "Gemma 3", "<end_of_turn>"),
    ("phi3", "Phi-3", "<|end|>"),
];

#[test]
fn every_family_loads_and_chats() {
    for (file, name, end) in FAMILIES {
        let bytes = synthetic(file);
        let mut chat = ChatEngine::load(&bytes, EngineOptions { context: 256, ..Default::default() })
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(chat.family_name(), name);
        assert_eq!(chat.template().end_of_turn(), end, "{file}");
        let stop = chat.tokenizer().token_id(end).unwrap();
        assert!(chat.engine().stop_tokens().contains(&stop), "{file}: {end} is not a stop token");
        let params = SamplingParams { max_tokens: 12, ..SamplingParams::greedy() };
        let reply = chat.reply_to(&[Message::user("What is the capital of France?")], params).unwrap();
        assert!(chat.stats().generated_tokens > 0, "{file}: nothing generated");
        eprintln!("{file}: {reply:?}");
    }
}

#[test]
fn unknown_architecture_is_refused_by_name() {
    let mut w = tiny_llama();
    let keys: Vec<(String, Kv)> = w.kv.clone();
    w.kv = keys.into_iter().map(|(k, v)| (k.replace("llama.", "mamba."), v)).collect();
    w.set("general.architecture", Kv::Str("mamba".into()));
    let bytes = w.bytes();
    let err = ChatEngine::load(&bytes, EngineOptions::default()).unwrap_err().to_string();
    assert!(err.contains("\"mamba\" is not supported") && err.contains("qwen3"), "{err}");
}

#[test]
fn unknown_template_is_refused_by_name() {
    let mut w = tiny_llama();
    w.set(
        "tokenizer.chat_template",
        Kv::Str("{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}".into()),
    );
    let bytes = w.bytes();
    let err = ChatEngine::load(&bytes, EngineOptions::default()).unwrap_err();
    assert!(matches!(err, ChatError::UnknownTemplate(_)));
    assert!(err.to_string().contains("### {{ m.role }}"), "{err}");
    // No template at all: the family's usual format.
    w.remove("tokenizer.chat_template");
    let bytes = w.bytes();
    let chat = ChatEngine::load(&bytes, EngineOptions::default()).unwrap();
    assert_eq!(chat.template().end_of_turn(), "<|im_end|>");
}

#[test]
fn unknown_tensor_type_and_stray_tensor_are_refused_by_name() {
    let mut bytes = tiny_llama().bytes();
    // Retype blk.0.ffn_down.weight (the last tensor description before the data) to an id no
    // ggml version uses.
    let name = b"blk.0.ffn_down.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 4 + 16;
    bytes[at..at + 4].copy_from_slice(&999u32.to_le_bytes());
    let err = ChatEngine::load(&bytes, EngineOptions::default()).unwrap_err().to_string();
    assert!(err.contains("blk.0.ffn_down.weight") && err.contains("999"), "{err}");

    let mut w: GgufWriter = tiny_llama();
    w.tensor("blk.0.attn_q_norm.weight", &[16], vec![1.0; 16]);
    let bytes = w.bytes();
    let err = ChatEngine::load(&bytes, EngineOptions::default()).unwrap_err().to_string();
    assert!(err.contains("\"blk.0.attn_q_norm.weight\" is not part of the Llama layout"), "{err}");
}
