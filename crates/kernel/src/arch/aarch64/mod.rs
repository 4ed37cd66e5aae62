//! AArch64 (QEMU `virt`, Arm SystemReady boards).

pub mod cpus;
mod exceptions;
mod gic;
mod irq;
mod power;
pub use power::power_off;
mod its;
mod paging;
pub mod serial;
mod smp;

use super::{FloatCheck, InterruptSetup};
use aarch64_cpu::asm::wfi;
use aarch64_cpu::registers::{DAIF, ReadWriteable, Readable, Writeable};
use core::arch::asm;
use core::hint::black_box;
use core::time::Duration;

/// Architecture name as shown to users.
pub const NAME: &str = "aarch64";

/// Stops the CPU for good: all exceptions masked, then wait-for-interrupt in a loop.
pub fn halt_forever() -> ! {
    loop {
        DAIF.write(DAIF::D::Masked + DAIF::A::Masked + DAIF::I::Masked + DAIF::F::Masked);
        wfi();
    }
}

/// Installs the exception vectors, sets up the GIC, the generic timer and the
/// UART's receive interrupt, then unmasks IRQs.
pub fn init_interrupts(rsdp: Option<u64>) -> Result<InterruptSetup, &'static str> {
    RSDP.store(rsdp.unwrap_or(0), core::sync::atomic::Ordering::Relaxed);
    set_cpu_index(0);
    exceptions::init();
    let summary = irq::init(rsdp, serial::interrupt())?;
    serial::enable_receive_interrupt();
    DAIF.modify(DAIF::I::Unmasked + DAIF::A::Unmasked);
    Ok(InterruptSetup {
        counter: summary.timer,
        timer: summary.timer,
        ps2_keyboard: None,
        description: alloc::format!(
            "GICv{}, generic timer {} MHz, UART interrupt {}, {}",
            summary.version,
            summary.timer.hz() / 1_000_000,
            serial::interrupt().map_or(alloc::string::String::from("none"), |g| alloc::format!("{g}")),
            summary.msi
        ),
    })
}

/// Arms the timer so the CPU wakes after `after` at the latest.
pub fn arm_timer(after: Duration) {
    irq::arm(after);
}

/// Unmasks IRQs and waits for one.
pub fn halt_until_interrupt() {
    DAIF.modify(DAIF::I::Unmasked);
    wfi();
}

/// Waits for an interrupt unless `pending()` (evaluated with IRQs masked) says
/// there is work. `wfi` wakes on a pending interrupt even while masked, so one
/// that arrives after the check is not missed; unmasking then takes it.
pub fn wait_for_work(pending: impl FnOnce() -> bool) {
    DAIF.modify(DAIF::I::Masked);
    if !pending() {
        wfi();
    }
    DAIF.modify(DAIF::I::Unmasked);
}

/// Interrupts counted as spurious or unexpected since boot.
pub fn spurious_interrupts() -> u64 {
    irq::spurious_count()
}

/// Deliberately faults (a load from an address outside the translated range
/// raises a translation fault), to test the exception diagnostics.
pub fn trigger_test_fault() {
    let address = black_box(0x0000_ffff_dead_0000_u64) as *const u64;
    // SAFETY: not safe at all, on purpose: this access faults and the exception
    // handler reports it. Only reachable through the `test-fault` boot option.
    let value = unsafe { core::ptr::read_volatile(address) };
    black_box(value);
}

/// Runs `f` with IRQs masked, restoring the previous mask after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let saved = DAIF.get();
    DAIF.modify(DAIF::I::Masked);
    let result = f();
    DAIF.set(saved);
    result
}

/// Clears FPSR's cumulative exception flags and hands `a` and `b` back through the
/// same asm block, so the compiler cannot start a computation on them earlier.
fn clear_flags_passing(a: f64, b: f64) -> (f64, f64) {
    let (mut a_bits, mut b_bits) = (a.to_bits(), b.to_bits());
    // SAFETY: FPSR only holds sticky status flags (writing zero changes no control
    // state); FP/SIMD is enabled by the firmware (required by the UEFI spec).
    unsafe {
        asm!(
            "msr fpsr, xzr",
            inout("x0") a_bits,
            inout("x1") b_bits,
            options(nomem, nostack, preserves_flags),
        )
    };
    (f64::from_bits(a_bits), f64::from_bits(b_bits))
}

/// Reads FPSR once `result` exists (it is an input, so its computation comes first).
fn flags_after(result: f64) -> u64 {
    let value: u64;
    // SAFETY: reading FPSR has no side effects; `result` is merely an input operand.
    unsafe {
        asm!("mrs {v}, fpsr", v = out(reg) value, in("x0") result.to_bits(), options(nomem, nostack, preserves_flags))
    };
    value
}

/// Divides on the FP unit and reports whether FPSR recorded the inexact result.
pub fn float_selfcheck() -> FloatCheck {
    const INEXACT_FLAG: u64 = 1 << 4;
    let (one, three) = clear_flags_passing(1.0, 3.0);
    let third = one / three;
    let flags = flags_after(third);
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

/// NEON is part of every AArch64 CPU and already enabled by the firmware (the kernel uses
/// floating point from its first instruction); nothing to turn on.
pub fn enable_simd() -> &'static str {
    "NEON"
}

/// The message a PCI device sends (MSI-X) to raise the kernel's device interrupt, which
/// sets the device flag ([`crate::events::signal_device`]).
pub fn device_msi() -> Option<super::MsiMessage> {
    irq::device_msi()
}

/// Readies the interrupt controller for MSI from the PCI function with `requester_id`
/// (bus << 8 | device << 3 | function); the GICv3 ITS maps the device to an interrupt here.
pub fn prepare_msi(requester_id: u32) -> Result<(), &'static str> {
    irq::prepare_msi(requester_id)
}

/// The end of the physical address space the kernel maps.
pub fn address_space_top() -> Result<u64, &'static str> {
    paging::address_space_top()
}

/// Builds the kernel's identity map of `layout` and switches to it.
///
/// # Safety
/// `layout` must map, at their own addresses, every address the kernel still uses.
pub unsafe fn activate_page_tables(layout: &hal::identity_map::Layout<'_>) -> Result<(), &'static str> {
    // SAFETY: forwarded from the caller.
    let summary = unsafe { paging::activate(layout) }?;
    log::info!("memory: own translation tables active ({}-bit identity map)", summary.address_bits);
    Ok(())
}

/// Switches to `stacks` (never to return to the old stack) and calls `entry(arg)` there.
/// The kernel runs on SP_EL0 from then on, so every exception switches to SP_EL1, the
/// exception stack: a fault on a full stack can still be reported.
pub fn run_on_stack<T>(stacks: &super::address_space::CpuStacks, entry: fn(T) -> !, arg: T) -> ! {
    extern "C" fn trampoline<T>(boxed: *mut (fn(T) -> !, T)) -> ! {
        // SAFETY: `boxed` is the box leaked below, consumed exactly once here.
        let (entry, arg) = *unsafe { alloc::boxed::Box::from_raw(boxed) };
        entry(arg)
    }
    let boxed = alloc::boxed::Box::into_raw(alloc::boxed::Box::new((entry, arg)));
    // SAFETY: both stacks are mapped, 16-byte aligned and unused; IRQs are masked while the
    // stack pointers change; nothing on the old stack is referenced after the switch (the
    // argument moved to the heap), and the trampoline never returns.
    unsafe {
        asm!(
            "msr daifset, #2",
            "msr spsel, #1",
            "mov sp, {exception}",
            "msr sp_el0, {top}",
            "msr spsel, #0",
            "mov x29, xzr",
            "mov x30, xzr",
            "bl {trampoline}",
            "brk #1",
            exception = in(reg) stacks.exception.top,
            top = in(reg) stacks.main.top,
            trampoline = sym trampoline::<T>,
            in("x0") boxed,
            options(noreturn),
        )
    }
}

/// Starts the application processors among `cpus` with PSCI `CPU_ON`; returns the indices
/// that came up.
pub fn start_processors(cpus: &[super::Cpu], _map: &[crate::boot_info::MemoryRegion]) -> alloc::vec::Vec<usize> {
    smp::start(cpus, Some(RSDP.load(core::sync::atomic::Ordering::Relaxed)).filter(|&r| r != 0))
}

/// Wakes an application processor waiting for pool work.
pub fn wake_processor(cpu: &super::Cpu) {
    irq::send_wake(cpu);
}

/// The RSDP, kept for processor start-up (the FADT names the PSCI conduit).
static RSDP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Records the calling processor's index (0 = boot processor) in TPIDR_EL1.
pub fn set_cpu_index(index: usize) {
    // SAFETY: TPIDR_EL1 is a scratch register for the OS; nothing else uses it.
    unsafe { asm!("msr tpidr_el1, {}", in(reg) index as u64, options(nomem, nostack, preserves_flags)) };
}

/// The calling processor's index (0 = boot processor).
pub fn cpu_index() -> usize {
    let index: u64;
    // SAFETY: reading TPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, tpidr_el1", out(reg) index, options(nomem, nostack, preserves_flags)) };
    index as usize
}
