//! The request engine end to end over the `net` crate's in-memory LAN: a DNS server, a
//! peer host at 10.0.2.2 running scripted HTTP servers (plain, and TLS through a real
//! rustls server), and a fake clock.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use client::{ClientError, Exchange, MAX_BYTES_PER_STEP, RemoteReply};
use http::{Request, ResponseEvent, Timeouts, Url};
use llm::{Activity, ChatRequest, Message, Provider, ProviderId, ReplyEvent, ReplySource};
use net::testing::Net;
use net::testing::lan::{DNS_IP, DhcpServer, DnsServer, HOST_IP};
use net::{NetConfig, NetError, TcpState};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};
use smoltcp::iface::SocketHandle;
use tls::{TrustStore, WallClock, client_config};

const PORT: u16 = 8080;

/// A LAN with DHCP (QEMU-like), a DNS server knowing `api.test`, and the peer host.
fn lan() -> Net {
    let mut net = Net::new(NetConfig::dhcp(7));
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    net.lan.dns.push(DnsServer::new(DNS_IP).with("api.test", HOST_IP));
    net.lan.add_peer(net.now);
    net
}

/// What the server side of a test does with the bytes it received; returns the bytes to
/// send back (once), and whether to close after sending.
struct Script {
    listener: SocketHandle,
    received: Vec<u8>,
    reply: Option<(Vec<u8>, bool)>,
    /// Bytes waiting for room in the peer's send buffer.
    out: Vec<u8>,
    closed: bool,
    tls: Option<ServerConnection>,
}

impl Script {
    fn new(net: &mut Net, reply: Vec<u8>, close: bool) -> Script {
        let listener = net.lan.peer().listen(PORT);
        Script {
            listener,
            received: Vec::new(),
            reply: Some((reply, close)),
            out: Vec::new(),
            closed: false,
            tls: None,
        }
    }

    fn request_complete(&self) -> bool {
        let text = String::from_utf8_lossy(&self.received);
        let Some(head_end) = text.find("\r\n\r\n") else { return false };
        let length = text[..head_end]
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0usize);
        self.received.len() >= head_end + 4 + length
    }

    /// One round of the server: read, answer once the request is complete.
    fn serve(&mut self, net: &mut Net) {
        let socket = net.lan.peer().tcp(self.listener);
        let mut wire_in = Vec::new();
        while socket.can_recv() {
            socket.recv(|b| (b.len(), wire_in.extend_from_slice(b))).unwrap();
        }
        let mut wire_out = Vec::new();
        match self.tls.as_mut() {
            Some(tls) => {
                let mut rest = &wire_in[..];
                while !rest.is_empty() {
                    tls.read_tls(&mut rest).unwrap();
                    if tls.process_new_packets().is_err() {
                        break;
                    }
                }
                let mut plain = Vec::new();
                let _ = tls.reader().read_to_end(&mut plain);
                self.received.extend(plain);
            }
            None => self.received.extend(wire_in),
        }
        if self.request_complete()
            && let Some((reply, close)) = self.reply.take()
        {
            match self.tls.as_mut() {
                Some(tls) => {
                    tls.writer().write_all(&reply).unwrap();
                    if close {
                        tls.send_close_notify();
                    }
                }
                None => wire_out = reply,
            }
            self.closed = close;
        }
        if let Some(tls) = self.tls.as_mut() {
            while tls.wants_write() {
                tls.write_tls(&mut wire_out).unwrap();
            }
        }
        self.out.extend(wire_out);
        let socket = net.lan.peer().tcp(self.listener);
        let mut off = 0;
        while off < self.out.len() && socket.can_send() {
            off += socket.send_slice(&self.out[off..]).unwrap();
        }
        self.out.drain(..off);
        if self.closed && self.reply.is_none() && self.out.is_empty() && socket.send_queue() == 0 {
            socket.close();
        }
    }
}

/// Steps `exchange` until it ends; returns the events as text and the result.
fn run(net: &mut Net, exchange: &mut Exchange, script: &mut Script) -> (Vec<String>, Result<(), ClientError>) {
    let mut events = Vec::new();
    let mut result = Ok(());
    net.run_until(120_000, |net| {
        script.serve(net);
        let now = net.now;
        let mut sink = |event: ResponseEvent<'_>| {
            events.push(match event {
                ResponseEvent::Head(head) => format!("head {}", head.status),
                ResponseEvent::Body(bytes) => format!("body {}", String::from_utf8_lossy(bytes)),
                ResponseEvent::End => String::from("end"),
            })
        };
        if let Err(e) = exchange.step(&mut net.stack, now, &mut sink) {
            result = Err(e);
            return true;
        }
        exchange.is_finished()
    });
    (events, result)
}

fn get(url: &str) -> Request {
    Request::get(Url::parse(url).unwrap())
}

#[test]
fn plain_http_get_after_dhcp_and_dns() {
    let mut net = lan();
    let mut script = Script::new(&mut net, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(), false);
    let mut exchange = Exchange::new(&get("http://api.test:8080/x"), None, Timeouts::default(), net.now).unwrap();
    let (events, result) = run(&mut net, &mut exchange, &mut script);
    assert_eq!(result, Ok(()));
    assert_eq!(events, ["head 200", "body hello", "end"]);
    assert!(String::from_utf8_lossy(&script.received).starts_with("GET /x HTTP/1.1\r\n"));
    assert_eq!(exchange.body_bytes(), 5);
    assert!(exchange.first_byte_ms().is_some());
}

#[test]
fn unknown_names_are_a_dns_failure() {
    let mut net = lan();
    let mut script = Script::new(&mut net, Vec::new(), false);
    let mut exchange = Exchange::new(&get("http://nowhere.test:8080/"), None, Timeouts::default(), net.now).unwrap();
    let (events, result) = run(&mut net, &mut exchange, &mut script);
    assert!(events.is_empty());
    assert!(matches!(result, Err(ClientError::Net(NetError::DnsFailed { .. }))), "{result:?}");
    assert!(result.unwrap_err().to_string().contains("nowhere.test"));
}

#[test]
fn a_closed_port_is_refused() {
    let mut net = lan();
    let mut script = Script::new(&mut net, Vec::new(), false);
    let mut exchange = Exchange::new(&get("http://api.test:9999/"), None, Timeouts::default(), net.now).unwrap();
    let (_, result) = run(&mut net, &mut exchange, &mut script);
    assert!(matches!(result, Err(ClientError::ConnectFailed { state: TcpState::Refused, .. })), "{result:?}");
    assert!(exchange.is_finished());
}

#[test]
fn a_cut_body_is_reported() {
    let mut net = lan();
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part".to_vec();
    let mut script = Script::new(&mut net, reply, true);
    let mut exchange = Exchange::new(&get("http://api.test:8080/"), None, Timeouts::default(), net.now).unwrap();
    let (events, result) = run(&mut net, &mut exchange, &mut script);
    assert_eq!(events[..2], ["head 200", "body only part"]);
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn https_without_tls_is_refused_up_front() {
    let e = Exchange::new(&get("https://api.test/"), None, Timeouts::default(), 0).unwrap_err();
    assert_eq!(e, ClientError::TlsUnavailable);
}

#[test]
fn a_fast_server_is_read_in_bounded_steps() {
    let mut net = lan();
    let body = vec![b'x'; 256 * 1024];
    let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    reply.extend_from_slice(&body);
    let mut script = Script::new(&mut net, reply, false);
    let mut exchange = Exchange::new(&get("http://api.test:8080/"), None, Timeouts::default(), net.now).unwrap();
    let mut most = 0;
    let mut saw_more = false;
    let mut total = 0;
    net.run_until(120_000, |net| {
        script.serve(net);
        let now = net.now;
        let mut step_bytes = 0;
        let mut sink = |event: ResponseEvent<'_>| {
            if let ResponseEvent::Body(bytes) = event {
                step_bytes += bytes.len();
            }
        };
        exchange.step(&mut net.stack, now, &mut sink).unwrap();
        most = most.max(step_bytes);
        total += step_bytes;
        saw_more |= exchange.has_more();
        exchange.is_finished()
    });
    assert_eq!(total, body.len());
    assert!(most <= MAX_BYTES_PER_STEP, "{most}");
    assert!(saw_more, "a step must say when input is left over");
}

// ---- TLS ----

struct Clock;
impl WallClock for Clock {
    fn unix_seconds(&self) -> Option<u64> {
        Some(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs())
    }
}

/// A CA trusted by the client, and a server for `names` signed by it.
fn tls_pair(names: &[&str]) -> (Arc<tls::rustls::ClientConfig>, ServerConnection) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&leaf_key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    let mut trust = TrustStore::empty();
    trust.add_pem(ca_pem.as_bytes()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = ServerConfig::builder_with_provider(Arc::new(rustls_rustcrypto::provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let mut conn = ServerConnection::new(Arc::new(server)).unwrap();
    conn.set_buffer_limit(None);
    (client_config(&trust, Arc::new(Clock)).unwrap(), conn)
}

#[test]
fn https_get_with_a_verified_certificate() {
    let mut net = lan();
    let (config, server) = tls_pair(&["api.test"]);
    let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec();
    let mut script = Script::new(&mut net, reply, false);
    script.tls = Some(server);
    let mut exchange =
        Exchange::new(&get("https://api.test:8080/secure"), Some(config), Timeouts::default(), net.now).unwrap();
    let (events, result) = run(&mut net, &mut exchange, &mut script);
    assert_eq!(result, Ok(()));
    assert_eq!(events, ["head 200", "body hello", "end"]);
    assert!(String::from_utf8_lossy(&script.received).starts_with("GET /secure HTTP/1.1\r\n"));
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let mut net = lan();
    let (config, server) = tls_pair(&["other.test"]);
    let mut script = Script::new(&mut net, b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), false);
    script.tls = Some(server);
    let mut exchange =
        Exchange::new(&get("https://api.test:8080/"), Some(config), Timeouts::default(), net.now).unwrap();
    let (events, result) = run(&mut net, &mut exchange, &mut script);
    assert!(events.is_empty());
    let error = result.unwrap_err();
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("api.test"), "{error}");
    assert!(script.received.is_empty(), "nothing may be sent to a server that failed verification");
}

#[test]
fn a_plain_server_on_an_https_url_is_explained() {
    let mut net = lan();
    let (config, _) = tls_pair(&["api.test"]);
    // A plain HTTP server answers the ClientHello with an HTTP error and closes.
    let mut script = Script::new(&mut net, Vec::new(), true);
    let mut exchange =
        Exchange::new(&get("https://api.test:8080/"), Some(config), Timeouts::default(), net.now).unwrap();
    let mut result = Ok(());
    net.run_until(30_000, |net| {
        let socket = net.lan.peer().tcp(script.listener);
        if socket.can_recv() {
            socket.recv(|b| (b.len(), ())).unwrap();
            socket.send_slice(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
            socket.close();
        }
        let now = net.now;
        if let Err(e) = exchange.step(&mut net.stack, now, &mut |_| {}) {
            result = Err(e);
            return true;
        }
        exchange.is_finished()
    });
    assert!(result.is_err(), "{result:?}");
    let _ = &mut script;
}

// ---- a provider reply over the LAN ----

#[test]
fn an_anthropic_reply_streams_into_events() {
    let mut net = lan();
    let sse = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let reply =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{sse}", sse.len());
    let mut script = Script::new(&mut net, reply.into_bytes(), false);
    let provider = Provider::new(ProviderId::Anthropic, "http://10.0.2.2:8080", Some("sk-ant-test")).unwrap();
    let messages = [Message::user("hello")];
    let mut source = RemoteReply::start(&provider, &ChatRequest::new("claude-x", &messages), None, net.now).unwrap();
    let mut events = Vec::new();
    net.run_until(60_000, |net| {
        script.serve(net);
        let now = net.now;
        ReplySource::step(&mut source, Some(&mut net.stack), now, &mut events) == Activity::Done
    });
    let text: String =
        events.iter().filter_map(|e| if let ReplyEvent::Text(t) = e { Some(t.as_str()) } else { None }).collect();
    assert_eq!(text, "Hi there");
    assert!(matches!(events.last(), Some(ReplyEvent::Finished(_))), "{events:?}");
    let request = String::from_utf8_lossy(&script.received);
    assert!(request.starts_with("POST /v1/messages HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("x-api-key: sk-ant-test"));
}

#[test]
fn a_reply_without_a_network_fails_with_a_sentence() {
    let provider = Provider::new(ProviderId::Anthropic, "http://10.0.2.2:8080", Some("sk-ant-test")).unwrap();
    let messages = [Message::user("hello")];
    let mut source = RemoteReply::start(&provider, &ChatRequest::new("m", &messages), None, 0).unwrap();
    let mut events = Vec::new();
    let activity = ReplySource::<net::NetStack<net::testing::wire::WireEnd>>::step(&mut source, None, 0, &mut events);
    assert_eq!(activity, Activity::Done);
    match events.last() {
        Some(ReplyEvent::Failed(e)) => assert!(e.to_string().contains("no network"), "{e}"),
        other => panic!("{other:?}"),
    }
}
