//! AArch64 (QEMU `virt`, Arm SystemReady boards).

pub mod serial;

use super::FloatCheck;
use aarch64_cpu::asm::wfi;
use aarch64_cpu::registers::{DAIF, Readable, Writeable};
use core::arch::asm;
use core::hint::black_box;

/// Architecture name as shown to users.
pub const NAME: &str = "aarch64";

/// Stops the CPU for good: all exceptions masked, then wait-for-interrupt in a loop.
pub fn halt_forever() -> ! {
    loop {
        DAIF.write(DAIF::D::Masked + DAIF::A::Masked + DAIF::I::Masked + DAIF::F::Masked);
        wfi();
    }
}

/// Runs `f` with IRQs masked, restoring the previous mask after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let saved = DAIF.get();
    DAIF.modify(DAIF::I::Masked);
    let result = f();
    DAIF.set(saved);
    result
}

fn read_fpsr() -> u64 {
    let value: u64;
    // SAFETY: reading FPSR has no side effects; FP/SIMD is enabled by the firmware
    // (the UEFI spec requires it on AArch64).
    unsafe { asm!("mrs {}, fpsr", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

fn write_fpsr(value: u64) {
    // SAFETY: FPSR only holds sticky status flags; writing it changes no control state.
    unsafe { asm!("msr fpsr, {}", in(reg) value, options(nomem, nostack, preserves_flags)) };
}

/// Divides on the FP unit and reports whether FPSR recorded the inexact result.
pub fn float_selfcheck() -> FloatCheck {
    const CUMULATIVE_FLAGS: u64 = 0x9f;
    const INEXACT_FLAG: u64 = 1 << 4;
    write_fpsr(read_fpsr() & !CUMULATIVE_FLAGS);
    let third = black_box(1.0_f64) / black_box(3.0_f64);
    let flags = read_fpsr();
    let sum = black_box(0.1_f64) + black_box(0.2_f64);
    FloatCheck { third, sum, hardware_inexact_flag: flags & INEXACT_FLAG != 0 }
}

/// 64 random bits from the RNDR register (FEAT_RNG), if the CPU has it.
pub fn cpu_random_u64() -> Option<u64> {
    let isar0: u64;
    // SAFETY: ID_AA64ISAR0_EL1 is a read-only identification register.
    unsafe { asm!("mrs {}, id_aa64isar0_el1", out(reg) isar0, options(nomem, nostack, preserves_flags)) };
    if (isar0 >> 60) & 0xf == 0 {
        return None;
    }
    for _ in 0..16 {
        let value: u64;
        let failed: u64;
        // SAFETY: FEAT_RNG is present (checked above); RNDR (s3_3_c2_c4_0) returns a
        // random number and sets NZCV.Z on failure, which `cset` captures.
        unsafe {
            asm!(
                "mrs {v}, s3_3_c2_c4_0",
                "cset {f}, eq",
                v = out(reg) value,
                f = out(reg) failed,
                options(nomem, nostack),
            )
        };
        if failed == 0 {
            return Some(value);
        }
    }
    None
}

/// A free-running counter (the virtual counter CNTVCT_EL0), for timing jitter.
pub fn cycle_counter() -> u64 {
    let value: u64;
    // SAFETY: CNTVCT_EL0 is readable at EL1 and has no side effects.
    unsafe { asm!("mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}
