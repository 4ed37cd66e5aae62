//! The batched forward pass, its KV cache and work buffers, and the matrix products it splits
//! over a [`WorkPool`].
//!
//! Work is split so that every output element is computed by the same code on the same inputs
//! whatever the number of workers (row chunks start at multiples of [`ROW_ALIGN`], heads are
//! independent): results are bit-identical to one thread.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use spin::Mutex;

use super::{GateUp, LoadError, Matrix, Model, Qkv};
use crate::family::{Activation, RopeStyle};
use crate::pool::{SingleThread, WorkPool};
use crate::tensor::quant::{BlockQ8, BlockQ8K, QK, QK_K, quantize_q8k};
use crate::tensor::{ActFormat, DotFn, Kernels, Packed, PackedPart};

/// Row chunks handed to workers start at multiples of this, so SIMD kernels that work on groups
/// of rows see the same groups as on one thread.
const ROW_ALIGN: usize = 16;

/// Jobs per thread a split aims for: workers claim jobs as they come free, so a worker that
/// starts late or is preempted (another process on its core) leaves its share to the others
/// instead of holding everyone up at the end of the split.
const JOBS_PER_THREAD: usize = 4;

/// [`JOBS_PER_THREAD`] for a batch of several tokens. Its jobs are large enough to split finer:
/// on two threads, 8 per thread instead of 4 cut the time both threads spend waiting at the ends
/// of splits from 4.5-5.5 % of a prompt's samples to 2.9-3.2 % (SmolLM2 Q8_0, 128-token batch).
/// Single tokens keep 4: their row jobs are small already, and 8 measured slower.
const BATCH_JOBS_PER_THREAD: usize = 8;

/// How many jobs to split work on a batch of `b` tokens into.
fn jobs_for(pool: &dyn WorkPool, b: usize) -> usize {
    pool.threads() * if b > 1 { BATCH_JOBS_PER_THREAD } else { JOBS_PER_THREAD }
}

/// [`crate::tensor::PackedMatmul::pack`].
type PackFn = fn(&[BlockQ8], &mut PackedPart<'_>);

/// Activations of a batch quantised for whichever formats the next matrices need.
#[derive(Debug, Default)]
pub(super) struct ActBatch {
    n: usize,
    b: usize,
    q8: Vec<BlockQ8>,
    q8k: Vec<BlockQ8K>,
    /// `q8` rearranged for a kernel that reads its own layout (see [`crate::tensor::PackedMatmul`]).
    packed: Packed,
    have_q8: bool,
    have_q8k: bool,
    have_packed: bool,
}

impl ActBatch {
    pub(super) fn reset(&mut self, n: usize, b: usize) {
        self.n = n;
        self.b = b;
        self.have_q8 = false;
        self.have_q8k = false;
        self.have_packed = false;
    }

    /// Makes sure the activations `x` (b rows of n) exist in `format`, and for Q8 also packed by
    /// `pack` if one is given. A prompt batch's quantisation and packing are split by tokens over
    /// `pool`, in runs of whole packing groups (each block is quantised and each group
    /// packed on its own, so the result does not depend on the split).
    fn prepare(&mut self, x: &[f32], format: ActFormat, pack: Option<PackFn>, kernels: Kernels, pool: &dyn WorkPool) {
        let (n, b) = (self.n, self.b);
        // Packed kernels take batches of four tokens or more (smaller ones do not read a packing).
        let pack = pack.filter(|_| b >= 4 && !self.have_packed);
        match format {
            ActFormat::F32 => {}
            ActFormat::Q8 if !self.have_q8 || pack.is_some() => {
                let per = n / QK;
                self.q8.resize(b * per, BlockQ8::default());
                let jobs = jobs_for(pool, b);
                let tokens = if pool.threads() == 1 || b < jobs { b } else { b.div_ceil(jobs) }.next_multiple_of(GROUP);
                let quantize = !self.have_q8;
                let packing = match pack {
                    Some(_) => self.packed.parts(b, per, tokens),
                    None => Vec::new(),
                };
                // Per part: its blocks and its piece of the packing.
                type Part<'a> = (&'a mut [BlockQ8], Option<PackedPart<'a>>);
                let parts: Vec<Mutex<Part<'_>>> = self
                    .q8
                    .chunks_mut(tokens * per)
                    .zip(packing.into_iter().map(Some).chain(core::iter::repeat_with(|| None)))
                    .map(Mutex::new)
                    .collect();
                let job = |i: usize| {
                    let (q8, packed) = &mut *parts[i].lock();
                    if quantize {
                        let start = i * tokens * n;
                        kernels.quantize_q8(&x[start..start + q8.len() * QK], q8);
                    }
                    if let (Some(pack), Some(part)) = (pack, packed) {
                        pack(q8, part);
                    }
                };
                if parts.len() == 1 {
                    job(0);
                } else {
                    pool.run(parts.len(), &job);
                }
                self.have_q8 = true;
                self.have_packed |= pack.is_some();
            }
            ActFormat::Q8K if !self.have_q8k => {
                let per = n / QK_K;
                self.q8k.resize(b * per, BlockQ8K::default());
                let tokens = tokens_per_job(pool, b);
                for_each_chunk(pool, &mut self.q8k, tokens * per, &|j, part| {
                    let start = j * tokens * n;
                    quantize_q8k(&x[start..start + part.len() * QK_K], part);
                });
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

/// `out[t][r] = W[r] · x[t]` for all rows of `w` (`out` one slice per token, `w.rows` long);
/// `acts` already holds `x` in the format `w` needs.
fn rows_into(w: &Matrix<'_>, x: &[f32], acts: &ActBatch, out: &mut [&mut [f32]], precision: Precision) {
    let (n, b) = (acts.n, acts.b);
    if precision == Precision::Float {
        let mut row = vec![0.0f32; n];
        for r in 0..w.rows {
            w.dequantize_row(r, &mut row);
            for (t, o) in out[..b].iter_mut().enumerate() {
                o[r] = row.iter().zip(&x[t * n..(t + 1) * n]).map(|(a, b)| a * b).sum();
            }
        }
        return;
    }
    match w.dot {
        DotFn::F32(f) => {
            for r in 0..w.rows {
                let row = w.row(r);
                for (t, o) in out[..b].iter_mut().enumerate() {
                    o[r] = f(row, &x[t * n..(t + 1) * n]);
                }
            }
        }
        DotFn::Q8(f) => {
            let per = n / QK;
            let q8 = &acts.q8[..b * per];
            if let (Some(m), true) = (w.packed, acts.have_packed) {
                return (m.run)(w.data, w.rows, q8, &acts.packed, b, out);
            }
            if let Some(m) = w.matmul {
                return m(w.data, w.rows, q8, b, out);
            }
            for r in 0..w.rows {
                let row = w.row(r);
                for (t, o) in out[..b].iter_mut().enumerate() {
                    o[r] = f(row, &q8[t * per..(t + 1) * per]);
                }
            }
        }
        DotFn::Q8K(f) => {
            let per = n / QK_K;
            let q8k = &acts.q8k[..b * per];
            if let Some(m) = w.matmul_k {
                return m(w.data, w.rows, q8k, b, out);
            }
            for r in 0..w.rows {
                let row = w.row(r);
                for (t, o) in out[..b].iter_mut().enumerate() {
                    o[r] = f(row, &q8k[t * per..(t + 1) * per]);
                }
            }
        }
    }
}

/// `out[t][r] = W[r] · x[t]` for the `b` activation rows in `acts` (from `x`), split over `pool`.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    w: &Matrix<'_>,
    x: &[f32],
    acts: &mut ActBatch,
    out: &mut [f32],
    precision: Precision,
    kernels: Kernels,
    pool: &dyn WorkPool,
) {
    let rows = per_token(out, w.rows, acts.b);
    matmuls(&[w], x, acts, &mut [rows], precision, kernels, pool);
}

/// The first `b` rows, `width` wide, of a buffer of rows: one slice per token.
fn per_token(buf: &mut [f32], width: usize, b: usize) -> Vec<&mut [f32]> {
    buf[..b * width].chunks_exact_mut(width).collect()
}

/// One job of a split product: rows `start..` of `ws[matrix]`, written into `out`, that job's
/// piece of each token's output row.
struct RowJob<'o> {
    matrix: usize,
    start: usize,
    out: Vec<&'o mut [f32]>,
}

/// [`matmul`] for several matrices with the same input (q, k and v; gate and up), `outs[i]` (one
/// slice per token, at least `ws[i].rows` long) for `ws[i]`, handed to the pool as one split: one hand-out instead of several, and the small
/// matrices' pieces even out the large ones'. Rows are split in chunks of one size starting at
/// multiples of [`ROW_ALIGN`] inside each matrix; each job writes its rows of every token's output in
/// place (before, jobs wrote slots of their own that the calling thread then copied out: 4-7 % of
/// a two-thread prompt's samples, all of it on the calling thread while the worker waited).
/// Prompt batches large enough for [`Lanes`] do not come here split: each lane runs its products
/// on its own thread.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmuls(
    ws: &[&Matrix<'_>],
    x: &[f32],
    acts: &mut ActBatch,
    outs: &mut [Vec<&mut [f32]>],
    precision: Precision,
    kernels: Kernels,
    pool: &dyn WorkPool,
) {
    for w in ws {
        debug_assert_eq!(acts.n, w.cols);
        if precision == Precision::Quantized {
            match w.dot {
                DotFn::F32(_) => {}
                // One packing for all of them, made with the quantisation (where any packs).
                DotFn::Q8(_) => {
                    let pack = ws.iter().find_map(|w| w.packed.map(|m| m.pack));
                    acts.prepare(x, ActFormat::Q8, pack, kernels, pool);
                }
                DotFn::Q8K(_) => acts.prepare(x, ActFormat::Q8K, None, kernels, pool),
            }
        }
    }
    let b = acts.b;
    let acts = &*acts;
    if pool.threads() == 1 {
        for (w, out) in ws.iter().zip(outs.iter_mut()) {
            rows_into(w, x, acts, &mut out[..b], precision);
        }
        return;
    }
    let total: usize = ws.iter().map(|w| w.rows).sum();
    let chunk = total.div_ceil(jobs_for(pool, b)).next_multiple_of(ROW_ALIGN);
    let mut jobs: Vec<RowJob<'_>> = Vec::new();
    for (m, (w, out)) in ws.iter().zip(outs.iter_mut()).enumerate() {
        let first = jobs.len();
        jobs.extend((0..w.rows).step_by(chunk).map(|start| RowJob { matrix: m, start, out: Vec::with_capacity(b) }));
        for token in out[..b].iter_mut() {
            for (j, piece) in token[..w.rows].chunks_mut(chunk).enumerate() {
                jobs[first + j].out.push(piece);
            }
        }
    }
    let jobs: Vec<Mutex<RowJob<'_>>> = jobs.into_iter().map(Mutex::new).collect();
    pool.run(jobs.len(), &|j| {
        let job = &mut *jobs[j].lock();
        let end = job.start + job.out[0].len();
        rows_into(&ws[job.matrix].rows_range(job.start, end), x, acts, &mut job.out, precision);
    });
}

fn rmsnorm(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    let ss: f32 = crate::tensor::scalar::f32_dot(x, x) / x.len() as f32;
    let scale = 1.0 / libm::sqrtf(ss + eps);
    for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
        *o = v * scale * w;
    }
}

/// RMS-normalises each `weight.len()`-wide head of `x` in place (the same arithmetic as
/// [`rmsnorm`]).
fn rmsnorm_heads(x: &mut [f32], weight: &[f32], eps: f32) {
    for head in x.chunks_exact_mut(weight.len()) {
        let ss: f32 = crate::tensor::scalar::f32_dot(head, head) / head.len() as f32;
        let scale = 1.0 / libm::sqrtf(ss + eps);
        head.iter_mut().zip(weight).for_each(|(v, &w)| *v = *v * scale * w);
    }
}

/// e^x, to about 2 ulp, in plain arithmetic the compiler can vectorise.
///
/// Hand-written instead of `libm::expf`: the softmax and SiLU call it ~60 000 times per token
/// and the libm call (one at a time, with its special-case branches) was 7.6 % of prompt time.
/// Range reduction x = k·ln2 + r (|r| ≤ ln2/2), then a degree-7 Taylor polynomial for e^r
/// (truncation error < 2e-8 relative) scaled by 2^k built in the exponent bits.
#[inline(always)]
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

#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))`.
///
/// As `x / (1 + e^(−2u))` (u the tanh argument; the same function, since
/// `(1 + tanh u) / 2 = 1 / (1 + e^(−2u))`) with the vectorisable [`exp`]: `libm::tanhf` one
/// element at a time was over a quarter of Gemma 3's prompt time.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    x / (1.0 + exp(-2.0 * SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x)))
}

/// `gate[i] = act(gate[i]) · up[i]`, one loop per activation (not a function pointer) so the
/// compiler inlines and vectorises.
fn apply_activation(gate: &mut [f32], up: &[f32], activation: Activation) {
    match activation {
        Activation::Silu => gate.iter_mut().zip(up).for_each(|(g, &u)| *g = silu(*g) * u),
        Activation::GeluTanh => gate.iter_mut().zip(up).for_each(|(g, &u)| *g = gelu_tanh(*g) * u),
    }
}

/// `gate[i] = act(gate[i]) · up[i]`, split over `pool` in chunks of whole vector widths (each
/// element is computed the same way whatever the split).
fn gated_activation(gate: &mut [f32], up: &[f32], activation: Activation, pool: &dyn WorkPool) {
    // Below this many elements a split costs more than it saves.
    const MIN_CHUNK: usize = 4096;
    let jobs = (pool.threads() * JOBS_PER_THREAD).min(gate.len() / MIN_CHUNK);
    if pool.threads() == 1 || jobs <= 1 {
        return apply_activation(gate, up, activation);
    }
    let chunk = gate.len().div_ceil(jobs).next_multiple_of(16);
    for_each_chunk(pool, gate, chunk, &|j, g| apply_activation(g, &up[j * chunk..j * chunk + g.len()], activation));
}

/// [`gated_activation`] for a fused gate/up product of `f` values each: token `t`'s row of
/// `fused` holds its gate values, then its up values; `gate` gets `act(gate) · up` per token.
/// Split by tokens.
fn fused_gated_activation(gate: &mut [f32], fused: &[f32], f: usize, activation: Activation, pool: &dyn WorkPool) {
    let tokens = tokens_per_job(pool, gate.len() / f);
    for_each_chunk(pool, gate, tokens * f, &|j, part| {
        for (t, g) in part.chunks_exact_mut(f).enumerate() {
            let row = &fused[2 * f * (j * tokens + t)..2 * f * (j * tokens + t + 1)];
            g.copy_from_slice(&row[..f]);
            apply_activation(g, &row[f..], activation);
        }
    });
}

/// Calls `f(j, piece)` for the `j`-th `chunk`-long piece of `data` (the last may be shorter),
/// the pieces spread over `pool`, each job owning its piece.
fn for_each_chunk<T: Send>(pool: &dyn WorkPool, data: &mut [T], chunk: usize, f: &(dyn Fn(usize, &mut [T]) + Sync)) {
    run_each(pool, data.chunks_mut(chunk), &|j, part| f(j, part));
}

/// Calls `f(j, &mut part)` for the `j`-th of `parts`, spread over `pool` (inline for one part),
/// each job owning its part.
fn run_each<P: Send>(pool: &dyn WorkPool, parts: impl IntoIterator<Item = P>, f: &(dyn Fn(usize, &mut P) + Sync)) {
    let parts: Vec<Mutex<P>> = parts.into_iter().map(Mutex::new).collect();
    match parts.len() {
        0 => {}
        1 => f(0, &mut parts[0].lock()),
        n => pool.run(n, &|j| f(j, &mut parts[j].lock())),
    }
}

/// Tokens per job for per-token work on a batch of `b`: the whole batch on one thread or when
/// it is too small to split.
fn tokens_per_job(pool: &dyn WorkPool, b: usize) -> usize {
    let jobs = jobs_for(pool, b);
    if pool.threads() == 1 || b < jobs { b.max(1) } else { b.div_ceil(jobs) }
}

/// For each of the `b` tokens (rows of `dim`) of `x` and `out`, split by tokens over `pool`:
/// with `add`, the residual update `x += out` (`out` RMS-normalised by `post` first, where the
/// family normalises a block's output); then, with `norm`, `out = rmsnorm(x) · norm`, the next
/// block's input.
#[allow(clippy::too_many_arguments)]
fn residual_norm(
    pool: &dyn WorkPool,
    x: &mut [f32],
    out: &mut [f32],
    dim: usize,
    b: usize,
    add: bool,
    post: Option<&[f32]>,
    norm: Option<&[f32]>,
    eps: f32,
) {
    let chunk = tokens_per_job(pool, b) * dim;
    let parts = x[..b * dim].chunks_mut(chunk).zip(out[..b * dim].chunks_mut(chunk));
    run_each(pool, parts, &|_, (x, out)| {
        let mut normed = Vec::new();
        for (x, out) in x.chunks_exact_mut(dim).zip(out.chunks_exact_mut(dim)) {
            if add {
                let delta: &[f32] = match post {
                    Some(w) => {
                        normed.resize(dim, 0.0);
                        rmsnorm(&mut normed, out, w, eps);
                        &normed
                    }
                    None => out,
                };
                x.iter_mut().zip(delta).for_each(|(x, d)| *x += d);
            }
            if let Some(w) = norm {
                rmsnorm(out, x, w, eps);
            }
        }
    });
}

/// Fewest tokens a lane of a prompt batch takes (see [`Lanes`]): below that, a lane's products
/// are too small to keep a core busy, and the batch's stages are split over the pool instead.
const LANE_MIN_TOKENS: usize = 16;

/// Tokens per packing group: the activation quantisation's jobs and the lanes both take whole
/// groups, so the products see the groups they see on one thread (a kernel's result for a token
/// depends on the group shape it computes it in).
const GROUP: usize = 8;

/// How a batch is shared between the pool's threads, and the order of its tokens in the work
/// buffers.
///
/// With lanes, each thread carries its own tokens through a whole layer: attention, products,
/// norms, activations, the next layer's queries, keys and values. A layer is one hand-out, and
/// only the keys and values cross between cores (attention reads every earlier token's). Split
/// by stages instead (about thirteen hand-outs a layer, each split by matrix rows or by tokens),
/// about half of every stage's input had been written by the other core, and half of its output
/// was read there. That traffic is what this host's bimodal two-thread speed came from: its two
/// virtual CPUs are sometimes on one CCD of the EPYC (a core-to-core hand-off takes 40-90 ns)
/// and sometimes on two (170-210 ns), and two threads split by stages then lost 13-15 % of
/// their prompt speed, while two separate one-thread processes lost nothing. SmolLM2 Q8_0,
/// 128-token prompts, two threads, alternating runs: 1,115 → 1,159 tok/s on one CCD and 971 →
/// 1,062 on two (with the kernels' weight prefetch, which is part of both gains); the ~0.5B
/// synthetic models, whose larger products already split well by rows, within ±2 %. The price
/// of lanes is that each thread reads every weight, small against a prompt batch's arithmetic.
///
/// A lane's tokens need not be neighbours: packing groups are dealt to the lane with the least
/// work so far, counting a token's products and its attention over the positions before it
/// (later tokens attend to more). Within the work buffers, lane 0's tokens come first, in batch
/// order, then lane 1's, and so on, so every lane works on contiguous rows; `positions` says
/// where each row's token is. A pool keeps lane `i` on one core from layer to layer where it can
/// (see [`WorkPool::run`]).
struct Lanes {
    /// The position of the batch's first token.
    pos: usize,
    /// Each lane's rows.
    ranges: Vec<Range<usize>>,
    /// The position of the token of each row (`pos` + its index in the batch).
    positions: Vec<usize>,
    /// The row of the batch's last token.
    last: usize,
}

impl Lanes {
    fn new(c: &super::Config, pool: &dyn WorkPool, b: usize, pos: usize) -> Self {
        let threads = pool.threads();
        if threads == 1 || b < LANE_MIN_TOKENS * threads {
            return Self { pos, ranges: core::iter::once(0..b).collect(), positions: (pos..pos + b).collect(), last: b - 1 };
        }
        // Multiply-adds per token per layer in the products, and per position attended to (the
        // dot product and the weighted sum; counted twice, as f32 attention measured at about
        // twice a quantised product's time per multiply-add on SmolLM2 Q8_0).
        let (q_dim, kv_dim) = (c.q_dim(), c.kv_dim());
        let product = (c.dim * (q_dim + 2 * kv_dim) + q_dim * c.dim + 3 * c.dim * c.ffn_dim) as u64;
        let per_position = 4 * q_dim as u64;
        let mut load = vec![0u64; threads];
        let mut groups: Vec<Vec<Range<usize>>> = vec![Vec::new(); threads];
        for g in (0..b).step_by(GROUP) {
            let tokens = g..(g + GROUP).min(b);
            let cost: u64 = tokens.clone().map(|t| product + per_position * (pos + t + 1) as u64).sum();
            let lane = (0..threads).min_by_key(|&w| load[w]).unwrap_or(0);
            load[lane] += cost;
            groups[lane].push(tokens);
        }
        let mut ranges = Vec::with_capacity(threads);
        let mut positions = Vec::with_capacity(b);
        for lane in &groups {
            let start = positions.len();
            positions.extend(lane.iter().flat_map(|g| g.clone()).map(|t| pos + t));
            ranges.push(start..positions.len());
        }
        let last = positions.iter().position(|&p| p == pos + b - 1).unwrap_or(b - 1);
        Self { pos, ranges, positions, last }
    }
}

/// The pieces `ranges` (ascending, disjoint row ranges) of a buffer of rows `width` wide.
fn split_rows<'a>(buf: &'a mut [f32], width: usize, ranges: &[Range<usize>]) -> Vec<&'a mut [f32]> {
    let mut rest = buf;
    let mut at = 0;
    let mut pieces = Vec::with_capacity(ranges.len());
    for r in ranges {
        let (_, tail) = core::mem::take(&mut rest).split_at_mut((r.start - at) * width);
        let (piece, tail) = tail.split_at_mut(r.len() * width);
        pieces.push(piece);
        rest = tail;
        at = r.end;
    }
    pieces
}

/// Rows `t0..t0 + b` of the work buffers (the whole batch, or one lane): row `i` of each buffer
/// here is row `t0 + i` of the batch's.
struct Rows<'a> {
    t0: usize,
    b: usize,
    /// The position of each row's token.
    positions: &'a [usize],
    x: &'a mut [f32],
    xb: &'a mut [f32],
    q: &'a mut [f32],
    /// Each row's slot in the KV cache, of the layer whose keys and values come next (empty
    /// past the last layer).
    k_new: Vec<&'a mut [f32]>,
    v_new: Vec<&'a mut [f32]>,
    fused: &'a mut [f32],
    att_out: &'a mut [f32],
    gate: &'a mut [f32],
    up: &'a mut [f32],
    acts: &'a mut ActBatch,
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
    fused: Vec<f32>,
    att_out: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    /// cos/sin per (table, row, rotated pair).
    rope: [Vec<(f32, f32)>; 2],
    /// Quantised activations, one set per lane (the first for a batch without lanes).
    acts: Vec<ActBatch>,
    /// Logits of the last token of the last batch.
    pub logits: Vec<f32>,
}

fn try_vec(len: usize) -> Result<Vec<f32>, LoadError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| LoadError::OutOfMemory { bytes: len.saturating_mul(4) })?;
    v.resize(len, 0.0);
    Ok(v)
}

/// The product of `factors`, or the out-of-memory error for a buffer that cannot exist.
fn buffer_len(factors: &[usize]) -> Result<usize, LoadError> {
    factors.iter().try_fold(1usize, |acc, &f| acc.checked_mul(f)).ok_or(LoadError::OutOfMemory { bytes: usize::MAX })
}

/// One layer's keys and values, `[pos][kv_dim]`.
type LayerKv<'a> = (&'a [f32], &'a [f32]);

impl State {
    /// Allocates the KV cache for `context` positions and buffers for batches of `max_batch`.
    pub fn new(config: &super::Config, context: usize, max_batch: usize) -> Result<Self, LoadError> {
        let c = config;
        let kv_dim = buffer_len(&[c.n_kv_heads, c.head_dim])?;
        let q_dim = buffer_len(&[c.n_heads, c.head_dim])?;
        let cache = buffer_len(&[c.n_layers, context, kv_dim])?;
        let fused = buffer_len(&[kv_dim, 2])?.saturating_add(q_dim).max(buffer_len(&[c.ffn_dim, 2])?);
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
            fused: batch(fused)?,
            att_out: batch(q_dim.max(c.dim))?,
            gate: batch(c.ffn_dim)?,
            up: batch(c.ffn_dim)?,
            scores: try_vec(context)?,
            rope: [Vec::new(), Vec::new()],
            acts: vec![ActBatch::default()],
            logits: try_vec(c.vocab)?,
        })
    }

    /// Each lane's rows of the work buffers, with their slots for the keys and values of layer
    /// `kv_layer` (none past the last layer); and the keys and values of the layer before it,
    /// for reading.
    fn rows<'s>(&'s mut self, c: &super::Config, lanes: &'s Lanes, kv_layer: usize) -> (Vec<Rows<'s>>, LayerKv<'s>) {
        let (q_dim, kv_dim) = (c.q_dim(), c.kv_dim());
        let ranges = &lanes.ranges;
        let b = lanes.positions.len();
        if self.acts.len() < ranges.len() {
            self.acts.resize_with(ranges.len(), ActBatch::default);
        }
        // The cache up to layer `kv_layer` (read) and from it (written).
        let layer = self.context * kv_dim;
        let at = (kv_layer * layer).min(self.k_cache.len());
        let (k_before, k_after) = self.k_cache.split_at_mut(at);
        let (v_before, v_after) = self.v_cache.split_at_mut(at);
        let read = if kv_layer == 0 { (&[][..], &[][..]) } else { (&k_before[at - layer..], &v_before[at - layer..]) };
        // Each row's slot: the position's row of layer `kv_layer`.
        let slots = |after: &'s mut [f32]| -> Vec<Option<&'s mut [f32]>> {
            if after.is_empty() {
                return Vec::new();
            }
            let first = lanes.pos;
            let mut slots: Vec<Option<&mut [f32]>> =
                after[first * kv_dim..(first + b) * kv_dim].chunks_exact_mut(kv_dim).map(Some).collect();
            lanes.positions.iter().filter_map(|&p| slots.get_mut(p - first).and_then(Option::take)).map(Some).collect()
        };
        let (mut k_slots, mut v_slots) = (slots(k_after).into_iter(), slots(v_after).into_iter());
        // Buffers read across lanes or by the caller (`x`, `q`, `att_out`) are split at their row
        // width; a lane's private ones at their allocated width per token.
        let per_token = |v: &Vec<f32>| v.len() / self.max_batch;
        let (xb_w, fused_w) = (per_token(&self.xb), per_token(&self.fused));
        let mut x = split_rows(&mut self.x, c.dim, ranges).into_iter();
        let mut xb = split_rows(&mut self.xb, xb_w, ranges).into_iter();
        let mut q = split_rows(&mut self.q, q_dim, ranges).into_iter();
        let mut fused = split_rows(&mut self.fused, fused_w, ranges).into_iter();
        let mut att_out = split_rows(&mut self.att_out, q_dim, ranges).into_iter();
        let mut gate = split_rows(&mut self.gate, c.ffn_dim, ranges).into_iter();
        let mut up = split_rows(&mut self.up, c.ffn_dim, ranges).into_iter();
        let mut acts = self.acts.iter_mut();
        let rows = ranges
            .iter()
            .map(|r| Rows {
                t0: r.start,
                b: r.len(),
                positions: &lanes.positions[r.clone()],
                x: x.next().unwrap_or_default(),
                xb: xb.next().unwrap_or_default(),
                q: q.next().unwrap_or_default(),
                k_new: k_slots.by_ref().take(r.len()).flatten().collect(),
                v_new: v_slots.by_ref().take(r.len()).flatten().collect(),
                fused: fused.next().unwrap_or_default(),
                att_out: att_out.next().unwrap_or_default(),
                gate: gate.next().unwrap_or_default(),
                up: up.next().unwrap_or_default(),
                acts: acts.next().expect("one activation set per lane"),
            })
            .collect();
        (rows, read)
    }
}

/// Rotates every head of `v` (width `hd`) by the (cos, sin) pairs `cs`.
fn rotate(v: &mut [f32], hd: usize, cs: &[(f32, f32)], style: RopeStyle) {
    let half = cs.len();
    for head in v.chunks_exact_mut(hd) {
        for (i, &(cos, sin)) in cs.iter().enumerate() {
            let (a, b) = match style {
                RopeStyle::Adjacent => (2 * i, 2 * i + 1),
                RopeStyle::Neox => (i, i + half),
            };
            let (x, y) = (head[a], head[b]);
            head[a] = x * cos - y * sin;
            head[b] = x * sin + y * cos;
        }
    }
}

/// What the attention of one layer reads.
struct AttentionInput<'s> {
    /// Queries, one row per token.
    q: &'s [f32],
    /// The position of each row's token.
    positions: &'s [usize],
    layer_k: &'s [f32],
    layer_v: &'s [f32],
    window: Option<usize>,
}

impl Model<'_> {
    /// Attention of heads `heads` for the query rows `tokens`: writes head `h` of row `t` at
    /// `out[t - tokens.start][(h - heads.start) · head_dim..]` (`out` one slice per row, those
    /// heads wide).
    fn attend(
        &self,
        a: &AttentionInput<'_>,
        tokens: Range<usize>,
        heads: Range<usize>,
        out: &mut [&mut [f32]],
        scores: &mut Vec<f32>,
    ) {
        let c = &self.config;
        let (hd, q_dim, kv_dim) = (c.head_dim, c.q_dim(), c.kv_dim());
        let group = c.n_heads / c.n_kv_heads;
        let (h0, h1) = (heads.start, heads.end);
        let t0 = tokens.start;
        for t in tokens {
            let n_pos = a.positions[t] + 1;
            let first = a.window.map_or(0, |w| n_pos.saturating_sub(w));
            scores.resize(n_pos - first, 0.0);
            for h in h0..h1 {
                let kvh = h / group;
                let q = &a.q[t * q_dim + h * hd..t * q_dim + (h + 1) * hd];
                // This head's key and value at position `first`, the next ones `kv_dim` apart.
                let at = first * kv_dim + kvh * hd;
                self.kernels.dots_f32(q, &a.layer_k[at..], kv_dim, scores);
                let scale = c.attention_scale;
                let max = scores.iter_mut().fold(f32::NEG_INFINITY, |m, v| {
                    *v *= scale;
                    m.max(*v)
                });
                // Separate loops so the exponentials vectorise (a running sum would chain them).
                for sc in scores.iter_mut() {
                    *sc = exp(*sc - max);
                }
                let inv = 1.0 / sum_f32(scores);
                scores.iter_mut().for_each(|v| *v *= inv);
                let o = &mut out[t - t0][(h - h0) * hd..(h - h0 + 1) * hd];
                self.kernels.weighted_sum_f32(o, scores, &a.layer_v[at..], kv_dim);
            }
        }
    }

    /// Runs `tokens` (at most `state.max_batch`) at positions `pos..pos + len` and leaves the
    /// logits of the last one in `state.logits`. The caller keeps `pos + len ≤ state.context`
    /// and every token below the vocabulary size.
    pub fn forward(&self, state: &mut State, tokens: &[u32], pos: usize) {
        self.forward_with(state, tokens, pos, &SingleThread);
    }

    /// [`Model::forward`] with the work split over `pool` (in lanes of tokens, see `Lanes`, or
    /// each stage by matrix rows, tokens or attention heads); the logits are bit-identical
    /// whatever the pool.
    pub fn forward_with(&self, state: &mut State, tokens: &[u32], pos: usize, pool: &dyn WorkPool) {
        let c = &self.config;
        let fam = c.family;
        let b = tokens.len();
        let dim = c.dim;
        let s = state;
        let (prec, kern) = (self.precision, self.kernels);
        let lanes = Lanes::new(c, pool, b, pos);

        // Each row's token, in the lanes' order.
        for (row, &p) in lanes.positions.iter().enumerate() {
            self.token_embd.dequantize_row(tokens[p - pos] as usize, &mut s.x[row * dim..(row + 1) * dim]);
        }
        if fam.scale_embeddings {
            let scale = libm::sqrtf(dim as f32);
            s.x[..b * dim].iter_mut().for_each(|v| *v *= scale);
        }
        // cos/sin per (row, rotated pair), shared by every layer and head of a kind; taken out of
        // the state while the layers read it.
        let mut rope = core::mem::take(&mut s.rope);
        for (table, inv_freq) in rope.iter_mut().zip(&self.inv_freq) {
            table.clear();
            for &p in &lanes.positions {
                let p = p as f64;
                table.extend(inv_freq.iter().map(|&f| {
                    let a = p * f;
                    (libm::cos(a) as f32 * c.rope_attn_factor, libm::sin(a) as f32 * c.rope_attn_factor)
                }));
            }
        }

        let eps = c.norm_eps;
        let n_layers = self.layers.len();
        let first_norm = Some(&self.layers[0].attn_norm[..]);
        if lanes.ranges.len() > 1 {
            // One hand-out per layer, each lane on one thread: the first norm and layer 0's
            // queries, keys and values; then per layer its attention, the rest of it and the next
            // layer's queries, keys and values.
            let (rows, _) = s.rows(c, &lanes, 0);
            run_each(pool, rows, &|_, r| {
                residual_norm(&SingleThread, r.x, r.xb, dim, r.b, false, None, first_norm, eps);
                self.qkv(0, r, &rope, &SingleThread);
            });
            for l in 0..n_layers {
                let (rows, (layer_k, layer_v)) = s.rows(c, &lanes, l + 1);
                let window = c.sliding_window.filter(|_| self.layers[l].local);
                run_each(pool, rows, &|_, r| {
                    let a = AttentionInput { q: r.q, positions: r.positions, layer_k, layer_v, window };
                    let mut out = per_token(r.att_out, c.q_dim(), r.b);
                    self.attend(&a, 0..r.b, 0..c.n_heads, &mut out, &mut Vec::new());
                    self.attention_out_and_ffn(l, r, &SingleThread);
                    if l + 1 < n_layers {
                        self.qkv(l + 1, r, &rope, &SingleThread);
                    }
                });
            }
        } else {
            let (mut rows, _) = s.rows(c, &lanes, n_layers);
            let r = rows.pop().expect("one lane");
            residual_norm(pool, r.x, r.xb, dim, b, false, None, first_norm, eps);
            for l in 0..n_layers {
                let (mut rows, _) = s.rows(c, &lanes, l);
                self.qkv(l, &mut rows.pop().expect("one lane"), &rope, pool);
                self.attention(l, s, &lanes, pool);
                let (mut rows, _) = s.rows(c, &lanes, n_layers);
                self.attention_out_and_ffn(l, &mut rows.pop().expect("one lane"), pool);
            }
        }
        s.rope = rope;

        // Only the last token's logits are needed.
        let last = &s.x[lanes.last * dim..(lanes.last + 1) * dim];
        rmsnorm(&mut s.xb[..dim], last, &self.output_norm, c.norm_eps);
        let acts = &mut s.acts[0];
        acts.reset(dim, 1);
        matmul(&self.output, &s.xb[..dim], acts, &mut s.logits, prec, kern, pool);
        if let Some(cap) = c.logit_softcap {
            s.logits.iter_mut().for_each(|v| *v = cap * libm::tanhf(*v / cap));
        }
    }

    /// Layer `l`'s queries, keys and values of `r`'s rows from their normalised input (`r.xb`):
    /// the products (keys and values straight into their cache slots), then the biases, the Q/K
    /// norms and the rotation, split by tokens (a fused product's rows are taken apart there too).
    fn qkv(&self, l: usize, r: &mut Rows<'_>, rope: &[Vec<(f32, f32)>; 2], pool: &dyn WorkPool) {
        let c = &self.config;
        let layer = &self.layers[l];
        let (q_dim, kv_dim, hd, b) = (c.q_dim(), c.kv_dim(), c.head_dim, r.b);
        let (prec, kern, eps) = (self.precision, self.kernels, c.norm_eps);
        r.acts.reset(c.dim, b);
        match &layer.qkv {
            Qkv::Separate { q, k, v } => {
                let k_new = r.k_new.iter_mut().map(|k| &mut **k).collect();
                let v_new = r.v_new.iter_mut().map(|v| &mut **v).collect();
                let outs = &mut [per_token(r.q, q_dim, b), k_new, v_new];
                matmuls(&[q, k, v], r.xb, r.acts, outs, prec, kern, pool);
            }
            Qkv::Fused(m) => matmul(m, r.xb, r.acts, r.fused, prec, kern, pool),
        }
        let pairs = c.rope_dims / 2;
        let table = &rope[usize::from(layer.local)][r.t0 * pairs..];
        let fused = matches!(layer.qkv, Qkv::Fused(_)).then_some(&r.fused[..b * (q_dim + 2 * kv_dim)]);
        let chunk = tokens_per_job(pool, b);
        let parts = r.q[..b * q_dim].chunks_mut(chunk * q_dim).zip(r.k_new.chunks_mut(chunk)).zip(r.v_new.chunks_mut(chunk));
        let fam = c.family;
        run_each(pool, parts, &|j, ((q, k), v)| {
            let t0 = j * chunk;
            let tokens = q.chunks_exact_mut(q_dim).zip(k.iter_mut()).zip(v.iter_mut());
            for (t, ((q, k), v)) in tokens.enumerate() {
                if let Some(fused) = fused {
                    let row = &fused[(t0 + t) * (q_dim + 2 * kv_dim)..(t0 + t + 1) * (q_dim + 2 * kv_dim)];
                    q.copy_from_slice(&row[..q_dim]);
                    k.copy_from_slice(&row[q_dim..q_dim + kv_dim]);
                    v.copy_from_slice(&row[q_dim + kv_dim..]);
                }
                if let Some(bias) = &layer.qkv_bias {
                    q.iter_mut().zip(&bias[..q_dim]).for_each(|(x, b)| *x += b);
                    k.iter_mut().zip(&bias[q_dim..q_dim + kv_dim]).for_each(|(x, b)| *x += b);
                    v.iter_mut().zip(&bias[q_dim + kv_dim..]).for_each(|(x, b)| *x += b);
                }
                if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                    rmsnorm_heads(q, qn, eps);
                    rmsnorm_heads(k, kn, eps);
                }
                let cs = &table[(t0 + t) * pairs..(t0 + t + 1) * pairs];
                rotate(q, hd, cs, fam.rope);
                rotate(k, hd, cs, fam.rope);
            }
        });
    }

    /// Layer `l`'s attention for a batch without lanes, from `s.q` and the cache into
    /// `s.att_out`, split over `pool` by tokens (a prompt batch) or by heads (a few tokens).
    fn attention(&self, l: usize, s: &mut State, lanes: &Lanes, pool: &dyn WorkPool) {
        let c = &self.config;
        let layer = &self.layers[l];
        let (q_dim, kv_dim, hd) = (c.q_dim(), c.kv_dim(), c.head_dim);
        let b = lanes.positions.len();
        let a = AttentionInput {
            q: &s.q,
            positions: &lanes.positions,
            layer_k: &s.k_cache[l * s.context * kv_dim..(l + 1) * s.context * kv_dim],
            layer_v: &s.v_cache[l * s.context * kv_dim..(l + 1) * s.context * kv_dim],
            window: c.sliding_window.filter(|_| layer.local),
        };
        let split = jobs_for(pool, b);
        let jobs = split.min(c.n_heads);
        let rows = s.att_out[..b * q_dim].chunks_exact_mut(q_dim);
        if pool.threads() == 1 || jobs <= 1 {
            self.attend(&a, 0..b, 0..c.n_heads, &mut rows.collect::<Vec<_>>(), &mut s.scores);
        } else if b >= split {
            // A prompt batch: split by tokens (every head), each job writing its tokens' rows
            // of the output. Later tokens attend to more positions, so the jobs are handed
            // out last chunk first and the cheap ones fill in at the end.
            let chunk = b.div_ceil(split);
            let last = b.div_ceil(chunk) - 1;
            let parts = s.att_out[..b * q_dim].chunks_mut(chunk * q_dim).rev();
            run_each(pool, parts, &|j, part| {
                let k = last - j;
                let mut scores = Vec::new();
                let mut rows: Vec<&mut [f32]> = part.chunks_exact_mut(q_dim).collect();
                self.attend(&a, k * chunk..((k + 1) * chunk).min(b), 0..c.n_heads, &mut rows, &mut scores);
            });
        } else {
            // A few tokens: split by heads, each job writing its heads of every token's row.
            let per = c.n_heads.div_ceil(jobs);
            let mut pieces: Vec<Vec<&mut [f32]>> = (0..c.n_heads.div_ceil(per)).map(|_| Vec::with_capacity(b)).collect();
            for row in rows {
                for (piece, heads) in pieces.iter_mut().zip(row.chunks_mut(per * hd)) {
                    piece.push(heads);
                }
            }
            run_each(pool, pieces, &|j, rows| {
                let mut scores = Vec::new();
                self.attend(&a, 0..b, j * per..((j + 1) * per).min(c.n_heads), rows, &mut scores);
            });
        }
    }

    /// The rest of layer `l` for `r`'s rows: the attention output's product and residual
    /// update, the gated feed-forward and its residual update, and the next layer's normalised
    /// input in `r.xb` (the last layer's is normalised by the caller, for the last token only).
    fn attention_out_and_ffn(&self, l: usize, r: &mut Rows<'_>, pool: &dyn WorkPool) {
        let c = &self.config;
        let layer = &self.layers[l];
        let (dim, f, b) = (c.dim, c.ffn_dim, r.b);
        let (prec, kern, eps) = (self.precision, self.kernels, c.norm_eps);
        r.acts.reset(c.q_dim(), b);
        matmul(&layer.wo, r.att_out, r.acts, r.xb, prec, kern, pool);
        let post = layer.attn_post_norm.as_deref();
        residual_norm(pool, r.x, r.xb, dim, b, true, post, Some(&layer.ffn_norm), eps);

        r.acts.reset(dim, b);
        let activation = c.family.activation;
        match &layer.gate_up {
            GateUp::Separate { gate, up } => {
                let outs = &mut [per_token(r.gate, f, b), per_token(r.up, f, b)];
                matmuls(&[gate, up], r.xb, r.acts, outs, prec, kern, pool);
                gated_activation(&mut r.gate[..b * f], &r.up[..b * f], activation, pool);
            }
            GateUp::Fused(m) => {
                matmul(m, r.xb, r.acts, r.fused, prec, kern, pool);
                fused_gated_activation(&mut r.gate[..b * f], &r.fused[..2 * b * f], f, activation, pool);
            }
        }
        r.acts.reset(f, b);
        matmul(&layer.w_down, r.gate, r.acts, r.xb, prec, kern, pool);
        let post = layer.ffn_post_norm.as_deref();
        let next = self.layers.get(l + 1).map(|n| &n.attn_norm[..]);
        residual_norm(pool, r.x, r.xb, dim, b, true, post, next, eps);
    }
}

#[cfg(test)]
mod tests {
    use super::{exp, gelu_tanh};

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

    #[test]
    fn gelu_tanh_values() {
        // Reference values of 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
        for (x, want) in [(0.0f32, 0.0f32), (1.0, 0.841_192), (-1.0, -0.158_808), (3.0, 2.996_363)] {
            assert!((gelu_tanh(x) - want).abs() < 1e-5, "{x}: {}", gelu_tanh(x));
        }
    }
}
