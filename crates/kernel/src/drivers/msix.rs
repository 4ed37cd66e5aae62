//! MSI-X: a PCI device raises interrupts by writing a message (from the architecture:
//! the local APIC window on x86_64, a GICv2m doorbell on AArch64) instead of a wire, so
//! no interrupt routing (ACPI `_PRT`, AML) is needed.

use super::pci::PciBus;
use crate::arch::MsiMessage;
use virtio_drivers::transport::pci::bus::{BarInfo, Command, DeviceFunction};

/// The MSI-X capability's id in the PCI capability list.
const CAP_MSIX: u8 = 0x11;
/// Message control: MSI-X enable.
const CONTROL_ENABLE: u32 = 1 << 15;
/// Message control: mask every vector.
const CONTROL_FUNCTION_MASK: u32 = 1 << 14;
/// Command register: legacy INTx off.
const COMMAND_INTX_DISABLE: u16 = 1 << 10;

/// Points table entry `entry` of `function`'s MSI-X table at `message`, unmasks it and
/// enables MSI-X (legacy INTx is switched off). Returns the table's size.
pub fn enable(
    bus: &mut PciBus,
    function: DeviceFunction,
    entry: u16,
    message: MsiMessage,
) -> Result<u16, &'static str> {
    let cap =
        bus.root().capabilities(function).find(|c| c.id == CAP_MSIX).ok_or("the device has no MSI-X capability")?;
    let header = bus.read_config(function, cap.offset);
    let control = header >> 16;
    let size = (control & 0x7ff) as u16 + 1;
    if entry >= size {
        return Err("the device's MSI-X table is too small");
    }
    let table = bus.read_config(function, cap.offset + 4);
    let bir = (table & 0x7) as u8;
    let offset = u64::from(table & !0x7);
    let base = match bus.root().bar_info(function, bir) {
        Ok(Some(BarInfo::Memory { address, size: bar_size, .. })) if address != 0 => {
            if offset + u64::from(size) * 16 > bar_size {
                return Err("the MSI-X table does not fit in its BAR");
            }
            address
        }
        _ => return Err("the MSI-X table's BAR is not assigned"),
    };
    // An interrupt translator (the GICv3 ITS) must know the device before it may write.
    crate::arch::prepare_msi(bus.requester_id(function))?;
    let slot = (base + offset + u64::from(entry) * 16) as *mut u32;
    // Each 16-byte entry is four 32-bit registers (address low, address high, data,
    // vector control), written whole as the PCI specification requires.
    // SAFETY: `slot` is entry `entry` (< table size) of the MSI-X table inside the device's
    // assigned, identity-mapped memory BAR (the whole table was checked to fit the BAR).
    unsafe {
        core::ptr::write_volatile(slot, message.address as u32);
        core::ptr::write_volatile(slot.add(1), (message.address >> 32) as u32);
        core::ptr::write_volatile(slot.add(2), message.data);
        core::ptr::write_volatile(slot.add(3), 0);
    }
    let control = (control | CONTROL_ENABLE) & !CONTROL_FUNCTION_MASK;
    bus.write_config(function, cap.offset, (header & 0xffff) | (control << 16));
    let (_, command) = bus.root().get_status_command(function);
    bus.root().set_command(function, command | Command::from_bits_retain(COMMAND_INTX_DISABLE));
    Ok(size)
}

/// The vendor capability id virtio uses for its configuration structures.
const CAP_VENDOR: u8 = 0x09;
/// `cfg_type` of virtio's common configuration structure.
const VIRTIO_COMMON_CFG: u8 = 1;
/// Offsets in `virtio_pci_common_cfg` (virtio 1.x, 4.1.4.3).
const COMMON_MSIX_CONFIG: u64 = 0x10;
const COMMON_QUEUE_SELECT: u64 = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: u64 = 0x1a;
/// "No vector" in virtio's MSI-X fields.
const VIRTIO_NO_VECTOR: u16 = 0xffff;

/// Tells a modern virtio device to signal `queues` through MSI-X table entry `entry`
/// (and configuration changes through none). `virtio-drivers` does not expose these two
/// fields of the common configuration, so they are written here directly.
///
/// The virtio specification wants the vector set before a queue is enabled, but
/// `virtio-drivers` enables the queues inside its constructors; QEMU accepts the vector
/// afterwards. The value is read back, so a device that ignores it is detected and the
/// caller falls back to polling.
pub fn virtio_queue_vectors(
    bus: &mut PciBus,
    function: DeviceFunction,
    queues: &[u16],
    entry: u16,
) -> Result<(), &'static str> {
    let mut common = None;
    let caps: alloc::vec::Vec<_> = bus.root().capabilities(function).collect();
    for cap in caps {
        let cfg_type = (cap.private_header >> 8) as u8;
        if cap.id == CAP_VENDOR && cfg_type == VIRTIO_COMMON_CFG {
            let bar = bus.read_config(function, cap.offset + 4) as u8;
            let offset = u64::from(bus.read_config(function, cap.offset + 8));
            common = Some((bar, offset));
            break;
        }
    }
    let (bar, offset) = common.ok_or("no virtio common configuration (a legacy device)")?;
    let base = match bus.root().bar_info(function, bar) {
        Ok(Some(BarInfo::Memory { address, .. })) if address != 0 => address + offset,
        _ => return Err("the virtio configuration BAR is not assigned"),
    };
    let field = |at: u64| (base + at) as *mut u16;
    // The transport in `virtio-drivers` uses this structure only from this (single) thread,
    // never at the same time.
    // SAFETY: `base` is the device's common configuration structure in an assigned,
    // identity-mapped memory BAR; these offsets are its 16-bit registers (virtio 4.1.4.3).
    unsafe {
        core::ptr::write_volatile(field(COMMON_MSIX_CONFIG), VIRTIO_NO_VECTOR);
        for &queue in queues {
            core::ptr::write_volatile(field(COMMON_QUEUE_SELECT), queue);
            core::ptr::write_volatile(field(COMMON_QUEUE_MSIX_VECTOR), entry);
            if core::ptr::read_volatile(field(COMMON_QUEUE_MSIX_VECTOR)) != entry {
                return Err("the device refused the MSI-X vector");
            }
        }
    }
    Ok(())
}
