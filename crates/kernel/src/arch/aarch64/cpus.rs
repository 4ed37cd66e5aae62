//! The processors the MADT lists (GICC entries), boot processor first.

use crate::acpi_tables;
use crate::arch::{Cpu, MAX_CPUS};
use aarch64_cpu::registers::{MPIDR_EL1, Readable};
use acpi::madt::{Madt, MadtEntry};
use alloc::vec::Vec;

/// GICC flags: enabled, or online-capable (can be started).
const ENABLED: u32 = 1;
const ONLINE_CAPABLE: u32 = 1 << 3;

/// The affinity fields of this CPU's MPIDR_EL1.
pub fn this_mpidr() -> u64 {
    super::gic::affinity(MPIDR_EL1.get())
}

/// Every usable processor in the MADT (at most [`MAX_CPUS`]), the boot processor first;
/// just the boot processor when there are no tables.
pub fn discover(rsdp: Option<u64>) -> Vec<Cpu> {
    let me = this_mpidr();
    let mut cpus = alloc::vec![Cpu { hardware_id: me, interface: 0 }];
    let Some(tables) = rsdp.and_then(|r| acpi_tables::from_rsdp(r).ok()) else { return cpus };
    let Ok(madt) = tables.find_table::<Madt>() else { return cpus };
    for entry in madt.get().entries() {
        let MadtEntry::Gicc(e) = entry else { continue };
        let (mpidr, flags, interface) = (super::gic::affinity(e.mpidr), e.flags, e.cpu_interface_number);
        if mpidr == me {
            cpus[0].interface = interface;
            continue;
        }
        if flags & (ENABLED | ONLINE_CAPABLE) == 0 || cpus.iter().any(|c| c.hardware_id == mpidr) {
            continue;
        }
        if cpus.len() == MAX_CPUS {
            log::warn!("smp: more than {MAX_CPUS} processors; the others stay halted");
            break;
        }
        cpus.push(Cpu { hardware_id: mpidr, interface });
    }
    cpus
}
