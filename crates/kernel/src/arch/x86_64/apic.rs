//! Interrupt controllers and the timer: the local APIC (via the `x2apic` crate,
//! which picks x2APIC or xAPIC mode), I/O APICs found in the ACPI MADT, and the
//! legacy PIC masked for good.

use super::interrupts::vector;
use super::pit;
use crate::acpi_tables;
use acpi::madt::{Madt, MadtEntry};
use alloc::vec::Vec;
use core::time::Duration;
use hal::clock::TickRate;
use spin::Mutex;
use x2apic::ioapic::{IoApic, IrqFlags, IrqMode, RedirectionTableEntry};
use x2apic::lapic::{LocalApic, LocalApicBuilder, TimerDivide, TimerMode};
use x86_64::instructions::port::Port;

/// The local APIC of the (only) CPU the kernel runs on.
struct Lapic(LocalApic);

// SAFETY: `LocalApic` is !Send only because it may hold an MMIO base address. Every
// processor's local APIC sits at that same address (xAPIC) or behind the same MSRs
// (x2APIC), and each access reaches the calling processor's own APIC, so the handle means
// "this processor's APIC" wherever it is used: the boot processor programs its timer and
// sends IPIs, application processors only signal end-of-interrupt. Accesses are serialised
// by the mutex around it.
unsafe impl Send for Lapic {}

static LAPIC: Mutex<Option<Lapic>> = Mutex::new(None);
static LAPIC_TIMER_RATE: spin::Once<TickRate> = spin::Once::new();

struct IoApicInfo {
    address: u64,
    gsi_base: u32,
}

/// An ISA IRQ remapped by the MADT.
struct Override {
    irq: u8,
    gsi: u32,
    flags: u16,
}

/// What the interrupt setup found, for the log.
#[derive(Debug, Clone, Copy)]
pub struct ApicSummary {
    /// Local APIC id of this CPU.
    pub lapic_id: u32,
    /// Number of I/O APICs in the MADT.
    pub io_apics: usize,
    /// Calibrated TSC rate.
    pub tsc: TickRate,
    /// Calibrated local APIC timer rate (after its divider).
    pub lapic_timer: TickRate,
}

/// Masks both 8259 PICs: every device interrupt goes through the I/O APIC.
fn mask_legacy_pic() {
    // SAFETY: 0x21 and 0xA1 are the 8259 interrupt mask registers; masking all
    // lines only stops the legacy controller from delivering anything.
    unsafe {
        Port::<u8>::new(0x21).write(0xff);
        Port::<u8>::new(0xa1).write(0xff);
    }
}

/// Discovers the APICs, calibrates the TSC and the APIC timer against the PIT,
/// and routes the keyboard and COM1 interrupts. Interrupts stay disabled.
pub fn init(rsdp: Option<u64>) -> Result<ApicSummary, &'static str> {
    mask_legacy_pic();
    let rsdp = rsdp.ok_or("no ACPI tables: cannot find the interrupt controllers")?;
    let tables = acpi_tables::from_rsdp(rsdp).map_err(|_| "the ACPI tables are unreadable")?;
    let madt = tables.find_table::<Madt>().map_err(|_| "no ACPI MADT: cannot find the interrupt controllers")?;
    let mut lapic_address = u64::from(madt.get().local_apic_address);
    let mut io_apics = Vec::new();
    let mut overrides = Vec::new();
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::IoApic(e) => io_apics
                .push(IoApicInfo { address: u64::from(e.io_apic_address), gsi_base: e.global_system_interrupt_base }),
            MadtEntry::InterruptSourceOverride(e) => {
                overrides.push(Override { irq: e.irq, gsi: e.global_system_interrupt, flags: e.flags })
            }
            MadtEntry::LocalApicAddressOverride(e) => lapic_address = e.local_apic_address,
            _ => {}
        }
    }

    LAPIC_BASE.store(lapic_address, core::sync::atomic::Ordering::Relaxed);
    let mut lapic = LocalApicBuilder::new()
        .timer_vector(usize::from(vector::TIMER))
        .error_vector(usize::from(vector::APIC_ERROR))
        .spurious_vector(usize::from(vector::SPURIOUS))
        .timer_mode(TimerMode::OneShot)
        .timer_divide(TimerDivide::Div16)
        .timer_initial(0)
        .set_xapic_base(lapic_address)
        .build()?;
    // SAFETY: the MADT names this local APIC (identity-mapped MMIO, or MSRs in
    // x2APIC mode); with interrupts disabled nothing fires before the IDT is ready.
    unsafe { lapic.enable() };

    // Calibrate the TSC and the APIC timer together over 50 ms of the PIT.
    const WINDOW_MS: u64 = 50;
    let mut apic_elapsed = 0u32;
    let tsc_ticks = pit::measure(WINDOW_MS, |start| {
        // SAFETY: reprogramming and reading the one-shot timer of our own local
        // APIC; its interrupt stays pending until interrupts are enabled.
        unsafe {
            if start {
                lapic.set_timer_initial(u32::MAX);
            } else {
                apic_elapsed = u32::MAX - lapic.timer_current();
            }
        }
    });
    // SAFETY: stops the calibration countdown.
    unsafe { lapic.set_timer_initial(0) };
    let nanos = WINDOW_MS * 1_000_000;
    let tsc = TickRate::from_calibration(tsc_ticks, nanos).ok_or("the TSC did not advance during calibration")?;
    let lapic_timer = TickRate::from_calibration(u64::from(apic_elapsed), nanos)
        .ok_or("the APIC timer did not count during calibration")?;
    LAPIC_TIMER_RATE.call_once(|| lapic_timer);
    // SAFETY: reading our own APIC id register.
    let lapic_id = unsafe { lapic.id() };
    *LAPIC.lock() = Some(Lapic(lapic));
    LAPIC_ID.store(lapic_id, core::sync::atomic::Ordering::Relaxed);

    for (isa_irq, vec) in [(1u8, vector::KEYBOARD), (4u8, vector::SERIAL)] {
        route_isa_irq(&io_apics, &overrides, isa_irq, vec, lapic_id)?;
    }
    Ok(ApicSummary { lapic_id, io_apics: io_apics.len(), tsc, lapic_timer })
}

fn route_isa_irq(
    io_apics: &[IoApicInfo],
    overrides: &[Override],
    irq: u8,
    vector: u8,
    dest: u32,
) -> Result<(), &'static str> {
    let (gsi, flags) = overrides.iter().find(|o| o.irq == irq).map(|o| (o.gsi, o.flags)).unwrap_or((u32::from(irq), 0));
    let io = io_apics.iter().filter(|io| io.gsi_base <= gsi).max_by_key(|io| io.gsi_base).ok_or("no I/O APIC")?;
    let pin = u8::try_from(gsi - io.gsi_base).map_err(|_| "interrupt outside the I/O APIC")?;
    // MPS INTI flags: polarity in bits 0-1 (3 = active low), trigger in bits 2-3
    // (3 = level); 0 means the ISA default, active-high edge.
    let mut irq_flags = IrqFlags::empty();
    if flags & 0b11 == 0b11 {
        irq_flags |= IrqFlags::LOW_ACTIVE;
    }
    if (flags >> 2) & 0b11 == 0b11 {
        irq_flags |= IrqFlags::LEVEL_TRIGGERED;
    }
    let mut entry = RedirectionTableEntry::default();
    entry.set_vector(vector);
    entry.set_mode(IrqMode::Fixed);
    entry.set_flags(irq_flags);
    entry.set_dest(u8::try_from(dest).map_err(|_| "APIC id too large for the I/O APIC")?);
    // SAFETY: the MADT names this I/O APIC (identity-mapped MMIO); we program one
    // redirection entry for a device we drive and unmask only that pin.
    unsafe {
        let mut ioapic = IoApic::new(io.address);
        ioapic.set_table_entry(pin, entry);
        ioapic.enable_irq(pin);
    }
    Ok(())
}

/// How the boot processor built its local APIC, repeated on the others.
static LAPIC_BASE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The local APIC's mode: x2APIC (IA32_APIC_BASE.EXTD) takes 32-bit destination ids in the
/// ICR, xAPIC 8-bit ones in bits 24-31 of its high half.
fn ipi_destination(apic_id: u32) -> u32 {
    // SAFETY: IA32_APIC_BASE (MSR 0x1b) exists on every x86_64 CPU; reading it has no effect.
    let base = unsafe { x86_64::registers::model_specific::Msr::new(0x1b).read() };
    if base & (1 << 10) != 0 { apic_id } else { apic_id << 24 }
}

/// Sends INIT, then two STARTUP IPIs with `vector` (the trampoline page number), to the
/// processor with local APIC id `apic_id`, waiting as the MP specification asks.
pub fn start_processor(apic_id: u32, vector: u8) {
    let dest = ipi_destination(apic_id);
    let send = |f: &dyn Fn(&mut LocalApic)| {
        super::without_interrupts(|| {
            if let Some(Lapic(lapic)) = LAPIC.lock().as_mut() {
                f(lapic);
            }
        })
    };
    // SAFETY: INIT and STARTUP IPIs to a processor that is not running kernel code; the
    // trampoline page is ready before the first STARTUP.
    send(&|l| unsafe { l.send_init_ipi(dest) });
    delay(Duration::from_millis(10));
    for _ in 0..2 {
        // SAFETY: as above.
        send(&|l| unsafe { l.send_sipi(vector, dest) });
        delay(Duration::from_micros(200));
    }
}

/// Waits `time` on the calibrated clock (the MP start-up protocol's pauses).
fn delay(time: Duration) {
    let until = crate::time::now().saturating_add(time);
    while crate::time::now() < until {
        core::hint::spin_loop();
    }
}

/// Sends the wake-up interrupt to the processor with local APIC id `apic_id`.
pub fn send_wake(apic_id: u32, vector: u8) {
    let dest = ipi_destination(apic_id);
    super::without_interrupts(|| {
        if let Some(Lapic(lapic)) = LAPIC.lock().as_mut() {
            // SAFETY: a fixed interrupt on a vector the IDT handles, to an online processor.
            unsafe { lapic.send_ipi(vector, dest) };
        }
    });
}

/// Enables the calling (application) processor's local APIC: spurious and error vectors,
/// its timer left off. Only the wake-up interrupt is sent to it.
pub fn init_secondary() {
    let built = LocalApicBuilder::new()
        .timer_vector(usize::from(vector::TIMER))
        .error_vector(usize::from(vector::APIC_ERROR))
        .spurious_vector(usize::from(vector::SPURIOUS))
        .timer_mode(TimerMode::OneShot)
        .timer_divide(TimerDivide::Div16)
        .timer_initial(0)
        .set_xapic_base(LAPIC_BASE.load(core::sync::atomic::Ordering::Relaxed))
        .build();
    match built {
        // SAFETY: this processor's own local APIC, enabled with interrupts still off.
        Ok(mut lapic) => unsafe { lapic.enable() },
        Err(why) => log::warn!("smp: this processor's local APIC could not be set up: {why}"),
    }
}

/// Our local APIC's id, once it is set up.
static LAPIC_ID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(u32::MAX);

/// The MSI message that raises `vector` on this CPU (fixed delivery, edge), or `None`
/// before the APIC is set up or when its id does not fit the 8-bit MSI destination.
pub fn msi_message(vector: u8) -> Option<crate::arch::MsiMessage> {
    let id = LAPIC_ID.load(core::sync::atomic::Ordering::Relaxed);
    (id <= 0xff)
        .then(|| crate::arch::MsiMessage { address: 0xfee0_0000 | (u64::from(id) << 12), data: u32::from(vector) })
}

/// Signals end-of-interrupt to the local APIC (from interrupt handlers).
pub fn end_of_interrupt() {
    if let Some(Lapic(lapic)) = LAPIC.lock().as_mut() {
        // SAFETY: writing the EOI register of our own local APIC.
        unsafe { lapic.end_of_interrupt() };
    }
}

/// Arms the one-shot APIC timer to fire after `after` (clamped to what the
/// 32-bit counter can express; the caller re-arms if it wakes early).
pub fn arm(after: Duration) {
    let Some(rate) = LAPIC_TIMER_RATE.get() else { return };
    let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
    let ticks = rate.nanos_to_ticks(nanos).clamp(1, u64::from(u32::MAX));
    super::without_interrupts(|| {
        if let Some(Lapic(lapic)) = LAPIC.lock().as_mut() {
            // SAFETY: reprogramming our own local APIC's one-shot timer.
            unsafe { lapic.set_timer_initial(ticks as u32) };
        }
    });
}
