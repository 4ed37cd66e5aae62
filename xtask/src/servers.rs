//! Test servers on the host's loopback, reached by guests through QEMU user
//! networking (the guest's 10.0.2.2 is the host's 127.0.0.1): a DNS server and
//! an HTTP server that records what it was asked.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use simple_dns::rdata::{A, RData};
use simple_dns::{CLASS, Packet, QTYPE, RCODE, ResourceRecord, TYPE};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The name the guest resolves through the test DNS server.
pub const TEST_HOST: &str = "files.moteos.test";
/// Where that name points: the host, as seen from the guest.
pub const HOST_FROM_GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// A DNS server on 127.0.0.1:53 answering A queries from a fixed table.
#[derive(Debug)]
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    /// Queries answered so far.
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    /// Binds UDP port 53 on loopback (guests can only send DNS to port 53).
    pub fn start(records: HashMap<String, Ipv4Addr>) -> Result<DnsServer> {
        let socket = UdpSocket::bind("127.0.0.1:53")
            .context("the DNS test server needs UDP port 53 on 127.0.0.1 (run as root, and nothing else may use it)")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (stop2, queries2) = (Arc::clone(&stop), Arc::clone(&queries));
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((len, peer)) = socket.recv_from(&mut buf) else { continue };
                if let Some(reply) = answer(&buf[..len], &records, &queries2) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        Ok(DnsServer { stop, queries })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(query: &[u8], records: &HashMap<String, Ipv4Addr>, log: &Mutex<Vec<String>>) -> Option<Vec<u8>> {
    let packet = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(packet.id());
    let mut found = false;
    for question in &packet.questions {
        let name = question.qname.to_string();
        if let Ok(mut l) = log.lock() {
            l.push(name.clone());
        }
        reply.questions.push(question.clone());
        if let (Some(address), QTYPE::TYPE(TYPE::A)) = (records.get(&name), question.qtype) {
            let rdata = RData::A(A { address: u32::from(*address) });
            reply.answers.push(ResourceRecord::new(question.qname.clone(), CLASS::IN, 60, rdata));
            found = true;
        }
    }
    if !found {
        *reply.rcode_mut() = RCODE::NameError;
    }
    reply.build_bytes_vec().ok()
}

/// A request the HTTP test server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Request line, e.g. `GET /blob HTTP/1.1`.
    pub request_line: String,
    /// Header lines as received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// How the server frames a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding: chunked` with varying chunk sizes.
    Chunked,
    /// Not HTTP at all: the body bytes are sent raw.
    Garbage,
    /// Promises the whole body, sends a tenth of it, then closes.
    Truncated,
    /// Neither length nor chunks: the body ends when the connection closes.
    CloseDelimited,
    /// Like `CloseDelimited`, but over TLS the connection is then dropped without
    /// close_notify (as an attacker cutting the response would).
    CloseDelimitedNoNotify,
}

/// A plain-HTTP server on 127.0.0.1 (random port) serving fixed bodies.
#[derive(Debug)]
pub struct HttpServer {
    /// The port it listens on.
    pub port: u16,
    /// Every request received.
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<AtomicBool>,
}

/// A route: path → (framing, body).
pub type Routes = HashMap<String, (Framing, Arc<Vec<u8>>)>;

impl HttpServer {
    /// Starts serving `routes`; unknown paths get 404.
    pub fn start(routes: Routes) -> Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (Arc::clone(&stop), Arc::clone(&requests));
        let routes = Arc::new(routes);
        // Blocking accept, so the benchmark's host baseline is not padded by a
        // polling delay; `Drop` wakes it with a connection of its own.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (routes, requests) = (Arc::clone(&routes), Arc::clone(&requests2));
                std::thread::spawn(move || {
                    let _ = serve(stream, &routes, &requests);
                });
            }
        });
        Ok(HttpServer { port, requests, stop })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, routes: &Routes, log: &Mutex<Vec<RecordedRequest>>) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    serve_on(stream, routes, log).map(|_| ())
}

/// Reads one request (line, headers, `Content-Length` body). `None` when the first line is
/// not a complete line of text (e.g. a TLS ClientHello sent to a plain-HTTP port).
pub fn read_request(reader: &mut impl BufRead) -> Result<Option<RecordedRequest>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || !request_line.ends_with('\n') {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok(Some(RecordedRequest { request_line: request_line.trim_end().to_string(), headers, body }))
}

/// Answers one request on any byte stream (plain TCP or TLS).
/// Serves one request; returns whether a TLS close_notify should follow.
fn serve_on(stream: impl Read + Write, routes: &Routes, log: &Mutex<Vec<RecordedRequest>>) -> Result<bool> {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader)? else {
        // Not HTTP (e.g. a TLS ClientHello): answer like a real server would.
        let out = reader.get_mut();
        out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request")?;
        out.flush()?;
        return Ok(true);
    };
    let path = request.request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    if let Ok(mut l) = log.lock() {
        l.push(request);
    }
    let out = reader.get_mut();
    match routes.get(&path) {
        Some((Framing::ContentLength, data)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                data.len()
            )?;
            out.write_all(data)?;
        }
        Some((Framing::Chunked, data)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )?;
            let mut offset = 0;
            let mut size = 1usize;
            while offset < data.len() {
                // Chunk sizes from 1 byte to 32 KiB, with an extension now and then.
                let n = size.min(data.len() - offset);
                if n % 3 == 0 {
                    write!(out, "{n:x};note=moteos\r\n")?;
                } else {
                    write!(out, "{n:x}\r\n")?;
                }
                out.write_all(&data[offset..offset + n])?;
                out.write_all(b"\r\n")?;
                offset += n;
                size = (size * 7 + 13) % 32768 + 1;
            }
            out.write_all(b"0\r\nX-Trailer: done\r\n\r\n")?;
        }
        Some((Framing::Garbage, data)) => out.write_all(data)?,
        Some((Framing::Truncated, data)) => {
            write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", data.len())?;
            out.write_all(&data[..data.len() / 10])?;
        }
        Some((framing @ (Framing::CloseDelimited | Framing::CloseDelimitedNoNotify), data)) => {
            write!(out, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")?;
            out.write_all(data)?;
            out.flush()?;
            return Ok(*framing == Framing::CloseDelimited);
        }
        None => {
            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")?;
        }
    }
    out.flush()?;
    Ok(true)
}

/// The certificates for the TLS tests: a test CA made fresh for each run, and
/// server certificates signed by it (or not).
pub struct TestPki {
    /// The CA certificate, PEM (what the guest gets as `extra_ca_file`).
    pub ca_pem: String,
    ca_params: rcgen::CertificateParams,
    ca_key: rcgen::KeyPair,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestPki")
    }
}

/// What kind of server certificate to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// Valid, for [`TEST_HOST`], signed by the test CA.
    Good,
    /// Valid, but for another name.
    WrongHost,
    /// For [`TEST_HOST`], signed by the test CA, expired last year.
    Expired,
}

impl TestPki {
    /// Makes a new CA.
    pub fn new() -> Result<TestPki> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "moteOS test CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca_key = rcgen::KeyPair::generate()?;
        let ca_pem = ca_params.self_signed(&ca_key)?.pem();
        Ok(TestPki { ca_pem, ca_params, ca_key })
    }

    /// A server certificate chain and key of the given kind.
    pub fn server_cert(
        &self,
        kind: CertKind,
    ) -> Result<(Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>)> {
        let name = if kind == CertKind::WrongHost { "other.moteos.test" } else { TEST_HOST };
        let now = time::OffsetDateTime::now_utc();
        let (not_before, not_after) = if kind == CertKind::Expired {
            (now - time::Duration::days(400), now - time::Duration::days(30))
        } else {
            (now - time::Duration::days(1), now + time::Duration::days(30))
        };
        self.server_cert_between(name, not_before, not_after)
    }

    /// A certificate for `name`, signed by the test CA, valid between the two dates.
    pub fn server_cert_between(
        &self,
        name: &str,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Result<(Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>)> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate()?;
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        Ok((vec![cert.der().clone()], key_der))
    }
}

/// A rustls server configuration presenting `cert` (TLS 1.2 and 1.3).
pub fn server_config(
    cert: (Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>),
) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_no_client_auth()
        .with_single_cert(cert.0, cert.1)?;
    Ok(Arc::new(config))
}

/// An HTTPS server on 127.0.0.1 presenting one certificate.
#[derive(Debug)]
pub struct HttpsServer {
    /// The port it listens on.
    pub port: u16,
    /// Handshakes that failed on the server side (e.g. the client sent an alert).
    pub failed_handshakes: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl HttpsServer {
    /// Serves `routes` over TLS with `cert`.
    pub fn start(
        routes: Routes,
        cert: (Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>),
    ) -> Result<HttpsServer> {
        let config = server_config(cert)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let (stop2, failed2) = (Arc::clone(&stop), Arc::clone(&failed));
        let routes = Arc::new(routes);
        let log = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, routes, log, failed) =
                    (Arc::clone(&config), Arc::clone(&routes), Arc::clone(&log), Arc::clone(&failed2));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                        if let Ok(mut f) = failed.lock() {
                            f.push(e.to_string());
                        }
                        return;
                    }
                    if serve_on(&mut tls, &routes, &log).unwrap_or(true) {
                        tls.conn.send_close_notify();
                    }
                    let _ = tls.conn.complete_io(&mut tls.sock);
                });
            }
        });
        Ok(HttpsServer { port, failed_handshakes: failed, stop })
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Deterministic pseudo-random test data.
pub fn test_payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A config that asks for DHCP and adds the test DNS server.
pub const NETWORK_TEST_CONFIG: &str =
    "[provider]\nactive = \"local\"\n\n[network]\nmode = \"dhcp\"\ndns = [\"10.0.2.2\"]\n";

/// The servers every network test and benchmark shares (DNS must own UDP port 53).
pub struct TestServers {
    /// The DNS server (port 53).
    pub dns: DnsServer,
    /// The HTTP server with `/blob-cl` and `/blob-chunked`.
    pub http: HttpServer,
    /// SHA-256 of the blob, hex.
    pub blob_sha256: String,
}

/// Size of the download the network tests verify.
pub const BLOB_LEN: usize = 1024 * 1024;

pub fn shared() -> Result<&'static TestServers> {
    static SERVERS: OnceLock<std::result::Result<TestServers, String>> = OnceLock::new();
    let started = SERVERS.get_or_init(|| {
        let blob = Arc::new(test_payload(BLOB_LEN, 0x6d6f_7465));
        let blob_sha256 = sha256_hex(&blob);
        let routes = HashMap::from([
            ("/blob-cl".to_string(), (Framing::ContentLength, Arc::clone(&blob))),
            ("/blob-chunked".to_string(), (Framing::Chunked, Arc::clone(&blob))),
            ("/garbage".to_string(), (Framing::Garbage, Arc::new(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff garbage".to_vec()))),
            ("/truncated".to_string(), (Framing::Truncated, blob)),
        ]);
        let records = HashMap::from([(TEST_HOST.to_string(), HOST_FROM_GUEST)]);
        let dns = DnsServer::start(records).map_err(|e| format!("{e:#}"))?;
        let http = HttpServer::start(routes).map_err(|e| format!("{e:#}"))?;
        Ok(TestServers { dns, http, blob_sha256 })
    });
    started.as_ref().map_err(|e| anyhow::anyhow!("test servers: {e}"))
}

/// The HTTPS servers the TLS tests share: one per certificate kind.
#[derive(Debug)]
pub struct TlsServers {
    /// The CA that signed the good and expired certificates.
    pub pki: TestPki,
    /// Valid certificate for [`TEST_HOST`].
    pub good: HttpsServer,
    /// Valid certificate for another name.
    pub wrong_host: HttpsServer,
    /// Expired certificate for [`TEST_HOST`].
    pub expired: HttpsServer,
}

/// Starts (once) the HTTPS servers, serving the same routes as the plain server.
pub fn shared_tls() -> Result<&'static TlsServers> {
    // The guest finds the HTTPS servers through the test DNS server.
    shared()?;
    static SERVERS: OnceLock<std::result::Result<TlsServers, String>> = OnceLock::new();
    let started = SERVERS.get_or_init(|| {
        let start = || -> Result<TlsServers> {
            let blob = Arc::new(test_payload(BLOB_LEN, 0x6d6f_7465));
            let routes = || -> Routes {
                HashMap::from([
                    ("/blob-cl".to_string(), (Framing::ContentLength, Arc::clone(&blob))),
                    ("/close-delimited".to_string(), (Framing::CloseDelimited, Arc::clone(&blob))),
                    ("/close-delimited-cut".to_string(), (Framing::CloseDelimitedNoNotify, Arc::clone(&blob))),
                ])
            };
            let pki = TestPki::new()?;
            let good = HttpsServer::start(routes(), pki.server_cert(CertKind::Good)?)?;
            let wrong_host = HttpsServer::start(routes(), pki.server_cert(CertKind::WrongHost)?)?;
            let expired = HttpsServer::start(routes(), pki.server_cert(CertKind::Expired)?)?;
            Ok(TlsServers { pki, good, wrong_host, expired })
        };
        start().map_err(|e| format!("{e:#}"))
    });
    started.as_ref().map_err(|e| anyhow::anyhow!("TLS test servers: {e}"))
}
