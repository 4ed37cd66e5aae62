//! Software key repeat for keyboards that only report press and release
//! (virtio-input under QEMU): while a key is held, its event is sent again
//! after an initial delay and then at a fixed interval, like a PC keyboard's
//! typematic repeat.
//!
//! The repeater is polled, never runs on its own: the kernel asks
//! [`KeyRepeater::next_deadline`] when to wake up, arms a timer for it, and
//! calls [`KeyRepeater::poll`] when the timer fires (or whenever it is awake).

use crate::evdev::is_modifier_code;
use crate::keys::KeyEvent;

/// The key being held down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    event: KeyEvent,
    /// The device's key code, to match the release.
    code: u16,
    /// When the next repeat is due, in milliseconds.
    next_ms: u64,
}

/// Repeats the most recently pressed key while it is held. Only one key
/// repeats at a time: pressing another key takes over, as on a PC keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRepeater {
    delay_ms: u64,
    interval_ms: u64,
    held: Option<Held>,
}

impl KeyRepeater {
    /// A repeater that starts repeating `delay_ms` after a press and then
    /// repeats every `interval_ms` (at least 1 ms: a zero interval would ask
    /// for infinitely many repeats).
    pub const fn new(delay_ms: u64, interval_ms: u64) -> KeyRepeater {
        let interval_ms = if interval_ms == 0 { 1 } else { interval_ms };
        KeyRepeater { delay_ms, interval_ms, held: None }
    }

    /// Notes that the key with device code `code` was pressed at `now_ms`,
    /// producing `ev` (which the caller has already delivered once). Call it
    /// for fresh presses only, not for the device's own auto-repeats. Modifier
    /// and lock keys (by Linux key code) are ignored: holding Shift must not
    /// repeat anything, nor stop a key that is already repeating.
    pub fn press(&mut self, ev: KeyEvent, code: u16, now_ms: u64) {
        if is_modifier_code(code) {
            return;
        }
        self.held = Some(Held { event: ev, code, next_ms: now_ms.saturating_add(self.delay_ms) });
    }

    /// Notes that the key with device code `code` was released; if it is the
    /// repeating key, repeating stops.
    pub fn release(&mut self, code: u16) {
        if self.held.is_some_and(|h| h.code == code) {
            self.held = None;
        }
    }

    /// Stops any repeat (focus change, device reset, lost release events).
    pub fn cancel(&mut self) {
        self.held = None;
    }

    /// Whether a key is being held and will repeat.
    pub const fn is_repeating(&self) -> bool {
        self.held.is_some()
    }

    /// The repeat due at `now_ms`, if any. At most one per call: after a long
    /// gap (the CPU was busy, a timer was late) the repeater does not emit the
    /// missed repeats in a burst, it emits one and resumes the interval from
    /// now. A slightly late call keeps the original cadence.
    pub fn poll(&mut self, now_ms: u64) -> Option<KeyEvent> {
        let interval = self.interval_ms;
        let held = self.held.as_mut()?;
        if now_ms < held.next_ms {
            return None;
        }
        let event = held.event;
        let on_cadence = held.next_ms.saturating_add(interval);
        match if on_cadence > now_ms { Some(on_cadence) } else { now_ms.checked_add(interval) } {
            Some(next_ms) => held.next_ms = next_ms,
            // No later millisecond exists: stop, so a caller looping on
            // `poll` until `None` always terminates.
            None => self.held = None,
        }
        Some(event)
    }

    /// When the next repeat is due (milliseconds, same clock as `now_ms`), or
    /// `None` when no key is held and no timer is needed.
    pub fn next_deadline(&self) -> Option<u64> {
        self.held.map(|h| h.next_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;

    const KEY_A: u16 = 30;
    const KEY_B: u16 = 48;
    const KEY_LEFTSHIFT: u16 = 42;
    const KEY_CAPSLOCK: u16 = 58;

    fn a() -> KeyEvent {
        KeyEvent::char('a')
    }

    #[test]
    fn delay_then_interval() {
        let mut r = KeyRepeater::new(500, 33);
        assert_eq!(r.next_deadline(), None);
        assert_eq!(r.poll(1_000), None);
        r.press(a(), KEY_A, 1_000);
        assert!(r.is_repeating());
        assert_eq!(r.next_deadline(), Some(1_500));
        assert_eq!(r.poll(1_000), None);
        assert_eq!(r.poll(1_499), None);
        assert_eq!(r.poll(1_500), Some(a()));
        assert_eq!(r.poll(1_500), None);
        assert_eq!(r.next_deadline(), Some(1_533));
        assert_eq!(r.poll(1_532), None);
        assert_eq!(r.poll(1_533), Some(a()));
        assert_eq!(r.next_deadline(), Some(1_566));
    }

    #[test]
    fn count_over_a_second_of_frequent_polls() {
        let mut r = KeyRepeater::new(250, 50);
        r.press(a(), KEY_A, 0);
        let repeats = (0..=1_000).filter(|t| r.poll(*t).is_some()).count();
        // Repeats at 250, 300, ..., 1000.
        assert_eq!(repeats, 16);
    }

    #[test]
    fn polling_until_none_terminates() {
        // The kernel drains with `while let Some(..) = poll(now)`.
        let mut r = KeyRepeater::new(10, 10);
        r.press(a(), KEY_A, 0);
        for now in [0, 10, 11, 1_000_000, u64::MAX - 5, u64::MAX] {
            let mut n = 0;
            while r.poll(now).is_some() {
                n += 1;
                assert!(n <= 1, "burst at {now}");
            }
        }
    }

    #[test]
    fn late_polls_keep_cadence_but_never_burst() {
        let mut r = KeyRepeater::new(100, 10);
        r.press(a(), KEY_A, 0);
        // A little late: the next one stays on the 10 ms grid.
        assert_eq!(r.poll(103), Some(a()));
        assert_eq!(r.next_deadline(), Some(110));
        // A long gap: exactly one repeat, then the interval restarts from now.
        assert_eq!(r.poll(5_000), Some(a()));
        assert_eq!(r.poll(5_000), None);
        assert_eq!(r.poll(5_009), None);
        assert_eq!(r.next_deadline(), Some(5_010));
        assert_eq!(r.poll(5_010), Some(a()));
    }

    #[test]
    fn release_cancels_only_the_held_key() {
        let mut r = KeyRepeater::new(100, 10);
        r.press(a(), KEY_A, 0);
        r.release(KEY_B);
        assert!(r.is_repeating());
        r.release(KEY_A);
        assert!(!r.is_repeating());
        assert_eq!(r.poll(1_000), None);
        assert_eq!(r.next_deadline(), None);
        r.press(a(), KEY_A, 0);
        r.cancel();
        assert_eq!(r.poll(1_000), None);
    }

    #[test]
    fn a_new_press_takes_over() {
        let mut r = KeyRepeater::new(100, 10);
        r.press(a(), KEY_A, 0);
        let b = KeyEvent::char('b');
        r.press(b, KEY_B, 50);
        assert_eq!(r.poll(120), None);
        assert_eq!(r.poll(150), Some(b));
        // Releasing the earlier key does not stop the later one.
        r.release(KEY_A);
        assert_eq!(r.poll(160), Some(b));
    }

    #[test]
    fn modifier_keys_never_repeat() {
        let mut r = KeyRepeater::new(100, 10);
        let shift_event = KeyEvent::plain(Key::Escape);
        r.press(shift_event, KEY_LEFTSHIFT, 0);
        r.press(shift_event, KEY_CAPSLOCK, 0);
        assert!(!r.is_repeating());
        assert_eq!(r.poll(1_000), None);
        // Pressing Shift while a key repeats leaves the repeat alone.
        r.press(a(), KEY_A, 1_000);
        r.press(shift_event, KEY_LEFTSHIFT, 1_050);
        r.release(KEY_LEFTSHIFT);
        assert_eq!(r.poll(1_100), Some(a()));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut r = KeyRepeater::new(u64::MAX, 0);
        r.press(a(), KEY_A, 10);
        assert_eq!(r.next_deadline(), Some(u64::MAX));
        assert_eq!(r.poll(u64::MAX - 1), None);
        assert_eq!(r.poll(u64::MAX), Some(a()));
        assert_eq!(r.poll(u64::MAX), None);
        assert_eq!(r.next_deadline(), None);
        // A zero interval is treated as 1 ms: one repeat per millisecond at most.
        let mut r = KeyRepeater::new(0, 0);
        r.press(a(), KEY_A, 0);
        assert_eq!(r.poll(0), Some(a()));
        assert_eq!(r.poll(0), None);
        assert_eq!(r.poll(1), Some(a()));
    }
}
