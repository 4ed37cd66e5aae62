//! The PL011 UART named by the ACPI SPCR table (QEMU `virt` and most Arm servers).

use crate::acpi_tables;
use acpi::address::AddressSpace;
use acpi::spcr::SpcrInterfaceType;
use arm_pl011_uart::Interrupts;
use arm_pl011_uart::{PL011Registers, Uart, UniqueMmioPointer};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;

static PORT: Mutex<Option<Uart<'static>>> = Mutex::new(None);
/// The UART's global system interrupt from SPCR (`u32::MAX` = none).
static GSI: AtomicU32 = AtomicU32::new(u32::MAX);

/// Finds the console UART through SPCR and takes it over (the firmware has already
/// programmed its baud rate). Returns a description of the port, or why there is none.
pub fn init(rsdp: Option<u64>) -> Result<&'static str, &'static str> {
    let rsdp = rsdp.ok_or("no ACPI tables, so no SPCR to find the console UART")?;
    let tables = acpi_tables::from_rsdp(rsdp).map_err(|_| "the ACPI tables are unreadable")?;
    let spcr = tables.find_table::<acpi::spcr::Spcr>().map_err(|_| "no SPCR table names a console UART")?;
    match spcr.interface_type() {
        SpcrInterfaceType::ArmPL011 | SpcrInterfaceType::ArmSBSAGeneric => {}
        _ => return Err("the SPCR console UART is not a PL011"),
    }
    let address = match spcr.base_address() {
        Some(Ok(gas)) if gas.address_space == AddressSpace::SystemMemory => gas.address,
        _ => return Err("the SPCR console UART has no memory-mapped address"),
    };
    let base = NonNull::new(address as *mut PL011Registers).ok_or("SPCR names address 0")?;
    // SAFETY: SPCR names this MMIO block as the PL011 console; the firmware keeps it
    // identity-mapped as device memory, and only this module accesses it.
    let regs = unsafe { UniqueMmioPointer::new(base) };
    *PORT.lock() = Some(Uart::new(regs));
    if let Some(gsi) = spcr.global_system_interrupt() {
        GSI.store(gsi, Ordering::Relaxed);
    }
    Ok("PL011 (from ACPI SPCR)")
}

fn send(uart: &mut Uart<'static>, bytes: &[u8]) {
    for &byte in bytes {
        while uart.is_tx_fifo_full() {}
        uart.write_word(byte);
    }
}

/// Writes raw bytes, blocking while the transmit FIFO is full.
pub fn write_bytes(bytes: &[u8]) {
    // IRQs off: the receive interrupt handler takes the same lock.
    super::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            send(uart, bytes);
        }
    });
}

/// The UART's interrupt number, if SPCR gave one.
pub fn interrupt() -> Option<u32> {
    let gsi = GSI.load(Ordering::Relaxed);
    (gsi != u32::MAX).then_some(gsi)
}

/// Unmasks the receive and receive-timeout interrupts.
pub fn enable_receive_interrupt() {
    super::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            uart.set_interrupt_masks(Interrupts::RXI | Interrupts::RTI);
        }
    });
}

/// One received byte, if any (called from the interrupt handler). Line errors
/// drop the byte.
pub fn read_byte() -> Option<u8> {
    let mut guard = PORT.lock();
    let uart = guard.as_mut()?;
    loop {
        match uart.read_word() {
            Ok(byte) => return byte,
            Err(_) => {
                uart.clear_interrupts(Interrupts::OEI | Interrupts::BEI | Interrupts::PEI | Interrupts::FEI);
                if uart.is_rx_fifo_empty() {
                    return None;
                }
            }
        }
    }
}

/// Writes raw bytes without waiting for the port lock (for the panic path).
pub fn try_write_bytes(bytes: &[u8]) {
    if let Some(mut guard) = PORT.try_lock()
        && let Some(uart) = guard.as_mut()
    {
        send(uart, bytes);
    }
}
