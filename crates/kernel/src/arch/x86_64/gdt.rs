//! The kernel's own GDT and TSS, one pair per processor.
//!
//! The firmware's descriptor tables live in boot-services memory, which the kernel hands
//! to its heap; ours are leaked heap blocks. The TSS supplies a separate stack (with a
//! guard region below it) for page faults and double faults, so that a kernel stack
//! overflow is reported instead of turning into a triple fault and a silent reset.

use alloc::boxed::Box;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

/// The IST slot holding the fault stack (page faults and double faults run on it).
pub const FAULT_IST_INDEX: u16 = 0;
/// Size of the fault stack when the kernel's own stacks could not be set up.
const FALLBACK_STACK_SIZE: usize = 32 * 1024;

/// Loads a GDT and TSS for the calling processor, whose fault stack ends at `fault_stack_top`
/// (a heap block without a guard when `None`), and reloads every segment register.
pub fn init(fault_stack_top: Option<u64>) {
    let top = fault_stack_top.unwrap_or_else(|| {
        // Leaked on purpose: the CPU switches to this stack on faults for the rest of the
        // kernel's life, and nothing in Rust ever touches it.
        let stack: &'static mut [u8] = alloc::vec![0u8; FALLBACK_STACK_SIZE].leak();
        stack.as_ptr() as u64 + FALLBACK_STACK_SIZE as u64
    });
    let mut tss = TaskStateSegment::new();
    // The ABI wants 16-byte aligned stacks.
    tss.interrupt_stack_table[FAULT_IST_INDEX as usize] = VirtAddr::new(top).align_down(16u64);
    // Both tables are used by the CPU for the rest of the kernel's life.
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));
    let gdt: &'static mut GlobalDescriptorTable = Box::leak(Box::new(GlobalDescriptorTable::new()));
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss_selector = gdt.append(Descriptor::tss_segment(tss));
    let gdt: &'static GlobalDescriptorTable = gdt;
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives forever;
    // code/data are flat 64-bit kernel segments and the TSS is this processor's own.
    unsafe {
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(data);
        ES::set_reg(data);
        load_tss(tss_selector);
    }
}
