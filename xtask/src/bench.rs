//! `cargo xtask bench`: performance measured against a baseline run side by side.

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Machine, QemuOptions};
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// The available benchmarks.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// Boot to `moteOS ready`, against a trivial UEFI app that prints and powers off.
    Boot,
}

/// Runs a benchmark on each architecture.
pub fn run(which: Which, arches: &[Arch], runs: usize) -> Result<()> {
    match which {
        Which::Boot => {
            for &arch in arches {
                boot(arch, runs.max(1))?;
            }
            Ok(())
        }
    }
}

fn time_to(arch: Arch, disk: &Path, marker: &str) -> Result<Duration> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("disk.img");
    std::fs::copy(disk, &copy)?;
    let mut m = Machine::launch(&QemuOptions {
        arch,
        disk: copy,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
    })?;
    m.wait_for(marker, Duration::from_secs(120))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn boot(arch: Arch, runs: usize) -> Result<()> {
    let (efi, floor_efi) = builder::compile(arch, true)?;
    let dir = tempfile::tempdir()?;
    let images = [("floor", &floor_efi), ("moteos", &efi)].map(|(name, efi)| {
        let esp = dir.path().join(format!("esp-{name}"));
        let disk = dir.path().join(format!("{name}.img"));
        builder::layout_esp(&esp, arch, efi, &[]).and_then(|()| image::write_disk_image(&esp, &disk)).map(|_| disk)
    });
    let [floor_img, os_img] = images;
    let (floor_img, os_img) = (floor_img?, os_img?);
    let mut floor = Vec::new();
    let mut os = Vec::new();
    // Alternate the two so drift in machine load affects both alike.
    for i in 0..runs {
        floor.push(time_to(arch, &floor_img, "moteOS floor ready")?);
        os.push(time_to(arch, &os_img, "moteOS ready")?);
        println!(
            "  {arch} run {}/{runs}: floor {:.2} s, moteOS {:.2} s",
            i + 1,
            floor[i].as_secs_f64(),
            os[i].as_secs_f64()
        );
    }
    let (f, o) = (median(floor), median(os));
    let own = o.saturating_sub(f);
    let size = std::fs::metadata(&efi).map(|m| m.len()).unwrap_or(0);
    println!(
        "bench boot {arch}: firmware floor {:.2} s, moteOS ready {:.2} s, moteOS's own time {:.3} s (ratio {:.2}x the floor; target < 0.5 s); BOOT{}.EFI {} KiB (target < 2048 KiB)",
        f.as_secs_f64(),
        o.as_secs_f64(),
        own.as_secs_f64(),
        o.as_secs_f64() / f.as_secs_f64().max(1e-9),
        if arch == Arch::X86_64 { "X64" } else { "AA64" },
        size / 1024
    );
    Ok(())
}
