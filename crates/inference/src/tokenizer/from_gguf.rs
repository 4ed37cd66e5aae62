//! Reading a [`TokenizerSpec`] from GGUF metadata (the `tokenizer.ggml.*` keys).

use alloc::string::String;
use alloc::vec::Vec;

use super::{ModelKind, PreTokenizer, TokenType, TokenizerError, TokenizerSpec};
use crate::gguf::{Array, Gguf, Value};

const MODEL: &str = "tokenizer.ggml.model";
const PRE: &str = "tokenizer.ggml.pre";
const TOKENS: &str = "tokenizer.ggml.tokens";
const SCORES: &str = "tokenizer.ggml.scores";
const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
const MERGES: &str = "tokenizer.ggml.merges";
const BOS: &str = "tokenizer.ggml.bos_token_id";
const EOS: &str = "tokenizer.ggml.eos_token_id";
const UNK: &str = "tokenizer.ggml.unknown_token_id";
const PAD: &str = "tokenizer.ggml.padding_token_id";
const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
const ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
const CHAT_TEMPLATE: &str = "tokenizer.chat_template";

impl TokenizerSpec {
    /// Reads the tokenizer stored in a GGUF file's metadata.
    ///
    /// Required: `tokenizer.ggml.model`, `tokenizer.ggml.tokens`, and for byte-level BPE
    /// `tokenizer.ggml.merges`. Absent flags take the defaults llama.cpp uses: a BOS token and
    /// a space prefix for SentencePiece vocabularies, neither for byte-level ones; an absent
    /// pre-tokenizer name means `"default"`.
    pub fn from_gguf(gguf: &Gguf<'_>) -> Result<Self, TokenizerError> {
        let model = ModelKind::from_name(string(gguf, MODEL)?.ok_or(TokenizerError::MissingKey(MODEL))?)?;
        let pre = match model {
            ModelKind::Gpt2 => PreTokenizer::from_name(string(gguf, PRE)?.unwrap_or("default"))?,
            // SentencePiece vocabularies have no pre-tokenizer; the field is unused for them.
            ModelKind::Llama => PreTokenizer::Default,
        };
        let tokens = strings(gguf, TOKENS)?.ok_or(TokenizerError::MissingKey(TOKENS))?;
        let merges = match model {
            ModelKind::Gpt2 => strings(gguf, MERGES)?.ok_or(TokenizerError::MissingKey(MERGES))?,
            ModelKind::Llama => Vec::new(),
        };
        let scores = match array(gguf, SCORES, "an array of numbers")? {
            Some(a) => a.iter_f32().map_err(|_| wrong(SCORES, "an array of f32"))?.collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let token_types = match array(gguf, TOKEN_TYPE, "an array of integers")? {
            Some(a) => token_types(&a)?,
            None => Vec::new(),
        };
        let is_spm = model == ModelKind::Llama;
        Ok(Self {
            model,
            pre,
            tokens,
            scores,
            token_types,
            merges,
            bos_id: id(gguf, BOS)?,
            eos_id: id(gguf, EOS)?,
            unk_id: id(gguf, UNK)?,
            pad_id: id(gguf, PAD)?,
            add_bos: flag(gguf, ADD_BOS)?.unwrap_or(is_spm),
            add_eos: flag(gguf, ADD_EOS)?.unwrap_or(false),
            add_space_prefix: flag(gguf, ADD_SPACE_PREFIX)?.unwrap_or(is_spm),
            chat_template: string(gguf, CHAT_TEMPLATE)?.map(String::from),
        })
    }
}

fn wrong(key: &'static str, expected: &'static str) -> TokenizerError {
    TokenizerError::WrongType { key, expected }
}

fn string<'a>(gguf: &Gguf<'a>, key: &'static str) -> Result<Option<&'a str>, TokenizerError> {
    match gguf.metadata(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(wrong(key, "a string")),
    }
}

fn flag(gguf: &Gguf<'_>, key: &'static str) -> Result<Option<bool>, TokenizerError> {
    match gguf.metadata(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong(key, "a boolean")),
    }
}

fn id(gguf: &Gguf<'_>, key: &'static str) -> Result<Option<u32>, TokenizerError> {
    match gguf.metadata(key) {
        None => Ok(None),
        Some(_) => gguf.get_u32(key).map(Some).map_err(|_| wrong(key, "a token id (an integer from 0 to 2^32-1)")),
    }
}

fn array<'a>(gguf: &Gguf<'a>, key: &'static str, expected: &'static str) -> Result<Option<Array<'a>>, TokenizerError> {
    match gguf.metadata(key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(*a)),
        Some(_) => Err(wrong(key, expected)),
    }
}

fn strings(gguf: &Gguf<'_>, key: &'static str) -> Result<Option<Vec<String>>, TokenizerError> {
    let Some(a) = array(gguf, key, "an array of strings")? else { return Ok(None) };
    let items = a.iter_str().map_err(|_| wrong(key, "an array of strings"))?;
    let mut out = Vec::with_capacity(a.len());
    for item in items {
        out.push(String::from(item?));
    }
    Ok(Some(out))
}

fn token_types(a: &Array<'_>) -> Result<Vec<TokenType>, TokenizerError> {
    a.iter_int()
        .enumerate()
        .map(|(i, value)| {
            let value = value.map_err(|_| wrong(TOKEN_TYPE, "an array of integers"))?;
            i32::try_from(value)
                .ok()
                .and_then(TokenType::from_gguf)
                .ok_or(TokenizerError::InvalidTokenType { id: u32::try_from(i).unwrap_or(u32::MAX), value })
        })
        .collect()
}
