//! The processors the MADT lists, boot processor first.

use crate::acpi_tables;
use crate::arch::{Cpu, MAX_CPUS};
use acpi::madt::{Madt, MadtEntry};
use alloc::vec::Vec;

/// MADT local APIC flags: enabled, or online-capable (can be started).
const ENABLED: u32 = 1;
const ONLINE_CAPABLE: u32 = 2;

/// The boot processor's local APIC id (x2APIC id from CPUID leaf 0Bh when present).
pub fn boot_apic_id() -> u32 {
    if core::arch::x86_64::__cpuid(0).eax >= 0xb && core::arch::x86_64::__cpuid_count(0xb, 0).ebx != 0 {
        core::arch::x86_64::__cpuid_count(0xb, 0).edx
    } else {
        core::arch::x86_64::__cpuid(1).ebx >> 24
    }
}

/// Every usable processor in the MADT (at most [`MAX_CPUS`]), the boot processor first;
/// just the boot processor when there are no tables.
pub fn discover(rsdp: Option<u64>) -> Vec<Cpu> {
    let boot = Cpu { hardware_id: u64::from(boot_apic_id()), interface: 0 };
    let mut cpus = alloc::vec![boot];
    let Some(tables) = rsdp.and_then(|r| acpi_tables::from_rsdp(r).ok()) else { return cpus };
    let Ok(madt) = tables.find_table::<Madt>() else { return cpus };
    for entry in madt.get().entries() {
        let (id, flags) = match entry {
            MadtEntry::LocalApic(e) => (u64::from(e.apic_id), e.flags),
            MadtEntry::LocalX2Apic(e) => (u64::from(e.x2apic_id), e.flags),
            _ => continue,
        };
        if flags & (ENABLED | ONLINE_CAPABLE) == 0 || cpus.iter().any(|c| c.hardware_id == id) {
            continue;
        }
        if cpus.len() == MAX_CPUS {
            log::warn!("smp: more than {MAX_CPUS} processors; the others stay halted");
            break;
        }
        cpus.push(Cpu { hardware_id: id, interface: 0 });
    }
    cpus
}
