//! GPT partitions, read with Google's `gpt_disk_io`, and a [`BlockDevice`] view of one
//! partition.

use crate::block::{BlockDevice, BlockError, check_range};
use crate::error::StorageError;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use gpt_disk_io::gpt_disk_types::{BlockSize, GptHeader, GptPartitionType, Lba};
use gpt_disk_io::{BlockIo, Disk};

pub use gpt_disk_io::gpt_disk_types::Guid;

/// The EFI system partition's type GUID (C12A7328-F81F-11D2-BA4B-00A0C93EC93B).
pub const EFI_SYSTEM_PARTITION: Guid = GptPartitionType::EFI_SYSTEM.0;

/// Partitions beyond this are ignored (a hostile GPT may claim millions).
const MAX_ENTRIES: u32 = 1024;

/// One used GPT partition entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Its index in the entry array (0-based; UEFI device paths count from 1).
    pub index: u32,
    /// What kind of partition it is ([`EFI_SYSTEM_PARTITION`] for the ESP).
    pub type_guid: Guid,
    /// Its unique GUID, which UEFI puts in the boot image's device path.
    pub unique_guid: Guid,
    /// First block.
    pub first_lba: u64,
    /// Last block (inclusive).
    pub last_lba: u64,
    /// Its label.
    pub name: String,
}

impl PartitionInfo {
    /// Whether this is an EFI system partition.
    pub fn is_esp(&self) -> bool {
        self.type_guid == EFI_SYSTEM_PARTITION
    }

    /// Blocks in the partition.
    pub fn blocks(&self) -> u64 {
        self.last_lba - self.first_lba + 1
    }
}

/// `gpt_disk_io`'s view of one of our disks.
struct Io<'a, D: BlockDevice>(&'a mut D);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A [`BlockError`] that satisfies `gpt_disk_io`'s error bounds.
#[derive(Debug)]
struct Wrapped(BlockError);

impl<D: BlockDevice> BlockIo for Io<'_, D> {
    type Error = Wrapped;

    fn block_size(&self) -> BlockSize {
        BlockSize::from_usize(self.0.block_size()).unwrap_or(BlockSize::BS_512)
    }
    fn num_blocks(&mut self) -> Result<u64, Wrapped> {
        Ok(self.0.block_count())
    }
    fn read_blocks(&mut self, start_lba: Lba, dst: &mut [u8]) -> Result<(), Wrapped> {
        self.0.read_blocks(start_lba.to_u64(), dst).map_err(Wrapped)
    }
    fn write_blocks(&mut self, start_lba: Lba, src: &[u8]) -> Result<(), Wrapped> {
        self.0.write_blocks(start_lba.to_u64(), src).map_err(Wrapped)
    }
    fn flush(&mut self) -> Result<(), Wrapped> {
        self.0.flush().map_err(Wrapped)
    }
}

fn disk_error(e: gpt_disk_io::DiskError<Wrapped>) -> StorageError {
    match e {
        gpt_disk_io::DiskError::Io(Wrapped(block)) => StorageError::from(block),
        other => StorageError::NoPartitionTable(format!("{other}")),
    }
}

fn header_ok(header: &GptHeader, at: u64) -> bool {
    header.is_signature_valid()
        && header.my_lba.to_u64() == at
        && header.header_crc32 == header.calculate_header_crc32()
}

/// Reads the GPT of `disk` (the primary header, or the backup when the primary is
/// damaged) and returns its used partitions.
pub fn read_partitions<D: BlockDevice>(disk: &mut D) -> Result<Vec<PartitionInfo>, StorageError> {
    let block_size = disk.block_size();
    let blocks = disk.block_count();
    if block_size < 512 || blocks < 3 {
        return Err(StorageError::NoPartitionTable(format!("{blocks} blocks of {block_size} bytes is too small")));
    }
    let mut gpt = Disk::new(Io(disk)).map_err(disk_error)?;
    let mut buf = vec![0u8; block_size];
    let primary = gpt.read_primary_gpt_header(&mut buf).map_err(disk_error)?;
    let header = if header_ok(&primary, 1) {
        primary
    } else {
        let backup = gpt.read_secondary_gpt_header(&mut buf).map_err(disk_error)?;
        if !header_ok(&backup, blocks - 1) {
            return Err(StorageError::NoPartitionTable(String::from(
                "neither the primary nor the backup GPT header is valid",
            )));
        }
        backup
    };
    let mut layout = header
        .get_partition_entry_array_layout()
        .map_err(|_| StorageError::NoPartitionTable(String::from("the partition entry size is invalid")))?;
    layout.num_entries = layout.num_entries.min(MAX_ENTRIES);
    let entries = gpt.gpt_partition_entry_array_iter(layout, &mut buf).map_err(disk_error)?;
    let mut found = Vec::new();
    for (index, entry) in entries.enumerate() {
        let entry = entry.map_err(disk_error)?;
        if !entry.is_used() {
            continue;
        }
        let (first, last) = (entry.starting_lba.to_u64(), entry.ending_lba.to_u64());
        if first > last || last >= blocks {
            continue; // A range outside the disk is ignored rather than trusted.
        }
        found.push(PartitionInfo {
            index: index as u32,
            type_guid: entry.partition_type_guid.0,
            unique_guid: entry.unique_partition_guid,
            first_lba: first,
            last_lba: last,
            name: entry.name.chars().take_while(|c| *c != '\0').collect(),
        });
    }
    Ok(found)
}

/// One partition of a disk, as a disk of its own.
#[derive(Debug)]
pub struct Partition<D: BlockDevice> {
    disk: D,
    first: u64,
    blocks: u64,
}

impl<D: BlockDevice> Partition<D> {
    /// The blocks of `info` on `disk`.
    pub fn new(disk: D, info: &PartitionInfo) -> Self {
        Partition { disk, first: info.first_lba, blocks: info.blocks() }
    }

    /// The whole disk underneath.
    pub fn disk(&self) -> &D {
        &self.disk
    }
}

impl<D: BlockDevice> BlockDevice for Partition<D> {
    fn block_size(&self) -> usize {
        self.disk.block_size()
    }
    fn block_count(&self) -> u64 {
        self.blocks
    }
    fn is_read_only(&self) -> bool {
        self.disk.is_read_only()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size(), self.blocks)?;
        self.disk.read_blocks(self.first + lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size(), self.blocks)?;
        self.disk.write_blocks(self.first + lba, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.disk.flush()
    }
}
