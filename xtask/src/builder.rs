//! `cargo xtask build`: compiles the UEFI image, lays out the ESP and writes the disk image.

use crate::arch::Arch;
use crate::image;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Target architecture.
    pub arch: Arch,
    /// Optimised build.
    pub release: bool,
    /// A config file to place at `\moteos\config.toml`.
    pub config: Option<PathBuf>,
    /// A model file to place at `\moteos\model.gguf`.
    pub model: Option<PathBuf>,
}

/// The repository root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Compiles `boot` (and the benchmark floor) for `arch`.
pub fn compile(arch: Arch, release: bool) -> Result<(PathBuf, PathBuf)> {
    // Separate invocations: the floor must not share `boot`'s crate features
    // (cargo unifies features across packages built together).
    cargo_uefi("build", arch, release, "boot", &[])?;
    cargo_uefi("build", arch, release, "floor", &[])?;
    let out = root().join("target").join(arch.target_dir_name()).join(if release { "release" } else { "debug" });
    Ok((out.join("moteos.efi"), out.join("floor.efi")))
}

/// Lints the UEFI crates for `arch`, denying warnings.
pub fn clippy_uefi(arch: Arch) -> Result<()> {
    for package in ["boot", "floor"] {
        cargo_uefi("clippy", arch, false, package, &["--", "-D", "warnings"])?;
    }
    Ok(())
}

/// Runs a cargo subcommand for one UEFI package with the build-std flags.
fn cargo_uefi(subcommand: &str, arch: Arch, release: bool, package: &str, extra: &[&str]) -> Result<()> {
    let root = root();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root).args([subcommand, "--package", package, "--target"]).arg(arch.cargo_target(&root)).args([
        "-Zbuild-std=core,alloc,compiler_builtins",
        "-Zbuild-std-features=compiler-builtins-mem",
        "-Zjson-target-spec",
    ]);
    if release {
        cmd.arg("--release");
    }
    if let Some(time) = build_unix_time() {
        // The kernel's lower bound for the wall clock (certificates are never checked as of
        // a date before the build).
        cmd.env("MOTEOS_BUILD_UNIX", time.to_string());
    }
    cmd.args(extra);
    let status = cmd.status().with_context(|| format!("running cargo {subcommand} for {package}"))?;
    if !status.success() {
        bail!("cargo {subcommand} of {package} for {arch} failed");
    }
    Ok(())
}

/// When the sources were last committed (or `SOURCE_DATE_EPOCH`, for reproducible builds),
/// in seconds since 1970; `None` outside a git checkout.
fn build_unix_time() -> Option<u64> {
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()) {
        return Some(epoch);
    }
    let out = Command::new("git").current_dir(root()).args(["log", "-1", "--format=%ct"]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// Lays out an ESP folder: the boot loader plus optional moteOS files.
pub fn layout_esp(esp: &Path, arch: Arch, efi: &Path, files: &[(&str, &Path)]) -> Result<()> {
    if esp.exists() {
        std::fs::remove_dir_all(esp).with_context(|| format!("clearing {}", esp.display()))?;
    }
    let boot_dir = esp.join("EFI/BOOT");
    std::fs::create_dir_all(&boot_dir).with_context(|| format!("creating {}", boot_dir.display()))?;
    std::fs::copy(efi, boot_dir.join(arch.boot_file_name())).with_context(|| format!("copying {}", efi.display()))?;
    for (name, source) in files {
        let dest = esp.join("moteos").join(name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(source, &dest).with_context(|| format!("copying {} onto the ESP", source.display()))?;
    }
    Ok(())
}

/// Builds everything `cargo xtask build` promises; returns the disk image's path.
pub fn build(opts: &BuildOptions) -> Result<PathBuf> {
    let (efi, _) = compile(opts.arch, opts.release)?;
    let root = root();
    let esp = root.join("target").join(format!("esp-{}", opts.arch));
    let mut files: Vec<(&str, &Path)> = Vec::new();
    if let Some(config) = &opts.config {
        files.push(("config.toml", config));
    }
    if let Some(model) = &opts.model {
        files.push(("model.gguf", model));
    }
    layout_esp(&esp, opts.arch, &efi, &files)?;
    let image = root.join("target").join(format!("moteos-{}.img", opts.arch));
    image::write_disk_image(&esp, &image)?;
    let size = std::fs::metadata(&efi).map(|m| m.len()).unwrap_or(0);
    println!("built {} ({} KiB), ESP {}, disk image {}", efi.display(), size / 1024, esp.display(), image.display());
    Ok(image)
}
