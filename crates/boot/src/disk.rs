//! Which partition this image was loaded from, so the kernel can open the same FAT
//! for writing after the firmware is gone.

use kernel::boot_info::BootPartition;
use uefi::boot;
use uefi::proto::device_path::LoadedImageDevicePath;
use uefi::proto::device_path::{DevicePathNodeEnum, media::PartitionSignature};

/// The GPT partition of the boot image, from its device path's hard-drive node.
/// `None` when booted from something else (a network, a `fat:` folder with an MBR,
/// a CD); the kernel then keeps settings in EFI variables only.
pub fn boot_partition() -> Option<BootPartition> {
    let path = match boot::open_protocol_exclusive::<LoadedImageDevicePath>(boot::image_handle()) {
        Ok(path) => path,
        Err(e) => {
            log::warn!("boot: the loaded image's device path is unavailable ({:?})", e.status());
            return None;
        }
    };
    for node in path.node_iter() {
        let Ok(DevicePathNodeEnum::MediaHardDrive(hd)) = node.as_enum() else { continue };
        let found = match hd.partition_signature() {
            PartitionSignature::Guid(guid) => Some(BootPartition {
                guid: guid.to_bytes(),
                number: hd.partition_number(),
                first_lba: hd.partition_start(),
                blocks: hd.partition_size(),
            }),
            other => {
                log::info!("boot: loaded from a partition without a GPT GUID ({other:?})");
                None
            }
        };
        if let Some(p) = &found {
            log::info!(
                "boot: loaded from GPT partition {} (start block {}, {} blocks)",
                p.number,
                p.first_lba,
                p.blocks
            );
        }
        return found;
    }
    log::info!("boot: the boot device path has no hard-drive partition node");
    None
}
