//! AHCI (SATA) disks, polled. QEMU's q35 puts `-drive` here, as most PCs do.
//!
//! Written here because the crates measured did not fit: `ahci` is not on
//! crates.io; `simple-ahci` 0.1.1-preview.1 waits a full second for the link of
//! every empty port (q35 has six ports: seconds of boot time), keeps only the last
//! disk it finds, overwrites the PI/CAP registers and sends no cache flush.
//! This driver waits only on ports whose link is already up, uses one command slot
//! and a bounce buffer, and polls for completion (a save is a few short commands,
//! and polling needs no interrupt routing).

use super::dma::{DmaBuffer, Mmio, wait};
use alloc::string::String;
use alloc::vec::Vec;
use storage::{BlockDevice, BlockError, check_range};

const GHC: u64 = 0x04;
const GHC_AE: u32 = 1 << 31;
const PI: u64 = 0x0c;
const PORT_BASE: u64 = 0x100;
const PORT_LEN: u64 = 0x80;
// Port registers (offsets inside a port's window).
const CLB: u64 = 0x00;
const FB: u64 = 0x08;
const IS: u64 = 0x10;
const CMD: u64 = 0x18;
const TFD: u64 = 0x20;
const SIG: u64 = 0x24;
const SSTS: u64 = 0x28;
const SERR: u64 = 0x30;
const CI: u64 = 0x38;
const CMD_ST: u32 = 1 << 0;
const CMD_FRE: u32 = 1 << 4;
const CMD_FR: u32 = 1 << 14;
const CMD_CR: u32 = 1 << 15;
const TFD_ERR: u32 = 1 << 0;
const TFD_BUSY: u32 = (1 << 7) | (1 << 3);
const IS_TFES: u32 = 1 << 30;
const SIG_ATA: u32 = 0x0000_0101;
// ATA commands.
const IDENTIFY: u8 = 0xec;
const READ_DMA_EXT: u8 = 0x25;
const WRITE_DMA_EXT: u8 = 0x35;
const FLUSH_CACHE_EXT: u8 = 0xea;
/// Bytes moved per command (through the bounce buffer).
const BOUNCE: usize = 128 * 1024;
/// Command table: 128 bytes of FIS area, then one 16-byte PRD entry.
const TABLE_LEN: usize = 0x80 + 16;
const COMMAND_TIMEOUT_MS: u64 = 5000;

/// One SATA disk on an AHCI controller.
pub struct AhciDisk {
    mmio: Mmio,
    port: u64,
    /// Command list (32 headers; only slot 0 is used), received-FIS area, command table.
    list: DmaBuffer,
    fis: DmaBuffer,
    table: DmaBuffer,
    bounce: DmaBuffer,
    blocks: u64,
    /// Model name from IDENTIFY, for the log.
    pub model: String,
}

impl AhciDisk {
    /// Opens every ATA disk of the controller whose registers (ABAR, BAR 5) are at `abar`.
    ///
    /// # Safety
    /// `abar` must be an AHCI controller's BAR 5, identity-mapped, with memory
    /// decoding and bus mastering enabled, and driven by nothing else.
    pub unsafe fn probe(abar: u64) -> Vec<AhciDisk> {
        // SAFETY: forwarded from the caller; 0x100 + 32 ports of 0x80 bytes.
        let mmio = unsafe { Mmio::new(abar, PORT_BASE + 32 * PORT_LEN) };
        mmio.write32(GHC, mmio.read32(GHC) | GHC_AE);
        let implemented = mmio.read32(PI);
        let mut disks = Vec::new();
        for port in 0..32u64 {
            if implemented & (1 << port) == 0 {
                continue;
            }
            let base = PORT_BASE + port * PORT_LEN;
            // Only ports with an established link to an ATA device (not ATAPI).
            if mmio.read32(base + SSTS) & 0xf != 3 || mmio.read32(base + SIG) != SIG_ATA {
                continue;
            }
            match AhciDisk::start(mmio, base) {
                Ok(disk) => disks.push(disk),
                Err(e) => log::warn!("ahci: port {port}: {e}"),
            }
        }
        disks
    }

    fn start(mmio: Mmio, port: u64) -> Result<AhciDisk, BlockError> {
        // Stop the port (the firmware left it running with its own buffers).
        mmio.write32(port + CMD, mmio.read32(port + CMD) & !CMD_ST);
        if !wait(500, || mmio.read32(port + CMD) & CMD_CR == 0) {
            return Err(BlockError::Timeout);
        }
        mmio.write32(port + CMD, mmio.read32(port + CMD) & !CMD_FRE);
        if !wait(500, || mmio.read32(port + CMD) & CMD_FR == 0) {
            return Err(BlockError::Timeout);
        }
        let mut disk = AhciDisk {
            mmio,
            port,
            list: DmaBuffer::new(1024),
            fis: DmaBuffer::new(256),
            table: DmaBuffer::new(TABLE_LEN),
            bounce: DmaBuffer::new(BOUNCE),
            blocks: 0,
            model: String::new(),
        };
        mmio.write64(port + CLB, disk.list.addr(0));
        mmio.write64(port + FB, disk.fis.addr(0));
        mmio.write32(port + SERR, u32::MAX);
        mmio.write32(port + IS, u32::MAX);
        mmio.write32(port + CMD, mmio.read32(port + CMD) | CMD_FRE);
        if !wait(1000, || mmio.read32(port + TFD) & TFD_BUSY == 0) {
            return Err(BlockError::Timeout);
        }
        mmio.write32(port + CMD, mmio.read32(port + CMD) | CMD_ST);

        disk.command(IDENTIFY, 0, 0, 512, false)?;
        let id = &disk.bounce.bytes()[..512];
        let word = |i: usize| u64::from(u16::from_le_bytes([id[2 * i], id[2 * i + 1]]));
        if word(83) & (1 << 10) == 0 {
            return Err(BlockError::Device(String::from("the disk does not support 48-bit addressing")));
        }
        if word(106) & 0xd000 == 0x5000 && word(106) & (1 << 12) != 0 {
            return Err(BlockError::Device(String::from(
                "disks with logical sectors other than 512 bytes are not supported",
            )));
        }
        disk.blocks = word(100) | word(101) << 16 | word(102) << 32 | word(103) << 48;
        // The model string is stored with the bytes of each word swapped.
        disk.model = (27..47)
            .flat_map(|i| [(word(i) >> 8) as u8, word(i) as u8])
            .map(char::from)
            .collect::<String>()
            .trim()
            .into();
        Ok(disk)
    }

    /// Runs one ATA command in slot 0 moving `bytes` through the bounce buffer.
    fn command(&mut self, command: u8, lba: u64, count: u16, bytes: usize, write: bool) -> Result<(), BlockError> {
        let (mmio, port) = (self.mmio, self.port);
        // Command FIS: register host-to-device, command bit set.
        let fis = [
            0x27u8,
            0x80,
            command,
            0,
            lba as u8,
            (lba >> 8) as u8,
            (lba >> 16) as u8,
            0x40, // LBA mode
            (lba >> 24) as u8,
            (lba >> 32) as u8,
            (lba >> 40) as u8,
            0,
            count as u8,
            (count >> 8) as u8,
            0,
            0,
        ];
        for (i, chunk) in fis.chunks_exact(4).enumerate() {
            self.table.write_u32(i * 4, u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        }
        // One PRD entry covering the bounce buffer (byte count minus one).
        let prd = 0x80;
        self.table.write_u32(prd, self.bounce.addr(0) as u32);
        self.table.write_u32(prd + 4, (self.bounce.addr(0) >> 32) as u32);
        self.table.write_u32(prd + 12, (bytes.max(2) as u32 - 1) & 0x3f_ffff);
        // Header 0: FIS length 5 dwords, write flag, one PRD entry.
        let flags = 5 | if write { 1 << 6 } else { 0 } | if bytes > 0 { 1 << 16 } else { 0 };
        self.list.write_u32(0, flags);
        self.list.write_u32(4, 0);
        self.list.write_u32(8, self.table.addr(0) as u32);
        self.list.write_u32(12, (self.table.addr(0) >> 32) as u32);
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        mmio.write32(port + IS, u32::MAX);
        mmio.write32(port + CI, 1);
        let finished =
            wait(COMMAND_TIMEOUT_MS, || mmio.read32(port + CI) & 1 == 0 || mmio.read32(port + IS) & IS_TFES != 0);
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        if !finished {
            return Err(BlockError::Timeout);
        }
        if mmio.read32(port + IS) & IS_TFES != 0 || mmio.read32(port + TFD) & TFD_ERR != 0 {
            let tfd = mmio.read32(port + TFD);
            self.recover();
            return Err(BlockError::Device(alloc::format!(
                "the SATA disk reported error {:#04x} (status {:#04x}) for command {command:#04x}",
                (tfd >> 8) & 0xff,
                tfd & 0xff
            )));
        }
        Ok(())
    }

    /// Restarts the port after a task-file error, as AHCI requires.
    fn recover(&mut self) {
        let (mmio, port) = (self.mmio, self.port);
        mmio.write32(port + CMD, mmio.read32(port + CMD) & !CMD_ST);
        wait(500, || mmio.read32(port + CMD) & CMD_CR == 0);
        mmio.write32(port + SERR, u32::MAX);
        mmio.write32(port + IS, u32::MAX);
        mmio.write32(port + CMD, mmio.read32(port + CMD) | CMD_ST);
    }
}

impl BlockDevice for AhciDisk {
    fn block_size(&self) -> usize {
        512
    }
    fn block_count(&self) -> u64 {
        self.blocks
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), 512, self.blocks)?;
        for (i, chunk) in buf.chunks_mut(BOUNCE).enumerate() {
            let at = lba + (i * BOUNCE / 512) as u64;
            self.command(READ_DMA_EXT, at, (chunk.len() / 512) as u16, chunk.len(), false)?;
            chunk.copy_from_slice(&self.bounce.bytes()[..chunk.len()]);
        }
        Ok(())
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), 512, self.blocks)?;
        for (i, chunk) in buf.chunks(BOUNCE).enumerate() {
            let at = lba + (i * BOUNCE / 512) as u64;
            self.bounce.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
            self.command(WRITE_DMA_EXT, at, (chunk.len() / 512) as u16, chunk.len(), true)?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.command(FLUSH_CACHE_EXT, 0, 0, 0, false)
    }
}
