//! The `log` facade, written to the serial console.

use crate::arch::serial;
use core::fmt::{self, Write};
use log::{Level, LevelFilter, Log, Metadata, Record};

struct SerialLogger;

static LOGGER: SerialLogger = SerialLogger;

/// Formats straight into the UART, turning `\n` into `\r\n` for terminals.
struct SerialWriter;

impl Write for SerialWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                serial::write_bytes(b"\r\n");
            }
            serial::write_bytes(line.as_bytes());
        }
        Ok(())
    }
}

impl Log for SerialLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        // Interrupts off so that a handler logging mid-line cannot interleave or
        // deadlock on the port lock.
        crate::arch::without_interrupts(|| {
            let _ = writeln!(SerialWriter, "[{level}] {}", record.args());
        });
    }

    fn flush(&self) {}
}

/// Installs the serial logger. Safe to call more than once; later calls do nothing.
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// Writes preformatted text to the serial console, bypassing the logger and its
/// lock-taking path (used by the panic handler).
pub fn emergency_write(args: fmt::Arguments<'_>) {
    struct Emergency;
    impl Write for Emergency {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for (i, line) in s.split('\n').enumerate() {
                if i > 0 {
                    serial::try_write_bytes(b"\r\n");
                }
                serial::try_write_bytes(line.as_bytes());
            }
            Ok(())
        }
    }
    let _ = Emergency.write_fmt(args);
}

/// Writes chat text to the serial console as it is (no log prefix), turning `\n` into
/// `\r\n`: the line-mode chat shares the port with the log.
pub fn console_write(text: &str) {
    crate::arch::without_interrupts(|| {
        let _ = SerialWriter.write_str(text);
    });
}
