//! NVMe disks, polled: one admin queue pair and one I/O queue pair.
//!
//! Written here because no crate measured fits: `nvme` is not on crates.io (no
//! version resolves), and `nvme-driver` 0.8 is built on rCore's driver framework
//! (`dma-api`, `mmio-api`, `rdif-block`) that the kernel would have to host. This
//! driver waits on completion-queue phase bits instead of interrupts (a save is a
//! few short commands).

use super::dma::{DmaBuffer, Mmio, wait};
use alloc::string::String;
use storage::{BlockDevice, BlockError, check_range};

const CAP: u64 = 0x00;
const CC: u64 = 0x14;
const CSTS: u64 = 0x1c;
const AQA: u64 = 0x24;
const ASQ: u64 = 0x28;
const ACQ: u64 = 0x30;
const DOORBELLS: u64 = 0x1000;
const QUEUE_LEN: u16 = 16;
const PAGE: usize = 4096;
/// Bytes per I/O command: the bounce buffer's pages, listed in a PRP list page.
const BOUNCE: usize = 64 * 1024;
const TIMEOUT_MS: u64 = 5000;

struct Queue {
    sq: DmaBuffer,
    cq: DmaBuffer,
    tail: u16,
    head: u16,
    phase: bool,
    id: u16,
}

/// The first namespace of an NVMe controller.
pub struct NvmeDisk {
    mmio: Mmio,
    stride: u64,
    admin: Queue,
    io: Queue,
    bounce: DmaBuffer,
    prp_list: DmaBuffer,
    block_size: usize,
    blocks: u64,
    next_id: u16,
    /// Model name from IDENTIFY, for the log.
    pub model: String,
}

impl Queue {
    fn new(id: u16) -> Queue {
        Queue {
            sq: DmaBuffer::new(64 * QUEUE_LEN as usize),
            cq: DmaBuffer::new(16 * QUEUE_LEN as usize),
            tail: 0,
            head: 0,
            phase: true,
            id,
        }
    }
}

impl NvmeDisk {
    /// Resets the controller whose registers (BAR 0) are at `bar` and opens namespace 1.
    ///
    /// # Safety
    /// `bar` must be an NVMe controller's BAR 0, identity-mapped, with memory
    /// decoding and bus mastering enabled, and driven by nothing else.
    pub unsafe fn new(bar: u64) -> Result<NvmeDisk, BlockError> {
        // SAFETY: forwarded from the caller; registers plus the first doorbells.
        let mmio = unsafe { Mmio::new(bar, DOORBELLS + 0x100) };
        let cap = mmio.read64(CAP);
        let stride = 4u64 << ((cap >> 32) & 0xf);
        let ready_ms = ((cap >> 24) & 0xff).max(1) * 500;
        if u64::from(QUEUE_LEN) > (cap & 0xffff) + 1 {
            return Err(BlockError::Device(String::from("the NVMe queues are too short")));
        }
        // Disable, then program the admin queues and enable.
        mmio.write32(CC, 0);
        if !wait(ready_ms, || mmio.read32(CSTS) & 1 == 0) {
            return Err(BlockError::Timeout);
        }
        let mut disk = NvmeDisk {
            mmio,
            stride,
            admin: Queue::new(0),
            io: Queue::new(1),
            bounce: DmaBuffer::new(BOUNCE),
            prp_list: DmaBuffer::new(PAGE),
            block_size: 512,
            blocks: 0,
            next_id: 0,
            model: String::new(),
        };
        let len = u32::from(QUEUE_LEN - 1);
        mmio.write32(AQA, len << 16 | len);
        mmio.write64(ASQ, disk.admin.sq.addr(0));
        mmio.write64(ACQ, disk.admin.cq.addr(0));
        // 64-byte submissions, 16-byte completions, 4 KiB pages, NVM command set.
        mmio.write32(CC, 6 << 16 | 4 << 20 | 1);
        if !wait(ready_ms, || mmio.read32(CSTS) & 3 != 0) || mmio.read32(CSTS) & 2 != 0 {
            return Err(BlockError::Device(String::from("the NVMe controller did not become ready")));
        }
        // Identify controller (for the model) and namespace 1.
        let page = disk.bounce.addr(0);
        disk.admin_command(0x06, 0, page, [1, 0, 0, 0, 0, 0])?;
        disk.model = String::from_utf8_lossy(&disk.bounce.bytes()[24..64]).trim().into();
        disk.admin_command(0x06, 1, page, [0, 0, 0, 0, 0, 0])?;
        let ns = disk.bounce.bytes();
        disk.blocks = u64::from_le_bytes(ns[0..8].try_into().unwrap_or([0; 8]));
        let format = usize::from(ns[26] & 0xf);
        let shift = ns[128 + 4 * format + 2];
        if !(9..=12).contains(&shift) || disk.blocks == 0 {
            return Err(BlockError::Device(String::from("NVMe namespace 1 is missing or has an unusual block size")));
        }
        disk.block_size = 1 << shift;
        // I/O completion queue 1, then submission queue 1 bound to it.
        let (cq, sq) = (disk.io.cq.addr(0), disk.io.sq.addr(0));
        disk.admin_command(0x05, 0, cq, [len << 16 | 1, 1, 0, 0, 0, 0])?;
        disk.admin_command(0x01, 0, sq, [len << 16 | 1, 1 << 16 | 1, 0, 0, 0, 0])?;
        Ok(disk)
    }

    fn admin_command(&mut self, opcode: u8, nsid: u32, prp1: u64, cdw: [u32; 6]) -> Result<(), BlockError> {
        self.submit(true, opcode, nsid, prp1, 0, cdw)
    }

    /// Puts one command on a queue and waits for its completion.
    fn submit(
        &mut self,
        admin: bool,
        opcode: u8,
        nsid: u32,
        prp1: u64,
        prp2: u64,
        cdw: [u32; 6],
    ) -> Result<(), BlockError> {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let (mmio, stride) = (self.mmio, self.stride);
        let q = if admin { &mut self.admin } else { &mut self.io };
        let at = usize::from(q.tail) * 64;
        let words = [
            u32::from(opcode) | u32::from(id) << 16,
            nsid,
            0,
            0,
            0,
            0,
            prp1 as u32,
            (prp1 >> 32) as u32,
            prp2 as u32,
            (prp2 >> 32) as u32,
            cdw[0],
            cdw[1],
            cdw[2],
            cdw[3],
            cdw[4],
            cdw[5],
        ];
        for (i, w) in words.iter().enumerate() {
            q.sq.write_u32(at + i * 4, *w);
        }
        q.tail = (q.tail + 1) % QUEUE_LEN;
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        mmio.write32(DOORBELLS + 2 * u64::from(q.id) * stride, u32::from(q.tail));
        let entry = usize::from(q.head) * 16;
        let phase = q.phase;
        let cq = &q.cq;
        let done = wait(TIMEOUT_MS, || (cq.read_u32(entry + 12) >> 16 & 1 == 1) == phase);
        if !done {
            return Err(BlockError::Timeout);
        }
        let status = (q.cq.read_u32(entry + 12) >> 17) & 0x7fff;
        q.head = (q.head + 1) % QUEUE_LEN;
        if q.head == 0 {
            q.phase = !q.phase;
        }
        mmio.write32(DOORBELLS + (2 * u64::from(q.id) + 1) * stride, u32::from(q.head));
        if status != 0 {
            return Err(BlockError::Device(alloc::format!(
                "the NVMe disk reported status {status:#x} for command {opcode:#04x}"
            )));
        }
        Ok(())
    }

    /// Reads or writes `bytes` at `lba` through the bounce buffer.
    fn transfer(&mut self, write: bool, lba: u64, bytes: usize) -> Result<(), BlockError> {
        let pages = bytes.div_ceil(PAGE);
        let prp1 = self.bounce.addr(0);
        let prp2 = match pages {
            0 | 1 => 0,
            2 => self.bounce.addr(PAGE),
            _ => {
                for p in 1..pages {
                    let addr = self.bounce.addr(p * PAGE);
                    self.prp_list.write_u32((p - 1) * 8, addr as u32);
                    self.prp_list.write_u32((p - 1) * 8 + 4, (addr >> 32) as u32);
                }
                self.prp_list.addr(0)
            }
        };
        let count = (bytes / self.block_size) as u32 - 1;
        let opcode = if write { 0x01 } else { 0x02 };
        self.submit(false, opcode, 1, prp1, prp2, [lba as u32, (lba >> 32) as u32, count, 0, 0, 0])
    }
}

impl BlockDevice for NvmeDisk {
    fn block_size(&self) -> usize {
        self.block_size
    }
    fn block_count(&self) -> u64 {
        self.blocks
    }
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size, self.blocks)?;
        let per = (BOUNCE / self.block_size) as u64;
        for (i, chunk) in buf.chunks_mut(BOUNCE).enumerate() {
            self.transfer(false, lba + i as u64 * per, chunk.len())?;
            chunk.copy_from_slice(&self.bounce.bytes()[..chunk.len()]);
        }
        Ok(())
    }
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        check_range(lba, buf.len(), self.block_size, self.blocks)?;
        let per = (BOUNCE / self.block_size) as u64;
        for (i, chunk) in buf.chunks(BOUNCE).enumerate() {
            self.bounce.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
            self.transfer(true, lba + i as u64 * per, chunk.len())?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.submit(false, 0x00, 1, 0, 0, [0; 6])
    }
}
