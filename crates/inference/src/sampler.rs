//! Choosing the next token from the logits: repetition penalty, temperature, top-k, top-p,
//! min-p, with a seeded generator; greedy when the temperature is zero.

use alloc::vec::Vec;

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; `0` means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; `0` keeps all.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p`; `1` keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one; `0` keeps all.
    pub min_p: f32,
    /// Divide (positive) or multiply (negative) the logits of recently seen tokens by this; `1` is off.
    pub repetition_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Stop after this many generated tokens.
    pub max_tokens: usize,
    /// Tokens that end generation in addition to the model's own end-of-turn tokens.
    pub extra_stop_tokens: Vec<u32>,
    /// Keep generating through stop tokens (benchmarks want exactly `max_tokens`).
    pub ignore_stop_tokens: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.1,
            repeat_last_n: 64,
            max_tokens: 512,
            extra_stop_tokens: Vec::new(),
            ignore_stop_tokens: false,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: deterministic, no penalty.
    pub fn greedy() -> Self {
        Self { temperature: 0.0, top_k: 0, top_p: 1.0, min_p: 0.0, repetition_penalty: 1.0, ..Self::default() }
    }
}

/// The sampler's state: its random generator and scratch space.
#[derive(Debug)]
pub struct Sampler {
    rng: XorShiftRng,
    candidates: Vec<(u32, f32)>,
}

/// Index of the largest value (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

impl Sampler {
    /// A sampler whose random choices are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: XorShiftRng::seed_from_u64(seed), candidates: Vec::new() }
    }

    /// Picks a token from `logits` (modified in place by the repetition penalty) given the
    /// tokens seen so far.
    pub fn sample(&mut self, logits: &mut [f32], recent: &[u32], p: &SamplingParams) -> u32 {
        if p.repetition_penalty != 1.0 && p.repetition_penalty > 0.0 {
            let start = recent.len().saturating_sub(p.repeat_last_n);
            let mut seen: Vec<u32> = recent[start..].to_vec();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 { *l / p.repetition_penalty } else { *l * p.repetition_penalty };
                }
            }
        }
        if p.temperature <= 0.0 || logits.is_empty() {
            return argmax(logits);
        }

        let c = &mut self.candidates; // scratch reused across calls
        c.clear();
        c.extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        let desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1);
        if p.top_k > 0 && p.top_k < c.len() {
            c.select_nth_unstable_by(p.top_k - 1, desc);
            c.truncate(p.top_k);
        }
        c.sort_unstable_by(desc);
        // Softmax with temperature over the candidates (the first is the maximum).
        let max = c[0].1;
        let mut sum = 0.0;
        for e in c.iter_mut() {
            e.1 = libm::expf((e.1 - max) / p.temperature);
            sum += e.1;
        }
        for e in c.iter_mut() {
            e.1 /= sum;
        }
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = c.len();
            for (i, e) in c.iter().enumerate() {
                acc += e.1;
                if acc >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            c.truncate(keep);
        }
        if p.min_p > 0.0 {
            let cut = c[0].1 * p.min_p;
            let keep = c.iter().take_while(|e| e.1 >= cut).count().max(1);
            c.truncate(keep);
        }
        let total: f32 = c.iter().map(|e| e.1).sum();
        let u = (self.rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        let mut r = u * total;
        for e in c.iter() {
            r -= e.1;
            if r < 0.0 {
                return e.0;
            }
        }
        c[c.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn greedy_picks_the_largest() {
        let mut s = Sampler::new(1);
        let mut l = vec![0.1, 3.0, -1.0, 2.9];
        assert_eq!(s.sample(&mut l, &[], &SamplingParams::greedy()), 1);
    }

    #[test]
    fn repetition_penalty_can_change_the_choice() {
        let mut s = Sampler::new(1);
        let p = SamplingParams { repetition_penalty: 1.5, ..SamplingParams::greedy() };
        let mut l = vec![0.1, 3.0, -1.0, 2.9];
        assert_eq!(s.sample(&mut l, &[1], &p), 3);
        assert_eq!(l[1], 2.0);
    }

    #[test]
    fn top_k_one_is_greedy_and_seeds_reproduce() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let p = SamplingParams { top_k: 1, repetition_penalty: 1.0, ..SamplingParams::default() };
        let mut s = Sampler::new(5);
        assert_eq!(s.sample(&mut logits.clone(), &[], &p), argmax(&logits));
        let p = SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, min_p: 0.0, ..SamplingParams::greedy() };
        let run = |seed| {
            let mut s = Sampler::new(seed);
            (0..20).map(|_| s.sample(&mut logits.clone(), &[], &p)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_filters() {
        // Probabilities ∝ e^logit: token 0 ≈ 0.665, 1 ≈ 0.245, 2 ≈ 0.090 (and a negligible 3).
        let logits = [2.0f32, 1.0, 0.0, -20.0];
        let p = SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, min_p: 0.0, ..SamplingParams::greedy() };
        let mut s = Sampler::new(3);
        let mut counts = [0usize; 4];
        for _ in 0..20000 {
            counts[s.sample(&mut logits.clone(), &[], &p) as usize] += 1;
        }
        let f0 = counts[0] as f32 / 20000.0;
        assert!((f0 - 0.665).abs() < 0.02, "{counts:?}");
        assert!(counts[2] > 1400 && counts[3] == 0, "{counts:?}");
        // top-p 0.8 keeps tokens 0 and 1 only; min-p 0.2 likewise (0.090 < 0.2 × 0.665).
        for p in [SamplingParams { top_p: 0.8, ..p.clone() }, SamplingParams { min_p: 0.2, ..p.clone() }] {
            let mut seen = [false; 4];
            for _ in 0..2000 {
                seen[s.sample(&mut logits.clone(), &[], &p) as usize] = true;
            }
            assert_eq!(seen, [true, true, false, false]);
        }
    }
}
