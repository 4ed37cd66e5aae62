//! Every way a network operation can fail, each with a sentence the user can act on.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// A failed network operation. `Display` gives the sentence shown on screen and in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// The interface has no IPv4 address yet (DHCP has not answered, or the lease was lost).
    NoAddress,
    /// Neither the configuration nor DHCP named a DNS server.
    NoDnsServer,
    /// The name cannot be put in a DNS query (empty, a label over 63 bytes, over 255 bytes in total).
    InvalidHostName(String),
    /// No DNS server answered within the deadline.
    DnsTimeout {
        /// The name that was looked up.
        name: String,
        /// The servers that were asked, in order.
        servers: Vec<Ipv4Address>,
        /// The overall deadline in seconds.
        timeout_s: u64,
    },
    /// A DNS server answered, but with no IPv4 address (NXDOMAIN, no A record, or a server failure).
    DnsFailed {
        /// The name that was looked up.
        name: String,
        /// The server whose answer we got.
        server: Ipv4Address,
    },
    /// The destination is outside our network and there is no gateway to reach it.
    NoRoute {
        /// Where we wanted to go.
        addr: Ipv4Address,
        /// Our own network, to show why it is not reachable directly.
        network: Ipv4Cidr,
    },
    /// The destination cannot be connected to at all (port 0, 0.0.0.0, broadcast or multicast).
    InvalidEndpoint {
        /// Destination address.
        addr: Ipv4Address,
        /// Destination port.
        port: u16,
    },
    /// Every ephemeral port is in use by another connection.
    NoFreePort,
    /// The peer answered our SYN with a reset: nothing listens on that port.
    ConnectionRefused {
        /// Destination address.
        addr: Ipv4Address,
        /// Destination port.
        port: u16,
    },
    /// The peer did not answer our SYN (or nobody answered ARP for it) within the connect timeout.
    ConnectTimeout {
        /// Destination address.
        addr: Ipv4Address,
        /// Destination port.
        port: u16,
        /// The timeout in seconds.
        timeout_s: u64,
    },
    /// An established connection was reset: by the peer, because it stopped answering, or because our
    /// address went away. Data received before the reset was delivered first.
    ConnectionReset {
        /// Destination address.
        addr: Ipv4Address,
        /// Destination port.
        port: u16,
    },
    /// The connection is finished: the peer sent everything (FIN) and it has all been read, or we
    /// closed or aborted it ourselves.
    ConnectionClosed {
        /// Destination address.
        addr: Ipv4Address,
        /// Destination port.
        port: u16,
    },
    /// The handle's connection or query was released or already consumed; using it again is a bug in
    /// the caller, reported instead of panicking.
    StaleHandle,
}

/// Writes `a, b and c` so lists read as English in error sentences.
fn write_list(f: &mut fmt::Formatter<'_>, items: &[Ipv4Address]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(if i + 1 == items.len() { " or " } else { ", " })?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::NoAddress => f.write_str("network: no IPv4 address yet (waiting for DHCP); try again shortly"),
            NetError::NoDnsServer => f.write_str(
                "DNS: no DNS server known (none configured and DHCP gave none); set [network] dns in config.toml",
            ),
            NetError::InvalidHostName(name) => write!(f, "DNS: \"{name}\" is not a valid host name"),
            NetError::DnsTimeout { name, servers, timeout_s } => {
                write!(f, "DNS: no answer for {name} from ")?;
                write_list(f, servers)?;
                write!(f, " within {timeout_s} s")
            }
            NetError::DnsFailed { name, server } => {
                write!(f, "DNS: {name} does not exist or has no IPv4 address (answer from {server})")
            }
            NetError::NoRoute { addr, network } => {
                write!(f, "network: no route to {addr}: it is outside {network} and no gateway is configured")
            }
            NetError::InvalidEndpoint { addr, port } => {
                write!(f, "TCP: {addr}:{port} is not an address a connection can be made to")
            }
            NetError::NoFreePort => f.write_str("TCP: every local port is in use; close some connections"),
            NetError::ConnectionRefused { addr, port } => write!(f, "TCP: connection to {addr}:{port} refused"),
            NetError::ConnectTimeout { addr, port, timeout_s } => {
                write!(f, "TCP: connection to {addr}:{port} timed out after {timeout_s} s (no answer)")
            }
            NetError::ConnectionReset { addr, port } => {
                write!(f, "TCP: connection to {addr}:{port} was reset (the peer dropped it or stopped answering)")
            }
            NetError::ConnectionClosed { addr, port } => write!(f, "TCP: connection to {addr}:{port} is closed"),
            NetError::StaleHandle => {
                f.write_str("network: this connection or DNS query was already released (internal error)")
            }
        }
    }
}

impl core::error::Error for NetError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn dns_timeout_names_the_servers() {
        let e = NetError::DnsTimeout {
            name: "api.example.com".into(),
            servers: vec![Ipv4Address::new(10, 0, 2, 3)],
            timeout_s: 10,
        };
        assert_eq!(e.to_string(), "DNS: no answer for api.example.com from 10.0.2.3 within 10 s");
        let e = NetError::DnsTimeout {
            name: "a.b".into(),
            servers: vec![Ipv4Address::new(1, 1, 1, 1), Ipv4Address::new(8, 8, 8, 8), Ipv4Address::new(9, 9, 9, 9)],
            timeout_s: 10,
        };
        assert_eq!(e.to_string(), "DNS: no answer for a.b from 1.1.1.1, 8.8.8.8 or 9.9.9.9 within 10 s");
    }

    #[test]
    fn refused_reads_as_a_sentence() {
        let e = NetError::ConnectionRefused { addr: Ipv4Address::new(10, 0, 2, 2), port: 8080 };
        assert_eq!(e.to_string(), "TCP: connection to 10.0.2.2:8080 refused");
    }
}
