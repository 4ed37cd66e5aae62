//! The random number generator behind TLS.
//!
//! rustls-rustcrypto asks `getrandom` 0.2 for randomness (client randoms, key shares, signature
//! nonces). After `ExitBootServices` the firmware's RNG protocol is gone, so the kernel seeds a
//! [`Csprng`] from 32 bytes of boot entropy (EFI RNG, RDSEED/RDRAND, RNDR) with
//! [`install_global`] and routes getrandom to [`fill_global`].
//!
//! # What the kernel must do
//!
//! The getrandom hook is a `#[no_mangle]` symbol, so it may be registered exactly once in the
//! final binary; that is why this library does not register it itself. In the kernel crate:
//!
//! ```toml
//! # crates/kernel/Cargo.toml
//! getrandom = { version = "0.2", features = ["custom"] }
//! ```
//!
//! ```ignore
//! // crates/kernel/src/main.rs (or any module of the UEFI binary)
//! getrandom::register_custom_getrandom!(tls::csprng::fill_global);
//!
//! // at boot, before the first TLS connection (before ExitBootServices if the seed is
//! // drawn from the EFI RNG protocol):
//! tls::csprng::install_global(seed_from_efi_rng_or_rdseed);
//! // now and then, e.g. on every timer tick or packet, fold in cheap jitter:
//! tls::csprng::mix_global(&cycle_counter.to_le_bytes());
//! ```
//!
//! There is no fallback seed. Until [`install_global`] runs, [`fill_global`] fails, getrandom
//! fails, and [`crate::TlsSession::new`] refuses with [`crate::TlsError::NoEntropy`] instead of
//! handshaking with predictable keys.

use core::fmt;
use core::num::NonZeroU32;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use spin::Mutex;

/// Domain separation, so a seed hashed here never collides with the same bytes hashed
/// elsewhere for another purpose.
const SEED_LABEL: &[u8] = b"moteOS tls csprng seed v1";
const MIX_LABEL: &[u8] = b"moteOS tls csprng mix v1";

/// ChaCha20 stream keyed from boot entropy, re-keyable with fresh jitter.
pub struct Csprng {
    rng: ChaCha20Rng,
}

impl Csprng {
    /// Creates a generator from 32 bytes of boot entropy.
    ///
    /// The seed is hashed first so that entropy with structure (a timestamp, RDRAND words of
    /// which some failed) still yields a uniformly distributed key.
    pub fn new(seed: [u8; 32]) -> Self {
        let key: [u8; 32] = Sha256::new().chain_update(SEED_LABEL).chain_update(seed).finalize().into();
        Self { rng: ChaCha20Rng::from_seed(key) }
    }

    /// Folds extra entropy (timer jitter, packet arrival times, a second hardware seed) into
    /// the state.
    ///
    /// The new key is SHA-256 over 32 bytes of the current stream and `extra`: the result is
    /// at least as unpredictable as the old state, even if `extra` is attacker-chosen, and
    /// earlier output cannot be recomputed from the new key.
    pub fn mix(&mut self, extra: &[u8]) {
        let mut old = [0u8; 32];
        self.rng.fill_bytes(&mut old);
        let key: [u8; 32] = Sha256::new()
            .chain_update(MIX_LABEL)
            .chain_update(old)
            .chain_update((extra.len() as u64).to_le_bytes())
            .chain_update(extra)
            .finalize()
            .into();
        self.rng = ChaCha20Rng::from_seed(key);
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }
}

impl fmt::Debug for Csprng {
    // The state is a secret key: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Csprng { .. }")
    }
}

/// The generator behind [`fill_global`]; `None` until the kernel provides a seed.
static GLOBAL: Mutex<Option<Csprng>> = Mutex::new(None);

/// getrandom error code returned by [`fill_global`] before [`install_global`]: the CSPRNG has
/// no seed yet. (Custom codes start at `getrandom::Error::CUSTOM_START`.)
pub const NOT_SEEDED: u32 = getrandom::Error::CUSTOM_START + 1;

/// Seeds the global generator with 32 bytes of boot entropy.
///
/// Calling it again mixes the new seed into the existing state rather than replacing it, so
/// a later, weaker seed can never make the output more predictable.
pub fn install_global(seed: [u8; 32]) {
    let mut global = GLOBAL.lock();
    match global.as_mut() {
        Some(rng) => rng.mix(&seed),
        None => *global = Some(Csprng::new(seed)),
    }
}

/// Folds extra entropy into the global generator; does nothing before [`install_global`],
/// because jitter alone is not a seed.
pub fn mix_global(extra: &[u8]) {
    if let Some(rng) = GLOBAL.lock().as_mut() {
        rng.mix(extra);
    }
}

/// True once [`install_global`] has run.
pub fn is_installed() -> bool {
    GLOBAL.lock().is_some()
}

/// Fills `buf` from the global generator; the function to register as the getrandom hook.
///
/// Its signature is the one `getrandom::register_custom_getrandom!` requires. Before
/// [`install_global`] it fails with [`NOT_SEEDED`] and leaves `buf` untouched.
pub fn fill_global(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    match GLOBAL.lock().as_mut() {
        Some(rng) => {
            rng.fill(buf);
            Ok(())
        }
        None => Err(not_seeded()),
    }
}

/// Collects cheap timing samples (a cycle counter read each time an interrupt wakes the CPU)
/// and hands them over in batches for [`mix_global`], so the cost of re-keying (a SHA-256 and
/// a ChaCha20 key setup) is paid once per [`JitterPool::SAMPLES_PER_STIR`] samples rather
/// than on every interrupt.
#[derive(Debug, Clone, Default)]
pub struct JitterPool {
    lanes: [u64; 8],
    samples: usize,
    stirs: u64,
}

impl JitterPool {
    /// Samples folded into one batch.
    pub const SAMPLES_PER_STIR: usize = 64;

    /// An empty pool.
    pub const fn new() -> Self {
        Self { lanes: [0; 8], samples: 0, stirs: 0 }
    }

    /// Folds in one sample; returns the batch to mix once enough samples are in (the pool
    /// then starts over).
    pub fn add(&mut self, sample: u64) -> Option<[u8; 64]> {
        // Rotating before the xor keeps the low (most jittery) bits of successive samples
        // apart instead of cancelling.
        let lane = &mut self.lanes[self.samples % 8];
        *lane = lane.rotate_left(17) ^ sample;
        self.samples += 1;
        if self.samples < Self::SAMPLES_PER_STIR {
            return None;
        }
        let mut batch = [0u8; 64];
        for (out, lane) in batch.chunks_exact_mut(8).zip(self.lanes) {
            out.copy_from_slice(&lane.to_le_bytes());
        }
        self.lanes = [0; 8];
        self.samples = 0;
        self.stirs += 1;
        Some(batch)
    }

    /// Batches handed out so far.
    pub fn stirs(&self) -> u64 {
        self.stirs
    }
}

fn not_seeded() -> getrandom::Error {
    match NonZeroU32::new(NOT_SEEDED) {
        Some(code) => getrandom::Error::from(code),
        // NOT_SEEDED is a non-zero constant; this arm only satisfies the type checker.
        None => getrandom::Error::UNSUPPORTED,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::vec;
    use std::collections::HashSet;

    const MIB: usize = 1 << 20;

    fn output(rng: &mut Csprng, len: usize) -> alloc::vec::Vec<u8> {
        let mut buf = vec![0u8; len];
        rng.fill(&mut buf);
        buf
    }

    #[test]
    fn bits_are_balanced_over_one_mebibyte() {
        let mut rng = Csprng::new([7; 32]);
        let data = output(&mut rng, MIB);
        let ones: u64 = data.iter().map(|b| u64::from(b.count_ones())).sum();
        let bits = (MIB * 8) as u64;
        // Binomial(n, 1/2): standard deviation sqrt(n)/2 ≈ 1448 for n = 8 Mi bits.
        // Seven standard deviations: a correct generator fails this about once in 10^11 runs.
        let deviation = ones.abs_diff(bits / 2);
        assert!(deviation < 10_200, "{ones} ones in {bits} bits");

        // Every byte value should appear about 4096 times; chi-square with 255 degrees of
        // freedom has mean 255 and standard deviation about 22.6.
        let mut counts = [0u64; 256];
        for &b in &data {
            counts[usize::from(b)] += 1;
        }
        let expected = (MIB / 256) as f64;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
        assert!((150.0..400.0).contains(&chi2), "chi-square {chi2}");
    }

    #[test]
    fn no_32_byte_block_repeats() {
        let mut rng = Csprng::new([1; 32]);
        let data = output(&mut rng, MIB);
        let mut seen = HashSet::new();
        for block in data.chunks_exact(32) {
            assert!(seen.insert(block), "repeated block");
        }
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let mut a = Csprng::new([0; 32]);
        let mut seed = [0; 32];
        seed[31] = 1;
        let mut b = Csprng::new(seed);
        assert_ne!(output(&mut a, 64), output(&mut b, 64));
        // Same seed, same stream: the generator is deterministic given its seed.
        assert_eq!(output(&mut Csprng::new([9; 32]), 64), output(&mut Csprng::new([9; 32]), 64));
    }

    #[test]
    fn mixing_changes_the_stream() {
        let mut plain = Csprng::new([3; 32]);
        let mut mixed = Csprng::new([3; 32]);
        let mut mixed_other = Csprng::new([3; 32]);
        mixed.mix(b"jitter 1");
        mixed_other.mix(b"jitter 2");
        let plain_out = output(&mut plain, 64);
        let mixed_out = output(&mut mixed, 64);
        assert_ne!(plain_out, mixed_out);
        assert_ne!(mixed_out, output(&mut mixed_other, 64));
        // Even mixing nothing re-keys.
        let mut empty_mix = Csprng::new([3; 32]);
        empty_mix.mix(&[]);
        assert_ne!(output(&mut Csprng::new([3; 32]), 64), output(&mut empty_mix, 64));
    }

    #[test]
    fn the_jitter_pool_hands_out_every_sample_in_batches() {
        let mut pool = JitterPool::new();
        let mut batches = alloc::vec::Vec::new();
        for i in 0..(3 * JitterPool::SAMPLES_PER_STIR as u64) {
            if let Some(batch) = pool.add(0x1234_5678_9abc_def0 ^ (i * 7919)) {
                batches.push(batch);
            }
        }
        assert_eq!(batches.len(), 3);
        assert_eq!(pool.stirs(), 3);
        // Different samples, different batches; the pool starts over after each.
        assert_ne!(batches[0], batches[1]);
        let mut a = JitterPool::new();
        let mut b = JitterPool::new();
        let one = (0..64).find_map(|i| a.add(i)).unwrap();
        let other = (0..64).find_map(|i| b.add(if i == 63 { 1000 } else { i })).unwrap();
        assert_ne!(one, other, "the last sample must count");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(alloc::format!("{:?}", Csprng::new([5; 32])), "Csprng { .. }");
    }
}
