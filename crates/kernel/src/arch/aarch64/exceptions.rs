//! The EL1 exception vector table. Every entry saves the complete register state
//! (general-purpose and FP/SIMD, since handlers are ordinary Rust code that may
//! use vector registers) and calls [`moteos_exception`]. IRQs go to the GIC
//! dispatcher; everything else is a fault reported with ESR, FAR and ELR.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Saved registers, laid out exactly as the assembly below stores them.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// Exception link register (the interrupted PC).
    pub elr: u64,
    /// Saved program status.
    pub spsr: u64,
    /// FP status and control registers.
    pub fpsr_fpcr: [u64; 2],
    /// Padding to keep the vector registers 16-byte aligned.
    _pad: u64,
    /// q0..q31.
    pub q: [u128; 32],
}

// Frame size: 31*8 + 8 + 8 + 16 + 8 = 288 bytes of integer state, then 512 of vectors.
global_asm!(
    r#"
.macro VECTOR kind
    .balign 0x80
    sub sp, sp, #800
    stp x0, x1, [sp, #0]
    mov x0, #\kind
    b moteos_vector_common
.endm

.text
.balign 0x800
.global moteos_vector_table
moteos_vector_table:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

moteos_vector_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x10, elr_el1
    stp x30, x10, [sp, #240]
    mrs x10, spsr_el1
    mrs x11, fpsr
    stp x10, x11, [sp, #256]
    mrs x10, fpcr
    str x10, [sp, #272]
    add x10, sp, #288
    stp q0, q1, [x10, #0]
    stp q2, q3, [x10, #32]
    stp q4, q5, [x10, #64]
    stp q6, q7, [x10, #96]
    stp q8, q9, [x10, #128]
    stp q10, q11, [x10, #160]
    stp q12, q13, [x10, #192]
    stp q14, q15, [x10, #224]
    stp q16, q17, [x10, #256]
    stp q18, q19, [x10, #288]
    stp q20, q21, [x10, #320]
    stp q22, q23, [x10, #352]
    stp q24, q25, [x10, #384]
    stp q26, q27, [x10, #416]
    stp q28, q29, [x10, #448]
    stp q30, q31, [x10, #480]
    mov x1, sp
    bl moteos_exception
    add x10, sp, #288
    ldp q0, q1, [x10, #0]
    ldp q2, q3, [x10, #32]
    ldp q4, q5, [x10, #64]
    ldp q6, q7, [x10, #96]
    ldp q8, q9, [x10, #128]
    ldp q10, q11, [x10, #160]
    ldp q12, q13, [x10, #192]
    ldp q14, q15, [x10, #224]
    ldp q16, q17, [x10, #256]
    ldp q18, q19, [x10, #288]
    ldp q20, q21, [x10, #320]
    ldp q22, q23, [x10, #352]
    ldp q24, q25, [x10, #384]
    ldp q26, q27, [x10, #416]
    ldp q28, q29, [x10, #448]
    ldp q30, q31, [x10, #480]
    ldr x10, [sp, #272]
    msr fpcr, x10
    ldp x10, x11, [sp, #256]
    msr spsr_el1, x10
    msr fpsr, x11
    ldp x30, x10, [sp, #240]
    msr elr_el1, x10
    ldp x28, x29, [sp, #224]
    ldp x26, x27, [sp, #208]
    ldp x24, x25, [sp, #192]
    ldp x22, x23, [sp, #176]
    ldp x20, x21, [sp, #160]
    ldp x18, x19, [sp, #144]
    ldp x16, x17, [sp, #128]
    ldp x14, x15, [sp, #112]
    ldp x12, x13, [sp, #96]
    ldp x10, x11, [sp, #80]
    ldp x8, x9, [sp, #64]
    ldp x6, x7, [sp, #48]
    ldp x4, x5, [sp, #32]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp, #0]
    add sp, sp, #800
    eret
"#
);

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 800);

unsafe extern "C" {
    static moteos_vector_table: u8;
}

const KIND_NAMES: [&str; 4] = ["synchronous exception", "IRQ", "FIQ", "SError"];
const ORIGIN: [&str; 4] = ["EL1 with SP0", "EL1", "EL0 (AArch64)", "EL0 (AArch32)"];

/// The address [`probe_read32`] is reading, or `u64::MAX`.
static PROBE: AtomicU64 = AtomicU64::new(u64::MAX);
/// Set when the probed read aborted.
static PROBE_FAILED: AtomicBool = AtomicBool::new(false);

/// Reads the 32-bit register at `address`, or `None` if the read aborts (nothing answers
/// there): for devices that firmware tables list but the machine may not have.
///
/// # Safety
/// `address` must be identity-mapped device memory where a read has no side effects.
pub unsafe fn probe_read32(address: u64) -> Option<u32> {
    PROBE_FAILED.store(false, Ordering::SeqCst);
    PROBE.store(address, Ordering::SeqCst);
    let mut value: u32 = 0;
    // SAFETY: forwarded from the caller; the load is one 4-byte instruction, which the
    // exception handler skips if it aborts (leaving `value` at 0).
    unsafe { core::arch::asm!("ldr {v:w}, [{a}]", v = inout(reg) value, a = in(reg) address, options(nostack)) };
    PROBE.store(u64::MAX, Ordering::SeqCst);
    (!PROBE_FAILED.load(Ordering::SeqCst)).then_some(value)
}

/// Called by the vector table with the entry index (0..16) and the saved frame.
#[unsafe(no_mangle)]
extern "C" fn moteos_exception(kind: u64, frame: &mut TrapFrame) {
    // IRQs from the current EL (either stack) are device interrupts.
    if kind == 1 || kind == 5 {
        super::irq::dispatch();
        return;
    }
    let esr: u64;
    let far: u64;
    // SAFETY: reading the syndrome and fault address registers has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, esr_el1", out(reg) esr, options(nomem, nostack));
        core::arch::asm!("mrs {}, far_el1", out(reg) far, options(nomem, nostack));
    }
    let class = (esr >> 26) & 0x3f;
    if class == 0x25 && far == PROBE.load(Ordering::SeqCst) {
        // A probed read found nothing: skip the load and report it.
        PROBE_FAILED.store(true, Ordering::SeqCst);
        frame.elr += 4;
        return;
    }
    let what = match class {
        0x00 => "unknown instruction",
        0x07 => "FP/SIMD access trapped",
        0x15 => "SVC",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2c => "floating-point exception",
        0x3c => "BRK instruction",
        _ => "exception",
    };
    let name = KIND_NAMES[(kind % 4) as usize];
    let origin = ORIGIN[((kind / 4) % 4) as usize];
    // The kernel runs on SP_EL0 (entries 0-3); exceptions run on SP_EL1, the frame's stack.
    let sp = if kind < 4 {
        let sp_el0: u64;
        // SAFETY: reading SP_EL0 from EL1 with SPSel = 1 (as in every exception) is allowed.
        unsafe { core::arch::asm!("mrs {}, sp_el0", out(reg) sp_el0, options(nomem, nostack)) };
        sp_el0
    } else {
        frame as *const TrapFrame as u64 + 800
    };
    let what = match crate::arch::address_space::guard_owner(far) {
        Some((_, "stack")) if matches!(class, 0x24 | 0x25) => {
            "kernel stack overflow (the stack ran into its guard page)"
        }
        Some(_) if matches!(class, 0x24 | 0x25) => {
            "kernel stack overflow (the exception stack ran into its guard page)"
        }
        _ => what,
    };
    panic!(
        "CPU exception: {name} from {origin}: {what} (ESR {esr:#x}, class {class:#x}) at PC {:#x}, faulting address {far:#x}, SP {sp:#x}",
        frame.elr,
    );
}

/// Points VBAR_EL1 at the vector table.
pub fn init() {
    // SAFETY: taking the address of the (2 KiB aligned) vector table defined above
    // and installing it; every entry saves and restores full state.
    unsafe {
        let table = &raw const moteos_vector_table as u64;
        core::arch::asm!("msr vbar_el1, {}", "isb", in(reg) table, options(nostack));
    }
}
