//! moteOS storage, without hardware: the [`BlockDevice`] trait every disk driver
//! implements (virtio-blk, AHCI, NVMe, USB mass storage), GPT partitions, the FAT
//! file system of the boot partition (through `hadris-fat`), writes that survive a
//! power cut, and the rule that decides between the settings file and its copy in
//! EFI variables.
//!
//! Drivers live in the kernel (and the `usb` crate); everything here is portable and
//! host-tested over [`RamDisk`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod atomic;
mod block;
mod error;
pub mod gpt;
pub mod mirror;
mod stream;
mod volume;

pub use block::{BlockDevice, BlockError, RamDisk, check_range};
pub use error::StorageError;
pub use volume::{FileInfo, Volume};

/// Paths moteOS uses on the boot partition.
pub mod paths {
    /// The settings file.
    pub const CONFIG: &str = "\\moteos\\config.toml";
    /// Saved conversations, one JSON file each.
    pub const CHATS: &str = "\\moteos\\chats";
}
