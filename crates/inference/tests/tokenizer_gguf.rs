//! `TokenizerSpec::from_gguf` on small crafted GGUF files: a SentencePiece-style vocabulary
//! end to end, and a typed, readable error for each kind of broken tokenizer metadata.

use inference::gguf::Gguf;
use inference::tokenizer::{ChatStyle, EncodeOptions, Message, ModelKind, Tokenizer, TokenizerError, TokenizerSpec};

/// A metadata value to write.
#[derive(Clone)]
enum Kv {
    Str(&'static str),
    U32(u32),
    Bool(bool),
    Strs(Vec<String>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

/// Metadata entries of a crafted file, in order.
type Entries = Vec<(&'static str, Kv)>;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A GGUF v3 file with these metadata entries and no tensors.
fn gguf_bytes(entries: &[(&str, Kv)]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (key, value) in entries {
        put_str(&mut out, key);
        let array_header = |out: &mut Vec<u8>, elem: u32, len: usize| {
            out.extend_from_slice(&9u32.to_le_bytes());
            out.extend_from_slice(&elem.to_le_bytes());
            out.extend_from_slice(&(len as u64).to_le_bytes());
        };
        match value {
            Kv::Str(s) => {
                out.extend_from_slice(&8u32.to_le_bytes());
                put_str(&mut out, s);
            }
            Kv::U32(v) => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&v.to_le_bytes());
            }
            Kv::Bool(b) => {
                out.extend_from_slice(&7u32.to_le_bytes());
                out.push(u8::from(*b));
            }
            Kv::Strs(items) => {
                array_header(&mut out, 8, items.len());
                items.iter().for_each(|s| put_str(&mut out, s));
            }
            Kv::F32s(items) => {
                array_header(&mut out, 6, items.len());
                items.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
            Kv::I32s(items) => {
                array_header(&mut out, 5, items.len());
                items.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
        }
    }
    // The (empty) data section starts at the next 32-byte boundary.
    out.resize(out.len().next_multiple_of(32), 0);
    out
}

fn spec_of(entries: &[(&str, Kv)]) -> Result<TokenizerSpec, TokenizerError> {
    let bytes = gguf_bytes(entries);
    let gguf = Gguf::parse(&bytes).expect("the crafted file is valid GGUF");
    TokenizerSpec::from_gguf(&gguf)
}

/// A Llama-2-style SentencePiece vocabulary: unk, bos, eos, 256 byte tokens, a few pieces.
fn spm_entries() -> Entries {
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>"].map(String::from).to_vec();
    let mut types = vec![2, 3, 3];
    let mut scores = vec![0.0f32; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    for (piece, score) in [("▁", -1.0), ("h", -2.0), ("e", -2.0), ("l", -2.0), ("o", -2.0), ("ll", -1.2)] {
        tokens.push(piece.into());
        types.push(1);
        scores.push(score);
    }
    for (piece, score) in [("llo", -1.1), ("he", -1.5), ("hello", -0.5), ("▁hello", -0.2)] {
        tokens.push(piece.into());
        types.push(1);
        scores.push(score);
    }
    vec![
        ("tokenizer.ggml.model", Kv::Str("llama")),
        ("tokenizer.ggml.tokens", Kv::Strs(tokens)),
        ("tokenizer.ggml.scores", Kv::F32s(scores)),
        ("tokenizer.ggml.token_type", Kv::I32s(types)),
        ("tokenizer.ggml.bos_token_id", Kv::U32(1)),
        ("tokenizer.ggml.eos_token_id", Kv::U32(2)),
        ("tokenizer.ggml.unknown_token_id", Kv::U32(0)),
        ("tokenizer.chat_template", Kv::Str("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}")),
    ]
}

fn with(mut entries: Entries, key: &'static str, value: Option<Kv>) -> Entries {
    entries.retain(|(k, _)| *k != key);
    if let Some(value) = value {
        entries.push((key, value));
    }
    entries
}

#[test]
fn sentencepiece_vocabulary_from_gguf() {
    let spec = spec_of(&spm_entries()).unwrap();
    assert_eq!(spec.model, ModelKind::Llama);
    assert!(spec.add_bos && spec.add_space_prefix, "SentencePiece defaults apply when the flags are absent");
    let t = Tokenizer::new(spec).unwrap();
    let ids = t.encode("hello é", t.model_options(false));
    let pieces: Vec<&str> = ids.iter().map(|&id| t.token_piece(id).unwrap()).collect();
    assert_eq!(pieces, ["<s>", "▁hello", "▁", "<0xC3>", "<0xA9>"]);
    assert_eq!(t.decode(&ids[1..]), "hello é");

    let template = t.chat_template().unwrap();
    assert_eq!(template.style(), ChatStyle::Llama2);
    let ids = t.encode_conversation(&template, &[Message::user("hello")], true);
    // Text after a special token gets the SentencePiece space prefix, as in llama.cpp and in
    // Llama 2's own tokenizer (`<s>[INST]` encodes as `<s>`, `▁[`, `INST`...), so it decodes
    // with that space.
    assert_eq!(t.decode(&ids), "<s> [INST] hello [/INST]");
    assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 1);

    // Explicit flags override the defaults.
    let entries = with(spm_entries(), "tokenizer.ggml.add_bos_token", Some(Kv::Bool(false)));
    let t = Tokenizer::new(spec_of(&entries).unwrap()).unwrap();
    assert_eq!(t.encode("hello", t.model_options(false)).first(), t.token_id("▁hello").as_ref());
    let plain = EncodeOptions::default();
    assert_eq!(t.encode("", plain), Vec::<u32>::new());
}

#[test]
fn broken_metadata_gives_typed_errors_with_sentences() {
    let cases: Vec<(Entries, TokenizerError, &str)> = vec![
        (
            with(spm_entries(), "tokenizer.ggml.model", None),
            TokenizerError::MissingKey("tokenizer.ggml.model"),
            "the model file has no tokenizer metadata \"tokenizer.ggml.model\"",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.model", Some(Kv::Str("bert"))),
            TokenizerError::UnsupportedModel("bert".into()),
            "tokenizer kind \"bert\" is not supported (only \"gpt2\" and \"llama\" are)",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.tokens", Some(Kv::Str("abc"))),
            TokenizerError::WrongType { key: "tokenizer.ggml.tokens", expected: "an array of strings" },
            "tokenizer metadata \"tokenizer.ggml.tokens\" should be an array of strings",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.tokens", Some(Kv::I32s(vec![1, 2]))),
            TokenizerError::WrongType { key: "tokenizer.ggml.tokens", expected: "an array of strings" },
            "tokenizer metadata \"tokenizer.ggml.tokens\" should be an array of strings",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.bos_token_id", Some(Kv::Str("1"))),
            TokenizerError::WrongType {
                key: "tokenizer.ggml.bos_token_id",
                expected: "a token id (an integer from 0 to 2^32-1)",
            },
            "tokenizer metadata \"tokenizer.ggml.bos_token_id\" should be a token id (an integer from 0 to 2^32-1)",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.token_type", Some(Kv::I32s(vec![9]))),
            TokenizerError::InvalidTokenType { id: 0, value: 9 },
            "token 0 has an unknown token type 9",
        ),
        (
            with(spm_entries(), "tokenizer.ggml.add_bos_token", Some(Kv::U32(1))),
            TokenizerError::WrongType { key: "tokenizer.ggml.add_bos_token", expected: "a boolean" },
            "tokenizer metadata \"tokenizer.ggml.add_bos_token\" should be a boolean",
        ),
    ];
    for (entries, error, sentence) in cases {
        let got = spec_of(&entries).unwrap_err();
        assert_eq!(got, error);
        assert_eq!(got.to_string(), sentence);
    }
}

#[test]
fn inconsistent_metadata_is_rejected_when_building() {
    let build = |entries: &[(&str, Kv)]| Tokenizer::new(spec_of(entries).unwrap()).unwrap_err();

    let err = build(&with(spm_entries(), "tokenizer.ggml.scores", Some(Kv::F32s(vec![0.0; 5]))));
    assert_eq!(err.to_string(), "the tokenizer has 269 tokens but 5 scores");

    let err = build(&with(spm_entries(), "tokenizer.ggml.eos_token_id", Some(Kv::U32(5000))));
    assert_eq!(err.to_string(), "the eos token id 5000 is outside the vocabulary of 269 tokens");

    let gpt2 = |merges: Vec<String>| {
        let tokens = ["a", "b", "ab", "Ġ"].map(String::from).to_vec();
        vec![
            ("tokenizer.ggml.model", Kv::Str("gpt2")),
            ("tokenizer.ggml.pre", Kv::Str("gpt2")),
            ("tokenizer.ggml.tokens", Kv::Strs(tokens)),
            ("tokenizer.ggml.merges", Kv::Strs(merges)),
        ]
    };
    let t = Tokenizer::new(spec_of(&gpt2(vec!["a b".into()])).unwrap()).unwrap();
    assert_eq!(t.encode("ab ab", EncodeOptions::default()), [2, 3, 2]);

    let err = build(&gpt2(vec!["a c".into()]));
    assert_eq!(err.to_string(), "merge rule 0 uses \"c\", which is not in the vocabulary");
    let err = build(&gpt2(vec!["ab".into()]));
    assert_eq!(err.to_string(), "merge rule 0 (\"ab\") is not two tokens separated by a space");

    let err = spec_of(&with(gpt2(vec![]), "tokenizer.ggml.merges", None)).unwrap_err();
    assert_eq!(err, TokenizerError::MissingKey("tokenizer.ggml.merges"));
    let err = spec_of(&with(gpt2(vec![]), "tokenizer.ggml.pre", Some(Kv::Str("qwen35")))).unwrap_err();
    assert_eq!(err, TokenizerError::UnsupportedPreTokenizer("qwen35".into()));
}
