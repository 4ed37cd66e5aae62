//! Starting the application processors with PSCI `CPU_ON` (through the `smccc` crate, on
//! the conduit the ACPI FADT names). Each processor enters [`moteos_ap_entry`] with its MMU
//! off, turns on the boot processor's translation (same tables, same MAIR/TCR/SCTLR),
//! takes its stacks and the vector table, and calls [`ap_main`].

use super::{irq, paging};
use crate::acpi_tables;
use crate::arch::Cpu;
use acpi::fadt::Fadt;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::arch::global_asm;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use smccc::{Hvc, Smc, psci};

/// What an application processor needs before it can run Rust code: read by the entry
/// code with the MMU off, so laid out by hand.
#[repr(C)]
struct ApBoot {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    sctlr: u64,
    stack: u64,
    exception_stack: u64,
    index: u64,
    vectors: u64,
    entry: u64,
}

global_asm!(
    r#"
.global moteos_ap_entry
.balign 8
moteos_ap_entry:
    mov x19, x0
    // FP/SIMD on (CPACR_EL1.FPEN = 0b11): Rust code uses vector registers.
    mov x1, #(3 << 20)
    msr cpacr_el1, x1
    isb
    ldr x1, [x19, #0]
    msr mair_el1, x1
    ldr x1, [x19, #8]
    msr tcr_el1, x1
    ldr x1, [x19, #16]
    msr ttbr0_el1, x1
    isb
    tlbi vmalle1
    dsb nsh
    isb
    ldr x1, [x19, #24]
    msr sctlr_el1, x1
    isb
    ldr x1, [x19, #56]
    msr vbar_el1, x1
    msr spsel, #1
    ldr x1, [x19, #40]
    mov sp, x1
    ldr x1, [x19, #32]
    msr sp_el0, x1
    msr spsel, #0
    isb
    ldr x0, [x19, #48]
    ldr x1, [x19, #64]
    mov x29, xzr
    mov x30, xzr
    blr x1
    brk #2
"#
);

unsafe extern "C" {
    fn moteos_ap_entry();
}

/// Processors that reached [`ap_main`].
static ARRIVED: AtomicUsize = AtomicUsize::new(0);

/// The PSCI conduit the FADT names: `Some(true)` for HVC, `Some(false)` for SMC.
fn conduit(rsdp: Option<u64>) -> Option<bool> {
    let tables = acpi_tables::from_rsdp(rsdp?).ok()?;
    let fadt = tables.find_table::<Fadt>().ok()?;
    let flags = fadt.get().arm_boot_arch;
    flags.implements_psci().then(|| flags.use_hvc_as_psci_conduit())
}

/// Writes `block` back to memory, so a processor with its caches off reads what we wrote.
fn clean_to_memory(block: &ApBoot) {
    let start = block as *const ApBoot as u64 & !63;
    let end = block as *const ApBoot as u64 + core::mem::size_of::<ApBoot>() as u64;
    for line in (start..end).step_by(64) {
        // SAFETY: cleaning and invalidating cache lines of memory we own changes no data.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) line, options(nostack, preserves_flags)) };
    }
    // SAFETY: a barrier only orders memory accesses.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Starts every processor in `cpus` except the first (the boot processor) with PSCI
/// `CPU_ON`, one at a time; returns the indices that came up.
pub fn start(cpus: &[Cpu], rsdp: Option<u64>) -> Vec<usize> {
    let mut online = Vec::new();
    let Some(hvc) = conduit(rsdp) else {
        log::warn!("smp: the FADT does not offer PSCI; using the boot processor only");
        return online;
    };
    let version = if hvc { psci::version::<Hvc>() } else { psci::version::<Smc>() };
    match version {
        Ok(v) => log::info!("smp: PSCI {}.{} through {}", v.major, v.minor, if hvc { "HVC" } else { "SMC" }),
        Err(e) => {
            log::warn!("smp: PSCI does not answer ({e:?}); using the boot processor only");
            return online;
        }
    }
    let mmu = paging::mmu_state();
    let vectors: u64;
    // SAFETY: reading VBAR_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {}, vbar_el1", out(reg) vectors, options(nomem, nostack, preserves_flags)) };
    for (index, cpu) in cpus.iter().enumerate().skip(1) {
        let Some(stacks) = crate::arch::address_space::stacks(index) else { break };
        // Leaked: the processor may read it at any time after CPU_ON.
        let boot: &'static ApBoot = Box::leak(Box::new(ApBoot {
            mair: mmu.mair,
            tcr: mmu.tcr,
            ttbr0: mmu.ttbr0,
            sctlr: mmu.sctlr,
            stack: stacks.main.top,
            exception_stack: stacks.exception.top,
            index: index as u64,
            vectors,
            entry: (ap_main as extern "C" fn(usize) -> !) as usize as u64,
        }));
        clean_to_memory(boot);
        let entry = (moteos_ap_entry as unsafe extern "C" fn()) as usize as u64;
        let context = boot as *const ApBoot as u64;
        let started = if hvc {
            psci::cpu_on::<Hvc>(cpu.hardware_id, entry, context)
        } else {
            psci::cpu_on::<Smc>(cpu.hardware_id, entry, context)
        };
        if let Err(e) = started {
            log::warn!(
                "smp: processor {index} (MPIDR {:#x}) refused to start ({e:?}); continuing without it",
                cpu.hardware_id
            );
            continue;
        }
        let deadline = crate::time::now().saturating_add(Duration::from_millis(1000));
        while !crate::arch::pool::is_online(index) && crate::time::now() < deadline {
            core::hint::spin_loop();
        }
        if crate::arch::pool::is_online(index) {
            online.push(index);
        } else if ARRIVED.load(Ordering::SeqCst) >= index {
            log::warn!("smp: processor {index} (MPIDR {:#x}) started but did not finish its setup", cpu.hardware_id);
        } else {
            log::warn!("smp: processor {index} (MPIDR {:#x}) did not start; continuing without it", cpu.hardware_id);
        }
    }
    online
}

/// An application processor's setup, on its own stacks with the MMU on: its GIC CPU
/// interface, then it waits for pool work for good.
extern "C" fn ap_main(index: usize) -> ! {
    ARRIVED.fetch_add(1, Ordering::SeqCst);
    super::set_cpu_index(index);
    if let Err(why) = irq::init_secondary() {
        log::warn!("smp: processor {index} takes no interrupts ({why}); it stays idle");
        crate::arch::halt_forever();
    }
    crate::arch::pool::worker(index)
}
