//! virtio-blk through `virtio-drivers` (QEMU's AArch64 `virt` boots from it).
//! Requests are polled: a settings save is a handful of short requests, and the
//! polling wait is shorter than an interrupt round trip under emulation.

use super::virtio_hal::VirtioHal;
use storage::{BlockDevice, BlockError, check_range};
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::pci::PciTransport;

/// A virtio block device.
pub struct VirtioBlock {
    device: VirtIOBlk<VirtioHal, PciTransport>,
    blocks: u64,
    read_only: bool,
}

// SAFETY: the driver owns its queue and MMIO pointers exclusively; only the main
// loop's storage service touches the disk.
unsafe impl Send for VirtioBlock {}

impl VirtioBlock {
    /// Starts the device behind `transport`.
    pub fn new(transport: PciTransport) -> Result<Self, virtio_drivers::Error> {
        let device = VirtIOBlk::new(transport)?;
        let blocks = device.capacity();
        let read_only = device.readonly();
        Ok(VirtioBlock { device, blocks, read_only })
    }
}

fn device_error(e: virtio_drivers::Error) -> BlockError {
    match e {
        virtio_drivers::Error::IoError => BlockError::Device(alloc::string::String::from("virtio-blk I/O error")),
        other => BlockError::Device(alloc::format!("virtio-blk: {other:?}")),
    }
}

impl BlockDevice for VirtioBlock {
    fn block_size(&self) -> usize {
        SECTOR_SIZE
    }
    fn block_count(&self) -> u64 {
        self.blocks
    }
    fn is_read_only(&self) -> bool {
        self.read_only
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), SECTOR_SIZE, self.blocks)?;
        if buf.is_empty() {
            return Ok(());
        }
        self.device.read_blocks(lba as usize, buf).map_err(device_error)
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        check_range(lba, buf.len(), SECTOR_SIZE, self.blocks)?;
        if buf.is_empty() {
            return Ok(());
        }
        self.device.write_blocks(lba as usize, buf).map_err(device_error)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        match self.device.flush() {
            // Without VIRTIO_BLK_F_FLUSH the device has no write cache to flush.
            Err(virtio_drivers::Error::Unsupported) => Ok(()),
            other => other.map_err(device_error),
        }
    }
}
