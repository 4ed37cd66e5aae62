//! The local model file: read whole into memory the kernel never reuses, with a progress
//! bar on screen (a 100 MB file takes a few seconds from a USB stick, longer emulated).

use alloc::format;
use alloc::string::String;
use kernel::boot_info::{FramebufferInfo, ModelFile, ModelLoad};
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::proto::media::file::{File, FileAttribute, FileMode, RegularFile};
use uefi::{CString16, Status};

/// Bytes read per firmware call, and between progress updates.
const CHUNK: usize = 4 * 1024 * 1024;

/// Memory that must stay free once the model is in: what the kernel needs to run at all,
/// plus the model's working memory (a 2048-position KV cache of a small model is about
/// 100 MiB). A model that would leave less is not loaded, so the OS still boots and can
/// use the cloud providers.
const HEADROOM: u64 = kernel::memory::MINIMUM_USABLE + 160 * 1024 * 1024;

/// Free (conventional) memory right now, from the firmware's memory map.
fn free_memory() -> Option<u64> {
    use uefi::mem::memory_map::{MemoryMap, MemoryType as Kind};
    let map = boot::memory_map(MemoryType::LOADER_DATA).ok()?;
    Some(map.entries().filter(|d| d.ty == Kind::CONVENTIONAL).map(|d| d.page_count * 4096).sum())
}

/// Which model file to read, if any: the local provider's (`[providers.local] model_file`)
/// when it is the active one, and the default path when there is no usable configuration,
/// so a machine with only a model on its stick still answers. A cloud provider needs none.
pub fn wanted(config_file: &kernel::boot_info::FileLoad) -> Option<String> {
    let parsed = match config_file {
        kernel::boot_info::FileLoad::Loaded(bytes) => config::parse_bytes(bytes).ok(),
        _ => None,
    };
    match parsed {
        Some(config) => match config.active_provider() {
            Some(config::ActiveProvider::Local { model_file }) => Some(uefi_path(model_file)),
            _ => None,
        },
        None => Some(String::from(config::DEFAULT_MODEL_FILE)),
    }
}

/// `/moteos/model.gguf` and `moteos\model.gguf` both mean `\moteos\model.gguf`.
fn uefi_path(path: &str) -> String {
    let mut path: String = path.chars().map(|c| if c == '/' { '\\' } else { c }).collect();
    if !path.starts_with('\\') {
        path.insert(0, '\\');
    }
    path
}

/// Reads `path` into loader-data pages (which stay ours, untouched, after
/// `ExitBootServices`), showing progress on `screen`.
pub fn read(path: &str, screen: Option<&FramebufferInfo>) -> ModelFile {
    let load = match read_into_pages(path, screen) {
        Ok(Some(bytes)) => {
            log::info!("boot: read {path} ({} bytes)", bytes.len());
            ModelLoad::Loaded(bytes)
        }
        Ok(None) => {
            log::info!("boot: {path} not present");
            ModelLoad::Missing
        }
        Err(why) => {
            log::warn!("boot: {path} unreadable: {why}");
            ModelLoad::Unreadable(why)
        }
    };
    ModelFile { path: String::from(path), load }
}

fn read_into_pages(path: &str, screen: Option<&FramebufferInfo>) -> Result<Option<&'static [u8]>, String> {
    let path16 = CString16::try_from(path).map_err(|_| format!("path {path} is not valid UCS-2"))?;
    let mut sfs = boot::get_image_file_system(boot::image_handle())
        .map_err(|e| format!("the boot partition is not readable ({:?})", e.status()))?;
    let mut root = sfs.open_volume().map_err(|e| format!("opening the boot partition failed ({:?})", e.status()))?;
    let handle = match root.open(&path16, FileMode::Read, FileAttribute::empty()) {
        Ok(handle) => handle,
        Err(e) if e.status() == Status::NOT_FOUND => return Ok(None),
        Err(e) => return Err(format!("opening it failed ({:?})", e.status())),
    };
    let mut file = handle.into_regular_file().ok_or_else(|| String::from("it is a directory, not a file"))?;
    file.set_position(RegularFile::END_OF_FILE).map_err(|e| format!("seeking failed ({:?})", e.status()))?;
    let size = file.get_position().map_err(|e| format!("seeking failed ({:?})", e.status()))?;
    file.set_position(0).map_err(|e| format!("seeking failed ({:?})", e.status()))?;
    let size = usize::try_from(size).map_err(|_| String::from("it is larger than memory"))?;
    if size == 0 {
        return Err(String::from("the file is empty"));
    }
    // What parsing the file will allocate on the heap counts too: its header's counts,
    // believed only as far as the file's length can back them.
    let mut header = [0u8; 24];
    let got = file.read(&mut header).map_err(|e| format!("reading failed at byte 0 ({:?})", e.status()))?;
    file.set_position(0).map_err(|e| format!("seeking failed ({:?})", e.status()))?;
    let parser = inference::gguf::parse_memory_bound(&header[..got], size as u64);
    let needed = (size as u64).saturating_add(parser).saturating_add(HEADROOM);
    if let Some(free) = free_memory()
        && needed > free
    {
        return Err(format!(
            "it needs about {} MiB of RAM to run but only {} MiB are free; give the machine more memory",
            needed >> 20,
            free >> 20
        ));
    }
    if parser > 1 << 20 {
        log::info!("boot: reading {path} may take {} MiB of heap for its descriptions", parser >> 20);
    }
    let pages = size.div_ceil(4096);
    let base = boot::allocate_pages(AllocateType::AnyPages, MemoryType::LOADER_DATA, pages).map_err(|e| {
        format!("it is {} MiB, more than the free memory ({:?}); give the machine more RAM", size >> 20, e.status())
    })?;
    // SAFETY: the firmware just gave us `pages` pages at `base` for our exclusive use, so
    // writing all `size` bytes (<= pages * 4096) is in bounds; zeroing them first means the
    // slice below never refers to uninitialised memory.
    unsafe { core::ptr::write_bytes(base.as_ptr(), 0, size) };
    // SAFETY: the pages are ours (above) and now initialised; they are loader data, which
    // the kernel's allocator never claims, so they stay valid and unaliased for the rest of
    // the run, and nothing else holds a reference to them.
    let buffer: &'static mut [u8] = unsafe { core::slice::from_raw_parts_mut(base.as_ptr(), size) };
    match fill(&mut file, buffer, path, screen) {
        Ok(()) => Ok(Some(buffer)),
        Err(why) => {
            // SAFETY: `base` and `pages` are exactly what `allocate_pages` returned, and
            // `buffer`, the only reference into them, is not used after this point.
            let _ = unsafe { boot::free_pages(base, pages) };
            Err(why)
        }
    }
}

/// Reads the whole file into `buffer`, updating the progress bar.
fn fill(file: &mut RegularFile, buffer: &mut [u8], path: &str, screen: Option<&FramebufferInfo>) -> Result<(), String> {
    let size = buffer.len();
    let mut done = 0;
    let mut shown = usize::MAX;
    while done < size {
        let end = (done + CHUNK).min(size);
        let n = file
            .read(&mut buffer[done..end])
            .map_err(|e| format!("reading failed at byte {done} ({:?})", e.status()))?;
        if n == 0 {
            return Err(format!("the file ended after {done} of {size} bytes"));
        }
        done += n;
        let percent = done * 100 / size;
        if percent != shown {
            shown = percent;
            if let Some(screen) = screen {
                kernel::display::draw_load_progress(screen, path, done, size);
            }
        }
    }
    Ok(())
}
