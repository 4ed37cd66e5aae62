//! COM1, the 16550 UART every PC (and QEMU) has at I/O port 0x3F8.

use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::{Config, Uart16550};

const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1 for 115200 8N1. Returns a description of the port, or why it is absent.
/// (COM1 sits at a fixed address on PCs, so the ACPI root is not needed.)
pub fn init(_rsdp: Option<u64>) -> Result<&'static str, &'static str> {
    // SAFETY: 0x3F8..0x3FF are the COM1 registers on every PC-compatible machine;
    // only this module touches them.
    let mut uart = unsafe { Uart16550::new_port(COM1) }.map_err(|_| "invalid COM1 port")?;
    let config = Config { baud_rate: uart_16550::BaudRate::Baud115200, ..Config::DEFAULT };
    uart.init(config).map_err(|_| "no 16550 UART at COM1")?;
    *PORT.lock() = Some(uart);
    Ok("COM1 (16550, 115200 8N1)")
}

/// Writes raw bytes, blocking while the transmitter is busy.
pub fn write_bytes(bytes: &[u8]) {
    // Interrupts off: the receive interrupt handler takes the same lock.
    super::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            uart.send_bytes_exact(bytes);
        }
    });
}

/// Turns on the "data ready" interrupt (ISA IRQ 4).
pub fn enable_receive_interrupt() {
    super::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            uart.enable_interrupts(uart_16550::spec::registers::IER::DATA_READY);
        }
    });
}

/// One received byte, if any (called from the interrupt handler).
pub fn read_byte() -> Option<u8> {
    PORT.lock().as_mut().and_then(|uart| uart.try_receive_byte().ok())
}

/// Writes raw bytes without waiting for the port lock (for the panic path, where the
/// lock may be held by the code that panicked). Output is dropped if it is busy.
pub fn try_write_bytes(bytes: &[u8]) {
    if let Some(mut guard) = PORT.try_lock()
        && let Some(uart) = guard.as_mut()
    {
        uart.send_bytes_exact(bytes);
    }
}
