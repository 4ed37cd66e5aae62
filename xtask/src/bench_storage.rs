//! `cargo xtask bench storage`: saves in the guest beside a raw block write measured
//! in the same boot, and boot to ready with 100 saved conversations against none.

use crate::arch::Arch;
use crate::builder;
use crate::image;
use crate::qemu::{self, Display, Machine, Nic, QemuOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs the storage benchmark on each architecture.
pub fn run(arches: &[Arch], runs: usize) -> Result<()> {
    for &arch in arches {
        // The debug profile the end-to-end suite boots (kernel opt-level 1, dependencies
        // opt-level 2): an upper bound for a release image.
        let (efi, _) = builder::compile(arch, false)?;
        let dir = tempfile::tempdir()?;
        saves(arch, &efi, dir.path())?;
        boot_with_chats(arch, &efi, dir.path(), runs)?;
    }
    Ok(())
}

fn image_with(arch: Arch, efi: &Path, dir: &Path, name: &str, files: &[(String, Vec<u8>)]) -> Result<PathBuf> {
    let esp = dir.join(format!("esp-{name}"));
    builder::layout_esp(&esp, arch, efi, &[])?;
    for (path, bytes) in files {
        let target = esp.join("moteos").join(path);
        std::fs::create_dir_all(target.parent().context("no parent")?)?;
        std::fs::write(target, bytes)?;
    }
    let disk = dir.join(format!("{name}.img"));
    image::write_disk_image(&esp, &disk)?;
    Ok(disk)
}

fn launch(arch: Arch, disk: &Path) -> Result<Machine> {
    let copy = disk.with_extension("run.img");
    std::fs::copy(disk, &copy)?;
    Machine::launch(&QemuOptions {
        arch,
        disk: copy,
        memory_mib: qemu::DEFAULT_MEMORY_MIB,
        display: Display::Headless,
        nic: Nic::None,
    })
}

fn micros_after(log: &str, prefix: &str) -> Result<f64> {
    let at = log.find(prefix).with_context(|| format!("{prefix:?} missing from the serial log"))?;
    let digits: String = log[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
    Ok(digits.parse::<f64>().with_context(|| format!("no number after {prefix:?}"))? / 1000.0)
}

fn saves(arch: Arch, efi: &Path, dir: &Path) -> Result<()> {
    let disk = image_with(arch, efi, dir, "bench", &[("boot-options".into(), b"test-storage-bench\n".to_vec())])?;
    let mut m = launch(arch, &disk)?;
    m.wait_for("moteOS ready", Duration::from_secs(150))?;
    let log = m.serial_text();
    let raw = micros_after(&log, "storage bench: raw write of 100 KiB took ")?;
    let raw_line = &log[log.find("storage bench: raw write of 100 KiB took ").unwrap_or(0)..];
    let (writing, flushing) = (micros_after(raw_line, " (")?, micros_after(raw_line, " us writing, ")?);
    let settings = micros_after(&log, "storage bench: saving settings took ")?;
    let chat_at = log.find("storage bench: saving a 50-turn conversation (").context("conversation save missing")?;
    let chat_line = &log[chat_at..];
    let chat = micros_after(chat_line, " took ")?;
    let bytes: String = chat_line["storage bench: saving a 50-turn conversation (".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    println!(
        "bench storage {arch} (debug build): saving settings {settings:.1} ms, saving a 50-turn conversation ({bytes} bytes) {chat:.1} ms \
         (target < 100 ms each); raw 100 KiB block write in the same boot {raw:.1} ms = {writing:.1} ms writing + {flushing:.1} ms \
         flushing the device's cache (conversation {:.1}x the raw write)",
        chat / raw.max(1e-3)
    );
    Ok(())
}

fn boot_with_chats(arch: Arch, efi: &Path, dir: &Path, runs: usize) -> Result<()> {
    // Files as moteOS writes them (`chats/NNNNNNNN.json`, format 1), 100 turns each: the
    // boot lists them all and resumes the newest.
    let chats: Vec<(String, Vec<u8>)> = (1..=100)
        .map(|i| {
            let turns: Vec<serde_json::Value> = (0..100)
                .map(|t| {
                    let role = if t % 2 == 0 { "user" } else { "assistant" };
                    serde_json::json!({ "role": role, "text": format!("turn {t} of conversation {i}") })
                })
                .collect();
            let body = serde_json::json!({
                "format": 1, "title": format!("chat {i}"), "provider": "anthropic", "model": "claude-sonnet-4-5",
                "created": 1_780_000_000 + i, "updated": 1_780_000_000 + i, "turns": turns,
            });
            (format!("chats/{i:08}.json"), body.to_string().into_bytes())
        })
        .collect();
    let none = image_with(arch, efi, dir, "chats-0", &[])?;
    let hundred = image_with(arch, efi, dir, "chats-100", &chats)?;
    let (mut t0, mut t100, mut s0, mut s100) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        for (disk, times, inner) in [(&none, &mut t0, &mut s0), (&hundred, &mut t100, &mut s100)] {
            let mut m = launch(arch, disk)?;
            times.push(m.wait_for("moteOS ready", Duration::from_secs(150))?.as_secs_f64());
            inner.push(micros_after(&m.serial_text(), "storage: boot work took ")?);
        }
        println!("  {arch} run {}/{runs}: none {:.2} s, 100 chats {:.2} s", i + 1, t0[i], t100[i]);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b, sa, sb) = (median(&mut t0), median(&mut t100), median(&mut s0), median(&mut s100));
    println!(
        "bench storage {arch}: boot to ready with no saved conversations {a:.2} s, with 100 {b:.2} s \
         (difference {:+.3} s; target within 0.2 s); the kernel's storage work at boot {sa:.1} ms vs {sb:.1} ms",
        b - a
    );
    Ok(())
}
