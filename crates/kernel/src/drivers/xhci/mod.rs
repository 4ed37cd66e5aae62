//! USB through xHCI host controllers (QEMU `qemu-xhci`, and the controllers of
//! nearly every PC since 2012 and of the Raspberry Pi 4): keyboards (also
//! behind hubs, also plugged in after boot), CDC-ECM network adapters and USB
//! sticks. The USB protocol logic is the portable `usb` crate; this module
//! moves its bytes.
//!
//! Register, ring and context layouts come from the `xhci` crate; memory shared
//! with the controller is behind [`dma::DmaBuffer`]. The controller interrupts
//! through MSI-X (the kernel's one device vector); each interrupt wakes the main
//! loop, which calls [`UsbHost::poll`].

mod controller;
mod device;
mod disk;
mod dma;
mod function;
mod nic;
mod ring;

use super::msix;
use super::nic::NicDevice;
use super::pci::PciBus;
use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use controller::Controller;
pub use disk::UsbDisk;
use function::Function;
use spin::Mutex;
use virtio_drivers::transport::pci::bus::BarInfo;

/// A controller shared by its devices' handles (NIC, disk) and the main loop.
pub type Shared = Arc<Mutex<Controller>>;

/// How often a controller without interrupts is polled.
const POLL_INTERVAL: core::time::Duration = core::time::Duration::from_millis(10);

/// PCI class 0x0c (serial bus), subclass 0x03 (USB).
const CLASS_SERIAL_BUS: u8 = 0x0c;
const SUBCLASS_USB: u8 = 0x03;
const PROG_IF_XHCI: u8 = 0x30;

/// Every USB host controller the kernel drives.
#[derive(Debug, Default)]
pub struct UsbHost {
    controllers: Vec<Shared>,
    /// Run the `test-usb-disk` write/read-back on the first stick found.
    disk_test: bool,
}

impl UsbHost {
    /// Finds and starts every xHCI controller on the bus; other USB
    /// controllers (UHCI, OHCI, EHCI) are logged as unsupported.
    pub fn probe(bus: &mut PciBus, disk_test: bool) -> UsbHost {
        let mut host = UsbHost { controllers: Vec::new(), disk_test };
        for (function, info) in bus.functions() {
            if info.class != CLASS_SERIAL_BUS || info.subclass != SUBCLASS_USB {
                continue;
            }
            let ids = format!("{:04x}:{:04x}", info.vendor_id, info.device_id);
            if info.prog_if != PROG_IF_XHCI {
                let kind = match info.prog_if {
                    0x00 => "UHCI",
                    0x10 => "OHCI",
                    0x20 => "EHCI",
                    _ => "unknown",
                };
                log::warn!("usb: {kind} controller {ids} at PCI {function} is not supported (only xHCI is)");
                continue;
            }
            let address = match bus.root().bar_info(function, 0) {
                Ok(Some(BarInfo::Memory { address, .. })) if address != 0 => address,
                _ => {
                    log::warn!("usb: xHCI {ids} at PCI {function} has no memory BAR assigned; skipped");
                    continue;
                }
            };
            bus.enable(function);
            let name = format!("xHCI {ids} at PCI {function}");
            // SAFETY: BAR 0 of an xHCI function (class 0c/03/30), assigned by the firmware and
            // identity-mapped; decoding and bus mastering were just enabled; no other driver
            // claims USB controllers.
            let started = unsafe { Controller::start(address, name.clone()) };
            let mut controller = match started {
                Ok(controller) => controller,
                Err(why) => {
                    log::warn!("usb: {name} could not be started: {why}");
                    continue;
                }
            };
            let wired = crate::arch::device_msi()
                .ok_or("the interrupt controller offers no MSI target")
                .and_then(|message| msix::enable(bus, function, 0, message));
            match wired {
                Ok(_) => controller.interrupts = true,
                Err(why) => log::warn!("usb: {name} without interrupts ({why}); polling it"),
            }
            log::info!(
                "usb: {}, {}",
                controller.describe(),
                if controller.interrupts { "interrupts through MSI-X" } else { "polled" }
            );
            controller.scan_ports();
            controller.poll(crate::time::now());
            host.controllers.push(Arc::new(Mutex::new(controller)));
        }
        host
    }

    /// Handles what the controllers report: keys go into the event queue,
    /// frames into the adapters' queues, devices come and go.
    pub fn poll(&mut self) {
        for controller in &self.controllers {
            controller.lock().poll(crate::time::now());
        }
        if self.disk_test
            && let Some(mut disk) = self.take_disk()
        {
            self.disk_test = false;
            disk::self_test(&mut disk);
        }
    }

    /// When the loop must call [`poll`](Self::poll) without an interrupt.
    pub fn next_wake(&self) -> Option<core::time::Duration> {
        let now = crate::time::now();
        self.controllers
            .iter()
            .filter_map(|c| {
                let c = c.lock();
                let polled = (!c.interrupts && !c.dead).then_some(POLL_INTERVAL);
                match (c.next_wake(now), polled) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }

    /// A network adapter that appeared and nobody uses yet.
    pub fn take_nic(&mut self) -> Option<NicDevice> {
        for shared in &self.controllers {
            let mut controller = shared.lock();
            let interrupts = controller.interrupts;
            for (slot, device) in controller.devices.iter_mut() {
                if let Some(Function::Ethernet(e)) = device.function.as_mut()
                    && !e.claimed
                    && !e.gone
                {
                    e.claimed = true;
                    let mut card = NicDevice::new(Box::new(nic::UsbNic::new(shared.clone(), *slot, e.ecm.mac)));
                    card.interrupts = interrupts;
                    return Some(card);
                }
            }
        }
        None
    }

    /// A USB stick that appeared and nobody uses yet, opened (or logged and
    /// skipped if it does not answer like a disk).
    pub fn take_disk(&mut self) -> Option<UsbDisk> {
        for shared in &self.controllers {
            let slot = {
                let mut controller = shared.lock();
                controller.devices.iter_mut().find_map(|(slot, device)| match device.function.as_mut() {
                    Some(Function::Storage(s)) if !s.claimed && !s.gone => {
                        s.claimed = true;
                        Some(*slot)
                    }
                    _ => None,
                })
            };
            let Some(slot) = slot else { continue };
            match UsbDisk::open(shared.clone(), slot) {
                Ok(disk) => {
                    use storage::BlockDevice;
                    let bytes = disk.block_count().saturating_mul(disk.block_size() as u64);
                    log::info!(
                        "usb-storage: {}: {} blocks of {} bytes ({} MiB)",
                        disk.name,
                        disk.block_count(),
                        disk.block_size(),
                        bytes / (1024 * 1024)
                    );
                    return Some(disk);
                }
                Err(why) => log::warn!("usb-storage: the stick in slot {slot} is unusable: {why}"),
            }
        }
        None
    }
}
