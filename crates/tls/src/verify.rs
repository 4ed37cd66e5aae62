//! The signature algorithms certificates and handshakes are checked with: those of
//! `rustls-rustcrypto`, with RSA keys shorter than 2048 bits refused.
//!
//! The provider's RSA verifiers accept any modulus size the `rsa` crate parses (the rejection
//! matrix in `tests/rejection_matrix.rs` caught a chain signed by an RSA-1024 root being
//! accepted), whereas the WebPKI requires at least 2048 bits. Each RSA verifier is wrapped in
//! a size check; the others are used as they are.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rustls::SignatureScheme;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id};

/// The smallest RSA modulus accepted, as the CA/Browser Forum requires.
pub const MIN_RSA_BITS: usize = 2048;

/// An RSA verifier that first refuses keys below [`MIN_RSA_BITS`].
struct StrongRsaOnly(&'static dyn SignatureVerificationAlgorithm);

impl fmt::Debug for StrongRsaOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StrongRsaOnly").field(&self.0).finish()
    }
}

impl SignatureVerificationAlgorithm for StrongRsaOnly {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let key = RsaPublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
        if key.n().bits() < MIN_RSA_BITS {
            return Err(InvalidSignature);
        }
        self.0.verify_signature(public_key, message, signature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.0.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.0.signature_alg_id()
    }

    fn fips(&self) -> bool {
        false
    }
}

static ALGORITHMS: spin::Once<WebPkiSupportedAlgorithms> = spin::Once::new();

/// The provider's algorithms with every RSA verifier wrapped (built once; the tables must be
/// `'static`, so they live for the rest of the run).
pub(crate) fn algorithms(base: WebPkiSupportedAlgorithms) -> WebPkiSupportedAlgorithms {
    *ALGORITHMS.call_once(|| {
        let wrap = |alg: &'static dyn SignatureVerificationAlgorithm| -> &'static dyn SignatureVerificationAlgorithm {
            if alg.public_key_alg_id() == alg_id::RSA_ENCRYPTION { Box::leak(Box::new(StrongRsaOnly(alg))) } else { alg }
        };
        let wrap_all = |algs: &[&'static dyn SignatureVerificationAlgorithm]| -> &'static [&'static dyn SignatureVerificationAlgorithm] {
            Box::leak(algs.iter().map(|a| wrap(*a)).collect::<Vec<_>>().into_boxed_slice())
        };
        let mapping: Vec<(SignatureScheme, &'static [&'static dyn SignatureVerificationAlgorithm])> =
            base.mapping.iter().map(|(scheme, algs)| (*scheme, wrap_all(algs))).collect();
        WebPkiSupportedAlgorithms { all: wrap_all(base.all), mapping: Box::leak(mapping.into_boxed_slice()) }
    })
}
