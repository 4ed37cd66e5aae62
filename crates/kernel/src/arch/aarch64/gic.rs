//! The two GIC generations behind one face: GICv2 (memory-mapped CPU interface) and
//! GICv3/v4 (redistributors, CPU interface through system registers), both driven by the
//! `arm-gic` crate.

use arm_gic::gicv2::GicV2;
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use core::ptr::NonNull;

/// Priority given to every interrupt the kernel enables (the middle of the non-secure range).
const PRIORITY: u8 = 0xa0;

/// One interrupt controller, either generation.
pub enum Gic {
    /// GICv2: distributor and a banked memory-mapped CPU interface.
    V2(GicV2<'static>),
    /// GICv3: distributor, one redistributor per CPU, system-register CPU interface.
    V3 {
        /// The driver.
        gic: GicV3<'static>,
        /// Index of the boot CPU's redistributor.
        boot_cpu: usize,
    },
}

impl core::fmt::Debug for Gic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Gic::V2(_) => "GICv2",
            Gic::V3 { .. } => "GICv3",
        })
    }
}

/// Where the GIC's registers are, from the MADT.
#[derive(Debug, Clone, Copy)]
pub enum GicLocation {
    /// Distributor and CPU interface.
    V2 {
        /// GICD base.
        gicd: u64,
        /// GICC base.
        gicc: u64,
    },
    /// Distributor and the redistributor range.
    V3 {
        /// GICD base.
        gicd: u64,
        /// First redistributor frame.
        gicr: u64,
        /// How many redistributors the range holds (one per CPU).
        count: usize,
    },
}

impl Gic {
    /// Takes over the GIC at `location` and sets it up for the boot CPU (MPIDR `mpidr`).
    ///
    /// # Safety
    /// `location` must name the GIC's registers (from the MADT), identity-mapped as device
    /// memory, and nothing else may access them while this value lives.
    pub unsafe fn open(location: GicLocation, mpidr: u64) -> Result<Gic, &'static str> {
        match location {
            GicLocation::V2 { gicd, gicc } => {
                // SAFETY: forwarded from the caller (GICv2 distributor and CPU interface).
                let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
                gic.setup();
                Ok(Gic::V2(gic))
            }
            GicLocation::V3 { gicd, gicr, count } => {
                let gicd = NonNull::new(gicd as *mut _).ok_or("the MADT names no GIC distributor")?;
                let gicr = NonNull::new(gicr as *mut _).ok_or("the MADT names no GIC redistributor")?;
                // SAFETY: forwarded from the caller: the distributor and `count` consecutive
                // redistributor frames, exclusively ours.
                let mut gic = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, count) }
                    .map_err(|_| "the GIC redistributors have a layout arm-gic does not know")?;
                let boot_cpu = (0..count)
                    .find(|&i| gic.gicr_typer(i).is_ok_and(|t| t.core_mpidr() == affinity(mpidr)))
                    .ok_or("no GIC redistributor belongs to the boot CPU")?;
                gic.setup(boot_cpu);
                // Non-secure group 1 only: it is signalled as IRQ (group 0 would arrive as FIQ).
                GicCpuInterface::enable_group0(false);
                GicCpuInterface::set_priority_mask(0xff);
                Ok(Gic::V3 { gic, boot_cpu })
            }
        }
    }

    /// Configures and enables `intid` (private interrupts on the boot CPU; shared ones are
    /// routed to the boot CPU, MPIDR `mpidr`).
    pub fn enable(&mut self, intid: IntId, trigger: Trigger, mpidr: u64) -> Result<(), &'static str> {
        const REFUSED: &str = "the GIC refused to configure an interrupt";
        match self {
            Gic::V2(gic) => {
                gic.set_interrupt_priority(intid, PRIORITY);
                gic.set_trigger(intid, trigger);
                gic.enable_interrupt(intid, true).map_err(|_| REFUSED)
            }
            Gic::V3 { gic, boot_cpu } => {
                let cpu = Some(*boot_cpu);
                gic.set_interrupt_priority(intid, cpu, PRIORITY).map_err(|_| REFUSED)?;
                gic.set_trigger(intid, cpu, trigger).map_err(|_| REFUSED)?;
                if !intid.is_private() {
                    gic.distributor().set_routing(intid, Some(affinity(mpidr))).map_err(|_| REFUSED)?;
                }
                gic.enable_interrupt(intid, cpu, true).map_err(|_| REFUSED)
            }
        }
    }

    /// Acknowledges the highest-priority pending interrupt on this CPU.
    pub fn acknowledge(&mut self) -> Option<IntId> {
        match self {
            // Non-secure EL1 acknowledges through GICC_IAR whatever the grouping.
            Gic::V2(gic) => gic.get_and_acknowledge_interrupt(InterruptGroup::Group0),
            Gic::V3 { .. } => acknowledge_v3(),
        }
    }

    /// Ends (drops the priority of and deactivates) `intid` on this CPU.
    pub fn end(&mut self, intid: IntId) {
        match self {
            Gic::V2(gic) => gic.end_interrupt(intid, InterruptGroup::Group0),
            Gic::V3 { .. } => end_v3(intid),
        }
    }

    /// The GIC architecture version (2 or 3).
    pub fn version(&self) -> u8 {
        match self {
            Gic::V2(_) => 2,
            Gic::V3 { .. } => 3,
        }
    }

    /// Sends software-generated interrupt `sgi` to the CPU whose MPIDR is `mpidr`
    /// (`cpu_interface` is its GICv2 CPU interface number).
    pub fn send_sgi(&mut self, sgi: IntId, mpidr: u64, cpu_interface: u32) {
        match self {
            Gic::V2(gic) => {
                let target = arm_gic::gicv2::SgiTarget::List {
                    target_list_filter: arm_gic::gicv2::SgiTargetListFilter::CPUTargetList,
                    target_list: 1 << (cpu_interface & 7),
                };
                gic.send_sgi(sgi, target);
            }
            Gic::V3 { .. } => send_sgi_v3(sgi, mpidr),
        }
    }

    /// Makes this (application) CPU take interrupts: its redistributor (index `cpu`) is woken
    /// and `sgi` enabled on it (GICv3), or its banked CPU interface switched on (GICv2).
    pub fn init_secondary(&mut self, cpu: Option<usize>, sgi: IntId) -> Result<(), &'static str> {
        match self {
            Gic::V2(gic) => {
                // `setup` enables the banked CPU interface of the calling CPU and sets its
                // priority mask; the distributor settings it repeats are idempotent.
                gic.setup();
                gic.set_interrupt_priority(sgi, PRIORITY);
                gic.enable_interrupt(sgi, true).map_err(|_| "the GIC refused to enable the wake-up SGI")
            }
            Gic::V3 { gic, .. } => {
                let cpu = cpu.ok_or("no GIC redistributor belongs to this CPU")?;
                gic.init_cpu(cpu);
                GicCpuInterface::enable_group0(false);
                GicCpuInterface::enable_group1(true);
                GicCpuInterface::set_priority_mask(0xff);
                let refused = |_| "the GIC refused to enable the wake-up SGI";
                gic.set_interrupt_priority(sgi, Some(cpu), PRIORITY).map_err(refused)?;
                gic.enable_interrupt(sgi, Some(cpu), true).map_err(refused)
            }
        }
    }

    /// The index of the redistributor belonging to the CPU with MPIDR `mpidr` (GICv3).
    pub fn redistributor_of(&mut self, mpidr: u64) -> Option<usize> {
        match self {
            Gic::V2(_) => None,
            Gic::V3 { gic, .. } => (0..usize::MAX)
                .map_while(|i| gic.gicr_typer(i).ok().map(|t| (i, t)))
                .find_map(|(i, t)| (t.core_mpidr() == affinity(mpidr)).then_some(i)),
        }
    }
}

/// The affinity fields of an MPIDR (Aff3..Aff0), as the GIC compares them.
pub fn affinity(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// Acknowledges a group 1 interrupt through ICC_IAR1_EL1 (any CPU, no lock needed).
pub fn acknowledge_v3() -> Option<IntId> {
    GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
}

/// Ends a group 1 interrupt through ICC_EOIR1_EL1.
pub fn end_v3(intid: IntId) {
    GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1);
}

/// Sends `sgi` to the CPU with MPIDR `mpidr` through ICC_SGI1R_EL1.
pub fn send_sgi_v3(sgi: IntId, mpidr: u64) {
    let target = SgiTarget::List {
        affinity3: (mpidr >> 32) as u8,
        affinity2: (mpidr >> 16) as u8,
        affinity1: (mpidr >> 8) as u8,
        target_list: 1 << (mpidr & 0xf),
    };
    // Only an SGI id can fail, and `sgi` is one.
    let _ = GicCpuInterface::send_sgi(sgi, target, SgiTargetGroup::CurrentGroup1);
}
