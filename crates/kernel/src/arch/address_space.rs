//! Taking memory over from the firmware: the kernel's stacks (each with an unmapped guard
//! region below it) and its own identity-mapped page tables, after which the firmware's
//! boot-services memory (its page tables, its stack) is no longer used and can join the heap.

use crate::allocator::{self, KernelStack};
use crate::boot_info::{MemoryKind, MemoryRegion};
use alloc::vec::Vec;
use core::ops::Range;
use hal::identity_map::Layout;
use spin::Once;

/// The boot processor's stack: the main loop, TLS handshakes and model loading run on it.
pub const BOOT_STACK_BYTES: u64 = 1024 * 1024;
/// An application processor's stack (it only runs pool jobs).
pub const AP_STACK_BYTES: u64 = 512 * 1024;
/// The stack exceptions and interrupts run on (SP_EL1 on AArch64, the IST stack on x86_64).
pub const EXCEPTION_STACK_BYTES: u64 = 64 * 1024;

/// The stacks of one processor.
#[derive(Debug, Clone, Copy)]
pub struct CpuStacks {
    /// Where its code runs.
    pub main: KernelStack,
    /// Where its exception handlers run.
    pub exception: KernelStack,
}

static STACKS: Once<Vec<CpuStacks>> = Once::new();

/// What taking over the address space did, for the log.
#[derive(Debug, Clone, Copy)]
pub struct TakeOver {
    /// Processors that got stacks.
    pub cpus: usize,
    /// End of the identity-mapped physical address space.
    pub top: u64,
}

/// Whether `kind` is RAM (mapped as normal cacheable memory).
fn is_ram(kind: MemoryKind) -> bool {
    !matches!(kind, MemoryKind::Reserved)
}

/// Allocates stacks for `cpus` processors, builds the kernel's identity map (RAM, the
/// framebuffer, device memory up to the end of the physical address space; guard regions
/// left out) and switches to it. Returns how many processors got stacks.
pub fn take_over(map: &[MemoryRegion], framebuffer: Option<Range<u64>>, cpus: usize) -> Result<TakeOver, &'static str> {
    let mut stacks = Vec::with_capacity(cpus);
    for cpu in 0..cpus {
        let main = if cpu == 0 { BOOT_STACK_BYTES } else { AP_STACK_BYTES };
        match (allocator::allocate_stack(main), allocator::allocate_stack(EXCEPTION_STACK_BYTES)) {
            (Some(main), Some(exception)) => stacks.push(CpuStacks { main, exception }),
            _ if cpu == 0 => return Err("no memory for the kernel's stack"),
            _ => {
                log::warn!("memory: no memory for the stacks of processors {cpu} and up; they stay halted");
                break;
            }
        }
    }
    let ram: Vec<Range<u64>> =
        map.iter().filter(|r| is_ram(r.kind)).map(|r| r.start..r.start.saturating_add(r.len)).collect();
    let ram_top = ram.iter().map(|r| r.end).max().unwrap_or(0);
    let top = super::address_space_top()?.max(ram_top.next_multiple_of(1 << 30));
    let guards: Vec<Range<u64>> =
        stacks.iter().flat_map(|s| [s.main.guard_range(), s.exception.guard_range()]).collect();
    let framebuffer = framebuffer.map(|f| (f.start & !0xfff)..f.end.next_multiple_of(0x1000));
    let layout = Layout { top, ram: &ram, framebuffer, guards: &guards };
    // The layout maps every RAM range of the firmware's map (code, data, heap, the firmware's
    // runtime services and ACPI tables), the framebuffer, and every other address up to the
    // end of the physical address space as device memory.
    // SAFETY: so everything in use stays mapped; only the fresh guard regions, which nothing
    // uses, are left out.
    unsafe { super::activate_page_tables(&layout) }?;
    let count = stacks.len();
    STACKS.call_once(|| stacks);
    Ok(TakeOver { cpus: count, top })
}

/// The stacks of processor `cpu` (0 = the boot processor), once [`take_over`] succeeded.
pub fn stacks(cpu: usize) -> Option<&'static CpuStacks> {
    STACKS.get().and_then(|s| s.get(cpu))
}

/// Which stack's guard region `address` lies in: the processor and whether it is the
/// exception stack.
pub fn guard_owner(address: u64) -> Option<(usize, &'static str)> {
    let stacks = STACKS.get()?;
    stacks.iter().enumerate().find_map(|(cpu, s)| {
        if s.main.guard_range().contains(&address) {
            Some((cpu, "stack"))
        } else if s.exception.guard_range().contains(&address) {
            Some((cpu, "exception stack"))
        } else {
            None
        }
    })
}
