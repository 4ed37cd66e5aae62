//! The QEMU end-to-end suite: boots the real image on each architecture and
//! checks what a user (or the serial console) would see.
//!
//! Each case builds its own disk image from a temporary ESP (so it can add or
//! break files), boots it, and reads the serial log and QMP screenshots. Two
//! guests run side by side; a failure prints the tail of the guest's serial log.

use crate::arch::Arch;
use crate::builder;
use crate::e2e_harden::{
    clock_1970_corrected, clock_2100_refused, hostile_model_deep_nesting, hostile_model_head_size,
    hostile_model_huge_counts, plain_http_cloud_refused, secrets_stay_off_the_serial_log, tls_truncation_reported,
};
use crate::image;
use crate::mock_llm::{self, Dialect, MOCK_KEY, MockLlm};
use crate::qemu::{self, Display, Machine, Nic, QemuOptions};
use crate::servers::{self, BLOB_LEN};
use anyhow::{Context, Result, anyhow, bail, ensure};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Generous: TCG boots take 5-15 s, more with two guests on two cores.
pub(crate) const BOOT_TIMEOUT: Duration = Duration::from_secs(150);

/// An entry to put on a test ESP under `\moteos\`.
#[derive(Debug, Clone)]
pub enum EspEntry {
    /// A file with these contents.
    File(&'static str, Vec<u8>),
    /// A directory (used to make a file unreadable: a folder where a file belongs).
    Dir(&'static str),
}

/// What a test case gets to work with.
#[derive(Debug)]
pub struct Ctx {
    pub(crate) arch: Arch,
    efi: PathBuf,
    pub(crate) dir: tempfile::TempDir,
}

impl Ctx {
    /// Boots moteOS from a fresh image holding `entries`, with a virtio-net card.
    pub fn boot(&self, entries: &[EspEntry], display: Display) -> Result<Machine> {
        self.boot_with(entries, display, Nic::VirtioNet)
    }

    /// Boots moteOS from a fresh image holding `entries`.
    pub fn boot_with(&self, entries: &[EspEntry], display: Display, nic: Nic) -> Result<Machine> {
        self.boot_full(entries, display, nic, qemu::DEFAULT_MEMORY_MIB)
    }

    /// Boots moteOS from a fresh image holding `entries`, with `memory_mib` of RAM.
    pub fn boot_full(&self, entries: &[EspEntry], display: Display, nic: Nic, memory_mib: u32) -> Result<Machine> {
        self.boot_extras(entries, display, nic, memory_mib, &qemu::Extras::default())
    }

    /// Boots moteOS from a fresh image holding `entries`, with extra QEMU settings.
    pub(crate) fn boot_extras(
        &self,
        entries: &[EspEntry],
        display: Display,
        nic: Nic,
        memory_mib: u32,
        extras: &qemu::Extras,
    ) -> Result<Machine> {
        let disk = self.build_image(entries)?;
        Machine::launch_with(&QemuOptions { arch: self.arch, disk, memory_mib, display, nic }, extras)
    }

    /// Boots moteOS from a fresh image holding `entries`, with `extra` QEMU arguments after
    /// the usual ones (QEMU merges a repeated `-machine` into the first; a later `-smp` wins).
    pub fn boot_extra(
        &self,
        entries: &[EspEntry],
        display: Display,
        nic: Nic,
        memory_mib: u32,
        extra: &[&str],
    ) -> Result<Machine> {
        let extras = qemu::Extras { args: extra.iter().map(|a| String::from(*a)).collect(), ..qemu::Extras::default() };
        self.boot_extras(entries, display, nic, memory_mib, &extras)
    }

    /// The architecture under test.
    pub(crate) fn arch(&self) -> Arch {
        self.arch
    }

    /// This case's temporary folder.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Builds a disk image holding `entries` under `\moteos\`; returns its path.
    pub(crate) fn build_image(&self, entries: &[EspEntry]) -> Result<PathBuf> {
        let esp = self.dir.path().join("esp");
        let _ = std::fs::remove_dir_all(&esp);
        builder::layout_esp(&esp, self.arch, &self.efi, &[])?;
        for entry in entries {
            match entry {
                EspEntry::File(name, bytes) => {
                    let path = esp.join("moteos").join(name);
                    std::fs::create_dir_all(path.parent().context("no parent")?)?;
                    std::fs::write(&path, bytes)?;
                }
                EspEntry::Dir(name) => std::fs::create_dir_all(esp.join("moteos").join(name))?,
            }
        }
        let disk = self.dir.path().join("disk.img");
        image::write_disk_image(&esp, &disk)?;
        Ok(disk)
    }

    /// A path for a screenshot, inside this case's temporary folder.
    pub fn screenshot_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.png"))
    }
}

pub(crate) type CaseFn = fn(&Ctx, &mut Option<Machine>) -> Result<()>;

struct Case {
    name: &'static str,
    arches: &'static [Arch],
    run: CaseFn,
}

pub(crate) const BOTH: &[Arch] = &[Arch::X86_64, Arch::Aarch64];
const X86: &[Arch] = &[Arch::X86_64];

fn cases() -> Vec<Case> {
    vec![
        Case { name: "boots_to_ready", arches: BOTH, run: boots_to_ready },
        Case { name: "panic_screen", arches: BOTH, run: panic_screen },
        Case { name: "unreadable_config", arches: &[Arch::X86_64], run: unreadable_config },
        Case { name: "broken_config", arches: &[Arch::X86_64], run: broken_config },
        Case { name: "too_little_memory", arches: &[Arch::X86_64], run: too_little_memory },
        Case { name: "no_display", arches: &[Arch::Aarch64], run: no_display },
        Case { name: "keyboard_to_screen", arches: BOTH, run: keyboard_to_screen },
        Case { name: "network_virtio_net", arches: BOTH, run: network_virtio_net },
        Case { name: "network_e1000", arches: &[Arch::X86_64], run: network_e1000 },
        Case { name: "network_static_and_bad_servers", arches: &[Arch::X86_64], run: network_static_and_bad_servers },
        Case { name: "tls_verified_and_refused", arches: BOTH, run: tls_verified_and_refused },
        Case { name: "tls_without_test_ca", arches: &[Arch::X86_64], run: tls_without_test_ca },
        Case { name: "serial_input", arches: BOTH, run: serial_input },
        Case { name: "sleep_matches_host_clock", arches: BOTH, run: sleep_matches_host_clock },
        Case { name: "exception_diagnostics", arches: BOTH, run: exception_diagnostics },
        Case { name: "chat_anthropic_serial_and_keys", arches: BOTH, run: chat_anthropic_serial_and_keys },
        Case { name: "chat_openai_compatible_https", arches: BOTH, run: chat_openai_compatible_https },
        Case { name: "local_model_offline", arches: BOTH, run: local_model_offline },
        Case { name: "local_model_broken", arches: &[Arch::X86_64], run: local_model_broken },
        Case { name: "local_model_too_big", arches: &[Arch::X86_64], run: local_model_too_big },
        Case { name: "hostile_model_head_size", arches: X86, run: hostile_model_head_size },
        Case { name: "hostile_model_deep_nesting", arches: X86, run: hostile_model_deep_nesting },
        Case { name: "hostile_model_huge_counts", arches: X86, run: hostile_model_huge_counts },
        Case { name: "plain_http_cloud_refused", arches: X86, run: plain_http_cloud_refused },
        Case { name: "secrets_stay_off_the_serial_log", arches: BOTH, run: secrets_stay_off_the_serial_log },
        Case { name: "tls_truncation_reported", arches: X86, run: tls_truncation_reported },
        Case { name: "clock_1970_corrected", arches: BOTH, run: clock_1970_corrected },
        Case { name: "clock_2100_refused", arches: X86, run: clock_2100_refused },
        Case {
            name: "storage_survives_reboot_virtio_blk",
            arches: BOTH,
            run: crate::e2e_storage::survives_reboot_virtio,
        },
        Case {
            name: "storage_survives_reboot_ahci",
            arches: &[Arch::X86_64],
            run: crate::e2e_storage::survives_reboot_ahci,
        },
        Case {
            name: "storage_survives_reboot_nvme",
            arches: &[Arch::X86_64],
            run: crate::e2e_storage::survives_reboot_nvme,
        },
        Case {
            name: "model_and_conversation_survive_reboot",
            arches: BOTH,
            run: crate::e2e_persist::model_and_conversation_survive_reboot,
        },
        Case {
            name: "storage_readonly_keeps_settings_in_variables",
            arches: BOTH,
            run: crate::e2e_storage::readonly_disk,
        },
        Case {
            name: "storage_damaged_fat_and_full_disk",
            arches: &[Arch::X86_64],
            run: crate::e2e_storage::damaged_and_full,
        },
        Case { name: "usb_keyboard", arches: BOTH, run: crate::e2e_usb::usb_keyboard },
        Case {
            name: "usb_keyboard_behind_hub_and_hotplug",
            arches: BOTH,
            run: crate::e2e_usb::usb_keyboard_behind_hub,
        },
        Case { name: "usb_net_only_nic", arches: BOTH, run: crate::e2e_usb::usb_net_only_nic },
        Case { name: "usb_storage_write_read", arches: BOTH, run: crate::e2e_usb::usb_storage_write_read },
        Case {
            name: "gicv3_its_keys_and_chat",
            arches: &[Arch::Aarch64],
            run: crate::e2e_arch::gicv3_its_keys_and_chat,
        },
        Case { name: "gicv3_without_its", arches: &[Arch::Aarch64], run: crate::e2e_arch::gicv3_without_its },
        Case { name: "memory_accounting", arches: BOTH, run: crate::e2e_arch::memory_accounting },
        Case { name: "stack_overflow_guard", arches: BOTH, run: crate::e2e_arch::stack_overflow_guard },
        Case { name: "smp_pool_on_every_cpu", arches: BOTH, run: crate::e2e_arch::smp_pool_on_every_cpu },
        Case { name: "chat_interface", arches: BOTH, run: crate::e2e_ui::chat_interface },
        Case { name: "wizard_first_boot_then_chat", arches: BOTH, run: crate::e2e_wizard::first_boot_then_chat },
        Case { name: "wizard_broken_config", arches: X86, run: crate::e2e_wizard::broken_config_opens_wizard },
    ]
}

/// A machine without a configuration opens the setup wizard: Esc (a lone ESC on the
/// serial console) closes it, so a test can type into the chat.
pub(crate) fn close_wizard(m: &mut Machine) -> Result<()> {
    m.wait_for("wizard: step network", Duration::from_secs(30)).context("the setup wizard did not open")?;
    m.send_serial(b"\x1b")?;
    m.wait_for("wizard: closed without saving", Duration::from_secs(20))
        .context("Esc did not close the setup wizard")?;
    Ok(())
}

/// Runs every case for `arches` (optionally filtered by name) and fails if any failed.
pub fn run(arches: &[Arch], filter: Option<&str>) -> Result<()> {
    let mut efis = Vec::new();
    for &arch in arches {
        let (efi, _) = builder::compile(arch, false)?;
        efis.push((arch, efi));
    }
    let mut queue = VecDeque::new();
    for case in cases() {
        for &(arch, ref efi) in &efis {
            let name = format!("e2e::{arch}::{}", case.name);
            if case.arches.contains(&arch) && filter.is_none_or(|f| name.contains(f)) {
                queue.push_back((name, arch, efi.clone(), case.run));
            }
        }
    }
    let total = queue.len();
    println!("\nrunning {total} end-to-end tests (QEMU, TCG)");
    let queue = Mutex::new(queue);
    let failures = Mutex::new(Vec::new());
    let passed = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some((name, arch, efi, run)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let started = Instant::now();
                    let outcome = run_case(arch, efi, run);
                    let secs = started.elapsed().as_secs_f64();
                    match outcome {
                        Ok(()) => {
                            println!("test {name} ... ok ({secs:.1} s)");
                            if let Ok(mut p) = passed.lock() {
                                *p += 1;
                            }
                        }
                        Err((err, tail)) => {
                            println!(
                                "test {name} ... FAILED ({secs:.1} s)\n    {err:#}\n--- serial tail ---\n{tail}\n---"
                            );
                            if let Ok(mut f) = failures.lock() {
                                f.push(name);
                            }
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().map_err(|_| anyhow!("poisoned"))?;
    let passed = passed.into_inner().map_err(|_| anyhow!("poisoned"))?;
    println!("\ne2e: {passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        bail!("end-to-end failures: {}", failures.join(", "));
    }
    Ok(())
}

fn run_case(arch: Arch, efi: PathBuf, run: CaseFn) -> std::result::Result<(), (anyhow::Error, String)> {
    let dir = tempfile::Builder::new().prefix("moteos-e2e-").tempdir().map_err(|e| (e.into(), String::new()))?;
    let ctx = Ctx { arch, efi, dir };
    let mut machine = None;
    let result = run(&ctx, &mut machine);
    result.map_err(|e| (e, machine.as_ref().map(|m| m.serial_tail(30)).unwrap_or_default()))
}

/// Copies a screenshot to `target/e2e-screenshots/` so people can look at what the test saw.
pub(crate) fn keep_screenshot(shot: &Path, name: &str) {
    let dir = builder::root().join("target/e2e-screenshots");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::copy(shot, dir.join(format!("{name}.png")));
    }
}

/// The first number after `prefix` in the serial log.
pub(crate) fn number_after(text: &str, prefix: &str) -> Result<u64> {
    let start = text.find(prefix).ok_or_else(|| anyhow!("{prefix:?} not in the serial log"))? + prefix.len();
    let digits: String = text[start..].chars().skip_while(|c| *c == ' ').take_while(char::is_ascii_digit).collect();
    digits.parse().with_context(|| format!("no number after {prefix:?}"))
}

fn boots_to_ready(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let log = m.serial_text();
    ensure!(log.contains("no \\moteos\\config.toml on the boot partition"), "missing config was not reported");

    // The heap (memory moteOS can really allocate) must be close to what QEMU was given.
    // After boot-services memory joined it: the heap in the final accounting line, in KiB.
    let usable = number_after(&log, "free (heap ")? / 1024;
    let ram = u64::from(qemu::DEFAULT_MEMORY_MIB);
    let deviation = usable.abs_diff(ram) as f64 / ram as f64;
    ensure!(deviation <= 0.05, "kernel has a {usable} MiB heap, QEMU has {ram} MiB ({:.1} % off)", deviation * 100.0);

    // The FPU did the arithmetic (the inexact flag is only raised by hardware).
    ensure!(
        log.contains("fpu: hardware floating point active (inexact flag raised by the FPU): 1/3 = 0.33333333333333331, 0.1 + 0.2 = 0.30000000000000004"),
        "hardware floating point check missing or wrong"
    );

    // Wall-clock time comes from the firmware clock, which QEMU sets from the host.
    let guest_unix = number_after(&log, "(unix ")?;
    let host_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    ensure!(guest_unix.abs_diff(host_unix) < 300, "guest wall clock {guest_unix} is far from the host's {host_unix}");

    let shot = ctx.screenshot_path("ready");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-ready", ctx.arch));
    let stats = ScreenStats::of(&shot)?;
    let width = number_after(&log, "display: framebuffer ")?;
    let height = number_after(&log, &format!("display: framebuffer {width}x"))?;
    ensure!(
        (u64::from(stats.width), u64::from(stats.height)) == (width, height),
        "screenshot is {}x{}, the kernel reported {width}x{height}",
        stats.width,
        stats.height
    );
    ensure!(stats.distinct_colors >= 8, "screen looks blank: only {} colours", stats.distinct_colors);
    ensure!(stats.foreground_fraction > 0.002, "screen looks blank: {:.3} % drawn", stats.foreground_fraction * 100.0);
    Ok(())
}

fn panic_screen(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let config = b"[provider]\nactive = \"local\"\n".to_vec();
    let len = config.len();
    let entries = [EspEntry::File("config.toml", config), EspEntry::File("boot-options", b"test-panic\n".to_vec())];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    m.wait_for("moteOS panic: test panic requested by the boot options", BOOT_TIMEOUT)?;
    // Give the panic screen a moment to be copied to the framebuffer.
    m.wait_for("crates/kernel/src/lib.rs:", Duration::from_secs(5)).context("the panic location is missing")?;
    let log = m.serial_text();
    ensure!(log.contains(&format!("boot: read \\moteos\\config.toml ({len} bytes)")), "config file not read");
    ensure!(!log.contains("moteOS ready"), "the kernel reported ready despite the requested panic");
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("panic");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-panic", ctx.arch));
    let stats = ScreenStats::of(&shot)?;
    ensure!(
        stats.reddish_fraction > 0.05,
        "no panic screen: only {:.1} % of the screen is red",
        stats.reddish_fraction * 100.0
    );
    Ok(())
}

fn unreadable_config(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[EspEntry::Dir("config.toml")], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    ensure!(
        m.serial_text().contains("config: \\moteos\\config.toml could not be read"),
        "unreadable config not reported"
    );
    Ok(())
}

fn broken_config(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let config =
        b"[provider]\nactive = \"antropic\"\n\n[providers.anthropic]\napi_key = \"sk-ant-secret-1234\"\n".to_vec();
    let m = slot.insert(ctx.boot(&[EspEntry::File("config.toml", config)], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let log = m.serial_text();
    ensure!(
        log.contains("config: config.toml line 2") && log.contains("is not a provider"),
        "the broken config was not explained with its line"
    );
    ensure!(!log.contains("sk-ant-secret-1234"), "the API key leaked onto the serial console");
    Ok(())
}

fn too_little_memory(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot_full(&[], Display::Headless, Nic::VirtioNet, 100)?);
    m.wait_for_line("moteOS needs at least 64 MiB", BOOT_TIMEOUT)?;
    m.wait_for_line("moteOS panic: not enough memory", Duration::from_secs(10))?;
    ensure!(!m.serial_text().contains("moteOS ready"), "reported ready without enough memory");
    Ok(())
}

fn no_display(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[], Display::NoDevice)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    ensure!(m.serial_text().contains("display: no graphics output"), "missing display not reported");
    Ok(())
}

fn keyboard_to_screen(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    close_wizard(m)?;
    let before = ctx.screenshot_path("before-typing");
    m.screendump(&before)?;
    // QMP send-key goes through the emulated keyboard: PS/2 (IRQ 1 -> I/O APIC) on
    // x86_64, virtio-input on AArch64.
    // Typed keys are never logged (they may be a secret): what they do is checked instead.
    m.send_keys(&["m", "o", "t", "e", "shift-1"])?;
    std::thread::sleep(Duration::from_millis(1500));
    let during = ctx.screenshot_path("typing");
    m.screendump(&during)?;
    keep_screenshot(&during, &format!("{}-typing", ctx.arch));
    let changed = ScreenStats::changed_pixels(&before, &during)?;
    ensure!(changed > 200, "typing changed only {changed} pixels on screen");
    m.send_keys(&["ret"])?;
    m.wait_for("you: mote!", Duration::from_secs(20)).context("the typed line did not arrive")?;
    // Ctrl chords and function keys decode too: Ctrl+C clears the input, F1 opens the help.
    m.send_keys(&["x", "y", "z", "ctrl-c", "q", "ret"])?;
    m.wait_for("you: q\r", Duration::from_secs(20)).context("Ctrl+C did not clear the input")?;
    m.send_keys(&["f1"])?;
    m.wait_for("screen: help", Duration::from_secs(20)).context("F1 did not open the help")?;
    m.send_keys(&["esc"])?;
    let log = m.serial_text();
    if ctx.arch == Arch::Aarch64 {
        ensure!(log.contains("interrupts through MSI-X"), "the virtio keyboard is polled, not interrupt-driven");
    }
    Ok(())
}

fn serial_input(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    close_wizard(m)?;
    m.send_serial(b"hello serial\r")?;
    m.wait_for("you: hello serial", Duration::from_secs(20))?;
    // Escape sequences become keys (Ctrl+Left moves back a word), garbage is dropped without
    // harm.
    m.send_serial(b"ab cd\x1b[1;5DX\x1b[99;99;99;99;99;99;99;99Z\xff\xfe\r")?;
    m.wait_for("you: ab Xcd", Duration::from_secs(20)).context("ESC [1;5D was not decoded as Ctrl+Left")?;
    m.send_serial(b"still fine\r")?;
    m.wait_for("you: still fine", Duration::from_secs(20)).context("input stopped working after garbage")?;
    let log = m.serial_text();
    let last = log.rfind("input: ignored so far: ").map(|i| &log[i..]).context("ignored input was not reported")?;
    let malformed = number_after(last, "unknown scancodes, ")?;
    ensure!(malformed >= 1, "the malformed escape sequence was not counted");
    Ok(())
}

fn sleep_matches_host_clock(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[EspEntry::File("boot-options", b"test-sleep\n".to_vec())], Display::Headless)?);
    let start = m.wait_for("sleep: 2 s starting", BOOT_TIMEOUT)?;
    let end = m.wait_for("sleep: done", Duration::from_secs(30))?;
    let host = end.saturating_sub(start).as_secs_f64();
    ensure!((1.9..=2.1).contains(&host), "a 2 s kernel sleep took {host:.3} s by the host clock (more than 5 % off)");
    m.wait_for("moteOS ready", Duration::from_secs(30))?;
    Ok(())
}

fn exception_diagnostics(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[EspEntry::File("boot-options", b"test-fault\n".to_vec())], Display::Headless)?);
    m.wait_for("moteOS panic: CPU exception:", BOOT_TIMEOUT)?;
    // The report ends with the location of the code that reported it.
    m.wait_for_line("at crates/kernel/src/arch/", Duration::from_secs(10))?;
    let log = m.serial_text();
    match ctx.arch {
        Arch::X86_64 => {
            ensure!(log.contains("general protection fault (#GP)") && log.contains("at RIP 0x"), "no #GP diagnostics")
        }
        Arch::Aarch64 => ensure!(
            log.contains("data abort") && log.contains("faulting address 0xffffdead0000"),
            "no data-abort diagnostics"
        ),
    }
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("fault");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-fault", ctx.arch));
    let stats = ScreenStats::of(&shot)?;
    ensure!(stats.reddish_fraction > 0.05, "no diagnostic screen after the exception");
    // No reset: the machine is still there, halted on the diagnostic screen.
    std::thread::sleep(Duration::from_secs(1));
    // QEMU runs with -no-reboot, so a triple fault or reset would end the process.
    ensure!(m.is_running()?, "the machine reset instead of showing the diagnostics");
    Ok(())
}

/// Boots with DHCP plus the test DNS server, downloads the 1 MiB blob with both
/// framings and checks the checksums the guest computed.
fn network_fetch(ctx: &Ctx, slot: &mut Option<Machine>, nic: Nic) -> Result<()> {
    let servers = servers::shared()?;
    let port = servers.http.port;
    let config = servers::NETWORK_TEST_CONFIG;
    let urls = [
        format!("http://{}:{port}/blob-cl", servers::TEST_HOST),
        format!("http://{}:{port}/blob-chunked", servers::TEST_HOST),
    ];
    let options: String = urls.iter().map(|u| format!("test-fetch={u}\n")).collect();
    let entries = [
        EspEntry::File("config.toml", config.as_bytes().to_vec()),
        EspEntry::File("boot-options", options.into_bytes()),
    ];
    let m = slot.insert(ctx.boot_with(&entries, Display::Headless, nic)?);
    m.wait_for("network: configured 10.0.2.15/24", BOOT_TIMEOUT).context("no DHCP lease")?;
    for url in &urls {
        let line = m.wait_for_line(&format!("fetch: done: {url}:"), Duration::from_secs(120))?;
        let expected = format!("fetch: done: {url}: HTTP 200, {BLOB_LEN} bytes, sha256 {}", servers.blob_sha256);
        ensure!(line.starts_with(&expected), "wrong download: got `{line}`, expected `{expected}`");
        if let Some(timing) = line.rsplit(", ").nth(1) {
            println!(
                "    {} {nic:?} {}: {timing}, {}",
                ctx.arch,
                url.rsplit('/').next().unwrap_or(""),
                line.rsplit(", ").next().unwrap_or("")
            );
        }
    }
    if nic == Nic::VirtioNet {
        ensure!(
            m.serial_text().contains("net: virtio-net interrupts through MSI-X"),
            "virtio-net is not interrupt-driven (MSI-X was not set up)"
        );
    }
    let queries = servers.dns.queries.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    ensure!(
        queries.iter().any(|q| q == servers::TEST_HOST),
        "the DNS server was never asked for {}",
        servers::TEST_HOST
    );
    let requests = servers.http.requests.lock().map_err(|_| anyhow!("poisoned"))?;
    ensure!(
        requests.iter().any(|r| r.request_line == "GET /blob-chunked HTTP/1.1" && r.body.is_empty()),
        "the server never saw `GET /blob-chunked HTTP/1.1`"
    );
    let host = format!("{}:{port}", servers::TEST_HOST);
    ensure!(
        requests.iter().any(|r| r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("host") && *v == host)),
        "the server never saw a request with Host: {host}"
    );
    Ok(())
}

/// Static addressing (no DHCP), then servers that misbehave: each failure is a
/// clear sentence and the next download still works.
fn network_static_and_bad_servers(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let servers = servers::shared()?;
    let port = servers.http.port;
    let config = "[provider]\nactive = \"local\"\n\n[network]\nmode = \"static\"\naddress = \"10.0.2.15/24\"\n\
                  gateway = \"10.0.2.2\"\ndns = [\"10.0.2.2\"]\n";
    let base = format!("http://{}:{port}", servers::TEST_HOST);
    let options = format!(
        "test-fetch={base}/garbage\ntest-fetch={base}/truncated\ntest-fetch=http://no-such-host.moteos.test/\n\
         test-fetch={base}/missing\ntest-fetch={base}/blob-cl\n"
    );
    let entries = [
        EspEntry::File("config.toml", config.as_bytes().to_vec()),
        EspEntry::File("boot-options", options.into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    m.wait_for("network: configured 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.2 (static)", BOOT_TIMEOUT)?;
    let garbage = m.wait_for_line(&format!("fetch: failed: {base}/garbage:"), Duration::from_secs(60))?;
    ensure!(garbage.contains("HTTP: "), "garbage was not reported as an HTTP error: {garbage}");
    let truncated = m.wait_for_line(&format!("fetch: failed: {base}/truncated:"), Duration::from_secs(60))?;
    ensure!(truncated.contains("HTTP: "), "the truncated body was not reported: {truncated}");
    let dns = m.wait_for_line("fetch: failed: http://no-such-host.moteos.test/:", Duration::from_secs(60))?;
    ensure!(dns.contains("DNS"), "the unknown host was not reported as a DNS failure: {dns}");
    let missing = m.wait_for_line(&format!("fetch: done: {base}/missing:"), Duration::from_secs(60))?;
    ensure!(missing.contains("HTTP 404"), "the 404 was not reported: {missing}");
    let good = m.wait_for_line(&format!("fetch: done: {base}/blob-cl:"), Duration::from_secs(60))?;
    ensure!(good.contains(&servers.blob_sha256), "the download after the failures was wrong: {good}");
    println!("    {garbage}\n    {truncated}\n    {dns}");
    Ok(())
}

/// HTTPS with the test CA on the ESP: a verified download, then a wrong host
/// name and an expired certificate, each refused with its reason.
fn tls_verified_and_refused(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let plain = servers::shared()?;
    let tls = servers::shared_tls()?;
    let config = format!("{}\n[tls]\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\n", servers::NETWORK_TEST_CONFIG);
    let url = |port: u16| format!("https://{}:{port}/blob-cl", servers::TEST_HOST);
    let (good, wrong, expired) = (url(tls.good.port), url(tls.wrong_host.port), url(tls.expired.port));
    let options = format!("test-fetch={good}\ntest-fetch={wrong}\ntest-fetch={expired}\n");
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File("ca.pem", tls.pki.ca_pem.clone().into_bytes()),
        EspEntry::File("boot-options", options.into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    let line = m.wait_for_line(&format!("fetch: done: {good}:"), BOOT_TIMEOUT)?;
    ensure!(line.contains(&plain.blob_sha256) && line.contains("HTTP 200"), "wrong HTTPS download: {line}");
    let wrong_line = m.wait_for_line(&format!("fetch: failed: {wrong}:"), Duration::from_secs(60))?;
    ensure!(
        wrong_line.contains("TLS") && wrong_line.contains(servers::TEST_HOST),
        "wrong host not explained: {wrong_line}"
    );
    let expired_line = m.wait_for_line(&format!("fetch: failed: {expired}:"), Duration::from_secs(60))?;
    ensure!(expired_line.contains("TLS") && expired_line.contains("expired"), "expiry not explained: {expired_line}");
    // The reason is on screen too (red text under the input field).
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("tls-refused");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-tls-refused", ctx.arch));
    let stats = ScreenStats::of(&shot)?;
    ensure!(stats.reddish_fraction > 0.0003, "the TLS refusal is not shown on screen");
    // The refusal happened in the handshake: the server saw it fail.
    let refused = tls.wrong_host.failed_handshakes.lock().map_err(|_| anyhow!("poisoned"))?.len();
    ensure!(refused > 0, "the wrong-host server never saw a failed handshake");
    println!("    {}\n    {wrong_line}\n    {expired_line}", line.split(", first").next().unwrap_or(&line));
    Ok(())
}

/// HTTPS to the test server without its CA (and with a corrupt CA file): the
/// built-in roots do not know it, so the connection is refused, never downgraded.
fn tls_without_test_ca(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let tls = servers::shared_tls()?;
    let config = format!("{}\n[tls]\nextra_ca_file = \"/moteos/ca.pem\"\n", servers::NETWORK_TEST_CONFIG);
    let good = format!("https://{}:{}/blob-cl", servers::TEST_HOST, tls.good.port);
    // https:// to a plain-HTTP port: the server answers with HTTP, not TLS.
    let plain_port = format!("https://{}:{}/blob-cl", servers::TEST_HOST, servers::shared()?.http.port);
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File(
            "ca.pem",
            b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        EspEntry::File("boot-options", format!("test-fetch={good}\ntest-fetch={plain_port}\n").into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    let line = m.wait_for_line(&format!("fetch: failed: {good}:"), BOOT_TIMEOUT)?;
    ensure!(line.contains("TLS") && line.contains("trusted"), "unknown issuer not explained: {line}");
    let not_tls = m.wait_for_line(&format!("fetch: failed: {plain_port}:"), Duration::from_secs(60))?;
    ensure!(not_tls.contains("TLS"), "a plain-HTTP answer to https was not explained: {not_tls}");
    println!("    {line}\n    {not_tls}");
    let log = m.serial_text();
    ensure!(log.contains("tls: \\moteos\\ca.pem") && log.contains("ignored"), "the corrupt CA file was not reported");
    ensure!(!log.contains(&format!("fetch: done: {good}")), "the download succeeded without the CA");
    Ok(())
}

fn network_virtio_net(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    network_fetch(ctx, slot, Nic::VirtioNet)
}

fn network_e1000(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    network_fetch(ctx, slot, Nic::E1000)
}

/// Simple measurements of a screenshot.
#[derive(Debug)]
pub struct ScreenStats {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Number of distinct RGB values.
    pub distinct_colors: usize,
    /// Share of pixels that differ from the most common colour.
    pub foreground_fraction: f64,
    /// Share of pixels that are clearly red.
    pub reddish_fraction: f64,
}

impl ScreenStats {
    /// How many pixels differ between two screenshots of the same size.
    pub fn changed_pixels(a: &Path, b: &Path) -> Result<usize> {
        let (wa, ha, pa) = decode_rgb(a)?;
        let (wb, hb, pb) = decode_rgb(b)?;
        ensure!((wa, ha) == (wb, hb), "screenshots differ in size");
        Ok(pa.iter().zip(&pb).filter(|(x, y)| x != y).count())
    }

    /// Decodes a PNG screenshot and measures it.
    pub fn of(path: &Path) -> Result<ScreenStats> {
        let (width, height, pixels) = decode_rgb(path)?;
        let mut counts = std::collections::HashMap::new();
        for p in &pixels {
            *counts.entry(*p).or_insert(0usize) += 1;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        let total = pixels.len().max(1) as f64;
        let reddish =
            pixels.iter().filter(|[r, g, b]| *r as i32 > *g as i32 + 40 && *r as i32 > *b as i32 + 40).count();
        Ok(ScreenStats {
            width,
            height,
            distinct_colors: counts.len(),
            foreground_fraction: (pixels.len() - most) as f64 / total,
            reddish_fraction: reddish as f64 / total,
        })
    }
}

/// Decodes a PNG into RGB triples.
fn decode_rgb(path: &Path) -> Result<(u32, u32, Vec<[u8; 3]>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("screenshot too large")?];
    let frame = reader.next_frame(&mut buf)?;
    let channels = frame.color_type.samples();
    ensure!(channels >= 3, "unexpected screenshot colour type {:?}", frame.color_type);
    let pixels = buf[..frame.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    Ok((frame.width, frame.height, pixels))
}

/// A config that makes `provider` answer from `base_url` with the mock's key.
pub(crate) fn chat_config(provider: &str, base_url: &str, model: &str) -> String {
    format!(
        "[provider]\nactive = \"{provider}\"\n\n[providers.{provider}]\napi_key = \"{MOCK_KEY}\"\nmodel = \"{model}\"\n\
         base_url = \"{base_url}\"\n\n[network]\nmode = \"dhcp\"\ndns = [\"10.0.2.2\"]\n"
    )
}

/// The JSON body of a recorded request.
fn json_body(request: &servers::RecordedRequest) -> Result<serde_json::Value> {
    serde_json::from_slice(&request.body).context("the guest sent a body that is not JSON")
}

pub(crate) fn header<'a>(request: &'a servers::RecordedRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The line-mode chat on the serial console against the Anthropic mock: a streamed reply,
/// then 401, a mid-stream error and a garbage event, each with its sentence while the
/// conversation carries on; then a message typed on the keyboard, with the reply on screen.
fn chat_anthropic_serial_and_keys(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    let config = chat_config("anthropic", &format!("http://10.0.2.2:{}", mock.port), "claude-mock");
    let m = slot.insert(ctx.boot(&[EspEntry::File("config.toml", config.into_bytes())], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let timeout = Duration::from_secs(60);

    m.send_serial(b"hello moteOS\r")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 1, "hello moteOS", 1);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("the first reply did not stream to serial")?;
    let done = m.wait_for_line("chat: reply complete", timeout)?;
    println!("    {}", done.trim());

    m.send_serial(b"trigger-401 please\r")?;
    let line = m.wait_for_line("chat: error: Anthropic refused the API key (HTTP 401)", timeout)?;
    ensure!(line.contains("invalid x-api-key"), "the API's message is missing: {line}");
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("chat-401");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-chat-401", ctx.arch));
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.0003, "the 401 is not shown on screen");

    m.send_serial(b"trigger-midstream now\r")?;
    m.wait_for("assistant: Partial answer before the failure", timeout)?;
    m.wait_for_line("chat: error: Anthropic stopped the reply with an error: Overloaded", timeout)?;

    m.send_serial(b"trigger-garbage ok\r")?;
    // The 401 question is not resent; the cut reply is: 5 turns.
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 2, "trigger-garbage ok", 5);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("garbage in the stream broke the reply")?;
    m.wait_for("chat: skipped", timeout)?;

    // The keyboard path: the same chat, typed on the emulated keyboard.
    let before = ctx.screenshot_path("chat-before-keys");
    std::thread::sleep(Duration::from_millis(300));
    m.screendump(&before)?;
    m.send_keys(&["h", "i", "ret"])?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 3, "hi", 7);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("the typed message got no reply")?;
    std::thread::sleep(Duration::from_millis(500));
    let after = ctx.screenshot_path("chat-after-keys");
    m.screendump(&after)?;
    keep_screenshot(&after, &format!("{}-chat", ctx.arch));
    let changed = ScreenStats::changed_pixels(&before, &after)?;
    ensure!(changed > 2000, "the reply changed only {changed} pixels on screen");

    // The provider's model list is down: the built-in list is offered instead.
    m.send_serial(b"/models\r")?;
    let list = m.wait_for_line("chat: Anthropic did not list its models (HTTP 503)", timeout)?;
    ensure!(list.contains("known models: claude-"), "no built-in model list: {list}");

    // Ctrl+C stops a reply halfway; what arrived is kept.
    m.send_serial(b"trigger-slow story\r")?;
    m.wait_for("assistant: Slowly, piece", timeout)?;
    m.send_serial(b"\x03")?;
    m.wait_for("chat: reply stopped by the user (Ctrl+C)", timeout)?;

    let log = m.serial_text();
    ensure!(!log.contains(MOCK_KEY), "the API key appeared on the serial console");
    ensure!(!log.contains("halfway through by the user"), "the slow reply was not stopped");
    let (requests, others): (Vec<_>, Vec<_>) =
        mock.recorded().into_iter().partition(|r| r.request_line.starts_with("POST "));
    ensure!(requests.len() == 6, "the mock saw {} chat requests, expected 6", requests.len());
    let models = others.first().context("the model list was never requested")?;
    ensure!(models.request_line.starts_with("GET /v1/models"), "unexpected request: {}", models.request_line);
    ensure!(header(models, "x-api-key") == Some(MOCK_KEY), "the model list request had no key");
    for request in &requests {
        ensure!(request.request_line.starts_with("POST /v1/messages "), "wrong request: {}", request.request_line);
        ensure!(header(request, "x-api-key") == Some(MOCK_KEY), "x-api-key missing or wrong");
        ensure!(header(request, "anthropic-version") == Some("2023-06-01"), "anthropic-version missing");
        let body = json_body(request)?;
        ensure!(body["model"] == "claude-mock" && body["stream"] == true, "wrong body: {body}");
        ensure!(body["max_tokens"].as_u64().is_some(), "max_tokens missing: {body}");
    }
    let last = json_body(&requests[4])?;
    let turns: Vec<&str> =
        last["messages"].as_array().into_iter().flatten().filter_map(|m| m["content"].as_str()).collect();
    ensure!(
        turns.first() == Some(&"hello moteOS")
            && turns.contains(&"Partial answer before the failure")
            && !turns.iter().any(|t| t.contains("trigger-401"))
            && turns.last() == Some(&"hi"),
        "the conversation sent is wrong: {turns:?}"
    );
    Ok(())
}

/// An OpenAI-compatible server over HTTPS (test CA, name through the test DNS server).
fn chat_openai_compatible_https(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let tls = servers::shared_tls()?;
    let mock =
        MockLlm::start(Dialect::OpenAi, Some(servers::server_config(tls.pki.server_cert(servers::CertKind::Good)?)?))?;
    let base = format!("https://{}:{}/v1", servers::TEST_HOST, mock.port);
    let config = format!(
        "{}\n[tls]\nextra_ca_file = \"\\\\moteos\\\\ca.pem\"\n",
        chat_config("openai-compatible", &base, "llama-mock")
    );
    let entries = [
        EspEntry::File("config.toml", config.into_bytes()),
        EspEntry::File("ca.pem", tls.pki.ca_pem.clone().into_bytes()),
    ];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    m.send_serial(b"hello over TLS\r")?;
    let reply = mock_llm::expected_reply(Dialect::OpenAi, 1, "hello over TLS", 1);
    m.wait_for(&format!("assistant: {reply}"), Duration::from_secs(90)).context("no reply over HTTPS")?;
    let done = m.wait_for_line("chat: reply complete", Duration::from_secs(30))?;
    ensure!(done.contains("tokens"), "usage missing: {done}");
    let log = m.serial_text();
    ensure!(
        log.contains("client: TLS") && log.contains("certificate verified"),
        "the chat did not go through verified TLS"
    );
    ensure!(!log.contains(MOCK_KEY), "the API key appeared on the serial console");
    let requests = mock.recorded();
    let request = requests.first().context("the mock saw no request")?;
    ensure!(request.request_line.starts_with("POST /v1/chat/completions "), "{}", request.request_line);
    ensure!(header(request, "authorization") == Some(&format!("Bearer {MOCK_KEY}")), "Authorization missing or wrong");
    let body = json_body(request)?;
    ensure!(body["model"] == "llama-mock" && body["stream"] == true, "wrong body: {body}");
    ensure!(body["messages"][0]["content"] == "hello over TLS", "wrong messages: {body}");
    println!("    {}", done.trim());
    // The model list, fetched from the server over the same TLS path.
    m.send_serial(b"/models\r")?;
    let list = m.wait_for_line("chat: models: ", Duration::from_secs(60))?;
    ensure!(list.contains("mock-small, mock-large") && list.contains("using llama-mock"), "wrong model list: {list}");
    let requests = mock.recorded();
    ensure!(
        requests.iter().any(|r| r.request_line.starts_with("GET /v1/models ")),
        "the mock never saw GET /v1/models"
    );
    Ok(())
}

/// No network card and no configuration, only the bundled model on the ESP: typed
/// questions get replies from the local model, streamed on serial and on screen; Ctrl+C
/// stops a reply and the conversation goes on. (Replies are stopped after a few words:
/// under TCG a whole reply can take minutes.)
fn local_model_offline(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let model = bundled_model()?;
    let entries = [EspEntry::File("model.gguf", std::fs::read(&model)?)];
    let m = slot.insert(ctx.boot_with(&entries, Display::Headless, Nic::None)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let loaded = m.wait_for_line("chat: local model", Duration::from_secs(5))?;
    println!("    {}", loaded.trim());
    let before = ctx.screenshot_path("local-before");
    m.screendump(&before)?;
    // A turn ends with a complete reply, a stop by Ctrl+C, or an error.
    let ended = |m: &Machine| {
        let log = m.serial_text();
        ["chat: reply complete", "chat: reply stopped by the user", "chat: error:"]
            .iter()
            .map(|n| log.matches(n).count())
            .sum::<usize>()
    };
    let mut answered = 0;
    for (turn, question) in ["What is the capital of France?", "And the capital of Italy?"].iter().enumerate() {
        let before_turn = ended(m);
        m.send_serial(format!("{question}\r").as_bytes())?;
        let words = wait_for_reply_words(m, question, 3, before_turn, &ended, Duration::from_secs(300))?;
        println!("    reply {}: {words}...", turn + 1);
        if ended(m) == before_turn {
            m.send_serial(b"\x03")?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while ended(m) == before_turn {
            ensure!(Instant::now() < deadline, "local reply {} neither finished nor stopped on Ctrl+C", turn + 1);
            std::thread::sleep(Duration::from_millis(100));
        }
        if !words.is_empty() {
            answered += 1;
        }
        // The only acceptable error is the model choosing to say nothing (sampling is random).
        let log = m.serial_text();
        for error in log.split("chat: error:").skip(1) {
            let error = error.lines().next().unwrap_or("");
            ensure!(error.contains("sent an empty reply"), "the local model failed:{error}");
        }
    }
    ensure!(answered > 0, "the local model answered neither question");
    let after = ctx.screenshot_path("local-after");
    std::thread::sleep(Duration::from_millis(300));
    m.screendump(&after)?;
    keep_screenshot(&after, &format!("{}-local", ctx.arch));
    let changed = ScreenStats::changed_pixels(&before, &after)?;
    ensure!(changed > 2000, "the local replies changed only {changed} pixels on screen");
    Ok(())
}

/// Waits until the reply to `question` on the serial console has at least `count` words,
/// or has ended (`ended` moved past `ended_before`); returns its words.
fn wait_for_reply_words(
    m: &mut Machine,
    question: &str,
    count: usize,
    ended_before: usize,
    ended: &dyn Fn(&Machine) -> usize,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let finished = ended(m) > ended_before;
        let text = m.serial_text();
        let asked = format!("you: {question}");
        let after = text.rsplit_once(asked.as_str()).map(|(_, rest)| rest);
        if let Some(reply) = after.and_then(|rest| rest.split_once("assistant: ")).map(|(_, reply)| reply) {
            // The reply may span lines (models write paragraphs); log lines are not part of it.
            let words: Vec<&str> = reply
                .lines()
                .take_while(|l| !l.starts_with("you: "))
                .filter(|l| !l.starts_with('['))
                .flat_map(str::split_whitespace)
                .collect();
            if words.len() >= count || (finished && !words.is_empty()) {
                return Ok(words.join(" "));
            }
        }
        if finished {
            // Ended without text (a sampled end-of-turn first: "sent an empty reply").
            return Ok(String::new());
        }
        ensure!(
            Instant::now() < deadline,
            "the reply to {question:?} did not reach {count} words (local model too slow?)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A truncated model file: the reason is on serial and on screen, and the OS keeps taking
/// input.
fn local_model_broken(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let model = std::fs::read(bundled_model()?)?;
    let truncated = model[..model.len() / 3].to_vec();
    let m = slot.insert(ctx.boot_with(&[EspEntry::File("model.gguf", truncated)], Display::Headless, Nic::None)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let line =
        m.wait_for_line("chat: the local model \\moteos\\model.gguf cannot be used: ", Duration::from_secs(5))?;
    println!("    {}", line.trim());
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("local-broken");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-local-broken", ctx.arch));
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.0003, "the broken model is not reported on screen");
    // Nothing else is set up: the setup wizard opened with the model's problem on top.
    m.wait_for("wizard: opened because the local model", Duration::from_secs(5))?;
    close_wizard(m)?;
    m.send_serial(b"hello?\r")?;
    m.wait_for("you: hello?", Duration::from_secs(20)).context("input stopped after the broken model")?;
    Ok(())
}

/// The bundled model file (`cargo xtask test` fetches it first; `MOTEOS_MODEL` overrides).
pub(crate) fn bundled_model() -> Result<PathBuf> {
    let path = match std::env::var_os("MOTEOS_MODEL") {
        Some(path) => PathBuf::from(path),
        None => crate::model::dir().join(crate::model::MODEL_FILE),
    };
    ensure!(path.is_file(), "{} is missing: run `cargo xtask model`", path.display());
    Ok(path)
}

/// The model on a machine too small to run it: it is not loaded, the reason is shown, and
/// the OS boots anyway.
fn local_model_too_big(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let entries = [EspEntry::File("model.gguf", std::fs::read(bundled_model()?)?)];
    let m = slot.insert(ctx.boot_full(&entries, Display::Headless, Nic::None, 256)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let line =
        m.wait_for_line("chat: the local model \\moteos\\model.gguf cannot be loaded: ", Duration::from_secs(5))?;
    ensure!(line.contains("give the machine more memory"), "the memory shortage is not explained: {line}");
    println!("    {}", line.trim());
    std::thread::sleep(Duration::from_millis(500));
    let shot = ctx.screenshot_path("local-too-big");
    m.screendump(&shot)?;
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.0003, "the memory shortage is not shown on screen");
    m.wait_for("wizard: opened because the local model", Duration::from_secs(5))?;
    Ok(())
}
