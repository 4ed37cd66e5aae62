//! What the boot found doubtful about randomness and time (see `hal::trust`): logged once,
//! kept for the screen, and the build date as the wall clock's lower bound for certificates.

use crate::boot_info::{BootInfo, EntropySource};
use crate::time;
use alloc::string::String;
use alloc::vec::Vec;
use hal::trust::TrustWarning;
use log::{info, warn};

/// When this moteOS was built, in seconds since 1970: the time of the source's last commit,
/// set by `cargo xtask build` as `MOTEOS_BUILD_UNIX`; 2026-11-01 for builds made without it.
pub const BUILD_UNIX: i64 = hal::trust::parse_build_unix(option_env!("MOTEOS_BUILD_UNIX"), 1_793_491_200);

static WARNINGS: spin::Once<Vec<TrustWarning>> = spin::Once::new();

/// Checks the boot entropy and the firmware clock (after `time::init_wall_clock`), logs what
/// is doubtful, and remembers it for [`warnings`].
pub fn check_boot(info: &BootInfo) {
    let clock = time::unix_now();
    let zone_known = info.boot_time.as_ref().is_some_and(|t| t.utc_offset_minutes.is_some());
    let mut found = Vec::new();
    if info.entropy.source == EntropySource::TimingOnly {
        found.push(TrustWarning::WeakEntropy);
    }
    found.extend(hal::trust::clock_warnings(clock, zone_known, BUILD_UNIX));
    for warning in &found {
        warn!("trust: {warning}");
    }
    if found.is_empty() {
        info!("trust: hardware entropy, and the firmware clock is after this build");
    }
    WARNINGS.call_once(|| found);
}

/// What [`check_boot`] found (empty before it ran).
pub fn warnings() -> &'static [TrustWarning] {
    WARNINGS.get().map_or(&[], Vec::as_slice)
}

/// The warnings worth a line on screen, joined; `None` when there are none. A firmware clock
/// without a time zone is only logged: most PCs report none, and the error is at most hours.
pub fn screen_notice() -> Option<String> {
    let shown: Vec<String> =
        warnings().iter().filter(|w| **w != TrustWarning::NoTimeZone).map(|w| alloc::format!("{w}")).collect();
    (!shown.is_empty()).then(|| shown.join("; "))
}

/// The wall-clock time certificates are checked at: never before the build.
pub fn certificate_time() -> Option<u64> {
    hal::trust::at_least_build_time(time::unix_now(), BUILD_UNIX).and_then(|s| u64::try_from(s).ok())
}

/// 64-bit seed material from the CSPRNG's output (never the raw boot seed, which also keys
/// the CSPRNG): for generators whose output is visible on the network (TCP sequence numbers,
/// ports, DNS ids) or elsewhere.
pub fn csprng_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // Fails only before `install_global`, which runs early in `start`; zero then is no
    // worse than the fixed value a missing seed would give anyway.
    let _ = tls::csprng::fill_global(&mut bytes);
    u64::from_le_bytes(bytes)
}
