//! Optional files on the boot partition (the ESP).

use alloc::format;
use kernel::boot_info::{BootOptions, FileLoad};
use uefi::boot;
use uefi::fs::{Error as FsError, FileSystem, IoErrorContext};
use uefi::{CString16, Status};

/// Where the configuration lives on the ESP.
pub const CONFIG_PATH: &str = "\\moteos\\config.toml";
/// Test switches, one word per line (see [`BootOptions`]).
pub const BOOT_OPTIONS_PATH: &str = "\\moteos\\boot-options";

/// Files larger than this are refused rather than read into the early heap.
const MAX_SMALL_FILE: u64 = 1024 * 1024;

/// Reads a small optional file from the ESP this image was loaded from.
pub fn read_optional(path: &str) -> FileLoad {
    let result = read(path);
    match &result {
        FileLoad::Loaded(bytes) => log::info!("boot: read {path} ({} bytes)", bytes.len()),
        FileLoad::Missing => log::info!("boot: {path} not present"),
        FileLoad::Unreadable(why) => log::warn!("boot: {path} unreadable: {why}"),
    }
    result
}

fn read(path: &str) -> FileLoad {
    let Ok(path16) = CString16::try_from(path) else {
        return FileLoad::Unreadable(format!("path {path} is not valid UCS-2"));
    };
    let sfs = match boot::get_image_file_system(boot::image_handle()) {
        Ok(sfs) => sfs,
        Err(e) => return FileLoad::Unreadable(format!("the boot partition is not readable ({:?})", e.status())),
    };
    let mut fs = FileSystem::new(sfs);
    match fs.metadata(path16.as_ref()) {
        Ok(meta) if meta.file_size() > MAX_SMALL_FILE => {
            return FileLoad::Unreadable(format!(
                "{} bytes is larger than the {MAX_SMALL_FILE}-byte limit",
                meta.file_size()
            ));
        }
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return FileLoad::Missing,
        Err(e) => return FileLoad::Unreadable(format!("{e}")),
    }
    match fs.read(path16.as_ref()) {
        Ok(bytes) => FileLoad::Loaded(bytes),
        Err(e) if is_not_found(&e) => FileLoad::Missing,
        Err(e) => FileLoad::Unreadable(format!("{e}")),
    }
}

fn is_not_found(e: &FsError) -> bool {
    matches!(e, FsError::Io(io) if io.uefi_error.status() == Status::NOT_FOUND
        || matches!(io.context, IoErrorContext::OpenError) && io.uefi_error.status() == Status::NOT_FOUND)
}

/// Reads the files the configuration points at (today: `[tls] extra_ca_file`).
/// The config is only peeked at here; the kernel parses it again and reports
/// its problems, so a broken file simply names nothing.
pub fn referenced_files(config_file: &FileLoad) -> Option<(alloc::string::String, FileLoad)> {
    let FileLoad::Loaded(bytes) = config_file else { return None };
    let named = config::parse_bytes(bytes).ok()?.tls.extra_ca_file?;
    // UEFI paths use backslashes from the volume root; accept `/moteos/ca.pem` too.
    let mut path: alloc::string::String = named.chars().map(|c| if c == '/' { '\\' } else { c }).collect();
    if !path.starts_with('\\') {
        path.insert(0, '\\');
    }
    let load = read_optional(&path);
    Some((path, load))
}

/// Reads the test switches; unknown words are logged and ignored.
pub fn boot_options() -> BootOptions {
    let mut options = BootOptions::default();
    let FileLoad::Loaded(bytes) = read(BOOT_OPTIONS_PATH) else { return options };
    let text = core::str::from_utf8(&bytes).unwrap_or("");
    for word in text.split_whitespace() {
        match word {
            "test-panic" => options.test_panic = true,
            "test-fault" => options.test_fault = true,
            "test-sleep" => options.test_sleep = true,
            "test-usb-disk" => options.test_usb_disk = true,
            "test-stack-overflow" => options.test_stack_overflow = true,
            "test-pool" => options.test_pool = true,
            "no-smp" => options.no_smp = true,
            "bench-keys" => options.bench_keys = true,
            other if other.starts_with("test-fetch=") => {
                options.test_fetch.push(other["test-fetch=".len()..].into());
            }
            other if other.starts_with("test-clock=") => match other["test-clock=".len()..].parse() {
                Ok(unix) => options.test_clock = Some(unix),
                Err(_) => log::warn!("boot: {other:?} is not a time in seconds since 1970; ignored"),
            },
            other if other.starts_with("test-write=") => match other["test-write=".len()..].split_once('=') {
                Some((path, text)) => options.test_write.push((path.into(), text.into())),
                None => log::warn!("boot: test-write needs PATH=TEXT, got {other:?}"),
            },
            other if other.starts_with("test-settings=") => {
                options.test_settings = Some(other["test-settings=".len()..].replace(';', "\n"));
            }
            "test-storage-bench" => options.test_storage_bench = true,
            other => log::warn!("boot: unknown boot option {other:?} ignored"),
        }
    }
    log::info!("boot: options {options:?}");
    options
}
