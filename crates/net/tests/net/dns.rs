//! DNS: answers, NXDOMAIN, silence, several servers, literals and misuse.

use std::task::Poll;

use net::{DnsQuery, Ipv4Address, Ipv4Cidr, NetConfig, NetError};

use net::testing::Net;
use net::testing::lan::{DNS_IP, DhcpServer, DnsServer, HOST_IP, STACK_IP};

const API: Ipv4Address = Ipv4Address::new(93, 184, 216, 34);

fn static_net(dns_servers: Vec<Ipv4Address>) -> Net {
    Net::new(NetConfig::fixed(Ipv4Cidr::new(STACK_IP, 24), Some(HOST_IP), dns_servers, 99))
}

/// Runs until the query finishes; returns the result and how long it took.
fn wait(net: &mut Net, query: DnsQuery, max_ms: u64) -> (Result<Ipv4Address, NetError>, u64) {
    let start = net.now;
    let mut result = None;
    net.run_until(max_ms, |net| match net.stack.dns_result(query) {
        Poll::Ready(r) => {
            result = Some(r);
            true
        }
        Poll::Pending => false,
    });
    (result.expect("DNS query never finished"), net.now - start)
}

#[test]
fn a_record_resolves() {
    let mut net = static_net(vec![DNS_IP]);
    net.lan.dns.push(DnsServer::new(DNS_IP).with("api.example.com", API));
    let query = net.stack.resolve("api.example.com").unwrap();
    let (result, took) = wait(&mut net, query, 5_000);
    assert_eq!(result, Ok(API));
    assert!(took < 100, "took {took} ms");
    assert_eq!(net.stack.dns_result(query), Poll::Ready(Err(NetError::StaleHandle)), "results are collected once");
}

#[test]
fn nxdomain_fails_with_a_sentence() {
    let mut net = static_net(vec![DNS_IP]);
    net.lan.dns.push(DnsServer::new(DNS_IP).with("api.example.com", API));
    let query = net.stack.resolve("nope.example.com").unwrap();
    let (result, _) = wait(&mut net, query, 5_000);
    let error = result.unwrap_err();
    assert_eq!(error, NetError::DnsFailed { name: "nope.example.com".into(), server: DNS_IP });
    assert_eq!(error.to_string(), "DNS: nope.example.com does not exist or has no IPv4 address (answer from 10.0.2.3)");
}

#[test]
fn silent_server_times_out_after_ten_seconds() {
    let mut net = static_net(vec![DNS_IP]);
    net.lan.dns.push(DnsServer { silent: true, ..DnsServer::new(DNS_IP) });
    let query = net.stack.resolve("api.example.com").unwrap();
    let (result, took) = wait(&mut net, query, 20_000);
    let error = result.unwrap_err();
    assert_eq!(error.to_string(), "DNS: no answer for api.example.com from 10.0.2.3 within 10 s");
    assert!((10_000..10_100).contains(&took), "timed out after {took} ms");
    // smoltcp retransmitted to the one server meanwhile.
    assert!(net.lan.dns_server(DNS_IP).queries >= 3);
}

#[test]
fn second_server_answers_when_the_first_is_silent() {
    let backup = Ipv4Address::new(10, 0, 2, 4);
    let mut net = static_net(vec![DNS_IP, backup]);
    net.lan.dns.push(DnsServer { silent: true, ..DnsServer::new(DNS_IP) });
    net.lan.dns.push(DnsServer::new(backup).with("api.example.com", API));
    let query = net.stack.resolve("api.example.com").unwrap();
    let (result, took) = wait(&mut net, query, 20_000);
    assert_eq!(result, Ok(API));
    // Each of the two servers gets half of the 10 s deadline.
    assert!((5_000..5_100).contains(&took), "answered after {took} ms");
}

#[test]
fn all_silent_servers_are_named_in_the_timeout() {
    let backup = Ipv4Address::new(10, 0, 2, 4);
    let mut net = static_net(vec![DNS_IP, backup]);
    net.lan.dns.push(DnsServer { silent: true, ..DnsServer::new(DNS_IP) });
    net.lan.dns.push(DnsServer { silent: true, ..DnsServer::new(backup) });
    let query = net.stack.resolve("api.example.com").unwrap();
    let (result, took) = wait(&mut net, query, 20_000);
    assert_eq!(
        result.unwrap_err().to_string(),
        "DNS: no answer for api.example.com from 10.0.2.3 or 10.0.2.4 within 10 s"
    );
    assert!((10_000..10_100).contains(&took), "timed out after {took} ms");
}

#[test]
fn ipv4_literal_resolves_without_traffic() {
    let mut net = static_net(vec![]);
    let frames = net.lan.frames_from_stack;
    let query = net.stack.resolve("10.0.2.2").unwrap();
    assert_eq!(net.stack.dns_result(query), Poll::Ready(Ok(HOST_IP)));
    net.settle();
    assert_eq!(net.lan.frames_from_stack, frames);
}

#[test]
fn misuse_gives_errors_not_panics() {
    let mut net = static_net(vec![]);
    assert_eq!(net.stack.resolve("api.example.com"), Err(NetError::NoDnsServer));
    let mut net = static_net(vec![DNS_IP]);
    assert!(matches!(net.stack.resolve(""), Err(NetError::InvalidHostName(_))));
    assert!(matches!(net.stack.resolve("bad..name"), Err(NetError::InvalidHostName(_))));
    let long = "a".repeat(64) + ".com";
    assert!(matches!(net.stack.resolve(&long), Err(NetError::InvalidHostName(_))));

    // Cancelled and pending queries.
    net.lan.dns.push(DnsServer { silent: true, ..DnsServer::new(DNS_IP) });
    let query = net.stack.resolve("api.example.com").unwrap();
    assert_eq!(net.stack.dns_result(query), Poll::Pending);
    net.stack.cancel_dns(query);
    net.stack.cancel_dns(query);
    assert_eq!(net.stack.dns_result(query), Poll::Ready(Err(NetError::StaleHandle)));
    net.advance(15_000);
}

#[test]
fn resolving_before_dhcp_finishes_says_so() {
    let mut net = Net::new(NetConfig::dhcp(5));
    assert_eq!(net.stack.resolve("api.example.com"), Err(NetError::NoAddress));
    net.lan.dhcp = Some(DhcpServer::qemu_like());
    net.lan.dns.push(DnsServer::new(DNS_IP).with("api.example.com", API));
    net.advance(2_000);
    // DNS server learnt from DHCP.
    let query = net.stack.resolve("API.Example.com.").unwrap();
    assert_eq!(wait(&mut net, query, 5_000).0, Ok(API));
}

#[test]
fn concurrent_queries_finish_independently() {
    let mut net = static_net(vec![DNS_IP]);
    net.lan.dns.push(DnsServer::new(DNS_IP).with("a.example", Ipv4Address::new(1, 2, 3, 4)).with("b.example", API));
    let a = net.stack.resolve("a.example").unwrap();
    let b = net.stack.resolve("b.example").unwrap();
    let c = net.stack.resolve("c.example").unwrap();
    net.advance(100);
    assert_eq!(net.stack.dns_result(b), Poll::Ready(Ok(API)));
    assert_eq!(net.stack.dns_result(a), Poll::Ready(Ok(Ipv4Address::new(1, 2, 3, 4))));
    assert!(matches!(net.stack.dns_result(c), Poll::Ready(Err(NetError::DnsFailed { .. }))));
}
