//! The local model's sampling settings, their defaults and the allowed ranges of every number
//! a user can set.

use core::fmt;

/// How the local model picks each next token, with every default filled in.
///
/// The defaults suit the bundled SmolLM2-135M-Instruct, a very small model:
/// - `temperature` 0.2 and `top_p` 0.9 are what its authors use in the model card's example; a
///   135M model wanders off topic and invents words at the usual 0.7–1.0, while greedy (0)
///   falls into loops;
/// - `top_k` 40 and `min_p` 0.05 cut the long tail of unlikely tokens that a small model gives
///   too much weight, without making it deterministic;
/// - `repeat_penalty` 1.1 is mild: small models repeat a phrase or a list item endlessly,
///   while stronger penalties make them avoid the words of the question itself;
/// - no fixed `seed`, so asking again gives another answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalSampling {
    /// Softmax temperature; 0 always takes the most likely token.
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens up to this total probability; 1 keeps all.
    pub top_p: f32,
    /// Keep only this many most likely tokens; 0 keeps all.
    pub top_k: u32,
    /// Drop tokens less likely than this fraction of the most likely one; 0 keeps all.
    pub min_p: f32,
    /// Divides the scores of recently used tokens; 1 is off.
    pub repeat_penalty: f32,
    /// Fixes the random choices so an answer can be reproduced; `None` varies them.
    pub seed: Option<u64>,
}

impl LocalSampling {
    /// The defaults described on the type.
    pub const DEFAULT: LocalSampling =
        LocalSampling { temperature: 0.2, top_p: 0.9, top_k: 40, min_p: 0.05, repeat_penalty: 1.1, seed: None };
}

impl Default for LocalSampling {
    fn default() -> Self {
        LocalSampling::DEFAULT
    }
}

/// The allowed values of a decimal setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatRange {
    /// Smallest allowed.
    pub min: f32,
    /// Largest allowed.
    pub max: f32,
}

impl FloatRange {
    /// Whether `value` is allowed (never for NaN).
    pub fn contains(self, value: f32) -> bool {
        value >= self.min && value <= self.max
    }
}

impl fmt::Display for FloatRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a number from {} to {}", self.min, self.max)
    }
}

/// The allowed values of a whole-number setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntRange {
    /// Smallest allowed.
    pub min: u64,
    /// Largest allowed.
    pub max: u64,
}

impl IntRange {
    /// Whether `value` is allowed.
    pub fn contains(self, value: u64) -> bool {
        value >= self.min && value <= self.max
    }
}

impl fmt::Display for IntRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from {} to {}", self.min, self.max)
    }
}

/// `temperature` of every provider: the APIs accept 0 to 2.
pub const TEMPERATURE: FloatRange = FloatRange { min: 0.0, max: 2.0 };
/// `max_tokens` of the remote providers.
pub const MAX_TOKENS: IntRange = IntRange { min: 1, max: 65536 };
/// `top_p` and `min_p` are probabilities.
pub const PROBABILITY: FloatRange = FloatRange { min: 0.0, max: 1.0 };
/// `top_k`: 0 (off) up to far more than any useful value.
pub const TOP_K: IntRange = IntRange { min: 0, max: 100_000 };
/// `repeat_penalty`: 1 is off; below 1 would reward repetition.
pub const REPEAT_PENALTY: FloatRange = FloatRange { min: 1.0, max: 2.0 };
/// `seed`: TOML integers are signed 64-bit.
pub const SEED: IntRange = IntRange { min: 0, max: i64::MAX as u64 };
