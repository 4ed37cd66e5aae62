//! An owned description of a tokenizer, independent of the file it came from.

use alloc::string::String;
use alloc::vec::Vec;

use super::TokenizerError;

/// How words become tokens (`tokenizer.ggml.model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `"gpt2"`: byte-level BPE with ranked merge rules (GPT-2, Llama 3, SmolLM, Qwen...).
    Gpt2,
    /// `"llama"`: SentencePiece-style BPE driven by token scores, `▁` for spaces, `<0xXX>` byte fallback.
    Llama,
}

impl ModelKind {
    /// The kind named by a `tokenizer.ggml.model` value.
    pub fn from_name(name: &str) -> Result<Self, TokenizerError> {
        match name {
            "gpt2" => Ok(Self::Gpt2),
            "llama" => Ok(Self::Llama),
            other => Err(TokenizerError::UnsupportedModel(other.into())),
        }
    }
}

/// How text is cut into words before byte-level BPE (`tokenizer.ggml.pre`).
///
/// Each variant is a fixed split rule that the reference implementations express as regular
/// expressions; see `pretokenize.rs` for the rules and why they are written by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// `"default"`: punctuation runs first, then the GPT-2 rule, then digit runs cut into threes.
    Default,
    /// `"gpt2"`: contractions, optionally space-led letter / digit / symbol runs, whitespace.
    Gpt2,
    /// `"smollm"` (also StarCoder's): every digit on its own, then the GPT-2 rule.
    Smollm,
    /// `"llama3"` / `"llama-bpe"`: case-insensitive contractions, digit runs of at most three,
    /// newline-aware whitespace.
    Llama3,
    /// `"qwen2"`: the Llama 3 rule with every digit on its own (Qwen2, Qwen2.5, Qwen3).
    Qwen2,
}

impl PreTokenizer {
    /// The pre-tokenizer named by a `tokenizer.ggml.pre` value.
    pub fn from_name(name: &str) -> Result<Self, TokenizerError> {
        match name {
            "default" => Ok(Self::Default),
            // llama.cpp gives these vocabularies the GPT-2 rule unchanged.
            "gpt2" | "mpt" | "olmo" | "jais" => Ok(Self::Gpt2),
            // And these SmolLM's (single digits first), which StarCoder introduced.
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => Ok(Self::Smollm),
            "llama3" | "llama-bpe" | "llama-v3" => Ok(Self::Llama3),
            "qwen2" | "deepseek-r1-qwen" | "megrez" => Ok(Self::Qwen2),
            other => Err(TokenizerError::UnsupportedPreTokenizer(other.into())),
        }
    }

    /// Cuts `text` into the words byte-level BPE merges one by one (in order, covering it all).
    pub fn words(self, text: &str) -> Vec<&str> {
        let mut ranges = Vec::new();
        super::pretokenize::split(self, text, &mut ranges);
        ranges.into_iter().map(|r| &text[r]).collect()
    }
}

/// What a token is for (`tokenizer.ggml.token_type`, values as GGUF numbers them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Ordinary text (GGUF 1; 0, "undefined", is treated the same).
    Normal,
    /// The unknown token (GGUF 2).
    Unknown,
    /// A control token such as `<|im_start|>` (GGUF 3): never produced from plain text.
    Control,
    /// A token added by the model's authors that is matched as a whole in text (GGUF 4).
    UserDefined,
    /// A reserved token that is never used (GGUF 5).
    Unused,
    /// A byte-fallback token `<0xXX>` (GGUF 6).
    Byte,
}

impl TokenType {
    /// The type for a GGUF token type number, `None` if the number is unknown.
    pub fn from_gguf(value: i32) -> Option<Self> {
        Some(match value {
            0 | 1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => return None,
        })
    }
}

/// Everything needed to build a [`super::Tokenizer`], owned and format-independent.
///
/// Build one by hand (tests, other file formats) or with `TokenizerSpec::from_gguf`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizerSpec {
    /// How words become tokens.
    pub model: ModelKind,
    /// How text is cut into words (byte-level BPE only; ignored for [`ModelKind::Llama`]).
    pub pre: PreTokenizer,
    /// Token texts, indexed by id (byte-level BPE texts use the GPT-2 byte↔character mapping).
    pub tokens: Vec<String>,
    /// One score per token (SentencePiece-style merges prefer higher scores); may be empty
    /// for byte-level BPE, which ranks merges by their order instead.
    pub scores: Vec<f32>,
    /// One type per token; empty means every token is [`TokenType::Normal`].
    pub token_types: Vec<TokenType>,
    /// Byte-level BPE merge rules, `"left right"`, highest priority first.
    pub merges: Vec<String>,
    /// Beginning-of-sequence token.
    pub bos_id: Option<u32>,
    /// End-of-sequence token (the end of an assistant turn in chat models).
    pub eos_id: Option<u32>,
    /// Token emitted for text the vocabulary cannot represent.
    pub unk_id: Option<u32>,
    /// Padding token.
    pub pad_id: Option<u32>,
    /// Whether the model expects a BOS token at the start of a prompt.
    pub add_bos: bool,
    /// Whether the model expects an EOS token at the end of a prompt.
    pub add_eos: bool,
    /// SentencePiece-style only: whether a space is put before the text (and after each special
    /// token) before encoding, so that the first word encodes like any other.
    pub add_space_prefix: bool,
    /// The model's chat template (Jinja source), if it has one.
    pub chat_template: Option<String>,
}
