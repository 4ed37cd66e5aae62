//! DHCP: smoltcp's client socket does the protocol (DISCOVER retries, renewal, rebinding, expiry);
//! this module applies its leases to the interface and turns them into status and events.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::dhcpv4;
use smoltcp::wire::{DhcpOption, DhcpPacket, DhcpRepr, Ipv4Address, Ipv4Cidr};

use crate::stack::NetStack;
use crate::status::{DHCP_RETRY_NOTICE_MS, NetEvent, NetState};

/// smoltcp assumes this lease when the server sends none; we must agree to show the right time.
const DEFAULT_LEASE_S: u64 = 120;

/// DHCP option 12 (host name).
const OPTION_HOSTNAME: u8 = 12;

/// Received DHCP messages are copied here so we can read the lease time, which smoltcp's `Config`
/// omits. A full Ethernet payload fits, so no reply is ever too large to copy.
const PACKET_COPY_LEN: usize = 1500;

/// The lease currently applied to the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    address: Ipv4Cidr,
    router: Option<Ipv4Address>,
    dns_servers: Vec<Ipv4Address>,
    expires_at_ms: u64,
}

/// Our side of the DHCP client: the smoltcp socket plus what we learnt from it.
#[derive(Debug)]
pub(crate) struct DhcpClient {
    socket: SocketHandle,
    lease: Option<Lease>,
    /// Since when we have been without a lease; `None` while we hold one.
    waiting_since_ms: Option<u64>,
    /// Whether the "no DHCP server answered" notice was given for this wait.
    notice_given: bool,
}

/// What the smoltcp socket reported, copied out so the socket borrow ends before we act on it.
enum Update {
    Lease { address: Ipv4Cidr, router: Option<Ipv4Address>, dns_servers: Vec<Ipv4Address>, lease_s: u64 },
    Lost,
}

impl DhcpClient {
    /// Adds the DHCP socket to `sockets`.
    ///
    /// smoltcp's socket borrows the packet-copy buffer and the outgoing options for the socket set's
    /// lifetime, which is `'static` here; they are leaked once (about 1.5 KiB plus the host name).
    /// A `NetStack` lives for the whole boot, so this is a one-off cost, not a growing leak.
    pub(crate) fn new(sockets: &mut SocketSet<'static>, hostname: Option<&str>, now_ms: u64) -> Self {
        let mut socket = dhcpv4::Socket::new();
        let packet_copy: &'static mut [u8] = Box::leak(vec![0u8; PACKET_COPY_LEN].into_boxed_slice());
        socket.set_receive_packet_buffer(packet_copy);
        if let Some(name) = hostname.filter(|n| !n.is_empty()) {
            let bytes = name.as_bytes();
            let data: &'static [u8] = Box::leak(Box::from(&bytes[..bytes.len().min(255)]));
            let options: &'static [DhcpOption<'static>] =
                Box::leak(Box::new([DhcpOption { kind: OPTION_HOSTNAME, data }]));
            socket.set_outgoing_options(options);
        }
        DhcpClient { socket: sockets.add(socket), lease: None, waiting_since_ms: Some(now_ms), notice_given: false }
    }

    /// DNS servers from the current lease.
    pub(crate) fn dns_servers(&self) -> &[Ipv4Address] {
        self.lease.as_ref().map_or(&[], |l| l.dns_servers.as_slice())
    }

    pub(crate) fn lease_remaining_s(&self, now_ms: u64) -> Option<u64> {
        self.lease.as_ref().map(|l| l.expires_at_ms.saturating_sub(now_ms) / 1000)
    }

    /// When the "no DHCP server answered" notice is due.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        match (self.waiting_since_ms, self.notice_given) {
            (Some(since), false) => Some(since.saturating_add(DHCP_RETRY_NOTICE_MS)),
            _ => None,
        }
    }

    /// Takes the DHCP socket out of `sockets` (static addressing chosen while running).
    pub(crate) fn remove(self, sockets: &mut SocketSet<'static>) {
        sockets.remove(self.socket);
    }

    pub(crate) fn restart(&mut self, sockets: &mut SocketSet<'static>, now_ms: u64) {
        sockets.get_mut::<dhcpv4::Socket<'_>>(self.socket).reset();
        if self.lease.is_none() {
            // Give a fresh server the full notice period before calling the network silent again.
            self.waiting_since_ms = Some(now_ms);
            self.notice_given = false;
        }
    }
}

/// The lease length in the server's ACK, which smoltcp copied into our buffer.
fn lease_seconds(packet: Option<DhcpPacket<&[u8]>>) -> u64 {
    let parsed = packet.as_ref().and_then(|p| DhcpRepr::parse(p).ok()).and_then(|r| r.lease_duration);
    parsed.map_or(DEFAULT_LEASE_S, u64::from)
}

impl<D: Device> NetStack<D> {
    /// Applies what the DHCP socket reported. Returns whether the interface's address changed.
    pub(crate) fn service_dhcp(&mut self, now_ms: u64) -> bool {
        let Some(handle) = self.dhcp.as_ref().map(|c| c.socket) else {
            return false;
        };
        let update = match self.sockets.get_mut::<dhcpv4::Socket<'_>>(handle).poll() {
            None => None,
            Some(dhcpv4::Event::Deconfigured) => Some(Update::Lost),
            Some(dhcpv4::Event::Configured(config)) => Some(Update::Lease {
                address: config.address,
                router: config.router,
                dns_servers: config.dns_servers.iter().copied().collect(),
                lease_s: lease_seconds(config.packet),
            }),
        };
        match update {
            None => {
                self.check_dhcp_silence(now_ms);
                false
            }
            Some(Update::Lost) => self.dhcp_lost(now_ms),
            Some(Update::Lease { address, router, dns_servers, lease_s }) => {
                let lease = Lease {
                    address,
                    router,
                    dns_servers,
                    expires_at_ms: now_ms.saturating_add(lease_s.saturating_mul(1000)),
                };
                self.dhcp_lease(lease, lease_s)
            }
        }
    }

    fn dhcp_lease(&mut self, lease: Lease, lease_s: u64) -> bool {
        let Some(client) = self.dhcp.as_mut() else {
            return false;
        };
        let renewal = client.lease.as_ref().is_some_and(|old| {
            old.address == lease.address && old.router == lease.router && old.dns_servers == lease.dns_servers
        });
        let (address, gateway) = (lease.address, lease.router);
        client.lease = Some(lease);
        client.waiting_since_ms = None;
        client.notice_given = false;
        if renewal {
            self.events.push(NetEvent::LeaseRenewed { lease_s });
            return false;
        }
        self.become_configured(address, gateway, Some(lease_s));
        true
    }

    fn dhcp_lost(&mut self, now_ms: u64) -> bool {
        let Some(client) = self.dhcp.as_mut() else {
            return false;
        };
        // smoltcp also says "deconfigured" once at start-up, before any lease: nothing to undo then.
        if client.lease.take().is_none() {
            return false;
        }
        client.waiting_since_ms = Some(now_ms);
        client.notice_given = false;
        self.set_address(None, None);
        self.state = NetState::DhcpLost;
        self.events.push(NetEvent::DhcpLost);
        true
    }

    fn check_dhcp_silence(&mut self, now_ms: u64) {
        let Some(client) = self.dhcp.as_mut() else {
            return;
        };
        let Some(since) = client.waiting_since_ms else {
            return;
        };
        let waited = now_ms.saturating_sub(since);
        if !client.notice_given && waited >= DHCP_RETRY_NOTICE_MS {
            client.notice_given = true;
            self.state = NetState::DhcpRetrying;
            self.events.push(NetEvent::DhcpRetrying { waited_s: waited / 1000 });
        }
    }
}
