//! The moteOS UEFI application.
//!
//! While the firmware still runs, this gathers everything the kernel needs (the
//! screen, the ACPI root, the time, entropy, files from the boot partition),
//! then exits boot services, converts the final memory map and jumps into
//! [`kernel::start`]. Nothing from the firmware is used after that point except
//! the identity mapping and the framebuffer memory.

#![no_std]
#![no_main]

extern crate alloc;

mod disk;
mod entropy;
mod files;
mod gop;
mod memory_map;
mod model;

use kernel::boot_info::{BootInfo, WallClock};
use log::{error, info};
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::prelude::*;
use uefi::table::cfg::ConfigTableEntry;

/// Size of the heap arena used before `ExitBootServices`: enough for the boot
/// data (config file, memory map copy); the kernel adds all free RAM afterwards.
const EARLY_ARENA_BYTES: usize = 8 * 1024 * 1024;

#[entry]
fn main() -> Status {
    let rsdp = find_rsdp();
    kernel::early::init_console(rsdp);
    // Firmware resets a boot application after five minutes; reading a large model from a
    // slow stick (or under emulation) can take longer, and moteOS never returns anyway.
    if let Err(e) = boot::set_watchdog_timer(0, 0x10000, None) {
        log::warn!("boot: the firmware watchdog could not be turned off ({:?})", e.status());
    }
    info!("moteOS {} booting on {}", kernel::VERSION, kernel::arch::NAME);

    let pages = EARLY_ARENA_BYTES / 4096;
    match boot::allocate_pages(AllocateType::AnyPages, MemoryType::LOADER_DATA, pages) {
        // SAFETY: the firmware just gave us these pages as loader data; they stay
        // ours (and identity-mapped) after ExitBootServices and nothing else uses them.
        Ok(arena) if unsafe { kernel::early::claim_arena(arena.as_ptr(), EARLY_ARENA_BYTES) } => {}
        _ => {
            error!("boot: the firmware could not provide {EARLY_ARENA_BYTES} bytes for the early heap");
            return Status::OUT_OF_RESOURCES;
        }
    }

    let firmware = alloc::format!(
        "{} (revision {:#x}, UEFI {})",
        uefi::system::firmware_vendor(),
        uefi::system::firmware_revision(),
        uefi::system::uefi_revision()
    );
    let framebuffer = gop::set_up();
    let boot_time = read_clock();
    let entropy = entropy::gather();
    let config_file = files::read_optional(files::CONFIG_PATH);
    let extra_ca_file = files::referenced_files(&config_file);
    let options = files::boot_options();
    let boot_time = match options.test_clock {
        Some(unix) => {
            info!("boot: test clock {unix} replaces the firmware's");
            Some(WallClock::from_unix_utc(unix))
        }
        None => boot_time,
    };
    let boot_partition = disk::boot_partition();
    let model = model::wanted(&config_file).map(|path| model::read(&path, framebuffer.as_ref().ok()));

    info!("boot: exiting boot services");
    // SAFETY: no protocol or pool allocation from boot services is kept past this
    // point: GOP and file handles above were scoped and dropped, and the early heap
    // lives in loader-data pages that survive the exit.
    let map = unsafe { boot::exit_boot_services(None) };
    let memory_map = memory_map::convert(&map);

    kernel::start(BootInfo {
        memory_map,
        framebuffer,
        rsdp,
        boot_time,
        entropy,
        config_file,
        extra_ca_file,
        model,
        firmware,
        options,
        boot_partition,
        firmware_shutdown: Some(firmware_shutdown),
    })
}

/// The firmware's `ResetSystem(EfiResetShutdown)`: a runtime service, still there after
/// `ExitBootServices` (OVMF performs ACPI S5, AAVMF PSCI SYSTEM_OFF).
fn firmware_shutdown() -> ! {
    uefi::runtime::reset(uefi::runtime::ResetType::SHUTDOWN, Status::SUCCESS, None)
}

/// The ACPI 2.0+ RSDP if published, else the ACPI 1.0 one.
fn find_rsdp() -> Option<u64> {
    uefi::system::with_config_table(|entries: &[ConfigTableEntry]| {
        let find = |guid| entries.iter().find(|e| e.guid == guid).map(|e| e.address as u64);
        find(ConfigTableEntry::ACPI2_GUID).or_else(|| find(ConfigTableEntry::ACPI_GUID))
    })
}

fn read_clock() -> Option<WallClock> {
    match uefi::runtime::get_time() {
        Ok(t) => Some(WallClock {
            year: t.year(),
            month: t.month(),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
            utc_offset_minutes: t.time_zone(),
        }),
        Err(e) => {
            log::warn!("boot: GetTime failed: {:?}", e.status());
            None
        }
    }
}
