//! Arbitrary bytes as the `[tls] extra_ca_file` PEM bundle: reading it must not panic, a
//! failure must leave the built-in roots in place, and success must add what it says.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tls::TrustStore;

fuzz_target!(|data: &[u8]| {
    let mut trust = TrustStore::with_webpki_roots();
    let before = trust.len();
    match trust.add_pem(data) {
        Ok(added) => assert!(trust.len() <= before + added),
        Err(error) => {
            assert_eq!(trust.len(), before, "a failed bundle changed the roots");
            let _ = error.to_string();
        }
    }
});
