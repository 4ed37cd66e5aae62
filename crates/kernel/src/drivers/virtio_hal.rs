//! The memory services `virtio-drivers` needs, for an identity-mapped kernel:
//! DMA buffers come from the heap and their physical address is their address.

use alloc::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use core::ptr::NonNull;
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// The kernel's `virtio_drivers::Hal`.
#[derive(Debug)]
pub struct VirtioHal;

fn layout(pages: usize) -> Layout {
    match Layout::from_size_align(pages.max(1) * PAGE_SIZE, PAGE_SIZE) {
        Ok(layout) => layout,
        // Only reachable for absurd page counts from a device; treat as OOM.
        Err(_) => handle_alloc_error(Layout::new::<[u8; PAGE_SIZE]>()),
    }
}

// SAFETY: buffers are page-aligned, zeroed heap allocations that stay valid until
// `dma_dealloc`; RAM and MMIO are identity-mapped, so the addresses handed to the
// device are the physical ones. QEMU's virtio devices are cache-coherent.
unsafe impl Hal for VirtioHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = layout(pages);
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else { handle_alloc_error(layout) };
        (ptr.as_ptr() as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: `vaddr` came from `dma_alloc` with the same page count.
        unsafe { dealloc(vaddr.as_ptr(), layout(pages)) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
