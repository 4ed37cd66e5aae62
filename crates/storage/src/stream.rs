//! A byte stream over a [`BlockDevice`], as the FAT crate's `Read + Write + Seek`.
//!
//! Small reads and writes (FAT entries, directory slots) go through a direct-mapped
//! cache of whole blocks; whole-block runs go straight to the device. The cache is
//! write-through: every write reaches the device before `write` returns, in program
//! order, so the FAT crate's ordering (entry marked before chain freed, data before
//! directory entry) is what a power cut sees.

use crate::block::{BlockDevice, BlockError};
use alloc::vec;
use alloc::vec::Vec;
use embedded_io::{ErrorType, Read, Seek, SeekFrom, Write};
use hadris_io::ErrorKind;

/// What the FAT crate learns of a device error: its kind (the words are lost there,
/// so [`crate::StorageError`] maps the kind back to a sentence).
type Error = ErrorKind;

/// Blocks kept in the cache.
const CACHE_SLOTS: usize = 64;

/// The FAT crate's view of a disk.
#[derive(Debug)]
pub struct BlockStream<D: BlockDevice> {
    device: D,
    block_size: usize,
    len: u64,
    pos: u64,
    /// `tags[i]` is the block cached in slot `i`.
    tags: [Option<u64>; CACHE_SLOTS],
    cache: Vec<u8>,
}

impl<D: BlockDevice> BlockStream<D> {
    /// Wraps `device`.
    pub fn new(device: D) -> Self {
        let block_size = device.block_size().max(1);
        let len = device.block_count().saturating_mul(block_size as u64);
        BlockStream {
            device,
            block_size,
            len,
            pos: 0,
            tags: [None; CACHE_SLOTS],
            cache: vec![0; block_size * CACHE_SLOTS],
        }
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.device
    }

    fn fail(&mut self, e: BlockError) -> Error {
        match e {
            BlockError::ReadOnly => ErrorKind::PermissionDenied,
            BlockError::NotPresent => ErrorKind::NotConnected,
            BlockError::Timeout => ErrorKind::TimedOut,
            BlockError::OutOfRange { .. } => ErrorKind::UnexpectedEof,
            _ => ErrorKind::Other,
        }
    }

    fn slot(&self, lba: u64) -> usize {
        (lba % CACHE_SLOTS as u64) as usize
    }

    /// Brings block `lba` into its cache slot.
    fn load(&mut self, lba: u64) -> Result<usize, Error> {
        let slot = self.slot(lba);
        if self.tags[slot] != Some(lba) {
            let bs = self.block_size;
            self.tags[slot] = None;
            let result = self.device.read_blocks(lba, &mut self.cache[slot * bs..(slot + 1) * bs]);
            result.map_err(|e| self.fail(e))?;
            self.tags[slot] = Some(lba);
        }
        Ok(slot)
    }

    /// Copies fresh device contents of whole blocks into any cached copies.
    fn refresh_cached(&mut self, first: u64, data: &[u8]) {
        let bs = self.block_size;
        for (i, block) in data.chunks_exact(bs).enumerate() {
            let lba = first + i as u64;
            let slot = self.slot(lba);
            if self.tags[slot] == Some(lba) {
                self.cache[slot * bs..(slot + 1) * bs].copy_from_slice(block);
            }
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }
}

impl<D: BlockDevice> ErrorType for BlockStream<D> {
    type Error = Error;
}

impl<D: BlockDevice> Read for BlockStream<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let want = (buf.len() as u64).min(self.remaining()) as usize;
        let bs = self.block_size as u64;
        let mut done = 0;
        while done < want {
            let lba = self.pos / bs;
            let offset = (self.pos % bs) as usize;
            let left = want - done;
            if offset == 0 && left >= self.block_size {
                // Whole blocks: straight from the device (the cache is write-through,
                // so the device is never behind it).
                let blocks = left / self.block_size;
                let bytes = blocks * self.block_size;
                let target = &mut buf[done..done + bytes];
                let result = self.device.read_blocks(lba, target);
                result.map_err(|e| self.fail(e))?;
                done += bytes;
                self.pos += bytes as u64;
                continue;
            }
            let slot = self.load(lba)?;
            let n = (self.block_size - offset).min(left);
            let start = slot * self.block_size + offset;
            buf[done..done + n].copy_from_slice(&self.cache[start..start + n]);
            done += n;
            self.pos += n as u64;
        }
        Ok(done)
    }
}

impl<D: BlockDevice> Write for BlockStream<D> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining() < buf.len() as u64 {
            return Err(self.fail(BlockError::OutOfRange {
                lba: self.pos / self.block_size as u64,
                count: (buf.len() / self.block_size) as u64 + 1,
                blocks: self.device.block_count(),
            }));
        }
        let bs = self.block_size as u64;
        let mut done = 0;
        while done < buf.len() {
            let lba = self.pos / bs;
            let offset = (self.pos % bs) as usize;
            let left = buf.len() - done;
            if offset == 0 && left >= self.block_size {
                let bytes = left / self.block_size * self.block_size;
                let source = &buf[done..done + bytes];
                let result = self.device.write_blocks(lba, source);
                result.map_err(|e| self.fail(e))?;
                self.refresh_cached(lba, source);
                done += bytes;
                self.pos += bytes as u64;
                continue;
            }
            // Part of a block: read-modify-write through the cache.
            let slot = self.load(lba)?;
            let n = (self.block_size - offset).min(left);
            let start = slot * self.block_size;
            self.cache[start + offset..start + offset + n].copy_from_slice(&buf[done..done + n]);
            let result = self.device.write_blocks(lba, &self.cache[start..start + self.block_size]);
            if let Err(e) = result {
                // The device may or may not hold the new bytes: forget the slot.
                self.tags[slot] = None;
                return Err(self.fail(e));
            }
            done += n;
            self.pos += n as u64;
        }
        Ok(done)
    }

    fn flush(&mut self) -> Result<(), Error> {
        let result = self.device.flush();
        result.map_err(|e| self.fail(e))
    }
}

impl<D: BlockDevice> Seek for BlockStream<D> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, Error> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(ErrorKind::InvalidInput),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::RamDisk;

    #[test]
    fn unaligned_writes_and_reads_round_trip() {
        let mut s = BlockStream::new(RamDisk::new(512, 16));
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        s.seek(SeekFrom::Start(100)).unwrap();
        s.write_all(&data).unwrap();
        s.flush().unwrap();
        s.seek(SeekFrom::Start(100)).unwrap();
        let mut back = vec![0; 3000];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, data);
        // The device saw every byte (write-through).
        assert_eq!(&s.into_device().image()[100..3100], &data[..]);
    }

    #[test]
    fn reads_stop_at_the_end_and_errors_keep_their_words() {
        let mut disk = RamDisk::new(512, 2);
        disk.set_read_only(true);
        let mut s = BlockStream::new(disk);
        s.seek(SeekFrom::Start(1000)).unwrap();
        let mut buf = [0u8; 100];
        assert_eq!(s.read(&mut buf).unwrap(), 24);
        s.seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(s.write(&[1, 2, 3]), Err(ErrorKind::PermissionDenied));
    }
}
