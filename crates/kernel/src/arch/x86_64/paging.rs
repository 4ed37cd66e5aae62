//! The kernel's own 4-level page tables (an identity map built with the `x86_64` crate's
//! paging types), replacing the firmware's, which live in boot-services memory.

use alloc::alloc::{Layout as AllocLayout, alloc_zeroed};
use core::sync::atomic::{AtomicU64, Ordering};
use hal::identity_map::{Layout, MapKind, pages};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable, PageTableFlags, PhysFrame, Size1GiB, Size2MiB,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

const KIB: u64 = 1024;
const GIB: u64 = 1024 * 1024 * 1024;

/// Physical address of the active top-level table (for the application processors).
static PML4: AtomicU64 = AtomicU64::new(0);

/// Page-table frames come from the heap (identity-mapped, so address = physical address).
struct HeapFrames {
    tables: usize,
}

// SAFETY: every frame returned is a fresh, zeroed, 4 KiB-aligned heap block that is never
// freed or used for anything else.
unsafe impl FrameAllocator<Size4KiB> for HeapFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let layout = AllocLayout::from_size_align(4096, 4096).ok()?;
        // SAFETY: the layout has a non-zero size; the block is leaked on purpose (it is a
        // page table for the rest of the kernel's life).
        let block = unsafe { alloc_zeroed(layout) };
        if block.is_null() {
            return None;
        }
        self.tables += 1;
        PhysFrame::from_start_address(PhysAddr::new(block as u64)).ok()
    }
}

/// The end of the physical address space to map: everything the CPU can address (capped
/// at 64 TiB), so that device memory anywhere (64-bit PCI BARs) is reachable.
pub fn address_space_top() -> u64 {
    let extended = core::arch::x86_64::__cpuid(0x8000_0000).eax;
    let bits = if extended >= 0x8000_0008 { core::arch::x86_64::__cpuid(0x8000_0008).eax & 0xff } else { 36 };
    let top = 1u64 << bits.clamp(32, 46);
    if huge_pages() { top } else { top.min(512 * GIB) }
}

/// Whether the CPU supports 1 GiB pages (CPUID 8000_0001h EDX bit 26).
fn huge_pages() -> bool {
    core::arch::x86_64::__cpuid(0x8000_0000).eax >= 0x8000_0001
        && core::arch::x86_64::__cpuid(0x8000_0001).edx & (1 << 26) != 0
}

/// What the page tables hold, for the log.
#[derive(Debug, Clone, Copy)]
pub struct PagingSummary {
    /// Page-table pages allocated.
    pub tables: usize,
    /// Pages of each size mapped: 1 GiB, 2 MiB, 4 KiB.
    pub pages: [usize; 3],
}

/// Builds an identity map of `layout` and switches to it.
///
/// # Safety
/// Every address the kernel still uses (its code, data, stack, heap, the devices it drives,
/// the firmware's runtime services) must be mapped by `layout` at its own address, and the
/// firmware's page tables must still identity-map the heap (they are read while building).
pub unsafe fn activate(layout: &Layout<'_>) -> Result<PagingSummary, &'static str> {
    let mut frames = HeapFrames { tables: 0 };
    let root = frames.allocate_frame().ok_or("no memory for the page tables")?;
    // SAFETY: `root` is a fresh zeroed page-table frame, identity-mapped by the firmware.
    let pml4 = unsafe { &mut *(root.start_address().as_u64() as *mut PageTable) };
    // SAFETY: physical memory is identity-mapped (offset 0) while the tables are built.
    let mut mapper = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(0)) };
    let sizes: &[u64] = if huge_pages() { &[GIB, 2 * 1024 * KIB, 4 * KIB] } else { &[2 * 1024 * KIB, 4 * KIB] };
    let mut counts = [0usize; 3];
    let mut failed = None;
    layout.for_each_span(|span| {
        let base = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::GLOBAL;
        let flags = match span.kind {
            MapKind::Unmapped => return,
            MapKind::Ram | MapKind::Framebuffer => base,
            // Uncached whatever the MTRRs say (64-bit BARs are often outside them).
            MapKind::Device => base | PageTableFlags::NO_CACHE | PageTableFlags::WRITE_THROUGH,
        };
        for (address, size) in pages(span.start..span.end, sizes) {
            if failed.is_some() {
                return;
            }
            // SAFETY: identity mappings of the layout into tables that are not active yet.
            let result = unsafe {
                match size {
                    Size1GiB::SIZE => map::<Size1GiB>(&mut mapper, address, flags, &mut frames),
                    Size2MiB::SIZE => map::<Size2MiB>(&mut mapper, address, flags, &mut frames),
                    _ => map::<Size4KiB>(&mut mapper, address, flags, &mut frames),
                }
            };
            let slot = match size {
                Size1GiB::SIZE => 0,
                Size2MiB::SIZE => 1,
                _ => 2,
            };
            counts[slot] += 1;
            if let Err(why) = result {
                failed = Some(why);
            }
        }
    });
    if let Some(why) = failed {
        return Err(why);
    }
    let (_, flags) = Cr3::read();
    // SAFETY: the new tables identity-map everything the caller promised; global pages are
    // flushed by the CR4.PGE toggle below, the rest by the CR3 write.
    unsafe {
        Cr3::write(root, flags & Cr3Flags::all());
        flush_global();
    }
    PML4.store(root.start_address().as_u64(), Ordering::SeqCst);
    Ok(PagingSummary { tables: frames.tables, pages: counts })
}

/// Maps one page of size `S` at its own address.
///
/// # Safety
/// The tables behind `mapper` must not be active.
unsafe fn map<S: PageSize>(
    mapper: &mut OffsetPageTable<'_>,
    address: u64,
    flags: PageTableFlags,
    frames: &mut HeapFrames,
) -> Result<(), &'static str>
where
    for<'a> OffsetPageTable<'a>: Mapper<S>,
{
    let page = Page::<S>::from_start_address(VirtAddr::new(address)).map_err(|_| "misaligned page")?;
    let frame = PhysFrame::<S>::from_start_address(PhysAddr::new(address)).map_err(|_| "misaligned frame")?;
    // SAFETY: forwarded: an identity mapping in inactive tables aliases nothing in use.
    unsafe { mapper.map_to(page, frame, flags, frames) }
        .map(|flush| flush.ignore())
        .map_err(|_| "a page could not be mapped (overlap or no memory for tables)")
}

/// Drops every TLB entry, global ones included (toggling CR4.PGE).
///
/// # Safety
/// Only affects translation caching; the current tables must map the running code.
unsafe fn flush_global() {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    let cr4 = Cr4::read();
    if cr4.contains(Cr4Flags::PAGE_GLOBAL) {
        // SAFETY: clearing and restoring PGE only flushes the TLB.
        unsafe {
            Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
            Cr4::write(cr4);
        }
    } else {
        // SAFETY: enabling global pages is supported by every x86_64 CPU; entries cached
        // before carried no G bit meaning under the firmware's tables.
        unsafe { Cr4::write(cr4 | Cr4Flags::PAGE_GLOBAL) };
    }
}

/// Physical address of the kernel's top-level page table (0 before [`activate`]).
pub fn root() -> u64 {
    PML4.load(Ordering::SeqCst)
}
