//! USB benchmarks, each beside its baseline in the same run:
//! - `bench input`: key-to-echo latency of a USB keyboard against PS/2 (x86_64)
//!   and virtio-input, and the idle CPU of a guest with an xHCI controller and a
//!   USB keyboard attached against the same guest with no USB at all;
//! - the usb-net leg of `bench net`: 1 MiB over a CDC-ECM adapter, printed
//!   beside the virtio-net figure `bench net` measures in the same run.

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Extras, Machine, QemuOptions};
use anyhow::{Result, bail};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// How a benchmark guest's keyboard is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyboard {
    /// The i8042 PS/2 controller (x86_64 only).
    Ps2,
    /// virtio-keyboard-pci.
    Virtio,
    /// usb-kbd on qemu-xhci.
    Usb,
}

fn extras(arch: Arch, keyboard: Keyboard) -> Extras {
    let args: Vec<String> = match keyboard {
        Keyboard::Ps2 => Vec::new(),
        Keyboard::Virtio if arch == Arch::Aarch64 => Vec::new(),
        Keyboard::Virtio => vec!["-device".into(), "virtio-keyboard-pci".into()],
        Keyboard::Usb => {
            vec!["-device".into(), "qemu-xhci,id=xhci".into(), "-device".into(), "usb-kbd,bus=xhci.0".into()]
        }
    };
    let machine = if keyboard == Keyboard::Ps2 || arch == Arch::Aarch64 { "" } else { ",i8042=off" };
    Extras { machine, no_virtio_keyboard: keyboard != Keyboard::Virtio, args, ..Extras::default() }
}

fn release_image(arch: Arch, dir: &Path, files: &[(&str, &Path)]) -> Result<std::path::PathBuf> {
    let (efi, _) = builder::compile(arch, true)?;
    let esp = dir.join("esp");
    let disk = dir.join("moteos.img");
    builder::layout_esp(&esp, arch, &efi, files)?;
    image::write_disk_image(&esp, &disk)?;
    Ok(disk)
}

fn launch(arch: Arch, disk: &Path, nic: qemu::Nic, extras: &Extras) -> Result<Machine> {
    let opts = QemuOptions {
        arch,
        disk: disk.to_path_buf(),
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic,
    };
    Machine::launch_with(&opts, extras)
}

/// Median key-to-echo latency, in ms: a letter and Enter sent as QMP key
/// events, until the chat logs the submitted line (`you: c`) on serial. Typed
/// keys themselves are never logged, so the line is the first echo there is.
fn key_latency(m: &mut Machine, keys: usize) -> Result<f64> {
    let mut latencies = Vec::new();
    for i in 0..keys {
        let c = (b'a' + (i % 26) as u8) as char;
        let marker = format!("you: {c}\r");
        let seen_before = m.serial_text().matches(&marker).count();
        let event = |key: &str, down: bool| json!({"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": key}}});
        let sent = Instant::now();
        let letter = c.to_string();
        m.qmp("input-send-event", json!({ "events": [event(&letter, true), event(&letter, false)] }))?;
        m.qmp("input-send-event", json!({ "events": [event("ret", true), event("ret", false)] }))?;
        while m.serial_text().matches(&marker).count() == seen_before {
            if sent.elapsed() > Duration::from_secs(10) {
                bail!("no echo for {c:?}");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(300));
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies[latencies.len() / 2])
}

/// `cargo xtask bench input`.
pub fn input(arch: Arch, runs: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let disk = release_image(arch, dir.path(), &[])?;
    let keyboards: &[Keyboard] = if arch == Arch::X86_64 {
        &[Keyboard::Ps2, Keyboard::Virtio, Keyboard::Usb]
    } else {
        &[Keyboard::Virtio, Keyboard::Usb]
    };
    let window = Duration::from_secs(10);
    let mut results = Vec::new();
    for &keyboard in keyboards {
        let copy = dir.path().join(format!("{keyboard:?}.img"));
        std::fs::copy(&disk, &copy)?;
        let mut m = launch(arch, &copy, qemu::Nic::None, &extras(arch, keyboard))?;
        m.wait_for("moteOS ready", Duration::from_secs(150))?;
        if keyboard == Keyboard::Usb {
            m.wait_for("usb: 0627:0001", Duration::from_secs(30))?;
        }
        std::thread::sleep(Duration::from_secs(2));
        let idle = crate::bench::cpu_share_over(&m, window)?;
        let latency = key_latency(&mut m, runs.max(9))?;
        m.kill();
        results.push((keyboard, latency, idle));
    }
    for (keyboard, latency, idle) in &results {
        println!(
            "bench input {arch} {keyboard:?}: key + Enter to echoed line, median {latency:.1} ms; idle guest {idle:.2} % of a host core over {} s",
            window.as_secs()
        );
    }
    if let (Some(usb), Some(base)) =
        (results.iter().find(|r| r.0 == Keyboard::Usb), results.iter().find(|r| r.0 != Keyboard::Usb))
    {
        println!(
            "bench input {arch}: USB latency {:.2}x {:?}'s; idle CPU with xHCI + keyboard {:.2} % vs {:.2} % without USB (target < 1 %)",
            usb.1 / base.1,
            base.0,
            usb.2,
            base.2
        );
    }
    Ok(())
}

/// The usb-net leg of `bench net`: 1 MiB downloads over a CDC-ECM adapter (the
/// only NIC), printed the same way as the virtio-net figure of the same run.
pub fn net_usb(arch: Arch, runs: usize) -> Result<()> {
    let servers = crate::servers::shared()?;
    let port = servers.http.port;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    std::fs::write(&config, crate::servers::NETWORK_TEST_CONFIG)?;
    let options = dir.path().join("boot-options");
    let url = format!("http://{}:{port}/blob-cl", crate::servers::TEST_HOST);
    std::fs::write(&options, (0..runs).map(|_| format!("test-fetch={url}\n")).collect::<String>())?;
    let disk = release_image(arch, dir.path(), &[("config.toml", &config), ("boot-options", &options)])?;
    let mut extras = extras(arch, Keyboard::Usb);
    extras.args.extend(["-netdev", "user,id=usbnet", "-device", "usb-net,bus=xhci.0,netdev=usbnet"].map(String::from));
    let mut m = launch(arch, &disk, qemu::Nic::None, &extras)?;
    let prefix = format!("fetch: done: {url}:");
    let deadline = Instant::now() + Duration::from_secs(400);
    while m.serial_text().matches(&prefix).count() < runs {
        if Instant::now() > deadline {
            bail!(
                "the guest finished only {} of {runs} downloads over usb-net",
                m.serial_text().matches(&prefix).count()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let text = m.serial_text();
    m.kill();
    let mut totals: Vec<f64> =
        text.lines().filter(|l| l.contains(&prefix)).filter_map(crate::bench::fetch_times).map(|t| t.0).collect();
    totals.sort_by(f64::total_cmp);
    let total = totals.get(totals.len() / 2).copied().unwrap_or(f64::NAN);
    let mib = crate::servers::BLOB_LEN as f64 / (1024.0 * 1024.0);
    println!(
        "bench net {arch} usb-net (CDC-ECM on xHCI): 1 MiB in the guest {total:.0} ms ({:.1} MiB/s) (median of {runs}); compare the virtio-net line above",
        mib / (total / 1000.0)
    );
    Ok(())
}
