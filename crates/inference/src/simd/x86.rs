//! x86_64 kernels: SSE2 (the baseline every x86_64 CPU has) and AVX2 + FMA + F16C.
//!
//! The integer core of every quantised dot is the same: weights as small unsigned bytes
//! (0..=63) times activations as signed bytes, summed pairwise into i16 (`maddubs`: at most
//! 63·127·2 = 16002, no saturation; Q8_0 uses the sign trick, at most 128·127·2 = 32512), then
//! into i32 (`madd`), then scaled in f32. SSE2 has no `maddubs`, so it widens to i16 first.

use alloc::vec::Vec;
use core::arch::x86_64::*;

use crate::tensor::quant::{BlockQ8, BlockQ8K};
use crate::tensor::scalar::{k4_min_sum, q5_values, q6k_offset_sum, q6k_values, scales_mins_k4};
use crate::tensor::{DotFn, MatmulFn, MatmulKFn, PackedMatmul, TensorType};

// ---------------------------------------------------------------- detection

/// CPUID says AVX2, AVX, FMA, F16C and OSXSAVE, and XCR0 shows the OS saves SSE and AVX state.
pub(super) fn avx2_usable() -> bool {
    let leaf1 = __cpuid(1);
    let fma = leaf1.ecx & (1 << 12) != 0;
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    let avx = leaf1.ecx & (1 << 28) != 0;
    let f16c = leaf1.ecx & (1 << 29) != 0;
    if !(fma && osxsave && avx && f16c) {
        return false;
    }
    // SAFETY: OSXSAVE is set, so the OS has enabled XGETBV (and the CPU has XSAVE).
    let xcr0 = unsafe { read_xcr0() };
    if xcr0 & 0b110 != 0b110 {
        return false;
    }
    let max_leaf = __cpuid(0).eax;
    max_leaf >= 7 && __cpuid_count(7, 0).ebx & (1 << 5) != 0
}

/// AVX2 usable, plus AVX-512 F/BW/VL and VNNI, and the OS saves the opmask and ZMM state
/// (XCR0 bits 5-7).
pub(super) fn avx512_usable() -> bool {
    if !avx2_usable() {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    let f = leaf7.ebx & (1 << 16) != 0;
    let bw = leaf7.ebx & (1 << 30) != 0;
    let vl = leaf7.ebx & (1 << 31) != 0;
    let vnni = leaf7.ecx & (1 << 11) != 0;
    // SAFETY: `avx2_usable` returned true, so OSXSAVE is set.
    let xcr0 = unsafe { read_xcr0() };
    f && bw && vl && vnni && xcr0 & 0xE0 == 0xE0
}

/// Reads XCR0.
///
/// # Safety
/// CPUID.1:ECX.OSXSAVE must be set (otherwise XGETBV faults).
#[target_feature(enable = "xsave")]
unsafe fn read_xcr0() -> u64 {
    // SAFETY: the caller guarantees OSXSAVE, which makes XGETBV legal.
    unsafe { _xgetbv(0) }
}

// ---------------------------------------------------------------- SSE2

#[target_feature(enable = "sse2")]
#[inline]
fn ld128(b: &[u8]) -> __m128i {
    let b = &b[..16];
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[target_feature(enable = "sse2")]
#[inline]
fn ld128_i8(a: &[i8]) -> __m128i {
    let a = &a[..16];
    // SAFETY: `a` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(a.as_ptr().cast()) }
}

#[target_feature(enable = "sse2")]
#[inline]
fn hsum128_ps(v: __m128) -> f32 {
    let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "sse2")]
#[inline]
fn hsum128_epi32(v: __m128i) -> i32 {
    let s = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// 16 unsigned (≤ 127) weight bytes · 16 signed activation bytes → four i32 partial sums.
#[target_feature(enable = "sse2")]
#[inline]
fn sse_dot16_u8(q: __m128i, a: __m128i) -> __m128i {
    let z = _mm_setzero_si128();
    let sign = _mm_cmpgt_epi8(z, a);
    let lo = _mm_madd_epi16(_mm_unpacklo_epi8(q, z), _mm_unpacklo_epi8(a, sign));
    let hi = _mm_madd_epi16(_mm_unpackhi_epi8(q, z), _mm_unpackhi_epi8(a, sign));
    _mm_add_epi32(lo, hi)
}

/// 16 signed weight bytes · 16 signed activation bytes → four i32 partial sums.
#[target_feature(enable = "sse2")]
#[inline]
fn sse_dot16_i8(q: __m128i, a: __m128i) -> __m128i {
    let z = _mm_setzero_si128();
    let qs = _mm_cmpgt_epi8(z, q);
    let sign = _mm_cmpgt_epi8(z, a);
    let lo = _mm_madd_epi16(_mm_unpacklo_epi8(q, qs), _mm_unpacklo_epi8(a, sign));
    let hi = _mm_madd_epi16(_mm_unpackhi_epi8(q, qs), _mm_unpackhi_epi8(a, sign));
    _mm_add_epi32(lo, hi)
}

#[inline]
fn f16(b: &[u8], i: usize) -> f32 {
    crate::tensor::scalar::f16_at(b, i)
}

#[target_feature(enable = "sse2")]
fn sse2_q4<const MIN: bool>(w: &[u8], x: &[BlockQ8]) -> f32 {
    let bs = if MIN { 20 } else { 18 };
    let mask = _mm_set1_epi8(0x0F);
    let mut acc = _mm_setzero_ps();
    let mut corr = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16(b, 0);
        let (c, off) = if MIN { (f16(b, 2), 4) } else { (-8.0 * d, 2) };
        let qs = ld128(&b[off..]);
        let lo = _mm_and_si128(qs, mask);
        let hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
        let p = _mm_add_epi32(sse_dot16_u8(lo, ld128_i8(&a.qs)), sse_dot16_u8(hi, ld128_i8(&a.qs[16..])));
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(d * a.d), _mm_cvtepi32_ps(p)));
        corr += c * a.s;
    }
    hsum128_ps(acc) + corr
}

#[target_feature(enable = "sse2")]
fn sse2_q5<const MIN: bool>(w: &[u8], x: &[BlockQ8]) -> f32 {
    let bs = if MIN { 24 } else { 22 };
    let mut acc = _mm_setzero_ps();
    let mut corr = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16(b, 0);
        let (c, off) = if MIN { (f16(b, 2), 4) } else { (-16.0 * d, 2) };
        let qh = u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]);
        // SSE2 has no byte shuffle to spread the fifth bits; unpack them in plain code.
        let q = q5_values(qh, &b[off + 4..off + 20]);
        let p = _mm_add_epi32(
            sse_dot16_u8(ld128(&q), ld128_i8(&a.qs)),
            sse_dot16_u8(ld128(&q[16..]), ld128_i8(&a.qs[16..])),
        );
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(d * a.d), _mm_cvtepi32_ps(p)));
        corr += c * a.s;
    }
    hsum128_ps(acc) + corr
}

#[target_feature(enable = "sse2")]
fn sse2_q8_0(w: &[u8], x: &[BlockQ8]) -> f32 {
    let mut acc = _mm_setzero_ps();
    for (b, a) in w.chunks_exact(34).zip(x) {
        let p = _mm_add_epi32(
            sse_dot16_i8(ld128(&b[2..]), ld128_i8(&a.qs)),
            sse_dot16_i8(ld128(&b[18..]), ld128_i8(&a.qs[16..])),
        );
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(f16(b, 0) * a.d), _mm_cvtepi32_ps(p)));
    }
    hsum128_ps(acc)
}

/// Q4_K/Q5_K share everything but how a 64-value chunk's bytes are built.
#[target_feature(enable = "sse2")]
fn sse2_k4<const FIVE: bool>(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let bs = if FIVE { 176 } else { 144 };
    let mask = _mm_set1_epi8(0x0F);
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let mut isum = 0i32;
        for c in 0..4 {
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            if FIVE {
                let (qh, ql) = (&b[16..48], &b[48 + 32 * c..80 + 32 * c]);
                for l in 0..32 {
                    lo[l] = (ql[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4);
                    hi[l] = (ql[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
                }
            } else {
                for half in 0..2 {
                    let qs = ld128(&b[16 + 32 * c + 16 * half..]);
                    // SAFETY: `lo`/`hi` have 32 bytes; offsets 0 and 16 leave room for 16-byte stores.
                    unsafe {
                        _mm_storeu_si128(lo[16 * half..].as_mut_ptr().cast(), _mm_and_si128(qs, mask));
                        _mm_storeu_si128(
                            hi[16 * half..].as_mut_ptr().cast(),
                            _mm_and_si128(_mm_srli_epi16(qs, 4), mask),
                        );
                    }
                }
            }
            let aq = &a.qs[64 * c..64 * c + 64];
            let plo = _mm_add_epi32(
                sse_dot16_u8(ld128(&lo), ld128_i8(aq)),
                sse_dot16_u8(ld128(&lo[16..]), ld128_i8(&aq[16..])),
            );
            let phi = _mm_add_epi32(
                sse_dot16_u8(ld128(&hi), ld128_i8(&aq[32..])),
                sse_dot16_u8(ld128(&hi[16..]), ld128_i8(&aq[48..])),
            );
            isum += i32::from(sc[2 * c]) * hsum128_epi32(plo) + i32::from(sc[2 * c + 1]) * hsum128_epi32(phi);
        }
        sum += a.d * (f16(b, 0) * isum as f32 - f16(b, 2) * k4_min_sum(&mn, &a.bsums) as f32);
    }
    sum
}

#[target_feature(enable = "sse2")]
fn sse2_q6_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(210).zip(x) {
        let q = q6k_values(b);
        let scales = &b[192..208];
        let mut isum = 0i32;
        for g in 0..16 {
            let p = sse_dot16_u8(ld128(&q[16 * g..]), ld128_i8(&a.qs[16 * g..]));
            isum += i32::from(scales[g] as i8) * hsum128_epi32(p);
        }
        isum -= 32 * q6k_offset_sum(scales, &a.bsums);
        sum += f16(b, 208) * a.d * isum as f32;
    }
    sum
}

#[target_feature(enable = "sse2")]
fn sse2_f32(w: &[u8], x: &[f32]) -> f32 {
    let mut acc = _mm_setzero_ps();
    let mut wc = w.chunks_exact(16);
    let mut xc = x.chunks_exact(4);
    for (wb, xs) in (&mut wc).zip(&mut xc) {
        // SAFETY: `wb` is 16 bytes and `xs` 4 floats; `loadu` has no alignment requirement.
        let (wv, xv) = unsafe { (_mm_loadu_ps(wb.as_ptr().cast()), _mm_loadu_ps(xs.as_ptr())) };
        acc = _mm_add_ps(acc, _mm_mul_ps(wv, xv));
    }
    hsum128_ps(acc) + crate::tensor::scalar::dot_f32(wc.remainder(), xc.remainder())
}

/// Safe entry points for the SSE2 kernels.
macro_rules! sse2_entry {
    ($name:ident, $kernel:expr, $act:ty) => {
        fn $name(w: &[u8], x: &[$act]) -> f32 {
            // SAFETY: `sse2_dot` hands these out only when the build enables SSE2 (every x86_64
            // target moteOS uses does: it is the architecture's baseline).
            unsafe { $kernel(w, x) }
        }
    };
}

sse2_entry!(sse2_q4_0, sse2_q4::<false>, BlockQ8);
sse2_entry!(sse2_q4_1, sse2_q4::<true>, BlockQ8);
sse2_entry!(sse2_q5_0, sse2_q5::<false>, BlockQ8);
sse2_entry!(sse2_q5_1, sse2_q5::<true>, BlockQ8);
sse2_entry!(sse2_q8_0_entry, sse2_q8_0, BlockQ8);
sse2_entry!(sse2_q4_k, sse2_k4::<false>, BlockQ8K);
sse2_entry!(sse2_q5_k, sse2_k4::<true>, BlockQ8K);
sse2_entry!(sse2_q6_k_entry, sse2_q6_k, BlockQ8K);
sse2_entry!(sse2_f32_entry, sse2_f32, f32);

pub(super) fn sse2_dot(ty: TensorType) -> Option<DotFn> {
    if !cfg!(target_feature = "sse2") {
        return None;
    }
    Some(match ty {
        TensorType::F32 => DotFn::F32(sse2_f32_entry),
        TensorType::Q4_0 => DotFn::Q8(sse2_q4_0),
        TensorType::Q4_1 => DotFn::Q8(sse2_q4_1),
        TensorType::Q5_0 => DotFn::Q8(sse2_q5_0),
        TensorType::Q5_1 => DotFn::Q8(sse2_q5_1),
        TensorType::Q8_0 => DotFn::Q8(sse2_q8_0_entry),
        TensorType::Q4K => DotFn::Q8K(sse2_q4_k),
        TensorType::Q5K => DotFn::Q8K(sse2_q5_k),
        TensorType::Q6K => DotFn::Q8K(sse2_q6_k_entry),
        _ => return None,
    })
}

// ---------------------------------------------------------------- AVX2 + FMA + F16C

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld256(b: &[u8]) -> __m256i {
    let b = &b[..32];
    // SAFETY: `b` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld256_i8(a: &[i8]) -> __m256i {
    let a = &a[..32];
    // SAFETY: `a` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

/// f16 → f32 with the F16C instruction (the software conversion would dominate the Q4 loops).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn f16c(b: &[u8], i: usize) -> f32 {
    let bits = u16::from_le_bytes([b[i], b[i + 1]]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits))))
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum256_ps(v: __m256) -> f32 {
    hsum128_ps(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)))
}

/// Spreads the 32 bits of `qh` over 32 bytes: byte i is 0x10 when bit i is set, else 0.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn fifth_bits(qh: u32) -> __m256i {
    let v = _mm256_set1_epi32(qh as i32);
    let idx = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    );
    let bytes = _mm256_shuffle_epi8(v, idx);
    let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
    _mm256_and_si256(set, _mm256_set1_epi8(0x10))
}

/// The 32-wide weight formats, as const-generic tags for the tile kernels.
pub(super) const Q4_0: u8 = 0;
pub(super) const Q4_1: u8 = 1;
pub(super) const Q5_0: u8 = 2;
pub(super) const Q5_1: u8 = 3;
pub(super) const Q8_0: u8 = 4;

const fn block_bytes(k: u8) -> usize {
    match k {
        Q4_0 => 18,
        Q4_1 => 20,
        Q5_0 => 22,
        Q5_1 => 24,
        _ => 34,
    }
}

/// One block's 32 weights as bytes, its scale, and the constant `c` such that the block's dot
/// with activations is `d·dx·Σq·a + c·s` (`s = dx·Σa`): the minimum, or −offset·d.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn decode<const K: u8>(b: &[u8]) -> (__m256i, f32, f32) {
    let d = f16c(b, 0);
    if K == Q8_0 {
        return (ld256(&b[2..]), d, 0.0);
    }
    let with_min = K == Q4_1 || K == Q5_1;
    let five = K == Q5_0 || K == Q5_1;
    let (c, mut off) = if with_min { (f16c(b, 2), 4) } else { (if five { -16.0 } else { -8.0 } * d, 2) };
    let hbits = if five {
        let qh = u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]);
        off += 4;
        fifth_bits(qh)
    } else {
        _mm256_setzero_si256()
    };
    let qs = ld128(&b[off..]);
    let q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), _mm256_set1_epi8(0x0F));
    (_mm256_or_si256(q, hbits), d, c)
}

/// Σ q·a over 32 bytes as eight i32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn block_dot<const K: u8>(q: __m256i, a: __m256i) -> __m256i {
    let p = if K == Q8_0 {
        // |q| · (a with q's sign) = q · a, with the unsigned left operand maddubs needs.
        _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q))
    } else {
        _mm256_maddubs_epi16(q, a)
    };
    _mm256_madd_epi16(p, _mm256_set1_epi16(1))
}

/// `out[r][t] = w[r] · x[t]` for R weight rows and T activation rows of 32-wide blocks: each
/// weight block is decoded once for all T activations and each activation block loaded once for
/// all R rows; R·T independent accumulators hide the FMA latency.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tile<const K: u8, const R: usize, const T: usize>(w: [&[u8]; R], x: [&[BlockQ8]; T]) -> [[f32; T]; R] {
    let bs = block_bytes(K);
    let nb = w.iter().map(|w| w.len() / bs).chain(x.iter().map(|x| x.len())).min().unwrap_or(0);
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    let mut corr = [[0.0f32; T]; R];
    for i in 0..nb {
        for r in 0..R {
            let (q, d, c) = decode::<K>(&w[r][i * bs..(i + 1) * bs]);
            for t in 0..T {
                let a = &x[t][i];
                let p = block_dot::<K>(q, ld256_i8(&a.qs));
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a.d), _mm256_cvtepi32_ps(p), acc[r][t]);
                corr[r][t] += c * a.s;
            }
        }
    }
    let mut out = [[0.0; T]; R];
    for r in 0..R {
        for t in 0..T {
            out[r][t] = hsum256_ps(acc[r][t]) + corr[r][t];
        }
    }
    out
}

/// One row times one activation row, two blocks per iteration into two accumulators (a single
/// accumulator makes every block wait for the previous block's FMA).
///
/// The per-block scalars are handled four at a time: one F16C conversion gives
/// `[d0, m0, d1, m1]` (or `[d0, d0, d1, d1]` for formats without a minimum), one multiply with
/// the activations' `[d0, s0, d1, s1]` gives both blocks' scales and minimum terms. This
/// replaced six scalar conversions/multiplies per block pair (measured ~10 % faster).
#[target_feature(enable = "avx2,fma,f16c")]
fn dot1<const K: u8>(w: &[u8], x: &[BlockQ8]) -> f32 {
    let bs = block_bytes(K);
    let with_min = K == Q4_1 || K == Q5_1;
    let offset = match K {
        Q4_0 => -8.0,
        Q5_0 => -16.0,
        _ => 0.0,
    };
    // The two f16 scalars of a block as one u32: (d, m), or (d, d) when there is no minimum.
    let scalars = |b: &[u8]| -> i32 {
        if with_min {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            (u32::from(u16::from_le_bytes([b[0], b[1]])) * 0x1_0001) as i32
        }
    };
    let lane2 = _mm256_set1_epi32(2);
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut corr = _mm_setzero_ps();
    let mut pairs = w.chunks_exact(2 * bs).zip(x.chunks_exact(2));
    for (b, a) in &mut pairs {
        let (b0, b1) = (&b[..bs], &b[bs..]);
        let ws = _mm_cvtph_ps(_mm_setr_epi32(scalars(b0), scalars(b1), 0, 0));
        let prod = _mm_mul_ps(ws, _mm_setr_ps(a[0].d, a[0].s, a[1].d, a[1].s));
        corr = _mm_add_ps(corr, prod);
        let s0 = _mm256_broadcastss_ps(prod);
        let s1 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(prod), lane2);
        let (q0, _, _) = decode::<K>(b0);
        let (q1, _, _) = decode::<K>(b1);
        let p0 = block_dot::<K>(q0, ld256_i8(&a[0].qs));
        let p1 = block_dot::<K>(q1, ld256_i8(&a[1].qs));
        acc[0] = _mm256_fmadd_ps(s0, _mm256_cvtepi32_ps(p0), acc[0]);
        acc[1] = _mm256_fmadd_ps(s1, _mm256_cvtepi32_ps(p1), acc[1]);
    }
    // Lanes 1 and 3 of `corr` hold Σ m·s (or Σ d·s for the offset formats); 0 and 2 are unused.
    let mut c = [0.0f32; 4];
    // SAFETY: `c` has room for four floats.
    unsafe { _mm_storeu_ps(c.as_mut_ptr(), corr) };
    let corr = match K {
        Q8_0 => 0.0,
        _ if with_min => c[1] + c[3],
        _ => offset * (c[1] + c[3]),
    };
    let done = w.len() / (2 * bs) * 2;
    let rest = tile::<K, 1, 1>([w.get(done * bs..).unwrap_or(&[])], [x.get(done..).unwrap_or(&[])])[0][0];
    hsum256_ps(_mm256_add_ps(acc[0], acc[1])) + corr + rest
}

/// One row times four activation rows, with the scalars handled as in [`dot1`]: one F16C
/// conversion per block, one multiply per two tokens.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn toks4<const K: u8>(w: &[u8], x: [&[BlockQ8]; 4]) -> [f32; 4] {
    let bs = block_bytes(K);
    let with_min = K == Q4_1 || K == Q5_1;
    let offset = match K {
        Q4_0 => -8.0,
        Q5_0 => -16.0,
        _ => 0.0,
    };
    let lane2 = _mm256_set1_epi32(2);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut corr = [_mm_setzero_ps(); 2];
    // Iterators rather than indices: no bounds checks in the innermost loop.
    let blocks = w.chunks_exact(bs).zip(x[0].iter().zip(x[1])).zip(x[2].iter().zip(x[3]));
    for ((b, (a0, a1)), (a2, a3)) in blocks {
        let sc = if with_min {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            (u32::from(u16::from_le_bytes([b[0], b[1]])) * 0x1_0001) as i32
        };
        let ws = _mm_cvtph_ps(_mm_set1_epi32(sc));
        let (q, _, _) = decode::<K>(b);
        for (h, (a0, a1)) in [(a0, a1), (a2, a3)].into_iter().enumerate() {
            let prod = _mm_mul_ps(ws, _mm_setr_ps(a0.d, a0.s, a1.d, a1.s));
            corr[h] = _mm_add_ps(corr[h], prod);
            let s0 = _mm256_broadcastss_ps(prod);
            let s1 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(prod), lane2);
            let p0 = block_dot::<K>(q, ld256_i8(&a0.qs));
            let p1 = block_dot::<K>(q, ld256_i8(&a1.qs));
            acc[2 * h] = _mm256_fmadd_ps(s0, _mm256_cvtepi32_ps(p0), acc[2 * h]);
            acc[2 * h + 1] = _mm256_fmadd_ps(s1, _mm256_cvtepi32_ps(p1), acc[2 * h + 1]);
        }
    }
    let mut out = [0.0f32; 4];
    for h in 0..2 {
        let mut c = [0.0f32; 4];
        // SAFETY: `c` has room for four floats.
        unsafe { _mm_storeu_ps(c.as_mut_ptr(), corr[h]) };
        let k = match K {
            Q8_0 => 0.0,
            _ if with_min => 1.0,
            _ => offset,
        };
        out[2 * h] = hsum256_ps(acc[2 * h]) + k * c[1];
        out[2 * h + 1] = hsum256_ps(acc[2 * h + 1]) + k * c[3];
    }
    out
}

/// `out[t·rows + r] = w[r] · x[t]` for a whole matrix (`rows` rows back to back in `w`) and `b`
/// activation rows (back to back in `x`). One token: row after row (interleaving two or four
/// rows was measured slower: the extra memory streams cost more than the shared activation
/// loads save). A batch: each weight row is decoded once for four tokens.
#[target_feature(enable = "avx2,fma,f16c")]
// `r` picks a weight row and a column of every token's output row, not an element of `out`.
#[allow(clippy::needless_range_loop)]
fn matmul<const K: u8>(w: &[u8], rows: usize, x: &[BlockQ8], b: usize, out: &mut [&mut [f32]]) {
    if rows == 0 || b == 0 {
        return;
    }
    let rb = w.len() / rows;
    let per = x.len() / b;
    let row = |r: usize| &w[r * rb..(r + 1) * rb];
    let tok = |t: usize| &x[t * per..(t + 1) * per];
    if b == 1 {
        for (r, o) in out[0].iter_mut().enumerate().take(rows) {
            *o = dot1::<K>(row(r), x);
        }
        return;
    }
    for r in 0..rows {
        let mut t = 0;
        while t + 4 <= b {
            let o = toks4::<K>(row(r), [tok(t), tok(t + 1), tok(t + 2), tok(t + 3)]);
            for (k, v) in o.into_iter().enumerate() {
                out[t + k][r] = v;
            }
            t += 4;
        }
        while t < b {
            out[t][r] = tile::<K, 1, 1>([row(r)], [tok(t)])[0][0];
            t += 1;
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_k4<const FIVE: bool>(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let bs = if FIVE { 176 } else { 144 };
    let qs_at = if FIVE { 48 } else { 16 };
    let mask = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    let mut acc = _mm256_setzero_ps();
    let mut corr = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let mut qh = if FIVE { ld256(&b[16..]) } else { _mm256_setzero_si256() };
        let mut isum = _mm256_setzero_si256();
        for c in 0..4 {
            let qs = ld256(&b[qs_at + 32 * c..]);
            let mut lo = _mm256_and_si256(qs, mask);
            let mut hi = _mm256_and_si256(_mm256_srli_epi16(qs, 4), mask);
            if FIVE {
                // Bits 2c and 2c+1 of each qh byte are the fifth bits of this chunk's two halves;
                // shifting the 16-bit lanes by 2 per chunk never moves a needed bit across bytes.
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
                qh = _mm256_srli_epi16(qh, 2);
            }
            let plo = _mm256_maddubs_epi16(lo, ld256_i8(&a.qs[64 * c..]));
            let phi = _mm256_maddubs_epi16(hi, ld256_i8(&a.qs[64 * c + 32..]));
            let plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(i16::from(sc[2 * c])));
            let phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(i16::from(sc[2 * c + 1])));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(plo, phi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c(b, 0) * a.d), _mm256_cvtepi32_ps(isum), acc);
        corr -= f16c(b, 2) * a.d * k4_min_sum(&mn, &a.bsums) as f32;
    }
    hsum256_ps(acc) + corr
}

#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_q6_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let m4 = _mm256_set1_epi8(0x0F);
    let m2 = _mm256_set1_epi8(0x03);
    let mut acc = _mm256_setzero_ps();
    let mut corr = 0.0;
    for (b, a) in w.chunks_exact(210).zip(x) {
        let scales = &b[192..208];
        let d = f16c(b, 208) * a.d;
        let mut isum = _mm256_setzero_si256();
        for n in 0..2 {
            let ql0 = ld256(&b[64 * n..]);
            let ql1 = ld256(&b[64 * n + 32..]);
            let qh = ld256(&b[128 + 32 * n..]);
            let high = |shift: __m128i| _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, shift), m2), 4);
            let qv = [
                _mm256_or_si256(_mm256_and_si256(ql0, m4), high(_mm_cvtsi32_si128(0))),
                _mm256_or_si256(_mm256_and_si256(ql1, m4), high(_mm_cvtsi32_si128(2))),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), high(_mm_cvtsi32_si128(4))),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), high(_mm_cvtsi32_si128(6))),
            ];
            for (k, q) in qv.into_iter().enumerate() {
                let g = 8 * n + 2 * k;
                let s = _mm256_set_m128i(
                    _mm_set1_epi16(i16::from(scales[g + 1] as i8)),
                    _mm_set1_epi16(i16::from(scales[g] as i8)),
                );
                let p = _mm256_maddubs_epi16(q, ld256_i8(&a.qs[128 * n + 32 * k..]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, s));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
        corr -= d * (32 * q6k_offset_sum(scales, &a.bsums)) as f32;
    }
    hsum256_ps(acc) + corr
}

#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_f32(w: &[u8], x: &[f32]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mut wc = w.chunks_exact(32);
    let mut xc = x.chunks_exact(8);
    for (wb, xs) in (&mut wc).zip(&mut xc) {
        // SAFETY: `wb` is 32 bytes and `xs` 8 floats; `loadu` has no alignment requirement.
        let (wv, xv) = unsafe { (_mm256_loadu_ps(wb.as_ptr().cast()), _mm256_loadu_ps(xs.as_ptr())) };
        acc = _mm256_fmadd_ps(wv, xv, acc);
    }
    hsum256_ps(acc) + crate::tensor::scalar::dot_f32(wc.remainder(), xc.remainder())
}

/// Safe entry points for the AVX2 kernels.
macro_rules! avx2_entry {
    ($name:ident, $kernel:expr, $act:ty) => {
        fn $name(w: &[u8], x: &[$act]) -> f32 {
            // SAFETY: these entry points are only handed out by `avx2_dot`, which `simd::dot` calls
            // only for `Isa::Avx2`, which `Kernels` only holds after `detect_isa` found AVX2, FMA
            // and F16C usable on this CPU.
            unsafe { $kernel(w, x) }
        }
    };
}

avx2_entry!(avx2_q4_0, dot1::<Q4_0>, BlockQ8);
avx2_entry!(avx2_q4_1, dot1::<Q4_1>, BlockQ8);
avx2_entry!(avx2_q5_0, dot1::<Q5_0>, BlockQ8);
avx2_entry!(avx2_q5_1, dot1::<Q5_1>, BlockQ8);
avx2_entry!(avx2_q8_0_entry, dot1::<Q8_0>, BlockQ8);
avx2_entry!(avx2_q4_k, avx2_k4::<false>, BlockQ8K);
avx2_entry!(avx2_q5_k, avx2_k4::<true>, BlockQ8K);
avx2_entry!(avx2_q6_k_entry, avx2_q6_k, BlockQ8K);
avx2_entry!(avx2_f32_entry, avx2_f32, f32);

pub(super) fn avx2_dot(ty: TensorType) -> Option<DotFn> {
    Some(match ty {
        TensorType::F32 => DotFn::F32(avx2_f32_entry),
        TensorType::Q4_0 => DotFn::Q8(avx2_q4_0),
        TensorType::Q4_1 => DotFn::Q8(avx2_q4_1),
        TensorType::Q5_0 => DotFn::Q8(avx2_q5_0),
        TensorType::Q5_1 => DotFn::Q8(avx2_q5_1),
        TensorType::Q8_0 => DotFn::Q8(avx2_q8_0_entry),
        TensorType::Q4K => DotFn::Q8K(avx2_q4_k),
        TensorType::Q5K => DotFn::Q8K(avx2_q5_k),
        TensorType::Q6K => DotFn::Q8K(avx2_q6_k_entry),
        _ => return None,
    })
}

/// Safe entry points for the AVX2 matrix kernels.
macro_rules! avx2_matmul_entry {
    ($name:ident, $kernel:expr) => {
        fn $name(w: &[u8], rows: usize, x: &[BlockQ8], b: usize, out: &mut [&mut [f32]]) {
            // SAFETY: handed out only by `avx2_matmul`, under the same guarantee as `avx2_entry`.
            unsafe { $kernel(w, rows, x, b, out) }
        }
    };
}

avx2_matmul_entry!(matmul_q4_0, matmul::<Q4_0>);
avx2_matmul_entry!(matmul_q4_1, matmul::<Q4_1>);
avx2_matmul_entry!(matmul_q5_0, matmul::<Q5_0>);
avx2_matmul_entry!(matmul_q5_1, matmul::<Q5_1>);
avx2_matmul_entry!(matmul_q8_0, matmul::<Q8_0>);

pub(super) fn avx2_matmul(ty: TensorType) -> Option<MatmulFn> {
    Some(match ty {
        TensorType::Q4_0 => matmul_q4_0,
        TensorType::Q4_1 => matmul_q4_1,
        TensorType::Q5_0 => matmul_q5_0,
        TensorType::Q5_1 => matmul_q5_1,
        TensorType::Q8_0 => matmul_q8_0,
        _ => return None,
    })
}

#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_f32_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [_mm256_setzero_ps(); 2];
    let (mut ca, mut cb) = (a.chunks_exact(16), b.chunks_exact(16));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..2 {
            // SAFETY: `x` and `y` are 16 floats; each load reads 8 of them from offset 0 or 8.
            let (xv, yv) = unsafe { (_mm256_loadu_ps(x[8 * j..].as_ptr()), _mm256_loadu_ps(y[8 * j..].as_ptr())) };
            acc[j] = _mm256_fmadd_ps(xv, yv, acc[j]);
        }
    }
    hsum256_ps(_mm256_add_ps(acc[0], acc[1])) + crate::tensor::scalar::f32_dot(ca.remainder(), cb.remainder())
}

#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_f32_axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    let a = _mm256_set1_ps(alpha);
    let (mut cy, mut cx) = (y.chunks_exact_mut(8), x.chunks_exact(8));
    for (y, x) in (&mut cy).zip(&mut cx) {
        // SAFETY: `y` and `x` are 8 floats each; unaligned loads and store.
        unsafe {
            let v = _mm256_fmadd_ps(a, _mm256_loadu_ps(x.as_ptr()), _mm256_loadu_ps(y.as_ptr()));
            _mm256_storeu_ps(y.as_mut_ptr(), v);
        }
    }
    crate::tensor::scalar::f32_axpy(cy.into_remainder(), alpha, cx.remainder());
}

/// `out[i] = q · keys[i·stride..][..q.len()]`: one query's attention scores against a run of
/// cached keys, four keys at a time sharing the query's loads, their four sums reduced together.
#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_f32_dots(q: &[f32], keys: &[f32], stride: usize, out: &mut [f32]) {
    let n = q.len();
    let full = n / 8 * 8;
    let key = |i: usize| &keys[i * stride..i * stride + n];
    let mut i = 0;
    while i + 4 <= out.len() {
        let k = [key(i), key(i + 1), key(i + 2), key(i + 3)];
        let mut acc = [_mm256_setzero_ps(); 4];
        for c in (0..full).step_by(8) {
            // SAFETY: `c + 8 <= full <= n`, the length of `q` and of each key.
            let qv = unsafe { _mm256_loadu_ps(q[c..c + 8].as_ptr()) };
            for (acc, k) in acc.iter_mut().zip(&k) {
                // SAFETY: as above.
                *acc = _mm256_fmadd_ps(qv, unsafe { _mm256_loadu_ps(k[c..c + 8].as_ptr()) }, *acc);
            }
        }
        // Lanes [A01 A23 B01 B23 | A45 A67 B45 B67], the same for C, D; then [A B C D | A' B' C' D'].
        let ab = _mm256_hadd_ps(acc[0], acc[1]);
        let cd = _mm256_hadd_ps(acc[2], acc[3]);
        let abcd = _mm256_hadd_ps(ab, cd);
        let sums = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
        let mut r = [0.0f32; 4];
        // SAFETY: `r` has room for four floats.
        unsafe { _mm_storeu_ps(r.as_mut_ptr(), sums) };
        for (j, k) in k.iter().enumerate() {
            out[i + j] = r[j] + crate::tensor::scalar::f32_dot(&q[full..], &k[full..]);
        }
        i += 4;
    }
    for (j, o) in out.iter_mut().enumerate().skip(i) {
        *o = avx2_f32_dot(q, key(j));
    }
}

/// `out[c0 + ..8W] = Σ w[i] · values[i·stride + c0..][..8W]`, the W vectors of sums held in
/// registers across all the rows.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn weighted_block<const W: usize>(out: &mut [f32], c0: usize, w: &[f32], values: &[f32], stride: usize) {
    let mut acc = [_mm256_setzero_ps(); W];
    for (i, &wi) in w.iter().enumerate() {
        let a = _mm256_set1_ps(wi);
        let v = &values[i * stride + c0..i * stride + c0 + 8 * W];
        for (j, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `v` is 8W floats; the load reads 8 of them from offset 8j.
            *acc = _mm256_fmadd_ps(a, unsafe { _mm256_loadu_ps(v[8 * j..8 * j + 8].as_ptr()) }, *acc);
        }
    }
    for (j, acc) in acc.iter().enumerate() {
        // SAFETY: `out` has room for 8 floats at `c0 + 8j` (the caller's block is inside it).
        unsafe { _mm256_storeu_ps(out[c0 + 8 * j..c0 + 8 * j + 8].as_mut_ptr(), *acc) };
    }
}

/// `out = Σ w[i] · values[i·stride..][..out.len()]`: the attention-weighted sum of cached values,
/// in blocks of 64 outputs kept in registers while the rows stream by.
#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_weighted_sum(out: &mut [f32], w: &[f32], values: &[f32], stride: usize) {
    let n = out.len();
    let full = n / 8 * 8;
    let mut c0 = 0;
    while c0 + 64 <= full {
        weighted_block::<8>(out, c0, w, values, stride);
        c0 += 64;
    }
    while c0 < full {
        weighted_block::<1>(out, c0, w, values, stride);
        c0 += 8;
    }
    for c in full..n {
        out[c] = w.iter().enumerate().map(|(i, wi)| wi * values[i * stride + c]).sum();
    }
}

/// AVX2 scores of one query against a run of keys (see [`avx2_f32_dots`]).
pub(super) fn f32_dots(q: &[f32], keys: &[f32], stride: usize, out: &mut [f32]) {
    // SAFETY: as for `f32_dot`.
    unsafe { avx2_f32_dots(q, keys, stride, out) }
}

/// AVX2 weighted sum of a run of values (see [`avx2_weighted_sum`]).
pub(super) fn weighted_sum(out: &mut [f32], w: &[f32], values: &[f32], stride: usize) {
    // SAFETY: as for `f32_dot`.
    unsafe { avx2_weighted_sum(out, w, values, stride) }
}

/// AVX2 f32 dot product (attention scores).
pub(super) fn f32_dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: called by `simd::f32_dot` only for `Isa::Avx2`, which `Kernels` holds only after
    // `detect_isa` found AVX2, FMA and F16C usable.
    unsafe { avx2_f32_dot(a, b) }
}

/// AVX2 `y += alpha · x` (attention values).
pub(super) fn f32_axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    // SAFETY: as for `f32_dot`.
    unsafe { avx2_f32_axpy(y, alpha, x) }
}

// ---------------------------------------------------------------- AVX-512 VNNI (prompt batches)

/// Sums of the lower and of the upper eight lanes of a 16-lane vector.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn hsum_halves(v: __m512) -> (f32, f32) {
    let lo = _mm512_extractf64x4_pd(_mm512_castps_pd(v), 0);
    let hi = _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1);
    (hsum256_ps(_mm256_castpd_ps(lo)), hsum256_ps(_mm256_castpd_ps(hi)))
}

/// [`toks`] with 512-bit registers, for R rows at once: two tokens per instruction (the weight
/// block broadcast to both halves, the two tokens' activation blocks side by side),
/// `vpdpbusd` doing the work of `maddubs` + `madd`, and the activation loads shared by the R rows.
/// For the 4- and 5-bit formats, whose weights are unsigned; Q8_0 has [`matmul512_q8`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn toks512<const K: u8, const R: usize, const T: usize>(w: [&[u8]; R], x: [&[BlockQ8]; T]) -> [[f32; T]; R] {
    let bs = block_bytes(K);
    let with_min = K == Q4_1 || K == Q5_1;
    let offset = match K {
        Q4_0 => -8.0,
        Q5_0 => -16.0,
        _ => 0.0,
    };
    // Lanes 0-7 take the first token's scale (lane 0 of the product), lanes 8-15 the second's (lane 2).
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    // One accumulator per row and token pair (T is even).
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    let mut corr = [[_mm_setzero_ps(); T]; R];
    let nb = w.iter().map(|w| w.len() / bs).chain(x.iter().map(|x| x.len())).min().unwrap_or(0);
    for i in 0..nb {
        let mut ws = [_mm_setzero_ps(); R];
        let mut wq = [_mm512_setzero_si512(); R];
        for r in 0..R {
            let b = &w[r][i * bs..(i + 1) * bs];
            let sc = if with_min {
                i32::from_le_bytes([b[0], b[1], b[2], b[3]])
            } else {
                (u32::from(u16::from_le_bytes([b[0], b[1]])) * 0x1_0001) as i32
            };
            ws[r] = _mm_cvtph_ps(_mm_set1_epi32(sc));
            let (q, _, _) = decode::<K>(b);
            wq[r] = _mm512_broadcast_i64x4(q);
        }
        for h in 0..T / 2 {
            let (a0, a1) = (&x[2 * h][i], &x[2 * h + 1][i]);
            let ad = _mm_setr_ps(a0.d, a0.s, a1.d, a1.s);
            let av = _mm512_inserti64x4(_mm512_castsi256_si512(ld256_i8(&a0.qs)), ld256_i8(&a1.qs), 1);
            for r in 0..R {
                // `ws · ad` is needed for the minimum term anyway; spreading that product to the
                // lanes was measured faster than a second multiply of broadcast scales.
                let prod = _mm_mul_ps(ws[r], ad);
                corr[r][h] = _mm_add_ps(corr[r][h], prod);
                let scale = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(prod));
                let p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[r], av);
                acc[r][h] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p), acc[r][h]);
            }
        }
    }
    let k = if with_min { 1.0 } else { offset };
    let mut out = [[0.0f32; T]; R];
    for r in 0..R {
        for h in 0..T / 2 {
            let mut c = [0.0f32; 4];
            // SAFETY: `c` has room for four floats.
            unsafe { _mm_storeu_ps(c.as_mut_ptr(), corr[r][h]) };
            let (lo, hi) = hsum_halves(acc[r][h]);
            out[r][2 * h] = lo + k * c[1];
            out[r][2 * h + 1] = hi + k * c[3];
        }
    }
    out
}

/// [`matmul`] with the AVX-512 four-token tile for batches (single tokens keep the AVX2 dot:
/// they are limited by memory, not arithmetic).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
// `r` picks a weight row and a column of every token's output row, not an element of `out`.
#[allow(clippy::needless_range_loop)]
fn matmul512<const K: u8>(w: &[u8], rows: usize, x: &[BlockQ8], b: usize, out: &mut [&mut [f32]]) {
    if rows == 0 || b == 0 {
        return;
    }
    if b < 4 {
        return matmul::<K>(w, rows, x, b, out);
    }
    let rb = w.len() / rows;
    let per = x.len() / b;
    let row = |r: usize| &w[r * rb..(r + 1) * rb];
    let tok = |t: usize| &x[t * per..(t + 1) * per];
    let mut r = 0;
    while r + 2 <= rows {
        prefetch(w, (r + 2) * rb..(r + 4) * rb);
        let mut t = 0;
        while t + 8 <= b {
            let toks = [tok(t), tok(t + 1), tok(t + 2), tok(t + 3), tok(t + 4), tok(t + 5), tok(t + 6), tok(t + 7)];
            let o = toks512::<K, 2, 8>([row(r), row(r + 1)], toks);
            for (i, o) in o.into_iter().enumerate() {
                for (k, v) in o.into_iter().enumerate() {
                    out[t + k][r + i] = v;
                }
            }
            t += 8;
        }
        while t + 4 <= b {
            let o = toks512::<K, 2, 4>([row(r), row(r + 1)], [tok(t), tok(t + 1), tok(t + 2), tok(t + 3)]);
            for (i, o) in o.into_iter().enumerate() {
                for (k, v) in o.into_iter().enumerate() {
                    out[t + k][r + i] = v;
                }
            }
            t += 4;
        }
        while t < b {
            out[t][r] = dot1::<K>(row(r), tok(t));
            out[t][r + 1] = dot1::<K>(row(r + 1), tok(t));
            t += 1;
        }
        r += 2;
    }
    for r in r..rows {
        let mut t = 0;
        while t + 4 <= b {
            let o = toks512::<K, 1, 4>([row(r)], [tok(t), tok(t + 1), tok(t + 2), tok(t + 3)])[0];
            for (k, v) in o.into_iter().enumerate() {
                out[t + k][r] = v;
            }
            t += 4;
        }
        while t < b {
            out[t][r] = dot1::<K>(row(r), tok(t));
            t += 1;
        }
    }
}

/// One 32-value block of G = 2V tokens (V = 4 or 2) as [`q8_tile`] reads it. Vector `v` holds
/// bytes `c·v..c·(v + 1)` (c = 64 / G) of every token, token `t` at bytes `c·t..`, so each
/// `vpdpbusd` lane sums four bytes of one token and the V products of a weight block add up
/// lane-wise with no shuffles: token `t`'s sum ends up spread over lanes `l` with `l·G/16 = t`.
/// Beside them, each lane's token scale, and 128 times the sum of the activation bytes that lane
/// covers (what weights offset by +128 add to the exact sums).
#[derive(Clone, Copy)]
struct Group<const V: usize> {
    q: [[u8; 64]; V],
    d: [f32; 16],
    k: [i32; 16],
}

/// Packs the tokens `first..` of `x` (`per` blocks each) into `out`, whole groups of 2V tokens,
/// each written in place (a group is 256 bytes or more: building one on the stack and pushing it
/// cost a `memcpy` call per block, measured at 2 % of a prompt's time).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn pack<const V: usize>(x: &[BlockQ8], per: usize, first: usize, out: &mut [Group<V>]) {
    let (g, c) = (2 * V, 32 / V);
    let k128 = _mm512_set1_epi8(-128);
    for (n, groups) in out.chunks_exact_mut(per).enumerate() {
        let t0 = first + g * n;
        for (i, pk) in groups.iter_mut().enumerate() {
            let a = |t: usize| &x[(t0 + t) * per + i];
            for (l, d) in pk.d.iter_mut().enumerate() {
                *d = a(l * g / 16).d;
            }
            let mut k = _mm512_setzero_si512();
            for (v, q) in pk.q.iter_mut().enumerate() {
                for t in 0..g {
                    for (dst, src) in q[c * t..c * (t + 1)].iter_mut().zip(&a(t).qs[c * v..c * (v + 1)]) {
                        *dst = *src as u8;
                    }
                }
                // SAFETY: `q` is 64 bytes; unaligned load.
                k = _mm512_dpbusd_epi32(k, k128, unsafe { _mm512_loadu_si512(q.as_ptr().cast()) });
            }
            // SAFETY: `pk.k` is 16 i32; unaligned store.
            unsafe { _mm512_storeu_si512(pk.k.as_mut_ptr().cast(), k) };
        }
    }
}

/// A batch of Q8 activations in the layout [`q8_tile`] reads: its whole groups of eight tokens,
/// then a group of four if at least four are left (the rest stay in [`BlockQ8`] form). Built
/// once per batch and shared by every row chunk of a split product, so the repacking is not
/// repeated by each worker; built in parts of whole groups (see [`PackedQ8::parts`]), so it can
/// be split over workers too.
#[derive(Default)]
pub(super) struct PackedQ8 {
    b: usize,
    per: usize,
    g8: Vec<Group<4>>,
    g4: Vec<Group<2>>,
}

impl core::fmt::Debug for PackedQ8 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedQ8").field("b", &self.b).field("per", &self.per).finish_non_exhaustive()
    }
}

/// The groups of one run of tokens of a [`PackedQ8`], packed by [`PackedQ8Part::fill`].
pub(super) struct PackedQ8Part<'a> {
    per: usize,
    g8: &'a mut [Group<4>],
    g4: &'a mut [Group<2>],
}

impl PackedQ8 {
    /// Makes room for `b` tokens of `per` blocks and hands out the packing in parts of `tokens`
    /// tokens (a multiple of 8, checked by [`super::Packed::parts`]; the last part may be
    /// shorter), in token order.
    pub(super) fn parts(&mut self, b: usize, per: usize, tokens: usize) -> Vec<PackedQ8Part<'_>> {
        let (eights, fours) = (b / 8, usize::from(b % 8 >= 4));
        // Grown, never shrunk: products of different widths alternate, and growing copies each
        // group into place again.
        if self.g8.len() < eights * per {
            self.g8.resize(eights * per, Group { q: [[0; 64]; 4], d: [0.0; 16], k: [0; 16] });
        }
        if self.g4.len() < fours * per {
            self.g4.resize(fours * per, Group { q: [[0; 64]; 2], d: [0.0; 16], k: [0; 16] });
        }
        (self.b, self.per) = (b, per);
        let mut g8 = &mut self.g8[..eights * per];
        let mut parts = Vec::with_capacity(b.div_ceil(tokens));
        for start in (0..b).step_by(tokens) {
            let n = tokens.min(b - start);
            let (mine, rest) = core::mem::take(&mut g8).split_at_mut(n / 8 * per);
            g8 = rest;
            parts.push(PackedQ8Part { per, g8: mine, g4: &mut [] });
        }
        if let Some(last) = parts.last_mut() {
            last.g4 = &mut self.g4[..fours * per];
        }
        parts
    }
}

impl PackedQ8Part<'_> {
    /// Packs the part's tokens, `x` their Q8 blocks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    fn fill(&mut self, x: &[BlockQ8]) {
        pack::<4>(x, self.per, 0, self.g8);
        pack::<2>(x, self.per, 8 * (self.g8.len() / self.per.max(1)), self.g4);
    }
}

/// Q8_0 weights times Q8 activations for R rows and one group of 2V tokens (see [`Group`]).
/// `vpdpbusd` multiplies unsigned by signed bytes: the weights (−128..=127) plus 128 are unsigned
/// (their top bit flipped), and the 128·Σa this adds is taken off exactly with the correction
/// [`pack`] stored once per call. With the tokens' bytes interleaved by [`pack`], the V products
/// of a weight block accumulate in one register and the float work (conversion, scale, FMA) is
/// one vector per row and block for all 2V tokens.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn q8_tile<const R: usize, const V: usize>(w: [&[u8]; R], x: &[Group<V>]) -> [[f32; 16]; R] {
    const BS: usize = 34;
    let c = 32 / V;
    let mut acc = [_mm512_setzero_ps(); R];
    let nb = w.iter().map(|w| w.len() / BS).chain([x.len()]).min().unwrap_or(0);
    for (i, g) in x[..nb].iter().enumerate() {
        // SAFETY: `g.d` is 16 floats; unaligned load.
        let ad = unsafe { _mm512_loadu_ps(g.d.as_ptr()) };
        // SAFETY: `g.k` is 16 i32; unaligned load.
        let k = unsafe { _mm512_loadu_si512(g.k.as_ptr().cast()) };
        // SAFETY: each `g.q[v]` is 64 bytes; unaligned loads.
        let au: [__m512i; V] = core::array::from_fn(|v| unsafe { _mm512_loadu_si512(g.q[v].as_ptr().cast()) });
        for r in 0..R {
            let b = &w[r][i * BS..(i + 1) * BS];
            let wd = _mm512_cvtph_ps(_mm256_set1_epi16(i16::from_le_bytes([b[0], b[1]])));
            let mut s = _mm512_setzero_si512();
            for (v, a) in au.iter().enumerate() {
                let piece = &b[2 + c * v..2 + c * (v + 1)];
                let wq = if V == 4 {
                    let u = u64::from_le_bytes([
                        piece[0], piece[1], piece[2], piece[3], piece[4], piece[5], piece[6], piece[7],
                    ]);
                    _mm512_set1_epi64((u ^ 0x8080_8080_8080_8080) as i64)
                } else {
                    _mm512_xor_si512(_mm512_broadcast_i32x4(ld128(piece)), _mm512_set1_epi8(-128))
                };
                s = _mm512_dpbusd_epi32(s, wq, *a);
            }
            let s = _mm512_sub_epi32(s, k);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(wd, ad), _mm512_cvtepi32_ps(s), acc[r]);
        }
    }
    let mut out = [[0.0f32; 16]; R];
    for r in 0..R {
        // SAFETY: `out[r]` has room for 16 floats.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
    }
    out
}

/// Asks for `w[range]` (clipped to `w`) to be brought into the cache: the batched kernels call it
/// for the next tile's weight rows while the current tile computes. Their loads of the current
/// tile then hit instead of waiting on memory at the start of each tile (where the hardware
/// prefetcher has not yet caught up with a new row): SmolLM2 Q8_0 prompts +1 % on one thread
/// and +3 % on two.
#[inline(always)]
fn prefetch(w: &[u8], range: core::ops::Range<usize>) {
    let next = &w[range.start.min(w.len())..range.end.min(w.len())];
    for line in (0..next.len()).step_by(64) {
        // SAFETY: `line` is inside `next`, so the address is in bounds; a prefetch is only a hint
        // and reads nothing architecturally.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(next.as_ptr().add(line).cast()) };
    }
}

/// Each token's total of a [`q8_tile`] row (its lanes in ascending order), for the 2V tokens
/// from `t0`.
#[inline(always)]
fn scatter<const V: usize>(lanes: &[f32; 16], r: usize, t0: usize, out: &mut [&mut [f32]]) {
    let g = 2 * V;
    let mut sum = [0.0f32; 8];
    for (l, v) in lanes.iter().enumerate() {
        sum[l * g / 16] += v;
    }
    for (o, v) in out[t0..t0 + g].iter_mut().zip(sum) {
        o[r] = v;
    }
}

/// [`matmul512`] for Q8_0, with the activations also packed (`p`, built from `x`): R rows by
/// eight tokens per tile, then four, then single tokens; leftover rows go through the same
/// arithmetic one row at a time, so each output is the same whichever way the rows are split
/// between threads.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn matmul512_q8<const R: usize>(w: &[u8], rows: usize, x: &[BlockQ8], p: &PackedQ8, b: usize, out: &mut [&mut [f32]]) {
    if rows == 0 || b == 0 {
        return;
    }
    if b < 4 {
        return matmul::<Q8_0>(w, rows, x, b, out);
    }
    let rb = w.len() / rows;
    let per = x.len() / b;
    let row = |r: usize| &w[r * rb..(r + 1) * rb];
    let (eights, four) = (b / 8, b % 8 >= 4);
    let done = 8 * eights + if four { 4 } else { 0 };
    let mut r = 0;
    while r < rows {
        let n = if r + R <= rows { R } else { 1 };
        let tile_rows: [&[u8]; R] = core::array::from_fn(|i| row((r + i).min(rows - 1)));
        prefetch(w, (r + R) * rb..(r + 2 * R) * rb);
        for g in 0..eights {
            let x = &p.g8[g * per..(g + 1) * per];
            if n == R {
                let o = q8_tile::<R, 4>(tile_rows, x);
                for (i, o) in o.iter().enumerate() {
                    scatter::<4>(o, r + i, 8 * g, out);
                }
            } else {
                scatter::<4>(&q8_tile::<1, 4>([row(r)], x)[0], r, 8 * g, out);
            }
        }
        for i in 0..n {
            if four {
                scatter::<2>(&q8_tile::<1, 2>([row(r + i)], &p.g4[..per])[0], r + i, 8 * eights, out);
            }
            for t in done..b {
                out[t][r + i] = dot1::<Q8_0>(row(r + i), &x[t * per..(t + 1) * per]);
            }
        }
        r += n;
    }
}

/// [`matmul512_q8`] packing the activations itself (for callers without a shared packing).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn matmul512_q8_own(w: &[u8], rows: usize, x: &[BlockQ8], b: usize, out: &mut [&mut [f32]]) {
    let mut p = PackedQ8::default();
    let per = x.len().checked_div(b).unwrap_or(0);
    for mut part in p.parts(b, per, b.next_multiple_of(8).max(8)) {
        part.fill(x);
    }
    matmul512_q8::<4>(w, rows, x, &p, b, out)
}

/// Safe entry points for the AVX-512 matrix kernels.
macro_rules! avx512_matmul_entry {
    ($name:ident, $kernel:expr) => {
        fn $name(w: &[u8], rows: usize, x: &[BlockQ8], b: usize, out: &mut [&mut [f32]]) {
            // SAFETY: handed out only by `avx512_matmul`, which `simd::matmul` calls only for
            // `Isa::Avx512`, which `Kernels` holds only after `detect_isa` found AVX-512 F/BW/VL,
            // VNNI, AVX2, FMA and F16C usable (ZMM state enabled in XCR0).
            unsafe { $kernel(w, rows, x, b, out) }
        }
    };
}

avx512_matmul_entry!(matmul512_q4_0, matmul512::<Q4_0>);
avx512_matmul_entry!(matmul512_q4_1, matmul512::<Q4_1>);
avx512_matmul_entry!(matmul512_q5_0, matmul512::<Q5_0>);
avx512_matmul_entry!(matmul512_q5_1, matmul512::<Q5_1>);
avx512_matmul_entry!(matmul512_q8_0, matmul512_q8_own);

fn pack512_q8_0(x: &[BlockQ8], part: &mut super::PackedPart<'_>) {
    // SAFETY: as for `avx512_matmul_entry`: handed out only by `avx512_packed_matmul`, for
    // `Isa::Avx512` only, which `Kernels` holds only once AVX-512 F/BW/VL and VNNI are usable.
    unsafe { part.q8.fill(x) }
}

fn packed512_q8_0(w: &[u8], rows: usize, x: &[BlockQ8], p: &super::Packed, b: usize, out: &mut [&mut [f32]]) {
    let per = x.len().checked_div(b).unwrap_or(0);
    if b >= 4 && (b != p.q8.b || per != p.q8.per) {
        // A packing of another batch: never handed in by the engine, but stay correct.
        return matmul512_q8_0(w, rows, x, b, out);
    }
    // SAFETY: as for `avx512_matmul_entry` (see `pack512_q8_0`).
    unsafe { matmul512_q8::<4>(w, rows, x, &p.q8, b, out) }
}

/// The AVX-512 kernel for `ty` that reads activations packed once per batch, if there is one.
pub(super) fn avx512_packed_matmul(ty: TensorType) -> Option<PackedMatmul> {
    match ty {
        TensorType::Q8_0 => Some(PackedMatmul { pack: pack512_q8_0, run: packed512_q8_0 }),
        _ => None,
    }
}

pub(super) fn avx512_matmul(ty: TensorType) -> Option<MatmulFn> {
    Some(match ty {
        TensorType::Q4_0 => matmul512_q4_0,
        TensorType::Q4_1 => matmul512_q4_1,
        TensorType::Q5_0 => matmul512_q5_0,
        TensorType::Q5_1 => matmul512_q5_1,
        TensorType::Q8_0 => matmul512_q8_0,
        _ => return None,
    })
}

// ---------------------------------------------------------------- activation quantisation

/// [`crate::tensor::quant::quantize_q8`] with AVX2: the same operations in the same order (scale
/// `amax / 127`, multiply by its inverse, add ±0.5, truncate), so the results are identical.
#[target_feature(enable = "avx2,fma,f16c")]
fn avx2_quantize_q8(x: &[f32], out: &mut [BlockQ8]) {
    let sign = _mm256_set1_ps(-0.0);
    let half = _mm256_set1_ps(0.5);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (chunk, b) in x.chunks_exact(32).zip(out.iter_mut()) {
        // SAFETY: `chunk` is 32 floats; each load reads 8 of them.
        let v = unsafe {
            [
                _mm256_loadu_ps(chunk.as_ptr()),
                _mm256_loadu_ps(chunk[8..].as_ptr()),
                _mm256_loadu_ps(chunk[16..].as_ptr()),
                _mm256_loadu_ps(chunk[24..].as_ptr()),
            ]
        };
        let abs = v.map(|v| _mm256_andnot_ps(sign, v));
        let m = _mm256_max_ps(_mm256_max_ps(abs[0], abs[1]), _mm256_max_ps(abs[2], abs[3]));
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let m = _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
        let d = m / 127.0;
        let id = _mm256_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
        let q = v.map(|v| {
            let s = _mm256_mul_ps(v, id);
            _mm256_cvttps_epi32(_mm256_add_ps(s, _mm256_or_ps(half, _mm256_and_ps(sign, s))))
        });
        let sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        let sum = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        let packed = _mm256_permutevar8x32_epi32(packed, order);
        // SAFETY: `b.qs` is 32 bytes; unaligned store.
        unsafe { _mm256_storeu_si256(b.qs.as_mut_ptr().cast(), packed) };
        b.d = d;
        b.s = d * hsum128_epi32(sum) as f32;
    }
}

/// AVX2 activation quantisation.
pub(super) fn quantize_q8(x: &[f32], out: &mut [BlockQ8]) {
    // SAFETY: called by `simd::quantize_q8` only for `Isa::Avx2`/`Isa::Avx512`, which `Kernels`
    // holds only after `detect_isa` found AVX2, FMA and F16C usable.
    unsafe { avx2_quantize_q8(x, out) }
}

// ---------------------------------------------------------------- K-quant prompt tiles (AVX2)

/// Q4_K / Q5_K (FIVE) weight row times four tokens: each 64-value chunk is unpacked once for all
/// four tokens.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_toks4<const FIVE: bool>(w: &[u8], x: [&[BlockQ8K]; 4]) -> [f32; 4] {
    let bs = if FIVE { 176 } else { 144 };
    let qs_at = if FIVE { 48 } else { 16 };
    let mask = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut corr = [0.0f32; 4];
    let blocks = w.chunks_exact(bs).zip(x[0].iter().zip(x[1])).zip(x[2].iter().zip(x[3]));
    for ((b, (a0, a1)), (a2, a3)) in blocks {
        let a = [a0, a1, a2, a3];
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let mut qh = if FIVE { ld256(&b[16..]) } else { _mm256_setzero_si256() };
        let mut isum = [_mm256_setzero_si256(); 4];
        for c in 0..4 {
            let qs = ld256(&b[qs_at + 32 * c..]);
            let mut lo = _mm256_and_si256(qs, mask);
            let mut hi = _mm256_and_si256(_mm256_srli_epi16(qs, 4), mask);
            if FIVE {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
                qh = _mm256_srli_epi16(qh, 2);
            }
            let (slo, shi) = (_mm256_set1_epi16(i16::from(sc[2 * c])), _mm256_set1_epi16(i16::from(sc[2 * c + 1])));
            for t in 0..4 {
                let plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ld256_i8(&a[t].qs[64 * c..])), slo);
                let phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, ld256_i8(&a[t].qs[64 * c + 32..])), shi);
                isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(plo, phi));
            }
        }
        let (d, dmin) = (f16c(b, 0), f16c(b, 2));
        for t in 0..4 {
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[t].d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            corr[t] -= dmin * a[t].d * k4_min_sum(&mn, &a[t].bsums) as f32;
        }
    }
    [0, 1, 2, 3].map(|t| hsum256_ps(acc[t]) + corr[t])
}

/// Q6_K weight row times four tokens.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q6k_toks4(w: &[u8], x: [&[BlockQ8K]; 4]) -> [f32; 4] {
    let m4 = _mm256_set1_epi8(0x0F);
    let m2 = _mm256_set1_epi8(0x03);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut corr = [0.0f32; 4];
    let blocks = w.chunks_exact(210).zip(x[0].iter().zip(x[1])).zip(x[2].iter().zip(x[3]));
    for ((b, (a0, a1)), (a2, a3)) in blocks {
        let a = [a0, a1, a2, a3];
        let scales = &b[192..208];
        let mut isum = [_mm256_setzero_si256(); 4];
        for n in 0..2 {
            let ql0 = ld256(&b[64 * n..]);
            let ql1 = ld256(&b[64 * n + 32..]);
            let qh = ld256(&b[128 + 32 * n..]);
            let high = |shift: __m128i| _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, shift), m2), 4);
            let qv = [
                _mm256_or_si256(_mm256_and_si256(ql0, m4), high(_mm_cvtsi32_si128(0))),
                _mm256_or_si256(_mm256_and_si256(ql1, m4), high(_mm_cvtsi32_si128(2))),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), high(_mm_cvtsi32_si128(4))),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), high(_mm_cvtsi32_si128(6))),
            ];
            for (k, q) in qv.into_iter().enumerate() {
                let g = 8 * n + 2 * k;
                let sv = _mm256_set_m128i(
                    _mm_set1_epi16(i16::from(scales[g + 1] as i8)),
                    _mm_set1_epi16(i16::from(scales[g] as i8)),
                );
                for t in 0..4 {
                    let p = _mm256_maddubs_epi16(q, ld256_i8(&a[t].qs[128 * n + 32 * k..]));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sv));
                }
            }
        }
        let d = f16c(b, 208);
        for t in 0..4 {
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[t].d), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            corr[t] -= d * a[t].d * (32 * q6k_offset_sum(scales, &a[t].bsums)) as f32;
        }
    }
    [0, 1, 2, 3].map(|t| hsum256_ps(acc[t]) + corr[t])
}

/// Whole K-quant matrix times a batch (layout as for [`MatmulFn`], activations in Q8_K).
/// KIND: 0 = Q4_K, 1 = Q5_K, 2 = Q6_K.
#[target_feature(enable = "avx2,fma,f16c")]
// `r` picks a weight row and a column of every token's output row, not an element of `out`.
#[allow(clippy::needless_range_loop)]
fn matmul_k<const KIND: u8>(w: &[u8], rows: usize, x: &[BlockQ8K], b: usize, out: &mut [&mut [f32]]) {
    if rows == 0 || b == 0 {
        return;
    }
    let rb = w.len() / rows;
    let per = x.len() / b;
    let row = |r: usize| &w[r * rb..(r + 1) * rb];
    let tok = |t: usize| &x[t * per..(t + 1) * per];
    let one = |w: &[u8], x: &[BlockQ8K]| match KIND {
        0 => avx2_k4::<false>(w, x),
        1 => avx2_k4::<true>(w, x),
        _ => avx2_q6_k(w, x),
    };
    for r in 0..rows {
        if b >= 4 {
            prefetch(w, (r + 1) * rb..(r + 2) * rb);
        }
        let mut t = 0;
        while t + 4 <= b {
            let toks = [tok(t), tok(t + 1), tok(t + 2), tok(t + 3)];
            let o = match KIND {
                0 => k4_toks4::<false>(row(r), toks),
                1 => k4_toks4::<true>(row(r), toks),
                _ => q6k_toks4(row(r), toks),
            };
            for (k, v) in o.into_iter().enumerate() {
                out[t + k][r] = v;
            }
            t += 4;
        }
        while t < b {
            out[t][r] = one(row(r), tok(t));
            t += 1;
        }
    }
}

/// Safe entry points for the AVX2 K-quant matrix kernels.
macro_rules! avx2_matmul_k_entry {
    ($name:ident, $kernel:expr) => {
        fn $name(w: &[u8], rows: usize, x: &[BlockQ8K], b: usize, out: &mut [&mut [f32]]) {
            // SAFETY: handed out only by `avx2_matmul_k`, under the same guarantee as `avx2_entry`.
            unsafe { $kernel(w, rows, x, b, out) }
        }
    };
}

avx2_matmul_k_entry!(matmul_q4_k, matmul_k::<0>);
avx2_matmul_k_entry!(matmul_q5_k, matmul_k::<1>);
avx2_matmul_k_entry!(matmul_q6_k, matmul_k::<2>);

pub(super) fn avx2_matmul_k(ty: TensorType) -> Option<MatmulKFn> {
    Some(match ty {
        TensorType::Q4K => matmul_q4_k,
        TensorType::Q5K => matmul_q5_k,
        TensorType::Q6K => matmul_q6_k,
        _ => return None,
    })
}
