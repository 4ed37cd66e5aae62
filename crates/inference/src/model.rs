//! A transformer read from GGUF: configuration, zero-copy weights, and (in [`forward`]) the
//! batched forward pass with its KV cache. The differences between model families come from a
//! [`Family`] description; one loader and one forward pass serve them all.
//!
//! Shapes follow ggml: a weight matrix of GGUF shape `[cols, rows]` is `rows` contiguous rows of
//! `cols` encoded values; `y = W x` is one dot product per row.

mod forward;

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;

use crate::family::{self, AttentionScale, Family};
use crate::gguf::{Gguf, GgufError, TensorInfo, Value};
use crate::tensor::quant::{BlockQ8, BlockQ8K, QK, QK_K, quantize_q8k};
use crate::tensor::{DotFn, Kernels, MatmulFn, MatmulKFn, PackedMatmul, TensorType, dequantize_row};

pub use forward::{Precision, State};

/// Why a model could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file is not a valid GGUF file.
    Gguf(GgufError),
    /// `general.architecture` names a model family this engine does not run.
    UnsupportedArchitecture(String),
    /// A tensor the architecture needs is missing.
    MissingTensor(String),
    /// A tensor the engine would not use (the file is of a variant it does not implement).
    UnexpectedTensor {
        /// Tensor name.
        name: String,
        /// The family being loaded.
        family: &'static str,
    },
    /// A tensor has another shape than the metadata implies.
    BadShape {
        /// Tensor name.
        name: String,
        /// Shape expected (ggml order).
        expected: [u64; 2],
        /// Shape found.
        found: [u64; 2],
    },
    /// A tensor is stored in a type without kernels.
    UnsupportedTensorType {
        /// Tensor name.
        name: String,
        /// Its type.
        ty: TensorType,
    },
    /// The metadata describes an impossible model.
    BadConfig(String),
    /// Not enough memory for the KV cache or work buffers.
    OutOfMemory {
        /// Bytes that could not be allocated.
        bytes: usize,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gguf(e) => write!(f, "model file: {e}"),
            Self::UnsupportedArchitecture(a) => {
                write!(f, "model architecture \"{a}\" is not supported (moteOS runs {})", family::known_architectures())
            }
            Self::MissingTensor(n) => write!(f, "model file has no tensor \"{n}\""),
            Self::UnexpectedTensor { name, family } => write!(
                f,
                "model tensor \"{name}\" is not part of the {family} layout this engine runs, so it would be ignored and the answers would be wrong"
            ),
            Self::BadShape { name, expected, found } => {
                write!(f, "model tensor \"{name}\" has shape {found:?}, expected {expected:?}")
            }
            Self::UnsupportedTensorType { name, ty } => {
                write!(f, "model tensor \"{name}\" is stored as {}, which this engine cannot compute with", ty.name())
            }
            Self::BadConfig(why) => write!(f, "model metadata is inconsistent: {why}"),
            Self::OutOfMemory { bytes } => {
                write!(f, "not enough memory for the model's working state ({} MiB needed)", bytes.div_ceil(1 << 20))
            }
        }
    }
}

impl core::error::Error for LoadError {}

impl From<GgufError> for LoadError {
    fn from(e: GgufError) -> Self {
        Self::Gguf(e)
    }
}

/// Hyper-parameters read from the `<arch>.*` metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The model family.
    pub family: &'static Family,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Model width.
    pub dim: usize,
    /// Feed-forward hidden width.
    pub ffn_dim: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `n_heads`).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Leading dimensions of each head that RoPE rotates.
    pub rope_dims: usize,
    /// RoPE base frequency (theta) of global layers.
    pub rope_base: f32,
    /// Linear RoPE scaling factor of global layers (positions are divided by it); 1 when absent.
    pub rope_linear_scale: f32,
    /// RoPE base of sliding-window layers.
    pub rope_base_local: f32,
    /// Factor on RoPE's cos/sin (`rope.scaling.attn_factor`); 1 when absent.
    pub rope_attn_factor: f32,
    /// Context length the per-dimension RoPE factors switch at (long/short factors).
    pub rope_original_context: usize,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// Context length the model was trained for.
    pub train_context: usize,
    /// Vocabulary size (rows of the embedding).
    pub vocab: usize,
    /// Window of sliding-window layers (positions a query sees, itself included).
    pub sliding_window: Option<usize>,
    /// Attention score scale.
    pub attention_scale: f32,
    /// Final logit soft-capping value.
    pub logit_softcap: Option<f32>,
}

impl Config {
    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}

/// A weight matrix: `rows` rows of `cols` values, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    /// Element encoding.
    pub ty: TensorType,
    /// Output size.
    pub rows: usize,
    /// Input size.
    pub cols: usize,
    /// Encoded rows, back to back.
    pub data: &'a [u8],
    dot: DotFn,
    matmul: Option<MatmulFn>,
    matmul_k: Option<MatmulKFn>,
    packed: Option<PackedMatmul>,
    row_bytes: usize,
}

impl<'a> Matrix<'a> {
    fn from_info(g: &Gguf<'a>, info: &TensorInfo<'a>, kernels: Kernels) -> Result<Self, LoadError> {
        let unsupported = || LoadError::UnsupportedTensorType { name: info.name.into(), ty: info.ty };
        let dot = kernels.dot(info.ty).ok_or_else(unsupported)?;
        Ok(Self {
            ty: info.ty,
            rows: info.rows(),
            cols: info.row_len(),
            data: g.tensor_data(info),
            dot,
            matmul: kernels.matmul(info.ty),
            matmul_k: kernels.matmul_k(info.ty),
            packed: kernels.packed_matmul(info.ty),
            row_bytes: info.ty.row_bytes(info.row_len()),
        })
    }

    /// The encoded bytes of row `r`.
    pub fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Rows `range` as a matrix of their own.
    fn rows_range(&self, start: usize, end: usize) -> Matrix<'a> {
        Matrix { rows: end - start, data: &self.data[start * self.row_bytes..end * self.row_bytes], ..*self }
    }

    /// Dequantises row `r` into `out` (`cols` long).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        // Type and size were validated at load; a failure here cannot happen for a loaded matrix.
        let _ = dequantize_row(self.ty, self.row(r), out);
    }
}

/// Q, K and V projections: separate matrices or one fused matrix (rows: Q, then K, then V).
#[derive(Debug)]
enum Qkv<'a> {
    Separate { q: Matrix<'a>, k: Matrix<'a>, v: Matrix<'a> },
    Fused(Matrix<'a>),
}

/// Gate and up projections: separate, or one matrix with the gate rows first.
#[derive(Debug)]
enum GateUp<'a> {
    Separate { gate: Matrix<'a>, up: Matrix<'a> },
    Fused(Matrix<'a>),
}

/// One transformer block's weights.
#[derive(Debug)]
struct Layer<'a> {
    attn_norm: Vec<f32>,
    qkv: Qkv<'a>,
    /// Q, K, V biases (one vector of `q_dim + 2 kv_dim`), if the file has them.
    qkv_bias: Option<Vec<f32>>,
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    wo: Matrix<'a>,
    attn_post_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate_up: GateUp<'a>,
    w_down: Matrix<'a>,
    ffn_post_norm: Option<Vec<f32>>,
    /// Sliding-window (local) attention with the local RoPE table.
    local: bool,
}

/// The loaded model: configuration and weights (borrowed from the file bytes).
#[derive(Debug)]
pub struct Model<'a> {
    /// Hyper-parameters.
    pub config: Config,
    kernels: Kernels,
    token_embd: Matrix<'a>,
    layers: Vec<Layer<'a>>,
    output_norm: Vec<f32>,
    output: Matrix<'a>,
    /// Per-dimension RoPE factors: always-on (`rope_freqs`), or short and long (Phi-3).
    rope_factors: Option<Vec<f32>>,
    rope_factors_long: Option<Vec<f32>>,
    /// Inverse frequencies per rotated pair: global layers, then local layers.
    inv_freq: [Vec<f64>; 2],
    /// How matrix products are computed.
    pub precision: Precision,
}

fn key(arch: &str, k: &str) -> String {
    format!("{arch}.{k}")
}

/// `a × b`, or a sentence naming the metadata whose product overflows.
fn checked_mul(a: usize, b: usize, what: &str) -> Result<usize, LoadError> {
    a.checked_mul(b).ok_or_else(|| LoadError::BadConfig(format!("{what} is too large ({a} × {b} overflows)")))
}

/// `a + b`, or a sentence naming what overflows.
fn checked_add(a: usize, b: usize, what: &str) -> Result<usize, LoadError> {
    a.checked_add(b).ok_or_else(|| LoadError::BadConfig(format!("{what} is too large ({a} + {b} overflows)")))
}

/// Reads optional metadata of the model's architecture.
struct Meta<'g, 'a> {
    g: &'g Gguf<'a>,
    arch: &'a str,
}

impl Meta<'_, '_> {
    fn has(&self, k: &str) -> bool {
        self.g.metadata(&key(self.arch, k)).is_some()
    }

    fn usize(&self, k: &str) -> Result<usize, LoadError> {
        Ok(self.g.get_usize(&key(self.arch, k))?)
    }

    fn usize_or(&self, k: &str, default: usize) -> Result<usize, LoadError> {
        if self.has(k) { self.usize(k) } else { Ok(default) }
    }

    fn f32_or(&self, k: &str, default: f32) -> Result<f32, LoadError> {
        if self.has(k) { Ok(self.g.get_f32(&key(self.arch, k))?) } else { Ok(default) }
    }
}

/// Which layers of `n` use sliding-window attention: every one except each `pattern`-th, or an
/// explicit per-layer array in the file.
fn local_layers(m: &Meta<'_, '_>, n: usize, pattern: u32) -> Result<Vec<bool>, LoadError> {
    const KEY: &str = "attention.sliding_window_pattern";
    if let Some(Value::Array(a)) = m.g.metadata(&key(m.arch, KEY)) {
        let flags: Vec<bool> = a
            .iter()
            .map(|v| match v {
                Ok(Value::Bool(b)) => Ok(b),
                _ => Err(LoadError::BadConfig(format!("{}.{KEY} is not an array of booleans", m.arch))),
            })
            .collect::<Result<_, _>>()?;
        if flags.len() != n {
            return Err(LoadError::BadConfig(format!("{}.{KEY} has {} entries for {n} layers", m.arch, flags.len())));
        }
        return Ok(flags);
    }
    let pattern = m.usize_or(KEY, pattern as usize)?;
    Ok((0..n).map(|il| pattern == 0 || il % pattern < pattern - 1).collect())
}

impl<'a> Model<'a> {
    /// Reads the configuration and maps the weights of a GGUF model of a known family.
    pub fn load(g: &Gguf<'a>, kernels: Kernels) -> Result<Self, LoadError> {
        let arch = g.get_str("general.architecture")?;
        let fam = family::by_architecture(arch).ok_or_else(|| LoadError::UnsupportedArchitecture(arch.into()))?;
        let m = Meta { g, arch };
        let n_layers = m.usize("block_count")?;
        let dim = m.usize("embedding_length")?;
        let ffn_dim = m.usize("feed_forward_length")?;
        let n_heads = m.usize("attention.head_count")?;
        let n_kv_heads = m.usize_or("attention.head_count_kv", n_heads)?;
        let bad = |s: &str| LoadError::BadConfig(s.into());
        if n_layers == 0 || dim == 0 || ffn_dim == 0 || n_heads == 0 || n_kv_heads == 0 {
            return Err(bad("a dimension or count is zero"));
        }
        if n_heads % n_kv_heads != 0 {
            return Err(bad("the head count is not a multiple of the key/value head count"));
        }
        let head_dim = match m.has("attention.key_length") {
            true => m.usize("attention.key_length")?,
            false if dim % n_heads == 0 => dim / n_heads,
            false => return Err(bad("the width is not a multiple of the head count")),
        };
        if m.usize_or("attention.value_length", head_dim)? != head_dim {
            return Err(bad("the value head width differs from the key head width"));
        }
        // Every size derived from the metadata is computed with checked arithmetic: a crafted
        // file must be refused with a sentence, never overflow.
        let q_dim = checked_mul(n_heads, head_dim, "attention.head_count × attention.key_length")?;
        let kv_dim = checked_mul(n_kv_heads, head_dim, "attention.head_count_kv × attention.key_length")?;
        let qkv_dim = checked_add(q_dim, checked_mul(kv_dim, 2, "the key/value width")?, "the Q/K/V width")?;
        let rope_dims = m.usize_or("rope.dimension_count", head_dim)?;
        if head_dim == 0 || head_dim % 2 != 0 || rope_dims % 2 != 0 || rope_dims > head_dim {
            return Err(bad("the head or rotary width is odd or too large"));
        }
        if fam.full_rotary && rope_dims != head_dim {
            return Err(LoadError::BadConfig(format!(
                "{} models rotate the whole head, but rope.dimension_count is {rope_dims} for heads of {head_dim}",
                fam.name
            )));
        }
        let rope_base = m.f32_or("rope.freq_base", 10000.0)?;
        let rope_linear_scale = match g.metadata(&key(arch, "rope.scaling.type")) {
            None => m.f32_or("rope.scale_linear", 1.0)?,
            Some(_) => match g.get_str(&key(arch, "rope.scaling.type"))? {
                "none" => 1.0,
                "linear" => m.f32_or("rope.scaling.factor", 1.0)?,
                other => return Err(LoadError::BadConfig(format!("RoPE scaling \"{other}\" is not supported"))),
            },
        };
        // llama.cpp treats a factor of 0 as "no scaling".
        let rope_linear_scale = if rope_linear_scale == 0.0 { 1.0 } else { rope_linear_scale };
        let rope_base_local = m.f32_or("rope.freq_base_swa", 10000.0)?;
        let rope_attn_factor = m.f32_or("rope.scaling.attn_factor", 1.0)?;
        for (what, v) in [
            ("RoPE base", rope_base),
            ("RoPE scale", rope_linear_scale),
            ("local RoPE base", rope_base_local),
            ("RoPE attention factor", rope_attn_factor),
        ] {
            if !(v.is_finite() && v > 0.0) || (what.contains("base") && v <= 1.0) {
                return Err(LoadError::BadConfig(format!("the {what} ({v}) is out of range")));
            }
        }
        let norm_eps = g.get_f32(&key(arch, "attention.layer_norm_rms_epsilon"))?;
        if !(norm_eps.is_finite() && (0.0..1.0).contains(&norm_eps)) {
            return Err(bad("the normalisation epsilon is not a small non-negative number"));
        }
        let train_context = m.usize("context_length")?;
        let rope_original_context = m.usize_or("rope.scaling.original_context_length", train_context)?;

        let sliding_window = match fam.sliding_window_pattern {
            Some(_) if m.has("attention.sliding_window") => {
                Some(m.usize("attention.sliding_window")?).filter(|&w| w > 0)
            }
            _ => None,
        };
        let local = match (sliding_window, fam.sliding_window_pattern) {
            (Some(_), Some(pattern)) => local_layers(&m, n_layers.min(1 << 16), pattern)?,
            _ => Vec::new(),
        };
        let attention_scale = match fam.attention_scale {
            AttentionScale::WidthPerHeadAtLayers(n) if n == n_layers => 1.0 / libm::sqrtf((dim / n_heads) as f32),
            _ => 1.0 / libm::sqrtf(head_dim as f32),
        };
        let logit_softcap = match fam.logit_softcapping {
            true => Some(m.f32_or("final_logit_softcapping", 0.0)?).filter(|&c| c != 0.0),
            false => None,
        };
        if logit_softcap.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(bad("the final logit soft-capping value is out of range"));
        }

        let used = RefCell::new(BTreeSet::new());
        let tensor = |name: &str| {
            used.borrow_mut().insert(String::from(name));
            g.tensor(name).ok_or_else(|| LoadError::MissingTensor(name.into()))
        };
        let matrix = |name: &str, cols: usize, rows: usize| -> Result<Matrix<'a>, LoadError> {
            let info = tensor(name)?;
            let found = [info.dims[0], info.elements() / info.dims[0]];
            if found != [cols as u64, rows as u64] {
                return Err(LoadError::BadShape { name: name.into(), expected: [cols as u64, rows as u64], found });
            }
            Matrix::from_info(g, info, kernels)
        };
        let vector = |name: &str, len: usize| -> Result<Vec<f32>, LoadError> {
            let info = tensor(name)?;
            if info.elements() != len as u64 {
                return Err(LoadError::BadShape {
                    name: name.into(),
                    expected: [len as u64, 1],
                    found: [info.elements(), 1],
                });
            }
            let mut v = vec![0.0; len];
            dequantize_row(info.ty, g.tensor_data(info), &mut v)
                .map_err(|_| LoadError::UnsupportedTensorType { name: name.into(), ty: info.ty })?;
            Ok(v)
        };
        let optional = |name: &str, len: usize| match g.tensor(name) {
            Some(_) => vector(name, len).map(Some),
            None => Ok(None),
        };

        let embd_info = tensor("token_embd.weight")?;
        let vocab = (embd_info.elements() / embd_info.dims[0]) as usize;
        let token_embd = matrix("token_embd.weight", dim, vocab)?;
        let mut layers = Vec::with_capacity(n_layers.min(1024));
        for i in 0..n_layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            let bias = |s: &str| format!("blk.{i}.{s}.bias");
            let qkv = match g.tensor(&n("attn_qkv")) {
                Some(_) => Qkv::Fused(matrix(&n("attn_qkv"), dim, qkv_dim)?),
                None => Qkv::Separate {
                    q: matrix(&n("attn_q"), dim, q_dim)?,
                    k: matrix(&n("attn_k"), dim, kv_dim)?,
                    v: matrix(&n("attn_v"), dim, kv_dim)?,
                },
            };
            let qkv_bias = match optional(&bias("attn_qkv"), qkv_dim)? {
                Some(b) => Some(b),
                None => match (
                    optional(&bias("attn_q"), q_dim)?,
                    optional(&bias("attn_k"), kv_dim)?,
                    optional(&bias("attn_v"), kv_dim)?,
                ) {
                    (Some(q), Some(k), Some(v)) => Some([q, k, v].concat()),
                    (None, None, None) => None,
                    _ => return Err(bad("some but not all of the Q/K/V biases are present")),
                },
            };
            let (q_norm, k_norm) = match fam.qk_norm {
                true => (Some(vector(&n("attn_q_norm"), head_dim)?), Some(vector(&n("attn_k_norm"), head_dim)?)),
                false => (None, None),
            };
            let (attn_post_norm, ffn_post_norm) = match fam.post_norms {
                true => (Some(vector(&n("post_attention_norm"), dim)?), Some(vector(&n("post_ffw_norm"), dim)?)),
                false => (None, None),
            };
            let gate_up = match fam.fused_gate_up {
                true => Fused(matrix(&n("ffn_up"), dim, checked_mul(ffn_dim, 2, "feed_forward_length")?)?),
                false => GateUp::Separate {
                    gate: matrix(&n("ffn_gate"), dim, ffn_dim)?,
                    up: matrix(&n("ffn_up"), dim, ffn_dim)?,
                },
            };
            use GateUp::Fused;
            layers.push(Layer {
                attn_norm: vector(&n("attn_norm"), dim)?,
                qkv,
                qkv_bias,
                q_norm,
                k_norm,
                wo: matrix(&n("attn_output"), q_dim, dim)?,
                attn_post_norm,
                ffn_norm: vector(&n("ffn_norm"), dim)?,
                gate_up,
                w_down: matrix(&n("ffn_down"), ffn_dim, dim)?,
                ffn_post_norm,
                local: local.get(i).copied().unwrap_or(false),
            });
        }
        let output_norm = vector("output_norm.weight", dim)?;
        // Tied embeddings: without `output.weight` the embedding doubles as the output projection.
        let output = match g.tensor("output.weight") {
            Some(_) => matrix("output.weight", dim, vocab)?,
            None => token_embd,
        };

        // Per-dimension frequency factors: Llama 3 always, Phi-3 by context length.
        let pairs = rope_dims / 2;
        let rope_factors = optional("rope_freqs.weight", pairs)?;
        let (short, long) = match fam.long_short_rope_factors {
            true => (optional("rope_factors_short.weight", pairs)?, optional("rope_factors_long.weight", pairs)?),
            false => (None, None),
        };
        if rope_factors.is_some() && short.is_some() {
            return Err(bad("the file has both fixed and short/long RoPE factors"));
        }
        if let Some(f) =
            [&rope_factors, &short, &long].into_iter().flatten().flatten().find(|f| !(f.is_finite() && **f > 0.0))
        {
            return Err(LoadError::BadConfig(format!("a RoPE frequency factor ({f}) is out of range")));
        }

        // Every tensor of the file must have been read: one the engine skipped would change the
        // model's answers without a word.
        let used = used.into_inner();
        if let Some(extra) = g.tensors().iter().find(|t| !used.contains(t.name)) {
            return Err(LoadError::UnexpectedTensor { name: extra.name.into(), family: fam.name });
        }

        let config = Config {
            family: fam,
            n_layers,
            dim,
            ffn_dim,
            n_heads,
            n_kv_heads,
            head_dim,
            rope_dims,
            rope_base,
            rope_linear_scale,
            rope_base_local,
            rope_attn_factor,
            rope_original_context,
            norm_eps,
            train_context,
            vocab,
            sliding_window,
            attention_scale,
            logit_softcap,
        };
        let mut model = Self {
            config,
            kernels,
            token_embd,
            layers,
            output_norm,
            output,
            rope_factors: rope_factors.or(short),
            rope_factors_long: long,
            inv_freq: [Vec::new(), Vec::new()],
            precision: Precision::Quantized,
        };
        model.set_context(train_context.min(rope_original_context));
        Ok(model)
    }

    /// Prepares RoPE for a KV cache of `context` positions (Phi-3's long factors apply beyond
    /// the original context). [`crate::Engine::load`] calls it with the context it allocates.
    pub fn set_context(&mut self, context: usize) {
        let c = &self.config;
        let factors = match &self.rope_factors_long {
            Some(long) if context > c.rope_original_context => Some(long),
            _ => self.rope_factors.as_ref(),
        };
        let table = |base: f32, scale: f32, factors: Option<&Vec<f32>>| -> Vec<f64> {
            (0..c.rope_dims / 2)
                .map(|i| {
                    let f = 1.0 / libm::pow(f64::from(base), (2 * i) as f64 / c.rope_dims as f64);
                    let factor = factors.map_or(1.0, |v| f64::from(v[i]));
                    f / factor / f64::from(scale)
                })
                .collect()
        };
        // Local layers use their own base, no scaling, and no per-dimension factors.
        self.inv_freq = [table(c.rope_base, c.rope_linear_scale, factors), table(c.rope_base_local, 1.0, None)];
    }

    /// The kernels in use.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Every weight matrix of layer `l` (for checks and byte counts).
    fn layer_matrices(&self, l: usize) -> Vec<&Matrix<'a>> {
        let layer = &self.layers[l];
        let mut out = Vec::with_capacity(7);
        match &layer.qkv {
            Qkv::Separate { q, k, v } => out.extend([q, k, v]),
            Qkv::Fused(m) => out.push(m),
        }
        out.push(&layer.wo);
        match &layer.gate_up {
            GateUp::Separate { gate, up } => out.extend([gate, up]),
            GateUp::Fused(m) => out.push(m),
        }
        out.push(&layer.w_down);
        out
    }

    /// Checks the kernels in use against the portable ones on this model's own weights: the
    /// first rows of every matrix of the first layer and of the output, times fixed
    /// pseudo-random activations, one token and a batch of four. `false` means a SIMD path
    /// computes something else (a CPU or compiler problem, or an untested instruction-set path);
    /// [`crate::Engine::load`] then falls back to the portable kernels.
    pub fn kernels_agree_with_portable(&self) -> bool {
        if self.layers.is_empty() {
            return true;
        }
        let mut mats = self.layer_matrices(0);
        mats.push(&self.output);
        mats.iter().all(|m| matrix_agrees(m, self.kernels))
    }

    /// Bytes of weights read per generated token (every matrix once, plus the norms).
    pub fn weight_bytes_per_token(&self) -> usize {
        let layers: usize =
            (0..self.layers.len()).map(|l| self.layer_matrices(l).iter().map(|m| m.data.len()).sum::<usize>()).sum();
        // One embedding row is read per token; the output projection in full.
        layers + self.output.data.len() + self.token_embd.data.len() / self.config.vocab
    }
}

/// One matrix's check for [`Model::kernels_agree_with_portable`].
fn matrix_agrees(m: &Matrix<'_>, kernels: Kernels) -> bool {
    const B: usize = 4;
    let rows = m.rows.min(8);
    let n = m.cols;
    // A fixed xorshift sequence mapped to [-1, 1): the same activations on every machine.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let x: Vec<f32> = (0..B * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let sub = Matrix { rows, data: &m.data[..rows * m.row_bytes], ..*m };
    let portable = crate::tensor::scalar_dot(m.ty);
    let mut want = vec![0.0f32; B * rows];
    let mut got = vec![0.0f32; B * rows];
    let mut acts = forward::ActBatch::default();
    for b in [1, B] {
        acts.reset(n, b);
        forward::matmul(&sub, &x, &mut acts, &mut got, Precision::Quantized, kernels, &crate::pool::SingleThread);
        // The portable reference on the portable quantisation of the same activations.
        for t in 0..b {
            let xt = &x[t * n..(t + 1) * n];
            for r in 0..rows {
                want[t * rows + r] = match portable {
                    Some(DotFn::F32(f)) => f(sub.row(r), xt),
                    Some(DotFn::Q8(f)) => {
                        let mut q = vec![BlockQ8::default(); n / QK];
                        crate::tensor::quant::quantize_q8(xt, &mut q);
                        f(sub.row(r), &q)
                    }
                    Some(DotFn::Q8K(f)) => {
                        let mut q = vec![BlockQ8K::default(); n / QK_K];
                        quantize_q8k(xt, &mut q);
                        f(sub.row(r), &q)
                    }
                    None => return false,
                };
            }
        }
        let mut row = vec![0.0f32; n];
        for r in 0..rows {
            sub.dequantize_row(r, &mut row);
            for t in 0..b {
                // Agreement up to float summation order: relative to Σ|w·x|.
                let mag: f32 = row.iter().zip(&x[t * n..(t + 1) * n]).map(|(w, x)| (w * x).abs()).sum();
                if (got[t * rows + r] - want[t * rows + r]).abs() > 1e-4 * mag + 1e-6 {
                    return false;
                }
            }
        }
    }
    true
}
