//! x86_64 (PC, QEMU q35).

mod apic;
pub mod cpus;
mod gdt;
mod interrupts;
mod paging;
mod pit;
mod power;
mod ps2;
pub use power::power_off;
pub mod serial;
mod smp;

use super::{FloatCheck, InterruptSetup};
use core::arch::asm;
use core::hint::black_box;
use core::time::Duration;

/// Architecture name as shown to users.
pub const NAME: &str = "x86_64";

/// Stops the CPU for good: interrupts off, then halt in a loop (an NMI may still wake it).
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Sets up descriptor tables, interrupt controllers, the calibrated clock and the
/// input devices, then enables interrupts.
pub fn init_interrupts(rsdp: Option<u64>) -> Result<InterruptSetup, &'static str> {
    gdt::init(super::address_space::stacks(0).map(|s| s.exception.top));
    set_cpu_index(0);
    interrupts::init();
    let summary = apic::init(rsdp)?;
    let keyboard = match ps2::init() {
        Ok(set) => Some(set),
        Err(why) => {
            log::warn!("keyboard: {why}");
            None
        }
    };
    serial::enable_receive_interrupt();
    x86_64::instructions::interrupts::enable();
    Ok(InterruptSetup {
        counter: summary.tsc,
        timer: summary.lapic_timer,
        ps2_keyboard: keyboard,
        description: alloc::format!(
            "local APIC id {} + {} I/O APIC(s), legacy PIC masked; TSC {} MHz, APIC timer {} kHz",
            summary.lapic_id,
            summary.io_apics,
            summary.tsc.hz() / 1_000_000,
            summary.lapic_timer.hz() / 1_000
        ),
    })
}

/// Arms the one-shot timer so the CPU wakes after `after` at the latest.
pub fn arm_timer(after: Duration) {
    apic::arm(after);
}

/// Enables interrupts and halts until one arrives (atomically: `sti; hlt`, so an
/// interrupt between the check and the halt cannot be missed).
pub fn halt_until_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

/// Halts unless `pending()` (evaluated with interrupts off) says there is work.
pub fn wait_for_work(pending: impl FnOnce() -> bool) {
    x86_64::instructions::interrupts::disable();
    if pending() {
        x86_64::instructions::interrupts::enable();
    } else {
        x86_64::instructions::interrupts::enable_and_hlt();
    }
}

/// Interrupts counted as spurious or unexpected since boot.
pub fn spurious_interrupts() -> u64 {
    interrupts::spurious_count()
}

/// Deliberately faults (a load through a non-canonical address raises #GP), to
/// test the exception diagnostics.
pub fn trigger_test_fault() {
    let address = black_box(0xdead_beef_0000_0000_u64) as *const u64;
    // SAFETY: not safe at all, on purpose: this access faults and the exception
    // handler reports it. Only reachable through the `test-fault` boot option.
    let value = unsafe { core::ptr::read_volatile(address) };
    black_box(value);
}

/// Runs `f` with maskable interrupts disabled, restoring the previous state after.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(f)
}

/// Clears MXCSR's sticky exception flags and hands `a` and `b` back through the
/// same asm block, so the compiler cannot start a computation on them earlier.
fn clear_flags_passing(a: f64, b: f64) -> (f64, f64) {
    let (mut a_bits, mut b_bits) = (a.to_bits(), b.to_bits());
    let mut csr: u32 = 0;
    // SAFETY: stores MXCSR into `csr`, clears only the six sticky exception flags
    // (masks and rounding mode are kept, so no exception gets unmasked) and
    // reloads it; SSE is enabled by the firmware (required by the UEFI spec on x64).
    unsafe {
        asm!(
            "stmxcsr [{csr}]",
            "and dword ptr [{csr}], 0xffffffc0",
            "ldmxcsr [{csr}]",
            csr = in(reg) &mut csr,
            inout("rax") a_bits,
            inout("rdx") b_bits,
            options(nostack),
        )
    };
    (f64::from_bits(a_bits), f64::from_bits(b_bits))
}

/// Reads MXCSR once `result` exists (it is an input, so its computation comes first).
fn flags_after(result: f64) -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: only stores MXCSR into our local; `result` is merely an input operand.
    unsafe {
        asm!("stmxcsr [{csr}]", csr = in(reg) &mut csr, in("rax") result.to_bits(), options(nostack, preserves_flags))
    };
    csr
}

/// Divides on the SSE unit and reports whether MXCSR recorded the inexact result.
pub fn float_selfcheck() -> FloatCheck {
    const PRECISION_FLAG: u32 = 1 << 5;
    let (one, three) = clear_flags_passing(1.0, 3.0);
    let third = one / three;
    let flags = flags_after(third);
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

/// Turns on the AVX register state (CR4.OSXSAVE, XCR0 x87|SSE|AVX) when the CPU has AVX,
/// so that the inference kernels may use AVX2/FMA (they check XCR0 themselves). Returns a
/// line for the log.
///
/// Called on every processor (the state is per processor). Safe to do: moteOS never switches
/// contexts on a processor (pool jobs run to completion), and the interrupt
/// handlers are compiled for SSE only; legacy SSE instructions leave the upper halves of
/// the YMM registers alone, so a handler cannot corrupt vector state it does not save.
pub fn enable_simd() -> &'static str {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    use x86_64::registers::xcontrol::{XCr0, XCr0Flags};
    let leaf1 = core::arch::x86_64::__cpuid(1);
    let has_xsave = leaf1.ecx & (1 << 26) != 0;
    let has_avx = leaf1.ecx & (1 << 28) != 0;
    if !has_xsave || !has_avx {
        return "SSE2 (the CPU has no AVX)";
    }
    // SAFETY: the CPU supports XSAVE (checked above), so setting OSXSAVE is allowed; it only
    // makes XGETBV/XSETBV usable and changes nothing else the kernel relies on.
    unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::OSXSAVE)) };
    // SAFETY: x87 and SSE state are always valid in XCR0 and AVX is supported (checked
    // above); enabling AVX state is what lets VEX instructions run instead of faulting.
    unsafe { XCr0::write(XCr0::read() | XCr0Flags::X87 | XCr0Flags::SSE | XCr0Flags::AVX) };
    let leaf7 = core::arch::x86_64::__cpuid_count(7, 0);
    if leaf7.ebx & (1 << 5) != 0 && leaf1.ecx & (1 << 12) != 0 {
        "AVX2 + FMA enabled"
    } else {
        "AVX enabled (no AVX2/FMA)"
    }
}

/// The message a PCI device sends (MSI-X) to raise the kernel's device interrupt, which
/// sets the device flag ([`crate::events::signal_device`]).
pub fn device_msi() -> Option<super::MsiMessage> {
    apic::msi_message(interrupts::vector::DEVICE)
}

/// Readies the interrupt controller for MSI from a PCI function: nothing to do on x86_64,
/// where every device writes the same local APIC message.
pub fn prepare_msi(_requester_id: u32) -> Result<(), &'static str> {
    Ok(())
}

/// The end of the physical address space the kernel maps (everything the CPU can address).
pub fn address_space_top() -> Result<u64, &'static str> {
    Ok(paging::address_space_top())
}

/// Builds the kernel's identity map of `layout` and switches to it.
///
/// # Safety
/// `layout` must map, at their own addresses, every address the kernel still uses.
pub unsafe fn activate_page_tables(layout: &hal::identity_map::Layout<'_>) -> Result<(), &'static str> {
    // SAFETY: forwarded from the caller.
    let summary = unsafe { paging::activate(layout) }?;
    log::info!(
        "memory: own page tables active: {} table pages; {} x 1 GiB, {} x 2 MiB, {} x 4 KiB pages",
        summary.tables,
        summary.pages[0],
        summary.pages[1],
        summary.pages[2]
    );
    Ok(())
}

/// Switches to `stack` (never to return to the old one) and calls `entry(arg)` there.
pub fn run_on_stack<T>(stacks: &super::address_space::CpuStacks, entry: fn(T) -> !, arg: T) -> ! {
    extern "sysv64" fn trampoline<T>(boxed: *mut (fn(T) -> !, T)) -> ! {
        // SAFETY: `boxed` is the box leaked below, consumed exactly once here.
        let (entry, arg) = *unsafe { alloc::boxed::Box::from_raw(boxed) };
        entry(arg)
    }
    let boxed = alloc::boxed::Box::into_raw(alloc::boxed::Box::new((entry, arg)));
    // SAFETY: the new stack is mapped, 16-byte aligned and unused; nothing on the old stack
    // is referenced after the switch (the argument moved to the heap), and the trampoline
    // never returns.
    unsafe {
        asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {trampoline}",
            "ud2",
            top = in(reg) stacks.main.top,
            trampoline = sym trampoline::<T>,
            in("rdi") boxed,
            options(noreturn),
        )
    }
}

/// Starts the application processors among `cpus` (INIT-SIPI-SIPI through a trampoline
/// page below 1 MiB taken from `map`); returns the indices that came up.
pub fn start_processors(cpus: &[super::Cpu], map: &[crate::boot_info::MemoryRegion]) -> alloc::vec::Vec<usize> {
    match smp::trampoline_page(map) {
        Some(page) => {
            log::info!("smp: trampoline at {page:#x}");
            smp::start(cpus, page)
        }
        None => {
            log::warn!("smp: no free memory below 1 MiB for the start-up code; using the boot processor only");
            alloc::vec::Vec::new()
        }
    }
}

/// Wakes an application processor waiting for pool work.
pub fn wake_processor(cpu: &super::Cpu) {
    apic::send_wake(cpu.hardware_id as u32, interrupts::vector::WAKE);
}

/// IA32_GS_BASE: the kernel does not use the GS segment, so its base holds the processor index.
const GS_BASE: u32 = 0xc000_0101;

/// Records the calling processor's index (0 = boot processor).
pub fn set_cpu_index(index: usize) {
    // SAFETY: IA32_GS_BASE only affects GS-relative addressing, which the kernel never uses.
    unsafe { x86_64::registers::model_specific::Msr::new(GS_BASE).write(index as u64) };
}

/// The calling processor's index (0 = boot processor).
pub fn cpu_index() -> usize {
    // SAFETY: reading IA32_GS_BASE has no side effects.
    unsafe { x86_64::registers::model_specific::Msr::new(GS_BASE).read() as usize }
}
