//! TLS for the kernel: the trust store (built-in roots plus the optional
//! `[tls] extra_ca_file`), the wall clock for certificate dates, and the
//! randomness hook rustls' crypto provider draws from.

use crate::boot_info::FileLoad;
use alloc::string::String;
use alloc::sync::Arc;
use log::{error, info, warn};
use tls::rustls::ClientConfig;

/// Certificate validity is checked against the firmware-anchored wall clock, never earlier
/// than the build date (a clock set back must not revive expired certificates).
struct KernelClock;

impl tls::WallClock for KernelClock {
    fn unix_seconds(&self) -> Option<u64> {
        crate::trust::certificate_time()
    }
}

fn kernel_getrandom(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    tls::csprng::fill_global(buf)
}

getrandom::register_custom_getrandom!(kernel_getrandom);

/// Builds the client configuration; problems with the extra CA file are
/// reported and ignored (the built-in roots still apply).
pub fn client_config(extra_ca_file: &Option<(String, FileLoad)>) -> Option<Arc<ClientConfig>> {
    let mut trust = tls::TrustStore::with_webpki_roots();
    let built_in = trust.len();
    match extra_ca_file {
        Some((path, FileLoad::Loaded(pem))) => match trust.add_pem(pem) {
            Ok(n) => info!("tls: {path}: {n} extra CA certificate(s) trusted"),
            Err(e) => warn!("tls: {path}: {e}; ignored, the built-in roots still apply"),
        },
        Some((path, FileLoad::Missing)) => warn!("tls: {path} does not exist; ignored"),
        Some((path, FileLoad::Unreadable(why))) => warn!("tls: {path} could not be read ({why}); ignored"),
        None => {}
    }
    match tls::client_config(&trust, Arc::new(KernelClock)) {
        Ok(config) => {
            info!("tls: {} trusted roots ({built_in} built in)", trust.len());
            Some(config)
        }
        Err(e) => {
            error!("tls: {e}; https is unavailable");
            None
        }
    }
}
