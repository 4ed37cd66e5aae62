//! The tokenizer read from the real SmolLM2 file against an independent reference.
//!
//! `tests/fixtures/tokenizer_reference.json` is written by `reference/tokenizer_reference.py`
//! (Hugging Face `tokenizers` rebuilt from the same GGUF vocabulary and merges, `jinja2` for
//! the chat template); this test reads the model through our GGUF reader and must agree.

mod common;

use std::sync::OnceLock;
use std::time::Instant;

use inference::gguf::Gguf;
use inference::tokenizer::{
    ChatStyle, Decoder, EncodeOptions, Message, ModelKind, PreTokenizer, Role, TokenType, Tokenizer, TokenizerSpec,
};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/tokenizer_reference.json");

/// The bundled model's tokenizer, built once for all tests; `None` when model tests are skipped.
fn tokenizer() -> Option<&'static Tokenizer> {
    static TOKENIZER: OnceLock<Option<Tokenizer>> = OnceLock::new();
    TOKENIZER
        .get_or_init(|| {
            let bytes = common::load_model()?;
            let gguf = Gguf::parse(&bytes).expect("the bundled model parses");
            let start = Instant::now();
            let tokenizer = Tokenizer::from_gguf(&gguf).expect("the bundled model's tokenizer builds");
            eprintln!("tokenizer built from GGUF metadata in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
            Some(tokenizer)
        })
        .as_ref()
}

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the fixture is JSON")
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array().expect("ids are an array").iter().map(|x| x.as_u64().expect("an id") as u32).collect()
}

/// The reference cases: (text, parse_special, expected ids).
fn cases() -> Vec<(String, bool, Vec<u32>)> {
    let f = fixture();
    f["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["text"].as_str().expect("text").to_owned(),
                c["parse_special"].as_bool().expect("flag"),
                ids_of(&c["ids"]),
            )
        })
        .collect()
}

fn options(parse_special: bool) -> EncodeOptions {
    EncodeOptions { add_bos: false, add_eos: false, parse_special }
}

#[test]
fn metadata_is_read_through_the_gguf_reader() {
    let Some(bytes) = common::load_model() else { return };
    let gguf = Gguf::parse(&bytes).unwrap();
    let spec = TokenizerSpec::from_gguf(&gguf).unwrap();
    assert_eq!(spec.model, ModelKind::Gpt2);
    assert_eq!(spec.pre, PreTokenizer::Smollm);
    assert_eq!(spec.tokens.len(), 49_152);
    assert_eq!(spec.merges.len(), 48_900);
    assert_eq!((spec.bos_id, spec.eos_id, spec.unk_id, spec.pad_id), (Some(1), Some(2), Some(0), Some(2)));
    assert!(!spec.add_bos && !spec.add_eos && !spec.add_space_prefix);
    assert_eq!(spec.token_types.iter().filter(|&&t| t == TokenType::Control).count(), 17);
    assert!(spec.chat_template.as_deref().is_some_and(|t| t.contains("named SmolLM")));

    let t = tokenizer().unwrap();
    assert_eq!(t.vocab_size(), 49_152);
    assert_eq!(t.token_piece(2), Some("<|im_end|>"));
    assert!(t.is_end_of_generation(2));
    assert_eq!(t.token_id("Ġthe").map(|id| t.token_bytes(id)), Some(Some(&b" the"[..])));
}

#[test]
fn ids_match_the_reference() {
    let Some(t) = tokenizer() else { return };
    let cases = cases();
    assert!(cases.len() >= 40, "the fixture has {} cases", cases.len());
    let mut failures = Vec::new();
    for (text, parse_special, expected) in &cases {
        let got = t.encode(text, options(*parse_special));
        if &got != expected {
            let show = |ids: &[u32]| ids.iter().map(|&id| t.token_piece(id).unwrap_or("?")).collect::<Vec<_>>();
            failures.push(format!(
                "{text:?} (parse_special {parse_special})\n  ours:      {got:?}\n  {:?}\n  reference: {expected:?}\n  {:?}",
                show(&got),
                show(expected)
            ));
        }
    }
    eprintln!("{} of {} reference strings tokenized identically", cases.len() - failures.len(), cases.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn word_splits_match_the_reference_for_every_pre_tokenizer() {
    // Needs no model: the reference split the fixture's texts with the regexes themselves.
    let f = fixture();
    let words = &f["pre_tokenizer_words"];
    let texts: Vec<&str> = words["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let mut compared = 0;
    for (name, pre) in [
        ("gpt2", PreTokenizer::Gpt2),
        ("smollm", PreTokenizer::Smollm),
        ("llama3", PreTokenizer::Llama3),
        ("default", PreTokenizer::Default),
    ] {
        let expected = words[name].as_array().unwrap();
        assert_eq!(expected.len(), texts.len());
        for (text, expected) in texts.iter().zip(expected) {
            let expected: Vec<&str> = expected.as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
            assert_eq!(pre.words(text), expected, "{name} on {text:?}");
            compared += 1;
        }
    }
    eprintln!("{compared} word splits identical to the reference");
}

#[test]
fn decode_of_encode_is_the_text() {
    let Some(t) = tokenizer() else { return };
    for (text, parse_special, _) in cases() {
        let ids = t.encode(&text, options(parse_special));
        assert_eq!(t.decode(&ids), text, "round trip of {text:?}");
    }
}

#[test]
fn streaming_decoder_gives_the_same_text() {
    let Some(t) = tokenizer() else { return };
    let mut split_characters = 0;
    for (text, parse_special, _) in cases() {
        let mut decoder = Decoder::new();
        let mut streamed = String::new();
        for id in t.encode(&text, options(parse_special)) {
            let piece = decoder.push(t, id);
            if piece.is_empty() && decoder.has_pending() {
                split_characters += 1;
            }
            streamed.push_str(&piece);
        }
        streamed.push_str(&decoder.finish());
        assert_eq!(streamed, text);
    }
    // The emoji and CJK cases split characters over several byte tokens.
    assert!(split_characters > 10, "only {split_characters} tokens ended inside a character");
}

#[test]
fn chat_template_matches_the_jinja_rendering() {
    let Some(t) = tokenizer() else { return };
    let template = t.chat_template().expect("SmolLM2's template is recognised");
    assert_eq!(template.style(), ChatStyle::ChatMl);
    assert_eq!(
        template.default_system_prompt(),
        Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    );
    let f = fixture();
    let chats = f["chats"].as_array().expect("chats");
    assert!(chats.len() >= 2);
    for chat in chats {
        let turns: Vec<(Role, &str)> = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let role = match m["role"].as_str().unwrap() {
                    "system" => Role::System,
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    other => panic!("unexpected role {other}"),
                };
                (role, m["content"].as_str().unwrap())
            })
            .collect();
        let messages: Vec<Message<'_>> = turns.iter().map(|&(role, content)| Message { role, content }).collect();
        assert_eq!(template.render(&messages, true), chat["rendered"].as_str().unwrap(), "{}", chat["name"]);
        assert_eq!(t.encode_conversation(&template, &messages, true), ids_of(&chat["ids"]), "{}", chat["name"]);
    }
}

#[test]
fn speed_on_ten_kilobytes() {
    let Some(t) = tokenizer() else { return };
    let mut text = String::new();
    for (case, _, _) in cases().iter().cycle() {
        if text.len() >= 10_240 {
            break;
        }
        text.push_str(case);
        text.push('\n');
    }
    let time = |label: &str, text: &str| {
        let rounds = 20;
        let start = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..rounds {
            ids = t.encode(text, options(false));
        }
        let per_call = start.elapsed().as_secs_f64() / f64::from(rounds);
        let start = Instant::now();
        let decoded = t.decode(&ids);
        let decode_time = start.elapsed().as_secs_f64();
        assert_eq!(decoded, text);
        eprintln!(
            "{label}: encode {} bytes -> {} tokens in {:.2} ms ({:.1} MB/s); decode {:.3} ms",
            text.len(),
            ids.len(),
            per_call * 1e3,
            text.len() as f64 / per_call / 1e6,
            decode_time * 1e3
        );
    };
    time("mixed reference text", &text);
    // One 10 KB word: BPE merges within a word must not go quadratic.
    time("one word without spaces", &"tokenization".repeat(850));
    time("one emoji run", &"🧬🏳️‍🌈".repeat(600));
    time("whitespace only", &" \n\t".repeat(3400));
}
