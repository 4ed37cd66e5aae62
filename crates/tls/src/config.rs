//! The rustls client configuration moteOS uses for every connection.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;

use rustls::ClientConfig;

use crate::{TlsError, TrustStore, WallClock, WallClockTime};

/// Builds the client configuration: TLS 1.3 and 1.2, the pure-Rust crypto provider, the given
/// roots, certificate validity judged by `clock`, ALPN `http/1.1`, no client certificate.
///
/// Build it once and share the `Arc` between connections (rustls keeps its session-resumption
/// cache inside it). Rebuild it when the trust store changes.
pub fn client_config(
    trust: &TrustStore,
    clock: Arc<dyn WallClock + Send + Sync>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut provider = rustls_rustcrypto::provider();
    provider.signature_verification_algorithms = crate::verify::algorithms(provider.signature_verification_algorithms);
    let provider = Arc::new(provider);
    let time = Arc::new(WallClockTime::new(clock));
    let mut config = ClientConfig::builder_with_details(provider, time)
        // TLS 1.0/1.1 are not offered: rustls does not implement them, and they are broken.
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config { reason: e.to_string() })?
        .with_root_certificates(trust.root_cert_store().clone())
        .with_no_client_auth();
    // The HTTP client speaks HTTP/1.1 only; saying so keeps HTTP/2-preferring servers from
    // guessing.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
