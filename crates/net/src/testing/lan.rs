//! The network on the far side of the cable: hand-built ARP, DHCP and DNS responders (from smoltcp's
//! wire types), and optionally a peer smoltcp stack that gets every frame they do not consume.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use std::collections::HashMap;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, DHCP_MAX_DNS_SERVER_COUNT, DhcpMessageType, DhcpPacket, DhcpRepr,
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpProtocol, Ipv4Address, Ipv4Cidr, Ipv4Packet,
    Ipv4Repr, UdpPacket, UdpRepr,
};

use super::peer::Peer;
use super::wire::{WireEnd, cable};

pub const STACK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
/// The MAC every hand-built responder answers from.
pub const VIRTUAL_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);

pub const STACK_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
pub const HOST_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
pub const DNS_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 3);

/// A DHCP server like QEMU's: offers 10.0.2.15/24 with router 10.0.2.2 and DNS 10.0.2.3.
pub struct DhcpServer {
    /// When false the server ignores everything (as if unplugged).
    pub enabled: bool,
    pub server_ip: Ipv4Address,
    pub offer: Ipv4Address,
    pub netmask: Ipv4Address,
    pub router: Option<Ipv4Address>,
    pub dns: Vec<Ipv4Address>,
    pub lease_s: u32,
    pub discovers: usize,
    pub requests: usize,
    /// REQUESTs that carried our current address (renewing or rebinding).
    pub renewals: usize,
    /// Host name (option 12) from the last message that carried one.
    pub hostname: Option<String>,
}

impl DhcpServer {
    pub fn qemu_like() -> Self {
        DhcpServer {
            enabled: true,
            server_ip: HOST_IP,
            offer: STACK_IP,
            netmask: Ipv4Address::new(255, 255, 255, 0),
            router: Some(HOST_IP),
            dns: vec![DNS_IP],
            lease_s: 86_400,
            discovers: 0,
            requests: 0,
            renewals: 0,
            hostname: None,
        }
    }

    /// Answers a client message with the DHCP payload of the reply, if any.
    fn answer(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let packet = DhcpPacket::new_checked(payload).ok()?;
        let request = DhcpRepr::parse(&packet).ok()?;
        if let Some(name) = option(payload, 12) {
            self.hostname = Some(String::from_utf8_lossy(name).into_owned());
        }
        if !self.enabled {
            return None;
        }
        let message_type = match request.message_type {
            DhcpMessageType::Discover => {
                self.discovers += 1;
                DhcpMessageType::Offer
            }
            DhcpMessageType::Request => {
                self.requests += 1;
                if request.client_ip == self.offer {
                    self.renewals += 1;
                }
                DhcpMessageType::Ack
            }
            _ => return None,
        };
        let mut dns_servers = heapless::Vec::<Ipv4Address, DHCP_MAX_DNS_SERVER_COUNT>::new();
        for &server in &self.dns {
            dns_servers.push(server).unwrap();
        }
        let reply = DhcpRepr {
            message_type,
            transaction_id: request.transaction_id,
            secs: 0,
            client_hardware_address: request.client_hardware_address,
            client_ip: Ipv4Address::UNSPECIFIED,
            your_ip: self.offer,
            server_ip: self.server_ip,
            router: self.router,
            subnet_mask: Some(self.netmask),
            relay_agent_ip: Ipv4Address::UNSPECIFIED,
            broadcast: false,
            requested_ip: None,
            client_identifier: None,
            server_identifier: Some(self.server_ip),
            parameter_request_list: None,
            dns_servers: Some(dns_servers),
            max_size: None,
            lease_duration: Some(self.lease_s),
            renew_duration: None,
            rebind_duration: None,
            additional_options: &[],
        };
        let mut buffer = vec![0u8; reply.buffer_len()];
        reply.emit(&mut DhcpPacket::new_unchecked(&mut buffer[..])).unwrap();
        Some(buffer)
    }
}

/// The raw data of DHCP option `kind` (smoltcp's parser keeps only the options it knows).
fn option(payload: &[u8], kind: u8) -> Option<&[u8]> {
    // Options follow the 236-byte fixed header and the 4-byte magic cookie.
    let mut rest = payload.get(240..)?;
    while let Some((&k, tail)) = rest.split_first() {
        match k {
            0 => rest = tail,
            255 => return None,
            _ => {
                let (&len, tail) = tail.split_first()?;
                let data = tail.get(..usize::from(len))?;
                if k == kind {
                    return Some(data);
                }
                rest = &tail[usize::from(len)..];
            }
        }
    }
    None
}

/// A DNS server answering A queries from a table, NXDOMAIN for everything else.
pub struct DnsServer {
    pub ip: Ipv4Address,
    pub records: HashMap<String, Ipv4Address>,
    /// Drop every query (the server is down, but ARP still answers).
    pub silent: bool,
    pub queries: usize,
}

impl DnsServer {
    pub fn new(ip: Ipv4Address) -> Self {
        DnsServer { ip, records: HashMap::new(), silent: false, queries: 0 }
    }

    pub fn with(mut self, name: &str, addr: Ipv4Address) -> Self {
        self.records.insert(name.to_string(), addr);
        self
    }

    /// The DNS payload of the answer to `query`, if any.
    fn answer(&mut self, query: &[u8]) -> Option<Vec<u8>> {
        self.queries += 1;
        if self.silent || query.len() < 12 {
            return None;
        }
        // The question: labels, then QTYPE and QCLASS.
        let mut labels = Vec::new();
        let mut at = 12;
        loop {
            let len = usize::from(*query.get(at)?);
            at += 1;
            if len == 0 {
                break;
            }
            labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
            at += len;
        }
        let question_end = at + 4;
        let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
        let name = labels.join(".");
        let found = self.records.get(&name).filter(|_| qtype == 1);

        let mut reply = Vec::new();
        reply.extend_from_slice(&query[0..2]); // transaction id
        let rcode = if found.is_some() { 0 } else { 3 }; // 3 = NXDOMAIN
        reply.extend_from_slice(&[0x81, 0x80 | rcode]); // response, recursion desired + available
        reply.extend_from_slice(&[0, 1, 0, u8::from(found.is_some()), 0, 0, 0, 0]);
        reply.extend_from_slice(&query[12..question_end]);
        if let Some(addr) = found {
            // Name as a pointer to the question, type A, class IN, TTL 300, 4 bytes of address.
            reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
            reply.extend_from_slice(&addr.octets());
        }
        Some(reply)
    }
}

/// Everything on the far side of the stack's cable.
pub struct Lan {
    /// Our end of the cable to the stack under test.
    stack_side: WireEnd,
    pub dhcp: Option<DhcpServer>,
    pub dns: Vec<DnsServer>,
    peer: Option<(Peer, WireEnd)>,
    /// UDP datagrams to port 67 seen, answered or not.
    pub dhcp_frames: usize,
    /// Every frame the stack sent.
    pub frames_from_stack: usize,
}

impl Lan {
    pub fn new(stack_side: WireEnd) -> Self {
        Lan { stack_side, dhcp: None, dns: Vec::new(), peer: None, dhcp_frames: 0, frames_from_stack: 0 }
    }

    /// Adds the smoltcp "host" at 10.0.2.2/24.
    pub fn add_peer(&mut self, now_ms: u64) {
        let (ours, theirs) = cable();
        let peer = Peer::new(theirs, PEER_MAC, Ipv4Cidr::new(HOST_IP, 24), now_ms);
        self.peer = Some((peer, ours));
    }

    pub fn peer(&mut self) -> &mut Peer {
        &mut self.peer.as_mut().expect("this test has no peer").0
    }

    pub fn dns_server(&mut self, ip: Ipv4Address) -> &mut DnsServer {
        self.dns.iter_mut().find(|d| d.ip == ip).expect("no such DNS server")
    }

    /// IPs the hand-built responders answer ARP for.
    fn virtual_ips(&self) -> Vec<Ipv4Address> {
        let mut ips: Vec<Ipv4Address> = self.dns.iter().map(|d| d.ip).collect();
        if let Some(dhcp) = &self.dhcp
            && self.peer.as_ref().is_none_or(|(p, _)| p.ip != dhcp.server_ip)
        {
            ips.push(dhcp.server_ip);
        }
        ips
    }

    /// Moves frames one round: the stack's frames to the responders or the peer, the peer's frames to
    /// the stack. Returns whether any frame moved.
    pub fn step(&mut self, now_ms: u64) -> bool {
        let mut moved = false;
        while let Some(frame) = self.stack_side.pop() {
            moved = true;
            self.frames_from_stack += 1;
            match self.respond(&frame) {
                Verdict::Reply(reply) => self.stack_side.push(reply),
                Verdict::Drop => {}
                Verdict::Pass => {
                    if let Some((_, link)) = &self.peer {
                        link.push(frame);
                    }
                }
            }
        }
        if let Some((peer, link)) = &mut self.peer {
            peer.poll(now_ms);
            while let Some(frame) = link.pop() {
                moved = true;
                self.stack_side.push(frame);
            }
        }
        moved
    }

    pub fn poll_delay(&mut self, now_ms: u64) -> Option<u64> {
        self.peer.as_mut().and_then(|(p, _)| p.poll_delay(now_ms))
    }

    /// What the responders do with `frame`.
    fn respond(&mut self, frame: &[u8]) -> Verdict {
        self.try_respond(frame).unwrap_or(Verdict::Pass)
    }

    fn try_respond(&mut self, frame: &[u8]) -> Option<Verdict> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let ArpRepr::EthernetIpv4 {
                    operation,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                } = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?
                else {
                    return None;
                };
                if operation != ArpOperation::Request || !self.virtual_ips().contains(&target_protocol_addr) {
                    return None;
                }
                let reply = ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Reply,
                    source_hardware_addr: VIRTUAL_MAC,
                    source_protocol_addr: target_protocol_addr,
                    target_hardware_addr: source_hardware_addr,
                    target_protocol_addr: source_protocol_addr,
                };
                let header = EthernetRepr {
                    src_addr: VIRTUAL_MAC,
                    dst_addr: source_hardware_addr,
                    ethertype: EthernetProtocol::Arp,
                };
                let mut buffer = vec![0u8; header.buffer_len() + reply.buffer_len()];
                let mut out = EthernetFrame::new_unchecked(&mut buffer[..]);
                header.emit(&mut out);
                reply.emit(&mut ArpPacket::new_unchecked(out.payload_mut()));
                Some(Verdict::Reply(buffer))
            }
            EthernetProtocol::Ipv4 => {
                let caps = ChecksumCapabilities::default();
                let ip_packet = Ipv4Packet::new_checked(eth.payload()).ok()?;
                let ip = Ipv4Repr::parse(&ip_packet, &caps).ok()?;
                if ip.next_header != IpProtocol::Udp {
                    return None;
                }
                let udp_packet = UdpPacket::new_checked(ip_packet.payload()).ok()?;
                let udp = UdpRepr::parse(&udp_packet, &ip.src_addr.into(), &ip.dst_addr.into(), &caps).ok()?;
                let client = eth.src_addr();
                if udp.dst_port == 67 {
                    self.dhcp_frames += 1;
                    let dhcp = self.dhcp.as_mut()?;
                    let server_ip = dhcp.server_ip;
                    // Consume DHCP even when unanswered, so it never reaches the peer.
                    return Some(match dhcp.answer(udp_packet.payload()) {
                        Some(r) => Verdict::Reply(udp_frame(client, server_ip, Ipv4Address::BROADCAST, 67, 68, &r)),
                        None => Verdict::Drop,
                    });
                }
                if udp.dst_port == 53 {
                    let server = self.dns.iter_mut().find(|d| d.ip == ip.dst_addr)?;
                    return Some(match server.answer(udp_packet.payload()) {
                        Some(r) => Verdict::Reply(udp_frame(client, ip.dst_addr, ip.src_addr, 53, udp.src_port, &r)),
                        None => Verdict::Drop,
                    });
                }
                None
            }
            _ => None,
        }
    }
}

enum Verdict {
    /// Consumed; send this frame back to the stack.
    Reply(Vec<u8>),
    /// Consumed without an answer.
    Drop,
    /// Not for a responder: hand it to the peer (if any).
    Pass,
}

/// An Ethernet frame from a virtual host carrying one UDP datagram.
fn udp_frame(
    dst_mac: EthernetAddress,
    src: Ipv4Address,
    dst: Ipv4Address,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let caps = ChecksumCapabilities::default();
    let udp = UdpRepr { src_port, dst_port };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr { src_addr: VIRTUAL_MAC, dst_addr: dst_mac, ethertype: EthernetProtocol::Ipv4 };
    let mut buffer = vec![0u8; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
    let mut frame = EthernetFrame::new_unchecked(&mut buffer[..]);
    eth.emit(&mut frame);
    let mut ip_packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut ip_packet, &caps);
    let mut udp_packet = UdpPacket::new_unchecked(ip_packet.payload_mut());
    udp.emit(&mut udp_packet, &src.into(), &dst.into(), payload.len(), |b| b.copy_from_slice(payload), &caps);
    buffer
}
