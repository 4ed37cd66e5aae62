//! Wall-clock time for certificate validity checks.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;

/// The kernel's real-time clock, as far as certificate checks are concerned.
///
/// Implemented by the kernel (UEFI `GetTime`, a CMOS/PL031 RTC, or NTP later) and by tests.
pub trait WallClock {
    /// Seconds since 1970-01-01T00:00:00Z, or `None` when the time is not known.
    ///
    /// Returning `None` makes every handshake fail with [`crate::TlsError::ClockNotSet`]:
    /// guessing a time would either reject good certificates or accept expired ones.
    fn unix_seconds(&self) -> Option<u64>;
}

/// Adapter that lets rustls ask a [`WallClock`] for the time.
///
/// rustls turns a `None` from here into `Error::FailedToGetCurrentTime`, which this crate reports
/// as [`crate::TlsError::ClockNotSet`].
#[derive(Clone)]
pub struct WallClockTime {
    clock: Arc<dyn WallClock + Send + Sync>,
}

impl WallClockTime {
    /// Wraps a kernel clock.
    pub fn new(clock: Arc<dyn WallClock + Send + Sync>) -> Self {
        Self { clock }
    }
}

impl fmt::Debug for WallClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WallClockTime").field("unix_seconds", &self.clock.unix_seconds()).finish()
    }
}

impl TimeProvider for WallClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        self.clock.unix_seconds().map(|secs| UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }
}

/// Formats seconds since the Unix epoch as a calendar date, `YYYY-MM-DD` (UTC).
///
/// Error messages show certificate dates this way; a day is precise enough for a person
/// deciding whether the certificate or the clock is wrong.
pub fn format_date(unix_seconds: u64) -> String {
    let (year, month, day) = civil_from_days(unix_seconds / 86_400);
    alloc::format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
///
/// Works in 400-year eras (146 097 days each) with years starting on 1 March, so the leap day
/// falls at the end of the year and the month lengths follow a simple linear formula.
fn civil_from_days(days_since_epoch: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, the start of an era.
    let z = days_since_epoch + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_timestamps() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(951_782_400), "2000-02-29");
        assert_eq!(format_date(951_868_800), "2000-03-01");
        assert_eq!(format_date(1_714_521_600), "2024-05-01");
        assert_eq!(format_date(1_735_689_599), "2024-12-31");
        assert_eq!(format_date(4_102_444_800), "2100-01-01");
    }

    #[test]
    fn unknown_time_stays_unknown() {
        struct Unset;
        impl WallClock for Unset {
            fn unix_seconds(&self) -> Option<u64> {
                None
            }
        }
        assert!(WallClockTime::new(Arc::new(Unset)).current_time().is_none());
    }
}
