//! Tensor element encodings (ggml types): block layouts, dequantisation, quantisation and
//! fused quantised dot products.

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
