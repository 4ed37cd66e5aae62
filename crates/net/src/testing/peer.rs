//! A second smoltcp stack on the far side of the cable: the "host" at 10.0.2.2 that runs servers.

use std::vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use super::wire::WireEnd;

pub struct Peer {
    pub ip: Ipv4Address,
    iface: Interface,
    sockets: SocketSet<'static>,
    device: WireEnd,
}

impl Peer {
    pub fn new(mut device: WireEnd, mac: EthernetAddress, address: Ipv4Cidr, now_ms: u64) -> Self {
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = 0x5eed;
        let mut iface = Interface::new(config, &mut device, Instant::from_millis(now_ms as i64));
        iface.update_ip_addrs(|addrs| addrs.push(IpCidr::Ipv4(address)).unwrap());
        Peer { ip: address.address(), iface, sockets: SocketSet::new(vec![]), device }
    }

    /// A socket listening on `port` with buffers as large as the stack's.
    pub fn listen(&mut self, port: u16) -> SocketHandle {
        let mut socket =
            tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 64 * 1024]), tcp::SocketBuffer::new(vec![0; 64 * 1024]));
        socket.listen(port).unwrap();
        self.sockets.add(socket)
    }

    pub fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(handle)
    }

    pub fn poll(&mut self, now_ms: u64) {
        self.iface.poll(Instant::from_millis(now_ms as i64), &mut self.device, &mut self.sockets);
    }

    pub fn poll_delay(&mut self, now_ms: u64) -> Option<u64> {
        self.iface.poll_delay(Instant::from_millis(now_ms as i64), &self.sockets).map(|d| d.total_millis())
    }
}
