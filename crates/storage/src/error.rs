//! The storage layer's one error type: every variant reads as a sentence a user can act on.

use crate::block::BlockError;
use alloc::string::String;
use core::fmt;

/// Why a storage operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The disk itself failed (read-only, unplugged, out of range, device error).
    Block(BlockError),
    /// The disk has no GPT, or its GPT is damaged.
    NoPartitionTable(String),
    /// No partition with the wanted identity exists on the disk.
    PartitionNotFound(String),
    /// The partition does not hold a FAT file system we can use, or the FAT is damaged.
    Corrupt(String),
    /// No such file or directory.
    NotFound(String),
    /// The file is larger than the caller allows.
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The largest size accepted.
        limit: u64,
    },
    /// The disk is full.
    Full(String),
    /// The medium refuses writes.
    ReadOnly,
    /// The path is not valid on a FAT volume (empty, bad characters, too long).
    BadPath(String),
    /// Anything else the FAT layer reported.
    Other(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Block(e) => write!(f, "{e}"),
            StorageError::NoPartitionTable(why) => write!(f, "the disk has no usable GPT partition table ({why})"),
            StorageError::PartitionNotFound(what) => write!(f, "no partition {what} on this disk"),
            StorageError::Corrupt(why) => {
                write!(f, "the FAT file system is damaged ({why}); check the disk on another computer")
            }
            StorageError::NotFound(path) => write!(f, "{path} does not exist"),
            StorageError::TooLarge { path, size, limit } => {
                write!(f, "{path} is {size} bytes, more than the {limit}-byte limit; it was not read")
            }
            StorageError::Full(path) => write!(f, "the disk is full: {path} could not be written; delete some files"),
            StorageError::ReadOnly => f.write_str("the disk is read-only; changes cannot be saved to it"),
            StorageError::BadPath(why) => write!(f, "invalid file name: {why}"),
            StorageError::Other(why) => write!(f, "the disk operation failed: {why}"),
        }
    }
}

impl From<BlockError> for StorageError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::ReadOnly => StorageError::ReadOnly,
            other => StorageError::Block(other),
        }
    }
}
