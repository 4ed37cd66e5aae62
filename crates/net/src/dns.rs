//! DNS look-ups of IPv4 addresses.
//!
//! smoltcp's DNS socket does the protocol (query encoding, retransmission after 1, 2, 4 s, answer and
//! CNAME parsing). We keep one such socket per server: smoltcp hands each response to the first DNS
//! socket that knows the sending server, so one socket per server is what lets concurrent queries
//! work. A query moves to the next server's socket when its share of the overall deadline is used
//! up, so every server gets asked within [`DNS_TIMEOUT_MS`] (smoltcp alone would spend 10 s on the
//! first server before trying the second).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::task::Poll;

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::dns;
use smoltcp::wire::{DnsQueryType, IpAddress, Ipv4Address};

use crate::error::NetError;
use crate::stack::{NetStack, ipv4_of};

/// Overall time a look-up may take, across all servers, before it fails with [`NetError::DnsTimeout`].
pub const DNS_TIMEOUT_MS: u64 = 10_000;

/// At most this many DNS servers are used (configured ones first, then DHCP's).
pub const MAX_DNS_SERVERS: usize = 4;

/// smoltcp gives up on a server by itself after 10 s without an answer and reports the query as
/// failed, which looks like a negative answer; a failure this late is treated as silence instead.
const SMOLTCP_SERVER_GIVE_UP_MS: u64 = 10_000;

/// A DNS look-up in progress; poll it with [`NetStack::dns_result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsQuery(u64);

/// One look-up, pending or finished but not yet collected.
#[derive(Debug)]
pub(crate) struct DnsEntry {
    name: String,
    state: EntryState,
}

#[derive(Debug)]
enum EntryState {
    Done(Result<Ipv4Address, NetError>),
    Pending(Pending),
}

struct Pending {
    /// The servers to ask, in order; fixed when the query starts so a DHCP change cannot shuffle it.
    servers: Vec<Ipv4Address>,
    /// Index into `servers` of the server being asked now.
    attempt: usize,
    socket: SocketHandle,
    query: dns::QueryHandle,
    started_ms: u64,
    attempt_started_ms: u64,
}

impl core::fmt::Debug for Pending {
    // smoltcp's `QueryHandle` has no `Debug`; everything else is worth showing.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pending")
            .field("servers", &self.servers)
            .field("attempt", &self.attempt)
            .field("started_ms", &self.started_ms)
            .finish_non_exhaustive()
    }
}

impl Pending {
    fn deadline_ms(&self) -> u64 {
        self.started_ms.saturating_add(DNS_TIMEOUT_MS)
    }

    /// Each server gets an equal share of the deadline.
    fn attempt_deadline_ms(&self) -> u64 {
        let share = DNS_TIMEOUT_MS / self.servers.len().max(1) as u64;
        self.attempt_started_ms.saturating_add(share)
    }

    fn server(&self) -> Ipv4Address {
        self.servers.get(self.attempt).copied().unwrap_or(Ipv4Address::UNSPECIFIED)
    }
}

impl DnsEntry {
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        match &self.state {
            EntryState::Pending(p) if p.attempt + 1 < p.servers.len() => {
                Some(p.attempt_deadline_ms().min(p.deadline_ms()))
            }
            EntryState::Pending(p) => Some(p.deadline_ms()),
            EntryState::Done(_) => None,
        }
    }
}

/// What became of a pending query in this poll.
enum Step {
    Wait,
    Finish(Result<Ipv4Address, NetError>),
    NextServer,
}

/// Starts `name`'s query on `server`'s socket, creating the socket on first use.
fn start_on(
    sockets: &mut SocketSet<'static>,
    dns_sockets: &mut Vec<(Ipv4Address, SocketHandle)>,
    iface: &mut Interface,
    server: Ipv4Address,
    name: &str,
) -> Result<(SocketHandle, dns::QueryHandle), NetError> {
    let handle = match dns_sockets.iter().find(|(s, _)| *s == server) {
        Some(&(_, handle)) => handle,
        None => {
            // Query slots are added as needed (owned storage), so one socket serves any number.
            let handle = sockets.add(dns::Socket::new(&[IpAddress::Ipv4(server)], Vec::new()));
            dns_sockets.push((server, handle));
            handle
        }
    };
    let query = sockets
        .get_mut::<dns::Socket<'_>>(handle)
        .start_query(iface.context(), name, DnsQueryType::A)
        .map_err(|_| NetError::InvalidHostName(name.to_string()))?;
    Ok((handle, query))
}

impl<D: Device> NetStack<D> {
    /// Starts looking up the IPv4 address of `name`. An IPv4 literal such as `"10.0.2.2"` resolves at
    /// once without any traffic. Fails at once if we have no address or no DNS server.
    pub fn resolve(&mut self, name: &str) -> Result<DnsQuery, NetError> {
        let name = name.trim();
        let id = self.new_id();
        if let Ok(addr) = name.parse::<Ipv4Address>() {
            self.dns.insert(id, DnsEntry { name: name.to_string(), state: EntryState::Done(Ok(addr)) });
            return Ok(DnsQuery(id));
        }
        if name.is_empty() || name.len() > 253 {
            return Err(NetError::InvalidHostName(name.to_string()));
        }
        if self.address().is_none() {
            return Err(NetError::NoAddress);
        }
        let servers = self.dns_servers();
        let Some(&first) = servers.first() else {
            return Err(NetError::NoDnsServer);
        };
        let (socket, query) = start_on(&mut self.sockets, &mut self.dns_sockets, &mut self.iface, first, name)?;
        let now = self.now_ms;
        let pending = Pending { servers, attempt: 0, socket, query, started_ms: now, attempt_started_ms: now };
        self.dns.insert(id, DnsEntry { name: name.to_string(), state: EntryState::Pending(pending) });
        Ok(DnsQuery(id))
    }

    /// The outcome of a look-up: `Pending` until an answer, a negative answer
    /// ([`NetError::DnsFailed`]) or the deadline ([`NetError::DnsTimeout`]). A finished result is
    /// returned once; the handle is stale afterwards ([`NetError::StaleHandle`]).
    pub fn dns_result(&mut self, query: DnsQuery) -> Poll<Result<Ipv4Address, NetError>> {
        match self.dns.get(&query.0).map(|e| &e.state) {
            None => Poll::Ready(Err(NetError::StaleHandle)),
            Some(EntryState::Pending(_)) => Poll::Pending,
            Some(EntryState::Done(_)) => match self.dns.remove(&query.0).map(|e| e.state) {
                Some(EntryState::Done(result)) => Poll::Ready(result),
                _ => Poll::Ready(Err(NetError::StaleHandle)),
            },
        }
    }

    /// Abandons a look-up (finished or not). Unknown handles are ignored.
    pub fn cancel_dns(&mut self, query: DnsQuery) {
        if let Some(DnsEntry { state: EntryState::Pending(p), .. }) = self.dns.remove(&query.0) {
            // A pending entry's slot is always live (see `service_dns`), so this cannot hit a free slot.
            self.sockets.get_mut::<dns::Socket<'_>>(p.socket).cancel_query(p.query);
        }
    }

    /// Collects answers, moves silent queries to the next server and enforces the deadline.
    /// Returns whether any query finished.
    ///
    /// Invariant: while an entry is `Pending`, its smoltcp query slot is live. smoltcp frees the slot
    /// when it hands out a result (success or failure), and panics if a free slot is cancelled or read,
    /// so every path below either keeps the slot, reads the result once, or cancels it once.
    pub(crate) fn service_dns(&mut self, now_ms: u64) -> bool {
        let has_address = self.address().is_some();
        let mut finished = false;
        for entry in self.dns.values_mut() {
            let EntryState::Pending(p) = &mut entry.state else { continue };
            let socket = self.sockets.get_mut::<dns::Socket<'_>>(p.socket);
            let step = match socket.get_query_result(p.query) {
                Ok(addrs) => match addrs.iter().find_map(|&a| ipv4_of(a)) {
                    Some(addr) => Step::Finish(Ok(addr)),
                    None => Step::Finish(Err(NetError::DnsFailed { name: entry.name.clone(), server: p.server() })),
                },
                // smoltcp fails a query it cannot send (no source address) or that its own 10 s timer
                // ended; only an early failure with an address is a real negative answer.
                Err(dns::GetQueryResultError::Failed) if !has_address => Step::Finish(Err(NetError::NoAddress)),
                Err(dns::GetQueryResultError::Failed)
                    if now_ms.saturating_sub(p.attempt_started_ms) < SMOLTCP_SERVER_GIVE_UP_MS =>
                {
                    Step::Finish(Err(NetError::DnsFailed { name: entry.name.clone(), server: p.server() }))
                }
                Err(dns::GetQueryResultError::Failed) => Step::NextServer,
                Err(dns::GetQueryResultError::Pending) => {
                    let out_of_time = now_ms >= p.deadline_ms();
                    let move_on = now_ms >= p.attempt_deadline_ms() && p.attempt + 1 < p.servers.len();
                    if out_of_time || move_on {
                        socket.cancel_query(p.query);
                    }
                    if out_of_time {
                        Step::Finish(Err(timeout(&entry.name, p)))
                    } else if move_on {
                        Step::NextServer
                    } else {
                        Step::Wait
                    }
                }
            };
            let step = match step {
                Step::NextServer if now_ms < p.deadline_ms() && p.attempt + 1 < p.servers.len() => {
                    p.attempt += 1;
                    p.attempt_started_ms = now_ms;
                    match start_on(&mut self.sockets, &mut self.dns_sockets, &mut self.iface, p.server(), &entry.name) {
                        Ok((socket, query)) => {
                            p.socket = socket;
                            p.query = query;
                            Step::Wait
                        }
                        Err(error) => Step::Finish(Err(error)),
                    }
                }
                Step::NextServer => Step::Finish(Err(timeout(&entry.name, p))),
                other => other,
            };
            if let Step::Finish(result) = step {
                entry.state = EntryState::Done(result);
                finished = true;
            }
        }
        self.drop_idle_dns_sockets();
        finished
    }

    /// Removes sockets of servers we no longer use (e.g. after a new DHCP lease) once no query
    /// waits on them.
    fn drop_idle_dns_sockets(&mut self) {
        let current = self.dns_servers();
        let busy: Vec<SocketHandle> = self
            .dns
            .values()
            .filter_map(|e| match &e.state {
                EntryState::Pending(p) => Some(p.socket),
                EntryState::Done(_) => None,
            })
            .collect();
        let sockets = &mut self.sockets;
        self.dns_sockets.retain(|&(server, handle)| {
            let keep = current.contains(&server) || busy.contains(&handle);
            if !keep {
                sockets.remove(handle);
            }
            keep
        });
    }
}

fn timeout(name: &str, p: &Pending) -> NetError {
    NetError::DnsTimeout {
        name: name.to_string(),
        servers: p.servers[..=p.attempt.min(p.servers.len().saturating_sub(1))].to_vec(),
        timeout_s: DNS_TIMEOUT_MS / 1000,
    }
}
