//! The crate's one error type.

use core::fmt;

/// Why a device's answer could not be used. Every variant names what was
/// wrong so the kernel can log it beside the device's ids and skip the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsbError {
    /// A descriptor, report or status block was shorter than its format needs.
    Short {
        /// What was being read.
        what: &'static str,
        /// Bytes the format needs.
        needed: usize,
        /// Bytes the device sent.
        got: usize,
    },
    /// A field held a value the format does not allow.
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What was wrong with it.
        why: &'static str,
    },
    /// The device offers nothing moteOS drives (no keyboard, hub, CDC-ECM
    /// network function or bulk-only SCSI storage in any configuration).
    Unsupported,
    /// The device refused a request (a STALL handshake).
    Stalled,
    /// A transfer failed in the controller or on the bus (timeout, babble,
    /// transaction error, disconnect).
    Transfer(&'static str),
    /// A bulk-only command failed; the text is the device's sense data or the
    /// protocol step that failed.
    Command(&'static str),
}

impl fmt::Display for UsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsbError::Short { what, needed, got } => {
                write!(f, "the device sent a {what} of {got} bytes where {needed} are needed")
            }
            UsbError::Malformed { what, why } => write!(f, "the device sent a malformed {what}: {why}"),
            UsbError::Unsupported => f.write_str(
                "the device has no function moteOS supports (keyboard, hub, CDC-ECM network adapter, USB stick)",
            ),
            UsbError::Stalled => f.write_str("the device refused the request (STALL)"),
            UsbError::Transfer(why) => write!(f, "the transfer failed: {why}"),
            UsbError::Command(why) => write!(f, "the storage command failed: {why}"),
        }
    }
}

/// Checks that `bytes` holds at least `needed` bytes of a `what`.
pub(crate) fn need(what: &'static str, bytes: &[u8], needed: usize) -> Result<(), UsbError> {
    if bytes.len() < needed { Err(UsbError::Short { what, needed, got: bytes.len() }) } else { Ok(()) }
}

/// The little-endian `u16` at `at` (the caller checked the length).
pub(crate) fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// The little-endian `u32` at `at` (the caller checked the length).
pub(crate) fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
