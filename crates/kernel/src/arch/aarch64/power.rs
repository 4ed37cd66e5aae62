//! Switching the machine off: PSCI `SYSTEM_OFF`, through the conduit the FADT names.

use crate::acpi_tables;
use acpi::fadt::Fadt;
use smccc::{Hvc, Smc, psci};

/// Asks the firmware (PSCI) to switch the machine off. Returns only if it refused or
/// there is no PSCI, with the reason.
pub fn power_off(rsdp: Option<u64>) -> &'static str {
    let Some(tables) = rsdp.and_then(|r| acpi_tables::from_rsdp(r).ok()) else {
        return "there are no ACPI tables to find PSCI in";
    };
    let Ok(fadt) = tables.find_table::<Fadt>() else { return "the ACPI tables have no FADT" };
    let flags = fadt.arm_boot_arch;
    if !flags.implements_psci() {
        return "the firmware does not implement PSCI";
    }
    let result = if flags.use_hvc_as_psci_conduit() { psci::system_off::<Hvc>() } else { psci::system_off::<Smc>() };
    match result {
        Ok(()) => "PSCI SYSTEM_OFF returned",
        Err(_) => "PSCI SYSTEM_OFF was refused",
    }
}
