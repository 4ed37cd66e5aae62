//! Switching the machine off when the application asks: the architecture's own way
//! (PSCI on AArch64), then the firmware's `ResetSystem`; if both fail, the CPU halts with
//! a sentence on the serial console saying it is safe to cut the power.

use log::{info, warn};

/// What can switch the machine off.
#[derive(Debug, Clone, Copy)]
pub struct Switch {
    rsdp: Option<u64>,
    firmware: Option<fn() -> !>,
}

impl Switch {
    /// The ways this machine offers.
    pub fn new(rsdp: Option<u64>, firmware: Option<fn() -> !>) -> Switch {
        Switch { rsdp, firmware }
    }

    /// Switches off. Never returns.
    pub fn switch_off(&self) -> ! {
        info!("power: switching off");
        let why = crate::arch::power_off(self.rsdp);
        if let Some(firmware) = self.firmware {
            info!("power: {why}; asking the firmware (ResetSystem)");
            firmware();
        }
        warn!("power: {why}, and the firmware offers no way to switch off: it is safe to cut the power now");
        crate::arch::halt_forever()
    }
}
