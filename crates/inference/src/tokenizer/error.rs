//! Why a tokenizer or a chat template could not be built.

use alloc::string::String;
use core::fmt;

use crate::gguf::GgufError;

/// Everything that can be wrong with a tokenizer description or a chat template.
///
/// Encoding and decoding never fail: only building a [`super::Tokenizer`] (from a
/// [`super::TokenizerSpec`] or GGUF metadata) and recognising a chat template do.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenizerError {
    /// `tokenizer.ggml.model` names a kind of tokenizer this crate does not implement.
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not implement.
    UnsupportedPreTokenizer(String),
    /// A metadata key the tokenizer cannot do without is absent.
    MissingKey(&'static str),
    /// A metadata key is present but holds the wrong kind of value.
    WrongType {
        /// The metadata key.
        key: &'static str,
        /// What the key should hold, e.g. "an array of strings".
        expected: &'static str,
    },
    /// The vocabulary has no tokens at all.
    EmptyVocabulary,
    /// The vocabulary has more tokens than a `u32` id can name.
    VocabularyTooLarge(usize),
    /// A per-token array (scores or token types) does not have one entry per token.
    LengthMismatch {
        /// Which array, e.g. "scores".
        what: &'static str,
        /// Its length.
        len: usize,
        /// The number of tokens.
        tokens: usize,
    },
    /// A token type outside the GGUF range 0..=6.
    InvalidTokenType {
        /// The token with that type.
        id: u32,
        /// The raw value found.
        value: i64,
    },
    /// A special token id (bos, eos, unk, pad) is not a valid token id.
    SpecialIdOutOfRange {
        /// Which special token, e.g. "bos".
        which: &'static str,
        /// The id found.
        id: u32,
        /// The number of tokens.
        tokens: usize,
    },
    /// A merge rule is not two tokens separated by one space.
    MalformedMerge {
        /// The rank (position) of the rule.
        rank: usize,
        /// The rule's text.
        text: String,
    },
    /// A merge rule names a token that is not in the vocabulary.
    MergeUnknownToken {
        /// The rank (position) of the rule.
        rank: usize,
        /// The token that is missing (a part, or the merged result).
        token: String,
    },
    /// The GGUF file could not be read where the tokenizer is stored.
    Gguf(GgufError),
    /// The model has no chat template.
    NoChatTemplate,
    /// The chat template is not one of the styles this crate renders (ChatML, Llama-2, Llama-3).
    UnknownChatTemplate,
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedModel(name) => {
                write!(f, "tokenizer kind \"{name}\" is not supported (only \"gpt2\" and \"llama\" are)")
            }
            Self::UnsupportedPreTokenizer(name) => write!(
                f,
                "pre-tokenizer \"{name}\" is not supported (supported: default, gpt2, smollm, llama3 and their aliases)"
            ),
            Self::MissingKey(key) => write!(f, "the model file has no tokenizer metadata \"{key}\""),
            Self::WrongType { key, expected } => {
                write!(f, "tokenizer metadata \"{key}\" should be {expected}")
            }
            Self::EmptyVocabulary => write!(f, "the tokenizer vocabulary is empty"),
            Self::VocabularyTooLarge(n) => write!(f, "the tokenizer vocabulary has {n} tokens, more than ids can name"),
            Self::LengthMismatch { what, len, tokens } => {
                write!(f, "the tokenizer has {tokens} tokens but {len} {what}")
            }
            Self::InvalidTokenType { id, value } => write!(f, "token {id} has an unknown token type {value}"),
            Self::SpecialIdOutOfRange { which, id, tokens } => {
                write!(f, "the {which} token id {id} is outside the vocabulary of {tokens} tokens")
            }
            Self::MalformedMerge { rank, text } => {
                write!(f, "merge rule {rank} ({text:?}) is not two tokens separated by a space")
            }
            Self::MergeUnknownToken { rank, token } => {
                write!(f, "merge rule {rank} uses {token:?}, which is not in the vocabulary")
            }
            Self::Gguf(e) => write!(f, "reading the tokenizer from the model file: {e}"),
            Self::NoChatTemplate => write!(f, "the model has no chat template"),
            Self::UnknownChatTemplate => {
                write!(
                    f,
                    "the model's chat template is none of the formats moteOS renders (ChatML, Llama 2, Llama 3, Gemma, Phi-3)"
                )
            }
        }
    }
}

impl core::error::Error for TokenizerError {}

impl From<GgufError> for TokenizerError {
    fn from(e: GgufError) -> Self {
        Self::Gguf(e)
    }
}
