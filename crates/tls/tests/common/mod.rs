//! Shared by the TLS integration tests: a settable clock and the in-memory byte pump
//! between a `TlsSession` and a rustls server.

#![allow(dead_code)]

use std::io::Read;

use rustls::ServerConnection;
use tls::{TlsError, TlsSession, WallClock};

/// A clock frozen at a chosen time (or not set at all).
pub struct FixedClock(pub Option<u64>);

impl WallClock for FixedClock {
    fn unix_seconds(&self) -> Option<u64> {
        self.0
    }
}

/// Moves bytes both ways until neither side has anything more to say.
///
/// Returns the client's error if it failed, and the server's error (if any) so tests can check
/// which alert the client sent.
pub fn pump(client: &mut TlsSession, server: &mut ServerConnection) -> (Result<(), TlsError>, Option<rustls::Error>) {
    pump_collect(client, server, &mut Vec::new())
}

/// [`pump`], keeping the plaintext the server received in `server_got` (rustls' server
/// buffers only 16 KiB of it).
pub fn pump_collect(
    client: &mut TlsSession,
    server: &mut ServerConnection,
    server_got: &mut Vec<u8>,
) -> (Result<(), TlsError>, Option<rustls::Error>) {
    let mut server_error = None;
    for _ in 0..64 {
        let to_server = client.take_outgoing();
        let mut rest = &to_server[..];
        while !rest.is_empty() && server_error.is_none() {
            server.read_tls(&mut rest).unwrap();
            if let Err(e) = server.process_new_packets() {
                server_error = Some(e);
            }
            drain_server(server, server_got);
        }
        let mut to_client = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut to_client).unwrap();
        }
        if to_server.is_empty() && to_client.is_empty() {
            return (Ok(()), server_error);
        }
        client.feed(&to_client);
        if let Err(e) = client.process() {
            // Deliver the alert the client queued about its failure.
            let alert = client.take_outgoing();
            let mut rest = &alert[..];
            while !rest.is_empty() && server_error.is_none() {
                server.read_tls(&mut rest).unwrap();
                if let Err(se) = server.process_new_packets() {
                    server_error = Some(se);
                }
            }
            return (Err(e), server_error);
        }
    }
    panic!("the connection never went quiet");
}

pub fn drain_server(server: &mut ServerConnection, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        match server.reader().read(&mut buf) {
            Ok(0) => return,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("server read failed: {e}"),
        }
    }
}
