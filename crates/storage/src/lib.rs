//! moteOS storage, without hardware: the [`BlockDevice`] trait every disk driver
//! implements (virtio-blk, AHCI, NVMe, USB mass storage), and what is built on it.
//!
//! Drivers live in the kernel (and the `usb` crate); everything here is portable and
//! host-tested over [`RamDisk`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod block;

pub use block::{BlockDevice, BlockError, RamDisk, check_range};
