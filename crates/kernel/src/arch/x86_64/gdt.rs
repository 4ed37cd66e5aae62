//! The kernel's own GDT and TSS.
//!
//! The firmware's descriptor tables live in boot-services memory, which the
//! kernel will hand to its heap; ours are statics. The TSS supplies a separate
//! stack for double faults so that a kernel stack overflow is reported instead
//! of turning into a triple fault and a silent reset.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// The IST slot holding the double-fault stack.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
const DOUBLE_FAULT_STACK_SIZE: usize = 32 * 1024;

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, SegmentSelector, SegmentSelector, SegmentSelector)> = Once::new();

/// Loads the GDT and TSS and reloads every segment register.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        // Leaked on purpose: the CPU switches to this stack on a double fault for
        // the rest of the kernel's life, and nothing in Rust ever touches it.
        let stack: &'static mut [u8] = alloc::vec![0u8; DOUBLE_FAULT_STACK_SIZE].leak();
        let top = VirtAddr::from_ptr(stack.as_ptr()) + DOUBLE_FAULT_STACK_SIZE as u64;
        // The ABI wants 16-byte aligned stacks.
        tss.interrupt_stack_table[DOUBLE_FAULT_IST_INDEX as usize] = top.align_down(16u64);
        tss
    });
    let (gdt, code, data, tss_sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(tss));
        (gdt, code, data, tss_sel)
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which is a
    // static and lives forever; code/data are flat 64-bit kernel segments.
    unsafe {
        CS::set_reg(*code);
        SS::set_reg(*data);
        DS::set_reg(*data);
        ES::set_reg(*data);
        load_tss(*tss_sel);
    }
}
