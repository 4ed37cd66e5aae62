//! Tensor element encodings (ggml types): block layouts, dequantisation, quantisation and
//! fused quantised dot products, with the SIMD implementation chosen at run time.

pub mod quant;
pub(crate) mod scalar;

use core::fmt;

use quant::{BlockQ8, BlockQ8K};

pub use crate::simd::{Isa, Packed, PackedPart, detect_isa};

/// A ggml tensor element encoding. Values are the ggml type ids stored in GGUF files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TensorType {
    /// 32-bit float.
    F32 = 0,
    /// IEEE half.
    F16 = 1,
    /// 32 weights: f16 scale + 16 bytes of 4-bit values (offset 8).
    Q4_0 = 2,
    /// 32 weights: f16 scale + f16 minimum + 16 bytes of 4-bit values.
    Q4_1 = 3,
    /// 32 weights: f16 scale + 32 high bits + 16 bytes of low nibbles (offset 16).
    Q5_0 = 6,
    /// 32 weights: f16 scale + f16 minimum + 32 high bits + 16 bytes of low nibbles.
    Q5_1 = 7,
    /// 32 weights: f16 scale + 32 signed bytes.
    Q8_0 = 8,
    /// 32 weights: f16 scale + f16 (scale × sum) + 32 signed bytes.
    Q8_1 = 9,
    /// 256-weight super-block of 2-bit values (read for completeness, not computed with).
    Q2K = 10,
    /// 256-weight super-block of 3-bit values (read for completeness, not computed with).
    Q3K = 11,
    /// 256 weights: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks, 128 bytes of nibbles.
    Q4K = 12,
    /// 256 weights: like Q4_K plus 32 bytes of fifth bits.
    Q5K = 13,
    /// 256 weights: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 i8 scales, f16 d.
    Q6K = 14,
    /// 256 weights: f32 d, 256 i8, 16 i16 group sums (activation format).
    Q8K = 15,
    /// 8-bit integers.
    I8 = 24,
    /// 16-bit integers.
    I16 = 25,
    /// 32-bit integers.
    I32 = 26,
    /// 64-bit integers.
    I64 = 27,
    /// 64-bit float.
    F64 = 28,
    /// bfloat16.
    BF16 = 30,
}

impl TensorType {
    /// The type for a ggml type id, if this crate knows its layout.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2K,
            11 => Self::Q3K,
            12 => Self::Q4K,
            13 => Self::Q5K,
            14 => Self::Q6K,
            15 => Self::Q8K,
            24 => Self::I8,
            25 => Self::I16,
            26 => Self::I32,
            27 => Self::I64,
            28 => Self::F64,
            30 => Self::BF16,
            _ => return None,
        })
    }

    /// Elements per block.
    pub fn block_elems(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 | Self::I8 | Self::I16 | Self::I32 | Self::I64 | Self::F64 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 | Self::Q8_1 => 32,
            Self::Q2K | Self::Q3K | Self::Q4K | Self::Q5K | Self::Q6K | Self::Q8K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::F32 | Self::I32 => 4,
            Self::I64 | Self::F64 => 8,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2K => 84,
            Self::Q3K => 110,
            Self::Q4K => 144,
            Self::Q5K => 176,
            Self::Q6K => 210,
            Self::Q8K => 292,
        }
    }

    /// The name ggml uses (`q4_1`, `f32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q4_0 => "q4_0",
            Self::Q4_1 => "q4_1",
            Self::Q5_0 => "q5_0",
            Self::Q5_1 => "q5_1",
            Self::Q8_0 => "q8_0",
            Self::Q8_1 => "q8_1",
            Self::Q2K => "q2_K",
            Self::Q3K => "q3_K",
            Self::Q4K => "q4_K",
            Self::Q5K => "q5_K",
            Self::Q6K => "q6_K",
            Self::Q8K => "q8_K",
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::F64 => "f64",
            Self::BF16 => "bf16",
        }
    }

    /// Bytes of a row of `n` elements (`n` must be a multiple of the block size).
    pub fn row_bytes(self, n: usize) -> usize {
        n / self.block_elems() * self.block_bytes()
    }
}

/// Why a tensor cannot be used for computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorError {
    /// The type is read by the GGUF reader but this crate has no kernels for it.
    Unsupported(TensorType),
    /// A slice does not have the size the shape and type call for.
    SizeMismatch {
        /// Bytes or elements expected.
        expected: usize,
        /// Bytes or elements given.
        found: usize,
    },
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(t) => write!(f, "tensor type {} is not supported for computation", t.name()),
            Self::SizeMismatch { expected, found } => {
                write!(f, "tensor data has {found} bytes where {expected} were expected")
            }
        }
    }
}

impl core::error::Error for TensorError {}

/// Which quantised form of the activations a weight type is multiplied with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActFormat {
    /// Plain f32 (float weights).
    F32,
    /// [`BlockQ8`] blocks of 32 (32-wide weight blocks).
    Q8,
    /// [`BlockQ8K`] blocks of 256 (K-quants).
    Q8K,
}

impl TensorType {
    /// The activation format this weight type's dot product takes; `None` when it has no kernels.
    pub fn act_format(self) -> Option<ActFormat> {
        Some(match self {
            Self::F32 | Self::F16 | Self::BF16 => ActFormat::F32,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 => ActFormat::Q8,
            Self::Q4K | Self::Q5K | Self::Q6K => ActFormat::Q8K,
            _ => return None,
        })
    }
}

/// Dequantises a row of `out.len()` elements of type `ty` from `src`.
pub fn dequantize_row(ty: TensorType, src: &[u8], out: &mut [f32]) -> Result<(), TensorError> {
    if ty.act_format().is_none() {
        return Err(TensorError::Unsupported(ty));
    }
    if !out.len().is_multiple_of(ty.block_elems()) || src.len() != ty.row_bytes(out.len()) {
        return Err(TensorError::SizeMismatch { expected: ty.row_bytes(out.len()), found: src.len() });
    }
    let f = match ty {
        TensorType::F32 => scalar::dequant_f32,
        TensorType::F16 => scalar::dequant_f16,
        TensorType::BF16 => scalar::dequant_bf16,
        TensorType::Q4_0 => scalar::dequant_q4_0,
        TensorType::Q4_1 => scalar::dequant_q4_1,
        TensorType::Q5_0 => scalar::dequant_q5_0,
        TensorType::Q5_1 => scalar::dequant_q5_1,
        TensorType::Q8_0 => scalar::dequant_q8_0,
        TensorType::Q4K => scalar::dequant_q4_k,
        TensorType::Q5K => scalar::dequant_q5_k,
        TensorType::Q6K => scalar::dequant_q6_k,
        _ => return Err(TensorError::Unsupported(ty)),
    };
    f(src, out);
    Ok(())
}

/// A dot product of one weight row (raw bytes) with activations in the matching format.
#[derive(Debug, Clone, Copy)]
pub enum DotFn {
    /// Float weights × f32 activations.
    F32(fn(&[u8], &[f32]) -> f32),
    /// 32-wide quantised weights × [`BlockQ8`] activations.
    Q8(fn(&[u8], &[BlockQ8]) -> f32),
    /// K-quant weights × [`BlockQ8K`] activations.
    Q8K(fn(&[u8], &[BlockQ8K]) -> f32),
}

/// A whole matrix times a batch of activations quantised to [`BlockQ8`]:
/// `f(w, rows, x, b, out)` sets `out[t][r] = w[r] · x[t]` for the `rows` weight rows back to back
/// in `w` and the `b` activation rows back to back in `x`. `out` holds one slice per token (at
/// least `rows` long): a worker given some rows of a product writes its rows of each token's
/// output in place.
pub type MatmulFn = fn(&[u8], usize, &[BlockQ8], usize, &mut [&mut [f32]]);

/// A whole-matrix kernel that reads its activations in a layout of its own, built once per batch
/// and shared by every row chunk of a split product. The batch's [`Packed::parts`] are packed one
/// by one, possibly by different workers: `pack(x, part)` packs a part from its tokens' activation
/// rows `x`. Then `run(w, rows, x, p, b, out)` does what a [`MatmulFn`] does, reading `p` (built
/// from the same `x`).
#[derive(Debug, Clone, Copy)]
pub struct PackedMatmul {
    /// Packs one part of a batch.
    pub pack: fn(&[BlockQ8], &mut PackedPart<'_>),
    /// The product with a packed batch.
    pub run: PackedRunFn,
}

/// [`PackedMatmul::run`]: `(w, rows, x, packed, b, out)`.
pub type PackedRunFn = fn(&[u8], usize, &[BlockQ8], &Packed, usize, &mut [&mut [f32]]);

/// [`MatmulFn`] for K-quant weights, with activations quantised to [`BlockQ8K`].
pub type MatmulKFn = fn(&[u8], usize, &[BlockQ8K], usize, &mut [&mut [f32]]);

/// The portable dot product for `ty`.
pub fn scalar_dot(ty: TensorType) -> Option<DotFn> {
    Some(match ty {
        TensorType::F32 => DotFn::F32(scalar::dot_f32),
        TensorType::F16 => DotFn::F32(scalar::dot_f16),
        TensorType::BF16 => DotFn::F32(scalar::dot_bf16),
        TensorType::Q4_0 => DotFn::Q8(scalar::dot_q4_0),
        TensorType::Q4_1 => DotFn::Q8(scalar::dot_q4_1),
        TensorType::Q5_0 => DotFn::Q8(scalar::dot_q5_0),
        TensorType::Q5_1 => DotFn::Q8(scalar::dot_q5_1),
        TensorType::Q8_0 => DotFn::Q8(scalar::dot_q8_0),
        TensorType::Q4K => DotFn::Q8K(scalar::dot_q4_k),
        TensorType::Q5K => DotFn::Q8K(scalar::dot_q5_k),
        TensorType::Q6K => DotFn::Q8K(scalar::dot_q6_k),
        _ => return None,
    })
}

/// The kernel set in use: an instruction set this CPU is known to support.
///
/// Only [`Kernels::detect`] and [`Kernels::with_isa`] (which checks) build one, so a SIMD
/// kernel is never handed out on a CPU without its instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
}

impl Kernels {
    /// The best kernels for this CPU (see [`detect_isa`]).
    pub fn detect() -> Self {
        Self { isa: detect_isa() }
    }

    /// Kernels for `isa` if this CPU supports it (the portable path always is).
    pub fn with_isa(isa: Isa) -> Option<Self> {
        detect_isa().supports(isa).then_some(Self { isa })
    }

    /// The instruction set these kernels use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The dot product for weights of type `ty`; `None` for types without kernels.
    pub fn dot(&self, ty: TensorType) -> Option<DotFn> {
        crate::simd::dot(self.isa, ty).or_else(|| scalar_dot(ty))
    }

    /// Quantises activations (a multiple of 32 long) to [`BlockQ8`] blocks; the same result as
    /// [`quant::quantize_q8`], faster.
    pub fn quantize_q8(&self, x: &[f32], out: &mut [BlockQ8]) {
        crate::simd::quantize_q8(self.isa, x, out)
    }

    /// `a · b` for float vectors.
    pub fn dot_f32(&self, a: &[f32], b: &[f32]) -> f32 {
        crate::simd::f32_dot(self.isa, a, b)
    }

    /// `out[i] = q · keys[i·stride..][..q.len()]`: one query against a run of keys `stride`
    /// floats apart (attention scores).
    pub fn dots_f32(&self, q: &[f32], keys: &[f32], stride: usize, out: &mut [f32]) {
        crate::simd::f32_dots(self.isa, q, keys, stride, out)
    }

    /// `out = Σ w[i] · values[i·stride..][..out.len()]` (attention's weighted sum of values).
    pub fn weighted_sum_f32(&self, out: &mut [f32], w: &[f32], values: &[f32], stride: usize) {
        crate::simd::weighted_sum(self.isa, out, w, values, stride)
    }

    /// `y += alpha · x` for float vectors.
    pub fn axpy_f32(&self, y: &mut [f32], alpha: f32, x: &[f32]) {
        crate::simd::f32_axpy(self.isa, y, alpha, x)
    }

    /// A whole-matrix kernel for the K-quant type `ty`, where this instruction set has one.
    pub fn matmul_k(&self, ty: TensorType) -> Option<MatmulKFn> {
        crate::simd::matmul_k(self.isa, ty)
    }

    /// A whole-matrix kernel for `ty` reading activations packed once per batch, where this
    /// instruction set has one (preferred to [`Kernels::matmul`] for batches).
    pub fn packed_matmul(&self, ty: TensorType) -> Option<PackedMatmul> {
        crate::simd::packed_matmul(self.isa, ty)
    }

    /// A whole-matrix kernel for `ty` (faster than one [`DotFn`] call per row), where this
    /// instruction set has one.
    pub fn matmul(&self, ty: TensorType) -> Option<MatmulFn> {
        crate::simd::matmul(self.isa, ty)
    }
}

#[cfg(test)]
mod tests;
