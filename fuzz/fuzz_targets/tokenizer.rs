//! Arbitrary text through the two tokenizer families: the bundled model's byte-level BPE
//! (read once from `target/models`, or `MOTEOS_MODEL`; skipped when absent) and a small
//! SentencePiece-style vocabulary with byte fallback. Encoding must not panic, byte-level
//! BPE must give the text back exactly, and decoding arbitrary ids must not panic.
//!
//! Input: byte 0 chooses the tokenizer and the encode options, the rest is the text (or,
//! for odd choices, little-endian u32 ids to decode).

#![no_main]

use std::sync::OnceLock;

use inference::gguf::Gguf;
use inference::tokenizer::{EncodeOptions, ModelKind, PreTokenizer, TokenType, Tokenizer, TokenizerSpec};
use libfuzzer_sys::fuzz_target;

fn bundled() -> Option<&'static Tokenizer> {
    static TOKENIZER: OnceLock<Option<Tokenizer>> = OnceLock::new();
    TOKENIZER
        .get_or_init(|| {
            let path = std::env::var_os("MOTEOS_MODEL").map(std::path::PathBuf::from).unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/models/SmolLM2-135M-Instruct.Q4_1.gguf")
            });
            let bytes: &'static [u8] = Box::leak(std::fs::read(path).ok()?.into_boxed_slice());
            Tokenizer::from_gguf(&Gguf::parse(bytes).ok()?).ok()
        })
        .as_ref()
}

fn sentencepiece() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
        let mut types = vec![TokenType::Unknown, TokenType::Control, TokenType::Control];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(TokenType::Byte);
        }
        for piece in ["▁", "▁t", "▁th", "▁the", "he", "e", "t", "h", "▁a", "a", "é", "▁é", "ab", "abc", "<|im_end|>"] {
            tokens.push(piece.into());
            types.push(if piece.starts_with("<|") { TokenType::Control } else { TokenType::Normal });
        }
        let scores = (0..tokens.len()).map(|i| -(i as f32) / 10.0).collect();
        let spec = TokenizerSpec {
            model: ModelKind::Llama,
            pre: PreTokenizer::Default,
            tokens,
            scores,
            token_types: types,
            merges: Vec::new(),
            bos_id: Some(1),
            eos_id: Some(2),
            unk_id: Some(0),
            pad_id: None,
            add_bos: true,
            add_eos: false,
            add_space_prefix: true,
            chat_template: None,
        };
        Tokenizer::new(spec).expect("the fixed vocabulary is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let [control, rest @ ..] = data else { return };
    let tokenizer = match (control & 1, bundled()) {
        (0, Some(bundled)) => bundled,
        _ => sentencepiece(),
    };
    if control & 2 != 0 {
        let ids: Vec<u32> = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) % (tokenizer.vocab_size() as u32 + 8))
            .collect();
        let _ = tokenizer.decode(&ids);
        return;
    }
    let text = String::from_utf8_lossy(rest);
    let options = EncodeOptions { add_bos: control & 4 != 0, add_eos: control & 8 != 0, parse_special: control & 16 != 0 };
    let ids = tokenizer.encode(&text, options);
    assert!(ids.iter().all(|&id| (id as usize) < tokenizer.vocab_size()));
    let decoded = tokenizer.decode(&ids);
    // Byte-level BPE is lossless for every byte its vocabulary has (SmolLM's lacks a few
    // control bytes, which become its unknown token).
    let representable = tokenizer.unk_id().is_none_or(|unk| !ids.contains(&unk));
    if tokenizer.model() == ModelKind::Gpt2
        && representable
        && !options.parse_special
        && !options.add_bos
        && !options.add_eos
    {
        assert_eq!(decoded, text, "byte-level BPE must give the text back");
    }
});
