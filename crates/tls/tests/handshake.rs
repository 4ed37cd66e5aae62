//! Full handshakes between `TlsSession` and a real rustls server, bytes shuttled in memory.

use std::io::Write;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, SupportedProtocolVersion};
use tls::{TlsError, TlsSession, TlsVersion, TrustStore, client_config};

mod common;

use common::{FixedClock, pump, pump_collect};

const HOST: &str = "api.example.com";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn real_clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(Some(now())))
}

/// A private certificate authority.
struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self { params, key, pem }
    }

    fn issue(&self, names: &[&str]) -> Leaf {
        self.issue_with(names, |_| {})
    }

    fn issue_with(&self, names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let mut params = leaf_params(names);
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &Issuer::from_params(&self.params, &self.key)).unwrap();
        Leaf { chain: vec![cert.der().clone()], key }
    }
}

/// A server certificate chain and its private key.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: KeyPair,
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = dn(names.first().copied().unwrap_or("leaf"));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

fn self_signed(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(names).self_signed(&key).unwrap();
    Leaf { chain: vec![cert.der().clone()], key }
}

fn server(leaf: &Leaf, versions: &[&'static SupportedProtocolVersion]) -> ServerConnection {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der()));
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls_rustcrypto::provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut conn = ServerConnection::new(Arc::new(config)).unwrap();
    // The tests write 100 KB at once; the default 64 KiB limit would refuse part of it.
    conn.set_buffer_limit(None);
    conn
}

fn server13(leaf: &Leaf) -> ServerConnection {
    server(leaf, &[&rustls::version::TLS13, &rustls::version::TLS12])
}

fn trusting(ca: &TestCa) -> TrustStore {
    let mut trust = TrustStore::with_webpki_roots();
    assert_eq!(trust.add_pem(ca.pem.as_bytes()), Ok(1));
    trust
}

fn session(trust: &TrustStore, clock: Arc<FixedClock>, host: &str) -> TlsSession {
    TlsSession::new(client_config(trust, clock).unwrap(), host).unwrap()
}

fn handshake_error(
    trust: &TrustStore,
    clock: Arc<FixedClock>,
    host: &str,
    leaf: &Leaf,
) -> (TlsError, Option<rustls::Error>) {
    let mut client = session(trust, clock, host);
    let mut server = server13(leaf);
    let (result, server_error) = pump(&mut client, &mut server);
    let err = result.expect_err("the handshake should have failed");
    // The error is final: later calls repeat it.
    assert_eq!(client.process(), Err(err.clone()));
    assert_eq!(client.write(b"x"), Err(err.clone()));
    (err, server_error)
}

fn read_all(client: &mut TlsSession) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = client.read(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn exchange(versions: &[&'static SupportedProtocolVersion], expected: TlsVersion) {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let trust = trusting(&ca);
    let mut client = session(&trust, real_clock(), HOST);
    let mut server = server(&leaf, versions);
    assert!(client.is_handshaking());
    assert!(client.has_outgoing(), "the ClientHello is ready at once");

    // Queued before the handshake finishes; sent as soon as it may be.
    let request = b"GET /v1/models HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    assert_eq!(client.write(request), Ok(request.len()));
    let mut server_got = Vec::new();
    let (result, server_error) = pump_collect(&mut client, &mut server, &mut server_got);
    result.unwrap();
    assert!(server_error.is_none());
    assert!(!client.is_handshaking());
    let (version, suite) = client.negotiated().unwrap();
    assert_eq!(version, expected);
    assert!(suite.starts_with("TLS"), "{suite}");
    assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));

    assert_eq!(&server_got[..], request);
    server_got.clear();

    // Larger than one TLS record in both directions.
    let upload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(client.write(&upload), Ok(upload.len()));
    let response: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    server.writer().write_all(&response).unwrap();
    let (result, _) = pump_collect(&mut client, &mut server, &mut server_got);
    result.unwrap();
    assert_eq!(server_got, upload);
    assert_eq!(client.available(), response.len());
    assert_eq!(read_all(&mut client), response);

    // The server says goodbye first; the client answers.
    server.send_close_notify();
    let (result, _) = pump(&mut client, &mut server);
    result.unwrap();
    assert!(client.peer_closed());
    client.close();
    assert_eq!(client.write(b"late"), Err(TlsError::Closed));
    let (result, _) = pump(&mut client, &mut server);
    result.unwrap();
    let state = server.process_new_packets().unwrap();
    assert!(state.peer_has_closed(), "the server saw our close_notify");
}

#[test]
fn tls13_handshake_exchanges_data_and_closes() {
    exchange(&[&rustls::version::TLS13, &rustls::version::TLS12], TlsVersion::Tls13);
}

#[test]
fn tls12_only_server_works() {
    exchange(&[&rustls::version::TLS12], TlsVersion::Tls12);
}

#[test]
fn client_close_reaches_the_server() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let mut client = session(&trusting(&ca), real_clock(), HOST);
    let mut server = server13(&leaf);
    pump(&mut client, &mut server).0.unwrap();
    client.close();
    assert!(client.has_outgoing());
    pump(&mut client, &mut server).0.unwrap();
    assert!(server.process_new_packets().unwrap().peer_has_closed());
    assert!(!client.peer_closed());
}

#[test]
fn wrong_host_name_is_rejected() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&["other.example"]);
    let (err, server_error) = handshake_error(&trusting(&ca), real_clock(), HOST, &leaf);
    assert_eq!(err, TlsError::WrongHost { host: HOST.into(), presented: vec!["other.example".into()] });
    assert_eq!(err.to_string(), "TLS: the certificate is for other.example, not api.example.com");
    assert!(matches!(server_error, Some(rustls::Error::AlertReceived(_))), "{server_error:?}");
}

#[test]
fn expired_certificate_is_rejected_with_its_date() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue_with(&[HOST], |p| {
        p.not_before = date_time_ymd(2019, 1, 1);
        p.not_after = date_time_ymd(2020, 1, 1);
    });
    let (err, _) = handshake_error(&trusting(&ca), real_clock(), HOST, &leaf);
    assert!(matches!(err, TlsError::CertificateExpired { not_after: Some(_), .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("TLS: the certificate for api.example.com expired on 2020-01-01"), "{text}");
}

#[test]
fn clock_in_the_past_reports_not_yet_valid() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue_with(&[HOST], |p| p.not_before = date_time_ymd(2021, 6, 1));
    // 2001-09-09: a clock that lost its battery-backed time, say.
    let (err, _) = handshake_error(&trusting(&ca), Arc::new(FixedClock(Some(1_000_000_000))), HOST, &leaf);
    assert!(matches!(err, TlsError::CertificateNotYetValid { .. }), "{err:?}");
    assert!(err.to_string().contains("is the clock right?"), "{err}");
}

#[test]
fn self_signed_certificate_is_unknown_issuer() {
    let leaf = self_signed(&[HOST]);
    let (err, server_error) = handshake_error(&TrustStore::with_webpki_roots(), real_clock(), HOST, &leaf);
    assert_eq!(err, TlsError::UnknownIssuer { host: HOST.into() });
    assert!(err.to_string().contains("add its CA with [tls] extra_ca_file"), "{err}");
    // The client told the server why it hung up.
    assert_eq!(server_error, Some(rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA)));
}

#[test]
fn private_ca_is_unknown_until_added() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let (err, _) = handshake_error(&TrustStore::with_webpki_roots(), real_clock(), HOST, &leaf);
    assert_eq!(err, TlsError::UnknownIssuer { host: HOST.into() });

    let mut trust = TrustStore::with_webpki_roots();
    let builtin = trust.len();
    // A bundle: another CA, some text, a private key (ignored), then ours.
    let other = TestCa::new("someone else");
    let bundle =
        format!("{}\ncomment between sections\n{}{}", other.pem, KeyPair::generate().unwrap().serialize_pem(), ca.pem);
    assert_eq!(trust.add_pem(bundle.as_bytes()), Ok(2));
    assert_eq!(trust.len(), builtin + 2);
    let mut client = session(&trust, real_clock(), HOST);
    let mut server = server13(&leaf);
    pump(&mut client, &mut server).0.unwrap();
    assert!(!client.is_handshaking());
}

#[test]
fn corrupt_pem_is_an_error_and_keeps_the_roots() {
    let ca = TestCa::new("moteOS test CA");
    let mut trust = TrustStore::with_webpki_roots();
    let before = trust.len();
    // Our CA first, then a truncated second certificate: nothing may be added.
    let truncated = &ca.pem[..ca.pem.len() / 2];
    let bundle = format!("{}{}", ca.pem, truncated);
    let err = trust.add_pem(bundle.as_bytes()).unwrap_err();
    assert!(matches!(err, TlsError::PemInvalid { .. }), "{err:?}");
    assert!(err.to_string().starts_with("TLS: the extra CA file is not valid PEM"), "{err}");
    assert_eq!(trust.add_pem(b"").unwrap_err(), TlsError::PemEmpty);
    assert_eq!(trust.len(), before);

    // Our CA really was not added.
    let leaf = ca.issue(&[HOST]);
    let (err, _) = handshake_error(&trust, real_clock(), HOST, &leaf);
    assert_eq!(err, TlsError::UnknownIssuer { host: HOST.into() });
}

#[test]
fn unset_clock_is_reported() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let (err, _) = handshake_error(&trusting(&ca), Arc::new(FixedClock(None)), HOST, &leaf);
    assert_eq!(err, TlsError::ClockNotSet);
    assert_eq!(err.to_string(), "TLS: the clock is not set, so certificates cannot be checked");
}

/// Creates a client and returns it with its ClientHello already taken.
fn client_after_hello() -> TlsSession {
    let mut client = session(&TrustStore::with_webpki_roots(), real_clock(), HOST);
    assert!(!client.take_outgoing().is_empty());
    client
}

#[test]
fn plain_http_answer_is_not_tls() {
    let mut client = client_after_hello();
    client.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let err = client.process().unwrap_err();
    assert_eq!(err, TlsError::NotTls { host: HOST.into() });
    assert_eq!(err.to_string(), "TLS: api.example.com did not answer with TLS; is this an http:// port?");
}

#[test]
fn partial_records_wait_for_more_bytes() {
    let mut client = client_after_hello();
    // The first three bytes of a handshake record header: not an error, just not enough.
    client.feed(&[0x16, 0x03, 0x03]);
    assert_eq!(client.process(), Ok(()));
    assert!(client.is_handshaking());
    assert!(!client.has_outgoing());
}

#[test]
fn tls10_server_hello_is_rejected_as_too_old() {
    let mut client = client_after_hello();
    // A ServerHello as a TLS 1.0-only server sends it: legacy_version 3.1, no
    // supported_versions extension, TLS_RSA_WITH_AES_128_CBC_SHA.
    let mut body = vec![0x03, 0x01];
    body.extend_from_slice(&[0x42; 32]); // server random
    body.push(0); // empty session id
    body.extend_from_slice(&[0x00, 0x2f]); // cipher suite
    body.push(0); // null compression
    let mut handshake = vec![0x02, 0, 0, body.len() as u8];
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    client.feed(&record);
    let err = client.process().unwrap_err();
    assert_eq!(err, TlsError::ProtocolTooOld { host: HOST.into() });
    assert!(err.to_string().contains("only speaks TLS 1.0/1.1"), "{err}");
}

#[test]
fn protocol_version_alert_means_too_old() {
    let mut client = client_after_hello();
    // What a TLS 1.0-only server answers to a ClientHello offering 1.2+: a fatal
    // protocol_version alert.
    client.feed(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
    assert_eq!(client.process(), Err(TlsError::ProtocolTooOld { host: HOST.into() }));
}

#[test]
fn handshake_failure_alert_is_named() {
    let mut client = client_after_hello();
    client.feed(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    let err = client.process().unwrap_err();
    assert_eq!(err.to_string(), "TLS: api.example.com ended the connection with the alert 'handshake failure'");
}

#[test]
fn invalid_host_name_is_rejected_up_front() {
    let config = client_config(&TrustStore::with_webpki_roots(), real_clock()).unwrap();
    let err = TlsSession::new(config, "not a host name!").unwrap_err();
    assert_eq!(err, TlsError::InvalidHostName { host: "not a host name!".into() });
}

#[test]
fn sni_carries_the_host_name() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let mut client = session(&trusting(&ca), real_clock(), HOST);
    let mut server = server13(&leaf);
    pump(&mut client, &mut server).0.unwrap();
    assert_eq!(server.server_name(), Some(HOST));
}

#[test]
fn records_split_across_tcp_segments_are_reassembled() {
    let ca = TestCa::new("moteOS test CA");
    let leaf = ca.issue(&[HOST]);
    let mut client = session(&trusting(&ca), real_clock(), HOST);
    let mut server = server13(&leaf);
    server.writer().write_all(b"hello over a slow link").unwrap();
    let mut to_client = Vec::new();
    for _ in 0..16 {
        let to_server = client.take_outgoing();
        let mut rest = &to_server[..];
        while !rest.is_empty() {
            server.read_tls(&mut rest).unwrap();
            server.process_new_packets().unwrap();
        }
        to_client.clear();
        while server.wants_write() {
            server.write_tls(&mut to_client).unwrap();
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        // Three bytes at a time: headers and records split at every possible place.
        for piece in to_client.chunks(3) {
            client.feed(piece);
            client.process().unwrap();
        }
    }
    assert!(!client.is_handshaking());
    assert_eq!(read_all(&mut client), b"hello over a slow link");
}
