//! The moteOS kernel.
//!
//! `boot` gathers what the firmware knows into a [`BootInfo`], exits boot
//! services and calls [`start`]. From there on the kernel owns the machine: one
//! heap over all usable RAM, the serial console, the framebuffer, and (in later
//! stages) interrupts, devices and the chat application.

#![no_std]
#![cfg_attr(target_arch = "x86_64", feature(abi_x86_interrupt))]
#![warn(missing_docs)]
// Unsafe code lives in `arch`, `drivers` and the allocator only, each block justified.
#![deny(unsafe_code)]

extern crate alloc;

#[allow(unsafe_code)]
pub mod allocator;
#[allow(unsafe_code)]
pub mod arch;
pub mod boot_info;
pub mod display;
#[allow(unsafe_code)]
mod drivers;
mod efivars;
pub mod events;
mod fetch;
mod input;
mod local;
mod logger;
pub mod memory;
mod network;
mod panic;
mod pool_check;
mod power;
mod runner;
pub mod storage_service;
pub mod time;
mod tls_setup;
pub mod trust;

/// The ACPI tables, shared by `arch` and `drivers`.
use drivers::acpi_tables;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
pub use boot_info::BootInfo;
use boot_info::FileLoad;
use display::{Display, PanicScreen};
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

    /// Hands the heap its first arena, taken from the firmware before exiting boot
    /// services (see [`crate::allocator::claim_early_arena`] for the contract).
    pub use crate::allocator::claim_early_arena as claim_arena;
}

/// Takes over the machine after `ExitBootServices`. Never returns.
///
/// # Panics
/// If called twice: the second call would hand the same memory to the heap again.
pub fn start(info: BootInfo) -> ! {
    let added = allocator::claim_usable_after_exit(&info.memory_map);
    // Stacks for every processor and the kernel's own page tables, then off the firmware's
    // stack for good: after that its boot-services memory can join the heap.
    let cpus = arch::cpus::discover(info.rsdp);
    let framebuffer = info.framebuffer.as_ref().ok().map(|f| f.base..f.base + f.size as u64);
    let took = arch::address_space::take_over(&info.memory_map, framebuffer, cpus.len());
    let stage = Boot { info, added, cpus, took };
    match stage.took.ok().and_then(|_| arch::address_space::stacks(0)) {
        Some(stacks) => arch::run_on_stack(stacks, boot, stage),
        None => boot(stage),
    }
}

/// What [`start`] hands to the rest of the boot, which runs on the kernel's own stack.
struct Boot {
    info: BootInfo,
    added: usize,
    cpus: Vec<arch::Cpu>,
    took: Result<arch::address_space::TakeOver, &'static str>,
}

fn boot(stage: Boot) -> ! {
    let Boot { info, added, cpus, took } = stage;
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
    match took {
        Ok(t) => info!(
            "memory: kernel stacks with {} KiB guard pages for {} processor(s); identity map up to {:#x}",
            allocator::GUARD_BYTES / 1024,
            t.cpus,
            t.top
        ),
        Err(why) => warn!(
            "memory: {why}; staying on the firmware's page tables and stack (boot-services memory is not reclaimed)"
        ),
    }
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
    // The kernel's own stack, page tables, descriptor tables and vectors are in place: the
    // firmware's boot-services memory is free now.
    let reclaimed = match &took {
        Ok(took) => {
            // The framebuffer, if the firmware put it there, is kept out.
            let keep: Vec<_> =
                info.framebuffer.as_ref().ok().map(|f| f.base..f.base + f.size as u64).into_iter().collect();
            allocator::reclaim_boot_services(took, &info.memory_map, &keep)
        }
        Err(_) => 0,
    };
    info!("memory: {} KiB of firmware boot-services memory joined the heap", reclaimed / 1024);
    let listed = cpus.len();
    if info.options.no_smp {
        info!("smp: 1 of {listed} processor(s) online (no-smp: the others stay halted)");
    } else {
        let begun = time::now();
        let started = arch::pool::start(cpus, &info.memory_map);
        let took = time::now().saturating_duration_since(begun);
        info!("smp: {} of {listed} processor(s) online (started in {} ms)", started + 1, took.as_millis());
    }
    match info.boot_time.as_ref().and_then(time::init_wall_clock) {
        Some(_) => match (time::utc_now(), time::unix_now()) {
            (Some(utc), Some(unix)) => info!("clock: wall time {utc} UTC (unix {unix})"),
            _ => warn!("clock: wall time unavailable"),
        },
        None => warn!("clock: the firmware time is missing or invalid; certificate dates cannot be checked"),
    }
    trust::check_boot(&info);

    let status = [format!("{} MiB memory", mib(summary.usable + summary.loader)), String::new(), String::from("Ready")];
    let display = show_splash(&info, status);

    if info.options.test_panic {
        panic!("test panic requested by the boot options");
    }
    if info.options.test_fault {
        info!("test: triggering a CPU exception on purpose");
        arch::trigger_test_fault();
    }
    if info.options.test_stack_overflow {
        info!("test: overflowing the kernel stack on purpose");
        let depth = recurse_without_end(0);
        info!("test: the recursion ended at depth {depth} (it should not have)");
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
    let mut bus = drivers::pci::PciBus::open(info.rsdp);
    let disks = match bus.as_mut() {
        Ok(bus) => drivers::probe_disks(bus).into_iter().map(|d| (d.name, d.device)).collect(),
        Err(_) => Vec::new(),
    };
    let storage_started = time::now();
    let storage =
        storage_service::StorageService::open(disks, info.boot_partition.as_ref(), info.options.test_storage_bench);
    storage_service::run_boot_tests(&storage, &info.options);
    let settings_bytes = settings_file(&storage, &info.config_file);
    storage.log_saved_conversations();
    info!("storage: boot work took {} us", time::now().saturating_duration_since(storage_started).as_micros());
    let settings = load_config(&settings_bytes);
    let (keyboards, network, usb) = match bus {
        Ok(mut bus) => {
            bus.log_functions();
            let keyboards = drivers::virtio_input::VirtioKeyboard::probe(&mut bus);
            let network = network::Network::start(&mut bus, settings.0.as_ref().map(|c| &c.network), seed);
            let usb = drivers::xhci::UsbHost::probe(&mut bus, info.options.test_usb_disk);
            (keyboards, network, usb)
        }
        Err(why) => {
            warn!("pci: {why}; no network and no virtio devices");
            (Vec::new(), None, drivers::xhci::UsbHost::default())
        }
    };
    let late_network = (settings.0.as_ref().map(|c| c.network.clone()), seed);
    tls::csprng::mix_global(&arch::cycle_counter().to_le_bytes());
    let tls_config = tls_setup::client_config(&info.extra_ca_file);
    let fetches = info.options.test_fetch.iter().filter_map(|url| fetch::Fetch::new(url, tls_config.clone())).collect();
    info!("simd: {}", arch::enable_simd());
    let (engine, local) = local::load(info.model.as_ref(), trust::csprng_u64());
    let (config, config_problem) = settings;
    let config_text = match &settings_bytes {
        FileLoad::Loaded(bytes) => core::str::from_utf8(bytes).ok().map(String::from),
        _ => None,
    };
    // The wall clock when the monotonic clock read zero: the application dates saved
    // conversations from it.
    let unix_time = time::unix_now().map(|unix| unix - (time::now().as_millis() / 1000) as i64);
    let storage_notice = storage.notice();
    let boot = app::Boot { config, config_problem, local, config_text, unix_time };
    let mut runner = runner::Runner::new(boot, tls_config, engine, storage);
    if let Some(notice) = storage_notice {
        runner.notice(notice, None);
    }
    if let Some(notice) = trust::screen_notice() {
        runner.notice(notice, None);
    }
    let power = power::Switch::new(info.rsdp, info.firmware_shutdown);
    memory::log_accounting(&info, reclaimed);
    if info.options.test_pool {
        pool_check::run();
    }

    main_loop(Devices {
        input: input::Input::new(setup.ps2_keyboard),
        keyboards,
        network,
        fetches,
        runner,
        power,
        display,
        usb,
        late_network,
        bench_keys: info.options.bench_keys,
    })
}

/// What the main loop drives.
struct Devices {
    input: input::Input,
    keyboards: Vec<drivers::virtio_input::VirtioKeyboard>,
    network: Option<network::Network>,
    fetches: Vec<fetch::Fetch>,
    runner: runner::Runner,
    power: power::Switch,
    display: Option<Display>,
    usb: drivers::xhci::UsbHost,
    /// Settings and seed for a network card that appears after boot (USB).
    late_network: (Option<config::NetworkConfig>, u64),
    /// Log key-to-screen times (the `bench-keys` boot option).
    bench_keys: bool,
}

/// The settings file to use: through the storage service (the file on a writable
/// boot disk, or its EFI variable copy by the precedence rule), else what the boot
/// loader read from the ESP.
fn settings_file(storage: &storage_service::StorageService, loaded: &FileLoad) -> FileLoad {
    match storage.load_settings() {
        Some(found) => {
            let from = match found.source {
                storage::mirror::Source::Variable => "the EFI variable copy",
                _ => "the boot disk",
            };
            info!("settings: read from {from} ({} bytes)", found.text.len());
            FileLoad::Loaded(found.text)
        }
        None => loaded.clone(),
    }
}

/// Reads `\\moteos\\config.toml`. Every problem is logged with its line; an
/// unusable file gives no configuration and the first problem as a sentence (shown
/// on screen), and never stops the boot.
fn load_config(file: &FileLoad) -> (Option<config::MoteConfig>, Option<String>) {
    match file {
        FileLoad::Loaded(bytes) => {
            info!("config: \\moteos\\config.toml read ({} bytes)", bytes.len());
            match config::parse_file(bytes) {
                Ok(parsed) => {
                    for warning in &parsed.warnings {
                        warn!("config: {warning}");
                    }
                    info!("config: {}", parsed.config);
                    (Some(parsed.config), None)
                }
                Err(e) => {
                    error!("config: {e}");
                    for problem in e.problems().iter().skip(1) {
                        error!("config: {problem}");
                    }
                    (None, Some(format!("{e}")))
                }
            }
        }
        FileLoad::Missing => {
            info!("config: no \\moteos\\config.toml on the boot partition (first boot)");
            (None, None)
        }
        FileLoad::Unreadable(why) => {
            warn!("config: \\moteos\\config.toml could not be read: {why}");
            (None, Some(format!("it could not be read: {why}")))
        }
    }
}

/// Opens the display and shows the splash; the main loop owns what it returns.
fn show_splash(info: &BootInfo, mut status: [String; 3]) -> Option<Display> {
    let fb = match &info.framebuffer {
        Ok(fb) => *fb,
        Err(why) => {
            warn!("display: {why}");
            return None;
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
            PanicScreen::install(fb);
            Some(display)
        }
        Err(why) => {
            warn!("display: {why}; continuing on the serial console only");
            None
        }
    }
}

/// The kernel's main loop: input first, then network and reply work in bounded steps,
/// then a redraw if anything changed; with nothing to do the CPU halts until the next
/// interrupt.
fn main_loop(devices: Devices) -> ! {
    let Devices {
        mut input,
        mut keyboards,
        mut network,
        mut fetches,
        mut runner,
        power,
        mut display,
        mut usb,
        late_network,
        bench_keys,
    } = devices;
    // Keys handled but not yet drawn: when their input arrived, how many, whether by serial.
    let mut undrawn: Option<(hal::clock::Instant, usize, bool)> = None;
    let mut ignored = (0, 0, 0, 0, 0);
    let mut net_info = None;
    let mut pool_jobs = arch::pool::jobs_per_cpu();
    info!("moteOS ready");
    // The CSPRNG keeps being stirred with the timing of the interrupts that wake the loop.
    let mut jitter = tls::csprng::JitterPool::new();
    // How long input and the screen waited for a turn while a reply streamed from a server:
    // the longest loop turn and how many there were (logged when the reply ends).
    let mut streaming_turns: Option<TurnStats> = None;
    loop {
        let turn_started = time::now();
        if let Some(batch) = jitter.add(arch::cycle_counter()) {
            tls::csprng::mix_global(&batch);
            if jitter.stirs() == 1 {
                info!(
                    "entropy: CSPRNG re-stirred from interrupt timing (every {} wake-ups)",
                    tls::csprng::JitterPool::SAMPLES_PER_STIR
                );
            }
        }
        // Before any device is polled: an interrupt during the polls keeps the loop awake.
        events::take_device_signal();
        for keyboard in &mut keyboards {
            keyboard.poll();
        }
        usb.poll();
        if let Some(card) = usb.take_nic() {
            network::Network::adopt(&mut network, card, late_network.0.as_ref(), late_network.1);
        }
        let now = time::now();
        let arrived = events::take_first_input();
        let mut keys = Vec::new();
        let mut serial_keys = false;
        while let Some(event) = events::pop() {
            input.handle(event, now, &mut |key| keys.push(key));
        }
        // Serial bytes (a paste can be thousands) come in batches from their own ring.
        let mut serial = [0u8; 256];
        loop {
            let n = events::pop_serial(&mut serial);
            for &byte in serial.iter().take(n) {
                input.handle(events::Event::SerialByte(byte), now, &mut |key| keys.push(key));
            }
            serial_keys |= n > 0;
            if n == 0 {
                break;
            }
        }
        input.poll(time::now(), &mut |key| keys.push(key));
        if bench_keys && !keys.is_empty() {
            let (since, count, serial) = undrawn.unwrap_or((arrived.unwrap_or(now), 0, false));
            undrawn = Some((since, count + keys.len(), serial || serial_keys));
        }
        for key in keys {
            runner.input(app::Input::Key(key), network.as_mut());
        }
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

        let input_done = time::now();
        let mut wake = input.next_deadline().map(|d| d.saturating_duration_since(time::now()));
        let mut busy = false;
        if let Some(net) = network.as_mut() {
            net.poll();
            // Test downloads run one after another, a bounded step each time round.
            if let Some(fetch) = fetches.iter_mut().find(|f| !f.is_finished()) {
                fetch.step(net);
                busy |= fetch.has_more();
                // Failures reach the screen too, not only the serial log.
                if let Some(why) = fetch.take_failure() {
                    runner.notice(why, Some(&mut *net));
                }
            }
            let info = net.info();
            if net_info.as_ref() != Some(&info) {
                net_info = Some(info.clone());
                runner.input(app::Input::Network(info), Some(&mut *net));
            }
        } else if net_info.is_none() {
            let info = app::NetInfo { detail: String::from("no network card"), ..app::NetInfo::default() };
            net_info = Some(info.clone());
            runner.input(app::Input::Network(info), None);
        }
        let network_done = time::now();
        runner.step(network.as_mut());
        if let Some(net) = network.as_mut() {
            // What the reply step queued goes out now rather than at the next wake-up.
            net.poll();
            let after = net.next_wake();
            wake = Some(wake.map_or(after, |w| w.min(after)));
        }
        if let Some(after) = usb.next_wake() {
            wake = Some(wake.map_or(after, |w| w.min(after)));
        }
        // The local model computes between looks at the keyboard: no halting meanwhile.
        busy |= runner.wants_cpu();
        if !busy {
            pool_jobs = log_pool_use(pool_jobs);
        }
        if keyboards.iter().any(|k| !k.interrupts) {
            let poll = drivers::virtio_input::POLL_INTERVAL;
            wake = Some(wake.map_or(poll, |w| w.min(poll)));
        }

        let step_done = time::now();
        if let Some(display) = display.as_mut() {
            let started = time::now();
            if runner.draw(display, network.as_mut())
                && let Some((since, count, serial)) = undrawn.take()
            {
                let done = time::now();
                info!(
                    "bench: key to screen {} us (drawing {} us; {count} key(s) from {})",
                    done.saturating_duration_since(since).as_micros(),
                    done.saturating_duration_since(started).as_micros(),
                    if serial { "serial" } else { "the keyboard" }
                );
            }
            if let Some(redraw) = runner.next_wake() {
                wake = Some(wake.map_or(redraw, |w| w.min(redraw)));
            }
        }
        if runner.wants_power_off() {
            power.switch_off();
        }
        if runner.streams_remote_reply() {
            let marks = [turn_started, input_done, network_done, step_done, time::now()];
            streaming_turns.get_or_insert_default().add(&marks);
        } else if let Some(stats) = streaming_turns.take() {
            stats.report();
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

/// How long input and the screen waited for a turn of the main loop while a reply streamed
/// from a server, logged when the reply ends.
#[derive(Default)]
struct TurnStats {
    longest: core::time::Duration,
    /// The longest turn's parts: input, network, reply step, drawing.
    longest_parts: [core::time::Duration; 4],
    turns: u64,
    total: core::time::Duration,
}

impl TurnStats {
    /// Adds a turn from its five time marks (start, after input, after the network, after
    /// the reply step, end).
    fn add(&mut self, marks: &[hal::clock::Instant; 5]) {
        let turn = marks[4].saturating_duration_since(marks[0]);
        if turn > self.longest {
            self.longest = turn;
            for (i, part) in self.longest_parts.iter_mut().enumerate() {
                *part = marks[i + 1].saturating_duration_since(marks[i]);
            }
        }
        self.turns += 1;
        self.total += turn;
    }

    fn report(&self) {
        let [input, network, step, draw] = self.longest_parts.map(|d| d.as_micros());
        info!(
            "main loop: longest turn while the reply streamed {} us over {} turns, mean {} us (input and screen \
             waited at most that long; that turn: input {input} us, network {network} us, reply {step} us, \
             drawing {draw} us)",
            self.longest.as_micros(),
            self.turns,
            self.total.as_micros() / u128::from(self.turns.max(1))
        );
    }
}

/// Logs how many work-pool jobs each processor ran since `before`, when that changed and more
/// than one processor is online (the local model's work, spread over the cores).
fn log_pool_use(before: Vec<(usize, u64)>) -> Vec<(usize, u64)> {
    let now = arch::pool::jobs_per_cpu();
    if now.len() > 1 && now != before {
        let spread: String = now
            .iter()
            .map(|&(cpu, jobs)| {
                let earlier = before.iter().find(|(c, _)| *c == cpu).map_or(0, |&(_, j)| j);
                format!(" CPU {cpu}: {}", jobs - earlier)
            })
            .collect::<Vec<_>>()
            .join(",");
        info!("pool: jobs run per processor since the last report:{spread}");
    }
    now
}

/// Recurses until the stack runs into its guard page (the `test-stack-overflow` option).
/// The array and the use of the result after the call keep the compiler from turning the
/// recursion into a loop.
fn recurse_without_end(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[depth as usize % 256] = depth as u8;
    let frame = core::hint::black_box(frame);
    if core::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    recurse_without_end(depth + 1) + u64::from(frame[7])
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}
