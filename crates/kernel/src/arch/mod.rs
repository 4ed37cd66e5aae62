//! Architecture support, one module per CPU family, selected at compile time.
//!
//! Each module offers the same small surface: `NAME`, `serial`, `halt_forever`,
//! `without_interrupts` and `float_selfcheck`.

#[cfg_attr(target_arch = "x86_64", path = "x86_64/mod.rs")]
#[cfg_attr(target_arch = "aarch64", path = "aarch64/mod.rs")]
mod imp;

pub mod address_space;
pub mod pool;

pub use imp::*;

/// The result of running a floating-point division on the CPU's FPU.
#[derive(Debug, Clone, Copy)]
pub struct FloatCheck {
    /// `1.0 / 3.0` as computed at run time.
    pub third: f64,
    /// `0.1 + 0.2` as computed at run time (0.30000000000000004 in IEEE 754 doubles).
    pub sum: f64,
    /// Whether the FPU's sticky "inexact" flag (MXCSR.PE / FPSR.IXC) was raised by
    /// the division. Software floating point never touches that register, so this
    /// proves the hardware unit did the work.
    pub hardware_inexact_flag: bool,
}

/// What interrupt setup produced.
#[derive(Debug)]
pub struct InterruptSetup {
    /// Rate of the monotonic counter (`cycle_counter`).
    pub counter: hal::clock::TickRate,
    /// Rate of the wake-up timer.
    pub timer: hal::clock::TickRate,
    /// The PS/2 keyboard's scancode set, if there is one.
    pub ps2_keyboard: Option<hal::ps2::ScancodeSet>,
    /// One line for the log.
    pub description: alloc::string::String,
}

/// What a PCI device writes, and where, to raise an interrupt (MSI/MSI-X).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsiMessage {
    /// The address the device writes to (the local APIC's window, or a GICv2m frame).
    pub address: u64,
    /// The value it writes (the vector, or the SPI number).
    pub data: u32,
}

/// One processor the firmware lists in the ACPI MADT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    /// Its hardware id: the local APIC id (x86_64) or the MPIDR affinity (AArch64).
    pub hardware_id: u64,
    /// The GICv2 CPU interface number (AArch64), else 0.
    pub interface: u32,
}

/// The most processors moteOS brings up; the rest are left halted (logged).
pub const MAX_CPUS: usize = 64;
