//! The certificate checks of moteOS's client (rustls with the `rustls-rustcrypto` provider)
//! against a rustls server using an independent crypto provider (*ring*), with certificates
//! made by rcgen: everything a browser would refuse is refused, for the reason it should be.
//!
//! `cargo test -p tls --test rejection_matrix -- --nocapture` prints the matrix.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{FixedClock, pump};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, PublicKeyData, SanType, SignatureAlgorithm, SigningKey, date_time_ymd,
};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::{RsaPrivateKey, RsaPublicKey};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};
use sha2::Digest;
use tls::{TlsError, TlsSession, TrustStore, WallClock, client_config};

const HOST: &str = "api.example.com";
/// 2100-01-01.
const YEAR_2100: u64 = 4_102_444_800;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn dn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn leaf_params(sans: Vec<SanType>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("leaf");
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> SanType {
    SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

/// An RSA key from the `rsa` crate, so rcgen can sign with sizes and hashes *ring* refuses.
struct RsaKey {
    private: RsaPrivateKey,
    public_der: Vec<u8>,
}

impl RsaKey {
    fn generate(bits: usize, seed: u64) -> Self {
        let private = RsaPrivateKey::new(&mut ChaCha20Rng::seed_from_u64(seed), bits).unwrap();
        let public_der = RsaPublicKey::from(&private).to_pkcs1_der().unwrap().as_bytes().to_vec();
        Self { private, public_der }
    }

    fn sign_sha1(&self, msg: &[u8]) -> Vec<u8> {
        let digest = sha1::Sha1::digest(msg);
        self.private.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &digest).unwrap()
    }
}

impl PublicKeyData for RsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_der
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

impl SigningKey for RsaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let digest = sha2::Sha256::digest(msg);
        Ok(self.private.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest).unwrap())
    }
}

/// Turns a certificate signed with sha256WithRSAEncryption into the same certificate signed
/// with sha1WithRSAEncryption by `key` (the two OIDs differ only in their last byte, and the
/// signature keeps its length, so the DER layout does not move).
fn resign_with_sha1(der: &[u8], key: &RsaKey) -> Vec<u8> {
    const SHA256_RSA: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    let mut out = der.to_vec();
    let mut patched = 0;
    for i in 0..out.len() - SHA256_RSA.len() {
        if out[i..i + SHA256_RSA.len()] == SHA256_RSA {
            out[i + SHA256_RSA.len() - 1] = 0x05;
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "the signature algorithm appears in the TBS and after it");
    // Certificate ::= SEQUENCE { tbs SEQUENCE, algorithm, signature BIT STRING }.
    let header = |at: usize| -> (usize, usize) {
        match out[at + 1] {
            n if n < 0x80 => (2, usize::from(n)),
            0x81 => (3, usize::from(out[at + 2])),
            0x82 => (4, usize::from(out[at + 2]) << 8 | usize::from(out[at + 3])),
            n => panic!("unexpected length form {n:#x}"),
        }
    };
    let (outer, _) = header(0);
    let (tbs_header, tbs_len) = header(outer);
    let tbs = &out[outer..outer + tbs_header + tbs_len];
    let signature = key.sign_sha1(tbs);
    let at = out.len() - signature.len();
    out[at..].copy_from_slice(&signature);
    out
}

/// A server certificate chain (leaf first) and the leaf's key.
struct Chain {
    certs: Vec<CertificateDer<'static>>,
    key: KeyPair,
}

/// A root CA (ECDSA P-256) the client trusts.
struct Root {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Root {
    fn new() -> Self {
        let params = ca_params("moteOS matrix root");
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self { params, key, pem }
    }

    /// A leaf signed directly by the root.
    fn leaf(&self, params: CertificateParams) -> Chain {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &Issuer::from_params(&self.params, &self.key)).unwrap();
        Chain { certs: vec![cert.der().clone()], key }
    }

    /// root → intermediate (as `tweak` makes it) → leaf for HOST; the server sends
    /// leaf and intermediate unless `send_intermediate` is false.
    fn via_intermediate(&self, tweak: impl FnOnce(&mut CertificateParams), send_intermediate: bool) -> Chain {
        let mut params = ca_params("moteOS matrix intermediate");
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let intermediate = params.signed_by(&key, &Issuer::from_params(&self.params, &self.key)).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params(vec![dns(HOST)]).signed_by(&leaf_key, &Issuer::from_params(&params, &key)).unwrap();
        let mut certs = vec![leaf.der().clone()];
        if send_intermediate {
            certs.push(intermediate.der().clone());
        }
        Chain { certs, key: leaf_key }
    }
}

/// A trusted root with an RSA key of `bits`, its PEM, and a leaf for HOST it signed
/// (SHA-256, or SHA-1 when `sha1`).
fn rsa_rooted_leaf(bits: usize, sha1: bool) -> (String, Chain) {
    let root_key = RsaKey::generate(bits, bits as u64);
    let root_params = ca_params("moteOS RSA root");
    let pem = root_params.self_signed(&root_key).unwrap().pem();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf =
        leaf_params(vec![dns(HOST)]).signed_by(&leaf_key, &Issuer::from_params(&root_params, &root_key)).unwrap();
    let der = if sha1 { resign_with_sha1(leaf.der(), &root_key) } else { leaf.der().to_vec() };
    (pem, Chain { certs: vec![CertificateDer::from(der)], key: leaf_key })
}

/// A rustls server backed by *ring*, not by the client's provider.
fn ring_server(chain: &Chain) -> ServerConnection {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain.certs.clone(), key)
        .unwrap();
    ServerConnection::new(Arc::new(config)).unwrap()
}

/// The handshake's outcome for the client, trusting the PEM root, at `clock`, naming `host`.
fn connect(
    root_pem: &str,
    chain: &Chain,
    host: &str,
    clock: impl WallClock + Send + Sync + 'static,
) -> Result<(), TlsError> {
    let mut trust = TrustStore::with_webpki_roots();
    assert_eq!(trust.add_pem(root_pem.as_bytes()), Ok(1));
    let mut client = TlsSession::new(client_config(&trust, Arc::new(clock)).unwrap(), host).unwrap();
    let mut server = ring_server(chain);
    client.write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let (result, _) = pump(&mut client, &mut server);
    result?;
    assert!(!client.is_handshaking(), "the handshake did not finish");
    Ok(())
}

fn clock(unix: u64) -> FixedClock {
    FixedClock(Some(unix))
}

fn report(case: &str, outcome: &Result<(), TlsError>) {
    match outcome {
        Ok(()) => println!("matrix: {case:<48} accepted"),
        Err(e) => println!("matrix: {case:<48} refused: {e}"),
    }
}

#[test]
fn interoperates_with_an_independent_provider() {
    let root = Root::new();
    for (case, chain) in [
        ("DNS name, leaf signed by the root", root.leaf(leaf_params(vec![dns(HOST)]))),
        ("DNS name, through a valid intermediate", root.via_intermediate(|_| {}, true)),
    ] {
        let outcome = connect(&root.pem, &chain, HOST, clock(now()));
        report(case, &outcome);
        assert_eq!(outcome, Ok(()), "{case}");
    }
    let (pem, chain) = rsa_rooted_leaf(2048, false);
    let outcome = connect(&pem, &chain, HOST, clock(now()));
    report("RSA-2048 root, SHA-256 signature", &outcome);
    assert_eq!(outcome, Ok(()));
}

#[test]
fn ip_address_hosts_need_ip_sans() {
    let root = Root::new();
    let outcome = connect(&root.pem, &root.leaf(leaf_params(vec![ip(10, 0, 2, 2)])), "10.0.2.2", clock(now()));
    report("IP host 10.0.2.2, IP SAN 10.0.2.2", &outcome);
    assert_eq!(outcome, Ok(()));
    for (case, sans, host) in [
        ("IP host 10.0.2.2, IP SAN 10.0.2.3", vec![ip(10, 0, 2, 3)], "10.0.2.2"),
        ("IP host 10.0.2.2, DNS SAN \"10.0.2.2\" only", vec![dns("10.0.2.2")], "10.0.2.2"),
        ("DNS host, IP SAN only", vec![ip(10, 0, 2, 2)], HOST),
    ] {
        let outcome = connect(&root.pem, &root.leaf(leaf_params(sans)), host, clock(now()));
        report(case, &outcome);
        assert!(matches!(outcome, Err(TlsError::WrongHost { .. })), "{case}: {outcome:?}");
        if case.contains("DNS SAN") {
            assert!(outcome.unwrap_err().to_string().contains("wrong kind of entry"));
        }
    }
}

#[test]
fn san_mismatch_is_refused() {
    let root = Root::new();
    for (case, sans) in [
        ("SAN other.example.com", vec![dns("other.example.com")]),
        ("SAN *.example.com for a.b.example.com", vec![dns("*.example.com")]),
        ("SAN api.example.com.evil.test", vec![dns("api.example.com.evil.test")]),
    ] {
        let host = if case.contains("a.b.") { "a.b.example.com" } else { HOST };
        let outcome = connect(&root.pem, &root.leaf(leaf_params(sans)), host, clock(now()));
        report(case, &outcome);
        assert!(matches!(outcome, Err(TlsError::WrongHost { .. })), "{case}: {outcome:?}");
    }
}

#[test]
fn broken_chains_are_refused() {
    let root = Root::new();
    let cases: [(&str, Chain); 3] = [
        ("intermediate with CA:false", root.via_intermediate(|p| p.is_ca = IsCa::ExplicitNoCa, true)),
        (
            "expired intermediate (2020)",
            root.via_intermediate(
                |p| {
                    p.not_before = date_time_ymd(2019, 1, 1);
                    p.not_after = date_time_ymd(2020, 1, 1);
                },
                true,
            ),
        ),
        ("incomplete chain (intermediate not sent)", root.via_intermediate(|_| {}, false)),
    ];
    for (case, chain) in cases {
        let outcome = connect(&root.pem, &chain, HOST, clock(now()));
        report(case, &outcome);
        match case {
            c if c.starts_with("expired") => {
                assert!(matches!(outcome, Err(TlsError::CertificateExpired { .. })), "{case}: {outcome:?}")
            }
            c if c.starts_with("incomplete") => {
                assert!(matches!(outcome, Err(TlsError::UnknownIssuer { .. })), "{case}: {outcome:?}")
            }
            _ => assert!(
                matches!(&outcome, Err(TlsError::BadCertificate { reason, .. }) if reason.contains("CA:false")),
                "{case}: {outcome:?}"
            ),
        }
    }
}

#[test]
fn wrong_extended_key_usage_is_refused() {
    let root = Root::new();
    let mut params = leaf_params(vec![dns(HOST)]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let outcome = connect(&root.pem, &root.leaf(params), HOST, clock(now()));
    report("leaf for client authentication only", &outcome);
    assert!(matches!(outcome, Err(TlsError::BadCertificate { .. })), "{outcome:?}");
}

#[test]
fn weak_signatures_and_keys_are_refused() {
    let (pem, chain) = rsa_rooted_leaf(2048, true);
    let outcome = connect(&pem, &chain, HOST, clock(now()));
    report("leaf signed with SHA-1 (RSA-2048 root)", &outcome);
    assert!(
        matches!(&outcome, Err(TlsError::BadCertificate { reason, .. }) if reason.contains("algorithm")),
        "{outcome:?}"
    );
    let (pem, chain) = rsa_rooted_leaf(1024, false);
    let outcome = connect(&pem, &chain, HOST, clock(now()));
    report("RSA-1024 root, SHA-256 signature", &outcome);
    // Accepted before the provider's RSA verifiers were wrapped in a size check.
    assert!(matches!(&outcome, Err(TlsError::BadCertificate { reason, .. }) if reason.contains("2048")), "{outcome:?}");
}

#[test]
fn clocks_in_1970_and_2100_are_refused() {
    let root = Root::new();
    let mut params = leaf_params(vec![dns(HOST)]);
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2034, 1, 1);
    let chain = root.leaf(params);
    let outcome = connect(&root.pem, &chain, HOST, clock(0));
    report("clock at 1970-01-01", &outcome);
    assert!(matches!(outcome, Err(TlsError::CertificateNotYetValid { .. })), "{outcome:?}");
    let outcome = connect(&root.pem, &chain, HOST, clock(YEAR_2100));
    report("clock at 2100-01-01", &outcome);
    assert!(matches!(outcome, Err(TlsError::CertificateExpired { .. })), "{outcome:?}");
    // The kernel never checks as of a time before its build: a 1970 clock becomes the build
    // date (here 2026-11-20), at which the certificate is valid.
    let build = 1_795_132_800;
    let floored = hal::trust::at_least_build_time(Some(0), build).map(|t| t as u64);
    let outcome = connect(&root.pem, &chain, HOST, FixedClock(floored));
    report("clock at 1970, floored at the build date", &outcome);
    assert_eq!(outcome, Ok(()));
}
