//! The SCSI commands a USB stick needs (SPC-4, SBC-3), built as command
//! blocks and their answers parsed with checked lengths.

use crate::UsbError;
use crate::error::need;
use alloc::string::String;

/// Which way a command's data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// No data stage.
    None,
    /// Device to host.
    In,
    /// Host to device.
    Out,
}

/// A command descriptor block and what its data stage carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// The CDB bytes (only the first `len` count).
    pub cdb: [u8; 16],
    /// Length of the CDB (6, 10 or 16).
    pub len: u8,
    /// Direction of the data stage.
    pub direction: Direction,
    /// Bytes in the data stage.
    pub transfer_length: u32,
}

/// Longest INQUIRY answer asked for.
pub const INQUIRY_LEN: u8 = 36;
/// REQUEST SENSE answer length asked for (fixed format).
pub const SENSE_LEN: u8 = 18;

impl Command {
    fn new(cdb: &[u8], direction: Direction, transfer_length: u32) -> Command {
        let mut bytes = [0u8; 16];
        bytes[..cdb.len()].copy_from_slice(cdb);
        Command { cdb: bytes, len: cdb.len() as u8, direction, transfer_length }
    }

    /// The CDB as sent.
    pub fn bytes(&self) -> &[u8] {
        &self.cdb[..usize::from(self.len)]
    }

    /// TEST UNIT READY: is a medium there and ready?
    pub fn test_unit_ready() -> Command {
        Command::new(&[0x00, 0, 0, 0, 0, 0], Direction::None, 0)
    }

    /// REQUEST SENSE: why did the last command fail?
    pub fn request_sense() -> Command {
        Command::new(&[0x03, 0, 0, 0, SENSE_LEN, 0], Direction::In, u32::from(SENSE_LEN))
    }

    /// INQUIRY: device type, vendor and product.
    pub fn inquiry() -> Command {
        Command::new(&[0x12, 0, 0, 0, INQUIRY_LEN, 0], Direction::In, u32::from(INQUIRY_LEN))
    }

    /// READ CAPACITY (10).
    pub fn read_capacity_10() -> Command {
        Command::new(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], Direction::In, 8)
    }

    /// READ CAPACITY (16) (SERVICE ACTION IN), for disks past 2 TiB.
    pub fn read_capacity_16() -> Command {
        let mut cdb = [0u8; 16];
        cdb[0] = 0x9e;
        cdb[1] = 0x10;
        cdb[13] = 32;
        Command::new(&cdb, Direction::In, 32)
    }

    /// READ (10) of `blocks` blocks of `block_size` bytes from `lba`.
    /// `None` when the request does not fit the command (LBA above 2^32,
    /// more than 65535 blocks, or more than 4 GiB of data).
    pub fn read_10(lba: u64, blocks: u16, block_size: u32) -> Option<Command> {
        Self::rw_10(0x28, lba, blocks, block_size, Direction::In)
    }

    /// WRITE (10); see [`Command::read_10`].
    pub fn write_10(lba: u64, blocks: u16, block_size: u32) -> Option<Command> {
        Self::rw_10(0x2a, lba, blocks, block_size, Direction::Out)
    }

    fn rw_10(opcode: u8, lba: u64, blocks: u16, block_size: u32, direction: Direction) -> Option<Command> {
        let lba = u32::try_from(lba).ok()?;
        let bytes = u32::from(blocks).checked_mul(block_size)?;
        let [l0, l1, l2, l3] = lba.to_be_bytes();
        let [b0, b1] = blocks.to_be_bytes();
        Some(Command::new(&[opcode, 0, l0, l1, l2, l3, 0, b0, b1, 0], direction, bytes))
    }
}

/// What INQUIRY says about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    /// Peripheral device type (0: direct-access block device).
    pub device_type: u8,
    /// Removable medium.
    pub removable: bool,
    /// Vendor, trimmed, printable characters only.
    pub vendor: String,
    /// Product, trimmed, printable characters only.
    pub product: String,
}

impl Inquiry {
    /// Parses standard INQUIRY data (at least 36 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Inquiry, UsbError> {
        need("INQUIRY answer", bytes, 36)?;
        let text = |range: core::ops::Range<usize>| -> String {
            bytes[range]
                .iter()
                .map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '?' })
                .collect::<String>()
        };
        Ok(Inquiry {
            device_type: bytes[0] & 0x1f,
            removable: bytes[1] & 0x80 != 0,
            vendor: String::from(text(8..16).trim()),
            product: String::from(text(16..32).trim()),
        })
    }

    /// Whether the device is a disk (direct-access block device).
    pub const fn is_disk(&self) -> bool {
        self.device_type == 0
    }
}

/// A disk's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Number of blocks.
    pub blocks: u64,
    /// Bytes per block.
    pub block_size: u32,
}

/// Block sizes moteOS accepts (what real media use).
fn check_block_size(size: u32) -> Result<u32, UsbError> {
    if (512..=4096).contains(&size) && size.is_power_of_two() {
        Ok(size)
    } else {
        Err(UsbError::Malformed { what: "READ CAPACITY answer", why: "block size is not 512-4096 bytes" })
    }
}

impl Capacity {
    /// Parses READ CAPACITY (10). `Ok(None)` means the disk is too big for
    /// it and READ CAPACITY (16) must be asked.
    pub fn parse_10(bytes: &[u8]) -> Result<Option<Capacity>, UsbError> {
        need("READ CAPACITY answer", bytes, 8)?;
        let last = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if last == u32::MAX {
            return Ok(None);
        }
        let block_size = check_block_size(u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))?;
        Ok(Some(Capacity { blocks: u64::from(last) + 1, block_size }))
    }

    /// Parses READ CAPACITY (16).
    pub fn parse_16(bytes: &[u8]) -> Result<Capacity, UsbError> {
        need("READ CAPACITY (16) answer", bytes, 12)?;
        let mut last = [0u8; 8];
        last.copy_from_slice(&bytes[..8]);
        let last = u64::from_be_bytes(last);
        let blocks = last
            .checked_add(1)
            .ok_or(UsbError::Malformed { what: "READ CAPACITY (16) answer", why: "impossible block count" })?;
        let block_size = check_block_size(u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]))?;
        Ok(Capacity { blocks, block_size })
    }
}

/// Sense data: why a command failed (SPC-4 4.5.3, fixed format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
}

impl Sense {
    /// Parses fixed-format sense data (response code 0x70 or 0x71).
    pub fn parse(bytes: &[u8]) -> Result<Sense, UsbError> {
        need("sense data", bytes, 14)?;
        if !matches!(bytes[0] & 0x7f, 0x70 | 0x71) {
            return Err(UsbError::Malformed { what: "sense data", why: "not fixed-format sense" });
        }
        Ok(Sense { key: bytes[2] & 0x0f, asc: bytes[12], ascq: bytes[13] })
    }

    /// The medium is write-protected (DATA PROTECT).
    pub const fn is_write_protected(&self) -> bool {
        self.key == 0x07
    }

    /// The device is (becoming) ready later: retry (UNIT ATTENTION after a
    /// reset or medium change, or NOT READY while spinning up).
    pub const fn is_transient(&self) -> bool {
        self.key == 0x06 || (self.key == 0x02 && self.asc == 0x04 && self.ascq == 0x01)
    }

    /// The sentence for a log line.
    pub const fn describe(&self) -> &'static str {
        match (self.key, self.asc) {
            (0x00, _) => "no error reported",
            (0x02, 0x3a) => "no medium in the drive",
            (0x02, _) => "the drive is not ready",
            (0x03, _) => "a medium error (bad block)",
            (0x04, _) => "a hardware error in the drive",
            (0x05, 0x21) => "block address out of range",
            (0x05, _) => "the drive refused the command",
            (0x06, _) => "the medium changed or the drive was reset",
            (0x07, _) => "the medium is write-protected",
            (0x0b, _) => "the command was aborted",
            _ => "an error the drive did not explain",
        }
    }
}

#[cfg(test)]
mod tests;
