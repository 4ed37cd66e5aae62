//! CDC-ECM, the Ethernet Control Model (USB CDC ECM 1.2): USB network
//! adapters that move plain Ethernet frames, one per bulk transfer, and report
//! link changes on an interrupt endpoint.
//!
//! There is no header around a frame: a transfer that ends with a short packet
//! (or a zero-length packet, when the frame fills its last packet exactly) is
//! one frame. What this module adds is the checking: a received transfer is
//! only handed on if its length can be an Ethernet frame.

use crate::UsbError;
use crate::error::{le16, le32, need};

/// Shortest Ethernet frame accepted (destination, source, type).
pub const MIN_FRAME: usize = 14;
/// Longest frame moteOS sends or accepts (1500-byte MTU + 14-byte header);
/// larger ones are what a VLAN-tagged or jumbo network would send.
pub const MAX_FRAME: usize = 1514;

/// Checks a received transfer: the frame if its length is plausible.
pub fn received_frame(transfer: &[u8]) -> Result<&[u8], UsbError> {
    if transfer.len() < MIN_FRAME {
        return Err(UsbError::Short { what: "Ethernet frame", needed: MIN_FRAME, got: transfer.len() });
    }
    if transfer.len() > MAX_FRAME {
        return Err(UsbError::Malformed { what: "Ethernet frame", why: "longer than 1514 bytes" });
    }
    Ok(transfer)
}

/// Whether a frame of `len` bytes sent on an endpoint with `max_packet`-byte
/// packets must be followed by a zero-length packet to mark its end (it fills
/// its last packet exactly).
pub const fn needs_zero_length_packet(len: usize, max_packet: u16) -> bool {
    max_packet != 0 && len != 0 && len.is_multiple_of(max_packet as usize)
}

/// Parses the MAC address string (ECM 1.2 5.4: twelve hexadecimal digits,
/// most significant first).
pub fn parse_mac(text: &str) -> Result<[u8; 6], UsbError> {
    let bad = UsbError::Malformed { what: "MAC address string", why: "not 12 hexadecimal digits" };
    let digits = text.trim().as_bytes();
    if digits.len() != 12 {
        return Err(bad);
    }
    let mut mac = [0u8; 6];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (hex(pair[0]), hex(pair[1])) {
            (Some(h), Some(l)) => mac[i] = (h * 16 + l) as u8,
            _ => return Err(bad),
        }
    }
    if mac[0] & 1 != 0 {
        return Err(UsbError::Malformed { what: "MAC address string", why: "a multicast address" });
    }
    Ok(mac)
}

/// A notification from the adapter's interrupt endpoint (CDC 1.2 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// The cable was plugged in (`true`) or pulled out (`false`).
    NetworkConnection(bool),
    /// The link speed changed (bits per second, down and up).
    SpeedChange {
        /// Receive speed.
        down: u32,
        /// Transmit speed.
        up: u32,
    },
    /// A notification moteOS does not act on (its code).
    Other(u8),
}

/// Parses one notification: an 8-byte header, then `wLength` bytes of data.
pub fn parse_notification(bytes: &[u8]) -> Result<Notification, UsbError> {
    need("CDC notification", bytes, 8)?;
    if bytes[0] != 0xa1 {
        return Err(UsbError::Malformed { what: "CDC notification", why: "wrong request type" });
    }
    let value = le16(bytes, 2);
    let length = usize::from(le16(bytes, 6));
    Ok(match bytes[1] {
        0x00 => Notification::NetworkConnection(value != 0),
        0x2a => {
            if length < 8 {
                return Err(UsbError::Malformed { what: "CDC speed notification", why: "data length below 8" });
            }
            need("CDC speed notification", bytes, 16)?;
            Notification::SpeedChange { down: le32(bytes, 8), up: le32(bytes, 12) }
        }
        other => Notification::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_length_checked() {
        assert!(received_frame(&[0; 13]).is_err());
        assert_eq!(received_frame(&[0; 14]).unwrap().len(), 14);
        assert_eq!(received_frame(&[0; 1514]).unwrap().len(), 1514);
        assert!(received_frame(&[0; 1515]).is_err());
        assert!(received_frame(&[]).is_err());
    }

    #[test]
    fn zero_length_packet_only_when_the_last_packet_is_full() {
        assert!(needs_zero_length_packet(512, 512));
        assert!(needs_zero_length_packet(128, 64));
        assert!(!needs_zero_length_packet(1514, 512));
        assert!(!needs_zero_length_packet(60, 64));
        assert!(!needs_zero_length_packet(0, 64));
        assert!(!needs_zero_length_packet(64, 0));
    }

    #[test]
    fn mac_strings() {
        // QEMU's usb-net reports its MAC as uppercase hex (40:54:00:12:34:56 by default).
        assert_eq!(parse_mac("405400123456").unwrap(), [0x40, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(parse_mac("0a1B2c3D4e5F").unwrap(), [0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]);
        assert!(parse_mac("40540012345").is_err());
        assert!(parse_mac("4054001234567").is_err());
        assert!(parse_mac("40540012345g").is_err());
        assert!(parse_mac("ffffffffffff").is_err(), "broadcast is not a station address");
        assert!(parse_mac("").is_err());
        assert!(parse_mac("éééééé").is_err());
    }

    #[test]
    fn notifications() {
        let connected = [0xa1, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(parse_notification(&connected).unwrap(), Notification::NetworkConnection(true));
        let gone = [0xa1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(parse_notification(&gone).unwrap(), Notification::NetworkConnection(false));
        let mut speed = [0xa1, 0x2a, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        speed[8..12].copy_from_slice(&100_000_000u32.to_le_bytes());
        speed[12..16].copy_from_slice(&10_000_000u32.to_le_bytes());
        assert_eq!(
            parse_notification(&speed).unwrap(),
            Notification::SpeedChange { down: 100_000_000, up: 10_000_000 }
        );
        // A speed notification that claims 8 bytes of data but sends 4.
        assert!(parse_notification(&speed[..12]).is_err());
        // One that claims fewer than the 8 bytes the format has.
        let mut short_claim = speed;
        short_claim[6] = 4;
        assert!(parse_notification(&short_claim).is_err());
        assert!(parse_notification(&connected[..7]).is_err());
        assert!(parse_notification(&[0x21, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(parse_notification(&[0xa1, 0x01, 0, 0, 0, 0, 0, 0]).unwrap(), Notification::Other(1));
    }
}
