//! Quantised activations (what the weights are multiplied with) and the small weight quantiser
//! (F32 → Q8_0 and Q4_K) used to make other variants of a model.

use alloc::vec::Vec;

/// Elements per 32-wide block.
pub const QK: usize = 32;
/// Elements per K-quant super-block.
pub const QK_K: usize = 256;

/// 32 activations quantised to 8 bits for the dot products with 32-wide weight blocks.
///
/// The scale is kept as f32 (ggml keeps f16): activations are quantised once per matrix
/// multiplication, so the extra precision costs nothing measurable.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct BlockQ8 {
    /// Scale: value ≈ `d * qs[i]`.
    pub d: f32,
    /// `d * Σ qs`: lets weight formats with an offset or minimum fold it in with one multiply.
    pub s: f32,
    /// Quantised values.
    pub qs: [i8; QK],
}

/// 256 activations quantised to 8 bits for the K-quant dot products.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct BlockQ8K {
    /// Scale: value ≈ `d * qs[i]`.
    pub d: f32,
    /// Quantised values.
    pub qs: [i8; QK_K],
    /// Sums of each group of 16 `qs` (for the weights' minimums / offsets).
    pub bsums: [i16; QK_K / 16],
}

impl Default for BlockQ8 {
    fn default() -> Self {
        Self { d: 0.0, s: 0.0, qs: [0; QK] }
    }
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self { d: 0.0, qs: [0; QK_K], bsums: [0; QK_K / 16] }
    }
}

/// Rounds half away from zero (up to one ulp at the halfway point) and clamps to the i8 range.
///
/// Written as add-half-then-truncate instead of `libm::roundf`: the activations of every matrix
/// product go through here, and the libm call (not vectorisable) was 8 % of prompt time.
#[inline]
fn to_i8(v: f32) -> i8 {
    (v + 0.5f32.copysign(v)).clamp(-127.0, 127.0) as i8
}

fn amax(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Quantises `x` (a multiple of 32 long) into `out` (one block per 32 values).
pub fn quantize_q8(x: &[f32], out: &mut [BlockQ8]) {
    for (chunk, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let m = amax(chunk);
        let d = m / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(chunk) {
            *q = to_i8(v * id);
            sum += i32::from(*q);
        }
        b.d = d;
        b.s = d * sum as f32;
    }
}

/// Quantises `x` (a multiple of 256 long) into `out` (one block per 256 values).
pub fn quantize_q8k(x: &[f32], out: &mut [BlockQ8K]) {
    for (chunk, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let m = amax(chunk);
        let d = m / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        for (q, &v) in b.qs.iter_mut().zip(chunk) {
            *q = to_i8(v * id);
        }
        for (s, g) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = g.iter().map(|&q| i16::from(q)).sum();
        }
        b.d = d;
    }
}

fn put_f16(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
}

/// Quantises one row of weights (a multiple of 32 long) to Q8_0 bytes, appended to `out`.
pub fn quantize_row_q8_0(x: &[f32], out: &mut Vec<u8>) {
    for chunk in x.chunks_exact(QK) {
        let d = amax(chunk) / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        put_f16(out, d);
        out.extend(chunk.iter().map(|&v| to_i8(v * id) as u8));
    }
}

/// Best 4-bit scale and (non-negative) minimum for 32 values so that `x ≈ scale * q - min`, q in 0..=15.
///
/// Starts from the range-based fit and tries a few shrunken scales, keeping the one with the
/// lowest squared error after refitting the minimum by least squares.
fn fit_scale_min(x: &[f32]) -> (f32, f32) {
    let lo = x.iter().fold(f32::INFINITY, |m, &v| m.min(v)).min(0.0);
    let hi = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if hi <= lo {
        return (0.0, -lo);
    }
    let mut best = ((hi - lo) / 15.0, -lo);
    let mut best_err = f32::INFINITY;
    for step in 0..12 {
        let scale = (hi - lo) / (15.0 + step as f32 * 0.25);
        let mut min = -lo;
        // Two rounds: quantise with (scale, min), then refit min by least squares (clamped ≥ 0).
        for _ in 0..2 {
            let mut resid = 0.0f32;
            for &v in x {
                let q = libm::roundf((v + min) / scale).clamp(0.0, 15.0);
                resid += scale * q - v;
            }
            min = (resid / x.len() as f32).max(0.0);
        }
        let err: f32 = x
            .iter()
            .map(|&v| {
                let q = libm::roundf((v + min) / scale).clamp(0.0, 15.0);
                let e = scale * q - min - v;
                e * e
            })
            .sum();
        if err < best_err {
            best_err = err;
            best = (scale, min);
        }
    }
    best
}

/// Quantises one row of weights (a multiple of 256 long) to Q4_K bytes, appended to `out`.
pub fn quantize_row_q4_k(x: &[f32], out: &mut Vec<u8>) {
    for sb in x.chunks_exact(QK_K) {
        let mut scales = [0f32; 8];
        let mut mins = [0f32; 8];
        for (j, sub) in sb.chunks_exact(QK).enumerate() {
            (scales[j], mins[j]) = fit_scale_min(sub);
        }
        // Super-block scales map the largest sub-block scale/min to 63 (6 bits).
        let max_scale = scales.iter().fold(0.0f32, |m, &v| m.max(v));
        let max_min = mins.iter().fold(0.0f32, |m, &v| m.max(v));
        let d = max_scale / 63.0;
        let dmin = max_min / 63.0;
        // Store what the reader will see (f16-rounded) so the 6-bit codes are fitted to it.
        let d = half::f16::from_f32(d).to_f32();
        let dmin = half::f16::from_f32(dmin).to_f32();
        let mut sc = [0u8; 8];
        let mut mn = [0u8; 8];
        for j in 0..8 {
            sc[j] = if d > 0.0 { libm::roundf(scales[j] / d).clamp(0.0, 63.0) as u8 } else { 0 };
            mn[j] = if dmin > 0.0 { libm::roundf(mins[j] / dmin).clamp(0.0, 63.0) as u8 } else { 0 };
        }
        let mut q = [0u8; QK_K];
        for (j, sub) in sb.chunks_exact(QK).enumerate() {
            let s = d * f32::from(sc[j]);
            let m = dmin * f32::from(mn[j]);
            for (qi, &v) in q[j * QK..(j + 1) * QK].iter_mut().zip(sub) {
                *qi = if s > 0.0 { libm::roundf((v + m) / s).clamp(0.0, 15.0) as u8 } else { 0 };
            }
        }
        put_f16(out, d);
        put_f16(out, dmin);
        let mut packed = [0u8; 12];
        for j in 0..4 {
            packed[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
            packed[j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6);
            packed[j + 8] = (sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4);
        }
        out.extend_from_slice(&packed);
        for c in 0..4 {
            for l in 0..32 {
                out.push(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
            }
        }
    }
}
