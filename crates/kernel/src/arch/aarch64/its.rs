//! MSI on GICv3: locality-specific peripheral interrupts (LPIs) and the Interrupt
//! Translation Service (ITS) that turns a PCI device's MSI write into one.
//!
//! `arm-gic` 0.10 covers the distributor, redistributors and CPU interface but has no LPI
//! or ITS support (its `gicv3` module has no property/pending table or command-queue
//! code), so this module programs those registers itself, following the GICv3
//! architecture specification (IHI 0069): the redistributor's LPI property and pending
//! tables, the ITS's device and collection tables, and its command queue (MAPC, MAPD,
//! MAPTI, INV, SYNC).
//!
//! A device's MSI-X entry writes its event id (always 0 here) to `GITS_TRANSLATER`; the ITS
//! identifies the device by its PCI requester id (bus/device/function), which is the
//! identity mapping QEMU's and most firmware's IORT describe for PCI segment 0.

use aarch64_cpu::registers::{CNTFRQ_EL0, Readable};
use alloc::alloc::{Layout, alloc_zeroed};
use core::ptr::{read_volatile, write_volatile};

/// First LPI interrupt id.
pub const LPI_BASE: u32 = 8192;
/// LPI id bits the property table covers (ids up to 2^14 - 1: 8192 LPIs).
const LPI_ID_BITS: u32 = 14;
/// How many LPIs the kernel hands out (one per MSI-capable device).
pub const MAX_DEVICES: u32 = 64;
/// LPI priority (and bit 0: enabled) in the property table.
const LPI_PROPERTY: u8 = 0xa0 | 1;

// Redistributor (RD_base frame) registers.
const GICR_CTLR: u64 = 0x0000;
const GICR_PROPBASER: u64 = 0x0070;
const GICR_PENDBASER: u64 = 0x0078;
const GICR_CTLR_ENABLE_LPIS: u32 = 1;

// ITS registers.
const GITS_CTLR: u64 = 0x0000;
const GITS_TYPER: u64 = 0x0008;
const GITS_CBASER: u64 = 0x0080;
const GITS_CWRITER: u64 = 0x0088;
const GITS_CREADR: u64 = 0x0090;
const GITS_BASER: u64 = 0x0100;
/// The doorbell a device writes its event id to.
pub const GITS_TRANSLATER: u64 = 0x1_0040;
const GITS_CTLR_ENABLED: u32 = 1;
const GITS_CTLR_QUIESCENT: u32 = 1 << 31;

/// Table attributes for PROPBASER/PENDBASER/BASER/CBASER: inner shareable, normal inner
/// write-back read/write-allocate cacheable (as the kernel maps all RAM).
const SHAREABLE_INNER: u64 = 1 << 10;
const CACHE_INNER_WAWB: u64 = 7 << 59;
const CACHE_INNER_WAWB_RD: u64 = 7 << 7;
const BASER_VALID: u64 = 1 << 63;

/// Command queue: one 4 KiB page (128 commands of 32 bytes).
const QUEUE_BYTES: usize = 4096;

/// An ITS with its tables and command queue set up.
#[derive(Debug)]
pub struct Its {
    base: u64,
    queue: *mut [u64; 4],
    /// Target of the one collection: a redistributor's physical address or its processor number.
    rd_target: u64,
    itt_entry_bytes: usize,
    device_id_bits: u32,
    devices: u32,
}

// SAFETY: the ITS registers and the command queue are plain memory-mapped state; the value is
// kept behind the interrupt module's mutex, so only one CPU issues commands at a time.
unsafe impl Send for Its {}

/// Zeroed memory for a GIC table, never freed (the GIC owns it from now on).
fn table(bytes: usize, align: usize) -> Result<*mut u8, &'static str> {
    let layout = Layout::from_size_align(bytes.max(align), align).map_err(|_| "bad GIC table size")?;
    // SAFETY: the layout has a non-zero size; the block is leaked on purpose.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() { Err("no memory for the GIC's LPI tables") } else { Ok(ptr) }
}

fn read32(address: u64) -> u32 {
    // SAFETY: callers pass registers of the ITS or redistributor that the MADT describes,
    // identity-mapped device memory.
    unsafe { read_volatile(address as *const u32) }
}

fn write32(address: u64, value: u32) {
    // SAFETY: as for `read32`.
    unsafe { write_volatile(address as *mut u32, value) }
}

fn read64(address: u64) -> u64 {
    // SAFETY: as for `read32`; these registers are 64 bits wide and 8-byte aligned.
    unsafe { read_volatile(address as *const u64) }
}

fn write64(address: u64, value: u64) {
    // SAFETY: as for `read64`.
    unsafe { write_volatile(address as *mut u64, value) }
}

/// Checks that an ITS answers at `base`: GITS_PIDR2.ArchRev (bits 7:4) is 3 or 4 on one.
/// Firmware tables sometimes list an ITS the machine does not have (QEMU's with `its=off`),
/// where any access aborts.
///
/// # Safety
/// `base` must be identity-mapped device memory named by the MADT.
pub unsafe fn probe(base: u64) -> Result<(), &'static str> {
    // SAFETY: forwarded; PIDR2 is a read-only identification register.
    match unsafe { super::exceptions::probe_read32(base + 0xffe8) }.map(|v| (v >> 4) & 0xf) {
        Some(3 | 4) => Ok(()),
        Some(_) => Err("the device at that address is not an ITS"),
        None => Err("nothing answers at that address (the firmware lists an ITS the machine lacks)"),
    }
}

/// Turns on LPIs at the redistributor whose RD_base frame is at `gicr`: one property table
/// (all kernel LPIs enabled at one priority) and one pending table.
///
/// # Safety
/// `gicr` must be the boot CPU's redistributor (identity-mapped device memory) and LPIs must
/// not be enabled there yet.
pub unsafe fn enable_lpis(gicr: u64) -> Result<(), &'static str> {
    if read32(gicr + GICR_CTLR) & GICR_CTLR_ENABLE_LPIS != 0 {
        return Err("LPIs were already enabled by the firmware (their tables cannot be moved)");
    }
    let lpis = (1usize << LPI_ID_BITS) - LPI_BASE as usize;
    let properties = table(lpis, 4096)?;
    for i in 0..MAX_DEVICES as usize {
        // SAFETY: `properties` has `lpis` (8192) bytes and `i` < 64.
        unsafe { properties.add(i).write(LPI_PROPERTY) };
    }
    // The pending table has one bit per interrupt id (including the 8192 non-LPI ids, whose
    // part must be zero) and must be 64 KiB aligned.
    let pending = table((1usize << LPI_ID_BITS) / 8, 64 * 1024)?;
    // Make the tables visible to the GIC before pointing it at them.
    // SAFETY: a data synchronisation barrier has no other effect.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
    let attributes = SHAREABLE_INNER | CACHE_INNER_WAWB_RD;
    write64(gicr + GICR_PROPBASER, properties as u64 | attributes | u64::from(LPI_ID_BITS - 1));
    write64(gicr + GICR_PENDBASER, pending as u64 | attributes);
    write32(gicr + GICR_CTLR, read32(gicr + GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
    Ok(())
}

impl Its {
    /// Sets up the ITS at `base`: device and collection tables, the command queue, and one
    /// collection targeting the boot CPU's redistributor (`gicr` physical address,
    /// `processor` its GICR_TYPER processor number).
    ///
    /// # Safety
    /// `base` must be an ITS named by the MADT (identity-mapped device memory) that nothing
    /// else uses, and LPIs must be enabled at that redistributor.
    pub unsafe fn new(base: u64, gicr: u64, processor: u16) -> Result<Its, &'static str> {
        write32(base + GITS_CTLR, read32(base + GITS_CTLR) & !GITS_CTLR_ENABLED);
        wait(|| read32(base + GITS_CTLR) & GITS_CTLR_QUIESCENT != 0).map_err(|_| "the ITS did not become quiescent")?;
        let typer = read64(base + GITS_TYPER);
        if typer & 1 == 0 {
            return Err("the ITS does not support physical LPIs");
        }
        let itt_entry_bytes = ((typer >> 4) & 0xf) as usize + 1;
        // Requester ids of PCI segment 0 fit 16 bits; do not size tables for more.
        let device_id_bits = (((typer >> 13) & 0x1f) as u32 + 1).min(16);
        // GITS_TYPER.PTA: collections target redistributors by address, else by number.
        let rd_target = if typer & (1 << 19) != 0 { gicr } else { u64::from(processor) << 16 };

        for n in 0..8u64 {
            let register = base + GITS_BASER + 8 * n;
            let baser = read64(register);
            let kind = (baser >> 56) & 7;
            let entry_bytes = ((baser >> 48) & 0x1f) as usize + 1;
            let entries = match kind {
                1 => 1usize << device_id_bits, // devices
                4 => 64,                       // collections
                _ => continue,
            };
            if baser & (1 << 62) != 0 && baser & BASER_VALID != 0 {
                return Err("the firmware left an indirect ITS table in place");
            }
            // 4 KiB or 64 KiB pages, as few as will hold the table (at most 256 pages).
            let bytes = entries * entry_bytes;
            let (page, page_code) = if bytes <= 256 * 4096 { (4096, 0u64) } else { (65536, 2u64) };
            let pages = bytes.div_ceil(page).clamp(1, 256);
            let memory = table(pages * page, page)?;
            let value = BASER_VALID
                | CACHE_INNER_WAWB
                | SHAREABLE_INNER
                | (memory as u64 & 0x0000_ffff_ffff_f000)
                | (page_code << 8)
                | (pages as u64 - 1);
            write64(register, value);
            if read64(register) & (3 << 8) != page_code << 8 {
                return Err("the ITS refused the table page size");
            }
        }

        let queue = table(QUEUE_BYTES, 64 * 1024)?;
        let queue_pages = (QUEUE_BYTES / 4096) as u64;
        write64(
            base + GITS_CBASER,
            BASER_VALID | CACHE_INNER_WAWB | SHAREABLE_INNER | queue as u64 | (queue_pages - 1),
        );
        write64(base + GITS_CWRITER, 0);
        write32(base + GITS_CTLR, read32(base + GITS_CTLR) | GITS_CTLR_ENABLED);

        let mut its = Its { base, queue: queue.cast(), rd_target, itt_entry_bytes, device_id_bits, devices: 0 };
        // MAPC: collection 0 -> the boot CPU's redistributor; then SYNC it.
        its.command([0x09, 0, (1 << 63) | its.rd_base(), 0])?;
        its.command([0x05, 0, its.rd_base(), 0])?;
        Ok(its)
    }

    /// Maps device `requester_id`'s event 0 to a fresh LPI in collection 0 and returns the
    /// LPI's interrupt id.
    pub fn map_device(&mut self, requester_id: u32) -> Result<u32, &'static str> {
        if requester_id >= 1 << self.device_id_bits {
            return Err("the device id is larger than the ITS supports");
        }
        if self.devices >= MAX_DEVICES {
            return Err("too many MSI devices for the kernel's LPI range");
        }
        let lpi = LPI_BASE + self.devices;
        // An interrupt translation table with two events (EventID bits = 1), 256-byte aligned.
        let itt = table((2 * self.itt_entry_bytes).max(256), 256)?;
        let device = u64::from(requester_id) << 32;
        self.command([0x08 | device, 0, (1 << 63) | (itt as u64 & 0x000f_ffff_ffff_ff00), 0])?; // MAPD
        self.command([0x0a | device, u64::from(lpi) << 32, 0, 0])?; // MAPTI event 0 -> lpi, ICID 0
        self.command([0x0c | device, 0, 0, 0])?; // INV: load the LPI's configuration
        self.command([0x05, 0, self.rd_base(), 0])?; // SYNC
        self.devices += 1;
        Ok(lpi)
    }

    /// The RDbase field of MAPC and SYNC (bits 51:16 of the third doubleword).
    fn rd_base(&self) -> u64 {
        self.rd_target & 0x000f_ffff_ffff_0000
    }

    /// The address devices write their event ids to.
    pub fn doorbell(&self) -> u64 {
        self.base + GITS_TRANSLATER
    }

    /// Writes one command, advances GITS_CWRITER and waits until the ITS has consumed it.
    fn command(&mut self, words: [u64; 4]) -> Result<(), &'static str> {
        let slots = QUEUE_BYTES / 32;
        let offset = read64(self.base + GITS_CWRITER) & 0xf_ffe0;
        let index = (offset as usize / 32) % slots;
        // SAFETY: `queue` is the 4 KiB command queue given to the ITS and `index` < 128; the
        // ITS reads only the slots between CREADR and CWRITER, which this slot is not yet.
        unsafe {
            let slot = self.queue.add(index);
            write_volatile(slot, words);
            core::arch::asm!("dsb sy", options(nostack, preserves_flags));
        }
        let next = ((index + 1) % slots * 32) as u64;
        write64(self.base + GITS_CWRITER, next);
        wait(|| read64(self.base + GITS_CREADR) & 0xf_ffe0 == next).map_err(|_| "the ITS stopped taking commands")?;
        if read64(self.base + GITS_CREADR) & 1 != 0 {
            return Err("the ITS stalled on a command");
        }
        Ok(())
    }
}

/// Polls `done` for up to 100 ms of the generic timer.
fn wait(mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let start = super::cycle_counter();
    // CNTFRQ_EL0 counts per second; a tenth of it is 100 ms.
    let limit = (CNTFRQ_EL0.get() / 10).max(1_000);
    while !done() {
        if super::cycle_counter().wrapping_sub(start) > limit {
            return Err(());
        }
        core::hint::spin_loop();
    }
    Ok(())
}
