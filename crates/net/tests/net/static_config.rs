//! Static addressing: configured at once, no DHCP traffic, TCP works.

use net::{Ipv4Address, Ipv4Cidr, NetConfig, NetEvent, NetState, TcpState};

use net::testing::Net;
use net::testing::lan::{DNS_IP, HOST_IP, STACK_IP};

#[test]
fn static_address_is_configured_immediately() {
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), Some(HOST_IP), vec![DNS_IP, DNS_IP], 3));
    let status = net.stack.status();
    assert_eq!(status.state, NetState::Configured);
    assert_eq!(status.address, Some(Ipv4Cidr::new(STACK_IP, 24)));
    assert_eq!(status.gateway, Some(HOST_IP));
    assert_eq!(status.dns_servers, vec![DNS_IP], "duplicates are dropped");
    assert_eq!(status.lease_remaining_s, None);
    assert_eq!(status.to_string(), "network: 10.0.2.15/24 via 10.0.2.2");
    let events = net.stack.take_events();
    assert_eq!(
        events,
        vec![NetEvent::Configured {
            address: Ipv4Cidr::new(STACK_IP, 24),
            gateway: Some(HOST_IP),
            dns_servers: vec![DNS_IP],
            lease_s: None
        }]
    );
    assert_eq!(events[0].to_string(), "network: configured 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3 (static)");

    // Nothing to do and nothing scheduled: the kernel may halt until a packet arrives.
    net.advance(60_000);
    assert_eq!(net.lan.dhcp_frames, 0);
    assert_eq!(net.lan.frames_from_stack, 0);
    assert_eq!(net.stack.poll_delay(net.now), None);
}

#[test]
fn static_stack_talks_tcp_to_a_peer() {
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), None, vec![], 3));
    net.lan.add_peer(net.now);
    let listener = net.lan.peer().listen(80);
    let handle = net.stack.connect(HOST_IP, 80).unwrap();
    assert!(net.run_until(1_000, |n| n.stack.tcp_state(handle) == TcpState::Established));
    assert_eq!(net.stack.send(handle, b"GET / HTTP/1.1\r\n\r\n"), Ok(18));
    net.settle();
    let peer = net.lan.peer().tcp(listener);
    let mut request = [0u8; 64];
    let n = peer.recv_slice(&mut request).unwrap();
    assert_eq!(&request[..n], b"GET / HTTP/1.1\r\n\r\n");
    peer.send_slice(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    net.settle();
    let mut reply = [0u8; 64];
    let n = net.stack.recv(handle, &mut reply).unwrap();
    assert_eq!(&reply[..n], b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(net.lan.dhcp_frames, 0);
}

#[test]
fn poll_reports_whether_anything_happened() {
    let mut net = Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), None, vec![], 3));
    net.stack.take_events();
    assert_eq!(net.stack.poll(net.now), net::PollResult::Idle, "a quiet network is idle");
    net.lan.add_peer(net.now);
    net.lan.peer().listen(80);
    let handle = net.stack.connect(Ipv4Address::new(10, 0, 2, 2), 80).unwrap();
    // Drive by hand: ARP, SYN, SYN-ACK; the poll that completes the handshake reports a change.
    let mut results = Vec::new();
    for _ in 0..10 {
        results.push(net.stack.poll(net.now));
        net.lan.step(net.now);
    }
    assert_eq!(net.stack.tcp_state(handle), TcpState::Established);
    assert!(results.contains(&net::PollResult::Changed));
    assert_eq!(*results.last().unwrap(), net::PollResult::Idle, "{results:?}");
}
