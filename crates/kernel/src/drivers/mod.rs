//! Device drivers shared by both architectures.

pub mod pci;
pub mod virtio_hal;
pub mod virtio_input;
