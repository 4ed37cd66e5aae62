//! The one place the xHCI driver shares memory with the controller.
//!
//! A [`DmaBuffer`] is a zeroed, aligned heap allocation whose address is also
//! its physical address (the kernel's RAM is identity-mapped). The controller
//! reads and writes it behind the compiler's back, so every access here is
//! volatile and bounds-checked; the driver body only ever sees offsets and
//! copies, never a pointer.

use alloc::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use core::ptr::NonNull;
use core::sync::atomic::{Ordering, fence};

/// Memory the controller may read and write.
pub struct DmaBuffer {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is plain memory owned by this value; nothing in it refers to the CPU
// that allocated it. The kernel's main loop is the only code that touches the driver.
unsafe impl Send for DmaBuffer {}

impl core::fmt::Debug for DmaBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DmaBuffer({:#x}, {} bytes)", self.phys(), self.len())
    }
}

impl DmaBuffer {
    /// `len` zeroed bytes aligned to `align` (a power of two; at least 64, the
    /// strictest xHCI structure alignment). Buffers of up to 64 KiB never cross
    /// a 64 KiB boundary when `align` is their size rounded up to a power of two.
    pub fn new(len: usize, align: usize) -> DmaBuffer {
        let align = align.max(64).next_power_of_two();
        let layout = match Layout::from_size_align(len.max(1), align) {
            Ok(layout) => layout,
            Err(_) => handle_alloc_error(Layout::new::<[u8; 64]>()),
        };
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else { handle_alloc_error(layout) };
        DmaBuffer { ptr, layout }
    }

    /// A buffer for one transfer of `len` bytes that does not cross a 64 KiB
    /// boundary (a rule for every xHCI data buffer).
    pub fn for_transfer(len: usize) -> DmaBuffer {
        DmaBuffer::new(len, len.clamp(64, 65536).next_power_of_two())
    }

    /// The address the controller uses.
    pub fn phys(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    fn check(&self, offset: usize, len: usize) {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len()), "DMA access out of bounds");
    }

    /// Copies `out.len()` bytes from `offset`.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        self.check(offset, out.len());
        fence(Ordering::SeqCst);
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above) of a live allocation owned by `self`.
            *byte = unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() };
        }
    }

    /// Copies `data` to `offset`.
    pub fn write(&mut self, offset: usize, data: &[u8]) {
        self.check(offset, data.len());
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: in bounds (checked above) of a live allocation owned by `self`.
            unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(*byte) };
        }
        fence(Ordering::SeqCst);
    }

    /// The 32-bit word at `offset` (4-byte aligned).
    pub fn read_u32(&self, offset: usize) -> u32 {
        self.check(offset, 4);
        assert!(offset.is_multiple_of(4), "unaligned DMA word");
        fence(Ordering::SeqCst);
        // SAFETY: in bounds and 4-byte aligned (checked above; the base is at least 64-aligned).
        unsafe { self.ptr.as_ptr().add(offset).cast::<u32>().read_volatile() }
    }

    /// Writes the 32-bit word at `offset` (4-byte aligned).
    pub fn write_u32(&mut self, offset: usize, value: u32) {
        self.check(offset, 4);
        assert!(offset.is_multiple_of(4), "unaligned DMA word");
        // SAFETY: in bounds and 4-byte aligned (checked above; the base is at least 64-aligned).
        unsafe { self.ptr.as_ptr().add(offset).cast::<u32>().write_volatile(value) };
    }

    /// Writes the 64-bit value at `offset` as two 32-bit words, low first.
    pub fn write_u64(&mut self, offset: usize, value: u64) {
        self.write_u32(offset, value as u32);
        self.write_u32(offset + 4, (value >> 32) as u32);
        fence(Ordering::SeqCst);
    }

    /// Writes a 16-byte TRB at `offset`: the first three words, then (after a
    /// barrier) the word with the cycle bit, so the controller never sees a
    /// half-written TRB as valid.
    pub fn write_trb(&mut self, offset: usize, trb: [u32; 4]) {
        for (i, word) in trb.iter().take(3).enumerate() {
            self.write_u32(offset + 4 * i, *word);
        }
        fence(Ordering::SeqCst);
        self.write_u32(offset + 12, trb[3]);
        fence(Ordering::SeqCst);
    }

    /// Reads the 16-byte TRB at `offset`: the word with the cycle bit first.
    pub fn read_trb(&self, offset: usize) -> [u32; 4] {
        let control = self.read_u32(offset + 12);
        fence(Ordering::SeqCst);
        [self.read_u32(offset), self.read_u32(offset + 4), self.read_u32(offset + 8), control]
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout, freed once. Callers drop a
        // buffer only after the controller is done with it (its slot disabled, its transfer
        // completed, or the controller halted).
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
    }
}
