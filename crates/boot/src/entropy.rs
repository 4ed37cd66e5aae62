//! Seed material for the kernel's random number generator, gathered while the
//! firmware's RNG protocol is still available.

use kernel::boot_info::{Entropy, EntropySource};
use uefi::boot;
use uefi::proto::rng::Rng;

/// Tries the EFI RNG protocol, then the CPU's RNG instruction, then timing jitter.
pub fn gather() -> Entropy {
    let mut seed = [0u8; 32];
    if efi_rng(&mut seed) {
        return Entropy { seed, source: EntropySource::EfiRng };
    }
    if cpu_rng(&mut seed) {
        return Entropy { seed, source: EntropySource::CpuInstruction };
    }
    log::warn!("entropy: no hardware random source; seeding from timing jitter only (weak)");
    timing_jitter(&mut seed);
    Entropy { seed, source: EntropySource::TimingOnly }
}

fn efi_rng(seed: &mut [u8; 32]) -> bool {
    let Ok(handle) = boot::get_handle_for_protocol::<Rng>() else { return false };
    let Ok(mut rng) = boot::open_protocol_exclusive::<Rng>(handle) else { return false };
    rng.get_rng(None, seed).is_ok()
}

fn cpu_rng(seed: &mut [u8; 32]) -> bool {
    for chunk in seed.chunks_mut(8) {
        match kernel::arch::cpu_random_u64() {
            Some(v) => chunk.copy_from_slice(&v.to_le_bytes()),
            None => return false,
        }
    }
    true
}

/// Folds the low bits of a fast counter sampled around short firmware stalls.
/// Only a last resort: the result is reported as weak.
fn timing_jitter(seed: &mut [u8; 32]) {
    let mut state = kernel::arch::cycle_counter();
    for (i, byte) in seed.iter_mut().enumerate() {
        for _ in 0..8 {
            boot::stall(core::time::Duration::from_micros(1 + (i as u64 % 3)));
            state = state.rotate_left(7) ^ kernel::arch::cycle_counter();
            state = state.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        *byte = (state >> 56) as u8;
    }
}
