//! Test harness (feature `testing`, host only): the stack under test on one end of a virtual
//! cable, a scripted LAN on the other, and a fake clock that only the test advances. Used by this
//! crate's tests and by crates that run protocols over the stack (the request engine in `client`).

pub mod lan;
pub mod peer;
pub mod wire;

use std::vec::Vec;

use crate::{NetConfig, NetStack};

use lan::{Lan, STACK_MAC};
use wire::{WireEnd, cable};

/// Longest single jump of the fake clock, so test closures get to act at least this often.
const MAX_STEP_MS: u64 = 1_000;

/// The stack under test, the LAN it is plugged into, and the fake clock (ms since boot).
pub struct Net {
    pub stack: NetStack<WireEnd>,
    pub lan: Lan,
    pub now: u64,
}

impl Net {
    /// A stack started at t = 1 s (not 0, so "since boot" arithmetic is exercised) and an empty LAN.
    pub fn new(config: NetConfig) -> Self {
        let now = 1_000;
        let (ours, theirs) = cable();
        Net { stack: NetStack::new(ours, STACK_MAC, config, now), lan: Lan::new(theirs), now }
    }

    /// Polls both sides at the current time until no frame moves.
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            self.stack.poll(self.now);
            if !self.lan.step(self.now) {
                return;
            }
        }
        panic!("network never went quiet");
    }

    /// How far the clock may jump: to the next timer of either side, at least 1 ms, at most `limit`.
    fn next_step(&mut self, limit: u64) -> u64 {
        let stack = self.stack.poll_delay(self.now);
        let lan = self.lan.poll_delay(self.now);
        let delay = [stack, lan].into_iter().flatten().min().unwrap_or(u64::MAX);
        delay.clamp(1, limit.max(1))
    }

    /// Runs the network for `ms` of fake time, jumping from timer to timer.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        loop {
            self.settle();
            if self.now >= target {
                return;
            }
            let step = self.next_step((target - self.now).min(MAX_STEP_MS));
            self.now += step;
        }
    }

    /// Runs until `done` says so (it is called after every settled step and may act on the network),
    /// or until `max_ms` of fake time passed. Returns whether `done` was reached.
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let deadline = self.now + max_ms;
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
            let step = self.next_step((deadline - self.now).min(MAX_STEP_MS));
            self.now += step;
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), different for each seed.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// FNV-1a, to compare transfers by checksum.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
