//! Benchmarks for the architecture work: boot time with and without starting the
//! application processors, and local inference in the guest at one and two processors.

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Machine, QemuOptions};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn image_with(dir: &Path, arch: Arch, efi: &Path, name: &str, files: &[(&str, &Path)]) -> Result<PathBuf> {
    let esp = dir.join(format!("esp-{name}"));
    let disk = dir.join(format!("{name}.img"));
    builder::layout_esp(&esp, arch, efi, files)?;
    image::write_disk_image(&esp, &disk)?;
    Ok(disk)
}

fn launch(arch: Arch, disk: &Path, nic: qemu::Nic, cpus: u32) -> Result<(Machine, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("disk.img");
    std::fs::copy(disk, &copy)?;
    let opts = QemuOptions { arch, disk: copy, memory_mib: qemu::DEFAULT_MEMORY_MIB, display: Display::Headless, nic };
    let extras =
        crate::qemu::Extras { args: vec![String::from("-smp"), cpus.to_string()], ..crate::qemu::Extras::default() };
    Ok((Machine::launch_with(&opts, &extras)?, dir))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Boot to `moteOS ready` on a four-processor machine with the application processors
/// started and left halted (`no-smp`), alternating, plus the kernel's own figure for the
/// start-up.
pub fn boot_smp(arch: Arch, runs: usize, efi: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let with = image_with(dir.path(), arch, efi, "smp", &[])?;
    let options = dir.path().join("no-smp");
    std::fs::write(&options, "no-smp\n")?;
    let without = image_with(dir.path(), arch, efi, "no-smp", &[("boot-options", &options)])?;
    let (mut on, mut off, mut kernel_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let (mut m, _d) = launch(arch, &without, qemu::Nic::VirtioNet, 4)?;
        off.push(m.wait_for("moteOS ready", Duration::from_secs(180))?);
        drop(m);
        let (mut m, _d) = launch(arch, &with, qemu::Nic::VirtioNet, 4)?;
        on.push(m.wait_for("moteOS ready", Duration::from_secs(180))?);
        let line = m.wait_for_line("smp: ", Duration::from_secs(1)).unwrap_or_default();
        let log = m.serial_text();
        let line = log.lines().find(|l| l.contains("processor(s) online")).unwrap_or(&line).to_string();
        if let Some(ms) =
            line.split("started in ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok())
        {
            kernel_ms.push(ms);
        }
        println!(
            "  {arch} -smp 4 run {}/{runs}: without AP start-up {:.2} s, with {:.2} s ({})",
            i + 1,
            off[i].as_secs_f64(),
            on[i].as_secs_f64(),
            line.trim_start_matches("[INFO ] ").trim()
        );
    }
    kernel_ms.sort_unstable();
    let (a, b) = (median(on), median(off));
    println!(
        "bench boot {arch} -smp 4: moteOS ready {:.2} s with the 3 application processors started, {:.2} s with them left halted (ratio {:.3}); the kernel's start-up of them takes {} ms (median)",
        a.as_secs_f64(),
        b.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64().max(1e-9),
        kernel_ms.get(kernel_ms.len() / 2).map_or_else(|| "?".to_string(), |m| m.to_string())
    );
    Ok(())
}

/// Tokens per second of the bundled model answering the same question in a release guest
/// with `cpus` processors each (TCG runs each virtual processor on its own host thread).
pub fn guest_smp(arch: Arch, cpus: &[u32]) -> Result<()> {
    let model = crate::model::ensure()?;
    let (efi, _) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let disk = image_with(dir.path(), arch, &efi, "model", &[("model.gguf", &model)])?;
    let mut results = Vec::new();
    for &cpus in cpus {
        let (mut m, _d) = launch(arch, &disk, qemu::Nic::None, cpus)?;
        m.wait_for("moteOS ready", Duration::from_secs(180))?;
        m.send_serial(b"Write one sentence about the sea.\r")?;
        let line = m.wait_for_line("chat: local model: ", Duration::from_secs(900))?;
        let line = line.trim_start_matches("chat: local model: ").trim().to_string();
        println!("  {arch} -smp {cpus}: {line}");
        results.push((cpus, line));
    }
    println!(
        "bench guest {arch} (release, TCG): {}",
        results.iter().map(|(c, l)| format!("-smp {c}: {l}")).collect::<Vec<_>>().join(" | ")
    );
    Ok(())
}
