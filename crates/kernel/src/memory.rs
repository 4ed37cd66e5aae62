//! Sizes derived from the firmware memory map.

use crate::boot_info::{MemoryKind, MemoryRegion};

/// Bytes per kind in the memory map.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySummary {
    /// Free RAM handed to the heap.
    pub usable: u64,
    /// Firmware boot-services code and data (RAM, not yet reclaimed).
    pub boot_services: u64,
    /// The moteOS image, the early heap arena and boot's own data.
    pub loader: u64,
    /// ACPI tables.
    pub acpi: u64,
    /// ACPI non-volatile storage.
    pub acpi_nvs: u64,
    /// Runtime services (kept for `GetTime`/`ResetSystem`).
    pub runtime: u64,
    /// Reserved and MMIO ranges.
    pub reserved: u64,
}

impl MemorySummary {
    /// Adds up the regions of `map` by kind.
    pub fn of(map: &[MemoryRegion]) -> Self {
        let mut s = Self::default();
        for region in map {
            let slot = match region.kind {
                MemoryKind::Usable => &mut s.usable,
                MemoryKind::BootServices => &mut s.boot_services,
                MemoryKind::Loader => &mut s.loader,
                MemoryKind::AcpiReclaimable => &mut s.acpi,
                MemoryKind::AcpiNvs => &mut s.acpi_nvs,
                MemoryKind::RuntimeServices => &mut s.runtime,
                MemoryKind::Reserved => &mut s.reserved,
            };
            *slot = slot.saturating_add(region.len);
        }
        s
    }

    /// All RAM the OS owns once the firmware is gone: free memory, firmware
    /// boot-time leftovers and the loader's own allocations.
    pub fn ram(&self) -> u64 {
        self.usable + self.boot_services + self.loader + self.acpi
    }

    /// Every byte of RAM the firmware's map lists (what QEMU's `-m` gave the machine, less
    /// what the firmware hides entirely).
    pub fn all_ram(&self) -> u64 {
        self.usable + self.boot_services + self.loader + self.acpi + self.acpi_nvs + self.runtime
    }
}

/// Below this the OS refuses to continue: the chat, TLS buffers and the screen's
/// back buffer alone need tens of MiB.
pub const MINIMUM_USABLE: u64 = 64 * 1024 * 1024;

/// Logs where every byte of RAM went once the boot is over, in one line tests read:
/// `free` is what the heap still has; the RAM in the firmware's map is split exactly into the
/// heap, the image, the framebuffer (if in RAM), the firmware's runtime services and ACPI
/// tables, the first MiB (never used), and the rest of the boot loader's data (the model file,
/// firmware bookkeeping).
pub fn log_accounting(info: &crate::BootInfo, reclaimed: usize) {
    let summary = MemorySummary::of(&info.memory_map);
    let heap = crate::allocator::stats();
    let image = crate::allocator::image_range();
    let image_bytes = image.end - image.start;
    // The pixels on screen (the firmware's buffer may be a larger video-memory window).
    let framebuffer = info.framebuffer.as_ref().map_or(0, |f| u64::from(f.stride) * u64::from(f.height) * 4);
    // RAM the framebuffer occupies (QEMU's ramfb), which the heap does not get.
    let framebuffer_in_ram = info.framebuffer.as_ref().map_or(0, |f| {
        let fb = f.base..f.base + f.size as u64;
        info.memory_map
            .iter()
            .filter(|r| !matches!(r.kind, MemoryKind::Reserved))
            .map(|r| fb.end.min(r.start + r.len).saturating_sub(fb.start.max(r.start)))
            .sum::<u64>()
    });
    let low = info
        .memory_map
        .iter()
        .filter(|r| matches!(r.kind, MemoryKind::Usable | MemoryKind::BootServices))
        .map(|r| (r.start + r.len).min(0x10_0000).saturating_sub(r.start))
        .sum::<u64>();
    let ram = summary.all_ram();
    let claimed = heap.claimed as u64;
    let firmware = summary.runtime;
    let acpi = summary.acpi + summary.acpi_nvs;
    let other = ram.saturating_sub(claimed + image_bytes + framebuffer_in_ram + firmware + acpi + low);
    let kib = |b: u64| b / 1024;
    log::info!(
        "memory: after boot {} KiB free (heap {} KiB, {} KiB of it in use, {} KiB reclaimed from boot services); \
         RAM {} KiB = heap {} + image {} + framebuffer in RAM {} + firmware runtime {} + ACPI {} + first MiB {} \
         + other boot data {} KiB; framebuffer {} KiB",
        kib(claimed - heap.allocated as u64),
        kib(claimed),
        kib(heap.allocated as u64),
        reclaimed / 1024,
        kib(ram),
        kib(claimed),
        kib(image_bytes),
        kib(framebuffer_in_ram),
        kib(firmware),
        kib(acpi),
        kib(low),
        kib(other),
        kib(framebuffer),
    );
}
