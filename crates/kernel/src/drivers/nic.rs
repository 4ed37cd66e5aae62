//! Network cards, seen by smoltcp as one `phy::Device`.
//!
//! Each driver moves whole Ethernet frames ([`FrameIo`]); [`NicDevice`] adapts
//! any of them to smoltcp. Received frames are copied once out of the driver's
//! DMA buffers, which keeps the adapter free of borrow gymnastics and costs
//! nothing measurable next to TCP and TLS.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// Largest Ethernet frame we send or accept (1500-byte MTU + 14-byte header).
pub const MAX_FRAME: usize = 1514;

/// A driver that sends and receives whole Ethernet frames.
pub trait FrameIo {
    /// Short human name, e.g. "virtio-net" or "e1000".
    fn name(&self) -> &'static str;
    /// The card's MAC address.
    fn mac(&self) -> [u8; 6];
    /// Whether the link is up (cards that cannot tell say yes).
    fn link_up(&mut self) -> bool;
    /// The next received frame, if one is waiting.
    fn receive_frame(&mut self) -> Option<Vec<u8>>;
    /// Whether a frame can be queued for sending right now.
    fn can_transmit(&mut self) -> bool;
    /// Queues a frame for sending; frames the card cannot take are dropped
    /// (TCP retransmits them) and counted.
    fn transmit_frame(&mut self, frame: &[u8]);
}

/// A network card behind smoltcp's device interface.
pub struct NicDevice {
    nic: Box<dyn FrameIo + Send>,
    tx_buffer: Vec<u8>,
    /// Whether the card signals received frames by interrupt (MSI-X); otherwise the
    /// main loop polls it.
    pub interrupts: bool,
}

impl core::fmt::Debug for NicDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NicDevice").field("nic", &self.nic.name()).finish_non_exhaustive()
    }
}

impl NicDevice {
    /// Wraps a driver.
    pub fn new(nic: Box<dyn FrameIo + Send>) -> Self {
        Self { nic, tx_buffer: vec![0; MAX_FRAME], interrupts: false }
    }

    /// The driver's name.
    pub fn name(&self) -> &'static str {
        self.nic.name()
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.nic.mac()
    }

    /// Whether the link is up.
    pub fn link_up(&mut self) -> bool {
        self.nic.link_up()
    }
}

/// A received frame.
pub struct NicRxToken(Vec<u8>);

/// Permission to send one frame.
pub struct NicTxToken<'a>(&'a mut NicDevice);

impl RxToken for NicRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for NicTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let device = self.0;
        let len = len.min(MAX_FRAME);
        let result = f(&mut device.tx_buffer[..len]);
        device.nic.transmit_frame(&device.tx_buffer[..len]);
        result
    }
}

impl Device for NicDevice {
    type RxToken<'a> = NicRxToken;
    type TxToken<'a> = NicTxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.nic.receive_frame()?;
        Some((NicRxToken(frame), NicTxToken(self)))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        if self.nic.can_transmit() { Some(NicTxToken(self)) } else { None }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(1);
        caps
    }
}
