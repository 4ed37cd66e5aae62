//! What the `boot` crate learned from the firmware, handed to [`crate::start`].
//!
//! These types are plain data owned by the kernel: after `ExitBootServices` no
//! firmware structure is trusted any more, so `boot` copies everything it needs
//! into them first.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Everything the kernel needs from the firmware.
#[derive(Debug)]
pub struct BootInfo {
    /// The physical memory map as the firmware reported it at `ExitBootServices`.
    pub memory_map: Vec<MemoryRegion>,
    /// The linear framebuffer, if the firmware offered one.
    pub framebuffer: Result<FramebufferInfo, FramebufferError>,
    /// Physical address of the ACPI RSDP (version 2 preferred).
    pub rsdp: Option<u64>,
    /// Wall-clock time read with `GetTime` just before exiting boot services.
    pub boot_time: Option<WallClock>,
    /// Seed material for the kernel's random number generator.
    pub entropy: Entropy,
    /// `\moteos\config.toml` from the boot partition, raw bytes.
    pub config_file: FileLoad,
    /// The PEM bundle named by `[tls] extra_ca_file`, if the config names one.
    pub extra_ca_file: Option<(String, FileLoad)>,
    /// The local model, when the configuration asks for one (or there is none).
    pub model: Option<ModelFile>,
    /// Firmware vendor string and revision, for the log.
    pub firmware: String,
    /// Boot options baked into the image (see [`BootOptions`]).
    pub options: BootOptions,
    /// Switches the machine off through the firmware's runtime service `ResetSystem`
    /// (callable after `ExitBootServices`); `None` when the firmware has none.
    pub firmware_shutdown: Option<fn() -> !>,
    /// The GPT partition the image was loaded from, if the firmware said.
    pub boot_partition: Option<BootPartition>,
}

/// The boot partition as the firmware's device path describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootPartition {
    /// Its unique GPT GUID, in on-disk byte order.
    pub guid: [u8; 16],
    /// Its 1-based number in the partition table.
    pub number: u32,
    /// First block.
    pub first_lba: u64,
    /// Size in blocks.
    pub blocks: u64,
}

/// Switches read from `\moteos\boot-options` on the ESP; used by tests.
///
/// `Debug` (logged at boot) shows the URLs without their credentials.
#[derive(Clone, Default)]
pub struct BootOptions {
    /// Panic on purpose once the kernel is up, to exercise the panic screen.
    pub test_panic: bool,
    /// Raise a CPU exception on purpose, to exercise the exception diagnostics.
    pub test_fault: bool,
    /// Sleep 2 s with the kernel timer and report it, to check the clock against the host.
    pub test_sleep: bool,
    /// Recurse without end on purpose, to show that a stack overflow is caught by the guard page.
    pub test_stack_overflow: bool,
    /// Run a job on every processor through the work pool and log which processor ran which.
    pub test_pool: bool,
    /// Leave the application processors halted (boot benchmarks compare with and without).
    pub no_smp: bool,
    /// Download these URLs once the network is up and report size, SHA-256 and timing.
    pub test_fetch: alloc::vec::Vec<String>,
    /// Replace the firmware's clock reading with this time (seconds since 1970, UTC), to
    /// exercise clocks that are wrong.
    pub test_clock: Option<i64>,
    /// `test-write=PATH=TEXT`: write TEXT to PATH through the storage service at boot
    /// (unless it is already there) and log what PATH held before.
    pub test_write: alloc::vec::Vec<(String, String)>,
    /// `test-settings=TEXT`: save TEXT (with `;` for newlines) as the settings at boot.
    pub test_settings: Option<String>,
    /// `test-storage-bench`: time settings and conversation saves and raw block writes.
    pub test_storage_bench: bool,
    /// Write a pattern to the first USB stick found and read it back.
    pub test_usb_disk: bool,
    /// `bench-keys`: log the time from a key's interrupt to the end of the redraw that
    /// shows it (the `cargo xtask bench ui` guest figure).
    pub bench_keys: bool,
}

impl core::fmt::Debug for BootOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let urls: alloc::vec::Vec<_> = self.test_fetch.iter().map(|url| http::RedactedUrl(url)).collect();
        f.debug_struct("BootOptions")
            .field("test_panic", &self.test_panic)
            .field("test_fault", &self.test_fault)
            .field("test_sleep", &self.test_sleep)
            .field("test_fetch", &urls)
            .field("test_stack_overflow", &self.test_stack_overflow)
            .field("test_pool", &self.test_pool)
            .field("no_smp", &self.no_smp)
            .field("test_clock", &self.test_clock)
            .field("test_write", &self.test_write.len())
            .field("test_settings", &self.test_settings.is_some())
            .field("test_storage_bench", &self.test_storage_bench)
            .field("test_usb_disk", &self.test_usb_disk)
            .finish()
    }
}

/// What one range of physical memory holds, reduced to what the kernel cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Free RAM (`EfiConventionalMemory`).
    Usable,
    /// Firmware boot-services code and data: free once the kernel no longer relies
    /// on anything the firmware set up there (page tables, the boot stack).
    BootServices,
    /// The moteOS image and the data `boot` allocated (`EfiLoaderCode/Data`).
    Loader,
    /// ACPI tables; reclaimable once they have been parsed.
    AcpiReclaimable,
    /// ACPI non-volatile storage: RAM the firmware keeps for itself for good.
    AcpiNvs,
    /// Runtime-services code and data: must stay untouched for `GetTime` and friends.
    RuntimeServices,
    /// Memory-mapped I/O and everything else the kernel must never allocate from.
    Reserved,
}

/// One contiguous range of physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First physical address of the range.
    pub start: u64,
    /// Length in bytes (a multiple of 4 KiB).
    pub len: u64,
    /// What the range holds.
    pub kind: MemoryKind,
}

/// How a 32-bit framebuffer pixel is laid out, as GOP reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Byte 0 red, byte 1 green, byte 2 blue.
    Rgb,
    /// Byte 0 blue, byte 1 green, byte 2 red.
    Bgr,
    /// Arbitrary channel masks.
    Bitmask {
        /// Bits of the red channel.
        red: u32,
        /// Bits of the green channel.
        green: u32,
        /// Bits of the blue channel.
        blue: u32,
    },
}

/// A linear framebuffer left behind by the firmware's Graphics Output Protocol.
#[derive(Debug, Clone, Copy)]
pub struct FramebufferInfo {
    /// Physical (identity-mapped) address of the first pixel.
    pub base: u64,
    /// Size of the framebuffer memory in bytes.
    pub size: usize,
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Pixels per scan line (at least `width`).
    pub stride: u32,
    /// Pixel layout.
    pub format: PixelFormat,
}

/// Why there is no framebuffer to draw on.
#[derive(Debug, Clone)]
pub enum FramebufferError {
    /// No handle supports the Graphics Output Protocol (e.g. no display device).
    NoGop,
    /// GOP exists but offers only `Blt()`, which is gone after `ExitBootServices`.
    BltOnly,
    /// The firmware reported something unusable.
    Firmware(String),
}

impl fmt::Display for FramebufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoGop => f.write_str(
                "no graphics output: the firmware offers no GOP display (add a display device); \
                 continuing on the serial console only",
            ),
            Self::BltOnly => f.write_str(
                "the display only supports Blt() without a linear framebuffer; \
                 continuing on the serial console only",
            ),
            Self::Firmware(why) => write!(f, "the display could not be set up: {why}"),
        }
    }
}

/// A calendar date and time as the firmware clock reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Full year, e.g. 2026.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day of month 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
    /// Second 0..=59.
    pub second: u8,
    /// Offset from UTC in minutes, if the firmware knows it.
    pub utc_offset_minutes: Option<i16>,
}

impl WallClock {
    /// The UTC reading for `unix` seconds since 1970 (the `test-clock=` boot option).
    pub fn from_unix_utc(unix: i64) -> WallClock {
        let c = hal::CivilDateTime::from_unix_seconds(unix);
        WallClock {
            year: u16::try_from(c.year).unwrap_or(if c.year < 0 { 0 } else { u16::MAX }),
            month: c.month,
            day: c.day,
            hour: c.hour,
            minute: c.minute,
            second: c.second,
            utc_offset_minutes: Some(0),
        }
    }
}

impl fmt::Display for WallClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        match self.utc_offset_minutes {
            Some(0) => f.write_str(" UTC"),
            Some(m) => write!(f, " UTC{:+03}:{:02}", m / 60, (m % 60).abs()),
            None => f.write_str(" (local)"),
        }
    }
}

/// Where the boot entropy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntropySource {
    /// The firmware's `EFI_RNG_PROTOCOL`.
    EfiRng,
    /// The CPU's random-number instruction (RDRAND/RDSEED or RNDR).
    CpuInstruction,
    /// Only timing jitter: weak, reported as such.
    TimingOnly,
}

/// Seed material gathered before `ExitBootServices`.
#[derive(Clone)]
pub struct Entropy {
    /// 32 bytes of seed.
    pub seed: [u8; 32],
    /// Where they came from.
    pub source: EntropySource,
}

impl fmt::Debug for Entropy {
    // Never print the seed itself: it will key TLS sessions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entropy").field("source", &self.source).finish_non_exhaustive()
    }
}

/// The outcome of reading an optional file from the boot partition.
#[derive(Debug, Clone)]
pub enum FileLoad {
    /// The file was read.
    Loaded(Vec<u8>),
    /// There is no such file (a normal first boot).
    Missing,
    /// The file exists but could not be read.
    Unreadable(String),
}

/// The local model file and how reading it went.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Its path on the boot partition.
    pub path: String,
    /// Its contents, or why there are none.
    pub load: ModelLoad,
}

/// The outcome of reading the model file.
#[derive(Clone)]
pub enum ModelLoad {
    /// The whole file, in loader-data pages the kernel never reuses.
    Loaded(&'static [u8]),
    /// There is no such file.
    Missing,
    /// The file exists but could not be read (or does not fit in memory).
    Unreadable(String),
}

impl core::fmt::Debug for ModelLoad {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ModelLoad::Loaded(bytes) => write!(f, "Loaded({} bytes)", bytes.len()),
            ModelLoad::Missing => f.write_str("Missing"),
            ModelLoad::Unreadable(why) => f.debug_tuple("Unreadable").field(why).finish(),
        }
    }
}
