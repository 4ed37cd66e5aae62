//! Kernel tests on seeded random data: every dot product (portable and each SIMD path this CPU
//! runs) against dequantise-then-multiply, plus the quantisers' round trips.

extern crate std;

use super::quant::*;
use super::*;
use alloc::vec;
use alloc::vec::Vec;

/// SplitMix64: a tiny seeded generator so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

const QUANT_TYPES: [TensorType; 8] = [
    TensorType::Q4_0,
    TensorType::Q4_1,
    TensorType::Q5_0,
    TensorType::Q5_1,
    TensorType::Q8_0,
    TensorType::Q4K,
    TensorType::Q5K,
    TensorType::Q6K,
];

/// Offsets of the f16 scale fields in a block (random bits there could be inf/NaN).
fn scale_offsets(ty: TensorType) -> &'static [usize] {
    match ty {
        TensorType::Q4_0 | TensorType::Q5_0 | TensorType::Q8_0 => &[0],
        TensorType::Q4_1 | TensorType::Q5_1 | TensorType::Q4K | TensorType::Q5K => &[0, 2],
        TensorType::Q6K => &[208],
        _ => &[],
    }
}

/// A random row of `n` weights of type `ty`.
fn random_row(rng: &mut Rng, ty: TensorType, n: usize) -> Vec<u8> {
    match ty {
        TensorType::F32 => (0..n).flat_map(|_| rng.f32(-1.0, 1.0).to_le_bytes()).collect(),
        TensorType::F16 => (0..n).flat_map(|_| half::f16::from_f32(rng.f32(-1.0, 1.0)).to_le_bytes()).collect(),
        TensorType::BF16 => (0..n).flat_map(|_| half::bf16::from_f32(rng.f32(-1.0, 1.0)).to_le_bytes()).collect(),
        _ => {
            let mut row: Vec<u8> = (0..ty.row_bytes(n)).map(|_| rng.next() as u8).collect();
            for block in row.chunks_exact_mut(ty.block_bytes()) {
                for &o in scale_offsets(ty) {
                    block[o..o + 2].copy_from_slice(&half::f16::from_f32(rng.f32(-0.05, 0.05)).to_le_bytes());
                }
            }
            row
        }
    }
}

struct Acts {
    f32: Vec<f32>,
    q8: Vec<BlockQ8>,
    q8k: Vec<BlockQ8K>,
    /// The quantised activations turned back into floats.
    q8_f: Vec<f32>,
    q8k_f: Vec<f32>,
}

fn random_acts(rng: &mut Rng, n: usize) -> Acts {
    let f32: Vec<f32> = (0..n).map(|_| rng.f32(-2.0, 2.0)).collect();
    let mut q8 = vec![BlockQ8::default(); n / QK];
    quantize_q8(&f32, &mut q8);
    let q8_f = q8.iter().flat_map(|b| b.qs.map(|q| b.d * f32::from(q))).collect();
    let (mut q8k, mut q8k_f) = (Vec::new(), Vec::new());
    if n.is_multiple_of(QK_K) {
        q8k = vec![BlockQ8K::default(); n / QK_K];
        quantize_q8k(&f32, &mut q8k);
        q8k_f = q8k.iter().flat_map(|b| b.qs.map(|q| b.d * f32::from(q))).collect();
    }
    Acts { f32, q8, q8k, q8_f, q8k_f }
}

fn run(f: DotFn, w: &[u8], a: &Acts) -> f32 {
    match f {
        DotFn::F32(f) => f(w, &a.f32),
        DotFn::Q8(f) => f(w, &a.q8),
        DotFn::Q8K(f) => f(w, &a.q8k),
    }
}

/// The exact value the fused dot approximates: dequantised weights · dequantised activations, in f64.
fn reference(ty: TensorType, w: &[u8], a: &Acts) -> (f64, f64) {
    let n = a.f32.len();
    let mut wf = vec![0.0f32; n];
    dequantize_row(ty, w, &mut wf).unwrap();
    let x = match ty.act_format().unwrap() {
        ActFormat::F32 => &a.f32,
        ActFormat::Q8 => &a.q8_f,
        ActFormat::Q8K => &a.q8k_f,
    };
    let dot = wf.iter().zip(x).map(|(&w, &x)| f64::from(w) * f64::from(x)).sum();
    let mag = wf.iter().zip(x).map(|(&w, &x)| f64::from(w.abs()) * f64::from(x.abs())).sum();
    (dot, mag)
}

fn all_isas() -> Vec<Kernels> {
    [Isa::Scalar, Isa::Sse2, Isa::Avx2, Isa::Avx512, Isa::Neon].into_iter().filter_map(Kernels::with_isa).collect()
}

#[test]
fn every_dot_matches_dequantise_then_multiply() {
    let mut rng = Rng(42);
    let kernels = all_isas();
    std::println!("testing {:?}", kernels.iter().map(|k| k.isa().name()).collect::<Vec<_>>());
    let types = QUANT_TYPES.iter().chain(&[TensorType::F32, TensorType::F16, TensorType::BF16]);
    for &ty in types {
        for n in [256, 512, 1536] {
            for _ in 0..20 {
                let w = random_row(&mut rng, ty, n);
                let a = random_acts(&mut rng, n);
                let (want, mag) = reference(ty, &w, &a);
                for k in &kernels {
                    let got = f64::from(run(k.dot(ty).unwrap(), &w, &a));
                    // f32 accumulation over n products: relative error well under 1e-5 of Σ|w·x|.
                    let err = (got - want).abs() / mag.max(1e-30);
                    assert!(err < 2e-6, "{} {} n={n}: got {got}, want {want} (rel {err:e})", ty.name(), k.isa().name());
                }
            }
        }
    }
}

#[test]
fn odd_block_counts_work() {
    // 576 = 18 blocks of 32: the model's width; no K-quants here (not a multiple of 256).
    let mut rng = Rng(3);
    for &ty in &QUANT_TYPES[..5] {
        let w = random_row(&mut rng, ty, 576);
        let a = random_acts(&mut rng, 576);
        let (want, mag) = reference(ty, &w, &a);
        for k in all_isas() {
            let got = f64::from(run(k.dot(ty).unwrap(), &w, &a));
            assert!((got - want).abs() < 2e-6 * mag, "{} {}", ty.name(), k.isa().name());
        }
    }
}

#[test]
fn quantised_dot_is_close_to_float_dot() {
    // The end-to-end effect of quantising activations: bounded by the 8-bit step.
    let mut rng = Rng(9);
    for &ty in &QUANT_TYPES {
        let n = 1024;
        let w = random_row(&mut rng, ty, n);
        let a = random_acts(&mut rng, n);
        let mut wf = vec![0.0f32; n];
        dequantize_row(ty, &w, &mut wf).unwrap();
        let exact: f64 = wf.iter().zip(&a.f32).map(|(&w, &x)| f64::from(w) * f64::from(x)).sum();
        let mag: f64 = wf.iter().zip(&a.f32).map(|(&w, &x)| f64::from((w * x).abs())).sum();
        let got = f64::from(run(Kernels::detect().dot(ty).unwrap(), &w, &a));
        assert!((got - exact).abs() < 0.01 * mag, "{}: {got} vs {exact}", ty.name());
    }
}

#[test]
fn hand_made_blocks_dequantise_as_documented() {
    let one = half::f16::from_f32(1.0).to_le_bytes();
    let half_ = half::f16::from_f32(0.5).to_le_bytes();
    // Q4_0: low nibbles are elements 0..16, high nibbles 16..32, offset 8.
    let mut b = vec![one[0], one[1]];
    b.extend((0..16).map(|j| (j as u8) | (15 - j as u8) << 4));
    let mut out = [0.0f32; 32];
    dequantize_row(TensorType::Q4_0, &b, &mut out).unwrap();
    assert_eq!(out[0], -8.0);
    assert_eq!(out[15], 7.0);
    assert_eq!(out[16], 7.0);
    assert_eq!(out[31], -8.0);
    // Q4_1: d = 1, m = 0.5.
    let mut b = vec![one[0], one[1], half_[0], half_[1]];
    b.extend([0x21u8; 16]);
    dequantize_row(TensorType::Q4_1, &b, &mut out).unwrap();
    assert_eq!((out[0], out[16]), (1.5, 2.5));
    // Q5_0: bit j of qh is element j's fifth bit.
    let mut b = vec![one[0], one[1]];
    b.extend(0x0001_0001u32.to_le_bytes());
    b.extend([0u8; 16]);
    dequantize_row(TensorType::Q5_0, &b, &mut out).unwrap();
    assert_eq!((out[0], out[1], out[16], out[17]), (0.0, -16.0, 0.0, -16.0));
}

#[test]
fn unsupported_types_and_sizes_are_errors() {
    let mut out = [0.0f32; 256];
    assert_eq!(dequantize_row(TensorType::Q2K, &[0; 84], &mut out), Err(TensorError::Unsupported(TensorType::Q2K)));
    let e = dequantize_row(TensorType::Q4_0, &[0; 17], &mut out[..32]).unwrap_err();
    assert_eq!(e, TensorError::SizeMismatch { expected: 18, found: 17 });
    assert!(Kernels::detect().dot(TensorType::Q3K).is_none());
}

#[test]
fn q8_0_quantiser_round_trips_within_half_a_step() {
    let mut rng = Rng(5);
    let x: Vec<f32> = (0..512).map(|_| rng.f32(-3.0, 3.0)).collect();
    let mut bytes = Vec::new();
    quantize_row_q8_0(&x, &mut bytes);
    assert_eq!(bytes.len(), TensorType::Q8_0.row_bytes(512));
    let mut y = vec![0.0f32; 512];
    dequantize_row(TensorType::Q8_0, &bytes, &mut y).unwrap();
    for (xc, yc) in x.chunks(32).zip(y.chunks(32)) {
        let step = xc.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
        for (a, b) in xc.iter().zip(yc) {
            // Half a step, plus the f16 rounding of the scale (relative 2^-11 of up to 127 steps).
            assert!((a - b).abs() <= step * (0.5 + 127.0 / 2048.0), "{a} vs {b}");
        }
    }
}

#[test]
fn q4_k_quantiser_is_accurate() {
    let mut rng = Rng(11);
    // Roughly bell-shaped weights, like a trained layer's.
    let x: Vec<f32> = (0..2048).map(|_| (0..4).map(|_| rng.f32(-0.05, 0.05)).sum()).collect();
    let mut bytes = Vec::new();
    quantize_row_q4_k(&x, &mut bytes);
    assert_eq!(bytes.len(), TensorType::Q4K.row_bytes(2048));
    let mut y = vec![0.0f32; 2048];
    dequantize_row(TensorType::Q4K, &bytes, &mut y).unwrap();
    let rms = |v: &mut dyn Iterator<Item = f32>| {
        let v: Vec<f32> = v.collect();
        (v.iter().map(|a| a * a).sum::<f32>() / v.len() as f32).sqrt()
    };
    let signal = rms(&mut x.iter().copied());
    let noise = rms(&mut x.iter().zip(&y).map(|(a, b)| a - b));
    std::println!("Q4_K round trip: noise/signal = {:.4}", noise / signal);
    // A 4-bit code over each 32-value range gives about range/15/sqrt(12) noise: ~0.08 of the rms here.
    assert!(noise / signal < 0.1, "noise/signal {}", noise / signal);
    // The fused dot on our own output agrees with dequantise-then-multiply.
    let a = random_acts(&mut rng, 2048);
    let (want, mag) = reference(TensorType::Q4K, &bytes, &a);
    let got = f64::from(run(Kernels::detect().dot(TensorType::Q4K).unwrap(), &bytes, &a));
    assert!((got - want).abs() < 2e-6 * mag);
}

/// `out` as the per-token output rows a matrix kernel writes (`rows` each).
fn rows_of(out: &mut [f32], rows: usize) -> Vec<&mut [f32]> {
    out.chunks_exact_mut(rows).collect()
}

#[test]
fn matrix_kernels_match_single_dots() {
    let mut rng = Rng(21);
    for k in all_isas() {
        for &ty in &QUANT_TYPES[..5] {
            let Some(matmul) = k.matmul(ty) else { continue };
            let DotFn::Q8(one) = scalar_dot(ty).unwrap() else { panic!("{} is not a Q8 type", ty.name()) };
            let (n, rows) = (576, 7);
            let rb = ty.row_bytes(n);
            let w: Vec<u8> = (0..rows).flat_map(|_| random_row(&mut rng, ty, n)).collect();
            for b in [1, 4, 6, 9, 13] {
                let acts: Vec<Acts> = (0..b).map(|_| random_acts(&mut rng, n)).collect();
                let x: Vec<BlockQ8> = acts.iter().flat_map(|a| a.q8.iter().copied()).collect();
                let mut out = vec![0.0; rows * b];
                matmul(&w, rows, &x, b, &mut rows_of(&mut out, rows));
                for t in 0..b {
                    for r in 0..rows {
                        let want = one(&w[r * rb..(r + 1) * rb], &acts[t].q8);
                        let got = out[t * rows + r];
                        assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{} b={b} t={t} r={r}", ty.name());
                    }
                }
            }
        }
    }
}

#[test]
fn packed_kernels_match_their_matrix_kernels_on_any_row_split() {
    let mut rng = Rng(27);
    let mut checked = 0;
    for k in all_isas() {
        for &ty in &QUANT_TYPES[..5] {
            let (Some(packed), Some(matmul)) = (k.packed_matmul(ty), k.matmul(ty)) else { continue };
            let (n, rows) = (576, 23);
            let rb = ty.row_bytes(n);
            let w: Vec<u8> = (0..rows).flat_map(|_| random_row(&mut rng, ty, n)).collect();
            let mut p = crate::tensor::Packed::default();
            for b in [1, 4, 6, 8, 13, 21, 29] {
                let x: Vec<BlockQ8> = (0..b).flat_map(|_| random_acts(&mut rng, n).q8).collect();
                let mut want = vec![0.0; rows * b];
                matmul(&w, rows, &x, b, &mut rows_of(&mut want, rows));
                // One packing (reused from the previous batch's buffer), packed in parts of 8 or 16
                // tokens as workers do, for the whole matrix, then for row chunks as workers see
                // them: the same bits.
                let tokens = if b.is_multiple_of(2) { 8 } else { 16 };
                for (i, mut part) in p.parts(b, n / 32, tokens).into_iter().enumerate() {
                    let first = i * tokens * n / 32;
                    (packed.pack)(&x[first..(first + tokens * n / 32).min(x.len())], &mut part);
                }
                let mut whole = vec![0.0; rows * b];
                (packed.run)(&w, rows, &x, &p, b, &mut rows_of(&mut whole, rows));
                assert_eq!(whole, want, "{} b={b}", ty.name());
                // Row chunks written in place, each into its own columns of every token's row.
                let mut split = vec![0.0; rows * b];
                let mut chunks: [Vec<&mut [f32]>; 2] = [Vec::new(), Vec::new()];
                for token in split.chunks_exact_mut(rows) {
                    let (a, rest) = token.split_at_mut(16);
                    chunks[0].push(a);
                    chunks[1].push(rest);
                }
                for ((start, end), part) in [(0, 16), (16, rows)].into_iter().zip(&mut chunks) {
                    (packed.run)(&w[start * rb..end * rb], end - start, &x, &p, b, part);
                }
                assert_eq!(split, want, "{} b={b}, rows split at 16", ty.name());
                checked += 1;
            }
        }
    }
    // Only AVX-512 machines have a packed kernel; elsewhere there is nothing to compare.
    std::println!("packed kernels checked on {checked} batches");
}

#[test]
fn attention_kernels_match_plain_loops() {
    let mut rng = Rng(45);
    // Head widths of the families (64, 80, 96, 128, 256) and odd ones for the tails; key counts
    // around the groups of four.
    for hd in [64, 80, 96, 128, 256, 12, 3] {
        let stride = hd * 3 + 5;
        for n in [1, 3, 4, 7, 9, 33] {
            let q: Vec<f32> = (0..hd).map(|_| rng.f32(-1.0, 1.0)).collect();
            let cache: Vec<f32> = (0..n * stride).map(|_| rng.f32(-1.0, 1.0)).collect();
            let w: Vec<f32> = (0..n).map(|_| rng.f32(0.0, 1.0)).collect();
            let want_dots: Vec<f64> = (0..n)
                .map(|i| q.iter().zip(&cache[i * stride..]).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum())
                .collect();
            let want_sum: Vec<f64> = (0..hd)
                .map(|c| w.iter().enumerate().map(|(i, wi)| f64::from(*wi) * f64::from(cache[i * stride + c])).sum())
                .collect();
            for k in all_isas() {
                let mut dots = vec![0.0; n];
                k.dots_f32(&q, &cache, stride, &mut dots);
                for (got, want) in dots.iter().zip(&want_dots) {
                    assert!((f64::from(*got) - want).abs() < 1e-4, "{} hd={hd} n={n}: {got} vs {want}", k.isa().name());
                }
                let mut sum = vec![f32::NAN; hd];
                k.weighted_sum_f32(&mut sum, &w, &cache, stride);
                for (got, want) in sum.iter().zip(&want_sum) {
                    assert!((f64::from(*got) - want).abs() < 1e-4, "{} hd={hd} n={n}: {got} vs {want}", k.isa().name());
                }
            }
        }
    }
}

#[test]
fn simd_activation_quantisation_is_identical() {
    let mut rng = Rng(33);
    let x: Vec<f32> = (0..1024).map(|_| rng.f32(-5.0, 5.0)).chain([0.0; 32]).collect();
    let mut want = vec![BlockQ8::default(); x.len() / 32];
    quantize_q8(&x, &mut want);
    for k in all_isas() {
        let mut got = vec![BlockQ8::default(); x.len() / 32];
        k.quantize_q8(&x, &mut got);
        assert_eq!(got, want, "{}", k.isa().name());
    }
}

#[test]
fn k_quant_matrix_kernels_match_single_dots() {
    let mut rng = Rng(44);
    for k in all_isas() {
        for ty in [TensorType::Q4K, TensorType::Q5K, TensorType::Q6K] {
            let Some(matmul) = k.matmul_k(ty) else { continue };
            let DotFn::Q8K(one) = scalar_dot(ty).unwrap() else { panic!("{} is not a K type", ty.name()) };
            let (n, rows) = (512, 3);
            let rb = ty.row_bytes(n);
            let w: Vec<u8> = (0..rows).flat_map(|_| random_row(&mut rng, ty, n)).collect();
            for b in [1, 4, 7] {
                let acts: Vec<Acts> = (0..b).map(|_| random_acts(&mut rng, n)).collect();
                let x: Vec<BlockQ8K> = acts.iter().flat_map(|a| a.q8k.iter().copied()).collect();
                let mut out = vec![0.0; rows * b];
                matmul(&w, rows, &x, b, &mut rows_of(&mut out, rows));
                for t in 0..b {
                    for r in 0..rows {
                        let want = one(&w[r * rb..(r + 1) * rb], &acts[t].q8k);
                        // Tolerance relative to Σ|w·x|: the sums cancel a lot with random weights.
                        let (_, mag) = reference(ty, &w[r * rb..(r + 1) * rb], &acts[t]);
                        let got = out[t * rows + r];
                        assert!(f64::from((got - want).abs()) <= 2e-6 * mag, "{} b={b} t={t} r={r}", ty.name());
                    }
                }
            }
        }
    }
}
