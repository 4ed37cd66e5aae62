//! Tokenizers rebuilt from GGUF metadata and the model's chat template.
//!
//! A [`TokenizerSpec`] describes a vocabulary independently of the file format;
//! [`Tokenizer::new`] checks it and builds the lookup tables. Two kinds are implemented:
//! byte-level BPE with ranked merges ([`ModelKind::Gpt2`], what SmolLM2 and Llama 3 use) and
//! SentencePiece-style BPE with scores and byte fallback ([`ModelKind::Llama`], Llama 2).
//! [`Decoder`] turns a stream of generated ids into text without splitting characters, and
//! [`ChatTemplate`] renders a conversation the way the model was trained to read it.

#![forbid(unsafe_code)]

mod byte_level;
mod chat;
mod decoder;
mod error;
mod from_gguf;
mod merge;
mod pretokenize;
mod spec;
mod special;

use alloc::string::String;
use alloc::vec::Vec;
use core::hash::BuildHasher;
use core::ops::Range;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

pub use chat::{ChatStyle, ChatTemplate, Message, Role};
pub use decoder::Decoder;
pub use error::TokenizerError;
pub use spec::{ModelKind, PreTokenizer, TokenType, TokenizerSpec};

use merge::{Merger, NONE};
use special::{Fragment, SpecialMatcher};

/// What [`Tokenizer::encode`] adds around the text and whether it reads special tokens in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Put the BOS token first (if the vocabulary has one).
    pub add_bos: bool,
    /// Put the EOS token last (if the vocabulary has one).
    pub add_eos: bool,
    /// Turn control tokens written in the text (`<|im_start|>`) into their ids. Off, they are
    /// tokenized as the plain characters they are made of, so user text cannot forge them.
    pub parse_special: bool,
}

/// The SentencePiece word-boundary marker, standing for a space.
const SPACE_MARKER: char = '\u{2581}';

/// Control-token texts that end a turn in common chat formats, besides the model's EOS token.
const END_OF_TURN_TEXTS: &[&str] =
    &["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>", "</s>"];

/// Byte-level BPE merges: `(left, right)` → `(rank, merged)`.
type MergeTable = HashMap<(u32, u32), (u32, u32)>;

/// A text ↔ token-id converter for one model.
pub struct Tokenizer {
    model: ModelKind,
    pre: PreTokenizer,
    tokens: Vec<String>,
    types: Vec<TokenType>,
    scores: Vec<f32>,
    /// Ids by token text; holds ids only, hashing `tokens[id]`, so the texts are stored once.
    ids: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Byte-level BPE: `(left, right)` → `(rank, merged)`.
    merges: MergeTable,
    /// The token for each single byte (byte-level character or `<0xXX>`), or `NONE`.
    byte_tokens: [u32; 256],
    specials: SpecialMatcher,
    /// The bytes each token stands for, concatenated; token `i` is `bytes[offsets[i]..offsets[i + 1]]`.
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    chat_template: Option<String>,
}

impl Tokenizer {
    /// Checks `spec` and builds a tokenizer from it.
    ///
    /// Fails when a per-token array has the wrong length, a special id is out of range, or a
    /// merge rule is malformed or names a token the vocabulary does not have.
    pub fn new(spec: TokenizerSpec) -> Result<Self, TokenizerError> {
        let n = spec.tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocabulary);
        }
        // `NONE` (u32::MAX) must never be a real id.
        if u32::try_from(n).is_err() || n == NONE as usize {
            return Err(TokenizerError::VocabularyTooLarge(n));
        }
        if !spec.scores.is_empty() && spec.scores.len() != n {
            return Err(TokenizerError::LengthMismatch { what: "scores", len: spec.scores.len(), tokens: n });
        }
        if !spec.token_types.is_empty() && spec.token_types.len() != n {
            return Err(TokenizerError::LengthMismatch { what: "token types", len: spec.token_types.len(), tokens: n });
        }
        for (which, id) in
            [("bos", spec.bos_id), ("eos", spec.eos_id), ("unknown", spec.unk_id), ("padding", spec.pad_id)]
        {
            if let Some(id) = id.filter(|&id| id as usize >= n) {
                return Err(TokenizerError::SpecialIdOutOfRange { which, id, tokens: n });
            }
        }
        let types = if spec.token_types.is_empty() { alloc::vec![TokenType::Normal; n] } else { spec.token_types };

        let hasher = DefaultHashBuilder::default();
        let mut ids = HashTable::with_capacity(n);
        for (id, text) in spec.tokens.iter().enumerate() {
            let hash = hasher.hash_one(text.as_str());
            // Some vocabularies repeat a text (usually unused or reserved tokens): text → id
            // needs one answer, and the first id is the one the merges were trained on.
            if ids.find(hash, |&other: &u32| spec.tokens[other as usize] == *text).is_none() {
                ids.insert_unique(hash, id as u32, |&other| hasher.hash_one(spec.tokens[other as usize].as_str()));
            }
        }

        let mut tokenizer = Self {
            model: spec.model,
            pre: spec.pre,
            tokens: spec.tokens,
            types,
            scores: spec.scores,
            ids,
            hasher,
            merges: HashMap::new(),
            byte_tokens: [NONE; 256],
            specials: SpecialMatcher::default(),
            bytes: Vec::new(),
            offsets: Vec::new(),
            bos: spec.bos_id,
            eos: spec.eos_id,
            unk: spec.unk_id,
            pad: spec.pad_id,
            add_bos: spec.add_bos,
            add_eos: spec.add_eos,
            add_space_prefix: spec.add_space_prefix,
            chat_template: spec.chat_template,
        };
        if tokenizer.model == ModelKind::Gpt2 {
            tokenizer.merges = tokenizer.build_merges(&spec.merges)?;
        }
        tokenizer.byte_tokens = tokenizer.build_byte_tokens();
        tokenizer.specials = tokenizer.build_specials();
        tokenizer.build_token_bytes();
        Ok(tokenizer)
    }

    /// Reads the tokenizer stored in a GGUF file's metadata and builds it.
    pub fn from_gguf(gguf: &crate::gguf::Gguf<'_>) -> Result<Self, TokenizerError> {
        Self::new(TokenizerSpec::from_gguf(gguf)?)
    }

    /// Resolves merge rules to ids, ranked by position.
    fn build_merges(&self, rules: &[String]) -> Result<MergeTable, TokenizerError> {
        let mut merges = HashMap::with_capacity(rules.len());
        let mut joined = String::new();
        for (rank, rule) in rules.iter().enumerate() {
            let malformed = || TokenizerError::MalformedMerge { rank, text: rule.clone() };
            // The separator is the first space after the first character, so a left part
            // that starts with a space (possible in SentencePiece-derived vocabularies) works.
            let first_len = rule.chars().next().map_or(0, char::len_utf8);
            let split = rule.get(first_len..).and_then(|rest| rest.find(' ')).map(|p| p + first_len);
            let (left, right) = match split {
                Some(p) => (&rule[..p], &rule[p + 1..]),
                None => return Err(malformed()),
            };
            if left.is_empty() || right.is_empty() {
                return Err(malformed());
            }
            joined.clear();
            joined.push_str(left);
            joined.push_str(right);
            let id = |text: &str| {
                self.token_id(text).ok_or_else(|| TokenizerError::MergeUnknownToken { rank, token: text.into() })
            };
            let (l, r, merged) = (id(left)?, id(right)?, id(&joined)?);
            // The first rule for a pair has the best rank; later duplicates are dead rules.
            merges.entry((l, r)).or_insert((rank as u32, merged));
        }
        Ok(merges)
    }

    fn build_byte_tokens(&self) -> [u32; 256] {
        let mut table = [NONE; 256];
        let mut text = String::new();
        for (byte, slot) in (0..=255u8).zip(table.iter_mut()) {
            text.clear();
            match self.model {
                ModelKind::Gpt2 => text.push(byte_level::byte_to_char(byte)),
                ModelKind::Llama => {
                    use core::fmt::Write;
                    // Writing to a String cannot fail.
                    let _ = write!(text, "<0x{byte:02X}>");
                }
            }
            *slot = self.token_id(&text).unwrap_or(NONE);
        }
        table
    }

    fn build_specials(&self) -> SpecialMatcher {
        SpecialMatcher::new(self.tokens.iter().zip(&self.types).enumerate().filter_map(|(id, (text, ty))| {
            match ty {
                TokenType::Control | TokenType::Unknown => Some((text.clone(), id as u32, false)),
                // User-defined tokens are whole words the authors added to the vocabulary:
                // both reference implementations match them in any text.
                TokenType::UserDefined => Some((text.clone(), id as u32, true)),
                _ => None,
            }
        }))
    }

    /// Precomputes the bytes every token decodes to.
    fn build_token_bytes(&mut self) {
        let mut bytes = Vec::new();
        let mut offsets = Vec::with_capacity(self.tokens.len() + 1);
        offsets.push(0);
        for (text, ty) in self.tokens.iter().zip(&self.types) {
            match (self.model, ty) {
                // Special tokens are stored as their plain text in both kinds of vocabulary.
                (_, TokenType::Control | TokenType::UserDefined | TokenType::Unknown) => {
                    bytes.extend_from_slice(text.as_bytes())
                }
                (ModelKind::Gpt2, _) => byte_level::decode_into(text, &mut bytes),
                (ModelKind::Llama, TokenType::Byte) => match parse_byte_token(text) {
                    Some(b) => bytes.push(b),
                    None => bytes.extend_from_slice(text.as_bytes()),
                },
                (ModelKind::Llama, _) => {
                    for c in text.chars() {
                        let c = if c == SPACE_MARKER { ' ' } else { c };
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            // Token texts are bounded by the file size; a vocabulary over 4 GiB cannot be mapped.
            offsets.push(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        }
        self.bytes = bytes;
        self.offsets = offsets;
    }

    /// The id of the token whose vocabulary text is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(text);
        self.ids.find(hash, |&id| self.tokens[id as usize] == text).copied()
    }

    /// The vocabulary text of a token (byte-level BPE texts are in the GPT-2 byte mapping,
    /// e.g. `"Ġthe"`), or `None` for an id outside the vocabulary.
    pub fn token_piece(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The bytes a token stands for in decoded text (`"Ġthe"` → `b" the"`, `<0xE2>` → `[0xE2]`).
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        let (&start, &end) = (self.offsets.get(i)?, self.offsets.get(i + 1)?);
        self.bytes.get(start as usize..end as usize)
    }

    /// What a token is for, or `None` for an id outside the vocabulary.
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The kind of tokenizer.
    pub fn model(&self) -> ModelKind {
        self.model
    }

    /// The beginning-of-sequence token.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence token.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// The unknown token.
    pub fn unk_id(&self) -> Option<u32> {
        self.unk
    }

    /// The padding token.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad
    }

    /// The model's chat template source, if it has one.
    pub fn chat_template_source(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// The options the model asks for when encoding a prompt: its own BOS/EOS flags.
    pub fn model_options(&self, parse_special: bool) -> EncodeOptions {
        EncodeOptions { add_bos: self.add_bos, add_eos: self.add_eos, parse_special }
    }

    /// Whether generating `id` ends the model's turn: the EOS token, or a control token that
    /// chat formats use to close a turn (`<|im_end|>`, `<|eot_id|>`...).
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        Some(id) == self.eos
            || (self.token_type(id) == Some(TokenType::Control)
                && self.token_piece(id).is_some_and(|t| END_OF_TURN_TEXTS.contains(&t)))
    }

    /// The model's chat template, recognised and ready to render conversations.
    ///
    /// [`TokenizerError::NoChatTemplate`] if the model has none and
    /// [`TokenizerError::UnknownChatTemplate`] if its style is not one this crate renders;
    /// callers usually fall back to [`ChatTemplate::chatml`] then.
    pub fn chat_template(&self) -> Result<ChatTemplate, TokenizerError> {
        let source = self.chat_template.as_deref().ok_or(TokenizerError::NoChatTemplate)?;
        let piece = |id: Option<u32>| id.and_then(|id| self.token_piece(id)).map(String::from);
        Ok(ChatTemplate::detect(source)?.with_special_tokens(piece(self.bos), piece(self.eos)))
    }

    /// A plain template of `style` (for a model whose file carries none), told this model's
    /// BOS and EOS texts.
    pub fn plain_chat_template(&self, style: ChatStyle) -> ChatTemplate {
        let piece = |id: Option<u32>| id.and_then(|id| self.token_piece(id)).map(String::from);
        ChatTemplate::plain(style).with_special_tokens(piece(self.bos), piece(self.eos))
    }

    /// Renders a conversation with `template` and encodes it for the model: special tokens
    /// parsed, BOS added if the model wants one and the template did not write it.
    pub fn encode_conversation(
        &self,
        template: &ChatTemplate,
        messages: &[Message<'_>],
        add_generation_prompt: bool,
    ) -> Vec<u32> {
        let text = template.render(messages, add_generation_prompt);
        let options =
            EncodeOptions { add_bos: self.add_bos && !template.renders_bos(), add_eos: false, parse_special: true };
        self.encode(&text, options)
    }

    /// Converts text to token ids.
    pub fn encode(&self, text: &str, options: EncodeOptions) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if options.add_bos {
            out.extend(self.bos);
        }
        let mut fragments = Vec::new();
        self.specials.split(text, options.parse_special, &mut fragments);
        let mut merger = Merger::default();
        let mut words = Vec::new();
        let mut after_special = true;
        for fragment in fragments {
            match fragment {
                Fragment::Token(id) => {
                    out.push(id);
                    after_special = true;
                }
                Fragment::Text(text) => {
                    match self.model {
                        ModelKind::Gpt2 => self.encode_byte_level(text, &mut merger, &mut words, &mut out),
                        ModelKind::Llama => self.encode_sentencepiece(
                            text,
                            after_special && self.add_space_prefix,
                            &mut merger,
                            &mut out,
                        ),
                    }
                    after_special = false;
                }
            }
        }
        if options.add_eos {
            out.extend(self.eos);
        }
        out
    }

    /// Byte-level BPE: pre-tokenize, then merge each word's bytes by rank.
    fn encode_byte_level(&self, text: &str, merger: &mut Merger, words: &mut Vec<Range<usize>>, out: &mut Vec<u32>) {
        words.clear();
        pretokenize::split(self.pre, text, words);
        let mut mapped = String::new();
        for word in words.iter() {
            let word = &text[word.clone()];
            // Llama 3's tokenizer takes a word that is itself a token as is, merges or not.
            if self.pre == PreTokenizer::Llama3 {
                mapped.clear();
                mapped.extend(word.bytes().map(byte_level::byte_to_char));
                if let Some(id) = self.token_id(&mapped) {
                    out.push(id);
                    continue;
                }
            }
            merger.start(word.bytes().map(|b| (1, self.byte_tokens[usize::from(b)])));
            merger.run(|l, r| {
                if l.id == NONE || r.id == NONE {
                    return None;
                }
                self.merges.get(&(l.id, r.id)).map(|&(rank, merged)| (u64::from(rank), merged))
            });
            for symbol in merger.result() {
                if symbol.id != NONE {
                    out.push(symbol.id);
                } else {
                    // A byte the vocabulary lacks: say so with the unknown token if there is one.
                    out.extend(self.unk);
                }
            }
        }
    }

    /// SentencePiece-style BPE: spaces become `▁`, characters merge by best token score, and
    /// what is still not a token falls back to `<0xXX>` byte tokens.
    fn encode_sentencepiece(&self, text: &str, space_prefix: bool, merger: &mut Merger, out: &mut Vec<u32>) {
        let mut normalized = String::with_capacity(text.len() + 3);
        if space_prefix {
            normalized.push(SPACE_MARKER);
        }
        normalized.extend(text.chars().map(|c| if c == ' ' { SPACE_MARKER } else { c }));
        let mut buf = [0u8; 4];
        merger
            .start(normalized.chars().map(|c| (c.len_utf8(), self.token_id(c.encode_utf8(&mut buf)).unwrap_or(NONE))));
        merger.run(|l, r| {
            let id = self.token_id(&normalized[l.start as usize..r.end as usize])?;
            let score = self.scores.get(id as usize).copied().unwrap_or(0.0);
            Some((score_priority(score), id))
        });
        for symbol in merger.result() {
            if symbol.id != NONE {
                out.push(symbol.id);
                continue;
            }
            for &b in &normalized.as_bytes()[symbol.start as usize..symbol.end as usize] {
                match self.byte_tokens[usize::from(b)] {
                    NONE => out.extend(self.unk),
                    id => out.push(id),
                }
            }
        }
    }

    /// Converts token ids back to text. Byte sequences that are not valid UTF-8 (a cut
    /// character, an id outside the vocabulary) become U+FFFD. Special tokens appear as their
    /// text. For SentencePiece vocabularies the space added before the text is removed.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            match self.token_bytes(id) {
                Some(b) => bytes.extend_from_slice(b),
                None => bytes.extend_from_slice(char::REPLACEMENT_CHARACTER.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        // The space `encode` put before the text is not part of it (SentencePiece only).
        let prefixed = self.model == ModelKind::Llama
            && self.add_space_prefix
            && ids.first().is_some_and(|&id| self.token_type(id) == Some(TokenType::Normal))
            && bytes.first() == Some(&b' ');
        let start = usize::from(prefixed);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }
}

impl core::fmt::Debug for Tokenizer {
    // The derived form would print the whole vocabulary.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("model", &self.model)
            .field("pre", &self.pre)
            .field("tokens", &self.tokens.len())
            .field("merges", &self.merges.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

/// Orders SentencePiece merges: a higher score must give a lower priority value.
fn score_priority(score: f32) -> u64 {
    // Map the float's bits to an unsigned key with the same order (negative floats reversed).
    let bits = score.to_bits();
    let ordered = if bits >> 31 == 1 { !bits } else { bits | 0x8000_0000 };
    u64::from(u32::MAX - ordered)
}

/// The byte of a `<0xXX>` byte-fallback token.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests;
