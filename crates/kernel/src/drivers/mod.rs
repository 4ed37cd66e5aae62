//! Device drivers shared by both architectures.

pub mod acpi_tables;
pub mod ahci;
pub mod dma;
pub mod e1000;
pub mod framebuffer;
pub mod msix;
pub mod nic;
pub mod nvme;
pub mod pci;
pub mod virtio_blk;
pub mod virtio_hal;
pub mod virtio_input;
pub mod virtio_net;
pub mod xhci;

use alloc::boxed::Box;
use nic::NicDevice;
use pci::PciBus;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::bus::BarInfo;
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};

/// Finds the first usable network card: virtio-net first (fastest under QEMU),
/// then e1000-compatible Intel cards.
pub fn probe_nic(bus: &mut PciBus) -> Option<NicDevice> {
    let functions = bus.functions();
    for (function, info) in &functions {
        if virtio_device_type(info) != Some(DeviceType::Network) {
            continue;
        }
        bus.enable(*function);
        let started = PciTransport::new::<virtio_hal::VirtioHal, _>(bus.root(), *function)
            .map_err(|e| alloc::format!("{e:?}"))
            .and_then(|t| virtio_net::VirtioNet::new(t).map_err(|e| alloc::format!("{e:?}")));
        match started {
            Ok(card) => {
                log::info!("net: virtio-net at PCI {function}");
                let mut device = NicDevice::new(Box::new(card));
                // Receive and transmit queues (0 and 1) signal through MSI-X entry 0.
                let wired = crate::arch::device_msi()
                    .ok_or("the interrupt controller offers no MSI target")
                    .and_then(|message| msix::enable(bus, *function, 0, message))
                    .and_then(|_| msix::virtio_queue_vectors(bus, *function, &[0, 1], 0));
                match wired {
                    Ok(()) => {
                        log::info!("net: virtio-net interrupts through MSI-X");
                        device.interrupts = true;
                    }
                    Err(why) => log::warn!("net: virtio-net without interrupts ({why}); polling it"),
                }
                return Some(device);
            }
            Err(e) => log::warn!("net: virtio-net at PCI {function} failed to start: {e}"),
        }
    }
    for (function, info) in &functions {
        if info.vendor_id != e1000::VENDOR_INTEL || !e1000::DEVICE_IDS.contains(&info.device_id) {
            continue;
        }
        let address = match bus.root().bar_info(*function, 0) {
            Ok(Some(BarInfo::Memory { address, .. })) if address != 0 => address,
            _ => {
                log::warn!("net: e1000 at PCI {function} has no memory BAR assigned");
                continue;
            }
        };
        bus.enable(*function);
        // SAFETY: BAR 0 of an Intel 8254x-compatible function, assigned by the
        // firmware and identity-mapped; decoding and bus mastering were just
        // enabled and no other driver claims this function.
        match unsafe { e1000::E1000::new(address) } {
            Ok(card) => {
                log::info!("net: e1000 ({:04x}:{:04x}) at PCI {function}", info.vendor_id, info.device_id);
                return Some(NicDevice::new(Box::new(card)));
            }
            Err(e) => log::warn!("net: e1000 at PCI {function} failed to start: {e}"),
        }
    }
    None
}

/// A disk the storage service can use, with a name for the log.
pub struct Disk {
    /// What it is and where, e.g. "virtio-blk at PCI 00:03.0".
    pub name: alloc::string::String,
    /// The device.
    pub device: Box<dyn storage::BlockDevice + Send>,
}

/// PCI class codes of mass-storage controllers.
const CLASS_STORAGE: u8 = 0x01;
const SUBCLASS_SATA: u8 = 0x06;
const PROG_IF_AHCI: u8 = 0x01;
const SUBCLASS_NVM: u8 = 0x08;
const PROG_IF_NVME: u8 = 0x02;

/// A memory BAR's address, if the firmware assigned one.
fn memory_bar(bus: &mut PciBus, function: virtio_drivers::transport::pci::bus::DeviceFunction, bar: u8) -> Option<u64> {
    match bus.root().bar_info(function, bar) {
        Ok(Some(BarInfo::Memory { address, .. })) if address != 0 => Some(address),
        _ => None,
    }
}

/// Finds every disk: virtio-blk (both architectures), AHCI (SATA) and NVMe.
pub fn probe_disks(bus: &mut PciBus) -> alloc::vec::Vec<Disk> {
    let mut disks = alloc::vec::Vec::new();
    for (function, info) in bus.functions() {
        if (info.class, info.subclass, info.prog_if) == (CLASS_STORAGE, SUBCLASS_SATA, PROG_IF_AHCI) {
            let Some(abar) = memory_bar(bus, function, 5) else {
                log::warn!("storage: AHCI controller at PCI {function} has no registers assigned");
                continue;
            };
            bus.enable(function);
            // SAFETY: BAR 5 of an AHCI-class function, assigned by the firmware and
            // identity-mapped; decoding and bus mastering were just enabled and no
            // other driver claims this function.
            for disk in unsafe { ahci::AhciDisk::probe(abar) } {
                let name = alloc::format!("SATA disk \"{}\" at PCI {function}", disk.model);
                disks.push(Disk { name, device: Box::new(disk) });
            }
            continue;
        }
        if (info.class, info.subclass, info.prog_if) == (CLASS_STORAGE, SUBCLASS_NVM, PROG_IF_NVME) {
            let Some(bar) = memory_bar(bus, function, 0) else {
                log::warn!("storage: NVMe controller at PCI {function} has no registers assigned");
                continue;
            };
            bus.enable(function);
            // SAFETY: BAR 0 of an NVMe-class function, assigned by the firmware and
            // identity-mapped; decoding and bus mastering were just enabled and no
            // other driver claims this function.
            match unsafe { nvme::NvmeDisk::new(bar) } {
                Ok(disk) => {
                    let name = alloc::format!("NVMe disk \"{}\" at PCI {function}", disk.model);
                    disks.push(Disk { name, device: Box::new(disk) });
                }
                Err(e) => log::warn!("storage: NVMe controller at PCI {function}: {e}"),
            }
            continue;
        }
        if virtio_device_type(&info) != Some(DeviceType::Block) {
            continue;
        }
        bus.enable(function);
        let started = PciTransport::new::<virtio_hal::VirtioHal, _>(bus.root(), function)
            .map_err(|e| alloc::format!("{e:?}"))
            .and_then(|t| virtio_blk::VirtioBlock::new(t).map_err(|e| alloc::format!("{e:?}")));
        match started {
            Ok(disk) => {
                let name = alloc::format!("virtio-blk disk at PCI {function}");
                disks.push(Disk { name, device: Box::new(disk) });
            }
            Err(e) => log::warn!("storage: virtio-blk at PCI {function} failed to start: {e}"),
        }
    }
    for disk in &disks {
        log::info!(
            "storage: {} ({} blocks of {} bytes)",
            disk.name,
            disk.device.block_count(),
            disk.device.block_size()
        );
    }
    disks
}
