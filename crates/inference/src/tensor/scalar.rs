//! Portable reference kernels: dequantisation of every supported weight block, and the fused
//! quantised dot products the SIMD paths are tested against.
//!
//! Callers pass whole blocks: `w.len()` is a multiple of the type's block size in bytes and the
//! activation slice has (at least) one block per weight block; `chunks_exact` + `zip` keep a
//! mismatch from ever reading out of bounds.

use super::quant::{BlockQ8, BlockQ8K};

/// Reads a little-endian f16 at `i`.
#[inline]
pub(crate) fn f16_at(b: &[u8], i: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[i], b[i + 1]]))
}

/// f16 bits → f32, exactly, without branches.
///
/// The block loops convert one or two scales per 32 weights; without F16C, `half`'s software
/// conversion held SSE2 Q4_1 generation at 66 tokens/s; with this it runs at 80 (this host).
/// Shifting the exponent and mantissa into f32 position and multiplying by 2^112 re-biases the
/// exponent and normalises subnormals in one go; infinities and NaNs are patched by a select.
#[inline]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let em = h & 0x7fff;
    let scaled = f32::from_bits(em << 13) * f32::from_bits(0x7780_0000);
    let special = f32::from_bits((em << 13) | 0x7f80_0000);
    let v = if em >= 0x7c00 { special } else { scaled };
    f32::from_bits(v.to_bits() | sign)
}

/// The 6-bit scale and minimum of sub-block `j` from the 12 packed bytes of a Q4_K/Q5_K block.
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// All eight (scale, min) pairs of a Q4_K/Q5_K block.
#[inline]
pub(crate) fn scales_mins_k4(q: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        (sc[j], mn[j]) = scale_min_k4(j, q);
    }
    (sc, mn)
}

// ---- dequantisation (one row; `out.len()` elements) ----

pub(crate) fn dequant_f32(w: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(w.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub(crate) fn dequant_f16(w: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(w.chunks_exact(2)) {
        *o = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

pub(crate) fn dequant_bf16(w: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(w.chunks_exact(2)) {
        *o = half::bf16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

/// Q4_0 and Q4_1 share a layout of nibbles; `min` is `None` for Q4_0 (offset 8).
fn dequant_q4(w: &[u8], out: &mut [f32], with_min: bool) {
    let bs = if with_min { 20 } else { 18 };
    for (b, o) in w.chunks_exact(bs).zip(out.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let (m, qs) = if with_min { (f16_at(b, 2), &b[4..20]) } else { (-8.0 * d, &b[2..18]) };
        for j in 0..16 {
            o[j] = f32::from(qs[j] & 0xF) * d + m;
            o[j + 16] = f32::from(qs[j] >> 4) * d + m;
        }
    }
}

pub(crate) fn dequant_q4_0(w: &[u8], out: &mut [f32]) {
    dequant_q4(w, out, false);
}

pub(crate) fn dequant_q4_1(w: &[u8], out: &mut [f32]) {
    dequant_q4(w, out, true);
}

/// The 32 five-bit values of a Q5_0/Q5_1 block from its high-bit word and nibbles.
#[inline]
pub(crate) fn q5_values(qh: u32, qs: &[u8]) -> [u8; 32] {
    let mut v = [0u8; 32];
    for j in 0..16 {
        v[j] = (qs[j] & 0xF) | ((((qh >> j) & 1) as u8) << 4);
        v[j + 16] = (qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
    }
    v
}

fn dequant_q5(w: &[u8], out: &mut [f32], with_min: bool) {
    let bs = if with_min { 24 } else { 22 };
    for (b, o) in w.chunks_exact(bs).zip(out.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let (m, rest) = if with_min { (f16_at(b, 2), &b[4..]) } else { (-16.0 * d, &b[2..]) };
        let qh = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        for (o, q) in o.iter_mut().zip(q5_values(qh, &rest[4..20])) {
            *o = f32::from(q) * d + m;
        }
    }
}

pub(crate) fn dequant_q5_0(w: &[u8], out: &mut [f32]) {
    dequant_q5(w, out, false);
}

pub(crate) fn dequant_q5_1(w: &[u8], out: &mut [f32]) {
    dequant_q5(w, out, true);
}

pub(crate) fn dequant_q8_0(w: &[u8], out: &mut [f32]) {
    for (b, o) in w.chunks_exact(34).zip(out.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for (o, &q) in o.iter_mut().zip(&b[2..34]) {
            *o = f32::from(q as i8) * d;
        }
    }
}

pub(crate) fn dequant_q4_k(w: &[u8], out: &mut [f32]) {
    for (b, o) in w.chunks_exact(144).zip(out.chunks_exact_mut(256)) {
        let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        for c in 0..4 {
            let qs = &b[16 + 32 * c..48 + 32 * c];
            let (d1, m1) = (d * f32::from(sc[2 * c]), dmin * f32::from(mn[2 * c]));
            let (d2, m2) = (d * f32::from(sc[2 * c + 1]), dmin * f32::from(mn[2 * c + 1]));
            for l in 0..32 {
                o[64 * c + l] = d1 * f32::from(qs[l] & 0xF) - m1;
                o[64 * c + 32 + l] = d2 * f32::from(qs[l] >> 4) - m2;
            }
        }
    }
}

pub(crate) fn dequant_q5_k(w: &[u8], out: &mut [f32]) {
    for (b, o) in w.chunks_exact(176).zip(out.chunks_exact_mut(256)) {
        let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let qh = &b[16..48];
        for c in 0..4 {
            let ql = &b[48 + 32 * c..80 + 32 * c];
            let (d1, m1) = (d * f32::from(sc[2 * c]), dmin * f32::from(mn[2 * c]));
            let (d2, m2) = (d * f32::from(sc[2 * c + 1]), dmin * f32::from(mn[2 * c + 1]));
            for l in 0..32 {
                let h1 = ((qh[l] >> (2 * c)) & 1) << 4;
                let h2 = ((qh[l] >> (2 * c + 1)) & 1) << 4;
                o[64 * c + l] = d1 * f32::from((ql[l] & 0xF) | h1) - m1;
                o[64 * c + 32 + l] = d2 * f32::from((ql[l] >> 4) | h2) - m2;
            }
        }
    }
}

/// The 256 six-bit values (0..=63, offset 32) of a Q6_K block, in element order.
#[inline]
pub(crate) fn q6k_values(b: &[u8]) -> [u8; 256] {
    let mut v = [0u8; 256];
    for n in 0..2 {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..160 + 32 * n];
        let o = &mut v[128 * n..128 * n + 128];
        for l in 0..32 {
            o[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            o[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            o[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            o[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    v
}

pub(crate) fn dequant_q6_k(w: &[u8], out: &mut [f32]) {
    for (b, o) in w.chunks_exact(210).zip(out.chunks_exact_mut(256)) {
        let d = f16_at(b, 208);
        let q = q6k_values(b);
        for (g, (o, q)) in o.chunks_exact_mut(16).zip(q.chunks_exact(16)).enumerate() {
            let s = d * f32::from(b[192 + g] as i8);
            for (o, &q) in o.iter_mut().zip(q) {
                *o = s * (f32::from(q) - 32.0);
            }
        }
    }
}

// ---- fused dot products: weight row × quantised activations ----

#[inline]
fn idot(a: &[u8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum()
}

pub(crate) fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4).zip(x).map(|(b, &x)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * x).sum()
}

pub(crate) fn dot_f16(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2).zip(x).map(|(b, &x)| half::f16::from_le_bytes([b[0], b[1]]).to_f32() * x).sum()
}

pub(crate) fn dot_bf16(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2).zip(x).map(|(b, &x)| half::bf16::from_le_bytes([b[0], b[1]]).to_f32() * x).sum()
}

/// Σ d·dx·Σq·a + c·s per block, where `c` folds the format's offset or minimum.
fn dot_q4(w: &[u8], x: &[BlockQ8], with_min: bool) -> f32 {
    let bs = if with_min { 20 } else { 18 };
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16_at(b, 0);
        let (c, qs) = if with_min { (f16_at(b, 2), &b[4..20]) } else { (-8.0 * d, &b[2..18]) };
        let mut lo = [0u8; 16];
        let mut hi = [0u8; 16];
        for j in 0..16 {
            lo[j] = qs[j] & 0xF;
            hi[j] = qs[j] >> 4;
        }
        let isum = idot(&lo, &a.qs[..16]) + idot(&hi, &a.qs[16..]);
        sum += d * a.d * isum as f32 + c * a.s;
    }
    sum
}

pub(crate) fn dot_q4_0(w: &[u8], x: &[BlockQ8]) -> f32 {
    dot_q4(w, x, false)
}

pub(crate) fn dot_q4_1(w: &[u8], x: &[BlockQ8]) -> f32 {
    dot_q4(w, x, true)
}

fn dot_q5(w: &[u8], x: &[BlockQ8], with_min: bool) -> f32 {
    let bs = if with_min { 24 } else { 22 };
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(bs).zip(x) {
        let d = f16_at(b, 0);
        let (c, rest) = if with_min { (f16_at(b, 2), &b[4..]) } else { (-16.0 * d, &b[2..]) };
        let qh = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let isum = idot(&q5_values(qh, &rest[4..20]), &a.qs);
        sum += d * a.d * isum as f32 + c * a.s;
    }
    sum
}

pub(crate) fn dot_q5_0(w: &[u8], x: &[BlockQ8]) -> f32 {
    dot_q5(w, x, false)
}

pub(crate) fn dot_q5_1(w: &[u8], x: &[BlockQ8]) -> f32 {
    dot_q5(w, x, true)
}

pub(crate) fn dot_q8_0(w: &[u8], x: &[BlockQ8]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(34).zip(x) {
        let isum: i32 = b[2..34].iter().zip(&a.qs).map(|(&w, &a)| i32::from(w as i8) * i32::from(a)).sum();
        sum += f16_at(b, 0) * a.d * isum as f32;
    }
    sum
}

/// Σ over sub-blocks of the minimum × the activations' group sums (Q4_K/Q5_K).
#[inline]
pub(crate) fn k4_min_sum(mn: &[u8; 8], bsums: &[i16; 16]) -> i32 {
    (0..8).map(|j| i32::from(mn[j]) * (i32::from(bsums[2 * j]) + i32::from(bsums[2 * j + 1]))).sum()
}

pub(crate) fn dot_q4_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(144).zip(x) {
        let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let mut isum = 0i32;
        for c in 0..4 {
            let qs = &b[16 + 32 * c..48 + 32 * c];
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            for l in 0..32 {
                lo[l] = qs[l] & 0xF;
                hi[l] = qs[l] >> 4;
            }
            isum += i32::from(sc[2 * c]) * idot(&lo, &a.qs[64 * c..64 * c + 32]);
            isum += i32::from(sc[2 * c + 1]) * idot(&hi, &a.qs[64 * c + 32..64 * c + 64]);
        }
        sum += a.d * (d * isum as f32 - dmin * k4_min_sum(&mn, &a.bsums) as f32);
    }
    sum
}

pub(crate) fn dot_q5_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(176).zip(x) {
        let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
        let (sc, mn) = scales_mins_k4(&b[4..16]);
        let qh = &b[16..48];
        let mut isum = 0i32;
        for c in 0..4 {
            let ql = &b[48 + 32 * c..80 + 32 * c];
            let mut lo = [0u8; 32];
            let mut hi = [0u8; 32];
            for l in 0..32 {
                lo[l] = (ql[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4);
                hi[l] = (ql[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
            }
            isum += i32::from(sc[2 * c]) * idot(&lo, &a.qs[64 * c..64 * c + 32]);
            isum += i32::from(sc[2 * c + 1]) * idot(&hi, &a.qs[64 * c + 32..64 * c + 64]);
        }
        sum += a.d * (d * isum as f32 - dmin * k4_min_sum(&mn, &a.bsums) as f32);
    }
    sum
}

/// Σ over the 16 groups of the group scale × the activations' group sum (Q6_K's offset of 32).
#[inline]
pub(crate) fn q6k_offset_sum(scales: &[u8], bsums: &[i16; 16]) -> i32 {
    scales.iter().zip(bsums).map(|(&s, &b)| i32::from(s as i8) * i32::from(b)).sum()
}

pub(crate) fn dot_q6_k(w: &[u8], x: &[BlockQ8K]) -> f32 {
    let mut sum = 0.0;
    for (b, a) in w.chunks_exact(210).zip(x) {
        let q = q6k_values(b);
        let scales = &b[192..208];
        let mut isum = 0i32;
        for (g, (q, aq)) in q.chunks_exact(16).zip(a.qs.chunks_exact(16)).enumerate() {
            isum += i32::from(scales[g] as i8) * idot(q, aq);
        }
        isum -= 32 * q6k_offset_sum(scales, &a.bsums);
        sum += f16_at(b, 208) * a.d * isum as f32;
    }
    sum
}

// ---- f32 vector helpers (attention) ----

/// f32 dot product with eight independent partial sums, so the compiler can vectorise it (a
/// plain `.sum()` is one serial chain of additions).
pub(crate) fn f32_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y += alpha · x`.
pub(crate) fn f32_axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn f16_conversion_is_exact_for_every_value() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            let got = super::f16_to_f32(h);
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{h:#06x}: {got} vs {want}");
        }
    }
}
