//! Model families as data: what distinguishes Llama, Qwen2, Qwen3, Gemma 3 and Phi-3 is a
//! handful of switches read by one loader and one forward pass, not copies of either.
//!
//! Per-file variations that every family's GGUF may carry (fused `attn_qkv` instead of separate
//! Q/K/V matrices, Q/K/V biases, a separate `output.weight` or tied embeddings, Llama-3 style
//! `rope_freqs`) are detected from the tensors present, as llama.cpp's loader does.

use crate::tokenizer::ChatStyle;

/// How RoPE pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(2i, 2i + 1)` (llama: the GGUF converter permuted Q and K for this).
    Adjacent,
    /// Halves `(i, i + n/2)` (GPT-NeoX style: Qwen, Gemma, Phi-3).
    Neox,
}

/// The activation of the gated feed-forward network: `act(gate) * up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(x)` (SwiGLU).
    Silu,
    /// GELU with the tanh approximation (GeGLU).
    GeluTanh,
}

/// How attention scores are scaled before the softmax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionScale {
    /// `1 / sqrt(head width)`.
    HeadWidth,
    /// `1 / sqrt(model width / heads)` for models of exactly this many layers (Gemma 3 27B),
    /// `1 / sqrt(head width)` otherwise.
    WidthPerHeadAtLayers(usize),
}

/// Everything the loader and the forward pass need to know about one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The name people know it by (shown in the model picker and the log).
    pub name: &'static str,
    /// The `general.architecture` value of its GGUF files (and the prefix of its metadata keys).
    pub architecture: &'static str,
    /// RoPE pairing.
    pub rope: RopeStyle,
    /// Feed-forward activation.
    pub activation: Activation,
    /// Q and K are RMS-normalised per head (`attn_q_norm`, `attn_k_norm`) before RoPE.
    pub qk_norm: bool,
    /// Attention and feed-forward outputs are RMS-normalised again before the residual add
    /// (`post_attention_norm`, `post_ffw_norm`).
    pub post_norms: bool,
    /// Token embeddings are multiplied by `sqrt(width)`.
    pub scale_embeddings: bool,
    /// `ffn_up` holds the gate rows followed by the up rows (`2 × ffn` rows, no `ffn_gate`).
    pub fused_gate_up: bool,
    /// Sliding-window attention when the file gives `attention.sliding_window`: every layer is
    /// local except every n-th (this default n, overridden by `attention.sliding_window_pattern`).
    pub sliding_window_pattern: Option<u32>,
    /// Per-dimension RoPE factors `rope_factors_long` / `rope_factors_short`, chosen by whether
    /// the context exceeds `rope.scaling.original_context_length`.
    pub long_short_rope_factors: bool,
    /// The rotary width must equal the head width (llama.cpp refuses other files).
    pub full_rotary: bool,
    /// Reads `final_logit_softcapping` (logits = c · tanh(logits / c)).
    pub logit_softcapping: bool,
    /// Attention score scale.
    pub attention_scale: AttentionScale,
    /// The chat format when the file carries no template.
    pub default_chat: ChatStyle,
}

const BASE: Family = Family {
    name: "Llama",
    architecture: "llama",
    rope: RopeStyle::Adjacent,
    activation: Activation::Silu,
    qk_norm: false,
    post_norms: false,
    scale_embeddings: false,
    fused_gate_up: false,
    sliding_window_pattern: None,
    long_short_rope_factors: false,
    full_rotary: false,
    logit_softcapping: false,
    attention_scale: AttentionScale::HeadWidth,
    default_chat: ChatStyle::ChatMl,
};

/// Llama 2 / 3.x and models built on its layout (SmolLM).
pub const LLAMA: Family = Family { full_rotary: true, ..BASE };

/// Qwen2 / Qwen2.5: Q/K/V biases (present in the file), NEOX RoPE.
pub const QWEN2: Family = Family { name: "Qwen2", architecture: "qwen2", rope: RopeStyle::Neox, ..BASE };

/// Qwen3: per-head Q/K RMS norms, NEOX RoPE, no biases.
pub const QWEN3: Family =
    Family { name: "Qwen3", architecture: "qwen3", rope: RopeStyle::Neox, qk_norm: true, full_rotary: true, ..BASE };

/// Gemma 3: GeGLU, scaled embeddings, pre- and post-norms, Q/K norms, local layers with their own
/// RoPE base between global ones.
pub const GEMMA3: Family = Family {
    name: "Gemma 3",
    architecture: "gemma3",
    rope: RopeStyle::Neox,
    activation: Activation::GeluTanh,
    qk_norm: true,
    post_norms: true,
    scale_embeddings: true,
    sliding_window_pattern: Some(6),
    logit_softcapping: true,
    attention_scale: AttentionScale::WidthPerHeadAtLayers(62),
    default_chat: ChatStyle::Gemma,
    ..BASE
};

/// Phi-3 / Phi-4-mini: fused QKV (in the file) and gate/up, NEOX RoPE with long/short factors.
pub const PHI3: Family = Family {
    name: "Phi-3",
    architecture: "phi3",
    rope: RopeStyle::Neox,
    fused_gate_up: true,
    long_short_rope_factors: true,
    default_chat: ChatStyle::Phi3,
    ..BASE
};

/// Every family this engine runs.
pub const FAMILIES: [Family; 5] = [LLAMA, QWEN2, QWEN3, GEMMA3, PHI3];

/// The family of a `general.architecture` value.
pub fn by_architecture(architecture: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.architecture == architecture)
}

/// The architectures [`by_architecture`] knows, for messages: `"llama, qwen2, ..."`.
pub fn known_architectures() -> alloc::string::String {
    let names: alloc::vec::Vec<&str> = FAMILIES.iter().map(|f| f.architecture).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_architecture() {
        assert_eq!(by_architecture("qwen3").unwrap().name, "Qwen3");
        assert_eq!(by_architecture("gemma3").unwrap().activation, Activation::GeluTanh);
        assert!(by_architecture("mamba").is_none());
        assert_eq!(known_architectures(), "llama, qwen2, qwen3, gemma3, phi3");
    }
}
