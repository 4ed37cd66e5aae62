//! The IDT: CPU exceptions become a diagnostic panic (serial + panic screen),
//! device interrupts become queued events.

use super::{apic, gdt, ps2, serial};
use crate::events::{self, Event};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

/// Interrupt vectors used by the kernel.
pub mod vector {
    /// Local APIC timer.
    pub const TIMER: u8 = 0x20;
    /// PS/2 keyboard (ISA IRQ 1).
    pub const KEYBOARD: u8 = 0x21;
    /// COM1 (ISA IRQ 4).
    pub const SERIAL: u8 = 0x24;
    /// PCI devices through MSI-X (the network card).
    pub const DEVICE: u8 = 0x30;
    /// Wakes an application processor waiting for pool work.
    pub const WAKE: u8 = 0x40;
    /// Local APIC internal error.
    pub const APIC_ERROR: u8 = 0x2e;
    /// Local APIC spurious interrupt.
    pub const SPURIOUS: u8 = 0xff;
}

static IDT: Once<InterruptDescriptorTable> = Once::new();
static SPURIOUS_COUNT: AtomicU64 = AtomicU64::new(0);

/// Interrupts that arrived but were spurious or unexpected, since boot.
pub fn spurious_count() -> u64 {
    SPURIOUS_COUNT.load(Ordering::Relaxed)
}

/// What an exception handler saw, handed to [`report_fault`].
#[derive(Clone, Copy)]
struct Fault {
    name: &'static str,
    rip: u64,
    rsp: u64,
    error_code: Option<u64>,
    address: Option<u64>,
}

static FAULT: spin::Mutex<Option<Fault>> = spin::Mutex::new(None);

/// Reports a CPU exception and stops: the panic handler prints it on serial and
/// paints the panic screen.
///
/// The `x86-interrupt` handlers of exceptions that push an error code enter with
/// the stack 16-byte aligned, and LLVM's prologue for them does not realign it
/// for the win64-ABI callees (measured: `movaps` in the formatting code raised
/// #GP recursively until a triple fault). So the details go to a static, and
/// the report runs on a freshly aligned stack.
#[inline(always)]
fn fault(name: &'static str, frame: &InterruptStackFrame, error_code: Option<u64>, address: Option<u64>) -> ! {
    // A fault inside a guard region is a stack overflow: say so.
    let name = match address.and_then(crate::arch::address_space::guard_owner) {
        Some((_, "stack")) => "kernel stack overflow (the stack ran into its guard page)",
        Some(_) => "kernel stack overflow (the exception stack ran into its guard page)",
        None => name,
    };
    let fault =
        Fault { name, rip: frame.instruction_pointer.as_u64(), rsp: frame.stack_pointer.as_u64(), error_code, address };
    if let Some(mut slot) = FAULT.try_lock() {
        *slot = Some(fault);
    }
    // SAFETY: we never return to the interrupted code, so the stack pointer may be
    // moved down and aligned: 16-byte alignment plus the 32-byte shadow space the
    // win64 ABI gives every callee; `report_fault` never returns.
    unsafe {
        core::arch::asm!(
            "and rsp, -16",
            "sub rsp, 32",
            "call {report}",
            report = sym report_fault,
            options(noreturn),
        )
    }
}

extern "C" fn report_fault() -> ! {
    let fault = FAULT.try_lock().and_then(|f| *f);
    let Some(Fault { name, rip, rsp, error_code, address }) = fault else {
        panic!("CPU exception (details lost)");
    };
    match (error_code, address) {
        (Some(code), Some(addr)) => panic!(
            "CPU exception: {name} (error code {code:#x}) at RIP {rip:#x}, faulting address {addr:#x}, RSP {rsp:#x}"
        ),
        (Some(code), None) => panic!("CPU exception: {name} (error code {code:#x}) at RIP {rip:#x}, RSP {rsp:#x}"),
        (None, _) => panic!("CPU exception: {name} at RIP {rip:#x}, RSP {rsp:#x}"),
    }
}

macro_rules! exception {
    ($fn_name:ident, $name:literal) => {
        extern "x86-interrupt" fn $fn_name(frame: InterruptStackFrame) {
            fault($name, &frame, None, None)
        }
    };
    ($fn_name:ident, $name:literal, error) => {
        extern "x86-interrupt" fn $fn_name(frame: InterruptStackFrame, code: u64) {
            fault($name, &frame, Some(code), None)
        }
    };
}

exception!(divide_error, "divide error (#DE)");
exception!(debug, "debug (#DB)");
exception!(nmi, "non-maskable interrupt");
exception!(breakpoint, "breakpoint (#BP)");
exception!(overflow, "overflow (#OF)");
exception!(bound_range, "bound range exceeded (#BR)");
exception!(invalid_opcode, "invalid opcode (#UD)");
exception!(device_not_available, "device not available (#NM)");
exception!(invalid_tss, "invalid TSS (#TS)", error);
exception!(segment_not_present, "segment not present (#NP)", error);
exception!(stack_segment, "stack-segment fault (#SS)", error);
exception!(general_protection, "general protection fault (#GP)", error);
exception!(x87_floating_point, "x87 floating-point error (#MF)");
exception!(alignment_check, "alignment check (#AC)", error);
exception!(simd_floating_point, "SIMD floating-point error (#XM)");
exception!(virtualization, "virtualization exception (#VE)");
exception!(control_protection, "control protection (#CP)", error);

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, code: PageFaultErrorCode) {
    let address = Cr2::read_raw();
    fault("page fault (#PF)", &frame, Some(code.bits()), Some(address))
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, code: u64) -> ! {
    // A double fault while pushing onto a guard page leaves that address in CR2.
    let address = Cr2::read_raw();
    let address = crate::arch::address_space::guard_owner(address).map(|_| address);
    fault("double fault (#DF)", &frame, Some(code), address)
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    fault("machine check (#MC)", &frame, None, None)
}

extern "x86-interrupt" fn timer(_frame: InterruptStackFrame) {
    events::push(Event::Timer);
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn keyboard(_frame: InterruptStackFrame) {
    while let Some(byte) = ps2::read_byte() {
        events::push(Event::Ps2Byte(byte));
    }
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn com1(_frame: InterruptStackFrame) {
    while let Some(byte) = serial::read_byte() {
        events::push_serial(byte);
    }
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn device(_frame: InterruptStackFrame) {
    events::signal_device();
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn wake(_frame: InterruptStackFrame) {
    // The processor only had to leave `hlt`; the pool loop looks for work itself.
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn apic_error(_frame: InterruptStackFrame) {
    SPURIOUS_COUNT.fetch_add(1, Ordering::Relaxed);
    apic::end_of_interrupt();
}

extern "x86-interrupt" fn spurious(_frame: InterruptStackFrame) {
    // The APIC wants no EOI for spurious interrupts.
    SPURIOUS_COUNT.fetch_add(1, Ordering::Relaxed);
}

extern "x86-interrupt" fn unexpected(_frame: InterruptStackFrame) {
    // Storms from unknown sources are counted, never fatal.
    SPURIOUS_COUNT.fetch_add(1, Ordering::Relaxed);
    apic::end_of_interrupt();
}

/// Loads the IDT on an application processor (the table is shared).
pub fn load() {
    if let Some(idt) = IDT.get() {
        idt.load();
    }
}

/// Builds and loads the IDT (interrupts stay disabled).
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        idt.divide_error.set_handler_fn(divide_error);
        idt.debug.set_handler_fn(debug);
        idt.non_maskable_interrupt.set_handler_fn(nmi);
        idt.breakpoint.set_handler_fn(breakpoint);
        idt.overflow.set_handler_fn(overflow);
        idt.bound_range_exceeded.set_handler_fn(bound_range);
        idt.invalid_opcode.set_handler_fn(invalid_opcode);
        idt.device_not_available.set_handler_fn(device_not_available);
        let df = idt.double_fault.set_handler_fn(double_fault);
        // SAFETY: the IST slot is set up by `gdt::init` with a dedicated stack that
        // nothing else uses.
        unsafe { df.set_stack_index(gdt::FAULT_IST_INDEX) };
        idt.invalid_tss.set_handler_fn(invalid_tss);
        idt.segment_not_present.set_handler_fn(segment_not_present);
        idt.stack_segment_fault.set_handler_fn(stack_segment);
        idt.general_protection_fault.set_handler_fn(general_protection);
        let pf = idt.page_fault.set_handler_fn(page_fault);
        // SAFETY: as for the double fault; a page fault on a full stack (an overflow into
        // the guard page) can only be reported from another stack.
        unsafe { pf.set_stack_index(gdt::FAULT_IST_INDEX) };
        idt.x87_floating_point.set_handler_fn(x87_floating_point);
        idt.alignment_check.set_handler_fn(alignment_check);
        idt.machine_check.set_handler_fn(machine_check);
        idt.simd_floating_point.set_handler_fn(simd_floating_point);
        idt.virtualization.set_handler_fn(virtualization);
        idt.cp_protection_exception.set_handler_fn(control_protection);
        for v in 32..=255u8 {
            idt[v].set_handler_fn(unexpected);
        }
        idt[vector::TIMER].set_handler_fn(timer);
        idt[vector::KEYBOARD].set_handler_fn(keyboard);
        idt[vector::SERIAL].set_handler_fn(com1);
        idt[vector::DEVICE].set_handler_fn(device);
        idt[vector::APIC_ERROR].set_handler_fn(apic_error);
        idt[vector::WAKE].set_handler_fn(wake);
        idt[vector::SPURIOUS].set_handler_fn(spurious);
        idt
    });
    idt.load();
}
