//! Disk images made in the tests: a GPT with one ESP, formatted by the FAT crate.

#![allow(dead_code)]

use gpt_disk_io::gpt_disk_types::{
    BlockSize, GptHeader, GptPartitionEntry, GptPartitionEntryArray, GptPartitionType, Guid, LbaLe, U32Le, guid,
};
use gpt_disk_io::{BlockIoAdapter, Disk};
use storage::{BlockDevice, BlockError, RamDisk, Volume};

/// The ESP's unique GUID in the test images.
pub const ESP_GUID: Guid = guid!("11111111-2222-3333-4444-555555555555");
/// The ESP starts here (1 MiB, as real images do).
pub const ESP_START: u64 = 2048;

/// A `blocks`-block disk with a GPT whose only partition is an ESP filling it.
pub fn gpt_disk(blocks: u64) -> RamDisk {
    let mut bytes = vec![0u8; blocks as usize * 512];
    {
        let io = BlockIoAdapter::new(bytes.as_mut_slice(), BlockSize::BS_512);
        let mut disk = Disk::new(io).unwrap();
        let mut block = vec![0u8; 512];
        disk.write_protective_mbr(&mut block).unwrap();
        let entries_lba = 2u64;
        let mut header = GptHeader {
            my_lba: LbaLe::from_u64(1),
            alternate_lba: LbaLe::from_u64(blocks - 1),
            first_usable_lba: LbaLe::from_u64(34),
            last_usable_lba: LbaLe::from_u64(blocks - 34),
            disk_guid: guid!("57a7feb6-8cd5-4922-b7bd-c78b0914e870"),
            partition_entry_lba: LbaLe::from_u64(entries_lba),
            number_of_partition_entries: U32Le::from_u32(128),
            ..Default::default()
        };
        let layout = header.get_partition_entry_array_layout().unwrap();
        let mut storage = vec![0u8; layout.num_bytes_rounded_to_block_as_usize(BlockSize::BS_512).unwrap()];
        let mut array = GptPartitionEntryArray::new(layout, BlockSize::BS_512, &mut storage).unwrap();
        *array.get_partition_entry_mut(0).unwrap() = GptPartitionEntry {
            partition_type_guid: GptPartitionType::EFI_SYSTEM,
            unique_partition_guid: ESP_GUID,
            starting_lba: LbaLe::from_u64(ESP_START),
            ending_lba: LbaLe::from_u64(blocks - 34),
            ..Default::default()
        };
        header.partition_entry_array_crc32 = array.calculate_crc32();
        header.update_header_crc32();
        disk.write_gpt_partition_entry_array(&array).unwrap();
        disk.write_primary_gpt_header(&header, &mut block).unwrap();
        let mut backup = header;
        backup.my_lba = LbaLe::from_u64(blocks - 1);
        backup.alternate_lba = LbaLe::from_u64(1);
        backup.partition_entry_lba = LbaLe::from_u64(blocks - 33);
        backup.update_header_crc32();
        disk.write_secondary_gpt_header(&backup, &mut block).unwrap();
        array.set_start_lba(gpt_disk_io::gpt_disk_types::Lba(blocks - 33));
        disk.write_gpt_partition_entry_array(&array).unwrap();
    }
    RamDisk::from_image(512, bytes)
}

/// A bare FAT volume of `blocks` 512-byte blocks (no partition table).
pub fn fat_volume(blocks: usize) -> RamDisk {
    Volume::format(RamDisk::new(512, blocks), "MOTEOS").unwrap().into_device()
}

/// Counts block writes, to cut the power at each of them in turn.
#[derive(Debug)]
pub struct Counting<D> {
    pub inner: D,
    /// Blocks written.
    pub writes: usize,
    /// Write requests (a merged run of blocks is one).
    pub requests: usize,
}

impl<D> Counting<D> {
    pub fn new(inner: D) -> Self {
        Counting { inner, writes: 0, requests: 0 }
    }
}

impl<D: BlockDevice> BlockDevice for Counting<D> {
    fn block_size(&self) -> usize {
        self.inner.block_size()
    }
    fn block_count(&self) -> u64 {
        self.inner.block_count()
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.inner.read_blocks(lba, buf)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.writes += buf.len() / self.inner.block_size();
        self.requests += 1;
        self.inner.write_blocks(lba, buf)
    }
}
