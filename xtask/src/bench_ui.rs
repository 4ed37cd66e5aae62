//! `cargo xtask bench ui`: how fast the chat screen answers.
//!
//! - Host (release build of `crates/app/examples/bench_ui.rs`): full redraw at 1920x1080,
//!   a keystroke's redraw and a streamed token's redraw, each beside a plain copy of one
//!   1920x1080 frame measured in the same run.
//! - Guest (release image under TCG, boot option `bench-keys`): the kernel logs the time
//!   from a key's interrupt to the end of the framebuffer write that shows it. Printed for
//!   keys typed on the emulated keyboard (QMP) and for bytes on the serial console, beside
//!   the serial key-to-echo latency seen from the host in the same run (a letter and CR
//!   sent, until the console echoes the line).

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Machine, QemuOptions};
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};

/// Runs the host half once, then the guest half on each architecture.
pub fn run(arches: &[Arch], runs: usize) -> Result<()> {
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| String::from("cargo")))
        .current_dir(builder::root())
        .args(["run", "--quiet", "--release", "--package", "app", "--example", "bench_ui"])
        .status()
        .context("running the host UI benchmark")?;
    if !status.success() {
        bail!("the host UI benchmark failed");
    }
    for &arch in arches {
        guest(arch, runs.max(15))?;
    }
    Ok(())
}

/// One `bench: key to screen N us (drawing M us; ...)` line: (total ms, drawing ms).
fn parse(line: &str) -> Option<(f64, f64)> {
    let total: f64 = line.split("key to screen ").nth(1)?.split(' ').next()?.parse().ok()?;
    let drawing: f64 = line.split("drawing ").nth(1)?.split(' ').next()?.parse().ok()?;
    Some((total / 1000.0, drawing / 1000.0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Waits for the next `bench: key to screen` line after the first `seen` ones.
fn next_bench_line(m: &Machine, seen: usize) -> Result<(String, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = m.serial_text();
        // Whole lines only: the last one may still be arriving.
        let whole = log.rfind('\n').map_or("", |end| &log[..end]);
        if let Some(line) = whole.lines().filter(|l| l.contains("bench: key to screen")).nth(seen) {
            return Ok((line.to_string(), Instant::now()));
        }
        if Instant::now() > deadline {
            bail!("no key-to-screen line from the guest");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn guest(arch: Arch, runs: usize) -> Result<()> {
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let esp = dir.path().join("esp");
    let options = dir.path().join("boot-options");
    std::fs::write(&options, "bench-keys\n")?;
    builder::layout_esp(&esp, arch, &efi, &[("boot-options", &options)])?;
    let disk = dir.path().join("moteos.img");
    image::write_disk_image(&esp, &disk)?;
    let opts = QemuOptions {
        arch,
        disk,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: qemu::Nic::None,
    };
    let mut m = Machine::launch(&opts)?;
    m.wait_for("moteOS ready", Duration::from_secs(150))?;
    std::thread::sleep(Duration::from_secs(2));
    let mut seen = m.serial_text().matches("bench: key to screen").count();

    // Keys on the emulated keyboard (PS/2 on x86_64, virtio-input on AArch64).
    let (mut keyboard, mut keyboard_draw) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let key = if i % 10 == 9 { String::from("backspace") } else { char::from(b'a' + (i % 26) as u8).to_string() };
        m.send_keys(&[key.as_str()])?;
        let (line, _) = next_bench_line(&m, seen)?;
        seen += 1;
        let (total, drawing) = parse(&line).context("unreadable bench line")?;
        keyboard.push(total);
        keyboard_draw.push(drawing);
        std::thread::sleep(Duration::from_millis(150));
    }
    m.send_keys(&["ctrl-u"])?;
    std::thread::sleep(Duration::from_millis(500));
    seen = m.serial_text().matches("bench: key to screen").count();

    // Bytes on the serial console: the guest's figure, and the host's view of the same.
    let (mut serial, mut serial_host) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let byte = if i % 10 == 9 { 0x7f } else { b'a' + (i % 26) as u8 };
        let sent = Instant::now();
        m.send_serial(&[byte])?;
        let (line, at) = next_bench_line(&m, seen)?;
        seen += 1;
        serial.push(parse(&line).context("unreadable bench line")?.0);
        serial_host.push(at.duration_since(sent).as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(150));
    }
    m.send_serial(b"\x15")?;
    std::thread::sleep(Duration::from_millis(300));

    // Baseline: serial key-to-echo, a letter and CR until the console echoes the line.
    let mut echo = Vec::new();
    for i in 0..runs {
        let c = char::from(b'a' + (i % 26) as u8);
        let marker = format!("you: {c}\n");
        let before = m.serial_text().matches(&marker).count();
        let sent = Instant::now();
        m.send_serial(&[c as u8, b'\r'])?;
        while m.serial_text().matches(&marker).count() == before {
            if sent.elapsed() > Duration::from_secs(10) {
                bail!("no echo for {c:?}");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        echo.push(sent.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(150));
    }
    m.kill();

    println!("bench ui guest {arch} (TCG, release, median of {runs}):");
    println!(
        "  keyboard key to screen   {:>7.2} ms in the guest (drawing {:.2} ms)",
        median(keyboard),
        median(keyboard_draw)
    );
    println!(
        "  serial byte to screen    {:>7.2} ms in the guest, {:.2} ms seen from the host",
        median(serial),
        median(serial_host)
    );
    println!("  baseline: serial key-to-echo (letter + CR to the echoed line, host clock) {:.2} ms", median(echo));
    Ok(())
}
