//! The network: the card found on the PCI bus, the `net` stack over it, and the
//! settings from `[network]`. Owned by the main loop and lent to whoever needs it.

use crate::drivers::nic::NicDevice;
use crate::drivers::pci::PciBus;
use crate::time;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use log::{info, warn};
use net::{AddressMode, EthernetAddress, Ipv4Address, Ipv4Cidr, NetConfig, NetStack, NetState};

/// Cards without interrupts (e1000: QEMU's has no MSI, and legacy INTx routing needs
/// the DSDT's AML) are polled: this often while a connection is open, so downloads
/// stream...
const ACTIVE_POLL: Duration = Duration::from_millis(2);
/// ...and this often when nothing is going on, so DHCP renewals and incoming
/// packets are still handled promptly without costing idle CPU.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// With interrupts, only smoltcp's own timers (retransmission, DHCP) wake the loop; this
/// bounds the wait in case an interrupt is ever lost.
const INTERRUPT_SAFETY_POLL: Duration = Duration::from_millis(1000);

/// The kernel's network.
pub struct Network {
    stack: NetStack<NicDevice>,
    card: &'static str,
    interrupts: bool,
    status: String,
}

impl core::fmt::Debug for Network {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Network").field("card", &self.card).field("status", &self.status).finish_non_exhaustive()
    }
}

fn ipv4(address: config::Ipv4) -> Ipv4Address {
    let [a, b, c, d] = address.octets;
    Ipv4Address::new(a, b, c, d)
}

fn net_config(settings: Option<&config::NetworkConfig>, seed: u64) -> NetConfig {
    let dns: Vec<Ipv4Address> = settings.map(|s| s.dns.iter().copied().map(ipv4).collect()).unwrap_or_default();
    match settings {
        Some(s) if s.mode == config::NetworkMode::Static => match s.address {
            Some(cidr) => {
                let address = Ipv4Cidr::new(ipv4(cidr.address), cidr.prefix_len);
                NetConfig::fixed(address, s.gateway.map(ipv4), dns, seed)
            }
            // The config crate rejects this; stay usable with DHCP anyway.
            None => NetConfig { dns_servers: dns, ..NetConfig::dhcp(seed) },
        },
        _ => NetConfig { dns_servers: dns, hostname: Some(String::from("moteos")), ..NetConfig::dhcp(seed) },
    }
}

impl Network {
    /// Starts the first supported card with the configured addressing.
    pub fn start(bus: &mut PciBus, settings: Option<&config::NetworkConfig>, seed: u64) -> Option<Network> {
        let Some(card) = crate::drivers::probe_nic(bus) else {
            warn!("net: no network card on the PCI bus (virtio-net or e1000); a USB adapter may still appear");
            return None;
        };
        Some(Network::with_card(card, settings, seed))
    }

    /// A card that appeared after boot (a USB adapter): it becomes the network if
    /// there is none yet, otherwise it is logged and left alone.
    pub fn adopt(network: &mut Option<Network>, card: NicDevice, settings: Option<&config::NetworkConfig>, seed: u64) {
        match network {
            Some(existing) => {
                info!("net: {} found, but {} already serves the network; left unused", card.name(), existing.card)
            }
            None => *network = Some(Network::with_card(card, settings, seed)),
        }
    }

    /// The network over `card`.
    fn with_card(mut card: NicDevice, settings: Option<&config::NetworkConfig>, seed: u64) -> Network {
        let name = card.name();
        let mac = card.mac();
        if !card.link_up() {
            warn!("net: {name} reports no link; waiting for a cable");
        }
        let config = net_config(settings, seed);
        let mode = match config.mode {
            AddressMode::Dhcp => String::from("DHCP"),
            AddressMode::Static { address, .. } => format!("static {address}"),
        };
        info!(
            "net: {name} MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {mode}",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
        );
        let interrupts = card.interrupts;
        let stack = NetStack::new(card, EthernetAddress(mac), config, time::now().as_millis());
        let mut network = Network { stack, card: name, interrupts, status: String::new() };
        network.refresh_status();
        network
    }

    /// Puts `settings` into effect now (the setup wizard's network step).
    pub fn reconfigure(&mut self, settings: &config::NetworkConfig) {
        let config = net_config(Some(settings), 0);
        let mode = match config.mode {
            AddressMode::Dhcp => String::from("DHCP"),
            AddressMode::Static { address, .. } => format!("static {address}"),
        };
        info!("net: {} now uses {mode}", self.card);
        self.stack.reconfigure(config);
        self.refresh_status();
    }

    /// Drives the stack; logs state changes. Returns whether anything happened.
    pub fn poll(&mut self) -> bool {
        let changed = self.stack.poll(time::now().as_millis()) == net::PollResult::Changed;
        for event in self.stack.take_events() {
            info!("{event}");
        }
        self.refresh_status();
        changed
    }

    fn refresh_status(&mut self) {
        let status = format!("{} · {}", self.stack.status(), self.card);
        if status != self.status {
            self.status = status;
        }
    }

    /// The network as the application shows it.
    pub fn info(&self) -> app::NetInfo {
        let status = self.stack.status();
        let phase = match status.state {
            NetState::Configured if status.address.is_some() => app::NetPhase::Connected,
            NetState::DhcpRetrying | NetState::DhcpLost => app::NetPhase::Error,
            _ => app::NetPhase::Connecting,
        };
        app::NetInfo { phase, address: status.address.map(|a| format!("{}", a.address())), detail: self.status.clone() }
    }

    /// When the stack next needs attention.
    pub fn next_wake(&mut self) -> Duration {
        let poll = if self.interrupts {
            INTERRUPT_SAFETY_POLL
        } else if self.stack.tcp_connection_count() > 0 {
            ACTIVE_POLL
        } else {
            IDLE_POLL
        };
        match self.stack.poll_delay(time::now().as_millis()) {
            Some(ms) => Duration::from_millis(ms).min(poll),
            None => poll,
        }
    }

    /// The stack, lent for a call.
    pub fn stack(&mut self) -> &mut NetStack<NicDevice> {
        &mut self.stack
    }
}
