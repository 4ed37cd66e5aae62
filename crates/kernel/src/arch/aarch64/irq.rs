//! The GIC (found through the ACPI MADT), MSI (GICv2m frame or GICv3 ITS), the generic
//! timer and interrupt dispatch.

use super::gic::{Gic, GicLocation};
use super::its::{self, Its};
use crate::acpi_tables;
use crate::events::{self, Event};
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTV_CTL_EL0, CNTV_TVAL_EL0, MPIDR_EL1, ReadWriteable, Readable, Writeable};
use acpi::madt::{Madt, MadtEntry};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use arm_gic::{IntId, Trigger};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use hal::clock::TickRate;
use spin::{Mutex, Once};

/// The EL1 virtual timer's private interrupt.
const VIRTUAL_TIMER: IntId = IntId::ppi(11);
/// The software-generated interrupt that wakes an application processor.
pub const WAKE_SGI: IntId = IntId::sgi(1);

/// The GIC; only ever locked with IRQs masked (the dispatcher runs masked, everything else
/// goes through `without_interrupts`), so a CPU never waits for itself.
static GIC: Mutex<Option<Gic>> = Mutex::new(None);
static GIC_VERSION: AtomicU32 = AtomicU32::new(0);
static TIMER_RATE: Once<TickRate> = Once::new();
static UART_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// The SPI that PCI devices raise through the GICv2m frame (MSI-X), once enabled.
static DEVICE_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// The GICv2m frame's doorbell address and first SPI, from the MADT.
static MSI_FRAME: Once<(u64, u32)> = Once::new();
/// The GICv3 ITS, when there is one.
static ITS: Mutex<Option<Its>> = Mutex::new(None);
static ITS_DOORBELL: AtomicU64 = AtomicU64::new(0);
/// LPIs handed out so far (ids `LPI_BASE..LPI_BASE + n` mean a device interrupt).
static LPIS: AtomicU32 = AtomicU32::new(0);

/// `MSI_TYPER` of a GICv2m frame: first SPI in bits 25:16, count in bits 9:0.
const V2M_MSI_TYPER: u64 = 0x008;
/// `MSI_SETSPI_NS`: writing an SPI number here raises it.
const V2M_MSI_SETSPI_NS: u64 = 0x040;
static SPURIOUS: AtomicU64 = AtomicU64::new(0);

/// What interrupt setup found.
#[derive(Debug)]
pub struct GicSummary {
    /// GIC architecture version.
    pub version: u8,
    /// Rate of the generic timer.
    pub timer: TickRate,
    /// How PCI devices interrupt (MSI through a GICv2m frame or the ITS, or not at all).
    pub msi: String,
}

/// What the MADT says about the interrupt controller.
struct MadtGic {
    location: GicLocation,
    its: Option<u64>,
    redistributor_stride: u64,
}

/// Reads the GIC's registers' locations from the MADT.
fn find_gic(madt: core::pin::Pin<&Madt>) -> Result<MadtGic, &'static str> {
    let mut gicd = None;
    let mut gicc_base = None;
    let mut gicc_count = 0usize;
    let mut lowest_gicr_of_gicc: Option<u64> = None;
    let mut version = 0u8;
    let mut redistributors = Vec::new();
    let mut its = None;
    for entry in madt.entries() {
        match entry {
            MadtEntry::Gicd(e) => {
                gicd = Some(e.physical_base_address);
                version = e.gic_version;
            }
            MadtEntry::Gicc(e) => {
                let (flags, base, gicr) = (e.flags, e.gic_registers_address, e.gicr_base_address);
                // Enabled (bit 0) or online-capable (bit 3): its redistributor exists.
                if flags & 0b1001 != 0 {
                    gicc_count += 1;
                }
                gicc_base.get_or_insert(base);
                if gicr != 0 {
                    lowest_gicr_of_gicc = Some(lowest_gicr_of_gicc.map_or(gicr, |l| l.min(gicr)));
                }
            }
            MadtEntry::GicRedistributor(e) => {
                redistributors.push((e.discovery_range_base_address, e.discovery_range_length))
            }
            MadtEntry::GicInterruptTranslationService(e) if its.is_none() => its = Some(e.physical_base_address),
            MadtEntry::GicMsiFrame(e) if !MSI_FRAME.is_completed() => {
                let base = e.physical_base_address;
                // Flag bit 0: the MADT's SPI base and count override the frame's MSI_TYPER.
                let first_spi = if e.flags & 1 != 0 {
                    u32::from(e.spi_base)
                } else {
                    // SAFETY: the MADT names `base` as a GICv2m frame, identity-mapped device
                    // memory; MSI_TYPER is a read-only register without side effects.
                    let typer = unsafe { core::ptr::read_volatile((base + V2M_MSI_TYPER) as *const u32) };
                    (typer >> 16) & 0x3ff
                };
                if first_spi >= 32 {
                    MSI_FRAME.call_once(|| (base, first_spi));
                }
            }
            _ => {}
        }
    }
    if version == 0 {
        version = if redistributors.is_empty() && lowest_gicr_of_gicc.is_none() { 2 } else { 3 };
    }
    let gicd = gicd.ok_or("the MADT does not locate the GIC distributor")?;
    let location = match version {
        2 => GicLocation::V2 { gicd, gicc: gicc_base.ok_or("the MADT does not locate the GIC CPU interface")? },
        3 | 4 => {
            if redistributors.len() > 1 {
                log::warn!("interrupts: {} redistributor ranges in the MADT; using the first", redistributors.len());
            }
            let gicr = redistributors
                .first()
                .map(|&(base, _)| base)
                .or(lowest_gicr_of_gicc)
                .ok_or("the MADT does not locate the GIC redistributors")?;
            GicLocation::V3 { gicd, gicr, count: gicc_count.max(1) }
        }
        other => {
            log::error!("interrupts: the MADT reports GIC version {other}");
            return Err("this GIC version is not supported (only GICv2, GICv3 and GICv4)");
        }
    };
    let redistributor_stride = if version == 4 { 0x4_0000 } else { 0x2_0000 };
    Ok(MadtGic { location, its, redistributor_stride })
}

/// Finds the GIC in the MADT, enables the virtual timer's and the UART's interrupts and
/// whatever carries MSI.
pub fn init(rsdp: Option<u64>, uart_gsi: Option<u32>) -> Result<GicSummary, &'static str> {
    let rsdp = rsdp.ok_or("no ACPI tables: cannot find the interrupt controller")?;
    let tables = acpi_tables::from_rsdp(rsdp).map_err(|_| "the ACPI tables are unreadable")?;
    let madt = tables.find_table::<Madt>().map_err(|_| "no ACPI MADT: cannot find the GIC")?;
    let found = find_gic(madt.get())?;
    let mpidr = MPIDR_EL1.get();

    // SAFETY: the MADT names these registers; the firmware identity-maps them as device memory
    // (and so do the kernel's page tables) and only this module touches them.
    let mut gic = unsafe { Gic::open(found.location, mpidr)? };
    gic.enable(VIRTUAL_TIMER, Trigger::Level, mpidr)?;
    if let Some(gsi) = uart_gsi {
        gic.enable(IntId::spi(gsi.saturating_sub(32)), Trigger::Level, mpidr)?;
        UART_INTID.store(gsi, Ordering::Relaxed);
    }
    // Without LPIs at the distributor there is no usable ITS.
    let lpis = match &gic {
        Gic::V3 { gic, .. } => gic.typer().lpis_supported(),
        Gic::V2(_) => false,
    };
    if let (Some(its_base), false) = (found.its, lpis) {
        log::warn!("interrupts: the MADT lists a GIC ITS at {its_base:#x}, but the GIC has no LPIs; ignoring it");
    }
    let msi = if let (Gic::V3 { gic: v3, boot_cpu }, GicLocation::V3 { gicr, .. }, Some(its_base), true) =
        (&mut gic, found.location, found.its, lpis)
    {
        let rd = gicr + *boot_cpu as u64 * found.redistributor_stride;
        let processor = v3.gicr_typer(*boot_cpu).map(|t| t.processor_number()).unwrap_or(0);
        // SAFETY: `rd` is the boot CPU's redistributor and `its_base` the MADT's ITS, both
        // identity-mapped device memory used by nothing else; LPIs are enabled just before
        // the ITS is pointed at that redistributor.
        match unsafe {
            its::probe(its_base).and_then(|()| its::enable_lpis(rd)).and_then(|()| Its::new(its_base, rd, processor))
        } {
            Ok(its) => {
                ITS_DOORBELL.store(its.doorbell(), Ordering::Relaxed);
                *ITS.lock() = Some(its);
                format!("MSI through the ITS at {its_base:#x} (LPIs)")
            }
            Err(why) => {
                log::warn!("interrupts: the GIC ITS at {its_base:#x} cannot be used: {why}");
                String::from("no MSI (no working ITS): PCI devices are polled")
            }
        }
    } else if let Some(&(base, spi)) = MSI_FRAME.get() {
        gic.enable(IntId::spi(spi - 32), Trigger::Edge, mpidr)?;
        DEVICE_INTID.store(spi, Ordering::Relaxed);
        format!("MSI through the GICv2m frame at {base:#x} (SPI {spi})")
    } else {
        String::from("no MSI controller in the MADT (no ITS, no GICv2m frame): PCI devices are polled")
    };
    GIC_VERSION.store(u32::from(gic.version()), Ordering::Relaxed);
    let version = gic.version();
    *GIC.lock() = Some(gic);

    let rate = TickRate::from_hz(CNTFRQ_EL0.get()).ok_or("the generic timer reports no frequency")?;
    TIMER_RATE.call_once(|| rate);
    // Timer off until a deadline is armed.
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
    Ok(GicSummary { version, timer: rate, msi })
}

/// Arms the virtual timer to fire after `after`.
pub fn arm(after: Duration) {
    let Some(rate) = TIMER_RATE.get() else { return };
    let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
    // TVAL is a signed 32-bit down-counter; longer waits are re-armed by the caller.
    let ticks = rate.nanos_to_ticks(nanos).clamp(1, i32::MAX as u64);
    CNTV_TVAL_EL0.set(ticks);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Handles every pending interrupt (called from the IRQ vector, IRQs masked).
pub fn dispatch() {
    let v3 = GIC_VERSION.load(Ordering::Relaxed) == 3;
    loop {
        // GICv3's CPU interface is per-CPU system registers: no lock. GICv2's banked
        // registers sit behind the driver object, locked briefly for each access.
        let intid = if v3 { super::gic::acknowledge_v3() } else { GIC.lock().as_mut().and_then(Gic::acknowledge) };
        let Some(intid) = intid else { break };
        handle(intid);
        if v3 {
            super::gic::end_v3(intid);
        } else if let Some(gic) = GIC.lock().as_mut() {
            gic.end(intid);
        }
    }
}

fn handle(intid: IntId) {
    let raw = intid.raw_value();
    if intid == VIRTUAL_TIMER {
        // The timer interrupt is level-triggered: mask it until re-armed.
        CNTV_CTL_EL0.modify(CNTV_CTL_EL0::IMASK::SET);
        events::push(Event::Timer);
    } else if intid == WAKE_SGI {
        // An application processor was woken to look for work; nothing else to do.
    } else if raw == DEVICE_INTID.load(Ordering::Relaxed)
        || (its::LPI_BASE..its::LPI_BASE + LPIS.load(Ordering::Relaxed)).contains(&raw)
    {
        events::signal_device();
    } else if raw == UART_INTID.load(Ordering::Relaxed) {
        while let Some(byte) = super::serial::read_byte() {
            events::push_serial(byte);
        }
    } else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Interrupts that were spurious or unexpected since boot.
pub fn spurious_count() -> u64 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// The message a PCI device sends (MSI-X) to raise the kernel's device interrupt: event 0 at
/// the ITS's doorbell (after [`prepare_msi`] mapped the device), or the first SPI of the
/// GICv2m frame written to its doorbell. `None` without either.
pub fn device_msi() -> Option<crate::arch::MsiMessage> {
    let doorbell = ITS_DOORBELL.load(Ordering::Relaxed);
    if doorbell != 0 {
        return Some(crate::arch::MsiMessage { address: doorbell, data: 0 });
    }
    let spi = DEVICE_INTID.load(Ordering::Relaxed);
    let &(base, _) = MSI_FRAME.get()?;
    (spi != u32::MAX).then_some(crate::arch::MsiMessage { address: base + V2M_MSI_SETSPI_NS, data: spi })
}

/// Readies the interrupt controller for MSI from the PCI function with `requester_id`
/// (bus << 8 | device << 3 | function): with an ITS the device's event 0 is mapped to an
/// LPI of its own; a GICv2m frame needs nothing.
pub fn prepare_msi(requester_id: u32) -> Result<(), &'static str> {
    crate::arch::without_interrupts(|| {
        let mut its = ITS.lock();
        let Some(its) = its.as_mut() else { return Ok(()) };
        let lpi = its.map_device(requester_id)?;
        LPIS.store(lpi + 1 - its::LPI_BASE, Ordering::SeqCst);
        log::info!(
            "interrupts: PCI {:02x}:{:02x}.{} signals LPI {lpi} through the ITS",
            requester_id >> 8,
            (requester_id >> 3) & 0x1f,
            requester_id & 7
        );
        Ok(())
    })
}

/// Sets up the calling application processor's GIC CPU interface (its redistributor on
/// GICv3) so that the wake-up SGI reaches it.
pub fn init_secondary() -> Result<(), &'static str> {
    let mpidr = MPIDR_EL1.get();
    crate::arch::without_interrupts(|| {
        let mut gic = GIC.lock();
        let gic = gic.as_mut().ok_or("the interrupt controller is not set up")?;
        let redistributor = gic.redistributor_of(mpidr);
        gic.init_secondary(redistributor, WAKE_SGI)
    })
}

/// Sends the wake-up SGI to the processor `cpu`.
pub fn send_wake(cpu: &crate::arch::Cpu) {
    if GIC_VERSION.load(Ordering::Relaxed) == 3 {
        super::gic::send_sgi_v3(WAKE_SGI, cpu.hardware_id);
    } else {
        crate::arch::without_interrupts(|| {
            if let Some(gic) = GIC.lock().as_mut() {
                gic.send_sgi(WAKE_SGI, cpu.hardware_id, cpu.interface);
            }
        });
    }
}
