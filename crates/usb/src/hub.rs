//! Hubs: the downstream-port state machine of an external hub (USB 2.0 11.24,
//! USB 3.2 10.16), and the decision an xHCI root port's status calls for.
//!
//! Sans-I/O: [`Hub`] asks for control requests and waits through
//! [`Hub::next_action`], and learns their answers through
//! [`Hub::on_port_status`] / [`Hub::on_done`]; the caller moves the bytes and
//! keeps time. A port number or status a hub reports is checked against the
//! hub descriptor before anything is done with it.

use crate::descriptor::HubDescriptor;
use crate::error::le16;
use crate::request::{SetupPacket, port_feature};
use crate::{Speed, UsbError};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

/// How long a port reset takes before the status is read again, if the hub
/// did not report the end of the reset by itself (USB 2.0 7.1.7.5: 10-20 ms).
pub const RESET_WAIT_MS: u64 = 50;
/// How long a device gets after its port reset ends before it must answer
/// (USB 2.0 7.1.7.5: reset recovery, 10 ms).
pub const RECOVERY_WAIT_MS: u64 = 10;
/// Resets tried on a port before the device on it is given up.
const MAX_RESETS: u8 = 3;

/// A hub port's status and change bits (GET_STATUS, 4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortStatus {
    /// `wPortStatus`.
    pub status: u16,
    /// `wPortChange`.
    pub change: u16,
}

impl PortStatus {
    /// Parses the 4-byte answer to GET_STATUS.
    pub fn parse(bytes: &[u8]) -> Result<PortStatus, UsbError> {
        crate::error::need("hub port status", bytes, 4)?;
        Ok(PortStatus { status: le16(bytes, 0), change: le16(bytes, 2) })
    }

    /// A device is connected.
    pub const fn connected(&self) -> bool {
        self.status & 1 != 0
    }

    /// The port is enabled (reset finished).
    pub const fn enabled(&self) -> bool {
        self.status & 2 != 0
    }

    /// The port is being reset.
    pub const fn resetting(&self) -> bool {
        self.status & 0x10 != 0
    }

    /// The attached device's speed (SuperSpeed hubs have only SuperSpeed ports).
    pub const fn speed(&self, superspeed_hub: bool) -> Speed {
        if superspeed_hub {
            Speed::Super
        } else if self.status & 0x200 != 0 {
            Speed::Low
        } else if self.status & 0x400 != 0 {
            Speed::High
        } else {
            Speed::Full
        }
    }
}

/// What the hub's driver must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubAction {
    /// Send this control request to the hub, then call [`Hub::on_done`] (or,
    /// for a port status request, [`Hub::on_port_status`]).
    Control(SetupPacket),
    /// Wait this many milliseconds, then call [`Hub::on_done`] with `Ok(())`.
    Wait(u64),
    /// A device is ready on `port` (reset, enabled): enumerate it.
    Attached {
        /// The hub's port, 1-based.
        port: u8,
        /// The device's speed.
        speed: Speed,
    },
    /// The device on `port` is gone: forget it.
    Detached {
        /// The hub's port, 1-based.
        port: u8,
    },
    /// A device on `port` could not be reset: it is skipped.
    Failed {
        /// The hub's port, 1-based.
        port: u8,
    },
}

/// What the driver asked for last and is waiting to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Request,
    Status(u8),
    Wait,
}

/// One downstream port as moteOS sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Empty,
    Resetting { tries: u8 },
    Attached,
}

/// The state machine of one external hub.
#[derive(Debug, Clone)]
pub struct Hub {
    descriptor: HubDescriptor,
    superspeed: bool,
    ports: Vec<Port>,
    queue: VecDeque<HubAction>,
    pending: Pending,
}

impl Hub {
    /// A hub described by `descriptor`: its first actions power every port,
    /// wait for the power to be good and read every port's status.
    pub fn new(descriptor: HubDescriptor, superspeed: bool) -> Hub {
        let count = descriptor.ports;
        let mut queue = VecDeque::new();
        for port in 1..=count {
            queue.push_back(HubAction::Control(SetupPacket::hub_set_port_feature(port, port_feature::POWER)));
        }
        // At least 100 ms: some hubs report 0 and still need the time.
        queue.push_back(HubAction::Wait(u64::from(descriptor.power_on_ms).max(100)));
        for port in 1..=count {
            queue.push_back(HubAction::Control(SetupPacket::hub_port_status(port)));
        }
        Hub { descriptor, superspeed, ports: vec![Port::Empty; usize::from(count)], queue, pending: Pending::Nothing }
    }

    /// The descriptor the hub was set up with.
    pub const fn descriptor(&self) -> HubDescriptor {
        self.descriptor
    }

    /// The number of bytes of the hub's status-change bitmap (bit 0 = the hub,
    /// bit N = port N).
    pub const fn bitmap_len(&self) -> usize {
        (self.descriptor.ports as usize + 1).div_ceil(8)
    }

    /// The next thing to do, unless the driver is still waiting for the
    /// answer to the previous one.
    pub fn next_action(&mut self) -> Option<HubAction> {
        if self.pending != Pending::Nothing {
            return None;
        }
        let action = self.queue.pop_front()?;
        self.pending = match action {
            HubAction::Control(setup) if setup.request == 0 && setup.is_in() => Pending::Status(setup.index as u8),
            HubAction::Control(_) => Pending::Request,
            HubAction::Wait(_) => Pending::Wait,
            _ => Pending::Nothing,
        };
        Some(action)
    }

    /// Whether a request or wait is outstanding.
    pub fn is_busy(&self) -> bool {
        self.pending != Pending::Nothing || !self.queue.is_empty()
    }

    /// The hub's status-change endpoint reported `bitmap`: read the status of
    /// every port whose bit is set (bits past the last port are ignored).
    pub fn on_change_bitmap(&mut self, bitmap: &[u8]) {
        for port in 1..=self.descriptor.ports {
            let byte = bitmap.get(usize::from(port / 8)).copied().unwrap_or(0);
            let status = HubAction::Control(SetupPacket::hub_port_status(port));
            if byte & (1 << (port % 8)) != 0 && !self.queue.contains(&status) {
                self.queue.push_back(status);
            }
        }
    }

    /// The answer to a request or the end of a wait. A failed port request
    /// (stall, timeout) gives up that port; it is reported as failed.
    pub fn on_done(&mut self, result: Result<(), UsbError>) {
        let pending = core::mem::replace(&mut self.pending, Pending::Nothing);
        if let (Pending::Status(port), Err(_)) = (pending, result) {
            self.give_up(port);
        }
    }

    /// The answer to GET_STATUS of a port (`bytes` as received).
    pub fn on_port_status(&mut self, bytes: Result<&[u8], UsbError>) {
        let pending = core::mem::replace(&mut self.pending, Pending::Nothing);
        let Pending::Status(port) = pending else { return };
        let status = match bytes.and_then(PortStatus::parse) {
            Ok(status) => status,
            Err(_) => return self.give_up(port),
        };
        let Some(index) = usize::from(port).checked_sub(1).filter(|&i| i < self.ports.len()) else { return };
        // Acknowledge every change bit the hub set, so it reports the next one.
        for (bit, feature) in [
            (0, port_feature::C_CONNECTION),
            (1, port_feature::C_ENABLE),
            (2, port_feature::C_SUSPEND),
            (3, port_feature::C_OVER_CURRENT),
            (4, port_feature::C_RESET),
            (5, port_feature::C_BH_RESET),
            (6, port_feature::C_LINK_STATE),
            (7, port_feature::C_CONFIG_ERROR),
        ] {
            // Bits 5-7 exist on SuperSpeed hubs only.
            if status.change & (1 << bit) != 0 && (bit < 5 || self.superspeed) {
                self.queue.push_back(HubAction::Control(SetupPacket::hub_clear_port_feature(port, feature)));
            }
        }
        let state = self.ports[index];
        let connection_changed = status.change & 1 != 0;
        match state {
            _ if !status.connected() => {
                self.ports[index] = Port::Empty;
                if state == Port::Attached {
                    self.queue.push_back(HubAction::Detached { port });
                }
            }
            Port::Attached if connection_changed => {
                // Unplugged and replugged between two looks: a new device.
                self.queue.push_back(HubAction::Detached { port });
                self.start_reset(index, port, 0);
            }
            Port::Attached => {}
            Port::Empty => self.start_reset(index, port, 0),
            Port::Resetting { tries } => {
                if status.enabled() && !status.resetting() {
                    self.ports[index] = Port::Attached;
                    self.queue.push_back(HubAction::Wait(RECOVERY_WAIT_MS));
                    self.queue.push_back(HubAction::Attached { port, speed: status.speed(self.superspeed) });
                } else if status.resetting() || tries == 0 {
                    // Still resetting: look again shortly.
                    self.ports[index] = Port::Resetting { tries: tries.max(1) };
                    self.queue.push_back(HubAction::Wait(RESET_WAIT_MS));
                    self.queue.push_back(HubAction::Control(SetupPacket::hub_port_status(port)));
                } else if tries < MAX_RESETS {
                    self.start_reset(index, port, tries);
                } else {
                    self.give_up(port);
                }
            }
        }
    }

    fn start_reset(&mut self, index: usize, port: u8, tries: u8) {
        self.ports[index] = Port::Resetting { tries: tries + 1 };
        self.queue.push_back(HubAction::Control(SetupPacket::hub_set_port_feature(port, port_feature::RESET)));
        self.queue.push_back(HubAction::Wait(RESET_WAIT_MS));
        self.queue.push_back(HubAction::Control(SetupPacket::hub_port_status(port)));
    }

    fn give_up(&mut self, port: u8) {
        if let Some(slot) = usize::from(port).checked_sub(1).and_then(|i| self.ports.get_mut(i))
            && *slot != Port::Empty
        {
            let was_attached = *slot == Port::Attached;
            *slot = Port::Empty;
            self.queue.push_back(if was_attached { HubAction::Detached { port } } else { HubAction::Failed { port } });
        }
    }
}

/// What an xHCI root port's PORTSC calls for (xHCI 1.2 4.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootPortAction {
    /// Nothing (no device, or nothing changed that matters).
    None,
    /// A USB 2 port with a device that is not enabled: reset it.
    Reset,
    /// The port is enabled with a device: enumerate it (if not done yet).
    Enumerate,
    /// No device any more: forget what was there.
    Detach,
}

/// Decides what a root port needs from its current connect (CCS), enable
/// (PED) and reset (PR) bits. USB 3 ports enable themselves after link
/// training; USB 2 ports need a reset first.
pub const fn root_port_action(connected: bool, enabled: bool, resetting: bool, usb3: bool) -> RootPortAction {
    if !connected {
        RootPortAction::Detach
    } else if resetting {
        RootPortAction::None
    } else if enabled {
        RootPortAction::Enumerate
    } else if usb3 {
        // A USB 3 link still training, or one that failed: a (warm) reset helps both.
        RootPortAction::None
    } else {
        RootPortAction::Reset
    }
}

#[cfg(test)]
mod tests;
