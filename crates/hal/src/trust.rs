//! What the boot found doubtful about the two things security rests on, randomness and time,
//! as sentences for the log and the screen; and the build date as the earliest time the wall
//! clock may claim when certificates are checked.
//!
//! A firmware clock that lost its battery reads 1970 or 2000: certificates then look "not yet
//! valid" (refused, harmless) but, worse, a clock set back on purpose makes expired or revoked
//! certificates look valid. No certificate moteOS meets can have expired before moteOS was
//! built, so a clock before the build date is corrected to it.

use core::fmt;

use crate::clock::CivilDateTime;

/// Something about entropy or time the user should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustWarning {
    /// No hardware random source: the CSPRNG was seeded from timing jitter only.
    WeakEntropy,
    /// The firmware reported no usable time: certificate dates cannot be checked.
    NoClock,
    /// The firmware clock is before this build: it was corrected to the build date.
    ClockBeforeBuild {
        /// What the firmware said, seconds since 1970 (UTC).
        clock_unix: i64,
        /// When moteOS was built.
        build_unix: i64,
    },
    /// The firmware clock does not say which time zone it keeps; it is taken as UTC.
    NoTimeZone,
}

impl fmt::Display for TrustWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = |unix: i64| CivilDateTime::from_unix_seconds(unix);
        match *self {
            Self::WeakEntropy => f.write_str(
                "no hardware random number source: encryption keys come from timing jitter only, which \
                 is weak; use a machine (or VM) with RDRAND or an EFI RNG",
            ),
            Self::NoClock => f.write_str(
                "the firmware did not report the time: certificate dates cannot be checked, so https \
                 connections will be refused; set the clock in the firmware setup",
            ),
            Self::ClockBeforeBuild { clock_unix, build_unix } => {
                f.write_str("the firmware clock says ")?;
                write_date(f, date(clock_unix))?;
                f.write_str(", before this version of moteOS was built (")?;
                write_date(f, date(build_unix))?;
                f.write_str("); certificates are checked as of the build date; set the clock in the firmware setup")
            }
            Self::NoTimeZone => f.write_str(
                "the firmware clock does not say which time zone it keeps; it is taken as UTC, so the time \
                 may be off by some hours",
            ),
        }
    }
}

fn write_date(f: &mut fmt::Formatter<'_>, d: CivilDateTime) -> fmt::Result {
    write!(f, "{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// The warnings about the wall clock: `clock_unix` as the firmware gave it (`None` when it gave
/// nothing usable), whether it named its time zone, and the build's time.
pub fn clock_warnings(
    clock_unix: Option<i64>,
    time_zone_known: bool,
    build_unix: i64,
) -> impl Iterator<Item = TrustWarning> {
    let warnings = match clock_unix {
        None => [Some(TrustWarning::NoClock), None],
        Some(clock_unix) => [
            (clock_unix < build_unix).then_some(TrustWarning::ClockBeforeBuild { clock_unix, build_unix }),
            (!time_zone_known).then_some(TrustWarning::NoTimeZone),
        ],
    };
    warnings.into_iter().flatten()
}

/// The time certificates are checked at: the clock, but never earlier than the build.
pub fn at_least_build_time(clock_unix: Option<i64>, build_unix: i64) -> Option<i64> {
    clock_unix.map(|t| t.max(build_unix))
}

/// Parses the decimal build time baked in at compile time (`MOTEOS_BUILD_UNIX`), falling
/// back to `fallback` when it is absent or not a plain number. Usable in constants.
pub const fn parse_build_unix(text: Option<&str>, fallback: i64) -> i64 {
    let Some(text) = text else { return fallback };
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 15 {
        return fallback;
    }
    let mut value: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        if !digit.is_ascii_digit() {
            return fallback;
        }
        value = value * 10 + (digit - b'0') as i64;
        i += 1;
    }
    value
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn warnings(clock: Option<i64>, zone: bool) -> Vec<TrustWarning> {
        clock_warnings(clock, zone, BUILD).collect()
    }

    /// 2026-11-20T00:00:00Z.
    const BUILD: i64 = 1_795_132_800;

    #[test]
    fn a_clock_before_the_build_is_reported_and_corrected() {
        let w = warnings(Some(0), true);
        assert_eq!(w, [TrustWarning::ClockBeforeBuild { clock_unix: 0, build_unix: BUILD }]);
        assert_eq!(
            w[0].to_string(),
            "the firmware clock says 1970-01-01, before this version of moteOS was built (2026-11-20); \
             certificates are checked as of the build date; set the clock in the firmware setup"
        );
        assert_eq!(at_least_build_time(Some(0), BUILD), Some(BUILD));
        assert_eq!(at_least_build_time(Some(BUILD + 5), BUILD), Some(BUILD + 5));
        assert_eq!(at_least_build_time(None, BUILD), None);
    }

    #[test]
    fn good_clocks_missing_clocks_and_missing_time_zones() {
        assert!(warnings(Some(BUILD + 86_400), true).is_empty());
        assert_eq!(warnings(None, false), [TrustWarning::NoClock]);
        let w = warnings(Some(BUILD + 1), false);
        assert_eq!(w, [TrustWarning::NoTimeZone]);
        assert!(w[0].to_string().contains("taken as UTC"));
        assert!(TrustWarning::WeakEntropy.to_string().contains("timing jitter only"));
    }

    #[test]
    fn build_times_parse_at_compile_time() {
        const PARSED: i64 = parse_build_unix(Some("1795132800"), 7);
        assert_eq!(PARSED, BUILD);
        for bad in [None, Some(""), Some("12x"), Some("-5"), Some("9999999999999999")] {
            assert_eq!(parse_build_unix(bad, 7), 7, "{bad:?}");
        }
    }
}
