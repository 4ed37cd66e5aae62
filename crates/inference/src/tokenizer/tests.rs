//! Unit tests on small hand-made vocabularies of both kinds.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;

const NO_SPECIAL: EncodeOptions = EncodeOptions { add_bos: false, add_eos: false, parse_special: false };
const SPECIAL: EncodeOptions = EncodeOptions { add_bos: false, add_eos: false, parse_special: true };

/// A byte-level vocabulary: three control tokens, the 256 byte characters, then one token per
/// merge rule (the concatenation), in rule order.
fn gpt2_spec(merges: &[&str]) -> TokenizerSpec {
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map(String::from).to_vec();
    let mut types = vec![TokenType::Control; 3];
    tokens.extend((0..=255u8).map(|b| byte_level::byte_to_char(b).to_string()));
    types.extend([TokenType::Normal; 256]);
    for rule in merges {
        let joined = rule.replace(' ', "");
        if !tokens.contains(&joined) {
            tokens.push(joined);
            types.push(TokenType::Normal);
        }
    }
    TokenizerSpec {
        model: ModelKind::Gpt2,
        pre: PreTokenizer::Smollm,
        tokens,
        scores: Vec::new(),
        token_types: types,
        merges: merges.iter().map(|m| m.to_string()).collect(),
        bos_id: Some(1),
        eos_id: Some(2),
        unk_id: None,
        pad_id: None,
        add_bos: false,
        add_eos: false,
        add_space_prefix: false,
        chat_template: None,
    }
}

const GPT2_MERGES: &[&str] = &["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", "Ġ Ġ"];

fn gpt2() -> Tokenizer {
    Tokenizer::new(gpt2_spec(GPT2_MERGES)).unwrap()
}

fn pieces(t: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter().map(|&id| t.token_piece(id).unwrap().to_string()).collect()
}

#[test]
fn byte_level_merges_by_rank() {
    let t = gpt2();
    let ids = t.encode("hello world", NO_SPECIAL);
    assert_eq!(pieces(&t, &ids), ["hello", "Ġworld"]);
    assert_eq!(t.decode(&ids), "hello world");
}

#[test]
fn byte_level_unmerged_bytes_and_multibyte_characters() {
    let t = gpt2();
    // `é` is two bytes with no merge: two byte tokens, which decode back to one character.
    let ids = t.encode("hé  w", NO_SPECIAL);
    assert_eq!(pieces(&t, &ids), ["h", "Ã", "©", "Ġ", "Ġw"]);
    assert_eq!(t.decode(&ids), "hé  w");
    // Digits are split one by one by the SmolLM pre-tokenizer.
    assert_eq!(pieces(&t, &t.encode("a 42", NO_SPECIAL)), ["a", "Ġ", "4", "2"]);
}

#[test]
fn llama3_takes_whole_word_tokens_without_merging() {
    // "hello" is reachable by merges; "Ġworld" would be too, but "zz" has no merge rule and
    // is still one token: the Llama 3 tokenizer looks a whole word up before merging.
    let mut spec = gpt2_spec(GPT2_MERGES);
    spec.pre = PreTokenizer::Llama3;
    spec.tokens.push("zz".into());
    spec.token_types.push(TokenType::Normal);
    let zz = spec.tokens.len() as u32 - 1;
    let t = Tokenizer::new(spec).unwrap();
    assert_eq!(t.encode("zz", NO_SPECIAL), [zz]);
    assert_eq!(pieces(&t, &t.encode("hello world", NO_SPECIAL)), ["hello", "Ġworld"]);
    // The SmolLM rule has no such shortcut: "zz" stays two bytes.
    let t = gpt2();
    assert_eq!(pieces(&t, &t.encode("zz", NO_SPECIAL)), ["z", "z"]);
}

#[test]
fn special_tokens_only_when_asked() {
    let t = gpt2();
    let parsed = t.encode("<|im_start|>hello<|im_end|>", SPECIAL);
    assert_eq!(parsed.first(), Some(&1));
    assert_eq!(parsed.last(), Some(&2));
    assert_eq!(pieces(&t, &parsed[1..parsed.len() - 1]), ["hello"]);
    let plain = t.encode("<|im_start|>hello", NO_SPECIAL);
    assert!(!plain.contains(&1), "a control token was produced from plain text: {plain:?}");
    assert_eq!(t.decode(&plain), "<|im_start|>hello");
    assert_eq!(t.decode(&parsed), "<|im_start|>hello<|im_end|>");
}

#[test]
fn bos_and_eos_options() {
    let t = gpt2();
    let ids = t.encode("hello", EncodeOptions { add_bos: true, add_eos: true, parse_special: false });
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
    assert_eq!(ids.len(), 3);
    assert_eq!(t.model_options(true), EncodeOptions { add_bos: false, add_eos: false, parse_special: true });
    assert!(t.encode("", NO_SPECIAL).is_empty());
}

#[test]
fn end_of_generation_tokens() {
    let t = gpt2();
    assert!(t.is_end_of_generation(2));
    assert!(t.is_end_of_generation(0), "<|endoftext|> ends a turn too");
    assert!(!t.is_end_of_generation(1));
    assert!(!t.is_end_of_generation(100));
}

#[test]
fn conversation_encoding_parses_template_tokens() {
    let t = gpt2();
    let ids = t.encode_conversation(&ChatTemplate::chatml(), &[Message::user("hello")], true);
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(t.decode(&ids), "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n");
    assert_eq!(t.chat_template(), Err(TokenizerError::NoChatTemplate));
}

#[test]
fn long_input_without_spaces_encodes() {
    let t = gpt2();
    let text = "hello".repeat(20_000);
    let ids = t.encode(&text, NO_SPECIAL);
    assert_eq!(ids.len(), 20_000);
    assert_eq!(t.decode(&ids), text);
}

#[test]
fn invalid_specs_are_rejected_with_reasons() {
    let err = Tokenizer::new(gpt2_spec(&["h e", "x yz"])).unwrap_err();
    assert_eq!(err, TokenizerError::MergeUnknownToken { rank: 1, token: "yz".into() });
    assert_eq!(format!("{err}"), "merge rule 1 uses \"yz\", which is not in the vocabulary");

    let err = Tokenizer::new(gpt2_spec(&["he"])).unwrap_err();
    assert!(matches!(err, TokenizerError::MalformedMerge { rank: 0, .. }), "{err:?}");

    let mut spec = gpt2_spec(&[]);
    spec.eos_id = Some(10_000);
    assert!(matches!(Tokenizer::new(spec).unwrap_err(), TokenizerError::SpecialIdOutOfRange { which: "eos", .. }));

    let mut spec = gpt2_spec(&[]);
    spec.scores = vec![0.0; 3];
    let err = Tokenizer::new(spec).unwrap_err();
    assert_eq!(format!("{err}"), "the tokenizer has 259 tokens but 3 scores");

    let mut spec = gpt2_spec(&[]);
    spec.tokens.clear();
    spec.token_types.clear();
    assert_eq!(Tokenizer::new(spec).unwrap_err(), TokenizerError::EmptyVocabulary);

    assert_eq!(ModelKind::from_name("bert"), Err(TokenizerError::UnsupportedModel("bert".into())));
    assert!(format!("{}", PreTokenizer::from_name("qwen35").unwrap_err()).contains("\"qwen35\""));
    assert_eq!(TokenType::from_gguf(7), None);
}

/// A SentencePiece-style vocabulary with byte fallback.
fn spm_spec() -> TokenizerSpec {
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>"].map(String::from).to_vec();
    let mut types = vec![TokenType::Unknown, TokenType::Control, TokenType::Control];
    let mut scores = vec![0.0; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(TokenType::Byte);
        scores.push(0.0);
    }
    // Higher score = merged earlier. "▁hel" outranks "▁he" + "llo" paths only through scores.
    for (piece, score) in [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("i", -2.0),
        ("▁h", -3.0),
        ("he", -1.5),
        ("ll", -1.2),
        ("llo", -1.1),
        ("hello", -0.5),
        ("▁hello", -0.2),
        ("hi", -0.7),
        ("▁hi", -0.6),
    ] {
        tokens.push(piece.into());
        types.push(TokenType::Normal);
        scores.push(score);
    }
    TokenizerSpec {
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
        chat_template: Some("{{ bos_token }}[INST] {{ message }} [/INST]".into()),
    }
}

#[test]
fn sentencepiece_merges_by_score_with_space_prefix() {
    let t = Tokenizer::new(spm_spec()).unwrap();
    let ids = t.encode("hello hi", t.model_options(false));
    assert_eq!(ids[0], 1, "the model asks for BOS");
    assert_eq!(pieces(&t, &ids[1..]), ["▁hello", "▁hi"]);
    assert_eq!(t.decode(&ids[1..]), "hello hi");
}

#[test]
fn sentencepiece_byte_fallback() {
    let t = Tokenizer::new(spm_spec()).unwrap();
    let ids = t.encode("hi é€", NO_SPECIAL);
    assert_eq!(pieces(&t, &ids), ["▁hi", "▁", "<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>"]);
    assert_eq!(t.decode(&ids), "hi é€");
}

#[test]
fn sentencepiece_space_prefix_after_special_tokens() {
    let t = Tokenizer::new(spm_spec()).unwrap();
    let ids = t.encode("hi</s>hello", SPECIAL);
    assert_eq!(pieces(&t, &ids), ["▁hi", "</s>", "▁hello"]);
    let template = t.chat_template().unwrap();
    assert_eq!(template.style(), ChatStyle::Llama2);
    assert!(template.renders_bos());
    let ids = t.encode_conversation(&template, &[Message::user("hi")], true);
    assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 1, "BOS once, from the template: {ids:?}");
}

#[test]
fn decoder_waits_for_whole_characters() {
    let t = Tokenizer::new(spm_spec()).unwrap();
    let byte = |b: u8| t.token_id(&format!("<0x{b:02X}>")).unwrap();
    let mut d = Decoder::new();
    assert_eq!(d.push(&t, t.token_id("▁hi").unwrap()), " hi");
    assert_eq!(d.push(&t, byte(0xE2)), "");
    assert_eq!(d.push(&t, byte(0x82)), "");
    assert!(d.has_pending());
    assert_eq!(d.push(&t, byte(0xAC)), "€");
    assert!(!d.has_pending());
    // A byte that cannot start a character is replaced at once, not held back.
    assert_eq!(d.push(&t, byte(0xFF)), "\u{FFFD}");
    // A character cut off by the end of the stream.
    assert_eq!(d.push(&t, byte(0xF0)), "");
    assert_eq!(d.finish(), "\u{FFFD}");
    assert_eq!(d.push(&t, 99_999), "\u{FFFD}");
}

#[test]
fn decoder_can_hide_control_tokens() {
    let t = gpt2();
    let mut d = Decoder::skipping_special();
    assert_eq!(d.push(&t, 1), "");
    let mut shown = Decoder::new();
    assert_eq!(shown.push(&t, 1), "<|im_start|>");
    // Byte-level tokens split inside a character: `é` is Ã + ©.
    let (a, b) = (t.token_id("Ã").unwrap(), t.token_id("©").unwrap());
    assert_eq!(d.push(&t, a), "");
    assert_eq!(d.push(&t, b), "é");
}

#[test]
fn decode_is_lossy_for_bad_ids_and_cut_characters() {
    let t = gpt2();
    let a = t.token_id("Ã").unwrap();
    assert_eq!(t.decode(&[a]), "\u{FFFD}");
    assert_eq!(t.decode(&[1_000_000]), "\u{FFFD}");
    assert_eq!(t.token_piece(1_000_000), None);
    assert_eq!(t.token_bytes(t.token_id("Ġw").unwrap()), Some(&b" w"[..]));
}

#[test]
fn score_priority_orders_by_descending_score() {
    let scores = [f32::NEG_INFINITY, -1e9, -3.5, -0.0, 0.0, 1e-9, 2.0, f32::INFINITY];
    for pair in scores.windows(2) {
        assert!(score_priority(pair[0]) >= score_priority(pair[1]), "{pair:?}");
    }
    assert!(score_priority(-3.5) > score_priority(2.0));
}
