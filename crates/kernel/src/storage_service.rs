//! The storage service the effect runner calls: files on the boot partition's FAT
//! (atomic writes, capped reads) and the settings, mirrored in an EFI variable.
//!
//! Opened once at boot from the disks the drivers found: the partition whose GPT
//! GUID matches the one `boot` recorded is the boot partition. Without one (no
//! GUID, no driver for the disk, a damaged FAT) or with a read-only medium, the
//! settings live in the EFI variable alone and [`StorageService::notice`] says so.

use crate::boot_info::BootPartition;
use crate::efivars;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use storage::gpt::{Guid, Partition, read_partitions};
use storage::mirror::{self, Mirror, Source};
use storage::{BlockDevice, FileInfo, StorageError, Volume};

/// Default cap for files read whole (settings, one conversation).
pub const MAX_FILE: u64 = 4 << 20;

type EspVolume = Volume<Partition<Box<dyn BlockDevice + Send>>>;

/// Why a storage request failed, as a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// There is no boot disk to use; the text says why.
    NoDisk(String),
    /// The disk or its FAT refused.
    Disk(StorageError),
    /// The EFI variable could not be read or written.
    Variable(String),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::NoDisk(why) => write!(f, "no boot disk to save to: {why}"),
            ServiceError::Disk(e) => write!(f, "{e}"),
            ServiceError::Variable(why) => write!(f, "the settings copy in EFI variables failed: {why}"),
        }
    }
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        ServiceError::Disk(e)
    }
}

/// Where saved settings went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavedTo {
    /// The file on the boot disk and its EFI variable copy.
    FileAndVariable,
    /// Only the EFI variable; the text says why the file was not written.
    VariableOnly(String),
    /// Only the file; the text says why the variable was not written.
    FileOnly(String),
}

/// Settings found at boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedSettings {
    /// The TOML text.
    pub text: Vec<u8>,
    /// Where it came from (see `storage::mirror` for the rule).
    pub source: Source,
}

/// The boot partition's files and the settings mirror.
pub struct StorageService {
    volume: Option<EspVolume>,
    why_not: String,
}

impl fmt::Debug for StorageService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageService").field("volume", &self.volume).field("why_not", &self.why_not).finish()
    }
}

impl StorageService {
    /// Finds the boot partition among `disks` and opens its FAT. With `measure_raw`,
    /// logs the time of a raw 100 KiB write (the partition's last blocks written back
    /// unchanged), the baseline for the storage benchmark.
    pub fn open(
        disks: Vec<(String, Box<dyn BlockDevice + Send>)>,
        boot: Option<&BootPartition>,
        measure_raw: bool,
    ) -> Self {
        let Some(boot) = boot else {
            let why = String::from("the firmware did not say which GPT partition moteOS was loaded from");
            log::warn!("storage: {why}; settings are kept in EFI variables");
            return StorageService { volume: None, why_not: why };
        };
        let wanted = Guid::from_bytes(boot.guid);
        let count = disks.len();
        for (name, mut device) in disks {
            let parts = match read_partitions(&mut device) {
                Ok(parts) => parts,
                Err(e) => {
                    log::info!("storage: {name}: {e}");
                    continue;
                }
            };
            let Some(part) = parts.iter().find(|p| p.unique_guid == wanted) else { continue };
            log::info!(
                "storage: boot partition {wanted} found on {name} ({} blocks{})",
                part.blocks(),
                if device.is_read_only() { ", read-only" } else { "" }
            );
            let mut partition = Partition::new(device, part);
            if measure_raw {
                measure_raw_write(&mut partition);
            }
            return match Volume::open(partition) {
                Ok(volume) => {
                    let free = volume.free_space().map(|b| b / 1024).unwrap_or(0);
                    log::info!("storage: {} boot partition open, {free} KiB free", volume.fat_name());
                    let why_not =
                        if volume.is_read_only() { String::from("the boot disk is read-only") } else { String::new() };
                    if volume.is_read_only() {
                        log::warn!("storage: the boot disk is read-only; settings are kept in EFI variables");
                    }
                    StorageService { volume: Some(volume), why_not }
                }
                Err(e) => {
                    log::error!("storage: the boot partition cannot be used: {e}");
                    StorageService { volume: None, why_not: e.to_string() }
                }
            };
        }
        let why = format!("the boot partition {wanted} is on none of the {count} disks found");
        log::warn!("storage: {why}; settings are kept in EFI variables");
        StorageService { volume: None, why_not: why }
    }

    /// A sentence for the screen when files cannot be saved to the boot disk.
    pub fn notice(&self) -> Option<String> {
        match &self.volume {
            Some(v) if !v.is_read_only() => None,
            _ => Some(format!("Settings are kept in EFI variables: {}.", self.why_not)),
        }
    }

    /// Logs how many conversations are saved (the chat resumes the newest).
    pub fn log_saved_conversations(&self) {
        match self.list(storage::paths::CHATS) {
            Ok(files) => log::info!("storage: {} saved conversations in {}", files.len(), storage::paths::CHATS),
            Err(ServiceError::Disk(StorageError::NotFound(_))) => log::info!("storage: no saved conversations yet"),
            Err(e) => log::info!("storage: saved conversations unavailable: {e}"),
        }
    }

    /// Whether files can be written to the boot disk.
    pub fn writable(&self) -> bool {
        self.volume.as_ref().is_some_and(|v| !v.is_read_only())
    }

    fn volume(&self) -> Result<&EspVolume, ServiceError> {
        self.volume.as_ref().ok_or_else(|| ServiceError::NoDisk(self.why_not.clone()))
    }

    /// Reads `path` (falling back to its previous version), at most `limit` bytes.
    pub fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>, ServiceError> {
        Ok(self.volume()?.read_file(path, limit)?)
    }

    /// Replaces `path` with `data` so that a power cut leaves the old or the new version.
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<(), ServiceError> {
        Ok(self.volume()?.write_file(path, data)?)
    }

    /// Lists directory `path`, sorted by name.
    pub fn list(&self, path: &str) -> Result<Vec<FileInfo>, ServiceError> {
        Ok(self.volume()?.list(path)?)
    }

    /// Removes `path` and its previous version.
    pub fn remove(&self, path: &str) -> Result<(), ServiceError> {
        Ok(self.volume()?.remove(path)?)
    }

    /// Free bytes on the boot partition.
    pub fn free_space(&self) -> Result<u64, ServiceError> {
        Ok(self.volume()?.free_space()?)
    }

    fn config_file(&self) -> Option<Vec<u8>> {
        match self.volume.as_ref()?.read_file(storage::paths::CONFIG, MAX_FILE) {
            Ok(bytes) => Some(bytes),
            Err(StorageError::NotFound(_)) => None,
            Err(e) => {
                log::warn!("storage: {e}");
                None
            }
        }
    }

    fn variable(&self) -> Option<Mirror> {
        match efivars::get(mirror::VARIABLE_NAME, mirror::VENDOR_GUID) {
            Ok(Some(bytes)) => match Mirror::decode(&bytes) {
                Ok(m) => Some(m),
                Err(e) => {
                    log::warn!("settings: {e}; ignoring it");
                    None
                }
            },
            Ok(None) => None,
            Err(why) => {
                log::warn!("settings: EFI variable unreadable: {why}");
                None
            }
        }
    }

    /// Saves the settings (`config.toml` text) to the file and its EFI variable copy.
    /// Fails only when neither place took them.
    pub fn save_settings(&self, toml: &str) -> Result<SavedTo, ServiceError> {
        let text = toml.as_bytes();
        let file = match self.volume() {
            Ok(v) if !v.is_read_only() => v.write_file(storage::paths::CONFIG, text).map_err(ServiceError::from),
            Ok(_) => Err(ServiceError::Disk(StorageError::ReadOnly)),
            Err(e) => Err(e),
        };
        let copy = match &file {
            Ok(()) => Mirror::saved(text),
            Err(_) => Mirror::unsaved(text, self.config_file().as_deref()),
        };
        let variable = efivars::set(mirror::VARIABLE_NAME, mirror::VENDOR_GUID, &copy.encode());
        match (file, variable) {
            (Ok(()), Ok(())) => Ok(SavedTo::FileAndVariable),
            (Ok(()), Err(why)) => Ok(SavedTo::FileOnly(why)),
            (Err(e), Ok(())) => Ok(SavedTo::VariableOnly(e.to_string())),
            (Err(e), Err(why)) => {
                log::error!("settings: not saved: {e}; {why}");
                Err(ServiceError::Variable(why))
            }
        }
    }

    /// The settings to use at boot, by the rule in `storage::mirror`: a file edited
    /// elsewhere wins over the variable, otherwise the variable holds the newest.
    /// The losing side is brought up to date where it can be.
    pub fn load_settings(&self) -> Option<LoadedSettings> {
        let file = self.config_file();
        let variable = self.variable();
        match mirror::choose(file.as_deref(), variable.as_ref()) {
            Source::Neither => None,
            Source::File => {
                let text = file.unwrap_or_default();
                if variable.as_ref().is_some_and(|v| v.text != text) || variable.is_none() {
                    let copy = Mirror::saved(&text).encode();
                    if let Err(why) = efivars::set(mirror::VARIABLE_NAME, mirror::VENDOR_GUID, &copy) {
                        log::warn!("settings: the EFI variable copy was not updated: {why}");
                    }
                }
                Some(LoadedSettings { text, source: Source::File })
            }
            Source::Variable => {
                let text = variable.map(|v| v.text).unwrap_or_default();
                // A disk that is writable again takes the newer settings back.
                if self.writable() && file.as_deref() != Some(&text[..]) {
                    match std_str(&text).map(|t| self.save_settings(t)) {
                        Some(Ok(_)) => log::info!("settings: the file was brought up to date from the EFI variable"),
                        Some(Err(e)) => log::warn!("settings: {e}"),
                        None => {}
                    }
                }
                Some(LoadedSettings { text, source: Source::Variable })
            }
        }
    }
}

fn std_str(bytes: &[u8]) -> Option<&str> {
    core::str::from_utf8(bytes).ok()
}

/// Times writing 100 KiB (200 blocks) of the partition's end back unchanged.
fn measure_raw_write(partition: &mut Partition<Box<dyn BlockDevice + Send>>) {
    let blocks = (100 * 1024 / partition.block_size()) as u64;
    let Some(lba) = partition.block_count().checked_sub(blocks) else { return };
    let mut buf = alloc::vec![0u8; blocks as usize * partition.block_size()];
    if let Err(e) = partition.read_blocks(lba, &mut buf) {
        log::warn!("storage bench: raw read failed: {e}");
        return;
    }
    let started = crate::time::now();
    let written = partition.write_blocks(lba, &buf);
    let wrote = crate::time::now();
    let result = written.and_then(|()| partition.flush());
    let done = crate::time::now();
    let took = done.saturating_duration_since(started);
    match result {
        Ok(()) => log::info!(
            "storage bench: raw write of 100 KiB took {} us ({} us writing, {} us flushing the device's cache)",
            took.as_micros(),
            wrote.saturating_duration_since(started).as_micros(),
            done.saturating_duration_since(wrote).as_micros()
        ),
        Err(e) => log::warn!("storage bench: raw write failed: {e}"),
    }
}

/// Runs the test switches of `\moteos\boot-options` that exercise storage.
pub fn run_boot_tests(service: &StorageService, options: &crate::boot_info::BootOptions) {
    for (path, text) in &options.test_write {
        match service.read_file(path, MAX_FILE) {
            Ok(bytes) => log::info!("storage test: {path} held {:?}", String::from_utf8_lossy(&bytes)),
            Err(e) => log::info!("storage test: {path} before writing: {e}"),
        }
        match service.write_file(path, text.as_bytes()) {
            Ok(()) => log::info!("storage test: wrote {path}"),
            Err(e) => log::warn!("storage test: writing {path} failed: {e}"),
        }
    }
    if let Some(text) = &options.test_settings {
        match service.load_settings() {
            Some(found) => log::info!(
                "storage test: settings before saving came from {:?}: {:?}",
                found.source,
                String::from_utf8_lossy(&found.text)
            ),
            None => log::info!("storage test: no settings before saving"),
        }
        match service.save_settings(text) {
            Ok(to) => log::info!("storage test: settings saved ({to:?})"),
            Err(e) => log::warn!("storage test: settings not saved: {e}"),
        }
    }
    if options.test_storage_bench {
        bench(service);
    }
}

fn bench(service: &StorageService) {
    let settings = "[provider]\nactive = \"anthropic\"\n\n[providers.anthropic]\nmodel = \"claude-sonnet-4-5\"\n";
    let time = |what: &str, f: &mut dyn FnMut() -> Result<(), ServiceError>| {
        let started = crate::time::now();
        let result = f();
        let took = crate::time::now().saturating_duration_since(started);
        match result {
            Ok(()) => log::info!("storage bench: {what} took {} us", took.as_micros()),
            Err(e) => log::warn!("storage bench: {what} failed: {e}"),
        }
    };
    time("saving settings", &mut || service.save_settings(settings).map(|_| ()));
    // A 50-turn conversation as JSON, about 100 KB.
    let mut chat = String::from("{\"title\":\"bench\",\"provider\":\"local\",\"turns\":[");
    for turn in 0..50 {
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        chat.push_str(&format!("{{\"role\":\"{role}\",\"text\":\"{}\"}},", "lorem ipsum dolor ".repeat(110)));
    }
    chat.pop();
    chat.push_str("]}");
    let bytes = chat.len();
    time(&format!("saving a 50-turn conversation ({bytes} bytes)"), &mut || {
        service.write_file("\\moteos\\chats\\bench.json", chat.as_bytes())
    });
}
