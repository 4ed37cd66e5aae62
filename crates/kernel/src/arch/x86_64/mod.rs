//! x86_64 (PC, QEMU q35).

pub mod serial;

use super::FloatCheck;
use core::arch::asm;
use core::hint::black_box;

/// Architecture name as shown to users.
pub const NAME: &str = "x86_64";

/// Stops the CPU for good: interrupts off, then halt in a loop (an NMI may still wake it).
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Runs `f` with maskable interrupts disabled, restoring the previous state after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(f)
}

fn read_mxcsr() -> u32 {
    let mut value: u32 = 0;
    // SAFETY: `stmxcsr` only stores the SSE control/status register into our
    // local; SSE is enabled by the firmware (the UEFI spec requires it on x64).
    unsafe { asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags)) };
    value
}

fn write_mxcsr(value: u32) {
    // SAFETY: `ldmxcsr` loads the SSE control/status register; callers only
    // clear sticky exception flags of a value read from it, keeping masks and
    // rounding mode unchanged, so no exception can be unmasked by this.
    unsafe { asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, preserves_flags, readonly)) };
}

/// Divides on the SSE unit and reports whether MXCSR recorded the inexact result.
pub fn float_selfcheck() -> FloatCheck {
    const EXCEPTION_FLAGS: u32 = 0x3f;
    const PRECISION_FLAG: u32 = 1 << 5;
    write_mxcsr(read_mxcsr() & !EXCEPTION_FLAGS);
    let third = black_box(1.0_f64) / black_box(3.0_f64);
    let flags = read_mxcsr();
    let sum = black_box(0.1_f64) + black_box(0.2_f64);
    FloatCheck { third, sum, hardware_inexact_flag: flags & PRECISION_FLAG != 0 }
}

/// 64 random bits from RDRAND, if the CPU has it and it delivers within a few tries.
pub fn cpu_random_u64() -> Option<u64> {
    // CPUID.01H:ECX bit 30 advertises RDRAND.
    let leaf1 = core::arch::x86_64::__cpuid(1);
    if leaf1.ecx & (1 << 30) == 0 {
        return None;
    }
    for _ in 0..16 {
        let mut value = 0u64;
        // SAFETY: CPUID said RDRAND exists; the intrinsic only writes `value`.
        if unsafe { core::arch::x86_64::_rdrand64_step(&mut value) } == 1 {
            return Some(value);
        }
    }
    None
}

/// A free-running cycle counter (the TSC), for timing jitter.
pub fn cycle_counter() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}
