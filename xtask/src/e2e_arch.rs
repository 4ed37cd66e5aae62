//! End-to-end cases for the architecture work: the GICv3 interrupt controller (with and
//! without an ITS), memory accounting and guard pages, and the application processors.

use crate::e2e::{BOOT_TIMEOUT, Ctx, EspEntry, ScreenStats, chat_config, keep_screenshot, number_after};
use crate::mock_llm::{self, Dialect, MockLlm};
use crate::qemu::{DEFAULT_MEMORY_MIB, Display, Machine, Nic};
use anyhow::{Context, Result, ensure};
use std::time::Duration;

/// A `virt` machine with a GICv3 (QEMU adds an ITS unless told `its=off`).
const GICV3: &[&str] = &["-machine", "gic-version=3", "-smp", "2"];
const GICV3_NO_ITS: &[&str] = &["-machine", "gic-version=3,its=off"];

/// Boots with the mock Anthropic server configured and `extra` QEMU arguments.
fn boot_chat(ctx: &Ctx, slot: &mut Option<Machine>, mock: &MockLlm, extra: &[&str]) -> Result<()> {
    let config = chat_config("anthropic", &format!("http://10.0.2.2:{}", mock.port), "claude-mock");
    let entries =
        [EspEntry::File("config.toml", config.into_bytes()), EspEntry::File("boot-options", b"test-pool\n".to_vec())];
    let m = slot.insert(ctx.boot_extra(&entries, Display::Headless, Nic::VirtioNet, DEFAULT_MEMORY_MIB, extra)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    Ok(())
}

/// A question on the serial console and one typed on the virtio keyboard, both answered.
fn chat_by_serial_and_keys(ctx: &Ctx, m: &mut Machine, name: &str) -> Result<()> {
    let timeout = Duration::from_secs(90);
    m.send_serial(b"hello gic\r")?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 1, "hello gic", 1);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("no reply to the serial question")?;
    m.wait_for_line("chat: reply complete", timeout)?;

    let before = ctx.screenshot_path("before-keys");
    std::thread::sleep(Duration::from_millis(300));
    m.screendump(&before)?;
    m.send_keys(&["h", "i", "ret"])?;
    let reply = mock_llm::expected_reply(Dialect::Anthropic, 2, "hi", 3);
    m.wait_for(&format!("assistant: {reply}"), timeout).context("the typed message got no reply")?;
    std::thread::sleep(Duration::from_millis(500));
    let after = ctx.screenshot_path("after-keys");
    m.screendump(&after)?;
    keep_screenshot(&after, name);
    let changed = ScreenStats::changed_pixels(&before, &after)?;
    ensure!(changed > 2000, "the reply changed only {changed} pixels on screen");
    Ok(())
}

/// AArch64 with a GICv3 and its ITS: the timer, the UART and the keyboard and network card
/// (MSI-X through the ITS into LPIs) all interrupt; keys reach the chat and replies arrive.
pub fn gicv3_its_keys_and_chat(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    boot_chat(ctx, slot, &mock, GICV3)?;
    let m = slot.as_mut().context("no machine")?;
    let log = m.serial_text();
    let line = log.lines().find(|l| l.contains("interrupts: GICv")).context("no interrupt summary")?;
    ensure!(line.contains("GICv3") && line.contains("MSI through the ITS"), "not GICv3 with the ITS: {line}");
    println!("    {}", line.trim_start_matches("[INFO ] "));
    ensure!(log.contains("signals LPI 8192 through the ITS"), "no device was mapped to an LPI");
    // The second processor's redistributor takes the wake-up SGI: the pool job ran there.
    ensure!(log.contains("smp: 2 of 2 processor(s) online"), "the second processor did not come up on GICv3");
    ensure!(log.contains("pool: test ran 2 jobs on 2 processor(s)"), "no pool job ran on the second processor");
    ensure!(log.contains("net: virtio-net interrupts through MSI-X"), "virtio-net is not interrupt-driven");
    ensure!(
        log.contains("Keyboard") && log.contains("interrupts through MSI-X"),
        "the keyboard is not interrupt-driven"
    );
    chat_by_serial_and_keys(ctx, m, "aarch64-gicv3-chat")?;
    ensure!(mock.recorded().len() >= 2, "the mock saw {} requests, expected 2", mock.recorded().len());
    Ok(())
}

/// AArch64 with a GICv3 but no ITS: no MSI, which the log says; the devices are polled and
/// the chat still works.
pub fn gicv3_without_its(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let mock = MockLlm::start(Dialect::Anthropic, None)?;
    boot_chat(ctx, slot, &mock, GICV3_NO_ITS)?;
    let m = slot.as_mut().context("no machine")?;
    let log = m.serial_text();
    let line = log.lines().find(|l| l.contains("interrupts: GICv")).context("no interrupt summary")?;
    ensure!(
        line.contains("GICv3") && line.contains("PCI devices are polled"),
        "the missing MSI is not reported: {line}"
    );
    ensure!(log.contains("net: virtio-net without interrupts"), "virtio-net polling was not logged");
    chat_by_serial_and_keys(ctx, m, "aarch64-gicv3-no-its-chat")?;
    Ok(())
}

/// The numbers of the `memory: after boot` line, in KiB.
#[derive(Debug)]
struct Accounting {
    free: u64,
    heap: u64,
    reclaimed: u64,
    ram: u64,
    parts: Vec<u64>,
    image: u64,
    framebuffer: u64,
}

fn accounting(line: &str) -> Result<Accounting> {
    let n = |prefix: &str| number_after(line, prefix);
    let parts = [
        "= heap ",
        "+ image ",
        "+ framebuffer in RAM ",
        "+ firmware runtime ",
        "+ ACPI ",
        "+ first MiB ",
        "+ other boot data ",
    ]
    .iter()
    .map(|p| n(p))
    .collect::<Result<Vec<_>>>()?;
    Ok(Accounting {
        free: n("after boot ")?,
        heap: n("(heap ")?,
        reclaimed: n("in use, ")?,
        ram: n("; RAM ")?,
        image: parts[1],
        parts,
        framebuffer: n("; framebuffer ")?,
    })
}

/// Boot-services memory joins the heap: after boot, free memory is within 2 % of QEMU's
/// `-m` less the kernel image and the framebuffer, and the kernel's accounting of the RAM
/// in the firmware's map adds up.
pub fn memory_accounting(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let m = slot.insert(ctx.boot(&[], Display::Headless)?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let log = m.serial_text();
    ensure!(log.contains("memory: own "), "the kernel did not switch to its own page tables");
    let line = log.lines().find(|l| l.contains("memory: after boot ")).context("no memory accounting line")?;
    println!("    {}", line.trim_start_matches("[INFO ] "));
    let a = accounting(line)?;
    let sum: u64 = a.parts.iter().sum();
    ensure!(sum.abs_diff(a.ram) <= 8, "the accounting does not add up: parts {sum} KiB, RAM {} KiB", a.ram);
    ensure!(a.reclaimed > 10 * 1024, "only {} KiB of boot-services memory joined the heap", a.reclaimed);
    ensure!(a.free < a.heap, "free {} KiB is not below the heap's {} KiB", a.free, a.heap);
    let given = u64::from(DEFAULT_MEMORY_MIB) * 1024;
    let expected = given - a.image - a.framebuffer;
    let off = a.free.abs_diff(expected) as f64 / given as f64;
    println!(
        "    free {} KiB vs -m {} KiB - image {} KiB - framebuffer {} KiB = {expected} KiB: {:.2} % off",
        a.free,
        given,
        a.image,
        a.framebuffer,
        off * 100.0
    );
    ensure!(off <= 0.02, "free memory {} KiB is {:.2} % away from {expected} KiB (more than 2 %)", a.free, off * 100.0);
    Ok(())
}

/// Endless recursion runs into the guard page below the kernel stack: the overflow is named
/// on serial and on the panic screen, and the machine stays up (no reset, no corruption).
pub fn stack_overflow_guard(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let entries = [EspEntry::File("boot-options", b"test-stack-overflow\n".to_vec())];
    let m = slot.insert(ctx.boot(&entries, Display::Headless)?);
    m.wait_for("test: overflowing the kernel stack on purpose", BOOT_TIMEOUT)?;
    let line = m.wait_for_line("moteOS panic: CPU exception:", Duration::from_secs(60))?;
    ensure!(
        line.contains("kernel stack overflow (the stack ran into its guard page)"),
        "the overflow was not reported as one: {line}"
    );
    println!("    {}", line.trim());
    let log = m.serial_text();
    ensure!(!log.contains("the recursion ended"), "the recursion returned");
    std::thread::sleep(Duration::from_millis(800));
    let shot = ctx.screenshot_path("overflow");
    m.screendump(&shot)?;
    keep_screenshot(&shot, &format!("{}-stack-overflow", ctx.arch));
    ensure!(ScreenStats::of(&shot)?.reddish_fraction > 0.05, "no panic screen after the overflow");
    ensure!(m.is_running()?, "the machine reset instead of reporting the overflow");
    Ok(())
}

/// `-smp 4`: every processor comes up and a pool job runs on each; then a synthetic Qwen3
/// model (random weights, the llama.cpp-checked fixture) on the ESP runs offline, its
/// matrix rows and attention heads spread over the processors.
pub fn smp_pool_on_every_cpu(ctx: &Ctx, slot: &mut Option<Machine>) -> Result<()> {
    let qwen3 = crate::builder::root().join("crates/inference/tests/fixtures/synthetic/qwen3-tiny.gguf");
    let entries = [
        EspEntry::File("boot-options", b"test-pool\n".to_vec()),
        EspEntry::File("model.gguf", std::fs::read(&qwen3).with_context(|| format!("reading {}", qwen3.display()))?),
    ];
    let m = slot.insert(ctx.boot_extra(&entries, Display::Headless, Nic::None, DEFAULT_MEMORY_MIB, &["-smp", "4"])?);
    m.wait_for("moteOS ready", BOOT_TIMEOUT)?;
    let log = m.serial_text();
    let online = log.lines().find(|l| l.contains("processor(s) online")).context("no processor count")?;
    ensure!(online.contains("4 of 4 processor(s) online"), "not every processor came up: {online}");
    let pool = m.wait_for_line("pool: test ran ", Duration::from_secs(30))?;
    println!("    {}", pool.trim());
    ensure!(pool.contains("4 jobs on 4 processor(s)"), "the jobs did not run on every processor: {pool}");
    // One job per processor: the pool gives job i to processor i (the lanes of a prompt batch
    // stay on their processors from layer to layer).
    for cpu in 0..4 {
        ensure!(pool.contains(&format!("job {cpu} on CPU {cpu};")), "job {cpu} did not run on CPU {cpu}: {pool}");
    }
    let loaded = m.wait_for_line("chat: local model", Duration::from_secs(30))?;
    println!("    {}", loaded.trim());
    // With a model and nothing else set up, the chat opens on it (no setup wizard).
    m.send_serial(b"hello there\r")?;
    m.wait_for("you: hello there", Duration::from_secs(20))?;
    // Random weights: this model writes only line breaks, which the chat reports as an
    // empty reply. Either ending means the forward passes ran.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let log = m.serial_text();
        if let Some(line) = log.lines().find(|l| l.contains("chat: local model: ") || l.contains("sent an empty reply"))
        {
            println!("    {}", line.trim());
            break;
        }
        ensure!(std::time::Instant::now() < deadline, "the Qwen3 model did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The adaptive prompt batch: between its floor (4) and the OS's cap (64), by doublings.
    let batch = m.wait_for_line("chat: local prompt steps ended at ", Duration::from_secs(30))?;
    println!("    {}", batch.trim());
    let tokens: usize = batch
        .split("ended at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no batch size in {batch:?}"))?;
    ensure!((4..=64).contains(&tokens) && tokens.is_power_of_two(), "prompt steps of {tokens} tokens");
    // Once the reply ends and the loop goes idle, it logs the jobs each processor ran.
    let spread = m.wait_for_line("pool: jobs run per processor", Duration::from_secs(30))?;
    println!("    {}", spread.trim());
    let busy = (0..4)
        .filter(|cpu| {
            spread
                .split(&format!("CPU {cpu}: "))
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
        .count();
    ensure!(busy == 4, "the model's work ran on {busy} of 4 processors: {spread}");
    Ok(())
}
