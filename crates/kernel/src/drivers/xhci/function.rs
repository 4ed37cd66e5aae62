//! What a configured device does, and the transfers that keep it going:
//! keyboards (an interrupt IN report at a time, into the kernel's key path),
//! hubs (status-change reports driving `usb::hub`), CDC-ECM adapters (bulk IN
//! frames into a queue the network stack reads) and mass storage (idle until
//! a block request).

use super::controller::{Controller, completion_error};
use super::device::Location;
use super::dma::DmaBuffer;
use crate::events::{self, Event};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;
use hal::clock::Instant;
use usb::descriptor::EndpointDescriptor;
use usb::enumerate::{EcmFunction, Enumerated, Function as Kind};
use usb::hid::BootKeyboard;
use usb::hub::{Hub, HubAction};
use usb::{Speed, UsbError};
use xhci::ring::trb::transfer::Normal;

/// Consecutive failed transfers after which an endpoint is left alone.
const MAX_FAILURES: u32 = 5;
/// Receive transfers kept queued on a network adapter.
const RX_IN_FLIGHT: usize = 8;
/// Transmit buffers per network adapter.
const TX_BUFFERS: usize = 16;
/// Received frames kept for the network stack before the oldest is dropped.
const RX_QUEUE: usize = 128;
/// Bytes per receive buffer (a 1514-byte frame fits).
pub const FRAME_BUFFER: usize = 2048;

/// A running interrupt IN endpoint with one transfer queued at a time.
pub struct InterruptIn {
    dci: u8,
    buffer: DmaBuffer,
    length: u16,
    failures: u32,
}

impl InterruptIn {
    fn new(endpoint: &EndpointDescriptor, length: u16) -> InterruptIn {
        let length = length.min(endpoint.packet_size()).max(1);
        InterruptIn {
            dci: endpoint.context_index(),
            buffer: DmaBuffer::for_transfer(usize::from(length)),
            length,
            failures: 0,
        }
    }

    fn trb(&self) -> [u32; 4] {
        normal(self.buffer.phys(), u32::from(self.length))
    }

    /// The data of a completed transfer, or `None` after a failure (counted).
    fn completed(&mut self, code: u8, residue: u32) -> Option<Vec<u8>> {
        if completion_error(code).is_some() {
            self.failures += 1;
            return None;
        }
        self.failures = 0;
        let got = u32::from(self.length).saturating_sub(residue) as usize;
        let mut data = alloc::vec![0; got];
        self.buffer.read(0, &mut data);
        Some(data)
    }
}

/// A Normal TRB for `length` bytes at `address`, interrupting on completion
/// and on a short packet.
pub fn normal(address: u64, length: u32) -> [u32; 4] {
    let mut trb = Normal::new();
    trb.set_data_buffer_pointer(address)
        .set_trb_transfer_length(length)
        .set_interrupt_on_short_packet()
        .set_interrupt_on_completion();
    trb.into_raw()
}

/// A keyboard.
pub struct Keyboard {
    report: BootKeyboard,
    endpoint: InterruptIn,
    rollover_seen: u64,
}

/// A hub.
pub struct HubFunction {
    hub: Hub,
    endpoint: InterruptIn,
    waiting_until: Option<Instant>,
}

/// A CDC-ECM network adapter.
pub struct Ethernet {
    /// What enumeration found.
    pub ecm: EcmFunction,
    rx_in_flight: VecDeque<DmaBuffer>,
    /// Received frames, oldest first.
    pub rx_queue: VecDeque<Vec<u8>>,
    pub(super) tx_free: Vec<DmaBuffer>,
    /// Frames being sent: the addresses of their first and last TRB, and the buffer.
    pub(super) tx_busy: Vec<(u64, u64, DmaBuffer)>,
    notify: Option<InterruptIn>,
    rx_failures: u32,
    /// Whether the adapter says a cable is in.
    pub link_up: bool,
    /// Frames dropped (full queue or no free transmit buffer).
    pub dropped: u64,
    /// Received transfers that were not Ethernet frames.
    pub malformed: u64,
    /// Set when the adapter is unplugged.
    pub gone: bool,
    /// Handed to the network stack already.
    pub claimed: bool,
}

/// A USB stick.
pub struct Storage {
    /// Its interface number.
    pub interface: u8,
    /// Bulk IN and OUT endpoints.
    pub bulk_in: EndpointDescriptor,
    /// Bulk OUT.
    pub bulk_out: EndpointDescriptor,
    /// Handed out as a block device already.
    pub claimed: bool,
    /// Set when unplugged.
    pub gone: bool,
}

/// A configured device's function and its running state.
pub enum Function {
    /// A keyboard.
    Keyboard(Keyboard),
    /// A hub.
    Hub(HubFunction),
    /// A network adapter.
    Ethernet(Ethernet),
    /// Mass storage.
    Storage(Storage),
}

impl Function {
    /// When the function needs the loop without an interrupt.
    pub fn wake_at(&self) -> Option<Instant> {
        match self {
            Function::Hub(h) => h.waiting_until,
            _ => None,
        }
    }

    /// The device was unplugged: let go of held keys, tell the NIC and disk users.
    pub fn unplugged(&mut self) {
        match self {
            Function::Keyboard(k) => k.report.release_all(&mut |change| {
                events::push(Event::InputKey(change.code, 0));
            }),
            Function::Ethernet(e) => {
                e.gone = true;
                e.link_up = false;
            }
            Function::Storage(s) => s.gone = true,
            Function::Hub(_) => {}
        }
    }
}

impl Controller {
    /// Starts the function enumeration found.
    pub(super) fn start_function(&mut self, slot: u8, found: Enumerated) {
        let Some(device) = self.devices.get(&slot) else { return };
        let speed = device.speed;
        log::info!("usb: {} {} in configuration {}", device.describe(), found.function.name(), found.configuration);
        let (function, first) = match found.function {
            Kind::Keyboard { endpoint, .. } => {
                let endpoint = InterruptIn::new(&endpoint, 8);
                let trb = endpoint.trb();
                let dci = endpoint.dci;
                (
                    Function::Keyboard(Keyboard { report: BootKeyboard::new(), endpoint, rollover_seen: 0 }),
                    alloc::vec![(dci, trb)],
                )
            }
            Kind::Hub { descriptor, endpoint } => {
                if let Err(e) = self.mark_hub(slot, descriptor.ports, descriptor.think_time()) {
                    log::warn!("usb: hub in slot {slot}: the controller refused its hub settings: {e}");
                }
                let hub = Hub::new(descriptor, speed == Speed::Super);
                let endpoint = InterruptIn::new(&endpoint, hub.bitmap_len() as u16);
                let first = alloc::vec![(endpoint.dci, endpoint.trb())];
                log::info!("usb: hub in slot {slot} has {} ports", descriptor.ports);
                (Function::Hub(HubFunction { hub, endpoint, waiting_until: None }), first)
            }
            Kind::Ethernet(ecm) => {
                let mut ethernet = Ethernet {
                    ecm,
                    rx_in_flight: VecDeque::new(),
                    rx_queue: VecDeque::new(),
                    tx_free: (0..TX_BUFFERS).map(|_| DmaBuffer::for_transfer(FRAME_BUFFER)).collect(),
                    tx_busy: Vec::new(),
                    notify: ecm.notify.map(|n| InterruptIn::new(&n, 16)),
                    rx_failures: 0,
                    link_up: true,
                    dropped: 0,
                    malformed: 0,
                    gone: false,
                    claimed: false,
                };
                let dci = ecm.bulk_in.context_index();
                let mut first = Vec::new();
                for _ in 0..RX_IN_FLIGHT {
                    let buffer = DmaBuffer::for_transfer(FRAME_BUFFER);
                    first.push((dci, normal(buffer.phys(), FRAME_BUFFER as u32)));
                    ethernet.rx_in_flight.push_back(buffer);
                }
                if let Some(notify) = ethernet.notify.as_ref() {
                    first.push((notify.dci, notify.trb()));
                }
                let m = ecm.mac;
                log::info!(
                    "usb: network adapter MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    m[0],
                    m[1],
                    m[2],
                    m[3],
                    m[4],
                    m[5]
                );
                (Function::Ethernet(ethernet), first)
            }
            Kind::Storage { interface, bulk_in, bulk_out } => {
                (Function::Storage(Storage { interface, bulk_in, bulk_out, claimed: false, gone: false }), Vec::new())
            }
        };
        if let Some(device) = self.devices.get_mut(&slot) {
            device.function = Some(function);
        }
        self.submit(slot, &first);
    }

    /// Queues TRBs on a device's endpoints and rings its doorbell for each.
    pub(super) fn submit(&mut self, slot: u8, trbs: &[(u8, [u32; 4])]) -> Vec<u64> {
        let mut addresses = Vec::new();
        let Some(device) = self.devices.get_mut(&slot) else { return addresses };
        let mut doorbells: Vec<u8> = Vec::new();
        for (dci, trb) in trbs {
            if let Some(ring) = device.ring_mut(*dci) {
                addresses.push(ring.push(*trb));
                if !doorbells.contains(dci) {
                    doorbells.push(*dci);
                }
            }
        }
        for dci in doorbells {
            self.ring_doorbell(slot, dci);
        }
        addresses
    }

    /// A transfer on a running function's endpoint finished.
    pub(super) fn transfer_event(&mut self, slot: u8, dci: u8, pointer: u64, code: u8, residue: u32) {
        let Some(device) = self.devices.get_mut(&slot) else { return };
        let described = device.describe();
        let Some(function) = device.function.as_mut() else { return };
        let mut again: Vec<(u8, [u32; 4])> = Vec::new();
        let mut recover = false;
        match function {
            Function::Keyboard(k) if dci == k.endpoint.dci => {
                match k.endpoint.completed(code, residue) {
                    Some(report) => {
                        let result = k.report.feed(&report, &mut |change| {
                            events::push(Event::InputKey(change.code, i32::from(change.pressed)));
                        });
                        if let Err(e) = result {
                            log::warn!("usb: keyboard {described}: report ignored: {e}");
                        }
                        if k.report.rollover_reports() != k.rollover_seen {
                            k.rollover_seen = k.report.rollover_reports();
                            log::info!("usb: keyboard {described}: too many keys at once (rollover), report ignored");
                        }
                    }
                    None => recover = true,
                }
                if k.endpoint.failures < MAX_FAILURES {
                    again.push((dci, k.endpoint.trb()));
                } else {
                    log::warn!("usb: keyboard {described} keeps failing; no longer read");
                }
            }
            Function::Hub(h) if dci == h.endpoint.dci => {
                match h.endpoint.completed(code, residue) {
                    Some(bitmap) => h.hub.on_change_bitmap(&bitmap),
                    None => recover = true,
                }
                if h.endpoint.failures < MAX_FAILURES {
                    again.push((dci, h.endpoint.trb()));
                } else {
                    log::warn!("usb: hub {described} keeps failing; its ports are no longer watched");
                }
            }
            Function::Ethernet(e) => {
                if dci == e.ecm.bulk_in.context_index() {
                    let Some(buffer) = e.rx_in_flight.pop_front() else { return };
                    match completion_error(code) {
                        None => {
                            e.rx_failures = 0;
                            let got = (FRAME_BUFFER as u32).saturating_sub(residue) as usize;
                            let mut frame = alloc::vec![0; got];
                            buffer.read(0, &mut frame);
                            if usb::ecm::received_frame(&frame).is_ok() {
                                if e.rx_queue.len() >= RX_QUEUE {
                                    e.rx_queue.pop_front();
                                    e.dropped += 1;
                                }
                                e.rx_queue.push_back(frame);
                            } else {
                                e.malformed += 1;
                            }
                        }
                        Some(_) => {
                            e.rx_failures += 1;
                            recover = true;
                        }
                    }
                    if e.rx_failures < MAX_FAILURES {
                        again.push((dci, normal(buffer.phys(), FRAME_BUFFER as u32)));
                        e.rx_in_flight.push_back(buffer);
                    }
                } else if dci == e.ecm.bulk_out.context_index() {
                    if let Some(index) =
                        e.tx_busy.iter().position(|(first, last, _)| *first == pointer || *last == pointer)
                    {
                        let (_, _, buffer) = e.tx_busy.swap_remove(index);
                        e.tx_free.push(buffer);
                    }
                    recover = completion_error(code).is_some_and(|err| err == UsbError::Stalled);
                } else if let Some(notify) = e.notify.as_mut().filter(|n| n.dci == dci) {
                    match notify.completed(code, residue) {
                        Some(bytes) => match usb::ecm::parse_notification(&bytes) {
                            Ok(usb::ecm::Notification::NetworkConnection(up)) => {
                                if up != e.link_up {
                                    log::info!(
                                        "usb: network adapter {described}: cable {}",
                                        if up { "connected" } else { "disconnected" }
                                    );
                                }
                                e.link_up = up;
                            }
                            Ok(_) => {}
                            Err(err) => log::debug!("usb: network adapter {described}: notification ignored: {err}"),
                        },
                        None => recover = true,
                    }
                    if notify.failures < MAX_FAILURES {
                        again.push((dci, notify.trb()));
                    }
                }
            }
            _ => {}
        }
        if recover {
            self.recover_endpoint(slot, dci);
        }
        self.submit(slot, &again);
    }

    /// Runs each hub's state machine as far as it can go now.
    pub(super) fn drive_hubs(&mut self, now: Instant) {
        let hubs: Vec<u8> = self
            .devices
            .iter()
            .filter(|(_, d)| matches!(d.function, Some(Function::Hub(_))))
            .map(|(s, _)| *s)
            .collect();
        for slot in hubs {
            for _ in 0..256 {
                let Some(action) = self.next_hub_action(slot, now) else { break };
                match action {
                    HubAction::Control(setup) => {
                        let result = self.control(slot, setup, None);
                        if let Err(e) = &result {
                            log::warn!(
                                "usb: hub in slot {slot}: request {:02x}/{:02x} for port {} failed: {e}",
                                setup.request_type,
                                setup.request,
                                setup.index
                            );
                        }
                        if let Some(h) = self.hub_mut(slot) {
                            if setup.request == 0 && setup.is_in() {
                                h.hub.on_port_status(result.as_deref().map_err(|e| *e));
                            } else {
                                h.hub.on_done(result.map(|_| ()));
                            }
                        }
                    }
                    HubAction::Wait(ms) => {
                        if let Some(h) = self.hub_mut(slot) {
                            h.waiting_until = now.checked_add(Duration::from_millis(ms));
                        }
                    }
                    HubAction::Attached { port, speed } => {
                        if let Some(location) = self.child_location(slot, port, speed) {
                            self.attach_queue.push_back((location, speed));
                        }
                    }
                    HubAction::Detached { port } => {
                        let child =
                            self.devices.iter().find(|(_, d)| d.location.parent == Some((slot, port))).map(|(s, _)| *s);
                        if let Some(child) = child {
                            self.detach(child);
                        }
                    }
                    HubAction::Failed { port } => {
                        log::warn!("usb: hub in slot {slot}: the device on port {port} could not be reset; skipped");
                    }
                }
            }
        }
    }

    fn hub_mut(&mut self, slot: u8) -> Option<&mut HubFunction> {
        match self.devices.get_mut(&slot)?.function.as_mut()? {
            Function::Hub(h) => Some(h),
            _ => None,
        }
    }

    fn next_hub_action(&mut self, slot: u8, now: Instant) -> Option<HubAction> {
        let h = self.hub_mut(slot)?;
        if let Some(until) = h.waiting_until {
            if now < until {
                return None;
            }
            h.waiting_until = None;
            h.hub.on_done(Ok(()));
        }
        h.hub.next_action()
    }

    /// Where a device on port `port` of the hub in `slot` sits.
    fn child_location(&self, slot: u8, port: u8, speed: Speed) -> Option<Location> {
        let hub = self.devices.get(&slot)?;
        let parent = hub.location;
        let translator = if matches!(speed, Speed::Low | Speed::Full) && hub.speed == Speed::High {
            Some((slot, port))
        } else {
            parent.translator
        };
        Some(Location {
            root_port: parent.root_port,
            route: parent.route | (u32::from(port.min(15)) << (4 * u32::from(parent.depth))),
            depth: parent.depth + 1,
            parent: Some((slot, port)),
            translator,
        })
    }
}
