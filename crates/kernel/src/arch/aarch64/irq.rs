//! The GIC (found through the ACPI MADT), the generic timer and interrupt dispatch.

use crate::acpi_tables;
use crate::events::{self, Event};
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTV_CTL_EL0, CNTV_TVAL_EL0, ReadWriteable, Readable, Writeable};
use acpi::madt::{Madt, MadtEntry};
use arm_gic::gicv2::GicV2;
use arm_gic::{IntId, InterruptGroup, Trigger};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use hal::clock::TickRate;
use spin::{Mutex, Once};

/// The EL1 virtual timer's private interrupt.
const VIRTUAL_TIMER: IntId = IntId::ppi(11);

static GIC: Mutex<Option<GicV2<'static>>> = Mutex::new(None);
static TIMER_RATE: Once<TickRate> = Once::new();
static UART_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// The SPI that PCI devices raise through the GICv2m frame (MSI-X), once enabled.
static DEVICE_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// The GICv2m frame's doorbell address and first SPI, from the MADT.
static MSI_FRAME: Once<(u64, u32)> = Once::new();

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
}

/// Finds the GIC in the MADT, enables the virtual timer's and the UART's interrupts.
pub fn init(rsdp: Option<u64>, uart_gsi: Option<u32>) -> Result<GicSummary, &'static str> {
    let rsdp = rsdp.ok_or("no ACPI tables: cannot find the interrupt controller")?;
    let tables = acpi_tables::from_rsdp(rsdp).map_err(|_| "the ACPI tables are unreadable")?;
    let madt = tables.find_table::<Madt>().map_err(|_| "no ACPI MADT: cannot find the GIC")?;
    let mut gicd = None;
    let mut gicc = None;
    let mut version = 0u8;
    let mut has_redistributor = false;
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::Gicd(e) => {
                gicd = Some(e.physical_base_address);
                version = e.gic_version;
            }
            MadtEntry::Gicc(e) if gicc.is_none() => gicc = Some(e.gic_registers_address),
            MadtEntry::GicRedistributor(_) => has_redistributor = true,
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
        version = if has_redistributor { 3 } else { 2 };
    }
    if version != 2 {
        return Err("only GICv2 is supported so far (run QEMU with -machine virt,gic-version=2)");
    }
    let (Some(gicd), Some(gicc)) = (gicd, gicc) else { return Err("the MADT does not locate the GIC") };

    // SAFETY: the MADT names these as the GICv2 distributor and CPU interface;
    // the firmware keeps them identity-mapped as device memory and only this
    // module touches them.
    let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
    gic.setup();
    let mut enable = |intid: IntId, trigger: Trigger| -> Result<(), &'static str> {
        gic.set_interrupt_priority(intid, 0x80);
        gic.set_trigger(intid, trigger);
        gic.enable_interrupt(intid, true).map_err(|_| "the GIC refused to enable an interrupt")
    };
    enable(VIRTUAL_TIMER, Trigger::Level)?;
    if let Some(gsi) = uart_gsi {
        enable(IntId::spi(gsi.saturating_sub(32)), Trigger::Level)?;
        UART_INTID.store(gsi, Ordering::Relaxed);
    }
    if let Some(&(_, spi)) = MSI_FRAME.get() {
        enable(IntId::spi(spi - 32), Trigger::Edge)?;
        DEVICE_INTID.store(spi, Ordering::Relaxed);
    }
    *GIC.lock() = Some(gic);

    let rate = TickRate::from_hz(CNTFRQ_EL0.get()).ok_or("the generic timer reports no frequency")?;
    TIMER_RATE.call_once(|| rate);
    // Timer off until a deadline is armed.
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
    Ok(GicSummary { version, timer: rate })
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

/// Handles every pending interrupt (called from the IRQ vector).
pub fn dispatch() {
    let Some(mut guard) = GIC.try_lock() else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(gic) = guard.as_mut() else { return };
    // Non-secure EL1 acknowledges through GICC_IAR whatever the grouping.
    while let Some(intid) = gic.get_and_acknowledge_interrupt(InterruptGroup::Group0) {
        if intid == VIRTUAL_TIMER {
            // The timer interrupt is level-triggered: mask it until re-armed.
            CNTV_CTL_EL0.modify(CNTV_CTL_EL0::IMASK::SET);
            events::push(Event::Timer);
        } else if intid.raw_value() == DEVICE_INTID.load(Ordering::Relaxed) {
            events::push(Event::Device);
        } else if intid.raw_value() == UART_INTID.load(Ordering::Relaxed) {
            while let Some(byte) = super::serial::read_byte() {
                events::push(Event::SerialByte(byte));
            }
        } else {
            SPURIOUS.fetch_add(1, Ordering::Relaxed);
        }
        gic.end_interrupt(intid, InterruptGroup::Group0);
    }
}

/// Interrupts that were spurious or unexpected since boot.
pub fn spurious_count() -> u64 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// The message a PCI device sends (MSI-X) to raise the kernel's device interrupt: the
/// first SPI of the GICv2m frame, written to its doorbell. `None` without a frame.
pub fn device_msi() -> Option<crate::arch::MsiMessage> {
    let spi = DEVICE_INTID.load(Ordering::Relaxed);
    let &(base, _) = MSI_FRAME.get()?;
    (spi != u32::MAX).then_some(crate::arch::MsiMessage { address: base + V2M_MSI_SETSPI_NS, data: spi })
}
