//! What the kernel tells the stack at start-up (from `[network]` in `config.toml` plus boot entropy).

use alloc::string::String;
use alloc::vec::Vec;

use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// How the interface gets its IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressMode {
    /// Ask a DHCP server; smoltcp's DHCP client keeps retrying and renews the lease.
    Dhcp,
    /// A fixed address; no DHCP traffic is sent at all.
    Static {
        /// Our address and prefix length, e.g. `10.0.2.15/24`.
        address: Ipv4Cidr,
        /// The router for destinations outside `address`'s network; `None` keeps us on the local link.
        gateway: Option<Ipv4Address>,
    },
}

/// Start-up configuration of a [`crate::NetStack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// DHCP or static addressing.
    pub mode: AddressMode,
    /// DNS servers from the user's configuration. They are asked first; servers learnt from DHCP are
    /// tried after them (at most [`crate::MAX_DNS_SERVERS`] in total).
    pub dns_servers: Vec<Ipv4Address>,
    /// Seeds smoltcp (TCP sequence numbers, DHCP transaction ids, DNS ports) and our choice of
    /// ephemeral ports; from real entropy, or every boot would repeat the same ports.
    pub random_seed: u64,
    /// Sent to the DHCP server (option 12) so routers list the machine by name; truncated to 255 bytes.
    pub hostname: Option<String>,
}

impl NetConfig {
    /// DHCP with no extra DNS servers and no host name: the common case.
    pub fn dhcp(random_seed: u64) -> Self {
        NetConfig { mode: AddressMode::Dhcp, dns_servers: Vec::new(), random_seed, hostname: None }
    }

    /// A static address with an optional gateway and the given DNS servers.
    pub fn fixed(
        address: Ipv4Cidr,
        gateway: Option<Ipv4Address>,
        dns_servers: Vec<Ipv4Address>,
        random_seed: u64,
    ) -> Self {
        NetConfig { mode: AddressMode::Static { address, gateway }, dns_servers, random_seed, hostname: None }
    }
}
