//! Monotonic time for the kernel: a free-running CPU counter (TSC or the Arm
//! generic timer) converted with a rate calibrated at boot.

use core::time::Duration;
use hal::clock::{Instant, TickRate};
use spin::Once;

static RATE: Once<(TickRate, u64)> = Once::new();

/// Records the counter's rate; the current counter value becomes time zero.
pub fn init(rate: TickRate) {
    RATE.call_once(|| (rate, crate::arch::cycle_counter()));
}

/// The counter's rate, once calibrated.
pub fn rate() -> Option<TickRate> {
    RATE.get().map(|(rate, _)| *rate)
}

/// Time since [`init`] (zero before it).
pub fn now() -> Instant {
    match RATE.get() {
        Some((rate, origin)) => {
            Instant::from_nanos(rate.ticks_to_nanos(crate::arch::cycle_counter().wrapping_sub(*origin)))
        }
        None => Instant::from_nanos(0),
    }
}

/// Sleeps until `duration` has passed, halting the CPU between timer interrupts.
/// Events that arrive meanwhile stay queued for the main loop.
pub fn sleep(duration: Duration) {
    let Some(deadline) = now().checked_add(duration) else { return };
    loop {
        let now = now();
        if now >= deadline {
            return;
        }
        crate::arch::arm_timer(deadline.saturating_duration_since(now));
        crate::arch::halt_until_interrupt();
    }
}
