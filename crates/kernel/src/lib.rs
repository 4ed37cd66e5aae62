//! The moteOS kernel.
//!
//! `boot` gathers what the firmware knows into a [`BootInfo`], exits boot
//! services and calls [`start`]. From there on the kernel owns the machine: one
//! heap over all usable RAM, the serial console, the framebuffer, and (in later
//! stages) interrupts, devices and the chat application.

#![no_std]
#![cfg_attr(target_arch = "x86_64", feature(abi_x86_interrupt))]
#![warn(missing_docs)]

extern crate alloc;

mod acpi_tables;
pub mod allocator;
pub mod arch;
pub mod boot_info;
mod chat;
pub mod display;
mod drivers;
pub mod events;
mod exchange;
mod fetch;
mod input;
mod logger;
pub mod memory;
mod network;
mod panic;
pub mod time;
mod tls_setup;
pub mod trust;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
pub use boot_info::BootInfo;
use boot_info::FileLoad;
use display::{DISPLAY, Display};
use log::{error, info, warn};
use memory::MemorySummary;

/// The kernel's version, shown on the splash screen and in the log.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Steps `boot` takes while the firmware is still running.
pub mod early {
    /// Brings up the serial console and the logger. `rsdp` lets architectures
    /// without a fixed UART address find theirs in ACPI.
    pub fn init_console(rsdp: Option<u64>) {
        let port = crate::arch::serial::init(rsdp);
        crate::logger::init();
        match port {
            Ok(name) => log::info!("serial console on {name}"),
            // Nobody can read this if the port is missing, but a debugger can.
            Err(why) => log::warn!("no serial console: {why}"),
        }
    }

    /// Hands the heap its first arena, taken from the firmware before exiting boot services.
    ///
    /// # Safety
    /// `base..base + len` must be memory the firmware gave us (loader data) that
    /// nothing else uses and that stays mapped for the life of the kernel.
    pub unsafe fn claim_arena(base: *mut u8, len: usize) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { crate::allocator::claim_early_arena(base, len) }
    }
}

/// Takes over the machine after `ExitBootServices`. Never returns.
///
/// # Panics
/// If called twice: the second call would hand the same memory to the heap again.
pub fn start(info: BootInfo) -> ! {
    static STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(!STARTED.swap(true, core::sync::atomic::Ordering::SeqCst), "kernel::start called twice");
    // SAFETY: boot services are gone, so conventional memory is ours; `boot`
    // passes the final memory map, and the guard above makes this the only call.
    let added = unsafe { allocator::claim_usable(&info.memory_map) };
    let summary = MemorySummary::of(&info.memory_map);
    let heap = allocator::stats();
    info!(
        "memory: {} MiB of RAM in the firmware map, {} MiB usable by moteOS (heap {} MiB in {} ranges, {} MiB added after boot)",
        mib(summary.ram()),
        mib(summary.usable + summary.loader),
        mib(heap.claimed as u64),
        heap.heaps,
        mib(added as u64),
    );
    info!(
        "memory map: {} regions; boot services {} MiB, loader {} MiB, ACPI {} KiB, runtime {} KiB, reserved/MMIO {} MiB",
        info.memory_map.len(),
        mib(summary.boot_services),
        mib(summary.loader),
        summary.acpi / 1024,
        summary.runtime / 1024,
        mib(summary.reserved),
    );
    if summary.usable < memory::MINIMUM_USABLE {
        error!(
            "memory: only {} MiB of free RAM; moteOS needs at least {} MiB. Give the machine more memory.",
            mib(summary.usable),
            mib(memory::MINIMUM_USABLE)
        );
        panic!("not enough memory: {} MiB free, {} MiB needed", mib(summary.usable), mib(memory::MINIMUM_USABLE));
    }

    info!("firmware: {}", info.firmware);
    match &info.boot_time {
        Some(time) => info!("clock: {time}"),
        None => warn!("clock: the firmware did not report the time"),
    }
    info!("entropy: boot seed from {:?}", info.entropy.source);
    match &info.rsdp {
        Some(rsdp) => info!("acpi: RSDP at {rsdp:#x}"),
        None => warn!("acpi: the firmware published no ACPI tables"),
    }
    let settings = load_config(&info.config_file);

    let fp = arch::float_selfcheck();
    info!(
        "fpu: hardware floating point {}: 1/3 = {:.17}, 0.1 + 0.2 = {:.17}",
        if fp.hardware_inexact_flag { "active (inexact flag raised by the FPU)" } else { "NOT observed" },
        fp.third,
        fp.sum
    );

    // The CSPRNG behind TLS: keyed from the boot entropy, then stirred with
    // timing jitter as the boot goes on.
    tls::csprng::install_global(info.entropy.seed);
    tls::csprng::mix_global(&arch::cycle_counter().to_le_bytes());

    let setup = match arch::init_interrupts(info.rsdp) {
        Ok(setup) => setup,
        Err(why) => {
            error!("interrupts: {why}; moteOS cannot take input without them");
            panic!("interrupt setup failed: {why}");
        }
    };
    time::init(setup.counter);
    info!("interrupts: {}", setup.description);
    match info.boot_time.as_ref().and_then(time::init_wall_clock) {
        Some(_) => match (time::utc_now(), time::unix_now()) {
            (Some(utc), Some(unix)) => info!("clock: wall time {utc} UTC (unix {unix})"),
            _ => warn!("clock: wall time unavailable"),
        },
        None => warn!("clock: the firmware time is missing or invalid; certificate dates cannot be checked"),
    }
    trust::check_boot(&info);

    let status = [format!("{} MiB memory", mib(summary.usable + summary.loader)), String::new(), String::from("Ready")];
    show_splash(&info, status);

    if info.options.test_panic {
        panic!("test panic requested by the boot options");
    }
    if info.options.test_fault {
        info!("test: triggering a CPU exception on purpose");
        arch::trigger_test_fault();
    }
    if info.options.test_sleep {
        let started = time::now();
        info!("sleep: 2 s starting");
        time::sleep(core::time::Duration::from_secs(2));
        let took = time::now().saturating_duration_since(started);
        info!("sleep: done after {} ms by the kernel clock", took.as_millis());
    }

    // Drawn from the CSPRNG's output: the raw boot seed keys the CSPRNG and must never feed a
    // generator whose output shows on the network (smoltcp's TCP sequence numbers, DNS ids).
    tls::csprng::mix_global(&arch::cycle_counter().to_le_bytes());
    let seed = trust::csprng_u64();
    let (keyboards, network) = match drivers::pci::PciBus::open(info.rsdp) {
        Ok(mut bus) => {
            let keyboards = drivers::virtio_input::VirtioKeyboard::probe(&mut bus);
            let network = network::Network::start(&mut bus, settings.as_ref().map(|c| &c.network), seed);
            (keyboards, network)
        }
        Err(why) => {
            warn!("pci: {why}; no network and no virtio devices");
            (Vec::new(), None)
        }
    };
    tls::csprng::mix_global(&arch::cycle_counter().to_le_bytes());
    let tls_config = tls_setup::client_config(&info.extra_ca_file);
    let fetches = info.options.test_fetch.iter().filter_map(|url| fetch::Fetch::new(url, tls_config.clone())).collect();
    info!("simd: {}", arch::enable_simd());
    let mut chat = chat::ChatTask::new(settings.as_ref(), tls_config, info.model.as_ref(), trust::csprng_u64());
    if let Some(notice) = trust::screen_notice() {
        chat.set_notice(&notice);
    }

    main_loop(Devices { input: input::Input::new(setup.ps2_keyboard), keyboards, network, fetches, chat })
}

/// What the main loop drives.
struct Devices {
    input: input::Input,
    keyboards: Vec<drivers::virtio_input::VirtioKeyboard>,
    network: Option<network::Network>,
    fetches: Vec<fetch::Fetch>,
    chat: chat::ChatTask,
}

/// Reads `\\moteos\\config.toml`. Every problem is logged with its line; an
/// unusable file gives `None` (the setup wizard will show the error) and never
/// stops the boot.
fn load_config(file: &FileLoad) -> Option<config::MoteConfig> {
    match file {
        FileLoad::Loaded(bytes) => {
            info!("config: \\moteos\\config.toml read ({} bytes)", bytes.len());
            match config::parse_file(bytes) {
                Ok(parsed) => {
                    for warning in &parsed.warnings {
                        warn!("config: {warning}");
                    }
                    info!("config: {}", parsed.config);
                    Some(parsed.config)
                }
                Err(e) => {
                    error!("config: {e}");
                    for problem in e.problems().iter().skip(1) {
                        error!("config: {problem}");
                    }
                    None
                }
            }
        }
        FileLoad::Missing => {
            info!("config: no \\moteos\\config.toml on the boot partition (first boot)");
            None
        }
        FileLoad::Unreadable(why) => {
            warn!("config: \\moteos\\config.toml could not be read: {why}");
            None
        }
    }
}

fn show_splash(info: &BootInfo, mut status: [String; 3]) {
    let fb = match &info.framebuffer {
        Ok(fb) => *fb,
        Err(why) => {
            warn!("display: {why}");
            return;
        }
    };
    match Display::new(fb) {
        Ok(mut display) => {
            info!(
                "display: framebuffer {}x{}, stride {}, {:?} at {:#x}",
                fb.width, fb.height, fb.stride, fb.format, fb.base
            );
            status[1] = format!("{}x{} display", fb.width, fb.height);
            let lines = [status[0].as_str(), status[1].as_str(), status[2].as_str()];
            let splash = tui::screens::SplashInfo { version: VERSION, arch: arch::NAME, lines: &lines };
            tui::screens::draw_splash(display.canvas(), &splash);
            display.present();
            *DISPLAY.lock() = Some(display);
        }
        Err(why) => warn!("display: {why}; continuing on the serial console only"),
    }
}

/// The kernel's main loop: input first, then time-driven work, then a redraw if
/// anything changed; with nothing to do the CPU halts until the next interrupt.
fn main_loop(devices: Devices) -> ! {
    let Devices { mut input, mut keyboards, mut network, mut fetches, mut chat } = devices;
    let mut ignored = (0, 0, 0, 0, 0);
    if network.is_none() {
        chat.set_network_status("No network");
    }
    info!("moteOS ready");
    // The CSPRNG keeps being stirred with the timing of the interrupts that wake the loop.
    let mut jitter = tls::csprng::JitterPool::new();
    loop {
        if let Some(batch) = jitter.add(arch::cycle_counter()) {
            tls::csprng::mix_global(&batch);
            if jitter.stirs() == 1 {
                info!(
                    "entropy: CSPRNG re-stirred from interrupt timing (every {} wake-ups)",
                    tls::csprng::JitterPool::SAMPLES_PER_STIR
                );
            }
        }
        for keyboard in &mut keyboards {
            keyboard.poll();
        }
        let now = time::now();
        while let Some(event) = events::pop() {
            input.handle(event, now, &mut |key| chat.on_key(key));
        }
        input.poll(time::now(), &mut |key| chat.on_key(key));
        // Bad input is dropped, never fatal; say so once per change.
        let (scancodes, sequences, keycodes) = input.rejected();
        let now_ignored = (scancodes, sequences, keycodes, arch::spurious_interrupts(), events::dropped());
        if now_ignored != ignored {
            ignored = now_ignored;
            warn!(
                "input: ignored so far: {scancodes} unknown scancodes, {sequences} malformed serial sequences, \
                 {keycodes} unknown key codes, {} spurious interrupts, {} events lost to a full queue",
                ignored.3, ignored.4
            );
        }

        let mut wake = input.next_deadline().map(|d| d.saturating_duration_since(time::now()));
        if let Some(net) = network.as_mut() {
            net.poll();
            // Test downloads run one after another, each as far as it can go now.
            if let Some(fetch) = fetches.iter_mut().find(|f| !f.is_finished()) {
                while fetch.step(net) {
                    net.poll();
                }
                // Failures reach the screen too, not only the serial log.
                if let Some(why) = fetch.take_failure() {
                    chat.set_notice(&why);
                }
            }
            chat.step(Some(net));
            chat.set_network_status(net.status_line());
            let after = net.next_wake();
            wake = Some(wake.map_or(after, |w| w.min(after)));
        } else {
            chat.step(None);
        }
        // The local model computes between looks at the keyboard: no halting meanwhile.
        let busy = chat.wants_cpu();
        if keyboards.iter().any(|k| !k.interrupts) {
            let poll = drivers::virtio_input::POLL_INTERVAL;
            wake = Some(wake.map_or(poll, |w| w.min(poll)));
        }

        if let Some(display) = DISPLAY.lock().as_mut() {
            chat.draw(display);
            if let Some(ms) = chat.next_wake_ms() {
                let redraw = core::time::Duration::from_millis(ms);
                wake = Some(wake.map_or(redraw, |w| w.min(redraw)));
            }
        }
        if busy {
            continue;
        }
        if let Some(after) = wake {
            arch::arm_timer(after);
        }
        arch::wait_for_work(|| !events::is_empty());
    }
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}
