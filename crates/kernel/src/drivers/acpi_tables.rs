//! Access to the firmware's ACPI tables through the `acpi` crate.
//!
//! The firmware leaves physical memory identity-mapped, so "mapping" a table is
//! just taking its physical address as a pointer.

use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;

/// An [`AcpiHandler`] for identity-mapped physical memory.
#[derive(Debug, Clone, Copy)]
pub struct IdentityMapped;

impl AcpiHandler for IdentityMapped {
    unsafe fn map_physical_region<T>(&self, physical_address: usize, size: usize) -> PhysicalMapping<Self, T> {
        // The firmware's page tables identity-map all RAM and the ACPI regions; a
        // null address would be a firmware bug, so fall back to a dangling pointer
        // that the crate's checksum validation will reject rather than crash on.
        let virtual_start = NonNull::new(physical_address as *mut T).unwrap_or(NonNull::dangling());
        // SAFETY: identity mapping: the virtual address equals the physical one and
        // the caller (the acpi crate) only asks for regions the tables point at.
        unsafe { PhysicalMapping::new(physical_address, virtual_start, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Opens the ACPI tables rooted at the RSDP at `rsdp`.
pub fn from_rsdp(rsdp: u64) -> acpi::AcpiResult<AcpiTables<IdentityMapped>> {
    let address = usize::try_from(rsdp).map_err(|_| acpi::AcpiError::NoValidRsdp)?;
    // SAFETY: `rsdp` comes from the firmware's configuration table and the memory it
    // and the tables it points to live in is identity-mapped and never reused.
    unsafe { AcpiTables::from_rsdp(IdentityMapped, address) }
}
