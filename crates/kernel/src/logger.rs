//! The `log` facade, written to the serial console.
//!
//! The port is shared with the line-mode chat: a reply streams onto the console a few
//! bytes at a time, and a log record arriving then would land in the middle of the
//! sentence. While a chat line is open (its text so far did not end with a newline) records
//! are held in a fixed buffer and written as soon as the line ends; the buffer needs no heap,
//! so interrupt handlers can log too.

use crate::arch::serial;
use core::fmt::{self, Write};
use log::{Level, LevelFilter, Log, Metadata, Record};
use spin::Mutex;

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

/// Records held back while a chat line is open on the console.
struct Held {
    /// Whether the console's last chat text left a line unfinished.
    line_open: bool,
    bytes: [u8; HELD_BYTES],
    len: usize,
}

/// Room for a few dozen records; a reply stalled mid-line with more to say than this gets its
/// line broken rather than the records lost.
const HELD_BYTES: usize = 8192;

static HELD: Mutex<Held> = Mutex::new(Held { line_open: false, bytes: [0; HELD_BYTES], len: 0 });

impl Held {
    /// Writes what is held (the caller has ended the chat line or is about to).
    fn flush(&mut self) {
        serial::write_bytes(&self.bytes[..self.len]);
        self.len = 0;
    }
}

/// Formats a record into the held buffer, `\r\n` line ends included; false when it does
/// not fit (nothing is kept of it then).
struct HeldWriter<'a> {
    held: &'a mut Held,
    fits: bool,
}

impl HeldWriter<'_> {
    fn push(&mut self, bytes: &[u8]) {
        let held = &mut *self.held;
        if !self.fits || held.len + bytes.len() > HELD_BYTES {
            self.fits = false;
            return;
        }
        held.bytes[held.len..held.len + bytes.len()].copy_from_slice(bytes);
        held.len += bytes.len();
    }
}

impl Write for HeldWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.push(b"\r\n");
            }
            self.push(line.as_bytes());
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
            let mut held = HELD.lock();
            if held.line_open {
                let mark = held.len;
                let mut writer = HeldWriter { held: &mut held, fits: true };
                let _ = writeln!(writer, "[{level}] {}", record.args());
                if writer.fits {
                    return;
                }
                // Too much held: break the chat line, write everything, carry on.
                held.len = mark;
                serial::write_bytes(b"\r\n");
                held.flush();
                held.line_open = false;
            }
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
    // Records held behind an unfinished chat line go first (unless the panic struck while
    // the buffer was locked).
    if let Some(mut held) = HELD.try_lock()
        && held.len > 0
    {
        serial::try_write_bytes(b"\r\n");
        serial::try_write_bytes(&held.bytes[..held.len]);
        held.len = 0;
        held.line_open = false;
    }
    let _ = Emergency.write_fmt(args);
}

/// Writes chat text to the serial console as it is (no log prefix), turning `\n` into
/// `\r\n`: the line-mode chat shares the port with the log.
/// Records logged while the text leaves a line unfinished are written once it ends.
pub fn console_write(text: &str) {
    if text.is_empty() {
        return;
    }
    crate::arch::without_interrupts(|| {
        let mut held = HELD.lock();
        match text.rfind('\n') {
            Some(last) => {
                let (ended, rest) = text.split_at(last + 1);
                let _ = SerialWriter.write_str(ended);
                held.flush();
                let _ = SerialWriter.write_str(rest);
                held.line_open = !rest.is_empty();
            }
            None => {
                let _ = SerialWriter.write_str(text);
                held.line_open = true;
            }
        }
    });
}
