//! A USB stick (bulk-only transport, SCSI) as a `storage::BlockDevice`.
//!
//! Each block request runs to completion before it returns, through the
//! `usb::bot` transaction state machine (command, data, status, and the
//! spec's stall and reset recovery). Requests are split into commands of at
//! most [`CHUNK`] bytes.

use super::Shared;
use super::controller::Controller;
use super::dma::DmaBuffer;
use super::function::{Function, normal};
use alloc::format;
use alloc::string::String;
use core::time::Duration;
use storage::{BlockDevice, BlockError, check_range};
use usb::UsbError;
use usb::bot::{BotStep, Pipe, Transaction};
use usb::request::SetupPacket;
use usb::scsi::{Capacity, Command, Inquiry, Sense};

/// Largest data stage of one command.
const CHUNK: usize = 32 * 1024;
/// How long one bulk transfer may take.
const BULK_TIMEOUT: Duration = Duration::from_millis(5000);

/// A USB mass storage device.
pub struct UsbDisk {
    controller: Shared,
    slot: u8,
    tag: u32,
    data: DmaBuffer,
    wrapper: DmaBuffer,
    block_size: usize,
    blocks: u64,
    read_only: bool,
    /// "QEMU QEMU HARDDISK", for log lines.
    pub name: String,
}

impl core::fmt::Debug for UsbDisk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UsbDisk").field("name", &self.name).field("blocks", &self.blocks).finish_non_exhaustive()
    }
}

impl Controller {
    fn storage(&self, slot: u8) -> Option<&super::function::Storage> {
        match self.devices.get(&slot)?.function.as_ref()? {
            Function::Storage(s) if !s.gone => Some(s),
            _ => None,
        }
    }

    /// One bulk transfer of `length` bytes at `address`: the bytes moved.
    fn bulk(&mut self, slot: u8, dci: u8, address: u64, length: u32) -> Result<u32, UsbError> {
        let residue = self.run_transfer(slot, dci, &[normal(address, length)], length, BULK_TIMEOUT)?;
        Ok(length - residue)
    }
}

impl UsbDisk {
    /// Opens the stick in `slot`: INQUIRY, waits for it to be ready, reads its capacity.
    pub fn open(controller: Shared, slot: u8) -> Result<UsbDisk, String> {
        let mut disk = UsbDisk {
            controller,
            slot,
            tag: 0,
            data: DmaBuffer::for_transfer(CHUNK),
            wrapper: DmaBuffer::for_transfer(512),
            block_size: 512,
            blocks: 0,
            read_only: false,
            name: String::new(),
        };
        disk.execute(Command::inquiry()).map_err(|e| format!("INQUIRY failed: {e}"))?;
        let mut answer = [0u8; 36];
        disk.data.read(0, &mut answer);
        let inquiry = Inquiry::parse(&answer).map_err(|e| format!("{e}"))?;
        disk.name = format!("{} {}", inquiry.vendor, inquiry.product);
        if !inquiry.is_disk() {
            return Err(format!("{} is SCSI device type {}, not a disk", disk.name, inquiry.device_type));
        }
        let mut ready = false;
        for _ in 0..5 {
            match disk.execute(Command::test_unit_ready()) {
                Ok(_) => {
                    ready = true;
                    break;
                }
                Err(_) => {
                    let sense = disk.sense();
                    if !sense.is_some_and(|s| s.is_transient()) {
                        return Err(format!(
                            "{} is not ready: {}",
                            disk.name,
                            sense.map_or("no reason given", |s| s.describe())
                        ));
                    }
                    crate::time::sleep(Duration::from_millis(100));
                }
            }
        }
        if !ready {
            return Err(format!("{} did not become ready", disk.name));
        }
        disk.execute(Command::read_capacity_10()).map_err(|e| format!("READ CAPACITY failed: {e}"))?;
        let mut answer = [0u8; 8];
        disk.data.read(0, &mut answer);
        let capacity = match Capacity::parse_10(&answer).map_err(|e| format!("{e}"))? {
            Some(capacity) => capacity,
            None => {
                disk.execute(Command::read_capacity_16()).map_err(|e| format!("READ CAPACITY (16) failed: {e}"))?;
                let mut answer = [0u8; 32];
                disk.data.read(0, &mut answer);
                Capacity::parse_16(&answer).map_err(|e| format!("{e}"))?
            }
        };
        disk.block_size = capacity.block_size as usize;
        disk.blocks = capacity.blocks;
        Ok(disk)
    }

    /// REQUEST SENSE: why the last command failed, if the device says.
    fn sense(&mut self) -> Option<Sense> {
        self.execute(Command::request_sense()).ok()?;
        let mut answer = [0u8; 18];
        self.data.read(0, &mut answer);
        Sense::parse(&answer).ok()
    }

    /// Runs one command; OUT data must already be in `self.data`. Returns the
    /// data bytes moved.
    fn execute(&mut self, command: Command) -> Result<u32, UsbError> {
        let mut controller = self.controller.lock();
        let slot = self.slot;
        let Some(storage) = controller.storage(slot) else { return Err(UsbError::Transfer("the device is gone")) };
        let (interface, bulk_in, bulk_out) = (storage.interface, storage.bulk_in, storage.bulk_out);
        let (in_dci, out_dci) = (bulk_in.context_index(), bulk_out.context_index());
        if command.transfer_length as usize > self.data.len() {
            return Err(UsbError::Command("a command larger than the driver's buffer"));
        }
        self.tag = self.tag.wrapping_add(1);
        let mut transaction = Transaction::new(self.tag, command);
        let mut step = transaction.start(0);
        loop {
            step = match step {
                BotStep::SendCommand(cbw) => {
                    self.wrapper.write(0, &cbw);
                    let result = controller.bulk(slot, out_dci, self.wrapper.phys(), cbw.len() as u32);
                    transaction.on_transfer(result)
                }
                BotStep::DataIn(length) => {
                    let result = controller.bulk(slot, in_dci, self.data.phys(), length);
                    transaction.on_transfer(result)
                }
                BotStep::DataOut(length) => {
                    let result = controller.bulk(slot, out_dci, self.data.phys(), length);
                    transaction.on_transfer(result)
                }
                BotStep::ReceiveStatus => {
                    let result = controller.bulk(slot, in_dci, self.wrapper.phys(), usb::bot::CSW_LEN as u32);
                    let mut status = [0u8; usb::bot::CSW_LEN];
                    let got = result.map(|n| {
                        let n = (n as usize).min(status.len());
                        self.wrapper.read(0, &mut status[..n]);
                        n
                    });
                    transaction.on_status(got.map(|n| &status[..n]))
                }
                BotStep::ClearHalt(pipe) => {
                    let endpoint = if pipe == Pipe::In { bulk_in.address } else { bulk_out.address };
                    let result = controller.control(slot, SetupPacket::clear_halt(endpoint), None);
                    transaction.on_transfer(result.map(|_| 0))
                }
                BotStep::ResetRecovery => {
                    let _ = controller.control(slot, SetupPacket::bot_reset(interface), None);
                    for (dci, endpoint) in [(in_dci, bulk_in.address), (out_dci, bulk_out.address)] {
                        controller.recover_endpoint(slot, dci);
                        let _ = controller.control(slot, SetupPacket::clear_halt(endpoint), None);
                    }
                    transaction.on_transfer(Ok(0))
                }
                BotStep::Done(result) => return result,
            };
        }
    }

    /// Turns a failed command into a block error, asking the device why.
    fn failure(&mut self, error: UsbError) -> BlockError {
        if self.controller.lock().storage(self.slot).is_none() {
            return BlockError::NotPresent;
        }
        match error {
            UsbError::Transfer("the device did not answer in time") => BlockError::Timeout,
            UsbError::Command(_) => match self.sense() {
                Some(sense) if sense.is_write_protected() => {
                    self.read_only = true;
                    BlockError::ReadOnly
                }
                Some(sense) => BlockError::Device(String::from(sense.describe())),
                None => BlockError::Device(format!("{error}")),
            },
            other => BlockError::Device(format!("{other}")),
        }
    }

    fn blocks_per_chunk(&self) -> usize {
        (CHUNK / self.block_size).max(1)
    }
}

impl BlockDevice for UsbDisk {
    fn block_size(&self) -> usize {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size, self.blocks)?;
        let chunk = self.blocks_per_chunk() * self.block_size;
        for (i, part) in buf.chunks_mut(chunk).enumerate() {
            let at = lba + (i * self.blocks_per_chunk()) as u64;
            let count = (part.len() / self.block_size) as u16;
            let command = Command::read_10(at, count, self.block_size as u32).ok_or(BlockError::OutOfRange {
                lba: at,
                count: u64::from(count),
                blocks: self.blocks,
            })?;
            match self.execute(command) {
                Ok(moved) if moved as usize == part.len() => self.data.read(0, part),
                Ok(moved) => return Err(BlockError::Device(format!("read {moved} of {} bytes", part.len()))),
                Err(e) => return Err(self.failure(e)),
            }
        }
        Ok(())
    }

    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        check_range(lba, buf.len(), self.block_size, self.blocks)?;
        let chunk = self.blocks_per_chunk() * self.block_size;
        for (i, part) in buf.chunks(chunk).enumerate() {
            let at = lba + (i * self.blocks_per_chunk()) as u64;
            let count = (part.len() / self.block_size) as u16;
            let command = Command::write_10(at, count, self.block_size as u32).ok_or(BlockError::OutOfRange {
                lba: at,
                count: u64::from(count),
                blocks: self.blocks,
            })?;
            self.data.write(0, part);
            match self.execute(command) {
                Ok(moved) if moved as usize == part.len() => {}
                Ok(moved) => return Err(BlockError::Device(format!("wrote {moved} of {} bytes", part.len()))),
                Err(e) => return Err(self.failure(e)),
            }
        }
        Ok(())
    }
}

/// The boot option `test-usb-disk`: writes a pattern to the last 8 blocks of
/// the stick, reads it back and says on serial whether it matched. The
/// pattern stays on the stick so the test on the host can check it too.
pub fn self_test(disk: &mut UsbDisk) {
    let blocks = 8u64.min(disk.block_count());
    let Some(lba) = disk.block_count().checked_sub(blocks) else { return };
    let len = blocks as usize * disk.block_size();
    let pattern: alloc::vec::Vec<u8> =
        (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(7) as u8 ^ 0x5a).collect();
    let started = crate::time::now();
    if let Err(e) = disk.write_blocks(lba, &pattern) {
        log::error!("usb-storage: test: writing blocks {lba}..{} failed: {e}", lba + blocks);
        return;
    }
    let mut back = alloc::vec![0u8; len];
    if let Err(e) = disk.read_blocks(lba, &mut back) {
        log::error!("usb-storage: test: reading blocks {lba}..{} back failed: {e}", lba + blocks);
        return;
    }
    let took = crate::time::now().saturating_duration_since(started).as_millis();
    if back == pattern {
        log::info!("usb-storage: test: wrote {len} bytes at block {lba} and read them back intact ({took} ms)");
    } else {
        let first = back.iter().zip(&pattern).position(|(a, b)| a != b).unwrap_or(0);
        log::error!("usb-storage: test: read-back differs from what was written at byte {first}");
    }
}
