//! Time: a monotonic [`Instant`] since boot, the conversion from a free-running
//! hardware counter to nanoseconds ([`TickRate`]), and civil (calendar) time
//! for the status bar and for TLS certificate checks ([`CivilDateTime`],
//! [`WallClock`]).
//!
//! Everything here saturates or returns `None` instead of overflowing: the
//! kernel calls it from interrupt handlers and must never panic.

use core::cell::Cell;
use core::fmt;
use core::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A point in monotonic time, in nanoseconds since boot. A `u64` of nanoseconds
/// lasts 584 years, so it never wraps in practice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Boot.
    pub const ZERO: Instant = Instant(0);

    /// The instant `nanos` nanoseconds after boot.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// The instant `millis` milliseconds after boot (saturating).
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since boot.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole microseconds since boot.
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }

    /// Whole milliseconds since boot.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// `self + duration`, or `None` if that is beyond the representable range.
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Instant)
    }

    /// `self + duration`, clamped to the latest representable instant (for
    /// deadlines: "never" is a fine answer to an absurdly long timeout).
    pub fn saturating_add(self, duration: Duration) -> Instant {
        self.checked_add(duration).unwrap_or(Instant(u64::MAX))
    }

    /// `self - duration`, or `None` if that would be before boot.
    pub fn checked_sub(self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_sub(nanos).map(Instant)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is actually later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(nanos) => Some(Duration::from_nanos(nanos)),
            None => None,
        }
    }

    /// Time from `earlier` to `self`, zero if `earlier` is actually later (two
    /// readings taken on different paths may briefly disagree).
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// A source of monotonic time.
pub trait Clock {
    /// The current instant; never earlier than a previous call's result.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// A clock that only moves when told to: for tests of code that takes a [`Clock`].
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    now: Cell<Instant>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub const fn new(start: Instant) -> ManualClock {
        ManualClock { now: Cell::new(start) }
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get().saturating_add(by));
    }

    /// Sets the reading; ignored if it would move the clock backwards, so the
    /// [`Clock`] guarantee holds.
    pub fn set(&self, to: Instant) {
        if to > self.now.get() {
            self.now.set(to);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.now.get()
    }
}

/// The rate of a free-running counter (TSC, Arm generic timer, local APIC timer),
/// kept as an exact reduced fraction `nanos / ticks` so that conversions stay
/// exact for any uptime: the products are done in `u128`, where `u64 * u64`
/// cannot overflow.
///
/// Rounding is chosen so time never runs ahead: [`ticks_to_nanos`](Self::ticks_to_nanos)
/// rounds down (a clock never reports time that has not passed) and
/// [`nanos_to_ticks`](Self::nanos_to_ticks) rounds up (a timer armed for `n`
/// nanoseconds never fires early). So `ticks_to_nanos(nanos_to_ticks(n)) >= n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TickRate {
    /// Nanoseconds in `ticks` ticks; never zero.
    nanos: u64,
    /// Never zero.
    ticks: u64,
}

impl TickRate {
    /// The slowest rate [`from_calibration`](Self::from_calibration) accepts: no
    /// counter the kernel uses for time is slower than 1 kHz.
    pub const MIN_PLAUSIBLE_HZ: u64 = 1_000;
    /// The fastest rate [`from_calibration`](Self::from_calibration) accepts:
    /// 100 GHz, well above any CPU clock.
    pub const MAX_PLAUSIBLE_HZ: u64 = 100_000_000_000;

    /// A counter that advances `hz` times per second (a documented or
    /// firmware-reported rate such as `CNTFRQ_EL0`), or `None` for zero, which
    /// is what firmware that did not program the rate reports.
    pub const fn from_hz(hz: u64) -> Option<TickRate> {
        if hz == 0 { None } else { Some(TickRate::reduced(NANOS_PER_SEC, hz)) }
    }

    /// The rate of a counter that advanced `ticks` while a reference clock (the
    /// PIT, the ACPI PM timer, a UEFI stall) measured `elapsed_nanos`. `None` if
    /// either is zero or the result lies outside
    /// [`MIN_PLAUSIBLE_HZ`](Self::MIN_PLAUSIBLE_HZ)..=[`MAX_PLAUSIBLE_HZ`](Self::MAX_PLAUSIBLE_HZ),
    /// which means the measurement went wrong (a counter that did not run, a
    /// reference that did not tick).
    pub fn from_calibration(ticks: u64, elapsed_nanos: u64) -> Option<TickRate> {
        if ticks == 0 || elapsed_nanos == 0 {
            return None;
        }
        let rate = TickRate::reduced(elapsed_nanos, ticks);
        let hz = rate.hz_exact_floor();
        if !(u128::from(Self::MIN_PLAUSIBLE_HZ)..=u128::from(Self::MAX_PLAUSIBLE_HZ)).contains(&hz) {
            return None;
        }
        Some(rate)
    }

    /// Ticks per second, rounded to the nearest integer (saturating).
    pub fn hz(&self) -> u64 {
        // hz = 1e9 * ticks / nanos, rounded half up.
        let num = u128::from(NANOS_PER_SEC) * u128::from(self.ticks);
        let den = u128::from(self.nanos);
        let rounded = (num + den / 2) / den;
        u64::try_from(rounded).unwrap_or(u64::MAX)
    }

    /// Nanoseconds in `ticks` counter ticks, rounded down (saturating at
    /// `u64::MAX`, which is 584 years).
    pub fn ticks_to_nanos(&self, ticks: u64) -> u64 {
        let product = u128::from(ticks) * u128::from(self.nanos);
        u64::try_from(product / u128::from(self.ticks)).unwrap_or(u64::MAX)
    }

    /// Counter ticks in `nanos` nanoseconds, rounded up (saturating).
    pub fn nanos_to_ticks(&self, nanos: u64) -> u64 {
        let product = u128::from(nanos) * u128::from(self.ticks);
        let den = u128::from(self.nanos);
        u64::try_from(product.div_ceil(den)).unwrap_or(u64::MAX)
    }

    /// Counter ticks in `duration`, rounded up (saturating): for arming timers.
    pub fn duration_to_ticks(&self, duration: Duration) -> u64 {
        self.nanos_to_ticks(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
    }

    /// The instant reached after `ticks` ticks counted from boot.
    pub fn instant(&self, ticks_since_boot: u64) -> Instant {
        Instant::from_nanos(self.ticks_to_nanos(ticks_since_boot))
    }

    /// Floor of the exact rate, unclamped, for the plausibility check.
    fn hz_exact_floor(&self) -> u128 {
        u128::from(NANOS_PER_SEC) * u128::from(self.ticks) / u128::from(self.nanos)
    }

    /// `nanos / ticks` in lowest terms; both inputs are non-zero.
    const fn reduced(nanos: u64, ticks: u64) -> TickRate {
        let g = gcd(nanos, ticks);
        // g >= 1 because both inputs are non-zero; the fallback keeps this total anyway.
        match (nanos.checked_div(g), ticks.checked_div(g)) {
            (Some(nanos), Some(ticks)) => TickRate { nanos, ticks },
            _ => TickRate { nanos: 1, ticks: 1 },
        }
    }
}

/// Greatest common divisor (Euclid); `gcd(0, 0) == 0`.
const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

/// Whether `year` (proleptic Gregorian) has a 29 February: every fourth year,
/// except centuries, except every fourth century.
pub const fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1–12) of `year`, or `None` for a month out of range.
pub const fn days_in_month(year: i64, month: u8) -> Option<u8> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// First day of each month counted from 1 March, in a year that starts in March.
/// Starting the year in March puts the leap day last, so the offsets of all the
/// other months are the same in every year.
const MARCH_YEAR_MONTH_START: [u16; 12] = [0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337];
/// The Gregorian calendar repeats every 400 years: 400 * 365 + 97 leap days.
const DAYS_PER_400_YEARS: i64 = 146_097;
/// A century without its fourth-century leap day: 100 * 365 + 24.
const DAYS_PER_100_YEARS: i64 = 36_524;
/// Four years with their leap day.
const DAYS_PER_4_YEARS: i64 = 1_461;
/// Days from 0000-03-01 (the start of a 400-year cycle in March-years) to 1970-01-01.
const DAYS_FROM_0000_03_01_TO_EPOCH: i64 = 719_468;

/// Days since 1970-01-01 of a valid date, or `None` on arithmetic overflow.
fn days_from_civil(year: i64, month: u8, day: u8) -> Option<i64> {
    // Count in March-years: January and February belong to the previous one.
    let march_year = if month <= 2 { year.checked_sub(1)? } else { year };
    let cycle = march_year.div_euclid(400);
    let year_of_cycle = march_year.rem_euclid(400);
    let month_index = usize::from(if month >= 3 { month - 3 } else { month + 9 });
    let day_of_year = i64::from(*MARCH_YEAR_MONTH_START.get(month_index)?) + i64::from(day) - 1;
    // Leap days before `year_of_cycle` within the cycle: every fourth March-year
    // ends with one, except the ones ending a century (the cycle's last one,
    // which would be the exception to the exception, is never *before* a year).
    let leap_days = year_of_cycle / 4 - year_of_cycle / 100;
    let day_of_cycle = year_of_cycle * 365 + leap_days + day_of_year;
    cycle.checked_mul(DAYS_PER_400_YEARS)?.checked_add(day_of_cycle)?.checked_sub(DAYS_FROM_0000_03_01_TO_EPOCH)
}

/// The date `days` days after 1970-01-01 as (year, month, day). Total for every
/// `days` that comes from dividing an `i64` of seconds by 86 400.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let from_cycle_start = days.saturating_add(DAYS_FROM_0000_03_01_TO_EPOCH);
    let cycle = from_cycle_start.div_euclid(DAYS_PER_400_YEARS);
    let day_of_cycle = from_cycle_start.rem_euclid(DAYS_PER_400_YEARS);
    // Peel off whole centuries, four-year blocks and years. The last century of
    // a cycle and the last year of a block are one day longer (they end on a
    // leap day), hence the clamps: that extra day belongs to them, not to the
    // next unit.
    let century = (day_of_cycle / DAYS_PER_100_YEARS).min(3);
    let day_of_century = day_of_cycle - century * DAYS_PER_100_YEARS;
    let block = day_of_century / DAYS_PER_4_YEARS;
    let day_of_block = day_of_century - block * DAYS_PER_4_YEARS;
    let year_of_block = (day_of_block / 365).min(3);
    let day_of_year = day_of_block - year_of_block * 365;
    let year_of_cycle = century * 100 + block * 4 + year_of_block;

    let mut month_index = 0usize;
    let mut month_start = 0i64;
    for (i, start) in MARCH_YEAR_MONTH_START.iter().enumerate() {
        if i64::from(*start) <= day_of_year {
            month_index = i;
            month_start = i64::from(*start);
        }
    }
    // day_of_year - month_start is in 0..=30 and month_index in 0..=11, so the
    // narrowing conversions below cannot fail; the fallbacks keep this total.
    let day = u8::try_from(day_of_year - month_start + 1).unwrap_or(1);
    let month_index = u8::try_from(month_index).unwrap_or(0);
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = cycle.saturating_mul(400).saturating_add(year_of_cycle).saturating_add(i64::from(month <= 2));
    (year, month, day)
}

/// A UTC calendar date and time of day (proleptic Gregorian, no leap seconds),
/// as read from the firmware's real-time clock or shown in the status bar.
/// Fields are ordered so that the derived ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDateTime {
    /// Year, e.g. 2026 (0 is 1 BC; negative years are allowed).
    pub year: i64,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

impl CivilDateTime {
    /// A validated date and time, or `None` if any field is out of range
    /// (including 30 February or 29 February of a common year).
    pub const fn new(year: i64, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<CivilDateTime> {
        let dt = CivilDateTime { year, month, day, hour, minute, second };
        if dt.is_valid() { Some(dt) } else { None }
    }

    /// Whether every field is in range for its month and year.
    pub const fn is_valid(&self) -> bool {
        let Some(month_days) = days_in_month(self.year, self.month) else { return false };
        self.day >= 1 && self.day <= month_days && self.hour < 24 && self.minute < 60 && self.second < 60
    }

    /// Seconds since 1970-01-01 00:00:00 UTC, or `None` if a field is out of
    /// range or the year is too far away for an `i64` of seconds.
    pub fn to_unix_seconds(&self) -> Option<i64> {
        if !self.is_valid() {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day)?;
        let time_of_day = i64::from(self.hour) * 3_600 + i64::from(self.minute) * 60 + i64::from(self.second);
        // In i128: the midnight before i64::MIN seconds is itself below i64::MIN.
        let secs = i128::from(days) * i128::from(SECS_PER_DAY) + i128::from(time_of_day);
        i64::try_from(secs).ok()
    }

    /// The UTC date and time `secs` seconds after 1970-01-01 00:00:00 (before it
    /// if negative). Every `i64` has an answer.
    pub fn from_unix_seconds(secs: i64) -> CivilDateTime {
        let days = secs.div_euclid(SECS_PER_DAY);
        let second_of_day = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // second_of_day < 86 400, so each part fits in a u8.
        let hour = u8::try_from(second_of_day / 3_600).unwrap_or(0);
        let minute = u8::try_from(second_of_day / 60 % 60).unwrap_or(0);
        let second = u8::try_from(second_of_day % 60).unwrap_or(0);
        CivilDateTime { year, month, day, hour, minute, second }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as in the log and status bar.
impl fmt::Display for CivilDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Wall-clock time: the real-time clock read once at boot, advanced by the
/// monotonic clock. (Reading the RTC again later would need firmware services
/// that are gone after `ExitBootServices`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    boot_unix: i64,
    boot_instant: Instant,
}

impl WallClock {
    /// A wall clock that read `boot_unix` (Unix seconds) at monotonic time `boot_instant`.
    pub const fn new(boot_unix: i64, boot_instant: Instant) -> WallClock {
        WallClock { boot_unix, boot_instant }
    }

    /// A wall clock from a calendar reading taken at `boot_instant`; `None` if
    /// the reading is invalid (firmware clocks can hold garbage).
    pub fn from_civil(reading: &CivilDateTime, boot_instant: Instant) -> Option<WallClock> {
        Some(WallClock::new(reading.to_unix_seconds()?, boot_instant))
    }

    /// The Unix time (seconds) recorded at boot.
    pub const fn boot_unix(&self) -> i64 {
        self.boot_unix
    }

    /// The monotonic instant at which [`boot_unix`](Self::boot_unix) was read.
    pub const fn boot_instant(&self) -> Instant {
        self.boot_instant
    }

    /// Unix time in nanoseconds at monotonic time `now` (which may even precede
    /// the boot reading).
    pub fn now_unix_nanos(&self, now: Instant) -> i128 {
        let offset = i128::from(now.as_nanos()) - i128::from(self.boot_instant.as_nanos());
        i128::from(self.boot_unix) * i128::from(NANOS_PER_SEC) + offset
    }

    /// Unix time in whole seconds (rounded towards the past) at monotonic time
    /// `now`, saturating at the ends of `i64`.
    pub fn now_unix(&self, now: Instant) -> i64 {
        let secs = self.now_unix_nanos(now).div_euclid(i128::from(NANOS_PER_SEC));
        i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX })
    }

    /// Time since 1970-01-01 at monotonic time `now`, or `None` if that is
    /// before 1970 (a clearly wrong clock); the shape TLS time providers want.
    pub fn since_unix_epoch(&self, now: Instant) -> Option<Duration> {
        let nanos = self.now_unix_nanos(now);
        let nanos = u128::try_from(nanos).ok()?;
        let secs = u64::try_from(nanos / u128::from(NANOS_PER_SEC)).ok()?;
        let sub = u32::try_from(nanos % u128::from(NANOS_PER_SEC)).ok()?;
        Some(Duration::new(secs, sub))
    }

    /// The UTC calendar date and time at monotonic time `now`.
    pub fn now_civil(&self, now: Instant) -> CivilDateTime {
        CivilDateTime::from_unix_seconds(self.now_unix(now))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    const SECS_PER_YEAR: u64 = 31_557_600; // 365.25 days

    #[test]
    fn instant_units_and_arithmetic() {
        let t = Instant::from_nanos(1_234_567_890);
        assert_eq!(t.as_nanos(), 1_234_567_890);
        assert_eq!(t.as_micros(), 1_234_567);
        assert_eq!(t.as_millis(), 1_234);
        assert_eq!(Instant::from_millis(5).as_nanos(), 5_000_000);
        assert_eq!(Instant::from_millis(u64::MAX).as_nanos(), u64::MAX);
        let later = t.checked_add(Duration::from_millis(10)).unwrap();
        assert_eq!(later.as_nanos(), 1_244_567_890);
        assert_eq!(later.saturating_duration_since(t), Duration::from_millis(10));
        assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
        assert_eq!(later.checked_duration_since(t), Some(Duration::from_millis(10)));
        assert_eq!(t.checked_duration_since(later), None);
        assert_eq!(later.checked_sub(Duration::from_millis(10)), Some(t));
        assert_eq!(t.checked_sub(Duration::from_secs(2)), None);
        assert!(later > t);
    }

    #[test]
    fn instant_overflow_is_none_or_saturates() {
        let near_end = Instant::from_nanos(u64::MAX - 5);
        assert_eq!(near_end.checked_add(Duration::from_nanos(5)), Some(Instant::from_nanos(u64::MAX)));
        assert_eq!(near_end.checked_add(Duration::from_nanos(6)), None);
        assert_eq!(Instant::ZERO.checked_add(Duration::MAX), None);
        assert_eq!(Instant::ZERO.checked_sub(Duration::MAX), None);
        assert_eq!(near_end.saturating_add(Duration::from_secs(1)), Instant::from_nanos(u64::MAX));
    }

    #[test]
    fn manual_clock_moves_forward_only() {
        let clock = ManualClock::new(Instant::from_millis(10));
        assert_eq!(clock.now(), Instant::from_millis(10));
        clock.advance(Duration::from_millis(5));
        // Through the blanket impl for references.
        fn read(clock: impl Clock) -> Instant {
            clock.now()
        }
        assert_eq!(read(&clock), Instant::from_millis(15));
        clock.set(Instant::from_millis(3));
        assert_eq!(clock.now(), Instant::from_millis(15));
        clock.set(Instant::from_millis(20));
        assert_eq!(clock.now(), Instant::from_millis(20));
    }

    #[test]
    fn tick_rate_gigahertz_for_ten_years() {
        let rate = TickRate::from_hz(2_500_000_000).unwrap();
        assert_eq!(rate.hz(), 2_500_000_000);
        let ten_years_secs = 10 * SECS_PER_YEAR;
        let ticks = 2_500_000_000 * ten_years_secs;
        assert_eq!(rate.ticks_to_nanos(ticks), ten_years_secs * NANOS_PER_SEC);
        assert_eq!(rate.nanos_to_ticks(ten_years_secs * NANOS_PER_SEC), ticks);
        // One tick is 0.4 ns: floor on the way to nanos, ceil on the way back.
        assert_eq!(rate.ticks_to_nanos(1), 0);
        assert_eq!(rate.ticks_to_nanos(3), 1);
        assert_eq!(rate.nanos_to_ticks(1), 3);
        // The whole counter range does not overflow and stays monotonic.
        assert_eq!(rate.ticks_to_nanos(u64::MAX), (u128::from(u64::MAX) * 2 / 5) as u64);
        assert!(rate.ticks_to_nanos(u64::MAX - 1) <= rate.ticks_to_nanos(u64::MAX));
        // A 4.2 GHz clock with a non-round rate over 10 years.
        let odd = TickRate::from_hz(4_194_304_123).unwrap();
        let ticks = 4_194_304_123 * ten_years_secs;
        assert_eq!(odd.ticks_to_nanos(ticks), ten_years_secs * NANOS_PER_SEC);
    }

    #[test]
    fn tick_rate_slow_counters_saturate_instead_of_overflowing() {
        let rate = TickRate::from_hz(1).unwrap();
        assert_eq!(rate.ticks_to_nanos(5), 5 * NANOS_PER_SEC);
        assert_eq!(rate.ticks_to_nanos(u64::MAX), u64::MAX);
        assert_eq!(rate.nanos_to_ticks(1), 1);
        assert_eq!(TickRate::from_hz(0), None);
        let fast = TickRate::from_hz(u64::MAX).unwrap();
        assert_eq!(fast.nanos_to_ticks(u64::MAX), u64::MAX);
        assert_eq!(fast.hz(), u64::MAX);
    }

    #[test]
    fn tick_rate_round_trips_never_early() {
        for hz in [1_000u64, 1_193_182, 3_579_545, 24_000_000, 62_500_000, 1_000_000_000, 2_904_123_457] {
            let rate = TickRate::from_hz(hz).unwrap();
            assert_eq!(rate.hz(), hz);
            let mut n = 1u64;
            while n < u64::MAX / 3 {
                let ticks = rate.nanos_to_ticks(n);
                assert!(rate.ticks_to_nanos(ticks) >= n, "hz {hz} n {n}");
                // ...and it is the fewest ticks that reach n.
                if ticks > 0 {
                    assert!(rate.ticks_to_nanos(ticks - 1) < n, "hz {hz} n {n}");
                }
                n = n * 3 + 7;
            }
        }
        let rate = TickRate::from_hz(1_000).unwrap();
        assert_eq!(rate.duration_to_ticks(Duration::from_millis(5)), 5);
        assert_eq!(rate.duration_to_ticks(Duration::from_micros(5_001)), 6);
        // Durations beyond u64 nanoseconds (584 years) are clamped to that.
        assert_eq!(rate.duration_to_ticks(Duration::MAX), 18_446_744_073_710);
        assert_eq!(rate.instant(2_500), Instant::from_millis(2_500));
    }

    #[test]
    fn calibration_against_a_pit_window() {
        // The PIT runs at 1 193 182 Hz; a 10 ms gate is 11 932 PIT ticks, which
        // is really 10 000 150.8 ns. A 2.5 GHz TSC counts 25 000 377 ticks in it.
        let pit = TickRate::from_hz(1_193_182).unwrap();
        let elapsed = pit.ticks_to_nanos(11_932);
        assert_eq!(elapsed, 10_000_150);
        let tsc = TickRate::from_calibration(25_000_377, elapsed).unwrap();
        let err = tsc.hz().abs_diff(2_500_000_000);
        assert!(err < 2_500, "calibrated {} Hz", tsc.hz());
        // The calibrated fraction is kept exactly: converting the window back is exact.
        assert_eq!(tsc.ticks_to_nanos(25_000_377), elapsed);
        // Equal fractions compare equal.
        assert_eq!(TickRate::from_calibration(2_000_000, 2_000_000), TickRate::from_hz(1_000_000_000));
        // A 24 MHz Arm generic timer measured over 1 s.
        let cntfrq = TickRate::from_calibration(24_000_000, NANOS_PER_SEC).unwrap();
        assert_eq!(cntfrq.hz(), 24_000_000);
        assert_eq!(cntfrq.ticks_to_nanos(24_000_000 * 3600), 3600 * NANOS_PER_SEC);
    }

    #[test]
    fn calibration_rejects_nonsense() {
        assert_eq!(TickRate::from_calibration(0, 10_000_000), None);
        assert_eq!(TickRate::from_calibration(10_000, 0), None);
        assert_eq!(TickRate::from_calibration(0, 0), None);
        // 1 tick in 10 ms = 100 Hz: the counter barely ran.
        assert_eq!(TickRate::from_calibration(1, 10_000_000), None);
        // 10^10 ticks in 1 ns: 10^19 Hz.
        assert_eq!(TickRate::from_calibration(10_000_000_000, 1), None);
        assert_eq!(TickRate::from_calibration(u64::MAX, 1), None);
        assert_eq!(TickRate::from_calibration(1, u64::MAX), None);
        // The bounds themselves are accepted.
        assert!(TickRate::from_calibration(1_000, NANOS_PER_SEC).is_some());
        assert!(TickRate::from_calibration(100_000_000_000, NANOS_PER_SEC).is_some());
        assert!(TickRate::from_calibration(999, NANOS_PER_SEC).is_none());
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(is_leap_year(0));
        assert!(is_leap_year(-4));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2023));
        assert!(!is_leap_year(-100));
        assert_eq!(days_in_month(2024, 2), Some(29));
        assert_eq!(days_in_month(2023, 2), Some(28));
        assert_eq!(days_in_month(2023, 4), Some(30));
        assert_eq!(days_in_month(2023, 12), Some(31));
        assert_eq!(days_in_month(2023, 0), None);
        assert_eq!(days_in_month(2023, 13), None);
    }

    fn dt(year: i64, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> CivilDateTime {
        CivilDateTime { year, month, day, hour, minute, second }
    }

    #[test]
    fn known_timestamps() {
        // Checked with `date -u -d @N`.
        let known = [
            (dt(1970, 1, 1, 0, 0, 0), 0),
            (dt(1969, 12, 31, 23, 59, 59), -1),
            (dt(2000, 3, 1, 0, 0, 0), 951_868_800),
            (dt(2020, 2, 29, 0, 0, 0), 1_582_934_400),
            (dt(2024, 2, 29, 0, 0, 0), 1_709_164_800),
            (dt(2026, 11, 24, 12, 0, 0), 1_795_521_600),
            (dt(2100, 3, 1, 0, 0, 0), 4_107_542_400),
            (dt(1900, 1, 1, 0, 0, 0), -2_208_988_800),
            (dt(1, 1, 1, 0, 0, 0), -62_135_596_800),
            (dt(9999, 12, 31, 23, 59, 59), 253_402_300_799),
        ];
        for (civil, unix) in known {
            assert_eq!(civil.to_unix_seconds(), Some(unix), "{civil}");
            assert_eq!(CivilDateTime::from_unix_seconds(unix), civil, "{unix}");
        }
        // 2100 is not a leap year: 28 February is followed by 1 March.
        assert_eq!(dt(2100, 2, 28, 23, 59, 59).to_unix_seconds(), Some(4_107_542_399));
    }

    #[test]
    fn invalid_fields_are_rejected() {
        assert_eq!(dt(2023, 2, 29, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2100, 2, 29, 0, 0, 0).to_unix_seconds(), None);
        assert!(dt(2000, 2, 29, 0, 0, 0).to_unix_seconds().is_some());
        assert_eq!(dt(2024, 4, 31, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 0, 1, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 13, 1, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 1, 0, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 1, 1, 24, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 1, 1, 0, 60, 0).to_unix_seconds(), None);
        assert_eq!(dt(2024, 1, 1, 0, 0, 60).to_unix_seconds(), None);
        assert_eq!(CivilDateTime::new(2024, 2, 30, 0, 0, 0), None);
        assert_eq!(CivilDateTime::new(2024, 2, 29, 23, 59, 59), Some(dt(2024, 2, 29, 23, 59, 59)));
        // Years too far away for i64 seconds.
        assert_eq!(dt(i64::MAX, 1, 1, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(i64::MIN, 3, 1, 0, 0, 0).to_unix_seconds(), None);
        assert_eq!(dt(i64::MIN, 1, 1, 0, 0, 0).to_unix_seconds(), None);
    }

    #[test]
    fn round_trip_every_day_over_centuries() {
        // Every day from 1600 to 2400 (both 400-year boundaries, 1700/1800/1900
        // and 2100/2200/2300 non-leap centuries), at a time that varies.
        let start = dt(1600, 1, 1, 0, 0, 0).to_unix_seconds().unwrap();
        let end = dt(2400, 12, 31, 0, 0, 0).to_unix_seconds().unwrap();
        let mut previous: Option<CivilDateTime> = None;
        let mut secs = start;
        let mut i = 0i64;
        while secs <= end {
            let t = secs + (i * 7_919) % SECS_PER_DAY;
            let civil = CivilDateTime::from_unix_seconds(t);
            assert!(civil.is_valid(), "{civil}");
            assert_eq!(civil.to_unix_seconds(), Some(t));
            if let Some(p) = previous {
                assert!(civil > p);
                // Consecutive days: same month and next day, or day 1 of the next month.
                let next_day = (p.year, p.month, p.day + 1);
                let next_month = if p.month == 12 { (p.year + 1, 1, 1) } else { (p.year, p.month + 1, 1) };
                let got = (civil.year, civil.month, civil.day);
                assert!(got == next_day || got == next_month, "{p} -> {civil}");
                if got == next_month {
                    assert_eq!(Some(p.day), days_in_month(p.year, p.month));
                }
            }
            previous = Some(civil);
            secs += SECS_PER_DAY;
            i += 1;
        }
        // 800 years of 365.2425 days, plus the 366 days of 2400.
        assert_eq!(i, 292_194 + 366);
    }

    #[test]
    fn extreme_seconds_never_panic() {
        for secs in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX] {
            let civil = CivilDateTime::from_unix_seconds(secs);
            assert!(civil.is_valid(), "{secs}: {civil:?}");
            // Far years still round-trip whenever the seconds fit.
            if let Some(back) = civil.to_unix_seconds() {
                assert_eq!(back, secs);
            }
        }
        let far = CivilDateTime::from_unix_seconds(i64::MAX);
        assert_eq!(far.to_unix_seconds(), Some(i64::MAX));
        assert_eq!(CivilDateTime::from_unix_seconds(i64::MIN).to_unix_seconds(), Some(i64::MIN));
    }

    #[test]
    fn wall_clock_advances_with_the_monotonic_clock() {
        let boot = Instant::from_millis(1_500);
        let reading = dt(2026, 11, 24, 12, 0, 0);
        let wall = WallClock::from_civil(&reading, boot).unwrap();
        assert_eq!(wall.boot_unix(), 1_795_521_600);
        assert_eq!(wall.boot_instant(), boot);
        assert_eq!(wall.now_unix(boot), 1_795_521_600);
        assert_eq!(wall.now_unix(Instant::from_millis(2_499)), 1_795_521_600);
        assert_eq!(wall.now_unix(Instant::from_millis(2_500)), 1_795_521_601);
        // Before the boot reading: rounds towards the past.
        assert_eq!(wall.now_unix(Instant::from_millis(1_499)), 1_795_521_599);
        let hour_later = boot.checked_add(Duration::from_secs(3_600 + 61)).unwrap();
        assert_eq!(wall.now_civil(hour_later), dt(2026, 11, 24, 13, 1, 1));
        assert_eq!(wall.now_civil(hour_later).to_string(), "2026-11-24 13:01:01");
        assert_eq!(wall.since_unix_epoch(Instant::from_millis(1_750)), Some(Duration::new(1_795_521_600, 250_000_000)));
        assert_eq!(WallClock::from_civil(&dt(2026, 2, 30, 0, 0, 0), boot), None);
        let before_epoch = WallClock::new(-10, Instant::ZERO);
        assert_eq!(before_epoch.since_unix_epoch(Instant::ZERO), None);
        assert_eq!(WallClock::new(i64::MAX, Instant::ZERO).now_unix(Instant::from_nanos(u64::MAX)), i64::MAX);
        assert_eq!(WallClock::new(i64::MIN, Instant::from_nanos(u64::MAX)).now_unix(Instant::ZERO), i64::MIN);
    }
}
