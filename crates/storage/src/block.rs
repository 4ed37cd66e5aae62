//! The block-device trait: fixed-size blocks addressed by number, read and written
//! whole. One trait for every medium, so the FAT layer and the tests never learn
//! which controller sits underneath.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Why a block operation failed, in words a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The request reaches past the end of the device (or is not a whole number of blocks).
    OutOfRange {
        /// First block asked for.
        lba: u64,
        /// Blocks asked for.
        count: u64,
        /// Blocks the device has.
        blocks: u64,
    },
    /// The buffer is not a whole number of blocks.
    BadLength {
        /// Bytes given.
        len: usize,
        /// The device's block size.
        block_size: usize,
    },
    /// The medium refuses writes (write-protect switch, `readonly=on`, a CD).
    ReadOnly,
    /// The device is gone (unplugged, reset).
    NotPresent,
    /// The device did not answer in time.
    Timeout,
    /// The device reported an error; the text says what it said.
    Device(String),
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::OutOfRange { lba, count, blocks } => {
                write!(f, "blocks {lba}..{} are past the end of the disk ({blocks} blocks)", lba.saturating_add(*count))
            }
            BlockError::BadLength { len, block_size } => {
                write!(f, "{len} bytes is not a whole number of {block_size}-byte blocks")
            }
            BlockError::ReadOnly => f.write_str("the disk is read-only"),
            BlockError::NotPresent => f.write_str("the disk is no longer there (unplugged?)"),
            BlockError::Timeout => f.write_str("the disk did not answer in time"),
            BlockError::Device(why) => write!(f, "the disk reported an error: {why}"),
        }
    }
}

/// A disk: `block_count` blocks of `block_size` bytes.
///
/// Buffers are always whole blocks; `lba` counts blocks from the start of the device.
/// Implementations check ranges themselves (with [`check_range`]) and never trust a
/// length from the caller or the hardware.
pub trait BlockDevice {
    /// Bytes per block (512 or 4096 on real disks).
    fn block_size(&self) -> usize;
    /// Blocks on the device.
    fn block_count(&self) -> u64;
    /// Whether writes are refused.
    fn is_read_only(&self) -> bool {
        false
    }
    /// Reads `buf.len() / block_size` blocks starting at `lba`.
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf.len() / block_size` blocks starting at `lba`.
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes every completed write durable (a cache flush); a no-op where writes are
    /// durable on completion.
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}

/// Checks that `len` bytes at block `lba` are whole blocks inside a device of
/// `blocks` blocks of `block_size` bytes; returns the block count.
pub fn check_range(lba: u64, len: usize, block_size: usize, blocks: u64) -> Result<u64, BlockError> {
    if block_size == 0 || !len.is_multiple_of(block_size) {
        return Err(BlockError::BadLength { len, block_size });
    }
    let count = (len / block_size) as u64;
    match lba.checked_add(count) {
        Some(end) if end <= blocks => Ok(count),
        _ => Err(BlockError::OutOfRange { lba, count, blocks }),
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn block_size(&self) -> usize {
        (**self).block_size()
    }
    fn block_count(&self) -> u64 {
        (**self).block_count()
    }
    fn is_read_only(&self) -> bool {
        (**self).is_read_only()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read_blocks(lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        (**self).write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for alloc::boxed::Box<T> {
    fn block_size(&self) -> usize {
        (**self).block_size()
    }
    fn block_count(&self) -> u64 {
        (**self).block_count()
    }
    fn is_read_only(&self) -> bool {
        (**self).is_read_only()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read_blocks(lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        (**self).write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

/// A disk in RAM, for tests and for images handed over in memory.
#[derive(Clone, Debug)]
pub struct RamDisk {
    block_size: usize,
    data: Vec<u8>,
    read_only: bool,
    /// Blocks still written before the disk "loses power" (every later write fails
    /// with [`BlockError::NotPresent`]); `None` = unlimited. Lets tests cut the power
    /// between any two block writes, also inside one multi-block request.
    writes_left: Option<usize>,
}

impl RamDisk {
    /// A zeroed disk of `blocks` blocks.
    pub fn new(block_size: usize, blocks: usize) -> Self {
        RamDisk { block_size, data: vec![0; block_size * blocks], read_only: false, writes_left: None }
    }

    /// A disk holding `image` (its length rounded down to whole blocks).
    pub fn from_image(block_size: usize, mut image: Vec<u8>) -> Self {
        image.truncate(image.len() / block_size * block_size);
        RamDisk { block_size, data: image, read_only: false, writes_left: None }
    }

    /// Makes the disk refuse writes.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// Lets `blocks` more blocks be written, then fails every later write (a power
    /// cut); a request that reaches past the cut writes its first blocks only.
    pub fn cut_power_after(&mut self, blocks: usize) {
        self.writes_left = Some(blocks);
    }

    /// The disk's bytes.
    pub fn image(&self) -> &[u8] {
        &self.data
    }
}

impl BlockDevice for RamDisk {
    fn block_size(&self) -> usize {
        self.block_size
    }
    fn block_count(&self) -> u64 {
        (self.data.len() / self.block_size) as u64
    }
    fn is_read_only(&self) -> bool {
        self.read_only
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size, self.block_count())?;
        let start = lba as usize * self.block_size;
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        Ok(())
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        check_range(lba, buf.len(), self.block_size, self.block_count())?;
        let start = lba as usize * self.block_size;
        if let Some(left) = self.writes_left.as_mut() {
            // A request of several blocks is cut between two of them, as a disk
            // losing power in the middle of one transfer would leave it.
            let blocks = buf.len() / self.block_size;
            if blocks > *left {
                let written = *left * self.block_size;
                self.data[start..start + written].copy_from_slice(&buf[..written]);
                *left = 0;
                return Err(BlockError::NotPresent);
            }
            *left -= blocks;
        }
        self.data[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_disk_reads_back_what_was_written() {
        let mut disk = RamDisk::new(512, 8);
        let data = [7u8; 1024];
        disk.write_blocks(3, &data).unwrap();
        let mut back = [0u8; 1024];
        disk.read_blocks(3, &mut back).unwrap();
        assert_eq!(back, data);
        let mut first = [1u8; 512];
        disk.read_blocks(0, &mut first).unwrap();
        assert_eq!(first, [0u8; 512]);
    }

    #[test]
    fn ranges_and_lengths_are_checked() {
        let mut disk = RamDisk::new(512, 8);
        let mut buf = [0u8; 1024];
        assert!(matches!(disk.read_blocks(7, &mut buf), Err(BlockError::OutOfRange { .. })));
        assert!(matches!(disk.read_blocks(u64::MAX, &mut buf), Err(BlockError::OutOfRange { .. })));
        assert!(matches!(disk.read_blocks(0, &mut buf[..100]), Err(BlockError::BadLength { .. })));
    }

    #[test]
    fn read_only_and_power_cut() {
        let mut disk = RamDisk::new(512, 4);
        disk.cut_power_after(2);
        disk.write_blocks(0, &[1; 512]).unwrap();
        // The cut lands inside this two-block request: its first block is written.
        assert_eq!(disk.write_blocks(1, &[2; 1024]), Err(BlockError::NotPresent));
        assert_eq!(&disk.image()[512..1536], [[2u8; 512], [0u8; 512]].concat());
        disk.set_read_only(true);
        assert_eq!(disk.write_blocks(0, &[1; 512]), Err(BlockError::ReadOnly));
    }
}
