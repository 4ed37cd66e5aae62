//! The moteOS network stack: one smoltcp interface with DHCPv4 or static addressing, DNS look-ups and
//! TCP connections, as a value the kernel owns and lends out (`&mut NetStack`) — there is no global.
//!
//! The stack is generic over [`smoltcp::phy::Device`], so the kernel plugs in its virtio-net driver
//! and the host tests plug in an in-memory wire. Time is passed in explicitly as milliseconds since
//! boot; nothing here reads a clock or sleeps.
//!
//! Driving it (the kernel's loop):
//! 1. after a NIC interrupt, a timer tick, or after the application sent or closed something, call
//!    [`NetStack::poll`];
//! 2. hand [`NetStack::take_events`] to the status bar and the log;
//! 3. arm a timer for [`NetStack::poll_delay`] milliseconds (`None`: only a packet can wake us) and halt.
//!
//! Memory: each TCP connection holds [`TCP_RX_BUFFER`] + [`TCP_TX_BUFFER`] (96 KiB) until it is
//! released; a DNS socket per server in use is a few hundred bytes; DHCP leaks about 1.5 KiB once per
//! `NetStack` (smoltcp borrows that buffer for the stack's lifetime).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "testing")]
extern crate std;

mod config;
mod dhcp;
mod dns;
mod error;
mod rng;
mod stack;
mod status;
mod tcp;

// Test scaffolding: its items are described by the module docs, not one by one.
#[cfg(feature = "testing")]
#[allow(missing_docs, missing_debug_implementations)]
pub mod testing;

pub use config::{AddressMode, NetConfig};
pub use dns::{DNS_TIMEOUT_MS, DnsQuery, MAX_DNS_SERVERS};
pub use error::NetError;
pub use stack::{NetStack, PollResult};
pub use status::{DHCP_RETRY_NOTICE_MS, NetEvent, NetState, NetStatus};
pub use tcp::{CONNECT_TIMEOUT_MS, TCP_RX_BUFFER, TCP_TX_BUFFER, TcpHandle, TcpState};

/// smoltcp's address and device types used in this crate's API, re-exported so callers need not
/// depend on the same smoltcp version by hand.
pub use smoltcp::{
    phy::Device,
    wire::{EthernetAddress, Ipv4Address, Ipv4Cidr},
};
