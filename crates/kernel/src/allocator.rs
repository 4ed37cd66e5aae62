//! The one global allocator of the moteOS image.
//!
//! `talc` manages any number of disjoint heaps, which is exactly the shape of a
//! UEFI memory map. The heap starts life before `ExitBootServices` on a small
//! arena that `boot` obtains from the firmware (so `alloc` works while the
//! firmware is still in charge), and grows over every usable range of the memory
//! map once the firmware is gone.

use crate::boot_info::{MemoryKind, MemoryRegion};
use core::ops::Range;
use talc::{ErrOnOom, Span, Talc, Talck};

#[global_allocator]
static ALLOCATOR: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();

/// Memory below 1 MiB is left alone: it holds real-mode structures on PCs and
/// is a useful trampoline area later; address 0 must never be handed out.
const LOW_MEMORY_LIMIT: u64 = 0x10_0000;

/// Heap usage figures for the log and the status screen.
#[derive(Debug, Clone, Copy)]
pub struct HeapStats {
    /// Bytes handed to the allocator.
    pub claimed: usize,
    /// Bytes currently allocated.
    pub allocated: usize,
    /// Number of disjoint heaps.
    pub heaps: usize,
}

/// Gives the allocator its first arena.
///
/// # Safety
/// `base..base + len` must be writable memory that nothing else uses, now or
/// later, and that stays mapped for the life of the kernel.
pub unsafe fn claim_early_arena(base: *mut u8, len: usize) -> bool {
    let span = Span::from_base_size(base, len);
    // SAFETY: the caller guarantees the span is exclusively ours and stays valid.
    unsafe { ALLOCATOR.lock().claim(span) }.is_ok()
}

/// Adds every usable range of `map` to the heap and returns how many bytes were added.
///
/// # Safety
/// Must be called once, after `ExitBootServices`, with the firmware's final
/// memory map; ranges marked [`MemoryKind::Usable`] must be identity-mapped and
/// unused by anything else (the firmware guarantees that for conventional memory
/// once boot services are gone).
pub unsafe fn claim_usable(map: &[MemoryRegion]) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { claim_kind(map, MemoryKind::Usable, &[]) }
}

/// Adds the firmware's boot-services code and data to the heap (except `keep`, e.g. a
/// framebuffer the firmware placed there) and returns how many bytes were added.
///
/// # Safety
/// Must be called once, after the kernel stopped using everything the firmware set up in
/// that memory: its page tables, its stack, its descriptor tables and exception vectors.
pub unsafe fn claim_boot_services(map: &[MemoryRegion], keep: &[Range<u64>]) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { claim_kind(map, MemoryKind::BootServices, keep) }
}

/// Claims every range of `kind` above 1 MiB, minus `keep`.
///
/// # Safety
/// The claimed ranges must be identity-mapped RAM that nothing uses.
unsafe fn claim_kind(map: &[MemoryRegion], kind: MemoryKind, keep: &[Range<u64>]) -> usize {
    let mut added = 0;
    for region in map.iter().filter(|r| r.kind == kind) {
        let start = region.start.max(LOW_MEMORY_LIMIT);
        let end = region.start.saturating_add(region.len);
        if end <= start {
            continue;
        }
        let mut pieces = alloc::vec![start..end];
        for k in keep {
            pieces = pieces
                .into_iter()
                .flat_map(|p| [p.start..p.end.min(k.start), p.start.max(k.end)..p.end])
                .filter(|p| p.end > p.start)
                .collect();
        }
        for piece in pieces {
            let Ok(len) = usize::try_from(piece.end - piece.start) else { continue };
            let span = Span::from_base_size(piece.start as *mut u8, len);
            // SAFETY: the caller guarantees these ranges are free, identity-mapped RAM;
            // regions in a UEFI memory map never overlap each other or the early arena
            // (which is loader data).
            if unsafe { ALLOCATOR.lock().claim(span) }.is_ok() {
                added += len;
            } else {
                log::warn!("memory: could not claim {:#x}..{:#x} for the heap", piece.start, piece.end);
            }
        }
    }
    added
}

/// [`claim_usable`] for `kernel::start`: the kernel is only ever started by `boot`
/// after `ExitBootServices` with the final memory map.
///
/// # Panics
/// If called twice: the second call would hand the same memory to the heap again.
pub fn claim_usable_after_exit(map: &[MemoryRegion]) -> usize {
    static STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(!STARTED.swap(true, core::sync::atomic::Ordering::SeqCst), "kernel::start called twice");
    // SAFETY: `kernel::start` (the only caller) runs once boot services are gone, so
    // conventional memory is ours; `boot` passes the final memory map, and the guard
    // above makes this the only call.
    unsafe { claim_usable(map) }
}

/// [`claim_boot_services`] for the kernel's boot, once it runs on its own stack, page
/// tables, descriptor tables and vectors (`took` is the proof that the address space was
/// taken over).
///
/// # Panics
/// If called twice.
pub fn reclaim_boot_services(
    _took: &crate::arch::address_space::TakeOver,
    map: &[MemoryRegion],
    keep: &[Range<u64>],
) -> usize {
    static DONE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(!DONE.swap(true, core::sync::atomic::Ordering::SeqCst), "boot-services memory reclaimed twice");
    // A `TakeOver` exists only after `address_space::take_over` switched to the kernel's page
    // tables, and the kernel's boot calls this after moving to its own stack and installing its
    // own descriptor tables and vectors (`init_interrupts`). The guard above makes this the
    // only call.
    // SAFETY: so nothing the firmware set up in boot-services memory is used any more; `keep`
    // holds what still lives there (the framebuffer).
    unsafe { claim_boot_services(map, keep) }
}

/// Current heap figures.
pub fn stats() -> HeapStats {
    let talc = ALLOCATOR.lock();
    let counters = talc.get_counters();
    HeapStats { claimed: counters.claimed_bytes, allocated: counters.allocated_bytes, heaps: counters.heap_count }
}

/// Bytes left unmapped below every kernel stack. Both UEFI targets probe the stack page by
/// page for frames larger than a page (`__chkstk`), so a frame cannot jump over it.
pub const GUARD_BYTES: u64 = 16 * 1024;

/// A kernel stack and the guard region right below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelStack {
    /// First address of the guard region (unmapped once the kernel's page tables are active).
    pub guard: u64,
    /// First usable byte (just above the guard).
    pub bottom: u64,
    /// One past the last byte: the initial stack pointer (16-byte aligned).
    pub top: u64,
}

impl KernelStack {
    /// The guard region.
    pub fn guard_range(&self) -> core::ops::Range<u64> {
        self.guard..self.bottom
    }
}

/// Takes a stack of `bytes` (rounded up to pages) plus its guard region from the heap, for
/// good: neither is ever freed, and the allocator never touches the bytes of a live block,
/// so the guard can be unmapped safely.
pub fn allocate_stack(bytes: u64) -> Option<KernelStack> {
    let size = bytes.div_ceil(4096) * 4096;
    let layout = core::alloc::Layout::from_size_align(usize::try_from(size + GUARD_BYTES).ok()?, 4096).ok()?;
    // SAFETY: the layout has a non-zero size; the block is leaked on purpose.
    let block = unsafe { alloc::alloc::alloc(layout) };
    if block.is_null() {
        return None;
    }
    let guard = block as u64;
    Some(KernelStack { guard, bottom: guard + GUARD_BYTES, top: guard + GUARD_BYTES + size })
}

unsafe extern "C" {
    /// The first byte of the loaded image (its PE/COFF headers), defined by the linker.
    static __ImageBase: u8;
}

/// Where the moteOS image lies in memory: the PE image the firmware loaded (headers, code
/// and data), from its own header's `SizeOfImage`.
pub fn image_range() -> Range<u64> {
    let base = &raw const __ImageBase;
    // The DOS header's e_lfanew (offset 0x3c) locates the PE signature, followed by the
    // 20-byte COFF header and the optional header, whose SizeOfImage sits at offset 56.
    // SAFETY: the firmware loaded a valid PE32+ image at `__ImageBase` (it would not have
    // started it otherwise), and all of it stays mapped for the kernel's life.
    let size = unsafe {
        let pe = base.add(core::ptr::read_unaligned(base.add(0x3c).cast::<u32>()) as usize);
        core::ptr::read_unaligned(pe.add(4 + 20 + 56).cast::<u32>())
    };
    base as u64..base as u64 + u64::from(size)
}
