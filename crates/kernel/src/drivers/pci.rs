//! PCI Express configuration space through the ECAM window named by the ACPI
//! MCFG table (q35: 0xB000_0000, virt: 0x40_1000_0000), using `virtio-drivers`'
//! PCI root implementation.

use crate::acpi_tables;
use acpi::mcfg::Mcfg;
use alloc::vec::Vec;
use virtio_drivers::transport::pci::bus::{
    Cam, Command, ConfigurationAccess, DeviceFunction, DeviceFunctionInfo, MmioCam, PciRoot,
};

/// The PCI segment the kernel drives (segment 0).
pub struct PciBus {
    root: PciRoot<MmioCam<'static>>,
    /// The same window, for registers the root does not expose (MSI-X, virtio's
    /// vendor capabilities).
    cam: MmioCam<'static>,
    buses: core::ops::RangeInclusive<u8>,
}

impl core::fmt::Debug for PciBus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PciBus").field("buses", &self.buses).finish_non_exhaustive()
    }
}

impl PciBus {
    /// Finds segment 0's ECAM window in the MCFG table.
    pub fn open(rsdp: Option<u64>) -> Result<PciBus, &'static str> {
        let rsdp = rsdp.ok_or("no ACPI tables, so no PCI configuration space")?;
        let tables = acpi_tables::from_rsdp(rsdp).map_err(|_| "the ACPI tables are unreadable")?;
        let mcfg = tables.find_table::<Mcfg>().map_err(|_| "no ACPI MCFG table: no PCI Express configuration space")?;
        let entry = mcfg
            .get()
            .entries()
            .iter()
            .find(|e| e.pci_segment_group == 0)
            .copied()
            .ok_or("the MCFG has no entry for PCI segment 0")?;
        // ECAM addresses bus N at base + N << 20; the window starts at the first bus.
        let base = entry.base_address + (u64::from(entry.bus_number_start) << 20);
        if base == 0 || base % 4 != 0 {
            return Err("the MCFG names an invalid ECAM address");
        }
        // SAFETY: the MCFG describes this ECAM window; the firmware identity-maps it
        // as device memory, and only this bus object accesses it from now on.
        let cam = unsafe { MmioCam::new(base as *mut u8, Cam::Ecam) };
        // SAFETY: as above; this second view of the window is used only through `&mut self`
        // methods of the bus, never at the same time as the root's.
        let raw = unsafe { MmioCam::new(base as *mut u8, Cam::Ecam) };
        Ok(PciBus { root: PciRoot::new(cam), cam: raw, buses: entry.bus_number_start..=entry.bus_number_end })
    }

    /// Every function on every bus of the segment.
    pub fn functions(&self) -> Vec<(DeviceFunction, DeviceFunctionInfo)> {
        let mut found = Vec::new();
        let first = *self.buses.start();
        for bus in self.buses.clone() {
            // The root wraps the whole window from the first bus, so numbers are relative.
            found.extend(self.root.enumerate_bus(bus - first));
        }
        found
    }

    /// Logs every function with its ids and class, so a report from an unsupported
    /// machine says what hardware it has.
    pub fn log_functions(&self) {
        for (function, info) in self.functions() {
            log::info!(
                "pci: {function} {:04x}:{:04x} class {:02x}/{:02x}/{:02x}",
                info.vendor_id,
                info.device_id,
                info.class,
                info.subclass,
                info.prog_if
            );
        }
    }

    /// Lets a device decode its memory BARs and master DMA (the firmware leaves
    /// this off for devices it did not use itself).
    pub fn enable(&mut self, function: DeviceFunction) {
        let (_, command) = self.root.get_status_command(function);
        self.root.set_command(function, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
    }

    /// Reads the 32-bit configuration register at `offset` (4-byte aligned).
    pub fn read_config(&mut self, function: DeviceFunction, offset: u8) -> u32 {
        self.cam.read_word(function, offset)
    }

    /// Writes the 32-bit configuration register at `offset` (4-byte aligned).
    pub fn write_config(&mut self, function: DeviceFunction, offset: u8, value: u32) {
        self.cam.write_word(function, offset, value);
    }

    /// The function's PCI requester id (bus << 8 | device << 3 | function), as interrupt
    /// translators and IOMMUs know it.
    pub fn requester_id(&self, function: DeviceFunction) -> u32 {
        let bus = u32::from(*self.buses.start()) + u32::from(function.bus);
        (bus << 8) | (u32::from(function.device) << 3) | u32::from(function.function)
    }

    /// The root, for transports that need it.
    pub fn root(&mut self) -> &mut PciRoot<MmioCam<'static>> {
        &mut self.root
    }
}
