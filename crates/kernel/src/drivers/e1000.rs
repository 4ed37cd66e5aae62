//! Intel 8254x ("e1000") gigabit Ethernet: QEMU's `-device e1000` and the many
//! real cards with the same programming model.
//!
//! Written here because no usable crate exists: the only one on crates.io
//! (`e1000-driver` 0.1) is GPL-2.0, which this project cannot link. The driver
//! uses legacy descriptors, one 2 KiB buffer per descriptor and polling.

use super::nic::{FrameIo, MAX_FRAME};
use alloc::alloc::{Layout, alloc_zeroed, handle_alloc_error};
use alloc::vec::Vec;
use core::ptr::NonNull;

/// PCI ids of the e1000 variants QEMU and common hardware present.
pub const DEVICE_IDS: &[u16] = &[0x100e, 0x100f, 0x1004, 0x10d3, 0x153a, 0x10f5];
/// Intel's PCI vendor id.
pub const VENDOR_INTEL: u16 = 0x8086;

mod reg {
    pub const CTRL: usize = 0x0000;
    pub const STATUS: usize = 0x0008;
    pub const EERD: usize = 0x0014;
    pub const IMC: usize = 0x00d8;
    pub const RCTL: usize = 0x0100;
    pub const TCTL: usize = 0x0400;
    pub const TIPG: usize = 0x0410;
    pub const RDBAL: usize = 0x2800;
    pub const RDBAH: usize = 0x2804;
    pub const RDLEN: usize = 0x2808;
    pub const RDH: usize = 0x2810;
    pub const RDT: usize = 0x2818;
    pub const TDBAL: usize = 0x3800;
    pub const TDBAH: usize = 0x3804;
    pub const TDLEN: usize = 0x3808;
    pub const TDH: usize = 0x3810;
    pub const TDT: usize = 0x3818;
    pub const MTA: usize = 0x5200;
    pub const RAL0: usize = 0x5400;
    pub const RAH0: usize = 0x5404;
}

const CTRL_SLU: u32 = 1 << 6;
const CTRL_RST: u32 = 1 << 26;
const STATUS_LU: u32 = 1 << 1;
const RCTL_EN: u32 = 1 << 1;
const RCTL_BAM: u32 = 1 << 15;
const RCTL_SECRC: u32 = 1 << 26;
const TCTL_EN: u32 = 1 << 1;
const TCTL_PSP: u32 = 1 << 3;
const DESC_DD: u8 = 1 << 0;
const DESC_EOP: u8 = 1 << 1;
const CMD_EOP: u8 = 1 << 0;
const CMD_IFCS: u8 = 1 << 1;
const CMD_RS: u8 = 1 << 3;

const RX_COUNT: usize = 64;
const TX_COUNT: usize = 64;
const BUFFER_SIZE: usize = 2048;

/// The legacy receive/transmit descriptor: 16 bytes, shared with the card.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
struct Descriptor {
    address: u64,
    length: u16,
    /// Receive: checksum. Transmit: checksum offset and command (low, high byte).
    field_a: u16,
    /// Status byte, then errors (receive) or checksum start (transmit).
    status: u8,
    field_b: u8,
    special: u16,
}

/// DMA memory from the heap: page-aligned, zeroed, never freed (the card keeps
/// using it for the life of the kernel).
fn dma_alloc(bytes: usize) -> NonNull<u8> {
    let layout = Layout::from_size_align(bytes.max(4096), 4096).unwrap_or(Layout::new::<[u8; 4096]>());
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    NonNull::new(ptr).unwrap_or_else(|| handle_alloc_error(layout))
}

/// An e1000 card.
pub struct E1000 {
    mmio: usize,
    mac: [u8; 6],
    rx_ring: NonNull<Descriptor>,
    tx_ring: NonNull<Descriptor>,
    rx_buffers: NonNull<u8>,
    tx_buffers: NonNull<u8>,
    rx_next: usize,
    tx_next: usize,
    dropped: u64,
}

// SAFETY: the driver exclusively owns its MMIO window and DMA memory, and only the main
// loop touches the card: it runs on the boot processor, and the other processors only ever
// run work-pool jobs (inference arithmetic), never driver code. Moving the value is sound.
unsafe impl Send for E1000 {}

impl E1000 {
    fn read(&self, register: usize) -> u32 {
        // SAFETY: `mmio` is the card's BAR 0 (128 KiB of registers, identity-mapped
        // device memory) and every register offset used is inside it.
        unsafe { core::ptr::read_volatile((self.mmio + register) as *const u32) }
    }

    fn write(&self, register: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile((self.mmio + register) as *mut u32, value) }
    }

    fn rx_descriptor(&self, index: usize) -> *mut Descriptor {
        // SAFETY: index < RX_COUNT, inside the ring allocated in `new`.
        unsafe { self.rx_ring.as_ptr().add(index % RX_COUNT) }
    }

    fn tx_descriptor(&self, index: usize) -> *mut Descriptor {
        // SAFETY: index < TX_COUNT, inside the ring allocated in `new`.
        unsafe { self.tx_ring.as_ptr().add(index % TX_COUNT) }
    }

    /// Resets and starts the card whose BAR 0 registers live at `mmio`.
    ///
    /// # Safety
    /// `mmio` must be the memory BAR 0 of an 8254x-compatible card, identity-mapped,
    /// with memory decoding and bus mastering enabled, used by nothing else.
    pub unsafe fn new(mmio: u64) -> Result<E1000, &'static str> {
        let mmio = usize::try_from(mmio).map_err(|_| "e1000 registers out of reach")?;
        let rx_ring = dma_alloc(RX_COUNT * 16).cast::<Descriptor>();
        let tx_ring = dma_alloc(TX_COUNT * 16).cast::<Descriptor>();
        let rx_buffers = dma_alloc(RX_COUNT * BUFFER_SIZE);
        let tx_buffers = dma_alloc(TX_COUNT * BUFFER_SIZE);
        let mut card =
            E1000 { mmio, mac: [0; 6], rx_ring, tx_ring, rx_buffers, tx_buffers, rx_next: 0, tx_next: 0, dropped: 0 };
        card.write(reg::IMC, u32::MAX);
        card.write(reg::CTRL, card.read(reg::CTRL) | CTRL_RST);
        // The reset bit self-clears within microseconds.
        if !(0..1_000_000).any(|_| card.read(reg::CTRL) & CTRL_RST == 0) {
            return Err("the e1000 did not come out of reset");
        }
        card.write(reg::IMC, u32::MAX);
        card.write(reg::CTRL, card.read(reg::CTRL) | CTRL_SLU);
        card.mac = card.read_mac();

        for i in 0..128 {
            card.write(reg::MTA + i * 4, 0);
        }
        for i in 0..RX_COUNT {
            let buffer = rx_buffers.as_ptr() as u64 + (i * BUFFER_SIZE) as u64;
            // SAFETY: writing descriptor i of our own receive ring.
            unsafe { card.rx_descriptor(i).write_volatile(Descriptor { address: buffer, ..Descriptor::default() }) };
        }
        for i in 0..TX_COUNT {
            let buffer = tx_buffers.as_ptr() as u64 + (i * BUFFER_SIZE) as u64;
            // Mark transmit descriptors done so they count as free.
            let descriptor = Descriptor { address: buffer, status: DESC_DD, ..Descriptor::default() };
            // SAFETY: writing descriptor i of our own transmit ring.
            unsafe { card.tx_descriptor(i).write_volatile(descriptor) };
        }
        let rx = rx_ring.as_ptr() as u64;
        card.write(reg::RDBAL, rx as u32);
        card.write(reg::RDBAH, (rx >> 32) as u32);
        card.write(reg::RDLEN, (RX_COUNT * 16) as u32);
        card.write(reg::RDH, 0);
        card.write(reg::RDT, (RX_COUNT - 1) as u32);
        // 2 KiB buffers (BSIZE 00), broadcast accepted, CRC stripped.
        card.write(reg::RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);

        let tx = tx_ring.as_ptr() as u64;
        card.write(reg::TDBAL, tx as u32);
        card.write(reg::TDBAH, (tx >> 32) as u32);
        card.write(reg::TDLEN, (TX_COUNT * 16) as u32);
        card.write(reg::TDH, 0);
        card.write(reg::TDT, 0);
        // Collision threshold 0x0f and distance 0x40, as the manual recommends for full duplex.
        card.write(reg::TCTL, TCTL_EN | TCTL_PSP | (0x0f << 4) | (0x40 << 12));
        card.write(reg::TIPG, 10 | (8 << 10) | (6 << 20));
        Ok(card)
    }

    fn read_mac(&self) -> [u8; 6] {
        let low = self.read(reg::RAL0);
        let high = self.read(reg::RAH0);
        if low != 0 {
            let [a, b, c, d] = low.to_le_bytes();
            let [e, f, _, _] = high.to_le_bytes();
            return [a, b, c, d, e, f];
        }
        // No address loaded into RAL0: read the EEPROM words 0..3.
        let mut mac = [0u8; 6];
        for word in 0..3u32 {
            self.write(reg::EERD, 1 | (word << 8));
            let value = (0..100_000).map(|_| self.read(reg::EERD)).find(|v| v & (1 << 4) != 0).unwrap_or(0);
            let [lo, hi] = ((value >> 16) as u16).to_le_bytes();
            mac[word as usize * 2] = lo;
            mac[word as usize * 2 + 1] = hi;
        }
        mac
    }
}

impl FrameIo for E1000 {
    fn name(&self) -> &'static str {
        "e1000"
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_up(&mut self) -> bool {
        self.read(reg::STATUS) & STATUS_LU != 0
    }

    fn receive_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            let index = self.rx_next;
            let slot = self.rx_descriptor(index);
            // SAFETY: reading descriptor `index` of our receive ring, which the card
            // writes by DMA (hence volatile).
            let descriptor = unsafe { slot.read_volatile() };
            if descriptor.status & DESC_DD == 0 {
                return None;
            }
            // Read the buffer only after seeing the descriptor done.
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
            let frame = if descriptor.status & DESC_EOP != 0 && descriptor.field_b == 0 {
                let len = usize::from(descriptor.length).min(BUFFER_SIZE);
                // SAFETY: the card finished writing `len` bytes into buffer `index`.
                let bytes =
                    unsafe { core::slice::from_raw_parts(self.rx_buffers.as_ptr().add(index * BUFFER_SIZE), len) };
                Some(bytes.to_vec())
            } else {
                // Frames spanning buffers (jumbo) or with errors are dropped.
                self.dropped += 1;
                None
            };
            // Give the descriptor back: clear its status and advance the tail.
            // SAFETY: as above; the card only reads descriptors behind the tail.
            unsafe { slot.write_volatile(Descriptor { address: descriptor.address, ..Descriptor::default() }) };
            self.write(reg::RDT, index as u32);
            self.rx_next = (index + 1) % RX_COUNT;
            if frame.is_some() {
                return frame;
            }
        }
    }

    fn can_transmit(&mut self) -> bool {
        // SAFETY: reading our own transmit descriptor (written back by the card).
        unsafe { self.tx_descriptor(self.tx_next).read_volatile() }.status & DESC_DD != 0
    }

    fn transmit_frame(&mut self, frame: &[u8]) {
        if !self.can_transmit() {
            self.dropped += 1;
            return;
        }
        let index = self.tx_next;
        let len = frame.len().min(MAX_FRAME);
        // SAFETY: buffer `index` is ours while its descriptor is done (checked above).
        unsafe {
            core::ptr::copy_nonoverlapping(frame.as_ptr(), self.tx_buffers.as_ptr().add(index * BUFFER_SIZE), len);
        }
        let address = self.tx_buffers.as_ptr() as u64 + (index * BUFFER_SIZE) as u64;
        let command = u16::from(CMD_EOP | CMD_IFCS | CMD_RS) << 8;
        let descriptor = Descriptor { address, length: len as u16, field_a: command, ..Descriptor::default() };
        // The frame bytes must be in memory before the card can see the descriptor.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        // SAFETY: handing descriptor `index` to the card; the tail write below publishes it.
        unsafe { self.tx_descriptor(index).write_volatile(descriptor) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        self.tx_next = (index + 1) % TX_COUNT;
        self.write(reg::TDT, self.tx_next as u32);
    }
}
