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
}

/// Below this the OS refuses to continue: the chat, TLS buffers and the screen's
/// back buffer alone need tens of MiB.
pub const MINIMUM_USABLE: u64 = 64 * 1024 * 1024;
