//! What the status bar shows and what the log records about the interface.

use alloc::vec::Vec;
use core::fmt;

use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// How long DHCP may stay silent before the status says so (smoltcp re-sends DISCOVER every 10 s,
/// so by then at least one retry has gone unanswered).
pub const DHCP_RETRY_NOTICE_MS: u64 = 10_000;

/// Where the interface is in getting (or keeping) an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetState {
    /// DHCP is running and has not yet had [`DHCP_RETRY_NOTICE_MS`] to answer.
    WaitingForDhcp,
    /// No DHCP server answered for [`DHCP_RETRY_NOTICE_MS`] or more; DISCOVERs keep going out.
    DhcpRetrying,
    /// We have an address (from DHCP or static configuration).
    Configured,
    /// A DHCP lease expired or was refused (NAK); DISCOVERs go out again.
    DhcpLost,
}

/// A snapshot of the interface for the status bar. `Display` gives its one-line text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetStatus {
    /// Where address configuration stands.
    pub state: NetState,
    /// Our address and prefix, if configured.
    pub address: Option<Ipv4Cidr>,
    /// The default router, if any.
    pub gateway: Option<Ipv4Address>,
    /// DNS servers in the order they are asked (configured first, then DHCP's).
    pub dns_servers: Vec<Ipv4Address>,
    /// Seconds until the DHCP lease runs out, as of the last `poll`; `None` for static configuration
    /// or without a lease.
    pub lease_remaining_s: Option<u64>,
}

impl fmt::Display for NetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.state, self.address) {
            (NetState::Configured, Some(address)) => {
                write!(f, "network: {address}")?;
                if let Some(gateway) = self.gateway {
                    write!(f, " via {gateway}")?;
                }
                if self.lease_remaining_s.is_some() {
                    f.write_str(" (DHCP)")?;
                }
                Ok(())
            }
            (NetState::WaitingForDhcp, _) | (NetState::Configured, None) => f.write_str("network: waiting for DHCP"),
            (NetState::DhcpRetrying, _) => f.write_str("network: no DHCP server answered; retrying"),
            (NetState::DhcpLost, _) => f.write_str("network: DHCP lease lost; asking again"),
        }
    }
}

/// Something that changed, for the log and the status bar; collected by [`crate::NetStack::take_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// An address was configured (statically at start-up, or from a new or changed DHCP lease).
    Configured {
        /// Our address and prefix.
        address: Ipv4Cidr,
        /// The default router, if any.
        gateway: Option<Ipv4Address>,
        /// All DNS servers now in use (configured first, then DHCP's).
        dns_servers: Vec<Ipv4Address>,
        /// Lease length in seconds; `None` for static configuration.
        lease_s: Option<u64>,
    },
    /// The DHCP server renewed our lease with unchanged settings.
    LeaseRenewed {
        /// The new lease length in seconds.
        lease_s: u64,
    },
    /// The DHCP lease expired or was refused: the address is gone and open connections are reset.
    DhcpLost,
    /// No DHCP server has answered for `waited_s` seconds; the client keeps asking.
    DhcpRetrying {
        /// How long we have been waiting.
        waited_s: u64,
    },
}

impl fmt::Display for NetEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetEvent::Configured { address, gateway, dns_servers, lease_s } => {
                write!(f, "network: configured {address}")?;
                if let Some(gateway) = gateway {
                    write!(f, ", gateway {gateway}")?;
                }
                if !dns_servers.is_empty() {
                    f.write_str(", DNS")?;
                    for server in dns_servers {
                        write!(f, " {server}")?;
                    }
                }
                match lease_s {
                    Some(lease_s) => write!(f, " (DHCP lease {lease_s} s)"),
                    None => f.write_str(" (static)"),
                }
            }
            NetEvent::LeaseRenewed { lease_s } => write!(f, "network: DHCP lease renewed for {lease_s} s"),
            NetEvent::DhcpLost => f.write_str("network: DHCP lease lost; address removed, asking again"),
            NetEvent::DhcpRetrying { waited_s } => {
                write!(f, "network: no DHCP server answered in {waited_s} s; retrying")
            }
        }
    }
}
