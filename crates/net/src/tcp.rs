//! TCP client connections over smoltcp sockets, behind handles that outlive their sockets safely.
//!
//! smoltcp reports only the current RFC 793 state, so "refused" and "reset" would both look like
//! `Closed`. We watch every socket after each poll and remember what it went through (did it ever
//! connect, did the peer send FIN, did we close or abort it) to tell the user which one happened.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::{Socket, tcp};
use smoltcp::time::Duration;
use smoltcp::wire::{IpAddress, Ipv4Address};

use crate::error::NetError;
use crate::stack::NetStack;

/// Receive buffer per connection: room for several 16 KiB TLS records, and the advertised window
/// (with window scaling) that lets a fast server stream without waiting for us.
pub const TCP_RX_BUFFER: usize = 64 * 1024;

/// Send buffer per connection: two full TLS records.
pub const TCP_TX_BUFFER: usize = 32 * 1024;

/// How long a connection attempt may wait for the peer's SYN-ACK (or for ARP) before failing.
pub const CONNECT_TIMEOUT_MS: u64 = 20_000;

/// An idle connection sends a keep-alive this often, so a vanished peer is noticed even while we
/// only wait for a slow model to answer.
const KEEP_ALIVE_MS: u64 = 30_000;

/// A connection whose peer sends nothing at all (not even keep-alive ACKs) for this long is dead.
const IDLE_TIMEOUT_MS: u64 = 90_000;

/// A released connection gets this long to finish its close handshake; smoltcp's TIME-WAIT (10 s)
/// fits inside it.
const LINGER_MS: u64 = 15_000;

/// After a lingering connection is aborted, time for its RST to be sent before the socket is dropped.
const ABORT_GRACE_MS: u64 = 1_000;

/// A TCP connection made with [`NetStack::connect`]. Copyable; stays safe to use after
/// [`NetStack::release`] (every operation then fails with [`NetError::StaleHandle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle(u64);

/// A connection's state as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// The SYN is out; no answer yet.
    Connecting,
    /// Open in both directions.
    Established,
    /// The peer finished sending (FIN). Buffered data can still be read; we may still send.
    PeerClosed,
    /// We closed our sending side; the peer may still send.
    Closing,
    /// Finished in both directions, or closed/aborted by us. Buffered data can still be read.
    Closed,
    /// Nothing listens on the peer's port (it answered with RST).
    Refused,
    /// The peer never answered within [`CONNECT_TIMEOUT_MS`].
    TimedOut,
    /// The connection was reset after it was established.
    Reset,
    /// The handle was released; it refers to nothing any more.
    Released,
}

/// How a connection failed, remembered so every later call reports the same cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Refused,
    TimedOut,
    Reset,
}

/// Our record of one connection.
#[derive(Debug)]
pub(crate) struct TcpEntry {
    socket: SocketHandle,
    addr: Ipv4Address,
    port: u16,
    connect_deadline_ms: u64,
    /// The handshake completed at some point.
    established: bool,
    /// The peer's FIN arrived at some point.
    fin_seen: bool,
    closed_by_us: bool,
    aborted_by_us: bool,
    failure: Option<Failure>,
}

/// A released socket kept until its close handshake or RST is done.
#[derive(Debug)]
pub(crate) struct Lingering {
    socket: SocketHandle,
    deadline_ms: u64,
    /// Already aborted because the deadline passed; dropped at the next deadline whatever its state.
    forced: bool,
}

impl Lingering {
    pub(crate) fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }
}

impl TcpEntry {
    fn connecting(&self) -> bool {
        !self.established && self.failure.is_none() && !self.closed_by_us && !self.aborted_by_us
    }

    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.connecting().then_some(self.connect_deadline_ms)
    }

    /// Records what the socket's current state tells about the connection's history.
    fn observe(&mut self, state: tcp::State) {
        use tcp::State::*;
        match state {
            SynSent | SynReceived => {}
            Established | FinWait1 | FinWait2 => self.established = true,
            CloseWait | LastAck | Closing | TimeWait => {
                self.established = true;
                self.fin_seen = true;
            }
            Closed | Listen => {
                if self.failure.is_none() && !self.aborted_by_us {
                    if !self.established {
                        // Closed before the handshake without our doing: the peer sent RST.
                        if !self.closed_by_us {
                            self.failure = Some(Failure::Refused);
                        }
                    } else if !self.fin_seen {
                        // Gone without the peer's FIN: RST, smoltcp's idle timeout, or our address vanished.
                        self.failure = Some(Failure::Reset);
                    }
                }
            }
        }
    }

    fn public_state(&self, state: tcp::State) -> TcpState {
        use tcp::State::*;
        match self.failure {
            Some(Failure::Refused) => return TcpState::Refused,
            Some(Failure::TimedOut) => return TcpState::TimedOut,
            Some(Failure::Reset) => return TcpState::Reset,
            None => {}
        }
        match state {
            SynSent | SynReceived => TcpState::Connecting,
            Established => TcpState::Established,
            FinWait1 | FinWait2 => TcpState::Closing,
            CloseWait => TcpState::PeerClosed,
            Closing | LastAck | TimeWait | Closed | Listen => TcpState::Closed,
        }
    }

    /// The error for an operation that cannot proceed in `state`, or `None` if it should just wait.
    fn error_for(&self, state: TcpState) -> Option<NetError> {
        let (addr, port) = (self.addr, self.port);
        match state {
            TcpState::Refused => Some(NetError::ConnectionRefused { addr, port }),
            TcpState::TimedOut => Some(NetError::ConnectTimeout { addr, port, timeout_s: CONNECT_TIMEOUT_MS / 1000 }),
            TcpState::Reset => Some(NetError::ConnectionReset { addr, port }),
            TcpState::Closed | TcpState::Closing => Some(NetError::ConnectionClosed { addr, port }),
            TcpState::Released => Some(NetError::StaleHandle),
            TcpState::Connecting | TcpState::Established | TcpState::PeerClosed => None,
        }
    }
}

/// Looks up a handle's entry and socket together, refreshing what we know about the connection.
fn lookup<'s>(
    entries: &'s mut alloc::collections::BTreeMap<u64, TcpEntry>,
    sockets: &'s mut SocketSet<'static>,
    handle: TcpHandle,
) -> Result<(&'s mut TcpEntry, &'s mut tcp::Socket<'static>), NetError> {
    let entry = entries.get_mut(&handle.0).ok_or(NetError::StaleHandle)?;
    let socket = sockets.get_mut::<tcp::Socket<'_>>(entry.socket);
    entry.observe(socket.state());
    Ok((entry, socket))
}

impl<D: Device> NetStack<D> {
    /// Opens a connection to `addr:port` from a random ephemeral port. Returns at once; the
    /// handshake happens in later polls ([`Self::tcp_state`] leaves `Connecting`). Fails at once if
    /// we have no address, the destination is unroutable, or the endpoint is invalid.
    pub fn connect(&mut self, addr: Ipv4Address, port: u16) -> Result<TcpHandle, NetError> {
        if port == 0 || addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(NetError::InvalidEndpoint { addr, port });
        }
        let network = self.address().ok_or(NetError::NoAddress)?;
        if network.broadcast() == Some(addr) {
            return Err(NetError::InvalidEndpoint { addr, port });
        }
        if !network.contains_addr(&addr) && self.iface.routes().get_default_ipv4_route().is_none() {
            // smoltcp would silently drop every SYN; say why instead of timing out.
            return Err(NetError::NoRoute { addr, network });
        }
        let local_port = self.pick_local_port()?;

        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; TCP_RX_BUFFER]),
            tcp::SocketBuffer::new(vec![0u8; TCP_TX_BUFFER]),
        );
        // TLS hands us whole records; Nagle would only hold back their tails for an ACK.
        socket.set_nagle_enabled(false);
        // Acknowledge at once: with smoltcp's default 10 ms delayed ACK, QEMU's
        // user-mode network sent about one segment per ACK and a download crawled
        // at ~115 KiB/s; immediate ACKs cost a few more small frames.
        socket.set_ack_delay(None);
        socket.set_keep_alive(Some(Duration::from_millis(KEEP_ALIVE_MS)));
        socket.set_timeout(Some(Duration::from_millis(IDLE_TIMEOUT_MS)));
        socket
            .connect(self.iface.context(), (IpAddress::Ipv4(addr), port), local_port)
            .map_err(|_| NetError::InvalidEndpoint { addr, port })?;

        let entry = TcpEntry {
            socket: self.sockets.add(socket),
            addr,
            port,
            connect_deadline_ms: self.now_ms.saturating_add(CONNECT_TIMEOUT_MS),
            established: false,
            fin_seen: false,
            closed_by_us: false,
            aborted_by_us: false,
            failure: None,
        };
        let id = self.new_id();
        self.tcp.insert(id, entry);
        Ok(TcpHandle(id))
    }

    /// Where the connection stands; [`TcpState::Released`] for a released handle.
    pub fn tcp_state(&mut self, handle: TcpHandle) -> TcpState {
        match lookup(&mut self.tcp, &mut self.sockets, handle) {
            Ok((entry, socket)) => entry.public_state(socket.state()),
            Err(_) => TcpState::Released,
        }
    }

    /// Queues as much of `data` as fits in the send buffer and returns how much that was; `Ok(0)`
    /// while connecting or while the buffer is full. The bytes leave on the next [`Self::poll`].
    pub fn send(&mut self, handle: TcpHandle, data: &[u8]) -> Result<usize, NetError> {
        let (entry, socket) = lookup(&mut self.tcp, &mut self.sockets, handle)?;
        let state = entry.public_state(socket.state());
        if let Some(error) = entry.error_for(state) {
            return Err(error);
        }
        if state == TcpState::Connecting {
            return Ok(0);
        }
        socket.send_slice(data).map_err(|_| NetError::ConnectionClosed { addr: entry.addr, port: entry.port })
    }

    /// Reads received bytes into `buf`. `Ok(0)`: nothing now (try after the next poll).
    /// [`NetError::ConnectionClosed`]: the peer finished and everything was read.
    /// [`NetError::ConnectionReset`] (or the connect errors): the connection failed; bytes received
    /// before a reset are still returned first.
    pub fn recv(&mut self, handle: TcpHandle, buf: &mut [u8]) -> Result<usize, NetError> {
        let (entry, socket) = lookup(&mut self.tcp, &mut self.sockets, handle)?;
        let (addr, port) = (entry.addr, entry.port);
        match socket.recv_slice(buf) {
            Ok(n) => Ok(n),
            // Not readable and no FIN: still connecting (wait), or failed/aborted (say so).
            Err(tcp::RecvError::InvalidState) => match entry.error_for(entry.public_state(socket.state())) {
                Some(error) => Err(error),
                None => Ok(0),
            },
            Err(tcp::RecvError::Finished) => Err(NetError::ConnectionClosed { addr, port }),
        }
    }

    /// Whether [`Self::send`] would accept at least one byte now.
    pub fn can_send(&mut self, handle: TcpHandle) -> bool {
        lookup(&mut self.tcp, &mut self.sockets, handle).is_ok_and(|(_, socket)| socket.can_send())
    }

    /// Whether [`Self::recv`] has buffered bytes to return now.
    pub fn can_recv(&mut self, handle: TcpHandle) -> bool {
        lookup(&mut self.tcp, &mut self.sockets, handle).is_ok_and(|(_, socket)| socket.can_recv())
    }

    /// Closes our sending side gracefully: queued data is still delivered, then FIN. Reading goes on
    /// until the peer closes too. Closing while connecting just stops the attempt.
    pub fn close(&mut self, handle: TcpHandle) -> Result<(), NetError> {
        let (entry, socket) = lookup(&mut self.tcp, &mut self.sockets, handle)?;
        entry.closed_by_us = true;
        socket.close();
        Ok(())
    }

    /// Drops the connection at once: one RST goes to the peer, buffered data is discarded.
    pub fn abort(&mut self, handle: TcpHandle) -> Result<(), NetError> {
        let (entry, socket) = lookup(&mut self.tcp, &mut self.sockets, handle)?;
        entry.aborted_by_us = true;
        socket.abort();
        Ok(())
    }

    /// Forgets the connection; the handle becomes stale. A connection that was [`Self::close`]d keeps
    /// finishing its handshake in the background (up to 15 s); any other open connection is aborted.
    pub fn release(&mut self, handle: TcpHandle) -> Result<(), NetError> {
        let entry = self.tcp.remove(&handle.0).ok_or(NetError::StaleHandle)?;
        let socket = self.sockets.get_mut::<tcp::Socket<'_>>(entry.socket);
        if socket.state() == tcp::State::Closed && socket.remote_endpoint().is_none() {
            self.sockets.remove(entry.socket);
            return Ok(());
        }
        if !entry.closed_by_us {
            socket.abort();
        }
        let deadline_ms = self.now_ms.saturating_add(if entry.closed_by_us { LINGER_MS } else { ABORT_GRACE_MS });
        self.lingering.push(Lingering { socket: entry.socket, deadline_ms, forced: !entry.closed_by_us });
        Ok(())
    }

    /// Number of connections with live handles (released ones still closing are not counted).
    pub fn tcp_connection_count(&self) -> usize {
        self.tcp.len()
    }

    /// Updates every connection's history, fails connections past their connect deadline and drops
    /// released sockets that are done. Returns whether anything changed.
    pub(crate) fn service_tcp(&mut self, now_ms: u64) -> bool {
        let mut changed = false;
        for entry in self.tcp.values_mut() {
            let socket = self.sockets.get_mut::<tcp::Socket<'_>>(entry.socket);
            entry.observe(socket.state());
            if entry.connecting() && now_ms >= entry.connect_deadline_ms {
                socket.abort();
                entry.failure = Some(Failure::TimedOut);
                changed = true;
            }
        }
        let sockets = &mut self.sockets;
        self.lingering.retain_mut(|l| {
            let socket = sockets.get_mut::<tcp::Socket<'_>>(l.socket);
            let done = socket.state() == tcp::State::Closed && socket.remote_endpoint().is_none();
            if done || (l.forced && now_ms >= l.deadline_ms) {
                sockets.remove(l.socket);
                return false;
            }
            if now_ms >= l.deadline_ms {
                socket.abort();
                l.forced = true;
                l.deadline_ms = now_ms.saturating_add(ABORT_GRACE_MS);
            }
            true
        });
        changed
    }

    /// A random ephemeral port no other TCP socket uses (including released ones still closing).
    fn pick_local_port(&mut self) -> Result<u16, NetError> {
        let used: BTreeSet<u16> = self
            .sockets
            .iter()
            .filter_map(|(_, socket)| match socket {
                Socket::Tcp(s) => s.local_endpoint().map(|e| e.port),
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .collect();
        for _ in 0..64 {
            let port = self.rng.ephemeral_port();
            if !used.contains(&port) {
                return Ok(port);
            }
        }
        // Nearly every port is taken: search from a random start so we still find the free ones.
        let start = self.rng.ephemeral_port();
        let ports: Vec<u16> = (start..=u16::MAX).chain(49152..start).collect();
        ports.into_iter().find(|p| !used.contains(p)).ok_or(NetError::NoFreePort)
    }
}
