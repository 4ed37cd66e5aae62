//! The two machines moteOS builds for, and what differs between them.

use std::fmt;
use std::path::{Path, PathBuf};

/// A target architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// PCs and QEMU q35, with OVMF.
    #[value(name = "x86_64")]
    X86_64,
    /// Arm64 boards and QEMU virt, with AAVMF.
    #[value(name = "aarch64")]
    Aarch64,
}

impl Arch {
    /// Both architectures, in the order tests run them.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name used on the command line and in paths.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The `--target` argument for cargo: x86_64 uses our hard-float spec.
    pub fn cargo_target(self, root: &Path) -> String {
        match self {
            Arch::X86_64 => root.join("targets/x86_64-moteos-uefi.json").display().to_string(),
            Arch::Aarch64 => "aarch64-unknown-uefi".to_string(),
        }
    }

    /// The folder under `target/` where cargo puts this target's artifacts.
    pub fn target_dir_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-moteos-uefi",
            Arch::Aarch64 => "aarch64-unknown-uefi",
        }
    }

    /// The removable-media boot file name the firmware looks for.
    pub fn boot_file_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "BOOTX64.EFI",
            Arch::Aarch64 => "BOOTAA64.EFI",
        }
    }

    /// The QEMU system emulator.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// Firmware code (read-only) and the variable-store template.
    pub fn firmware(self) -> (PathBuf, PathBuf) {
        match self {
            Arch::X86_64 => ("/usr/share/OVMF/OVMF_CODE_4M.fd".into(), "/usr/share/OVMF/OVMF_VARS_4M.fd".into()),
            Arch::Aarch64 => ("/usr/share/AAVMF/AAVMF_CODE.fd".into(), "/usr/share/AAVMF/AAVMF_VARS.fd".into()),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
