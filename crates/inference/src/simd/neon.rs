//! AArch64 Advanced SIMD kernels (baseline NEON, no dot-product extension): bytes are
//! multiplied into i16 with `vmull_s8` and accumulated pairwise into i32 with `vpadalq_s16`.
//! Weight values (0..=63) fit in a signed byte, so one signed path serves every format.

use core::arch::aarch64::*;

use crate::tensor::quant::{BlockQ8, BlockQ8K};
use crate::tensor::scalar::{f16_at, k4_min_sum, q5_values, q6k_offset_sum, q6k_values, scales_mins_k4};
use crate::tensor::{DotFn, TensorType};

#[target_feature(enable = "neon")]
#[inline]
fn ld16(b: &[u8]) -> int8x16_t {
    let b = &b[..16];
    // SAFETY: `b` is 16 readable bytes; `vld1q` has no alignment requirement beyond the element's.
    unsafe { vreinterpretq_s8_u8(vld1q_u8(b.as_ptr())) }
}

#[target_feature(enable = "neon")]
#[inline]
fn ld16_i8(a: &[i8]) -> int8x16_t {
    let a = &a[..16];
    // SAFETY: `a` is 16 readable bytes.
    unsafe { vld1q_s8(a.as_ptr()) }
}

/// acc += pairwise sums of q·a over 16 bytes (each product fits i16: |q·a| ≤ 128·128).
#[target_feature(enable = "neon")]
#[inline]
fn dot16(acc: int32x4_t, q: int8x16_t, a: int8x16_t) -> int32x4_t {
    let lo = vmull_s8(vget_low_s8(q), vget_low_s8(a));
    let hi = vmull_high_s8(q, a);
    vpadalq_s16(vpadalq_s16(acc, lo), hi)
}

#[target_feature(enable = "neon")]
fn q4<const MIN: bool>(w: &[u8], x: &[BlockQ8]) -> f32 {
    let bs = if MIN { 20 } else { 18 };
    let mask = vdupq_n_s8(0x0F);
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16_at(b, 0);
        let (c, off) = if MIN { (f16_at(b, 2), 4) } else { (-8.0 * d, 2) };
        let qs = ld16(&b[off..]);
        let lo = vandq_s8(qs, mask);
        let hi = vreinterpretq_s8_u8(vshrq_n_u8(vreinterpretq_u8_s8(qs), 4));
        let acc = dot16(dot16(vdupq_n_s32(0), lo, ld16_i8(&a.qs)), hi, ld16_i8(&a.qs[16..]));
        sum += d * a.d * vaddvq_s32(acc) as f32 + c * a.s;
    }
    sum
}

#[target_feature(enable = "neon")]
fn q5<const MIN: bool>(w: &[u8], x: &[BlockQ8]) -> f32 {
    let bs = if MIN { 24 } else { 22 };
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16_at(b, 0);
        let (c, off) = if MIN { (f16_at(b, 2), 4) } else { (-16.0 * d, 2) };
        let qh = u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]);
        let q = q5_values(qh, &b[off + 4..off + 20]);
        let acc = dot16(dot16(vdupq_n_s32(0), ld16(&q), ld16_i8(&a.qs)), ld16(&q[16..]), ld16_i8(&a.qs[16..]));
        sum += d * a.d * vaddvq_s32(acc) as f32 + c * a.s;
    }
    sum
}

#[target_feature(enable = "neon")]
fn q8_0(w: &[u8], x: &[BlockQ8]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(34).zip(x) {
        let acc = dot16(dot16(vdupq_n_s32(0), ld16(&b[2..]), ld16_i8(&a.qs)), ld16(&b[18..]), ld16_i8(&a.qs[16..]));
        sum += f16_at(b, 0) * a.d * vaddvq_s32(acc) as f32;
    }
    sum
}

#[target_feature(enable = "neon")]
fn k4<const FIVE: bool>(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let bs = if FIVE { 176 } else { 144 };
    let qs_at = if FIVE { 48 } else { 16 };
    let mask = vdupq_n_s8(0x0F);
    let one = vdupq_n_s8(1);
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let mut isum = 0i32;
        for c in 0..4 {
            let mut plo = vdupq_n_s32(0);
            let mut phi = vdupq_n_s32(0);
            for h in 0..2 {
                let qs = ld16(&b[qs_at + 32 * c + 16 * h..]);
                let mut lo = vandq_s8(qs, mask);
                let mut hi = vreinterpretq_s8_u8(vshrq_n_u8(vreinterpretq_u8_s8(qs), 4));
                if FIVE {
                    let qh = vreinterpretq_u8_s8(ld16(&b[16 + 16 * h..]));
                    let b0 = vreinterpretq_s8_u8(vshlq_u8(qh, vdupq_n_s8(-(2 * c as i8))));
                    let b1 = vreinterpretq_s8_u8(vshlq_u8(qh, vdupq_n_s8(-(2 * c as i8 + 1))));
                    lo = vorrq_s8(lo, vshlq_n_s8(vandq_s8(b0, one), 4));
                    hi = vorrq_s8(hi, vshlq_n_s8(vandq_s8(b1, one), 4));
                }
                plo = dot16(plo, lo, ld16_i8(&a.qs[64 * c + 16 * h..]));
                phi = dot16(phi, hi, ld16_i8(&a.qs[64 * c + 32 + 16 * h..]));
            }
            isum += i32::from(sc[2 * c]) * vaddvq_s32(plo) + i32::from(sc[2 * c + 1]) * vaddvq_s32(phi);
        }
        sum += a.d * (f16_at(b, 0) * isum as f32 - f16_at(b, 2) * k4_min_sum(&mn, &a.bsums) as f32);
    }
    sum
}

#[target_feature(enable = "neon")]
fn q6_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(210).zip(x) {
        let q = q6k_values(b);
        let scales = &b[192..208];
        let mut isum = 0i32;
        for g in 0..16 {
            let p = dot16(vdupq_n_s32(0), ld16(&q[16 * g..]), ld16_i8(&a.qs[16 * g..]));
            isum += i32::from(scales[g] as i8) * vaddvq_s32(p);
        }
        isum -= 32 * q6k_offset_sum(scales, &a.bsums);
        sum += f16_at(b, 208) * a.d * isum as f32;
    }
    sum
}

#[target_feature(enable = "neon")]
fn f32_dot(w: &[u8], x: &[f32]) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    let mut wc = w.chunks_exact(16);
    let mut xc = x.chunks_exact(4);
    for (wb, xs) in (&mut wc).zip(&mut xc) {
        // SAFETY: `wb` is 16 bytes (read as bytes, then reinterpreted) and `xs` is 4 floats.
        let (wv, xv) = unsafe { (vreinterpretq_f32_u8(vld1q_u8(wb.as_ptr())), vld1q_f32(xs.as_ptr())) };
        acc = vfmaq_f32(acc, wv, xv);
    }
    vaddvq_f32(acc) + crate::tensor::scalar::dot_f32(wc.remainder(), xc.remainder())
}

/// Safe entry points for the NEON kernels.
macro_rules! entry {
    ($name:ident, $kernel:expr, $act:ty) => {
        fn $name(w: &[u8], x: &[$act]) -> f32 {
            // SAFETY: `dot` hands these out only when the build enables NEON, which every AArch64
            // target moteOS uses does (Advanced SIMD is mandatory in ARMv8-A).
            unsafe { $kernel(w, x) }
        }
    };
}

entry!(q4_0_entry, q4::<false>, BlockQ8);
entry!(q4_1_entry, q4::<true>, BlockQ8);
entry!(q5_0_entry, q5::<false>, BlockQ8);
entry!(q5_1_entry, q5::<true>, BlockQ8);
entry!(q8_0_entry, q8_0, BlockQ8);
entry!(q4_k_entry, k4::<false>, BlockQ8K);
entry!(q5_k_entry, k4::<true>, BlockQ8K);
entry!(q6_k_entry, q6_k, BlockQ8K);
entry!(f32_entry, f32_dot, f32);

pub(super) fn dot(ty: TensorType) -> Option<DotFn> {
    if !cfg!(target_feature = "neon") {
        return None;
    }
    Some(match ty {
        TensorType::F32 => DotFn::F32(f32_entry),
        TensorType::Q4_0 => DotFn::Q8(q4_0_entry),
        TensorType::Q4_1 => DotFn::Q8(q4_1_entry),
        TensorType::Q5_0 => DotFn::Q8(q5_0_entry),
        TensorType::Q5_1 => DotFn::Q8(q5_1_entry),
        TensorType::Q8_0 => DotFn::Q8(q8_0_entry),
        TensorType::Q4K => DotFn::Q8K(q4_k_entry),
        TensorType::Q5K => DotFn::Q8K(q5_k_entry),
        TensorType::Q6K => DotFn::Q8K(q6_k_entry),
        _ => return None,
    })
}
