//! The one event queue: interrupt handlers push raw device input, the main loop
//! pops it. Handlers do as little as possible (read the byte, push it); decoding
//! happens in the main loop.

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
    /// A device signalled through MSI-X (the network card has work).
    Device,
}

const CAPACITY: usize = 512;

static QUEUE: Mutex<EventQueue<Event, CAPACITY>> = Mutex::new(EventQueue::new());

/// Queues an event, from an interrupt handler or the main loop (the lock is
/// only ever taken with interrupts off, so a handler can never find it held).
/// A full queue drops the event and counts it.
pub fn push(event: Event) {
    crate::arch::without_interrupts(|| {
        let _ = QUEUE.lock().push(event);
    });
}

/// Takes the oldest event, if any.
pub fn pop() -> Option<Event> {
    crate::arch::without_interrupts(|| QUEUE.lock().pop())
}

/// Whether nothing is waiting (checked with interrupts off before sleeping).
pub fn is_empty() -> bool {
    QUEUE.lock().is_empty()
}

/// Events lost to a full queue since boot.
pub fn dropped() -> u64 {
    crate::arch::without_interrupts(|| QUEUE.lock().dropped())
}
