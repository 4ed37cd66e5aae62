//! Page-aligned, zeroed DMA buffers for the block drivers (identity-mapped kernel:
//! a buffer's address is its physical address).

use alloc::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use core::ptr::NonNull;

/// One physically contiguous, page-aligned buffer owned by a driver.
pub struct DmaBuffer {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is plain memory owned by this value; moving it between
// threads moves the ownership with it.
unsafe impl Send for DmaBuffer {}

impl DmaBuffer {
    /// `len` zeroed bytes aligned to 4 KiB.
    pub fn new(len: usize) -> Self {
        let Ok(layout) = Layout::from_size_align(len.max(1).next_multiple_of(4096), 4096) else {
            handle_alloc_error(Layout::new::<[u8; 4096]>())
        };
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else { handle_alloc_error(layout) };
        DmaBuffer { ptr, layout }
    }

    /// The device-visible (physical = virtual) address of byte `offset`.
    pub fn addr(&self, offset: usize) -> u64 {
        self.ptr.as_ptr() as u64 + offset as u64
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// The bytes, for the CPU's side.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` initialised bytes owned by this value; the
        // device writes them only while a command runs, when no reference exists.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// The bytes, for the CPU to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }

    /// Writes a little-endian u32 at `offset` with a volatile store (descriptors the
    /// device reads).
    pub fn write_u32(&mut self, offset: usize, value: u32) {
        assert!(offset + 4 <= self.len() && offset.is_multiple_of(4));
        // SAFETY: in bounds and aligned (checked above); the memory is ours.
        unsafe { self.ptr.as_ptr().add(offset).cast::<u32>().write_volatile(value.to_le()) }
    }

    /// Reads a little-endian u32 at `offset` with a volatile load (descriptors the
    /// device writes).
    pub fn read_u32(&self, offset: usize) -> u32 {
        assert!(offset + 4 <= self.len() && offset.is_multiple_of(4));
        // SAFETY: in bounds and aligned (checked above); the memory is ours.
        u32::from_le(unsafe { self.ptr.as_ptr().add(offset).cast::<u32>().read_volatile() })
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Memory-mapped registers at a fixed physical (identity-mapped) address.
#[derive(Clone, Copy)]
pub struct Mmio {
    base: u64,
    len: u64,
}

impl Mmio {
    /// The register window `base..base + len`.
    ///
    /// # Safety
    /// The window must be a device's registers (a BAR assigned by the firmware),
    /// identity-mapped as device memory, and driven by this driver alone.
    pub unsafe fn new(base: u64, len: u64) -> Self {
        Mmio { base, len }
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: u64) -> u32 {
        assert!(offset + 4 <= self.len);
        // SAFETY: inside the window the constructor's caller vouched for.
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write32(&self, offset: u64, value: u32) {
        assert!(offset + 4 <= self.len);
        // SAFETY: inside the window the constructor's caller vouched for.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }

    /// Reads a 64-bit register as two 32-bit halves (low first).
    pub fn read64(&self, offset: u64) -> u64 {
        u64::from(self.read32(offset)) | (u64::from(self.read32(offset + 4)) << 32)
    }

    /// Writes a 64-bit register as two 32-bit halves (low first).
    pub fn write64(&self, offset: u64, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset + 4, (value >> 32) as u32);
    }
}

/// Polls `done` until it holds or `timeout_ms` pass.
pub fn wait(timeout_ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = crate::time::now();
    loop {
        if done() {
            return true;
        }
        if crate::time::now().saturating_duration_since(start).as_millis() as u64 > timeout_ms {
            return done();
        }
        core::hint::spin_loop();
    }
}
