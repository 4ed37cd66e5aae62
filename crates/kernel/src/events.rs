//! The one event queue: interrupt handlers push raw device input, the main loop
//! pops it. Handlers do as little as possible (read the byte, push it); decoding
//! happens in the main loop.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use hal::queue::EventQueue;
use spin::Mutex;

/// Something that happened, as reported by an interrupt handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A byte from the PS/2 keyboard controller.
    Ps2Byte(u8),
    /// A byte received on the serial console.
    SerialByte(u8),
    /// A Linux input event from a virtio-input keyboard (`code`, `value`).
    InputKey(u16, i32),
    /// The timer fired (a deadline may have passed).
    Timer,
}

const CAPACITY: usize = 512;

/// Bytes the serial receive ring holds: a 48 KiB paste fits even if the main loop
/// is busy for its whole arrival (at 115200 baud that is over 4 s of input).
pub const SERIAL_CAPACITY: usize = 48 * 1024;

static QUEUE: Mutex<EventQueue<Event, CAPACITY>> = Mutex::new(EventQueue::new());

/// Serial bytes get a ring of their own: a paste arrives as thousands of bytes in a
/// burst, which would crowd every other event out of [`QUEUE`].
static SERIAL: Mutex<EventQueue<u8, SERIAL_CAPACITY>> = Mutex::new(EventQueue::new());

/// Queues a byte received on the serial console (from its interrupt handler). A full
/// ring drops the byte and counts it in [`dropped`].
pub fn push_serial(byte: u8) {
    stamp_input();
    crate::arch::without_interrupts(|| {
        let _ = SERIAL.lock().push(byte);
    });
}

/// Moves up to `out.len()` received serial bytes into `out` under one lock; returns how
/// many. The main loop calls it until it returns 0.
pub fn pop_serial(out: &mut [u8]) -> usize {
    crate::arch::without_interrupts(|| {
        let mut ring = SERIAL.lock();
        let mut n = 0;
        for slot in out.iter_mut() {
            match ring.pop() {
                Some(byte) => *slot = byte,
                None => break,
            }
            n += 1;
        }
        n
    })
}

/// When (nanoseconds since boot, plus one so 0 means none) the oldest input not yet
/// taken by [`take_first_input`] arrived: the start of a key-to-screen measurement.
static FIRST_INPUT: AtomicU64 = AtomicU64::new(0);

fn stamp_input() {
    let now = crate::time::now().as_nanos().saturating_add(1);
    let _ = FIRST_INPUT.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
}

/// When the oldest input (a key byte, a serial byte, a device interrupt) since the
/// last call arrived, if any; the main loop takes it as it takes the events.
pub fn take_first_input() -> Option<hal::clock::Instant> {
    match FIRST_INPUT.swap(0, Ordering::Relaxed) {
        0 => None,
        n => Some(hal::clock::Instant::from_nanos(n - 1)),
    }
}

/// Queues an event, from an interrupt handler or the main loop (the lock is
/// only ever taken with interrupts off, so a handler can never find it held).
/// A full queue drops the event and counts it.
pub fn push(event: Event) {
    if !matches!(event, Event::Timer) {
        stamp_input();
    }
    crate::arch::without_interrupts(|| {
        let _ = QUEUE.lock().push(event);
    });
}

/// Takes the oldest event, if any.
pub fn pop() -> Option<Event> {
    crate::arch::without_interrupts(|| QUEUE.lock().pop())
}

/// Set by a device interrupt (MSI/MSI-X: a network card, a USB controller, a virtio
/// keyboard has work), cleared by the main loop when a turn starts.
///
/// A flag rather than a queued event: the main loop polls the devices before it drains
/// the queue (so their keys are handled in the same turn), and an interrupt raised between
/// a device's poll and the drain would be drained without its work being seen. An edge
/// (MSI) is not raised again while the work waits (an xHCI controller holds its next
/// interrupt until the event ring is acknowledged), so the loop would sleep for good; it
/// did, for hot-plugged USB keyboards on AArch64. Taken before the polls, the flag stays
/// set for anything that arrives during them, and the loop goes round again.
static DEVICE_SIGNALLED: AtomicBool = AtomicBool::new(false);

/// Notes a device interrupt (from its handler).
pub fn signal_device() {
    stamp_input();
    DEVICE_SIGNALLED.store(true, Ordering::Release);
}

/// Clears the device-interrupt flag; the main loop calls it when a turn starts, before it
/// polls the devices. Returns whether a device had signalled.
pub fn take_device_signal() -> bool {
    DEVICE_SIGNALLED.swap(false, Ordering::AcqRel)
}

/// Whether nothing is waiting (checked with interrupts off before sleeping).
pub fn is_empty() -> bool {
    !DEVICE_SIGNALLED.load(Ordering::Acquire) && QUEUE.lock().is_empty() && SERIAL.lock().is_empty()
}

/// Events and serial bytes lost to a full queue since boot.
pub fn dropped() -> u64 {
    crate::arch::without_interrupts(|| QUEUE.lock().dropped() + SERIAL.lock().dropped())
}
