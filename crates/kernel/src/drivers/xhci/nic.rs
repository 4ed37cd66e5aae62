//! A CDC-ECM adapter as one of the kernel's network cards (`FrameIo`).
//!
//! The frames live in the controller's device state; this handle names the
//! device by its slot. Once the adapter is unplugged the handle goes quiet:
//! no frames, link down, sends dropped.

use super::Shared;
use super::controller::Controller;
use super::function::{FRAME_BUFFER, Function, normal};
use crate::drivers::nic::{FrameIo, MAX_FRAME};
use alloc::vec::Vec;

/// A USB network adapter.
pub struct UsbNic {
    controller: Shared,
    slot: u8,
    mac: [u8; 6],
}

impl UsbNic {
    /// The adapter in `slot` of `controller`.
    pub fn new(controller: Shared, slot: u8, mac: [u8; 6]) -> UsbNic {
        UsbNic { controller, slot, mac }
    }
}

impl Controller {
    fn ethernet(&mut self, slot: u8) -> Option<&mut super::function::Ethernet> {
        match self.devices.get_mut(&slot)?.function.as_mut()? {
            Function::Ethernet(e) if !e.gone => Some(e),
            _ => None,
        }
    }

    /// Sends a frame on the adapter in `slot` (dropped when no buffer is free).
    fn ecm_transmit(&mut self, slot: u8, frame: &[u8]) {
        let Some(e) = self.ethernet(slot) else { return };
        let len = frame.len().min(MAX_FRAME).min(FRAME_BUFFER);
        let Some(mut buffer) = e.tx_free.pop() else {
            e.dropped += 1;
            return;
        };
        buffer.write(0, &frame[..len]);
        let dci = e.ecm.bulk_out.context_index();
        let mut trbs = alloc::vec![(dci, normal(buffer.phys(), len as u32))];
        if usb::ecm::needs_zero_length_packet(len, e.ecm.bulk_out.packet_size()) {
            // A frame that fills its last packet is ended by an empty one.
            trbs.push((dci, normal(buffer.phys(), 0)));
        }
        let addresses = self.submit(slot, &trbs);
        let (Some(first), Some(last)) = (addresses.first(), addresses.last()) else { return };
        if let Some(e) = self.ethernet(slot) {
            e.tx_busy.push((*first, *last, buffer));
        }
    }
}

impl FrameIo for UsbNic {
    fn name(&self) -> &'static str {
        "usb-ecm"
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn link_up(&mut self) -> bool {
        let mut controller = self.controller.lock();
        controller.ethernet(self.slot).is_some_and(|e| e.link_up)
    }

    fn receive_frame(&mut self) -> Option<Vec<u8>> {
        let mut controller = self.controller.lock();
        controller.ethernet(self.slot)?.rx_queue.pop_front()
    }

    fn can_transmit(&mut self) -> bool {
        let mut controller = self.controller.lock();
        let free = controller.ethernet(self.slot).is_some_and(|e| !e.tx_free.is_empty());
        if !free {
            // Completed sends are reclaimed when the controller's events are handled.
            controller.poll(crate::time::now());
        }
        controller.ethernet(self.slot).is_some_and(|e| !e.tx_free.is_empty())
    }

    fn transmit_frame(&mut self, frame: &[u8]) {
        self.controller.lock().ecm_transmit(self.slot, frame);
    }
}
