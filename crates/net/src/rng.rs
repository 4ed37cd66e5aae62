//! A tiny deterministic generator for our own random choices (ephemeral TCP ports).
//!
//! smoltcp keeps its generator private, so we run a second one from the same seed. Ports only need
//! to differ between boots and connections, not to be unpredictable to an attacker who sees traffic.

/// SplitMix64: small, fast, and every seed (including 0) gives a full-period sequence.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

/// First ephemeral port (IANA dynamic range 49152–65535).
const EPHEMERAL_FIRST: u16 = 49152;

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        // A different stream from smoltcp's own generator, which is seeded with the same value.
        SplitMix64(seed ^ 0x6d6f_7465_4f53_6e65)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A port in 49152..=65535.
    pub(crate) fn ephemeral_port(&mut self) -> u16 {
        let span = u64::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        // The remainder is below `span` (16384), so it fits in a u16.
        EPHEMERAL_FIRST + (self.next_u64() % span) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stay_in_the_dynamic_range_and_vary() {
        let mut rng = SplitMix64::new(0);
        let ports: alloc::vec::Vec<u16> = (0..1000).map(|_| rng.ephemeral_port()).collect();
        assert!(ports.iter().all(|&p| p >= 49152));
        let distinct = ports.iter().collect::<alloc::collections::BTreeSet<_>>().len();
        assert!(distinct > 900, "only {distinct} distinct ports out of 1000");
    }

    #[test]
    fn different_seeds_give_different_first_ports() {
        let a = SplitMix64::new(1).ephemeral_port();
        let b = SplitMix64::new(2).ephemeral_port();
        assert_ne!(a, b);
    }
}
