//! What happens when the kernel cannot go on: the message and its location go to
//! the serial console, a panic screen replaces whatever was shown, and the CPU stops.

use crate::display::PanicScreen;
use crate::logger::emergency_write;
use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

/// A fixed-size text buffer, so the panic path does not depend on the heap for
/// formatting (the heap itself may be what failed).
struct MessageBuffer {
    bytes: [u8; 512],
    len: usize,
}

impl Write for MessageBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            let mut utf8 = [0; 4];
            let encoded = ch.encode_utf8(&mut utf8).as_bytes();
            if self.len + encoded.len() > self.bytes.len() {
                return Err(fmt::Error);
            }
            self.bytes[self.len..self.len + encoded.len()].copy_from_slice(encoded);
            self.len += encoded.len();
        }
        Ok(())
    }
}

impl MessageBuffer {
    fn as_str(&self) -> &str {
        // Only whole characters are ever written, so this cannot fail; an empty
        // message is the harmless fallback.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let first = !PANICKING.swap(true, Ordering::SeqCst);
    let mut text = MessageBuffer { bytes: [0; 512], len: 0 };
    let _ = write!(text, "{}", info.message());
    if let Some(location) = info.location() {
        let _ = write!(text, "\n\nat {}:{}:{}", location.file(), location.line(), location.column());
    }
    emergency_write(format_args!("\n!!! moteOS panic: {}\n", text.as_str()));
    // A panic while drawing the panic screen must not try to draw it again.
    if first {
        PanicScreen::show("moteOS stopped", text.as_str());
    }
    crate::arch::halt_forever()
}
