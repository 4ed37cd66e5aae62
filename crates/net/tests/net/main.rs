//! Crate-level tests of the network stack over a virtual cable, with a fake clock.

mod dhcp;
mod dns;
mod static_config;
mod tcp;
