//! virtio-net through `virtio-drivers` (modern and legacy PCI transports).

use super::nic::{FrameIo, MAX_FRAME};
use super::virtio_hal::VirtioHal;
use alloc::vec::Vec;
use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::pci::PciTransport;

const QUEUE_SIZE: usize = 64;
/// Receive buffers hold a full frame plus the virtio-net header.
const BUFFER_LEN: usize = 2048;

/// A virtio-net card.
pub struct VirtioNet {
    device: VirtIONet<VirtioHal, PciTransport, QUEUE_SIZE>,
    dropped: u64,
}

// SAFETY: the driver owns its queues and MMIO pointers exclusively, and only the main loop
// touches the card: it runs on the boot processor, and the other processors only ever run
// work-pool jobs (inference arithmetic), never driver code. Moving the value is sound.
unsafe impl Send for VirtioNet {}

impl VirtioNet {
    /// Starts the card behind `transport`.
    pub fn new(transport: PciTransport) -> Result<Self, virtio_drivers::Error> {
        Ok(Self { device: VirtIONet::new(transport, BUFFER_LEN)?, dropped: 0 })
    }
}

impl FrameIo for VirtioNet {
    fn name(&self) -> &'static str {
        "virtio-net"
    }

    fn mac(&self) -> [u8; 6] {
        self.device.mac_address()
    }

    fn link_up(&mut self) -> bool {
        // virtio-net's link status is an optional feature; QEMU's user network is always up.
        true
    }

    fn receive_frame(&mut self) -> Option<Vec<u8>> {
        let buffer = self.device.receive().ok()?;
        let frame = buffer.packet().to_vec();
        if self.device.recycle_rx_buffer(buffer).is_err() {
            log::warn!("virtio-net: could not recycle a receive buffer");
        }
        Some(frame)
    }

    fn can_transmit(&mut self) -> bool {
        self.device.can_send()
    }

    fn transmit_frame(&mut self, frame: &[u8]) {
        let mut buffer = self.device.new_tx_buffer(frame.len().min(MAX_FRAME));
        buffer.packet_mut().copy_from_slice(&frame[..frame.len().min(MAX_FRAME)]);
        if self.device.send(buffer).is_err() {
            self.dropped += 1;
        }
    }
}
