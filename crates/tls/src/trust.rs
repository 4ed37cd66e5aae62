//! The set of certificate authorities a server's chain must lead to.

use alloc::string::ToString;
use alloc::vec::Vec;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::TlsError;

/// Trusted root certificates: Mozilla's root program plus any CAs the user added.
///
/// Built once at boot (and again if the settings change) and handed to [`crate::client_config`].
#[derive(Debug, Clone)]
pub struct TrustStore {
    roots: RootCertStore,
}

impl TrustStore {
    /// A store holding the roots compiled in from `webpki-roots` (Mozilla's CA list).
    pub fn with_webpki_roots() -> Self {
        Self { roots: RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() } }
    }

    /// A store with no roots at all, for users who trust only their own CAs (and for tests).
    pub fn empty() -> Self {
        Self { roots: RootCertStore::empty() }
    }

    /// Adds every certificate in a PEM bundle (the `[tls] extra_ca_file`) as a trust anchor.
    ///
    /// Returns how many were added. All or nothing: a bundle with a broken section, a
    /// certificate that cannot serve as an anchor, or no certificate at all is an error and
    /// leaves the store as it was, so the caller can log the error and carry on with the
    /// built-in roots. Sections of other kinds (private keys, CRLs) are skipped.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, TlsError> {
        let mut ders = Vec::new();
        for item in CertificateDer::pem_slice_iter(pem) {
            let der = item.map_err(|e| TlsError::PemInvalid { reason: e.to_string() })?;
            ders.push(der);
        }
        if ders.is_empty() {
            return Err(TlsError::PemEmpty);
        }

        // Parse into a scratch store first so a bad certificate in the middle cannot leave
        // half a bundle behind.
        let mut scratch = RootCertStore::empty();
        for (index, der) in ders.into_iter().enumerate() {
            scratch
                .add(der)
                .map_err(|e| TlsError::CaCertificateInvalid { number: index + 1, reason: e.to_string() })?;
        }
        let added = scratch.roots.len();
        self.roots.roots.extend(scratch.roots);
        Ok(added)
    }

    /// Number of trust anchors in the store.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// True when the store holds no trust anchor (every handshake would fail).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The rustls form of the store, for building a client configuration.
    pub(crate) fn root_cert_store(&self) -> &RootCertStore {
        &self.roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roots_are_present() {
        let store = TrustStore::with_webpki_roots();
        assert!(store.len() > 100, "only {} roots", store.len());
        assert!(TrustStore::empty().is_empty());
    }

    #[test]
    fn empty_and_corrupt_pem_are_errors_and_change_nothing() {
        let mut store = TrustStore::with_webpki_roots();
        let before = store.len();
        assert_eq!(store.add_pem(b""), Err(TlsError::PemEmpty));
        assert_eq!(store.add_pem(b"just some text\n"), Err(TlsError::PemEmpty));
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(store.add_pem(broken), Err(TlsError::PemInvalid { .. })));
        let unterminated = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(matches!(store.add_pem(unterminated), Err(TlsError::PemInvalid { .. })));
        // Valid base64, but not a certificate.
        let not_a_cert = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        assert!(matches!(store.add_pem(not_a_cert), Err(TlsError::CaCertificateInvalid { number: 1, .. })));
        assert_eq!(store.len(), before);
    }
}
