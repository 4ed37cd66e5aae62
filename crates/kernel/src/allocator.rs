//! The one global allocator of the moteOS image.
//!
//! `talc` manages any number of disjoint heaps, which is exactly the shape of a
//! UEFI memory map. The heap starts life before `ExitBootServices` on a small
//! arena that `boot` obtains from the firmware (so `alloc` works while the
//! firmware is still in charge), and grows over every usable range of the memory
//! map once the firmware is gone.

use crate::boot_info::{MemoryKind, MemoryRegion};
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
    let mut added = 0;
    for region in map.iter().filter(|r| r.kind == MemoryKind::Usable) {
        let start = region.start.max(LOW_MEMORY_LIMIT);
        let end = region.start.saturating_add(region.len);
        if end <= start {
            continue;
        }
        let Ok(len) = usize::try_from(end - start) else { continue };
        let span = Span::from_base_size(start as *mut u8, len);
        // SAFETY: the caller guarantees usable regions are free, identity-mapped
        // RAM; regions in a UEFI memory map never overlap each other or the
        // early arena (which is loader data).
        if unsafe { ALLOCATOR.lock().claim(span) }.is_ok() {
            added += len;
        } else {
            log::warn!("memory: could not claim {start:#x}..{end:#x} for the heap");
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

/// Current heap figures.
pub fn stats() -> HeapStats {
    let talc = ALLOCATOR.lock();
    let counters = talc.get_counters();
    HeapStats { claimed: counters.claimed_bytes, allocated: counters.allocated_bytes, heaps: counters.heap_count }
}
