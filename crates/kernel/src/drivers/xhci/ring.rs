//! The controller's rings (xHCI 1.2 4.9): producer rings the driver fills
//! (the command ring and each endpoint's transfer ring) and the event ring the
//! controller fills. TRB layouts come from the `xhci` crate; this module only
//! places them and tracks the cycle bits.

use super::dma::DmaBuffer;
use xhci::ring::trb::Link;

const TRB_BYTES: usize = 16;
const CYCLE: u32 = 1;

/// A ring the driver writes TRBs into, closed by a Link TRB back to its start.
#[derive(Debug)]
pub struct ProducerRing {
    memory: DmaBuffer,
    /// TRBs including the final Link TRB.
    size: usize,
    enqueue: usize,
    cycle: bool,
}

impl ProducerRing {
    /// A ring of `size` TRBs (the last is the Link TRB).
    pub fn new(size: usize) -> ProducerRing {
        let memory = DmaBuffer::new(size * TRB_BYTES, 64);
        let mut ring = ProducerRing { memory, size, enqueue: 0, cycle: true };
        ring.write_link();
        ring
    }

    fn write_link(&mut self) {
        let mut link = Link::new();
        link.set_ring_segment_pointer(self.memory.phys()).set_toggle_cycle();
        // Its cycle bit stays clear (not yet the controller's) until `push` reaches it.
        self.memory.write_trb((self.size - 1) * TRB_BYTES, link.into_raw());
    }

    /// The ring's base address (for the controller's registers and contexts).
    pub fn base(&self) -> u64 {
        self.memory.phys()
    }

    /// Where the next TRB goes and the cycle state it will carry: the value
    /// for a Set TR Dequeue Pointer command (address | DCS).
    pub fn dequeue_pointer(&self) -> u64 {
        (self.memory.phys() + (self.enqueue * TRB_BYTES) as u64) | u64::from(self.cycle)
    }

    /// Appends a TRB (its cycle bit is set here) and returns its address.
    pub fn push(&mut self, mut trb: [u32; 4]) -> u64 {
        trb[3] = (trb[3] & !CYCLE) | u32::from(self.cycle);
        let at = self.enqueue * TRB_BYTES;
        self.memory.write_trb(at, trb);
        let address = self.memory.phys() + at as u64;
        self.enqueue += 1;
        if self.enqueue == self.size - 1 {
            // Hand the link TRB to the controller, then wrap with the cycle toggled.
            let mut link = self.memory.read_trb(at + TRB_BYTES);
            link[3] = (link[3] & !CYCLE) | u32::from(self.cycle);
            self.memory.write_trb(at + TRB_BYTES, link);
            self.enqueue = 0;
            self.cycle = !self.cycle;
        }
        address
    }
}

/// The event ring: one segment the controller writes and the driver consumes,
/// described to the controller by a one-entry segment table.
#[derive(Debug)]
pub struct EventRing {
    memory: DmaBuffer,
    table: DmaBuffer,
    size: usize,
    dequeue: usize,
    cycle: bool,
}

impl EventRing {
    /// An event ring of `size` TRBs.
    pub fn new(size: usize) -> EventRing {
        let memory = DmaBuffer::new(size * TRB_BYTES, 64);
        let mut table = DmaBuffer::new(16, 64);
        table.write_u64(0, memory.phys());
        table.write_u32(8, size as u32);
        EventRing { memory, table, size, dequeue: 0, cycle: true }
    }

    /// The segment table's address (ERSTBA).
    pub fn table(&self) -> u64 {
        self.table.phys()
    }

    /// Entries in the segment table (ERSTSZ).
    pub fn table_size(&self) -> u16 {
        1
    }

    /// The address of the next TRB to consume (ERDP).
    pub fn dequeue_pointer(&self) -> u64 {
        self.memory.phys() + (self.dequeue * TRB_BYTES) as u64
    }

    /// The next event, if the controller has written one.
    pub fn pop(&mut self) -> Option<[u32; 4]> {
        let trb = self.memory.read_trb(self.dequeue * TRB_BYTES);
        if (trb[3] & CYCLE != 0) != self.cycle {
            return None;
        }
        self.dequeue += 1;
        if self.dequeue == self.size {
            self.dequeue = 0;
            self.cycle = !self.cycle;
        }
        Some(trb)
    }
}
