//! DHCP: getting a lease, waiting for a silent server, renewal and expiry.

use net::{Ipv4Address, Ipv4Cidr, NetConfig, NetEvent, NetState};

use net::testing::Net;
use net::testing::lan::{DNS_IP, DhcpServer, HOST_IP, STACK_IP};

fn dhcp_net() -> Net {
    let mut config = NetConfig::dhcp(42);
    config.hostname = Some("moteos".into());
    Net::new(config)
}

fn configured(net: &mut Net) -> bool {
    net.stack.status().state == NetState::Configured
}

#[test]
fn dhcp_lease_configures_address_router_and_dns() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    assert_eq!(net.stack.status().state, NetState::WaitingForDhcp);
    assert!(net.run_until(2_000, configured), "no lease within 2 s");

    let status = net.stack.status();
    assert_eq!(status.address, Some(Ipv4Cidr::new(STACK_IP, 24)));
    assert_eq!(status.gateway, Some(HOST_IP));
    assert_eq!(status.dns_servers, vec![DNS_IP]);
    let remaining = status.lease_remaining_s.unwrap();
    assert!((86_390..=86_400).contains(&remaining), "lease remaining {remaining}");
    assert_eq!(status.to_string(), "network: 10.0.2.15/24 via 10.0.2.2 (DHCP)");

    let events = net.stack.take_events();
    assert_eq!(
        events,
        vec![NetEvent::Configured {
            address: Ipv4Cidr::new(STACK_IP, 24),
            gateway: Some(HOST_IP),
            dns_servers: vec![DNS_IP],
            lease_s: Some(86_400),
        }]
    );
    assert!(net.stack.take_events().is_empty(), "events are handed out once");

    let server = net.lan.dhcp.as_ref().unwrap();
    assert_eq!((server.discovers, server.requests), (1, 1));
    assert_eq!(server.hostname.as_deref(), Some("moteos"));
}

#[test]
fn silent_network_reports_retrying_and_keeps_asking() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer { enabled: false, ..DhcpServer::qemu_like() });

    net.advance(9_000);
    assert_eq!(net.stack.status().state, NetState::WaitingForDhcp);
    assert!(net.stack.take_events().is_empty());

    net.advance(2_000);
    let status = net.stack.status();
    assert_eq!(status.state, NetState::DhcpRetrying);
    assert_eq!(status.address, None);
    assert_eq!(status.to_string(), "network: no DHCP server answered; retrying");
    assert_eq!(net.stack.take_events(), vec![NetEvent::DhcpRetrying { waited_s: 10 }]);

    // DISCOVERs keep going out every 10 s, and the notice is not repeated.
    let before = net.lan.dhcp_frames;
    net.advance(60_000);
    assert!(net.lan.dhcp_frames >= before + 5, "only {} DISCOVERs in 60 s", net.lan.dhcp_frames - before);
    assert!(net.stack.take_events().is_empty());
    assert!(net.stack.poll_delay(net.now).is_some(), "the retry timer must stay armed");

    // A server that shows up late still configures us.
    net.lan.dhcp.as_mut().unwrap().enabled = true;
    assert!(net.run_until(15_000, configured), "late server ignored");
    assert!(matches!(net.stack.take_events()[..], [NetEvent::Configured { .. }]));
}

#[test]
fn lease_is_renewed_before_it_expires() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer { lease_s: 120, ..DhcpServer::qemu_like() });
    assert!(net.run_until(2_000, configured));
    net.stack.take_events();

    // T1 is half the lease: the renewal happens at 60 s, and again at 120 s.
    net.advance(300_000);
    let status = net.stack.status();
    assert_eq!(status.state, NetState::Configured);
    assert!(net.lan.dhcp.as_ref().unwrap().renewals >= 4);
    assert!(status.lease_remaining_s.unwrap() >= 60, "lease not refreshed: {:?}", status.lease_remaining_s);
    let events = net.stack.take_events();
    assert!(!events.is_empty() && events.iter().all(|e| *e == NetEvent::LeaseRenewed { lease_s: 120 }), "{events:?}");
}

#[test]
fn expired_lease_deconfigures_and_recovers() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer { lease_s: 60, ..DhcpServer::qemu_like() });
    assert!(net.run_until(2_000, configured));
    net.stack.take_events();

    net.lan.dhcp.as_mut().unwrap().enabled = false;
    net.advance(61_000);
    let status = net.stack.status();
    assert_eq!(status.state, NetState::DhcpLost);
    assert_eq!(status.address, None);
    assert_eq!(status.gateway, None);
    assert_eq!(status.lease_remaining_s, None);
    assert_eq!(net.stack.take_events(), vec![NetEvent::DhcpLost]);
    assert_eq!(net.stack.connect(HOST_IP, 80), Err(net::NetError::NoAddress));

    net.lan.dhcp.as_mut().unwrap().enabled = true;
    assert!(net.run_until(30_000, configured), "no new lease after the server came back");
    // The DISCOVER right after expiry went unanswered, so the next one is 10 s later: by then the
    // status has said that no server answers.
    let events = net.stack.take_events();
    assert!(matches!(events[..], [NetEvent::DhcpRetrying { waited_s: 10 }, NetEvent::Configured { .. }]), "{events:?}");
}

#[test]
fn configured_dns_servers_come_before_dhcp_ones() {
    let mut config = NetConfig::dhcp(7);
    let own = Ipv4Address::new(1, 1, 1, 1);
    config.dns_servers = vec![own, Ipv4Address::UNSPECIFIED];
    let mut net = Net::new(config);
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    assert!(net.run_until(2_000, configured));
    assert_eq!(net.stack.status().dns_servers, vec![own, DNS_IP]);
}

#[test]
fn restart_dhcp_asks_again() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    assert!(net.run_until(2_000, configured));
    net.stack.take_events();

    net.stack.restart_dhcp();
    net.settle();
    assert!(net.run_until(5_000, configured));
    let events = net.stack.take_events();
    assert!(matches!(events[..], [NetEvent::DhcpLost, NetEvent::Configured { .. }]), "{events:?}");
    assert_eq!(net.lan.dhcp.as_ref().unwrap().discovers, 2);
}

/// The setup wizard switches addressing while running: DHCP → static takes the address at
/// once and stops DHCP traffic; static → DHCP asks for a lease from scratch.
#[test]
fn addressing_switches_while_running() {
    let mut net = dhcp_net();
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    assert!(net.run_until(2_000, configured), "no lease within 2 s");
    net.stack.take_events();

    let fixed = Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, 77), 24);
    net.stack.reconfigure(NetConfig::fixed(fixed, Some(HOST_IP), vec![DNS_IP], 0));
    let status = net.stack.status();
    assert_eq!((status.state, status.address, status.gateway), (NetState::Configured, Some(fixed), Some(HOST_IP)));
    assert_eq!(status.lease_remaining_s, None, "the lease is gone with the DHCP client");
    assert!(matches!(net.stack.take_events().as_slice(), [NetEvent::Configured { address, .. }] if *address == fixed));
    // No DHCP traffic any more, even past the lease's renewal time.
    let dhcp_frames = net.lan.dhcp_frames;
    net.advance(50_000_000);
    assert_eq!(net.lan.dhcp_frames, dhcp_frames, "DHCP kept talking after static addressing was chosen");
    assert_eq!(net.stack.status().address, Some(fixed));

    // The same static settings again change nothing (no second Configured event).
    net.stack.reconfigure(NetConfig::fixed(fixed, Some(HOST_IP), vec![DNS_IP], 0));
    assert!(net.stack.take_events().is_empty());

    // Back to DHCP: no address until the server answers, then its lease.
    net.stack.reconfigure(NetConfig::dhcp(0));
    assert_eq!(net.stack.status().state, NetState::WaitingForDhcp);
    assert_eq!(net.stack.status().address, None);
    assert!(net.run_until(2_000, configured), "no new lease within 2 s");
    assert_eq!(net.stack.status().address, Some(Ipv4Cidr::new(STACK_IP, 24)));
}
