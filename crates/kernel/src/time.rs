//! Monotonic time for the kernel: a free-running CPU counter (TSC or the Arm
//! generic timer) converted with a rate calibrated at boot.

use core::time::Duration;
use hal::clock::{CivilDateTime, Instant, TickRate, WallClock};
use spin::Once;

static RATE: Once<(TickRate, u64)> = Once::new();
static WALL: Once<WallClock> = Once::new();

/// Anchors wall-clock time to the firmware's reading at boot. UEFI reports local
/// time with an optional UTC offset; without one the clock is taken as UTC (what
/// QEMU and most firmware setups keep). Returns the anchored clock, or `None` if
/// the reading is not a valid date.
pub fn init_wall_clock(reading: &crate::boot_info::WallClock) -> Option<WallClock> {
    let civil = CivilDateTime::new(
        i64::from(reading.year),
        reading.month,
        reading.day,
        reading.hour,
        reading.minute,
        reading.second,
    )?;
    // UEFI: local = UTC - offset, so UTC = local + offset.
    let offset_seconds = reading.utc_offset_minutes.map_or(0, |m| i64::from(m) * 60);
    let boot_unix = civil.to_unix_seconds()? + offset_seconds;
    // The reading was taken shortly before the counter's origin; the gap is a few
    // milliseconds, far below the one-second resolution of the firmware clock.
    Some(*WALL.call_once(|| WallClock::new(boot_unix, Instant::from_nanos(0))))
}

/// Seconds since the Unix epoch, if the firmware gave a usable time.
pub fn unix_now() -> Option<i64> {
    WALL.get().map(|wall| wall.now_unix(now()))
}

/// The current UTC date and time, if known.
pub fn utc_now() -> Option<CivilDateTime> {
    WALL.get().map(|wall| wall.now_civil(now()))
}

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
