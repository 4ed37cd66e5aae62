//! `NetStack`: the interface, its sockets, and the loop that drives them.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use crate::config::{AddressMode, NetConfig};
use crate::dhcp::DhcpClient;
use crate::dns::DnsEntry;
use crate::rng::SplitMix64;
use crate::status::{NetEvent, NetState, NetStatus};
use crate::tcp::{Lingering, TcpEntry};

/// What a call to [`NetStack::poll`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    /// Nothing observable changed: no socket moved, no event was queued, no query finished.
    Idle,
    /// Something changed: check connections, DNS queries and [`NetStack::take_events`].
    Changed,
}

/// The network stack: one Ethernet interface over `D`, with DHCP or static addressing, DNS and TCP.
///
/// The kernel owns it and lends `&mut` access to whoever needs the network; see the crate docs for
/// the polling loop. Handles it gives out ([`crate::TcpHandle`], [`crate::DnsQuery`]) stay safe to use
/// after their connection or query is gone: they return errors, never panic.
pub struct NetStack<D: Device> {
    pub(crate) device: D,
    pub(crate) mac: EthernetAddress,
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    /// The latest time given to `poll`/`poll_delay`; never goes backwards.
    pub(crate) now_ms: u64,
    pub(crate) rng: SplitMix64,
    pub(crate) events: Vec<NetEvent>,
    pub(crate) state: NetState,
    /// DNS servers from the configuration, asked before DHCP's.
    pub(crate) configured_dns: Vec<Ipv4Address>,
    /// `None` in static mode.
    pub(crate) dhcp: Option<DhcpClient>,
    /// Next id for a TCP or DNS handle; ids are never reused, so a stale handle can never alias.
    pub(crate) next_id: u64,
    pub(crate) tcp: BTreeMap<u64, TcpEntry>,
    /// Released connections still finishing their close handshake (or sending their RST), with the
    /// time after which they are dropped regardless.
    pub(crate) lingering: Vec<Lingering>,
    pub(crate) dns: BTreeMap<u64, DnsEntry>,
    /// One smoltcp DNS socket per server in use.
    pub(crate) dns_sockets: Vec<(Ipv4Address, SocketHandle)>,
}

impl<D: Device> core::fmt::Debug for NetStack<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetStack")
            .field("status", &self.status())
            .field("tcp_connections", &self.tcp.len())
            .field("dns_queries", &self.dns.len())
            .finish_non_exhaustive()
    }
}

/// smoltcp counts time in signed microseconds; clamp so a huge `now_ms` cannot overflow it.
pub(crate) fn instant(ms: u64) -> Instant {
    Instant::from_millis(i64::try_from(ms).unwrap_or(i64::MAX).min(i64::MAX / 1000))
}

/// The IPv4 half of an address (the only half compiled in, unless another crate enables IPv6).
#[allow(unreachable_patterns)]
pub(crate) fn ipv4_of(addr: IpAddress) -> Option<Ipv4Address> {
    match addr {
        IpAddress::Ipv4(a) => Some(a),
        _ => None,
    }
}

impl<D: Device> NetStack<D> {
    /// Brings up the interface on `device` with hardware address `mac`.
    ///
    /// Static mode configures the address at once (and queues a [`NetEvent::Configured`]); DHCP mode
    /// sends its first DISCOVER on the first `poll`. `now_ms` is milliseconds since boot.
    pub fn new(mut device: D, mac: EthernetAddress, config: NetConfig, now_ms: u64) -> Self {
        let mut iface_config = Config::new(HardwareAddress::Ethernet(mac));
        iface_config.random_seed = config.random_seed;
        let iface = Interface::new(iface_config, &mut device, instant(now_ms));

        let mut stack = NetStack {
            device,
            mac,
            iface,
            sockets: SocketSet::new(Vec::new()),
            now_ms,
            rng: SplitMix64::new(config.random_seed),
            events: Vec::new(),
            state: NetState::WaitingForDhcp,
            configured_dns: Vec::new(),
            dhcp: None,
            next_id: 1,
            tcp: BTreeMap::new(),
            lingering: Vec::new(),
            dns: BTreeMap::new(),
            dns_sockets: Vec::new(),
        };
        stack.configured_dns = usable_dns(config.dns_servers);
        match config.mode {
            AddressMode::Static { address, gateway } => {
                stack.become_configured(address, gateway, None);
            }
            AddressMode::Dhcp => {
                let client = DhcpClient::new(&mut stack.sockets, config.hostname.as_deref(), now_ms);
                stack.dhcp = Some(client);
            }
        }
        stack
    }

    /// Switches the addressing while running (the setup wizard's network step): a static
    /// address is taken at once (a [`NetEvent::Configured`] follows), DHCP starts asking for a
    /// lease from scratch, and the configured DNS servers are replaced. Connections opened over
    /// an old address are left to fail on their own. The same mode with the same address
    /// only replaces the DNS servers (a DHCP lease is kept).
    pub fn reconfigure(&mut self, config: NetConfig) {
        self.configured_dns = usable_dns(config.dns_servers);
        match config.mode {
            AddressMode::Static { address, gateway } => {
                if let Some(dhcp) = self.dhcp.take() {
                    dhcp.remove(&mut self.sockets);
                }
                let gateway_now = self.iface.routes().get_default_ipv4_route().and_then(|r| ipv4_of(r.via_router));
                if self.address() != Some(address) || gateway_now != gateway || self.state != NetState::Configured {
                    self.become_configured(address, gateway, None);
                }
            }
            AddressMode::Dhcp if self.dhcp.is_some() => {}
            AddressMode::Dhcp => {
                self.set_address(None, None);
                self.state = NetState::WaitingForDhcp;
                let client = DhcpClient::new(&mut self.sockets, config.hostname.as_deref(), self.now_ms);
                self.dhcp = Some(client);
            }
        }
    }

    /// Drives the interface: receives and sends frames, runs DHCP, advances DNS queries and TCP
    /// timers. Call it after a NIC interrupt, when the [`Self::poll_delay`] timer fires, and after the
    /// application queued data or closed a connection (sending happens here, not in [`Self::send`]).
    pub fn poll(&mut self, now_ms: u64) -> PollResult {
        let now_ms = self.advance_clock(now_ms);
        let events_before = self.events.len();
        let mut changed = matches!(
            self.iface.poll(instant(now_ms), &mut self.device, &mut self.sockets),
            smoltcp::iface::PollResult::SocketStateChanged
        );
        if self.service_dhcp(now_ms) {
            // A new address lets queued DNS queries and SYNs leave now rather than on the next poll.
            self.iface.poll(instant(now_ms), &mut self.device, &mut self.sockets);
            changed = true;
        }
        changed |= self.service_dns(now_ms);
        changed |= self.service_tcp(now_ms);
        changed |= self.events.len() != events_before;
        if changed { PollResult::Changed } else { PollResult::Idle }
    }

    /// Milliseconds until the stack next needs [`Self::poll`] even if no packet arrives: `Some(0)`
    /// means poll now, `None` means only an incoming packet (or an application call) can make
    /// progress. Covers smoltcp's timers (retransmission, delayed ACK, DHCP, DNS retries) and ours
    /// (connect and DNS deadlines, the DHCP retry notice).
    pub fn poll_delay(&mut self, now_ms: u64) -> Option<u64> {
        let now_ms = self.advance_clock(now_ms);
        let smoltcp_delay = self.iface.poll_delay(instant(now_ms), &self.sockets).map(|d: Duration| d.total_millis());
        let ours = self.next_deadline_ms().map(|at| at.saturating_sub(now_ms));
        match (smoltcp_delay, ours) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current address configuration, for the status bar (its `Display` is the bar's text).
    pub fn status(&self) -> NetStatus {
        let address = self.address();
        let gateway = self.iface.routes().get_default_ipv4_route().and_then(|r| ipv4_of(r.via_router));
        let lease_remaining_s = self.dhcp.as_ref().and_then(|d| d.lease_remaining_s(self.now_ms));
        NetStatus { state: self.state, address, gateway, dns_servers: self.dns_servers(), lease_remaining_s }
    }

    /// Takes the events queued since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<NetEvent> {
        core::mem::take(&mut self.events)
    }

    /// Forgets the DHCP lease and starts over with DISCOVER (e.g. after the link came back up, maybe
    /// on another network). Does nothing in static mode.
    pub fn restart_dhcp(&mut self) {
        if let Some(dhcp) = &mut self.dhcp {
            dhcp.restart(&mut self.sockets, self.now_ms);
        }
    }

    /// The hardware address the interface uses.
    pub fn mac(&self) -> EthernetAddress {
        self.mac
    }

    /// The network device, e.g. for the kernel to acknowledge its interrupts.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The DNS servers in the order they are asked: configured ones, then DHCP's, at most
    /// [`crate::MAX_DNS_SERVERS`].
    pub(crate) fn dns_servers(&self) -> Vec<Ipv4Address> {
        let mut servers = self.configured_dns.clone();
        if let Some(dhcp) = &self.dhcp {
            for &server in dhcp.dns_servers() {
                if !servers.contains(&server) && servers.len() < crate::MAX_DNS_SERVERS {
                    servers.push(server);
                }
            }
        }
        servers
    }

    /// Our IPv4 address and prefix, if configured.
    pub fn address(&self) -> Option<Ipv4Cidr> {
        self.iface.ip_addrs().iter().find_map(|cidr| {
            #[allow(unreachable_patterns)]
            match cidr {
                IpCidr::Ipv4(c) => Some(*c),
                _ => None,
            }
        })
    }

    /// Takes `address` (from DHCP with `lease_s`, or static with `None`), marks the
    /// stack configured and reports it.
    pub(crate) fn become_configured(&mut self, address: Ipv4Cidr, gateway: Option<Ipv4Address>, lease_s: Option<u64>) {
        self.set_address(Some(address), gateway);
        self.state = NetState::Configured;
        self.events.push(NetEvent::Configured { address, gateway, dns_servers: self.dns_servers(), lease_s });
    }

    /// Replaces the interface's address and default route (`None` removes them).
    pub(crate) fn set_address(&mut self, address: Option<Ipv4Cidr>, gateway: Option<Ipv4Address>) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            if let Some(address) = address {
                // Cannot fail: the list was just emptied and holds at least one address.
                let _ = addrs.push(IpCidr::Ipv4(address));
            }
        });
        let routes = self.iface.routes_mut();
        routes.remove_default_ipv4_route();
        if let (Some(_), Some(gateway)) = (address, gateway) {
            // Cannot fail: the only IPv4 default route was just removed.
            let _ = routes.add_default_ipv4_route(gateway);
        }
    }

    pub(crate) fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn advance_clock(&mut self, now_ms: u64) -> u64 {
        // A clock that steps back (e.g. a coarse timer source) must not rewind smoltcp's timers.
        self.now_ms = self.now_ms.max(now_ms);
        self.now_ms
    }

    /// The earliest of our own deadlines (smoltcp tracks its own).
    fn next_deadline_ms(&self) -> Option<u64> {
        let dhcp = self.dhcp.as_ref().and_then(DhcpClient::next_deadline_ms);
        let dns = self.dns.values().filter_map(DnsEntry::next_deadline_ms).min();
        let tcp = self.tcp.values().filter_map(TcpEntry::next_deadline_ms).min();
        let linger = self.lingering.iter().map(Lingering::deadline_ms).min();
        [dhcp, dns, tcp, linger].into_iter().flatten().min()
    }
}

/// The configured DNS servers worth asking: unusable entries (0.0.0.0, broadcast,
/// multicast) would only make every query fail; duplicates are dropped; at most
/// [`crate::MAX_DNS_SERVERS`].
fn usable_dns(servers: Vec<Ipv4Address>) -> Vec<Ipv4Address> {
    let mut usable = Vec::new();
    for server in servers {
        if server.is_unspecified() || server.is_broadcast() || server.is_multicast() {
            continue;
        }
        if !usable.contains(&server) && usable.len() < crate::MAX_DNS_SERVERS {
            usable.push(server);
        }
    }
    usable
}
