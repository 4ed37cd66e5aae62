//! virtio-input keyboards (QEMU `-device virtio-keyboard-pci`).
//!
//! The device signals new key events through MSI-X; the main loop then reads them
//! from the event queue. Where MSI-X cannot be set up, the loop instead wakes every
//! [`POLL_INTERVAL`] while a keyboard is present.

use super::pci::PciBus;
use super::virtio_hal::VirtioHal;
use crate::events::{self, Event};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use virtio_drivers::device::input::VirtIOInput;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};

/// How often a keyboard without interrupts is checked: well under a keystroke.
pub const POLL_INTERVAL: Duration = Duration::from_millis(15);

const EV_KEY: u16 = 1;

/// One virtio-input device.
pub struct VirtioKeyboard {
    device: VirtIOInput<VirtioHal, PciTransport>,
    name: String,
    /// Whether it interrupts (MSI-X) rather than needing to be polled.
    pub interrupts: bool,
}

impl core::fmt::Debug for VirtioKeyboard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioKeyboard").field("name", &self.name).finish_non_exhaustive()
    }
}

impl VirtioKeyboard {
    /// Finds and initialises every virtio-input device on the bus.
    pub fn probe(bus: &mut PciBus) -> Vec<VirtioKeyboard> {
        let mut found = Vec::new();
        for (function, info) in bus.functions() {
            if virtio_device_type(&info) != Some(DeviceType::Input) {
                continue;
            }
            bus.enable(function);
            let transport = match PciTransport::new::<VirtioHal, _>(bus.root(), function) {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("input: virtio-input at {function} unusable: {e:?}");
                    continue;
                }
            };
            match VirtIOInput::<VirtioHal, _>::new(transport) {
                Ok(mut device) => {
                    let name = device.name().unwrap_or_else(|_| String::from("virtio-input"));
                    // The event queue (0) signals through MSI-X entry 0.
                    let wired = crate::arch::device_msi()
                        .ok_or("the interrupt controller offers no MSI target")
                        .and_then(|message| super::msix::enable(bus, function, 0, message))
                        .and_then(|_| super::msix::virtio_queue_vectors(bus, function, &[0], 0));
                    let interrupts = match wired {
                        Ok(()) => {
                            log::info!("input: {name} at PCI {function}, interrupts through MSI-X");
                            true
                        }
                        Err(why) => {
                            log::info!("input: {name} at PCI {function}, polled ({why})");
                            false
                        }
                    };
                    found.push(VirtioKeyboard { device, name, interrupts });
                }
                Err(e) => log::warn!("input: virtio-input at {function} failed to start: {e:?}"),
            }
        }
        found
    }

    /// Moves pending key events into the event queue.
    pub fn poll(&mut self) {
        self.device.ack_interrupt();
        while let Some(event) = self.device.pop_pending_event() {
            if event.event_type == EV_KEY {
                events::push(Event::InputKey(event.code, event.value as i32));
            }
        }
    }
}
