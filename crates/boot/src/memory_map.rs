//! The firmware's final memory map, reduced to the kernel's own types.

use alloc::vec::Vec;
use kernel::boot_info::{MemoryKind, MemoryRegion};
use uefi::mem::memory_map::{MemoryMap, MemoryMapOwned, MemoryType};

/// Converts the map and merges adjacent ranges of the same kind.
pub fn convert(map: &MemoryMapOwned) -> Vec<MemoryRegion> {
    let mut regions: Vec<MemoryRegion> = Vec::with_capacity(map.len());
    for desc in map.entries() {
        let region = MemoryRegion { start: desc.phys_start, len: desc.page_count * 4096, kind: kind_of(desc.ty) };
        match regions.last_mut() {
            Some(last) if last.kind == region.kind && last.start + last.len == region.start => last.len += region.len,
            _ => regions.push(region),
        }
    }
    regions
}

fn kind_of(ty: MemoryType) -> MemoryKind {
    match ty {
        MemoryType::CONVENTIONAL => MemoryKind::Usable,
        MemoryType::BOOT_SERVICES_CODE | MemoryType::BOOT_SERVICES_DATA => MemoryKind::BootServices,
        MemoryType::LOADER_CODE | MemoryType::LOADER_DATA => MemoryKind::Loader,
        MemoryType::ACPI_RECLAIM => MemoryKind::AcpiReclaimable,
        MemoryType::ACPI_NON_VOLATILE => MemoryKind::AcpiNvs,
        MemoryType::RUNTIME_SERVICES_CODE | MemoryType::RUNTIME_SERVICES_DATA => MemoryKind::RuntimeServices,
        _ => MemoryKind::Reserved,
    }
}
