//! End-to-end storage tests: a copy of the real disk image and a persistent firmware
//! variable store, booted twice in a row.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry};
use crate::image;
use crate::qemu::{self, DiskBus, DiskSetup, Display, Machine, Nic, QemuOptions};
use anyhow::{Context, Result, ensure};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const CHAT: &str = "\\moteos\\chats\\e2e.json";

fn options(ctx: &Ctx, disk: PathBuf) -> QemuOptions {
    QemuOptions {
        arch: ctx.arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: Nic::None,
    }
}

/// Boots and waits for the prompt; returns the serial log.
fn boot(ctx: &Ctx, slot: &mut Option<Machine>, disk: &Path, setup: &DiskSetup) -> Result<String> {
    if let Some(mut old) = slot.take() {
        old.kill();
    }
    let extras = qemu::Extras { disk: setup.clone(), ..qemu::Extras::default() };
    let m = slot.insert(Machine::launch_with(&options(ctx, disk.to_path_buf()), &extras)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    Ok(m.serial_text())
}

fn expect(log: &str, needle: &str, what: &str) -> Result<()> {
    ensure!(log.contains(needle), "{what}: {needle:?} is not in the serial log");
    Ok(())
}

/// A file written in the first boot is read back in the second (virtio-blk).
pub(crate) fn survives_reboot_virtio(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    survives_reboot(ctx, slot, DiskBus::VirtioBlk)
}

/// The same on the q35 chipset's SATA (AHCI) controller.
pub(crate) fn survives_reboot_ahci(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    survives_reboot(ctx, slot, DiskBus::Ahci)
}

/// The same on an NVMe controller.
pub(crate) fn survives_reboot_nvme(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    survives_reboot(ctx, slot, DiskBus::Nvme)
}

fn survives_reboot(ctx: &Ctx, slot: &mut Option<Machine>, bus: DiskBus) -> Result<()> {
    let switches = format!("test-write={CHAT}=written-in-boot-one\ntest-settings=[provider];active=\"local\"\n");
    let disk = ctx.build_image(&[EspEntry::File("boot-options", switches.into_bytes())])?;
    let setup = DiskSetup { bus, readonly: false, vars: Some(qemu::fresh_vars(ctx.arch, ctx.dir.path())?) };

    let log = boot(ctx, slot, &disk, &setup)?;
    let driver = match bus {
        DiskBus::VirtioBlk => "storage: virtio-blk disk at PCI",
        DiskBus::Ahci => "storage: SATA disk",
        DiskBus::Nvme => "storage: NVMe disk",
    };
    expect(&log, driver, "first boot")?;
    expect(&log, "storage: FAT32 boot partition open", "first boot")?;
    expect(&log, &format!("storage test: {CHAT} before writing: {CHAT} does not exist"), "first boot")?;
    expect(&log, &format!("storage test: wrote {CHAT}"), "first boot")?;
    expect(&log, "storage test: no settings before saving", "first boot")?;
    expect(&log, "storage test: settings saved (FileAndVariable)", "first boot")?;
    expect(&log, "settings: read from the EFI variable copy", "first boot")?;

    let log = boot(ctx, slot, &disk, &setup)?;
    expect(&log, &format!("storage test: {CHAT} held \"written-in-boot-one\""), "second boot")?;
    expect(
        &log,
        "storage test: settings before saving came from Variable: \"[provider]\\nactive=\\\"local\\\"\"",
        "second boot",
    )?;
    if let Some(mut m) = slot.take() {
        m.kill();
    }
    // What the guest wrote is a plain FAT file that another computer can read.
    let on_disk = image::read_esp_file(&disk, "moteos/chats/e2e.json")?;
    ensure!(on_disk == b"written-in-boot-one", "the image holds {:?}", String::from_utf8_lossy(&on_disk));
    let config = image::read_esp_file(&disk, "moteos/config.toml")?;
    ensure!(config == b"[provider]\nactive=\"local\"", "config.toml holds {:?}", String::from_utf8_lossy(&config));
    Ok(())
}

/// A read-only disk keeps the settings in EFI variables across two boots.
pub(crate) fn readonly_disk(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let switches = "test-settings=[provider];active=\"local\"\n";
    let disk = ctx.build_image(&[EspEntry::File("boot-options", switches.as_bytes().to_vec())])?;
    let setup =
        DiskSetup { bus: DiskBus::VirtioBlk, readonly: true, vars: Some(qemu::fresh_vars(ctx.arch, ctx.dir.path())?) };

    let log = boot(ctx, slot, &disk, &setup)?;
    expect(&log, "the boot disk is read-only; settings are kept in EFI variables", "first boot")?;
    expect(&log, "storage test: no settings before saving", "first boot")?;
    expect(&log, "storage test: settings saved (VariableOnly(\"the disk is read-only", "first boot")?;

    let log = boot(ctx, slot, &disk, &setup)?;
    expect(
        &log,
        "storage test: settings before saving came from Variable: \"[provider]\\nactive=\\\"local\\\"\"",
        "second boot",
    )?;
    expect(&log, "settings: read from the EFI variable copy", "second boot")?;
    Ok(())
}

/// A file whose cluster chain is broken, on a disk with no free space: sentences in
/// the log, and the OS still comes up.
pub(crate) fn damaged_and_full(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let victim = "\\moteos\\chats\\victim.json";
    let switches = format!("test-write={victim}=replaced\ntest-settings=[provider];active=\"local\"\n");
    let mut content = b"VICTIM-MARKER-0123456789".to_vec();
    content.resize(9000, b'v');
    let disk = ctx.build_image(&[
        EspEntry::File("boot-options", switches.into_bytes()),
        EspEntry::File("chats/victim.json", content),
    ])?;
    break_second_cluster(&disk, b"VICTIM-MARKER-0123456789")?;
    image::fill_free_space(&disk, 0)?;
    let setup = DiskSetup { vars: Some(qemu::fresh_vars(ctx.arch, ctx.dir.path())?), ..DiskSetup::default() };

    let log = boot(ctx, slot, &disk, &setup)?;
    expect(&log, &format!("storage test: {victim} before writing: the FAT file system is damaged"), "damaged file")?;
    expect(&log, &format!("storage test: writing {victim} failed: the disk is full"), "full disk")?;
    expect(&log, "storage test: settings saved (VariableOnly(\"the disk is full", "full disk")?;
    Ok(())
}

/// Marks the second cluster of the file starting with `marker` free in every FAT,
/// so its chain ends early (test-side damage, FAT32 layout from the boot sector).
fn break_second_cluster(disk: &Path, marker: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(disk)?;
    let start = image::PARTITION_START;
    let mut boot = [0u8; 512];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut boot)?;
    let sector = u64::from(u16::from_le_bytes([boot[11], boot[12]]));
    let per_cluster = u64::from(boot[13]);
    let reserved = u64::from(u16::from_le_bytes([boot[14], boot[15]]));
    let fats = u64::from(boot[16]);
    let fat_sectors = u64::from(u32::from_le_bytes([boot[36], boot[37], boot[38], boot[39]]));
    let data_start = reserved + fats * fat_sectors;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let cluster_bytes = (sector * per_cluster) as usize;
    let first_data = (start + data_start * sector) as usize;
    let offset = (first_data..bytes.len())
        .step_by(cluster_bytes)
        .find(|&o| bytes[o..].starts_with(marker))
        .context("the victim file is not in the image")?;
    let cluster = ((offset - first_data) / cluster_bytes) as u64 + 2;
    for copy in 0..fats {
        let entry = start + (reserved + copy * fat_sectors) * sector + (cluster + 1) * 4;
        file.seek(SeekFrom::Start(entry))?;
        file.write_all(&0u32.to_le_bytes())?;
    }
    Ok(())
}
