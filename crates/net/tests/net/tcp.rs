//! TCP against a peer smoltcp stack: bulk transfer, refusal, timeouts, resets and stale handles.

use net::{CONNECT_TIMEOUT_MS, Ipv4Address, Ipv4Cidr, NetConfig, NetError, TcpHandle, TcpState};
use smoltcp::socket::tcp::State;

use net::testing::lan::{HOST_IP, STACK_IP};
use net::testing::{Net, checksum, pattern};

const MIB: usize = 1024 * 1024;

/// A static stack and the peer host at 10.0.2.2.
fn net_with_peer() -> Net {
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), Some(HOST_IP), vec![], 1234));
    net.lan.add_peer(net.now);
    net
}

fn connect(net: &mut Net, port: u16) -> TcpHandle {
    let handle = net.stack.connect(HOST_IP, port).unwrap();
    assert_eq!(net.stack.tcp_state(handle), TcpState::Connecting);
    assert!(net.run_until(2_000, |n| n.stack.tcp_state(handle) != TcpState::Connecting));
    handle
}

/// Reads everything available; returns the terminal error if the connection ended.
fn drain(net: &mut Net, handle: TcpHandle, into: &mut Vec<u8>) -> Option<NetError> {
    let mut buf = [0u8; 4096];
    loop {
        match net.stack.recv(handle, &mut buf) {
            Ok(0) => return None,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) => return Some(e),
        }
    }
}

#[test]
fn one_mebibyte_each_way_then_peer_closes() {
    let mut net = net_with_peer();
    let listener = net.lan.peer().listen(8080);
    let handle = connect(&mut net, 8080);
    assert_eq!(net.stack.tcp_state(handle), TcpState::Established);

    let upload = pattern(MIB, 1);
    let download = pattern(MIB, 2);
    let (mut sent, mut peer_sent, mut peer_closed) = (0, 0, false);
    let (mut at_stack, mut at_peer) = (Vec::new(), Vec::new());
    let mut end = None;
    let finished = net.run_until(120_000, |net| {
        if sent < upload.len() {
            sent += net.stack.send(handle, &upload[sent..]).unwrap();
        }
        if end.is_none() {
            end = drain(net, handle, &mut at_stack);
        }
        let peer = net.lan.peer().tcp(listener);
        if peer_sent < download.len() && peer.can_send() {
            peer_sent += peer.send_slice(&download[peer_sent..]).unwrap();
        }
        if peer_sent == download.len() && !peer_closed {
            // Graceful: the peer's queued bytes still go out before its FIN.
            peer.close();
            peer_closed = true;
        }
        while peer.can_recv() {
            peer.recv(|b| (b.len(), at_peer.extend_from_slice(b))).unwrap();
        }
        at_peer.len() == upload.len() && end.is_some()
    });
    assert!(finished, "transfer stalled: stack got {} B, peer got {} B, end {end:?}", at_stack.len(), at_peer.len());
    assert_eq!(end, Some(NetError::ConnectionClosed { addr: HOST_IP, port: 8080 }));
    assert_eq!((at_stack.len(), checksum(&at_stack)), (MIB, checksum(&download)));
    assert_eq!((at_peer.len(), checksum(&at_peer)), (MIB, checksum(&upload)));
    assert_eq!(net.stack.tcp_state(handle), TcpState::PeerClosed);
    // Reading again keeps saying closed; sending in CLOSE-WAIT still works.
    assert!(matches!(net.stack.recv(handle, &mut [0; 16]), Err(NetError::ConnectionClosed { .. })));
    assert_eq!(net.stack.send(handle, b"bye"), Ok(3));

    net.stack.close(handle).unwrap();
    assert!(net.run_until(5_000, |n| n.stack.tcp_state(handle) == TcpState::Closed));
    net.stack.release(handle).unwrap();
    assert_eq!(net.stack.tcp_connection_count(), 0);
}

#[test]
fn closed_port_is_refused() {
    let mut net = net_with_peer();
    let handle = connect(&mut net, 9);
    assert_eq!(net.stack.tcp_state(handle), TcpState::Refused);
    let error = net.stack.recv(handle, &mut [0; 8]).unwrap_err();
    assert_eq!(error.to_string(), "TCP: connection to 10.0.2.2:9 refused");
    assert_eq!(net.stack.send(handle, b"x"), Err(error));
    net.stack.release(handle).unwrap();
}

#[test]
fn silent_host_times_out() {
    // No peer: nobody answers ARP for 10.0.2.2, so the SYN never even leaves.
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), Some(HOST_IP), vec![], 1));
    let handle = net.stack.connect(HOST_IP, 443).unwrap();
    let start = net.now;
    assert!(net.run_until(60_000, |n| n.stack.tcp_state(handle) != TcpState::Connecting));
    assert_eq!(net.now - start, CONNECT_TIMEOUT_MS);
    assert_eq!(net.stack.tcp_state(handle), TcpState::TimedOut);
    assert_eq!(
        net.stack.recv(handle, &mut [0; 8]).unwrap_err().to_string(),
        "TCP: connection to 10.0.2.2:443 timed out after 20 s (no answer)"
    );
}

#[test]
fn peer_reset_is_reported_after_buffered_data() {
    let mut net = net_with_peer();
    let listener = net.lan.peer().listen(8080);
    let handle = connect(&mut net, 8080);
    net.lan.peer().tcp(listener).send_slice(b"partial").unwrap();
    net.settle();
    net.lan.peer().tcp(listener).abort();
    net.advance(100);
    assert_eq!(net.stack.tcp_state(handle), TcpState::Reset);
    let mut got = Vec::new();
    let error = drain(&mut net, handle, &mut got);
    assert_eq!(got, b"partial");
    assert_eq!(
        error.unwrap().to_string(),
        "TCP: connection to 10.0.2.2:8080 was reset (the peer dropped it or stopped answering)"
    );
}

#[test]
fn our_close_sends_fin_and_release_lets_it_finish() {
    let mut net = net_with_peer();
    let listener = net.lan.peer().listen(8080);
    let handle = connect(&mut net, 8080);
    assert_eq!(net.stack.send(handle, b"request"), Ok(7));
    net.stack.close(handle).unwrap();
    assert_eq!(net.stack.tcp_state(handle), TcpState::Closing);
    assert!(matches!(net.stack.send(handle, b"more"), Err(NetError::ConnectionClosed { .. })));
    net.stack.release(handle).unwrap();
    net.advance(50);

    // The peer got the data and a clean FIN, and can still answer into the void without a panic.
    let peer = net.lan.peer().tcp(listener);
    let mut got = vec![0u8; 16];
    let n = peer.recv_slice(&mut got).unwrap();
    assert_eq!(&got[..n], b"request");
    assert_eq!(peer.state(), State::CloseWait);
    peer.close();
    net.advance(30_000);
    assert_eq!(net.lan.peer().tcp(listener).state(), State::Closed);
}

#[test]
fn handles_after_release_are_errors() {
    let mut net = net_with_peer();
    net.lan.peer().listen(8080);
    let handle = connect(&mut net, 8080);
    net.stack.release(handle).unwrap();
    net.advance(100);
    assert_eq!(net.stack.tcp_state(handle), TcpState::Released);
    assert_eq!(net.stack.send(handle, b"x"), Err(NetError::StaleHandle));
    assert_eq!(net.stack.recv(handle, &mut [0; 4]), Err(NetError::StaleHandle));
    assert_eq!(net.stack.close(handle), Err(NetError::StaleHandle));
    assert_eq!(net.stack.abort(handle), Err(NetError::StaleHandle));
    assert_eq!(net.stack.release(handle), Err(NetError::StaleHandle));
    assert!(!net.stack.can_send(handle));
    assert!(!net.stack.can_recv(handle));
    // A new connection never reuses the old handle.
    let again = connect(&mut net, 8080);
    assert_ne!(again, handle);
    assert_eq!(net.stack.send(handle, b"x"), Err(NetError::StaleHandle));
}

#[test]
fn abort_is_final() {
    let mut net = net_with_peer();
    let listener = net.lan.peer().listen(8080);
    let handle = connect(&mut net, 8080);
    net.stack.abort(handle).unwrap();
    net.advance(100);
    assert_eq!(net.stack.tcp_state(handle), TcpState::Closed);
    assert!(matches!(net.stack.recv(handle, &mut [0; 4]), Err(NetError::ConnectionClosed { .. })));
    // The peer saw our RST.
    assert_eq!(net.lan.peer().tcp(listener).state(), State::Closed);
}

#[test]
fn unroutable_and_invalid_destinations_fail_at_once() {
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), None, vec![], 1));
    let far = Ipv4Address::new(8, 8, 8, 8);
    let error = net.stack.connect(far, 443).unwrap_err();
    assert_eq!(
        error.to_string(),
        "network: no route to 8.8.8.8: it is outside 10.0.2.15/24 and no gateway is configured"
    );
    assert!(matches!(net.stack.connect(HOST_IP, 0), Err(NetError::InvalidEndpoint { .. })));
    assert!(matches!(net.stack.connect(Ipv4Address::new(10, 0, 2, 255), 80), Err(NetError::InvalidEndpoint { .. })));
    assert!(matches!(net.stack.connect(Ipv4Address::BROADCAST, 80), Err(NetError::InvalidEndpoint { .. })));
}

#[test]
fn connections_use_distinct_ephemeral_ports() {
    let mut net = net_with_peer();
    let mut ports = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let listener = net.lan.peer().listen(7000);
        let handle = connect(&mut net, 7000);
        assert_eq!(net.stack.tcp_state(handle), TcpState::Established);
        let remote = net.lan.peer().tcp(listener).remote_endpoint().unwrap();
        assert!(remote.port >= 49152);
        ports.insert(remote.port);
    }
    assert_eq!(ports.len(), 20);
    assert_eq!(net.stack.tcp_connection_count(), 20);
}
