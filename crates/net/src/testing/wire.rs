//! A virtual Ethernet cable: two `phy::Device` ends joined by two in-memory frame queues.

use std::vec;
use std::vec::Vec;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of the cable. What it transmits appears in the other end's receive queue.
pub struct WireEnd {
    rx: Queue,
    tx: Queue,
}

/// A cable with two ends.
pub fn cable() -> (WireEnd, WireEnd) {
    let a_to_b: Queue = Rc::default();
    let b_to_a: Queue = Rc::default();
    (WireEnd { rx: b_to_a.clone(), tx: a_to_b.clone() }, WireEnd { rx: a_to_b, tx: b_to_a })
}

impl WireEnd {
    /// Takes the next frame that arrived at this end (for hand-written responders).
    pub fn pop(&self) -> Option<Vec<u8>> {
        self.rx.borrow_mut().pop_front()
    }

    /// Sends a frame to the other end.
    pub fn push(&self, frame: Vec<u8>) {
        self.tx.borrow_mut().push_back(frame);
    }
}

pub struct Rx(Vec<u8>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub struct Tx(Queue);

impl TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let result = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        result
    }
}

impl Device for WireEnd {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx)> {
        let frame = self.rx.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.tx.clone())))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx> {
        Some(Tx(self.tx.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}
