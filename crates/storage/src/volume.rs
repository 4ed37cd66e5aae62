//! A FAT volume on a [`BlockDevice`] (through `hadris-fat`) and the file API the
//! kernel uses: capped reads, listing, removal, free space.
//!
//! Writes are in [`crate::atomic`]: they never overwrite a file in place.

use crate::block::BlockDevice;
use crate::error::StorageError;
use crate::stream::{BlockStream, WriteMode};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use hadris_fat::error::Error as FatError;
use hadris_fat::sync::{FatDir, FatVolume, FatVolumeReadExt, FileEntry};
use hadris_io::ErrorKind;

/// A directory handle on a volume of device `D`.
pub(crate) type Dir<'a, D> = FatDir<'a, BlockStream<D>>;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Its name (long name when there is one).
    pub name: String,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// An open FAT file system.
pub struct Volume<D: BlockDevice> {
    pub(crate) fs: FatVolume<BlockStream<D>>,
    read_only: bool,
    /// Switches the stream under the FAT crate between write-through and write-back.
    pub(crate) write_mode: WriteMode,
    /// Bytes per cluster, from the boot sector (the FAT crate keeps it private).
    cluster_bytes: u64,
}

impl<D: BlockDevice> core::fmt::Debug for Volume<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Volume").field("fat", &self.fs.fat_type()).field("read_only", &self.read_only).finish()
    }
}

/// Splits `\moteos\chats\a.json` (or with `/`) into its directories and file name.
pub(crate) fn split_path(path: &str) -> Result<(Vec<&str>, &str), StorageError> {
    let mut parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
    let name = parts.pop().ok_or_else(|| StorageError::BadPath(format!("{path:?} names no file")))?;
    for part in parts.iter().chain(core::iter::once(&name)) {
        if *part == "." || *part == ".." {
            return Err(StorageError::BadPath(format!("{path:?}: . and .. are not allowed")));
        }
    }
    Ok((parts, name))
}

/// Turns the FAT crate's error into a sentence about `path`.
pub(crate) fn fat_error(e: FatError, path: &str) -> StorageError {
    let io = |kind: ErrorKind| match kind {
        ErrorKind::PermissionDenied => StorageError::ReadOnly,
        ErrorKind::NotConnected => StorageError::Block(crate::BlockError::NotPresent),
        ErrorKind::TimedOut => StorageError::Block(crate::BlockError::Timeout),
        ErrorKind::UnexpectedEof => {
            StorageError::Corrupt(String::from("a structure points past the end of the partition"))
        }
        other => StorageError::Other(format!("disk error ({other:?}) while accessing {path}")),
    };
    match e {
        FatError::EntryNotFound => StorageError::NotFound(path.to_string()),
        FatError::NoFreeSpace | FatError::DirectoryFull => StorageError::Full(path.to_string()),
        FatError::InvalidPath | FatError::InvalidFilename | FatError::InvalidShortFilename => {
            StorageError::BadPath(format!("{path:?} is not a valid FAT name"))
        }
        FatError::Io(e) => io(e.kind()),
        FatError::IoContext { source, .. } => io(source.kind()),
        FatError::NotAFile => StorageError::Other(format!("{path} is a directory, not a file")),
        FatError::NotADirectory => StorageError::Other(format!("{path} is a file, not a directory")),
        FatError::AlreadyExists => StorageError::Other(format!("{path} already exists")),
        FatError::DirectoryNotEmpty => StorageError::Other(format!("{path} is a directory that is not empty")),
        other => StorageError::Corrupt(format!("{other}")),
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Opens the FAT file system on `device` (a partition).
    pub fn open(mut device: D) -> Result<Self, StorageError> {
        let read_only = device.is_read_only();
        let cluster_bytes = cluster_bytes(&mut device)?;
        let write_mode = WriteMode::default();
        let fs = FatVolume::open(BlockStream::new(device, write_mode.clone())).map_err(|e| {
            match fat_error(e, "the boot sector") {
                StorageError::Block(b) => StorageError::Block(b),
                other => StorageError::Corrupt(format!("not a usable FAT file system: {other}")),
            }
        })?;
        Ok(Volume { fs, read_only, write_mode, cluster_bytes })
    }

    /// Formats `device` as a fresh FAT volume (FAT32 when it is large enough) and opens it.
    pub fn format(device: D, label: &str) -> Result<Self, StorageError> {
        let device = {
            use hadris_fat::sync::format::{FatFormatOptions, FatTypeSelection};
            let bytes = device.block_count() * device.block_size() as u64;
            let mut options = FatFormatOptions::new(bytes).volume_label(label);
            // UEFI expects FAT32 on an ESP; small volumes (tests) get what fits.
            if bytes >= 64 << 20 {
                options = options.fat_type(FatTypeSelection::Fat32);
            }
            hadris_fat::sync::format::FatVolumeFormatter::format(
                BlockStream::new(device, WriteMode::default()),
                options,
            )
            .map_err(|e| fat_error(e, "the volume"))?
            .into_inner()
            .into_device()
        };
        Self::open(device)
    }

    /// Whether the medium refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.fs.into_inner().into_device()
    }

    /// "FAT12", "FAT16" or "FAT32".
    pub fn fat_name(&self) -> &'static str {
        match self.fs.fat_type() {
            hadris_fat::sync::FatType::Fat12 => "FAT12",
            hadris_fat::sync::FatType::Fat16 => "FAT16",
            hadris_fat::sync::FatType::Fat32 => "FAT32",
        }
    }

    /// Walks to directory `parts` from the root.
    pub(crate) fn dir(&self, parts: &[&str], path: &str) -> Result<Dir<'_, D>, StorageError> {
        let mut dir = self.fs.root_dir();
        for part in parts {
            dir = dir.open_dir(part).map_err(|e| fat_error(e, path))?;
        }
        Ok(dir)
    }

    /// Walks to directory `parts`, creating what is missing.
    pub(crate) fn make_dirs(&self, parts: &[&str], path: &str) -> Result<Dir<'_, D>, StorageError> {
        let mut dir = self.fs.root_dir();
        for part in parts {
            dir = match dir.find(part).map_err(|e| fat_error(e, path))? {
                Some(entry) => self.fs.open_dir_entry(&entry).map_err(|e| fat_error(e, path))?,
                None => self.fs.create_dir(&dir, part).map_err(|e| fat_error(e, path))?,
            };
        }
        Ok(dir)
    }

    /// Reads one file exactly as named (no fallback), refusing files over `limit` bytes.
    pub(crate) fn read_entry(&self, entry: &FileEntry, path: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        if entry.is_directory() {
            return Err(StorageError::Other(format!("{path} is a directory, not a file")));
        }
        if entry.len() > limit {
            return Err(StorageError::TooLarge { path: path.to_string(), size: entry.len(), limit });
        }
        let mut reader = self.fs.read_file(entry).map_err(|e| fat_error(e, path))?;
        let data = reader.read_to_vec().map_err(|e| fat_error(e, path))?;
        if data.len() as u64 != entry.len() {
            return Err(StorageError::Corrupt(format!(
                "{path} should hold {} bytes but its clusters end after {}",
                entry.len(),
                data.len()
            )));
        }
        Ok(data)
    }

    /// Reads `path` as stored, without the `.bak` fallback of [`Volume::read_file`].
    pub fn read_raw(&self, path: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let (parts, name) = split_path(path)?;
        let dir = self.dir(&parts, path)?;
        let entry =
            dir.find(name).map_err(|e| fat_error(e, path))?.ok_or_else(|| StorageError::NotFound(path.into()))?;
        self.read_entry(&entry, path, limit)
    }

    /// Lists directory `path` (`\` is the root). Files the atomic writer keeps for
    /// itself (`.tmp`, `.fix`, and a `.bak` beside its file) are left out; a `.bak`
    /// whose file is missing (a cut in the middle of a write) is listed under the
    /// file's name, since [`Volume::read_file`] reads it there.
    pub fn list(&self, path: &str) -> Result<Vec<FileInfo>, StorageError> {
        let parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
        let dir = self.dir(&parts, path)?;
        let mut raw = Vec::new();
        let mut iter = dir.entries();
        while let Some(item) = iter.next_entry() {
            let hadris_fat::sync::DirectoryEntry::Entry(entry) = item.map_err(|e| fat_error(e, path))?;
            let name = entry.name().to_string();
            if name == "." || name == ".." || entry.attributes().bits() & 0x08 != 0 {
                continue; // dot entries and the volume label
            }
            raw.push(FileInfo { name, size: entry.len(), is_dir: entry.is_directory() });
        }
        let has = |name: &str| raw.iter().any(|f| f.name.eq_ignore_ascii_case(name));
        let mut out = Vec::new();
        for file in &raw {
            if crate::atomic::is_scratch_name(&file.name) {
                continue;
            }
            if let Some(main) = file.name.strip_suffix(crate::atomic::BAK) {
                if !has(main) && !file.is_dir {
                    out.push(FileInfo { name: main.to_string(), ..file.clone() });
                }
                continue;
            }
            out.push(file.clone());
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Free bytes on the volume.
    pub fn free_space(&self) -> Result<u64, StorageError> {
        use hadris_fat::sync::FatAnalysisExt;
        // FAT32 keeps a count in its FSInfo sector; otherwise (or when the count is
        // implausible) the FAT is scanned.
        match self.fs.free_cluster_count() {
            Some(n) if n <= self.fs.fat().max_cluster() => Ok(u64::from(n) * self.cluster_bytes),
            _ => Ok(self.fs.statistics().map_err(|e| fat_error(e, "the FAT"))?.free_space),
        }
    }
}

/// Bytes per cluster from the BIOS parameter block (bytes per sector at offset 11,
/// sectors per cluster at 13), checked for sanity; the FAT crate validates the rest.
fn cluster_bytes<D: BlockDevice>(device: &mut D) -> Result<u64, StorageError> {
    let mut sector = alloc::vec![0u8; device.block_size()];
    device.read_blocks(0, &mut sector)?;
    let bytes_per_sector = u64::from(u16::from_le_bytes([sector[11], sector[12]]));
    let per_cluster = u64::from(sector[13]);
    if !bytes_per_sector.is_power_of_two()
        || !(512..=4096).contains(&bytes_per_sector)
        || !per_cluster.is_power_of_two()
    {
        return Err(StorageError::Corrupt(String::from("the boot sector does not describe a FAT volume")));
    }
    Ok(bytes_per_sector * per_cluster)
}
