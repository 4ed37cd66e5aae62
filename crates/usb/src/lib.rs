//! The portable half of moteOS's USB support: everything about USB that is not
//! a host controller's registers.
//!
//! - [`descriptor`]: device, configuration, interface, endpoint, HID, CDC
//!   functional, hub and string descriptors, parsed from bytes a device sent;
//! - [`request`]: the setup packets of standard, hub and class requests;
//! - [`enumerate`]: the sans-I/O enumeration of one device once the controller
//!   has given it an address (descriptors, configuration choice, function setup);
//! - [`hub`]: the hub and root-port state machines (power, connect, reset,
//!   speed, disconnect);
//! - [`hid`]: boot-protocol keyboard reports turned into Linux key codes and
//!   then into `hal` key events;
//! - [`ecm`]: CDC-ECM (USB Ethernet) framing, notifications and MAC addresses;
//! - [`bot`] and [`scsi`]: bulk-only transport and the SCSI commands a USB stick
//!   needs.
//!
//! Nothing here touches hardware, reads a clock or allocates in a loop driven by
//! a device: the kernel's xHCI driver moves the bytes. Every length, count and
//! index read from a device is checked before use; a device that lies gets a
//! [`UsbError`] naming what was wrong, never a panic.
//!
//! Written here rather than taken from crates.io: the host-side crates that
//! exist were measured unsuitable (`usbh` 0.1 pulls `defmt` and `usb-device`
//! and targets one embedded controller; `usb-host` 0.1 is LGPL; `scsi` 0.2.1
//! (2019) has no READ CAPACITY(16) and no CSW tag or residue checks).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod bot;
pub mod descriptor;
pub mod ecm;
pub mod enumerate;
mod error;
pub mod hid;
pub mod hub;
pub mod request;
pub mod scsi;

#[cfg(test)]
mod fixtures;

pub use error::UsbError;

/// The speed a device runs at, as its port reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speed {
    /// 1.5 Mbit/s (USB 1.x low speed: many keyboards and mice).
    Low,
    /// 12 Mbit/s (USB 1.x full speed).
    Full,
    /// 480 Mbit/s (USB 2.0).
    High,
    /// 5 Gbit/s and faster (USB 3.x).
    Super,
}

impl Speed {
    /// The control endpoint's packet size to assume before the device
    /// descriptor says (USB 2.0 5.5.3: 8 for low speed, 64 for full/high
    /// speed, 512 for SuperSpeed).
    pub const fn default_max_packet0(self) -> u16 {
        match self {
            Speed::Low => 8,
            Speed::Full | Speed::High => 64,
            Speed::Super => 512,
        }
    }

    /// A short name for the log.
    pub const fn name(self) -> &'static str {
        match self {
            Speed::Low => "low speed",
            Speed::Full => "full speed",
            Speed::High => "high speed",
            Speed::Super => "SuperSpeed",
        }
    }
}
