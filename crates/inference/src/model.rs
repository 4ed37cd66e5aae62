//! A llama-family transformer read from GGUF: configuration, zero-copy weights, and the batched
//! forward pass with its KV cache.
//!
//! Shapes follow ggml: a weight matrix of GGUF shape `[cols, rows]` is `rows` contiguous rows of
//! `cols` encoded values; `y = W x` is one dot product per row. Q and K were permuted by the
//! GGUF converter so that RoPE rotates *adjacent* pairs `(2i, 2i+1)` of each head.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::gguf::{Gguf, GgufError, TensorInfo};
use crate::tensor::quant::{BlockQ8, BlockQ8K, QK, QK_K, quantize_q8k};
use crate::tensor::{ActFormat, DotFn, Kernels, MatmulFn, MatmulKFn, TensorType, dequantize_row};

/// Why a model could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file is not a valid GGUF file.
    Gguf(GgufError),
    /// `general.architecture` names a model family this engine does not run.
    UnsupportedArchitecture(String),
    /// A tensor the architecture needs is missing.
    MissingTensor(String),
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
                write!(f, "model architecture \"{a}\" is not supported (only llama-family models are)")
            }
            Self::MissingTensor(n) => write!(f, "model file has no tensor \"{n}\""),
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
    /// RoPE base frequency (theta).
    pub rope_base: f32,
    /// Linear RoPE scaling factor (positions are divided by it); 1 when absent.
    pub rope_linear_scale: f32,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// Context length the model was trained for.
    pub train_context: usize,
    /// Vocabulary size (rows of the embedding).
    pub vocab: usize,
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
            row_bytes: info.ty.row_bytes(info.row_len()),
        })
    }

    /// The encoded bytes of row `r`.
    pub fn row(&self, r: usize) -> &'a [u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Dequantises row `r` into `out` (`cols` long).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        // Type and size were validated at load; a failure here cannot happen for a loaded matrix.
        let _ = dequantize_row(self.ty, self.row(r), out);
    }
}

/// One transformer block's weights.
#[derive(Debug)]
struct Layer<'a> {
    attn_norm: Vec<f32>,
    wq: Matrix<'a>,
    wk: Matrix<'a>,
    wv: Matrix<'a>,
    wo: Matrix<'a>,
    ffn_norm: Vec<f32>,
    w_gate: Matrix<'a>,
    w_up: Matrix<'a>,
    w_down: Matrix<'a>,
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
    /// Per rotated pair: the inverse frequency (already divided by the linear scale and any
    /// per-dimension factors).
    inv_freq: Vec<f64>,
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

/// The product of `factors`, or the out-of-memory error for a buffer that cannot exist.
fn buffer_len(factors: &[usize]) -> Result<usize, LoadError> {
    factors.iter().try_fold(1usize, |acc, &f| acc.checked_mul(f)).ok_or(LoadError::OutOfMemory { bytes: usize::MAX })
}

impl<'a> Model<'a> {
    /// Reads the configuration and maps the weights of a llama-family GGUF model.
    pub fn load(g: &Gguf<'a>, kernels: Kernels) -> Result<Self, LoadError> {
        let arch = g.get_str("general.architecture")?;
        // Only llama: other families differ in details (biases, norms, RoPE layout) not implemented here.
        if !matches!(arch, "llama") {
            return Err(LoadError::UnsupportedArchitecture(arch.into()));
        }
        let n_layers = g.get_usize(&key(arch, "block_count"))?;
        let dim = g.get_usize(&key(arch, "embedding_length"))?;
        let ffn_dim = g.get_usize(&key(arch, "feed_forward_length"))?;
        let n_heads = g.get_usize(&key(arch, "attention.head_count"))?;
        let n_kv_heads = match g.metadata(&key(arch, "attention.head_count_kv")) {
            Some(_) => g.get_usize(&key(arch, "attention.head_count_kv"))?,
            None => n_heads,
        };
        let bad = |s: &str| LoadError::BadConfig(s.into());
        if n_layers == 0 || dim == 0 || ffn_dim == 0 || n_heads == 0 || n_kv_heads == 0 {
            return Err(bad("a dimension or count is zero"));
        }
        if n_heads % n_kv_heads != 0 {
            return Err(bad("the head count is not a multiple of the key/value head count"));
        }
        let head_dim = match g.metadata(&key(arch, "attention.key_length")) {
            Some(_) => g.get_usize(&key(arch, "attention.key_length"))?,
            None if dim % n_heads == 0 => dim / n_heads,
            None => return Err(bad("the width is not a multiple of the head count")),
        };
        if g.metadata(&key(arch, "attention.value_length")).is_some()
            && g.get_usize(&key(arch, "attention.value_length"))? != head_dim
        {
            return Err(bad("the value head width differs from the key head width"));
        }
        // Every size derived from the metadata is computed with checked arithmetic: a crafted
        // file must be refused with a sentence, never overflow.
        let q_dim = checked_mul(n_heads, head_dim, "attention.head_count × attention.key_length")?;
        let kv_dim = checked_mul(n_kv_heads, head_dim, "attention.head_count_kv × attention.key_length")?;
        let rope_dims = match g.metadata(&key(arch, "rope.dimension_count")) {
            Some(_) => g.get_usize(&key(arch, "rope.dimension_count"))?,
            None => head_dim,
        };
        if head_dim == 0 || head_dim % 2 != 0 || rope_dims % 2 != 0 || rope_dims > head_dim {
            return Err(bad("the head or rotary width is odd or too large"));
        }
        let rope_base = match g.metadata(&key(arch, "rope.freq_base")) {
            Some(_) => g.get_f32(&key(arch, "rope.freq_base"))?,
            None => 10000.0,
        };
        let rope_linear_scale = match g.metadata(&key(arch, "rope.scaling.type")) {
            None => match g.metadata(&key(arch, "rope.scale_linear")) {
                Some(_) => g.get_f32(&key(arch, "rope.scale_linear"))?,
                None => 1.0,
            },
            Some(_) => match g.get_str(&key(arch, "rope.scaling.type"))? {
                "none" => 1.0,
                "linear" => g.get_f32(&key(arch, "rope.scaling.factor"))?,
                other => return Err(LoadError::BadConfig(format!("RoPE scaling \"{other}\" is not supported"))),
            },
        };
        if !(rope_linear_scale > 0.0 && rope_base > 1.0) {
            return Err(bad("the RoPE base or scale is out of range"));
        }
        if !(rope_base.is_finite() && rope_linear_scale.is_finite()) {
            return Err(bad("the RoPE base or scale is out of range"));
        }
        let norm_eps = g.get_f32(&key(arch, "attention.layer_norm_rms_epsilon"))?;
        if !(norm_eps.is_finite() && (0.0..1.0).contains(&norm_eps)) {
            return Err(bad("the normalisation epsilon is not a small non-negative number"));
        }
        let train_context = g.get_usize(&key(arch, "context_length"))?;

        let tensor = |name: &str| g.tensor(name).ok_or_else(|| LoadError::MissingTensor(name.into()));
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

        let embd_info = tensor("token_embd.weight")?;
        let vocab = (embd_info.elements() / embd_info.dims[0]) as usize;
        let token_embd = matrix("token_embd.weight", dim, vocab)?;
        let mut layers = Vec::with_capacity(n_layers.min(1024));
        for i in 0..n_layers {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            layers.push(Layer {
                attn_norm: vector(&n("attn_norm"), dim)?,
                wq: matrix(&n("attn_q"), dim, q_dim)?,
                wk: matrix(&n("attn_k"), dim, kv_dim)?,
                wv: matrix(&n("attn_v"), dim, kv_dim)?,
                wo: matrix(&n("attn_output"), q_dim, dim)?,
                ffn_norm: vector(&n("ffn_norm"), dim)?,
                w_gate: matrix(&n("ffn_gate"), dim, ffn_dim)?,
                w_up: matrix(&n("ffn_up"), dim, ffn_dim)?,
                w_down: matrix(&n("ffn_down"), ffn_dim, dim)?,
            });
        }
        let output_norm = vector("output_norm.weight", dim)?;
        // Tied embeddings: without `output.weight` the embedding doubles as the output projection.
        let output = match g.tensor("output.weight") {
            Some(_) => matrix("output.weight", dim, vocab)?,
            None => token_embd,
        };

        // Llama-3-style per-dimension frequency factors, when the file has them.
        let factors = match g.tensor("rope_freqs.weight") {
            Some(_) => Some(vector("rope_freqs.weight", rope_dims / 2)?),
            None => None,
        };
        let inv_freq = (0..rope_dims / 2)
            .map(|i| {
                let base = 1.0 / libm::pow(f64::from(rope_base), (2 * i) as f64 / rope_dims as f64);
                let factor = factors.as_ref().map_or(1.0, |f| f64::from(f[i]));
                base / factor / f64::from(rope_linear_scale)
            })
            .collect();

        let config = Config {
            n_layers,
            dim,
            ffn_dim,
            n_heads,
            n_kv_heads,
            head_dim,
            rope_dims,
            rope_base,
            rope_linear_scale,
            norm_eps,
            train_context,
            vocab,
        };
        Ok(Self { config, kernels, token_embd, layers, output_norm, output, inv_freq, precision: Precision::Quantized })
    }

    /// The kernels in use.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Checks the kernels in use against the portable ones on this model's own weights: the
    /// first rows of every matrix of the first layer and of the output, times fixed
    /// pseudo-random activations, one token and a batch of four. `false` means a SIMD path
    /// computes something else (a CPU or compiler problem, or an untested instruction-set path);
    /// [`crate::Engine::load`] then falls back to the portable kernels.
    pub fn kernels_agree_with_portable(&self) -> bool {
        let Some(first) = self.layers.first() else { return true };
        let mats =
            [&first.wq, &first.wk, &first.wv, &first.wo, &first.w_gate, &first.w_up, &first.w_down, &self.output];
        mats.iter().all(|m| matrix_agrees(m, self.kernels))
    }

    /// Bytes of weights read per generated token (every matrix once, plus the norms).
    pub fn weight_bytes_per_token(&self) -> usize {
        let m = |m: &Matrix<'_>| m.data.len();
        let layers: usize = self
            .layers
            .iter()
            .map(|l| m(&l.wq) + m(&l.wk) + m(&l.wv) + m(&l.wo) + m(&l.w_gate) + m(&l.w_up) + m(&l.w_down))
            .sum();
        // One embedding row is read per token; the output projection in full.
        layers + m(&self.output) + self.token_embd.data.len() / self.config.vocab
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
    let mut acts = ActBatch::default();
    for b in [1, B] {
        acts.reset(n, b);
        matmul(&sub, &x, &mut acts, &mut got, Precision::Quantized, kernels);
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

/// Activations of a batch quantised for whichever formats the next matrices need.
#[derive(Debug, Default)]
struct ActBatch {
    n: usize,
    b: usize,
    q8: Vec<BlockQ8>,
    q8k: Vec<BlockQ8K>,
    have_q8: bool,
    have_q8k: bool,
}

impl ActBatch {
    fn reset(&mut self, n: usize, b: usize) {
        self.n = n;
        self.b = b;
        self.have_q8 = false;
        self.have_q8k = false;
    }

    /// Makes sure the activations `x` (b rows of n) exist in `format`.
    fn prepare(&mut self, x: &[f32], format: ActFormat, kernels: Kernels) {
        match format {
            ActFormat::F32 => {}
            ActFormat::Q8 if !self.have_q8 => {
                self.q8.resize(self.b * self.n / QK, BlockQ8::default());
                kernels.quantize_q8(&x[..self.b * self.n], &mut self.q8);
                self.have_q8 = true;
            }
            ActFormat::Q8K if !self.have_q8k => {
                self.q8k.resize(self.b * self.n / QK_K, BlockQ8K::default());
                quantize_q8k(&x[..self.b * self.n], &mut self.q8k);
                self.have_q8k = true;
            }
            _ => {}
        }
    }
}

/// How matrix products treat the activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Activations quantised to 8 bits per block and multiplied with the quantised weights in
    /// integer arithmetic, as llama.cpp does (fast; what the engine normally runs).
    #[default]
    Quantized,
    /// Weights dequantised row by row and multiplied with f32 activations (several times slower;
    /// used to check the forward pass itself against a float reference).
    Float,
}

/// `out[t][r] = W[r] · x[t]` for the `b` activation rows in `acts` (from `x`).
fn matmul(w: &Matrix<'_>, x: &[f32], acts: &mut ActBatch, out: &mut [f32], precision: Precision, kernels: Kernels) {
    let (n, b) = (acts.n, acts.b);
    debug_assert_eq!(n, w.cols);
    if precision == Precision::Float {
        let mut row = vec![0.0f32; n];
        for r in 0..w.rows {
            w.dequantize_row(r, &mut row);
            for t in 0..b {
                out[t * w.rows + r] = row.iter().zip(&x[t * n..(t + 1) * n]).map(|(a, b)| a * b).sum();
            }
        }
        return;
    }
    match w.dot {
        DotFn::F32(f) => {
            for r in 0..w.rows {
                let row = w.row(r);
                for t in 0..b {
                    out[t * w.rows + r] = f(row, &x[t * n..(t + 1) * n]);
                }
            }
        }
        DotFn::Q8(f) => {
            acts.prepare(x, ActFormat::Q8, kernels);
            let per = n / QK;
            let q8 = &acts.q8[..b * per];
            if let Some(m) = w.matmul {
                m(w.data, w.rows, q8, b, out);
                return;
            }
            for r in 0..w.rows {
                let row = w.row(r);
                for t in 0..b {
                    out[t * w.rows + r] = f(row, &q8[t * per..(t + 1) * per]);
                }
            }
        }
        DotFn::Q8K(f) => {
            acts.prepare(x, ActFormat::Q8K, kernels);
            let per = n / QK_K;
            if let Some(m) = w.matmul_k {
                m(w.data, w.rows, &acts.q8k[..b * per], b, out);
                return;
            }
            for r in 0..w.rows {
                let row = w.row(r);
                for t in 0..b {
                    out[t * w.rows + r] = f(row, &acts.q8k[t * per..(t + 1) * per]);
                }
            }
        }
    }
}

fn rmsnorm(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    let ss: f32 = crate::tensor::scalar::f32_dot(x, x) / x.len() as f32;
    let scale = 1.0 / libm::sqrtf(ss + eps);
    for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
        *o = v * scale * w;
    }
}

/// e^x, to about 2 ulp, in plain arithmetic the compiler can vectorise.
///
/// Hand-written instead of `libm::expf`: the softmax and SiLU call it ~60 000 times per token
/// and the libm call (one at a time, with its special-case branches) was 7.6 % of prompt time.
/// Range reduction x = k·ln2 + r (|r| ≤ ln2/2), then a degree-7 Taylor polynomial for e^r
/// (truncation error < 2e-8 relative) scaled by 2^k built in the exponent bits.
fn exp(x: f32) -> f32 {
    // Below -87 the result is denormal or 0 (0 is what the callers need); above 88 it overflows.
    let x = x.clamp(-87.0, 88.0);
    let k = (x * core::f32::consts::LOG2_E + 0.5f32.copysign(x)) as i32;
    let kf = k as f32;
    // ln 2 split in two so k·ln2 is subtracted without rounding error.
    let r = x - kf * 0.693_145_75 - kf * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((k + 127) as u32) << 23)
}

/// Σ x with eight independent partial sums (vectorisable).
fn sum_f32(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// The mutable state of a forward pass: KV cache and work buffers, sized once.
#[derive(Debug)]
pub struct State {
    /// Positions the KV cache holds.
    pub context: usize,
    /// Largest batch `forward` accepts.
    pub max_batch: usize,
    /// `[layer][pos][kv_dim]`
    k_cache: Vec<f32>,
    v_cache: Vec<f32>,
    x: Vec<f32>,
    xb: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att_out: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    rope: Vec<(f32, f32)>,
    acts: ActBatch,
    /// Logits of the last token of the last batch.
    pub logits: Vec<f32>,
}

fn try_vec(len: usize) -> Result<Vec<f32>, LoadError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| LoadError::OutOfMemory { bytes: len.saturating_mul(4) })?;
    v.resize(len, 0.0);
    Ok(v)
}

impl State {
    /// Allocates the KV cache for `context` positions and buffers for batches of `max_batch`.
    pub fn new(config: &Config, context: usize, max_batch: usize) -> Result<Self, LoadError> {
        let c = config;
        let kv_dim = buffer_len(&[c.n_kv_heads, c.head_dim])?;
        let q_dim = buffer_len(&[c.n_heads, c.head_dim])?;
        let cache = buffer_len(&[c.n_layers, context, kv_dim])?;
        let b = max_batch.max(1);
        let batch = |n: usize| try_vec(buffer_len(&[b, n])?);
        Ok(Self {
            context,
            max_batch: b,
            k_cache: try_vec(cache)?,
            v_cache: try_vec(cache)?,
            x: batch(c.dim)?,
            xb: batch(c.dim.max(q_dim).max(c.ffn_dim))?,
            q: batch(q_dim)?,
            k: batch(kv_dim)?,
            v: batch(kv_dim)?,
            att_out: batch(q_dim.max(c.dim))?,
            gate: batch(c.ffn_dim)?,
            up: batch(c.ffn_dim)?,
            scores: try_vec(context)?,
            rope: Vec::new(),
            acts: ActBatch::default(),
            logits: try_vec(c.vocab)?,
        })
    }
}

impl Model<'_> {
    /// Runs `tokens` (at most `state.max_batch`) at positions `pos..pos + len` and leaves the
    /// logits of the last one in `state.logits`. The caller keeps `pos + len ≤ state.context`
    /// and every token below the vocabulary size.
    pub fn forward(&self, state: &mut State, tokens: &[u32], pos: usize) {
        let c = &self.config;
        let b = tokens.len();
        let (dim, hd) = (c.dim, c.head_dim);
        let kv_dim = c.n_kv_heads * hd;
        let q_dim = c.n_heads * hd;
        let group = c.n_heads / c.n_kv_heads;
        let s = state;

        for (t, &tok) in tokens.iter().enumerate() {
            self.token_embd.dequantize_row(tok as usize, &mut s.x[t * dim..(t + 1) * dim]);
        }
        // cos/sin per (token, rotated pair), shared by every layer and head.
        let pairs = c.rope_dims / 2;
        s.rope.clear();
        for t in 0..b {
            let p = (pos + t) as f64;
            s.rope.extend(self.inv_freq.iter().map(|&f| {
                let a = p * f;
                (libm::cos(a) as f32, libm::sin(a) as f32)
            }));
        }
        let scale = 1.0 / libm::sqrtf(hd as f32);

        for (l, layer) in self.layers.iter().enumerate() {
            // Attention.
            for t in 0..b {
                rmsnorm(&mut s.xb[t * dim..(t + 1) * dim], &s.x[t * dim..(t + 1) * dim], &layer.attn_norm, c.norm_eps);
            }
            s.acts.reset(dim, b);
            matmul(&layer.wq, &s.xb, &mut s.acts, &mut s.q, self.precision, self.kernels);
            matmul(&layer.wk, &s.xb, &mut s.acts, &mut s.k, self.precision, self.kernels);
            matmul(&layer.wv, &s.xb, &mut s.acts, &mut s.v, self.precision, self.kernels);
            for t in 0..b {
                let cs = &s.rope[t * pairs..(t + 1) * pairs];
                let rotate = |v: &mut [f32]| {
                    for head in v.chunks_exact_mut(hd) {
                        for (i, &(cos, sin)) in cs.iter().enumerate() {
                            let (a, bb) = (head[2 * i], head[2 * i + 1]);
                            head[2 * i] = a * cos - bb * sin;
                            head[2 * i + 1] = a * sin + bb * cos;
                        }
                    }
                };
                rotate(&mut s.q[t * q_dim..(t + 1) * q_dim]);
                rotate(&mut s.k[t * kv_dim..(t + 1) * kv_dim]);
                let at = (l * s.context + pos + t) * kv_dim;
                s.k_cache[at..at + kv_dim].copy_from_slice(&s.k[t * kv_dim..(t + 1) * kv_dim]);
                s.v_cache[at..at + kv_dim].copy_from_slice(&s.v[t * kv_dim..(t + 1) * kv_dim]);
            }
            let layer_k = &s.k_cache[l * s.context * kv_dim..(l + 1) * s.context * kv_dim];
            let layer_v = &s.v_cache[l * s.context * kv_dim..(l + 1) * s.context * kv_dim];
            for t in 0..b {
                let n_pos = pos + t + 1;
                for h in 0..c.n_heads {
                    let kvh = h / group;
                    let q = &s.q[t * q_dim + h * hd..t * q_dim + (h + 1) * hd];
                    let scores = &mut s.scores[..n_pos];
                    for (p, sc) in scores.iter_mut().enumerate() {
                        let k = &layer_k[p * kv_dim + kvh * hd..p * kv_dim + (kvh + 1) * hd];
                        *sc = self.kernels.dot_f32(q, k) * scale;
                    }
                    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    // Separate loops so the exponentials vectorise (a running sum would chain them).
                    for sc in scores.iter_mut() {
                        *sc = exp(*sc - max);
                    }
                    let sum = sum_f32(scores);
                    let out = &mut s.att_out[t * q_dim + h * hd..t * q_dim + (h + 1) * hd];
                    out.fill(0.0);
                    for (p, &w) in scores.iter().enumerate() {
                        let v = &layer_v[p * kv_dim + kvh * hd..p * kv_dim + (kvh + 1) * hd];
                        self.kernels.axpy_f32(out, w / sum, v);
                    }
                }
            }
            s.acts.reset(q_dim, b);
            matmul(&layer.wo, &s.att_out, &mut s.acts, &mut s.xb, self.precision, self.kernels);
            for (x, d) in s.x[..b * dim].iter_mut().zip(&s.xb[..b * dim]) {
                *x += d;
            }

            // Feed-forward (SwiGLU).
            for t in 0..b {
                rmsnorm(&mut s.xb[t * dim..(t + 1) * dim], &s.x[t * dim..(t + 1) * dim], &layer.ffn_norm, c.norm_eps);
            }
            s.acts.reset(dim, b);
            matmul(&layer.w_gate, &s.xb, &mut s.acts, &mut s.gate, self.precision, self.kernels);
            matmul(&layer.w_up, &s.xb, &mut s.acts, &mut s.up, self.precision, self.kernels);
            for (g, &u) in s.gate[..b * c.ffn_dim].iter_mut().zip(&s.up[..b * c.ffn_dim]) {
                *g = silu(*g) * u;
            }
            s.acts.reset(c.ffn_dim, b);
            matmul(&layer.w_down, &s.gate, &mut s.acts, &mut s.xb, self.precision, self.kernels);
            for (x, d) in s.x[..b * dim].iter_mut().zip(&s.xb[..b * dim]) {
                *x += d;
            }
        }

        // Only the last token's logits are needed.
        let last = &s.x[(b - 1) * dim..b * dim];
        rmsnorm(&mut s.xb[..dim], last, &self.output_norm, c.norm_eps);
        s.acts.reset(dim, 1);
        matmul(&self.output, &s.xb[..dim], &mut s.acts, &mut s.logits, self.precision, self.kernels);
    }
}

#[cfg(test)]
mod tests {
    use super::exp;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = libm::exp(f64::from(x));
            let rel = ((f64::from(exp(x)) - want) / want).abs();
            worst = worst.max(rel);
            x += 0.001_7;
        }
        assert!(worst < 5e-7, "worst relative error {worst:e}");
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert!(exp(-87.0) < 1e-37 && exp(0.0) == 1.0);
    }
}
