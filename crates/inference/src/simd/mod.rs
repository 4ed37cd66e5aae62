//! SIMD kernels and run-time instruction-set detection: the only place in this crate with `unsafe`.
//!
//! Each kernel computes exactly what its portable twin in `tensor::scalar` computes (up to float
//! summation order) and is tested against it on random data.

use crate::tensor::{DotFn, MatmulFn, MatmulKFn, PackedMatmul, TensorType};

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
mod neon;

/// An instruction set the kernels can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust only.
    Scalar,
    /// x86_64 baseline: SSE2.
    Sse2,
    /// x86_64 with AVX2, FMA and F16C, enabled by the OS (XCR0).
    Avx2,
    /// x86_64 with AVX2 plus AVX-512 F/BW/VL and VNNI, ZMM state enabled by the OS (XCR0 bits
    /// 5-7); used for prompt batches, everything else runs the AVX2 kernels.
    Avx512,
    /// AArch64 Advanced SIMD (always present).
    Neon,
}

impl Isa {
    /// Whether a CPU whose best set is `self` can also run `other`.
    pub fn supports(self, other: Isa) -> bool {
        match other {
            Isa::Scalar => true,
            Isa::Sse2 => matches!(self, Isa::Sse2 | Isa::Avx2 | Isa::Avx512),
            Isa::Avx2 => matches!(self, Isa::Avx2 | Isa::Avx512),
            Isa::Avx512 => self == Isa::Avx512,
            Isa::Neon => self == Isa::Neon,
        }
    }

    /// Short name for logs and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512-vnni",
            Isa::Neon => "neon",
        }
    }
}

/// The best instruction set this CPU and OS support right now.
///
/// On x86_64 AVX2 needs the CPUID bits (AVX2, AVX, FMA, F16C, OSXSAVE) *and* the OS having
/// enabled the SSE and AVX register state in XCR0 (bits 1-2); AVX-512 also needs the opmask and
/// ZMM state (bits 5-7). A kernel must call this after enabling them.
pub fn detect_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::avx512_usable() {
            Isa::Avx512
        } else if x86::avx2_usable() {
            Isa::Avx2
        } else {
            Isa::Sse2
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        Isa::Neon
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Isa::Scalar
    }
}

/// The SIMD dot product for `ty` on `isa`, if there is one.
///
/// Callers ([`crate::tensor::Kernels`]) only pass an `isa` that [`detect_isa`] reported.
pub(crate) fn dot(isa: Isa, ty: TensorType) -> Option<DotFn> {
    match isa {
        Isa::Scalar => None,
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => x86::sse2_dot(ty),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::avx2_dot(ty).or_else(|| x86::sse2_dot(ty)),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon::dot(ty),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The whole-matrix kernel for `ty` on `isa`, if there is one.
pub(crate) fn matmul(isa: Isa, ty: TensorType) -> Option<MatmulFn> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::avx2_matmul(ty),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::avx512_matmul(ty),
        // No whole-matrix kernels elsewhere yet: callers fall back to one dot per row.
        _ => {
            let _ = ty;
            None
        }
    }
}

/// A batch's activations rearranged once for a [`PackedMatmul`] kernel, which reads them in its
/// own layout; every row chunk of a product split over several workers shares one packing.
/// Opaque outside this module; empty where no kernel packs.
#[derive(Debug, Default)]
pub struct Packed {
    #[cfg(target_arch = "x86_64")]
    q8: x86::PackedQ8,
}

/// The part of a [`Packed`] batch that holds one run of its tokens, packed by
/// [`crate::tensor::PackedMatmul::pack`]: the parts of a batch are packed independently (by
/// different workers), each from its own tokens' activations.
pub struct PackedPart<'a> {
    #[cfg(target_arch = "x86_64")]
    q8: x86::PackedQ8Part<'a>,
    #[cfg(not(target_arch = "x86_64"))]
    _batch: core::marker::PhantomData<&'a mut Packed>,
}

impl core::fmt::Debug for PackedPart<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedPart").finish_non_exhaustive()
    }
}

impl Packed {
    /// Makes room for a batch of `b` tokens of `per` blocks each and hands out its parts,
    /// `tokens` tokens each (a multiple of 8; the last part may be shorter), in token order.
    pub fn parts(&mut self, b: usize, per: usize, tokens: usize) -> alloc::vec::Vec<PackedPart<'_>> {
        assert!(tokens > 0 && tokens.is_multiple_of(8), "packing parts of {tokens} tokens");
        #[cfg(target_arch = "x86_64")]
        return self.q8.parts(b, per, tokens).into_iter().map(|q8| PackedPart { q8 }).collect();
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = per;
            (0..b.div_ceil(tokens)).map(|_| PackedPart { _batch: core::marker::PhantomData }).collect()
        }
    }
}

/// The whole-matrix kernel for `ty` on `isa` that reads activations packed once per batch, if
/// there is one.
pub(crate) fn packed_matmul(isa: Isa, ty: TensorType) -> Option<PackedMatmul> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::avx512_packed_matmul(ty),
        _ => {
            let _ = ty;
            None
        }
    }
}

/// The whole-matrix K-quant kernel for `ty` on `isa`, if there is one.
pub(crate) fn matmul_k(isa: Isa, ty: TensorType) -> Option<MatmulKFn> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::avx2_matmul_k(ty),
        _ => {
            let _ = ty;
            None
        }
    }
}

/// `a · b` in f32 with the best kernel for `isa` (as chosen by [`crate::tensor::Kernels`]).
pub(crate) fn f32_dot(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::f32_dot(a, b),
        _ => crate::tensor::scalar::f32_dot(a, b),
    }
}

/// `out[i] = q · keys[i·stride..][..q.len()]` with the best kernel for `isa`.
pub(crate) fn f32_dots(isa: Isa, q: &[f32], keys: &[f32], stride: usize, out: &mut [f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::f32_dots(q, keys, stride, out),
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = crate::tensor::scalar::f32_dot(q, &keys[i * stride..i * stride + q.len()]);
            }
        }
    }
}

/// `out = Σ w[i] · values[i·stride..][..out.len()]` with the best kernel for `isa`.
pub(crate) fn weighted_sum(isa: Isa, out: &mut [f32], w: &[f32], values: &[f32], stride: usize) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::weighted_sum(out, w, values, stride),
        _ => {
            out.fill(0.0);
            for (i, &wi) in w.iter().enumerate() {
                crate::tensor::scalar::f32_axpy(out, wi, &values[i * stride..i * stride + out.len()]);
            }
        }
    }
}

/// `y += alpha · x` with the best kernel for `isa`.
pub(crate) fn f32_axpy(isa: Isa, y: &mut [f32], alpha: f32, x: &[f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::f32_axpy(y, alpha, x),
        _ => crate::tensor::scalar::f32_axpy(y, alpha, x),
    }
}

/// Quantises activations to [`crate::tensor::quant::BlockQ8`] with the best kernel for `isa`
/// (identical results on every path).
pub(crate) fn quantize_q8(isa: Isa, x: &[f32], out: &mut [crate::tensor::quant::BlockQ8]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86::quantize_q8(x, out),
        _ => crate::tensor::quant::quantize_q8(x, out),
    }
}
