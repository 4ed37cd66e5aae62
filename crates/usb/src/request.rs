//! Control requests: the 8-byte setup packet (USB 2.0 9.3) for every request
//! moteOS sends, standard, hub class (USB 2.0 11.24), HID (HID 1.11 7.2),
//! CDC-ECM (ECM 1.2 6.2) and bulk-only mass storage (BOT 1.0 3).

use crate::descriptor::kind;

/// `bmRequestType` bit 7: device to host.
const DEVICE_TO_HOST: u8 = 0x80;
/// `bmRequestType` type field: class request.
const CLASS: u8 = 0x20;
/// `bmRequestType` recipients.
const TO_INTERFACE: u8 = 0x01;
const TO_ENDPOINT: u8 = 0x02;
const TO_OTHER: u8 = 0x03;

/// A setup packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupPacket {
    /// `bmRequestType`: direction, type, recipient.
    pub request_type: u8,
    /// `bRequest`.
    pub request: u8,
    /// `wValue`.
    pub value: u16,
    /// `wIndex`.
    pub index: u16,
    /// `wLength`: bytes in the data stage.
    pub length: u16,
}

impl SetupPacket {
    /// The packet as sent on the wire.
    pub fn to_bytes(self) -> [u8; 8] {
        let [v0, v1] = self.value.to_le_bytes();
        let [i0, i1] = self.index.to_le_bytes();
        let [l0, l1] = self.length.to_le_bytes();
        [self.request_type, self.request, v0, v1, i0, i1, l0, l1]
    }

    /// Whether the data stage (if any) flows from the device to the host.
    pub const fn is_in(self) -> bool {
        self.request_type & DEVICE_TO_HOST != 0
    }

    /// GET_DESCRIPTOR of `kind` number `index` (strings: in `language`), at
    /// most `length` bytes.
    pub const fn get_descriptor(kind: u8, index: u8, language: u16, length: u16) -> SetupPacket {
        SetupPacket {
            request_type: DEVICE_TO_HOST,
            request: 6,
            value: ((kind as u16) << 8) | index as u16,
            index: language,
            length,
        }
    }

    /// SET_CONFIGURATION to `value`.
    pub const fn set_configuration(value: u8) -> SetupPacket {
        SetupPacket { request_type: 0, request: 9, value: value as u16, index: 0, length: 0 }
    }

    /// SET_INTERFACE: select `alternate` of `interface`.
    pub const fn set_interface(interface: u8, alternate: u8) -> SetupPacket {
        SetupPacket {
            request_type: TO_INTERFACE,
            request: 11,
            value: alternate as u16,
            index: interface as u16,
            length: 0,
        }
    }

    /// CLEAR_FEATURE(ENDPOINT_HALT) on endpoint `address` (after a stall).
    pub const fn clear_halt(address: u8) -> SetupPacket {
        SetupPacket { request_type: TO_ENDPOINT, request: 1, value: 0, index: address as u16, length: 0 }
    }

    /// HID SET_PROTOCOL: boot protocol (0) or report protocol (1).
    pub const fn hid_set_protocol(interface: u8, boot: bool) -> SetupPacket {
        SetupPacket {
            request_type: CLASS | TO_INTERFACE,
            request: 0x0b,
            value: if boot { 0 } else { 1 },
            index: interface as u16,
            length: 0,
        }
    }

    /// HID SET_IDLE with duration 0: report only on change (moteOS repeats
    /// keys itself).
    pub const fn hid_set_idle(interface: u8) -> SetupPacket {
        SetupPacket { request_type: CLASS | TO_INTERFACE, request: 0x0a, value: 0, index: interface as u16, length: 0 }
    }

    /// HID SET_REPORT of the one-byte output report (keyboard LEDs).
    pub const fn hid_set_leds(interface: u8) -> SetupPacket {
        SetupPacket {
            request_type: CLASS | TO_INTERFACE,
            request: 0x09,
            value: 0x0200,
            index: interface as u16,
            length: 1,
        }
    }

    /// Hub GET_DESCRIPTOR of the hub descriptor (USB 2.0 or SuperSpeed).
    pub const fn hub_get_descriptor(superspeed: bool) -> SetupPacket {
        let kind = if superspeed { kind::SUPERSPEED_HUB } else { kind::HUB };
        SetupPacket {
            request_type: DEVICE_TO_HOST | CLASS,
            request: 6,
            value: (kind as u16) << 8,
            index: 0,
            length: 71,
        }
    }

    /// Hub GET_STATUS of downstream `port` (4 bytes: status, change).
    pub const fn hub_port_status(port: u8) -> SetupPacket {
        SetupPacket {
            request_type: DEVICE_TO_HOST | CLASS | TO_OTHER,
            request: 0,
            value: 0,
            index: port as u16,
            length: 4,
        }
    }

    /// Hub SET_FEATURE `feature` on `port`.
    pub const fn hub_set_port_feature(port: u8, feature: u16) -> SetupPacket {
        SetupPacket { request_type: CLASS | TO_OTHER, request: 3, value: feature, index: port as u16, length: 0 }
    }

    /// Hub CLEAR_FEATURE `feature` on `port`.
    pub const fn hub_clear_port_feature(port: u8, feature: u16) -> SetupPacket {
        SetupPacket { request_type: CLASS | TO_OTHER, request: 1, value: feature, index: port as u16, length: 0 }
    }

    /// SuperSpeed hub SET_HUB_DEPTH (tier of the hub below the root, 0-based).
    pub const fn hub_set_depth(depth: u8) -> SetupPacket {
        SetupPacket { request_type: CLASS, request: 12, value: depth as u16, index: 0, length: 0 }
    }

    /// CDC-ECM SET_ETHERNET_PACKET_FILTER: directed, broadcast and all
    /// multicast frames (what DHCP, ARP and IPv4 need).
    pub const fn ecm_set_packet_filter(interface: u8) -> SetupPacket {
        const DIRECTED: u16 = 1 << 2;
        const BROADCAST: u16 = 1 << 3;
        const ALL_MULTICAST: u16 = 1 << 1;
        SetupPacket {
            request_type: CLASS | TO_INTERFACE,
            request: 0x43,
            value: DIRECTED | BROADCAST | ALL_MULTICAST,
            index: interface as u16,
            length: 0,
        }
    }

    /// Bulk-only mass storage reset (the first step of reset recovery).
    pub const fn bot_reset(interface: u8) -> SetupPacket {
        SetupPacket { request_type: CLASS | TO_INTERFACE, request: 0xff, value: 0, index: interface as u16, length: 0 }
    }

    /// Bulk-only GET_MAX_LUN (one byte; a stall means a single LUN).
    pub const fn bot_get_max_lun(interface: u8) -> SetupPacket {
        SetupPacket {
            request_type: DEVICE_TO_HOST | CLASS | TO_INTERFACE,
            request: 0xfe,
            value: 0,
            index: interface as u16,
            length: 1,
        }
    }
}

/// Hub port features (USB 2.0 table 11-17).
pub mod port_feature {
    /// Enable (clear only: disables the port).
    pub const ENABLE: u16 = 1;
    /// Reset the port.
    pub const RESET: u16 = 4;
    /// Port power.
    pub const POWER: u16 = 8;
    /// Change bit: connection.
    pub const C_CONNECTION: u16 = 16;
    /// Change bit: enable.
    pub const C_ENABLE: u16 = 17;
    /// Change bit: suspend.
    pub const C_SUSPEND: u16 = 18;
    /// Change bit: over-current.
    pub const C_OVER_CURRENT: u16 = 19;
    /// Change bit: reset finished.
    pub const C_RESET: u16 = 20;
    /// SuperSpeed change bit: warm (BH) reset finished.
    pub const C_BH_RESET: u16 = 29;
    /// SuperSpeed change bit: link state.
    pub const C_LINK_STATE: u16 = 25;
    /// SuperSpeed change bit: configuration error.
    pub const C_CONFIG_ERROR: u16 = 26;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_packets_match_the_spec_tables() {
        // GET_DESCRIPTOR(device, 18): 80 06 00 01 00 00 12 00.
        assert_eq!(SetupPacket::get_descriptor(1, 0, 0, 18).to_bytes(), [0x80, 6, 0, 1, 0, 0, 18, 0]);
        // GET_DESCRIPTOR(string 2, English): 80 06 02 03 09 04 ff 00.
        assert_eq!(SetupPacket::get_descriptor(3, 2, 0x0409, 255).to_bytes(), [0x80, 6, 2, 3, 9, 4, 255, 0]);
        assert_eq!(SetupPacket::set_configuration(1).to_bytes(), [0, 9, 1, 0, 0, 0, 0, 0]);
        assert_eq!(SetupPacket::set_interface(1, 1).to_bytes(), [1, 11, 1, 0, 1, 0, 0, 0]);
        assert_eq!(SetupPacket::hid_set_protocol(0, true).to_bytes(), [0x21, 0x0b, 0, 0, 0, 0, 0, 0]);
        assert_eq!(SetupPacket::hid_set_idle(2).to_bytes(), [0x21, 0x0a, 0, 0, 2, 0, 0, 0]);
        assert_eq!(SetupPacket::hid_set_leds(0).to_bytes(), [0x21, 0x09, 0, 2, 0, 0, 1, 0]);
        assert_eq!(SetupPacket::hub_get_descriptor(false).to_bytes(), [0xa0, 6, 0, 0x29, 0, 0, 71, 0]);
        assert_eq!(SetupPacket::hub_port_status(3).to_bytes(), [0xa3, 0, 0, 0, 3, 0, 4, 0]);
        assert_eq!(SetupPacket::hub_set_port_feature(2, port_feature::RESET).to_bytes(), [0x23, 3, 4, 0, 2, 0, 0, 0]);
        assert_eq!(
            SetupPacket::hub_clear_port_feature(2, port_feature::C_CONNECTION).to_bytes(),
            [0x23, 1, 16, 0, 2, 0, 0, 0]
        );
        assert_eq!(SetupPacket::ecm_set_packet_filter(0).to_bytes(), [0x21, 0x43, 0x0e, 0, 0, 0, 0, 0]);
        assert_eq!(SetupPacket::bot_reset(0).to_bytes(), [0x21, 0xff, 0, 0, 0, 0, 0, 0]);
        assert_eq!(SetupPacket::bot_get_max_lun(0).to_bytes(), [0xa1, 0xfe, 0, 0, 0, 0, 1, 0]);
        assert_eq!(SetupPacket::clear_halt(0x81).to_bytes(), [2, 1, 0, 0, 0x81, 0, 0, 0]);
        assert!(SetupPacket::hub_port_status(1).is_in());
        assert!(!SetupPacket::set_configuration(1).is_in());
    }
}
