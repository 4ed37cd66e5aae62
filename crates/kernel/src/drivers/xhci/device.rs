//! One USB device on an xHCI controller: its slot, contexts and rings, and
//! its enumeration (driven by `usb::enumerate`) from Enable Slot to a running
//! function, or to a log line saying why it was skipped.

use super::controller::{CONTROL_TIMEOUT, Controller, port_speed_id};
use super::dma::DmaBuffer;
use super::function::Function;
use super::ring::ProducerRing;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use hal::clock::Instant;
use usb::descriptor::{EndpointDescriptor, TransferType};
use usb::enumerate::{Action, Enumeration};
use usb::request::SetupPacket;
use usb::{Speed, UsbError};
use xhci::context::{EndpointType, Input32Byte, Input64Byte, InputHandler};
use xhci::ring::trb::{command, transfer};

/// Hubs below the root moteOS follows (USB allows five).
const MAX_DEPTH: u8 = 5;
/// TRBs per transfer ring.
const RING_SIZE: usize = 64;
/// The control data buffer; larger answers are refused by the enumeration.
const CONTROL_BUFFER: usize = 4096;

/// Where a device sits in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The root port its branch hangs off.
    pub root_port: u8,
    /// The route string (a hub port per tier, 4 bits each).
    pub route: u32,
    /// Hubs between the root port and the device.
    pub depth: u8,
    /// The hub slot and hub port it is plugged into, if not a root port.
    pub parent: Option<(u8, u8)>,
    /// The high-speed hub whose transaction translator serves a low/full-speed
    /// device (slot, port), if any.
    pub translator: Option<(u8, u8)>,
}

impl Location {
    /// A device on root port `port`.
    pub const fn root(port: u8) -> Location {
        Location { root_port: port, route: 0, depth: 0, parent: None, translator: None }
    }

    /// Words for the log: "root port 1" or "root port 1, hub port 3".
    pub fn describe(&self) -> String {
        let mut text = format!("root port {}", self.root_port);
        for tier in 0..self.depth {
            let port = (self.route >> (4 * u32::from(tier))) & 0xf;
            text.push_str(&format!(", hub port {port}"));
        }
        text
    }
}

/// A device with a slot.
pub struct Device {
    /// Where it is.
    pub location: Location,
    /// Its speed.
    pub speed: Speed,
    /// Vendor and product id, once read.
    pub ids: Option<(u16, u16)>,
    /// Product name, once read.
    pub product: String,
    output: DmaBuffer,
    input: DmaBuffer,
    rings: Vec<Option<ProducerRing>>,
    pub(super) control_data: DmaBuffer,
    max_packet0: u16,
    endpoints: Vec<EndpointDescriptor>,
    /// Hub fields for the slot context: ports and TT think time.
    hub: Option<(u8, u8)>,
    /// What it does, once configured.
    pub function: Option<Function>,
}

impl Device {
    fn new(location: Location, speed: Speed) -> Device {
        let mut rings: Vec<Option<ProducerRing>> = (0..32).map(|_| None).collect();
        rings[1] = Some(ProducerRing::new(RING_SIZE));
        Device {
            location,
            speed,
            ids: None,
            product: String::new(),
            output: DmaBuffer::new(32 * 64, 64),
            input: DmaBuffer::new(33 * 64, 64),
            rings,
            control_data: DmaBuffer::new(CONTROL_BUFFER, 4096),
            max_packet0: speed.default_max_packet0(),
            endpoints: Vec::new(),
            hub: None,
            function: None,
        }
    }

    /// The ring of endpoint `dci`, if set up.
    pub fn ring_mut(&mut self, dci: u8) -> Option<&mut ProducerRing> {
        self.rings.get_mut(usize::from(dci))?.as_mut()
    }

    /// "0627:0001 "QEMU USB Keyboard" (full speed, root port 1)", for log lines.
    pub fn describe(&self) -> String {
        let ids = match self.ids {
            Some((vendor, product)) => format!("{vendor:04x}:{product:04x}"),
            None => String::from("(ids unknown)"),
        };
        let name = if self.product.is_empty() { String::new() } else { format!(" \"{}\"", self.product) };
        format!("{ids}{name} ({}, {})", self.speed.name(), self.location.describe())
    }

    /// When the device's function needs the loop again without an interrupt.
    pub fn wake_at(&self) -> Option<Instant> {
        self.function.as_ref().and_then(Function::wake_at)
    }

    /// Writes the input context: control (add flags), slot, endpoint 0 and the
    /// configured endpoints.
    fn write_input(&mut self, context_64: bool, add: u32) {
        if context_64 {
            let mut input = Input64Byte::new_64byte();
            self.fill(&mut input, add);
            serialize(&input, &mut self.input);
        } else {
            let mut input = Input32Byte::new_32byte();
            self.fill(&mut input, add);
            serialize(&input, &mut self.input);
        }
    }

    fn fill(&self, input: &mut dyn InputHandler, add: u32) {
        for i in 0..32 {
            if add & (1 << i) != 0 {
                input.control_mut().set_add_context_flag(i);
            }
        }
        let entries = self.endpoints.iter().map(EndpointDescriptor::context_index).max().unwrap_or(1).max(1);
        let slot = input.device_mut().slot_mut();
        slot.set_route_string(self.location.route);
        slot.set_speed(port_speed_id(self.speed));
        slot.set_context_entries(entries);
        slot.set_root_hub_port_number(self.location.root_port);
        if let Some((hub_slot, hub_port)) = self.location.translator {
            slot.set_parent_hub_slot_id(hub_slot);
            slot.set_parent_port_number(hub_port);
        }
        if let Some((ports, think_time)) = self.hub {
            slot.set_hub();
            slot.set_number_of_ports(ports);
            if self.speed == Speed::High {
                slot.set_tt_think_time(think_time);
            }
        }
        let ep0 = input.device_mut().endpoint_mut(1);
        ep0.set_endpoint_type(EndpointType::Control);
        ep0.set_max_packet_size(self.max_packet0);
        ep0.set_error_count(3);
        ep0.set_average_trb_length(8);
        if let Some(ring) = self.rings[1].as_ref() {
            ep0.set_tr_dequeue_pointer(ring.base());
            ep0.set_dequeue_cycle_state();
        }
        for endpoint in &self.endpoints {
            let dci = usize::from(endpoint.context_index());
            let Some(ring) = self.rings.get(dci).and_then(Option::as_ref) else { continue };
            let context = input.device_mut().endpoint_mut(dci);
            let kind = match (endpoint.transfer_type(), endpoint.is_in()) {
                (TransferType::Bulk, true) => EndpointType::BulkIn,
                (TransferType::Bulk, false) => EndpointType::BulkOut,
                (TransferType::Interrupt, true) => EndpointType::InterruptIn,
                (TransferType::Interrupt, false) => EndpointType::InterruptOut,
                (TransferType::Isochronous, true) => EndpointType::IsochIn,
                (TransferType::Isochronous, false) => EndpointType::IsochOut,
                (TransferType::Control, _) => EndpointType::Control,
            };
            context.set_endpoint_type(kind);
            context.set_max_packet_size(endpoint.packet_size());
            context.set_error_count(3);
            context.set_interval(interval(endpoint, self.speed));
            context.set_tr_dequeue_pointer(ring.base());
            context.set_dequeue_cycle_state();
            if endpoint.transfer_type() == TransferType::Interrupt {
                context.set_average_trb_length(endpoint.packet_size());
                context.set_max_endpoint_service_time_interval_payload_low(endpoint.packet_size());
            } else {
                context.set_average_trb_length(1024);
            }
        }
    }
}

/// Copies an input context into DMA memory word by word.
fn serialize(input: &dyn InputHandler, out: &mut DmaBuffer) {
    let mut offset = 0;
    let mut put = |words: &[u32]| {
        for word in words {
            out.write_u32(offset, *word);
            offset += 4;
        }
    };
    put(input.control().as_ref());
    put(input.device().slot().as_ref());
    for dci in 1..=31 {
        put(input.device().endpoint(dci).as_ref());
    }
}

/// The endpoint context's interval (2^n x 125 us) for a descriptor's bInterval.
fn interval(endpoint: &EndpointDescriptor, speed: Speed) -> u8 {
    match (endpoint.transfer_type(), speed) {
        (TransferType::Interrupt, Speed::Low | Speed::Full) => {
            // bInterval is in 1 ms frames: the largest power of two of 125 us not above it.
            let microframes = u32::from(endpoint.interval.max(1)) * 8;
            (31 - microframes.leading_zeros()).clamp(3, 10) as u8
        }
        (TransferType::Isochronous, Speed::Full) => endpoint.interval.clamp(1, 16) + 2,
        (TransferType::Interrupt | TransferType::Isochronous, _) => endpoint.interval.clamp(1, 16) - 1,
        _ => 0,
    }
}

impl Controller {
    /// Gives a new device a slot and an address, enumerates it and starts its
    /// function. Every failure is logged with the device's ids and location,
    /// and the device is skipped.
    pub(super) fn attach(&mut self, location: Location, speed: Speed) {
        if location.depth > MAX_DEPTH {
            log::warn!("usb: a device at {} is too deep in the hub tree; skipped", location.describe());
            return;
        }
        let slot = match self.command(command::EnableSlot::new().into_raw()) {
            Ok(slot) if slot >= 1 && slot <= self.max_slots => slot,
            Ok(slot) => {
                log::warn!("usb: {} gave out slot {slot}, which is out of range", self.name);
                return;
            }
            Err(e) => {
                log::warn!("usb: no slot for the device at {}: {e}", location.describe());
                return;
            }
        };
        let mut device = Device::new(location, speed);
        self.dcbaa.write_u64(8 * usize::from(slot), device.output.phys());
        device.write_input(self.context_64, 0b11);
        let mut address = command::AddressDevice::new();
        address.set_slot_id(slot).set_input_context_pointer(device.input.phys());
        self.devices.insert(slot, device);
        if let Err(e) = self.command(address.into_raw()) {
            self.give_up(slot, e);
            return;
        }
        let mut enumeration = Enumeration::new(speed, location.depth);
        let mut action = enumeration.start();
        loop {
            action = match action {
                Action::Control(setup) => {
                    let answer = self.control(slot, setup, None);
                    if let (Some(device), Some(d)) = (self.devices.get_mut(&slot), enumeration.device()) {
                        device.ids = Some((d.vendor_id, d.product_id));
                    }
                    enumeration.advance(answer.as_deref().map_err(|e| *e))
                }
                Action::SetControlPacket(size) => {
                    let result = self.update_control_packet(slot, size);
                    enumeration.advance(result.map(|()| &[][..]))
                }
                Action::ConfigureEndpoints(endpoints) => {
                    let result = self.configure_endpoints(slot, endpoints);
                    enumeration.advance(result.map(|()| &[][..]))
                }
                Action::Done(found) => {
                    if let Some(device) = self.devices.get_mut(&slot) {
                        device.product = found.product.clone();
                    }
                    self.start_function(slot, found);
                    return;
                }
                Action::Failed(e) => {
                    self.give_up(slot, e);
                    return;
                }
            };
        }
    }

    /// Logs why a device is skipped and frees its slot.
    fn give_up(&mut self, slot: u8, why: UsbError) {
        let Some(device) = self.devices.get(&slot) else { return };
        log::warn!("usb: device {} skipped: {why}", device.describe());
        let location = device.location;
        self.mark_failed(&location);
        self.free_slot(slot);
    }

    /// Disables a slot and forgets its device (after the controller let go of its memory).
    pub(super) fn free_slot(&mut self, slot: u8) {
        let mut disable = command::DisableSlot::new();
        disable.set_slot_id(slot);
        if let Err(e) = self.command(disable.into_raw()) {
            log::debug!("usb: disable slot {slot}: {e}");
        }
        self.dcbaa.write_u64(8 * usize::from(slot), 0);
        self.devices.remove(&slot);
    }

    /// A control transfer on the default endpoint: the data received (IN), or
    /// nothing (OUT and no-data requests; `out` is the OUT data).
    pub(super) fn control(&mut self, slot: u8, setup: SetupPacket, out: Option<&[u8]>) -> Result<Vec<u8>, UsbError> {
        let length = usize::from(setup.length);
        if length > CONTROL_BUFFER {
            return Err(UsbError::Transfer("a control request larger than the driver's buffer"));
        }
        let Some(device) = self.devices.get_mut(&slot) else { return Err(UsbError::Transfer("the device is gone")) };
        if let Some(data) = out {
            device.control_data.write(0, &data[..data.len().min(length)]);
        }
        let buffer = device.control_data.phys();
        let mut stage = transfer::SetupStage::new();
        stage
            .set_request_type(setup.request_type)
            .set_request(setup.request)
            .set_value(setup.value)
            .set_index(setup.index)
            .set_length(setup.length)
            .set_transfer_type(match (length, setup.is_in()) {
                (0, _) => transfer::TransferType::No,
                (_, true) => transfer::TransferType::In,
                (_, false) => transfer::TransferType::Out,
            });
        let mut trbs = alloc::vec![stage.into_raw()];
        if length > 0 {
            let mut data = transfer::DataStage::new();
            data.set_data_buffer_pointer(buffer)
                .set_trb_transfer_length(length as u32)
                .set_direction(setup.is_in().into())
                .set_interrupt_on_short_packet();
            trbs.push(data.into_raw());
        }
        let mut status = transfer::StatusStage::new();
        // The status stage runs the other way from the data (IN when there is none).
        if length == 0 || !setup.is_in() {
            status.set_direction();
        }
        status.set_interrupt_on_completion();
        trbs.push(status.into_raw());
        let residue = self.run_transfer(slot, 1, &trbs, length as u32, CONTROL_TIMEOUT)?;
        if !setup.is_in() {
            return Ok(Vec::new());
        }
        let received = length - residue as usize;
        let mut data = alloc::vec![0u8; received];
        if let Some(device) = self.devices.get(&slot) {
            device.control_data.read(0, &mut data);
        }
        Ok(data)
    }

    fn update_control_packet(&mut self, slot: u8, size: u16) -> Result<(), UsbError> {
        let Some(device) = self.devices.get_mut(&slot) else { return Err(UsbError::Transfer("the device is gone")) };
        device.max_packet0 = size;
        device.write_input(self.context_64, 0b10);
        let mut evaluate = command::EvaluateContext::new();
        evaluate.set_slot_id(slot).set_input_context_pointer(device.input.phys());
        self.command(evaluate.into_raw()).map(|_| ())
    }

    /// Creates a ring per endpoint and tells the controller about them.
    pub(super) fn configure_endpoints(&mut self, slot: u8, endpoints: Vec<EndpointDescriptor>) -> Result<(), UsbError> {
        let Some(device) = self.devices.get_mut(&slot) else { return Err(UsbError::Transfer("the device is gone")) };
        let mut add = 1u32;
        for endpoint in &endpoints {
            let dci = endpoint.context_index();
            device.rings[usize::from(dci)] = Some(ProducerRing::new(RING_SIZE));
            add |= 1 << dci;
        }
        device.endpoints = endpoints;
        device.write_input(self.context_64, add);
        let mut configure = command::ConfigureEndpoint::new();
        configure.set_slot_id(slot).set_input_context_pointer(device.input.phys());
        self.command(configure.into_raw()).map(|_| ())
    }

    /// Tells the controller a device is a hub with `ports` ports.
    pub(super) fn mark_hub(&mut self, slot: u8, ports: u8, think_time: u8) -> Result<(), UsbError> {
        let Some(device) = self.devices.get_mut(&slot) else { return Err(UsbError::Transfer("the device is gone")) };
        device.hub = Some((ports, think_time));
        device.write_input(self.context_64, 1);
        let mut configure = command::ConfigureEndpoint::new();
        configure.set_slot_id(slot).set_input_context_pointer(device.input.phys());
        self.command(configure.into_raw()).map(|_| ())
    }

    /// Forgets a device that was unplugged (and, for a hub, everything behind it).
    pub(super) fn detach(&mut self, slot: u8) {
        let children: Vec<u8> = self
            .devices
            .iter()
            .filter(|(_, d)| d.location.parent.map(|p| p.0) == Some(slot))
            .map(|(s, _)| *s)
            .collect();
        for child in children {
            self.detach(child);
        }
        let Some(device) = self.devices.get_mut(&slot) else { return };
        log::info!("usb: device {} unplugged", device.describe());
        if let Some(function) = device.function.as_mut() {
            function.unplugged();
        }
        self.free_slot(slot);
    }
}
