//! One xHCI controller: reset and start, the command and event rings, root
//! ports, and synchronous commands and transfers with timeouts.
//!
//! Commands and control/bulk transfers the driver waits for are synchronous
//! and bounded by a timeout; events that arrive meanwhile for other devices
//! (a keystroke, a received frame, a port change) are kept and handled by the
//! next [`Controller::poll`]. Long waits (hub power-on, port reset) are never
//! slept through: they are deadlines the main loop wakes up for.

use super::device::{Device, Location};
use super::dma::DmaBuffer;
use super::ring::{EventRing, ProducerRing};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::num::NonZeroUsize;
use core::time::Duration;
use hal::clock::Instant;
use usb::hub::{RootPortAction, root_port_action};
use usb::{Speed, UsbError};
use xhci::ring::trb::{command, event};

/// How long a command may take before the controller is considered stuck.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a device may take to answer a control request (USB 2.0 9.2.6.4
/// allows 500 ms for a data stage; 5 s for some, but moteOS does not wait that long).
pub const CONTROL_TIMEOUT: Duration = Duration::from_millis(500);
/// Events the ring holds; more than the driver ever has outstanding.
const EVENT_RING_SIZE: usize = 256;
const COMMAND_RING_SIZE: usize = 64;

/// The `accessor` mapper for an identity-mapped kernel: physical is virtual.
#[derive(Debug, Clone, Copy)]
pub struct Identity;

impl xhci::accessor::Mapper for Identity {
    unsafe fn map(&mut self, phys: usize, _bytes: usize) -> NonZeroUsize {
        // The BAR address was checked non-zero before the registers were created.
        NonZeroUsize::new(phys).unwrap_or(NonZeroUsize::MIN)
    }

    fn unmap(&mut self, _virt: usize, _bytes: usize) {}
}

/// Completion codes the driver tells apart.
pub mod code {
    /// Success.
    pub const SUCCESS: u8 = 1;
    /// A short packet ended the transfer (not an error for IN transfers).
    pub const SHORT_PACKET: u8 = 13;
    /// The device stalled the endpoint.
    pub const STALL: u8 = 6;
    /// Babble, CRC, timeout on the bus.
    pub const TRANSACTION: u8 = 4;
}

/// What a completion code means for the caller.
pub fn completion_error(code: u8) -> Option<UsbError> {
    match code {
        code::SUCCESS | code::SHORT_PACKET => None,
        code::STALL => Some(UsbError::Stalled),
        code::TRANSACTION => Some(UsbError::Transfer("a bus transaction error (device gone or not answering)")),
        3 => Some(UsbError::Transfer("babble (the device sent more than asked)")),
        2 => Some(UsbError::Transfer("a data buffer error")),
        5 => Some(UsbError::Transfer("the controller refused a transfer descriptor")),
        _ => Some(UsbError::Transfer("the controller reported an error")),
    }
}

/// One xHCI controller.
pub struct Controller {
    /// "xHCI 1b36:000d at PCI 00:04.0", for log lines.
    pub name: String,
    pub(super) regs: xhci::Registers<Identity>,
    pub(super) context_64: bool,
    /// Slots usable (ids 1..=max_slots).
    pub(super) max_slots: u8,
    pub(super) ports: u8,
    usb3: Vec<bool>,
    pub(super) dcbaa: DmaBuffer,
    _scratchpad: Vec<DmaBuffer>,
    commands: ProducerRing,
    events: EventRing,
    deferred: VecDeque<[u32; 4]>,
    /// Devices by slot id.
    pub(super) devices: BTreeMap<u8, Device>,
    /// Devices waiting to be enumerated.
    pub(super) attach_queue: VecDeque<(Location, Speed)>,
    /// Root ports whose device failed: not retried until it is unplugged.
    failed_ports: Vec<bool>,
    /// Whether the controller interrupts (MSI-X) or must be polled.
    pub interrupts: bool,
    /// Set once the controller reported a fatal error; it is left alone after that.
    pub dead: bool,
}

impl core::fmt::Debug for Controller {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Controller").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Waits until `done` or `timeout`, spinning.
fn spin_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = crate::time::now();
    loop {
        if done() {
            return true;
        }
        if crate::time::now().saturating_duration_since(start) >= timeout {
            return done();
        }
        core::hint::spin_loop();
    }
}

impl Controller {
    /// Takes over the controller at `mmio` (its BAR 0): BIOS handoff, reset,
    /// rings, and Run.
    ///
    /// # Safety
    /// `mmio` must be the identity-mapped register window of an xHCI function
    /// whose memory decoding and bus mastering are on, used by nobody else.
    pub unsafe fn start(mmio: u64, name: String) -> Result<Controller, &'static str> {
        if mmio == 0 {
            return Err("the register BAR is not assigned");
        }
        // SAFETY: forwarded from the caller: the window is the controller's and only ours.
        let mut regs = unsafe { xhci::Registers::new(mmio as usize, Identity) };
        // SAFETY: as above; the extended capability list lies inside the same register window.
        unsafe { bios_handoff(mmio as usize, &regs) };

        let op = &mut regs.operational;
        op.usbcmd.update_volatile(|c| {
            c.clear_run_stop();
        });
        if !spin_until(Duration::from_millis(100), || op.usbsts.read_volatile().hc_halted()) {
            return Err("the controller did not halt");
        }
        op.usbcmd.update_volatile(|c| {
            c.set_host_controller_reset();
        });
        let reset = spin_until(Duration::from_millis(1000), || {
            !op.usbcmd.read_volatile().host_controller_reset() && !op.usbsts.read_volatile().controller_not_ready()
        });
        if !reset {
            return Err("the controller did not come out of reset");
        }

        let params1 = regs.capability.hcsparams1.read_volatile();
        // The `xhci` crate sizes the doorbell array by the slot count, one short of
        // the doorbells that exist (0 = commands, 1..=slots); the last slot stays unused.
        let max_slots = params1.number_of_device_slots().saturating_sub(1).min(64);
        let ports = params1.number_of_ports();
        if max_slots == 0 || ports == 0 {
            return Err("the controller reports no device slots or no ports");
        }
        let context_64 = regs.capability.hccparams1.read_volatile().context_size();
        let scratch_count = regs.capability.hcsparams2.read_volatile().max_scratchpad_buffers() as usize;
        let mut dcbaa = DmaBuffer::new(8 * (usize::from(max_slots) + 1), 64);
        let mut scratchpad = Vec::new();
        if scratch_count > 0 {
            let mut array = DmaBuffer::new(8 * scratch_count, 64);
            for i in 0..scratch_count {
                let page = DmaBuffer::new(4096, 4096);
                array.write_u64(8 * i, page.phys());
                scratchpad.push(page);
            }
            dcbaa.write_u64(0, array.phys());
            scratchpad.push(array);
        }
        let commands = ProducerRing::new(COMMAND_RING_SIZE);
        let events = EventRing::new(EVENT_RING_SIZE);

        let op = &mut regs.operational;
        op.config.update_volatile(|c| {
            c.set_max_device_slots_enabled(max_slots);
        });
        op.dcbaap.update_volatile(|d| d.set(dcbaa.phys()));
        op.crcr.update_volatile(|c| {
            c.set_ring_cycle_state();
            c.set_command_ring_pointer(commands.base());
        });
        let mut interrupter = regs.interrupter_register_set.interrupter_mut(0);
        interrupter.erstsz.update_volatile(|s| s.set(events.table_size()));
        interrupter.erdp.update_volatile(|d| d.set_event_ring_dequeue_pointer(events.dequeue_pointer()));
        interrupter.erstba.update_volatile(|b| b.set(events.table()));
        // No moderation: with QEMU's xHCI, a 250 us moderation interval lost the interrupt
        // for every report after the first from a keyboard behind a hub (measured); the
        // event rates here (keys, frames) are far below where moderation matters.
        interrupter.imod.update_volatile(|m| {
            m.set_interrupt_moderation_interval(0);
        });
        interrupter.iman.update_volatile(|m| {
            m.set_interrupt_enable();
            m.clear_interrupt_pending();
        });
        regs.operational.usbcmd.update_volatile(|c| {
            c.set_interrupter_enable();
            c.set_run_stop();
        });
        if !spin_until(Duration::from_millis(100), || !regs.operational.usbsts.read_volatile().hc_halted()) {
            return Err("the controller did not start running");
        }

        let usb3 = usb3_ports(mmio as usize, &regs, ports);
        let mut controller = Controller {
            name,
            regs,
            context_64,
            max_slots,
            ports,
            usb3,
            dcbaa,
            _scratchpad: scratchpad,
            commands,
            events,
            deferred: VecDeque::new(),
            devices: BTreeMap::new(),
            attach_queue: VecDeque::new(),
            failed_ports: alloc::vec![false; usize::from(ports) + 1],
            interrupts: false,
            dead: false,
        };
        controller.power_ports();
        Ok(controller)
    }

    /// A line describing the controller for the log.
    pub fn describe(&self) -> String {
        let usb3 = self.usb3.iter().filter(|&&u| u).count();
        alloc::format!(
            "{}: {} ports ({} USB 3), {} slots, {}-byte contexts",
            self.name,
            self.ports,
            usb3,
            self.max_slots,
            if self.context_64 { 64 } else { 32 }
        )
    }

    fn power_ports(&mut self) {
        for index in 0..usize::from(self.ports) {
            self.regs.port_register_set.update_volatile_at(index, |p| {
                preserve_change_bits(&mut p.portsc);
                p.portsc.set_port_power();
            });
        }
    }

    /// Looks at every root port once (devices present at boot) after the
    /// ports had time to power up and train.
    pub fn scan_ports(&mut self) {
        crate::time::sleep(Duration::from_millis(20));
        for port in 1..=self.ports {
            self.root_port_changed(port);
        }
    }

    pub(super) fn is_usb3(&self, port: u8) -> bool {
        self.usb3.get(usize::from(port)).copied().unwrap_or(false)
    }

    /// Rings doorbell `index` (0: commands; a slot id: that device) for `target`.
    pub(super) fn ring_doorbell(&mut self, index: u8, target: u8) {
        if usize::from(index) >= self.regs.doorbell.len() {
            return;
        }
        self.regs.doorbell.update_volatile_at(usize::from(index), |d| {
            d.set_doorbell_target(target);
            d.set_doorbell_stream_id(0);
        });
    }

    /// Acknowledges the interrupt and records the dequeue position.
    fn acknowledge(&mut self) {
        let dequeue = self.events.dequeue_pointer();
        self.regs.operational.usbsts.update_volatile(|s| {
            s.set_0_host_system_error();
            s.set_0_port_change_detect();
            s.set_0_save_restore_error();
            s.clear_event_interrupt();
        });
        let mut interrupter = self.regs.interrupter_register_set.interrupter_mut(0);
        interrupter.iman.update_volatile(|m| {
            m.clear_interrupt_pending();
        });
        interrupter.erdp.update_volatile(|d| {
            d.set_event_ring_dequeue_pointer(dequeue);
            d.clear_event_handler_busy();
        });
    }

    /// The next event from the controller (not the deferred ones).
    fn next_event(&mut self) -> Option<[u32; 4]> {
        self.events.pop()
    }

    /// Handles everything that happened: port changes, transfer completions,
    /// devices to enumerate, hub work that is due.
    pub fn poll(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        let status = self.regs.operational.usbsts.read_volatile();
        if status.host_system_error() || status.host_controller_error() {
            log::error!("usb: {} reported a fatal error; its devices are gone until reboot", self.name);
            self.dead = true;
            return;
        }
        // Hubs find devices, devices may be hubs: go round until nothing new turns up.
        for _ in 0..8 {
            while let Some(trb) = self.deferred.pop_front().or_else(|| self.next_event()) {
                self.handle_event(trb);
            }
            self.acknowledge();
            while let Some((location, speed)) = self.attach_queue.pop_front() {
                self.attach(location, speed);
            }
            self.drive_hubs(now);
            if self.attach_queue.is_empty() && self.deferred.is_empty() {
                break;
            }
        }
    }

    /// When [`poll`](Self::poll) must run again without an interrupt (hub waits).
    pub fn next_wake(&self, now: Instant) -> Option<Duration> {
        if !self.attach_queue.is_empty() || !self.deferred.is_empty() {
            return Some(Duration::ZERO);
        }
        self.devices.values().filter_map(|d| d.wake_at()).map(|at| at.saturating_duration_since(now)).min()
    }

    fn handle_event(&mut self, trb: [u32; 4]) {
        match event::Allowed::try_from(trb) {
            Ok(event::Allowed::PortStatusChange(change)) => self.root_port_changed(change.port_id()),
            Ok(event::Allowed::TransferEvent(t)) => {
                let code = code_byte(t.completion_code());
                self.transfer_event(t.slot_id(), t.endpoint_id(), t.trb_pointer(), code, t.trb_transfer_length());
            }
            Ok(event::Allowed::CommandCompletion(_)) => {
                log::debug!("usb: {}: a late command completion was ignored", self.name);
            }
            Ok(event::Allowed::HostController(_)) => {
                log::warn!("usb: {} reported a host controller event (event ring full?)", self.name);
            }
            Ok(_) => {}
            Err(raw) => log::debug!("usb: {}: an event the driver does not know: {raw:08x?}", self.name),
        }
    }

    /// Waits for the event `matches` accepts, keeping the others for later.
    fn wait_event(&mut self, timeout: Duration, mut matches: impl FnMut(&[u32; 4]) -> bool) -> Option<[u32; 4]> {
        let start = crate::time::now();
        loop {
            while let Some(trb) = self.next_event() {
                if matches(&trb) {
                    self.acknowledge();
                    return Some(trb);
                }
                self.deferred.push_back(trb);
            }
            if self.dead || crate::time::now().saturating_duration_since(start) >= timeout {
                self.acknowledge();
                return None;
            }
            core::hint::spin_loop();
        }
    }

    /// Runs a command and waits for its completion: the slot id it reports,
    /// or why it failed.
    pub(super) fn command(&mut self, trb: [u32; 4]) -> Result<u8, UsbError> {
        if self.dead {
            return Err(UsbError::Transfer("the controller has failed"));
        }
        let address = self.commands.push(trb);
        self.ring_doorbell(0, 0);
        let done = self.wait_event(COMMAND_TIMEOUT, |e| {
            matches!(event::Allowed::try_from(*e), Ok(event::Allowed::CommandCompletion(c)) if c.command_trb_pointer() == address)
        });
        let Some(Ok(event::Allowed::CommandCompletion(c))) = done.map(event::Allowed::try_from) else {
            log::error!("usb: {} did not complete a command in time; abandoning it", self.name);
            self.dead = true;
            return Err(UsbError::Transfer("the controller did not complete a command"));
        };
        let code = code_byte(c.completion_code());
        if code == code::SUCCESS {
            Ok(c.slot_id())
        } else {
            Err(match code {
                9 => UsbError::Transfer("the controller has no free device slot"),
                17 => UsbError::Transfer("the controller rejected a context parameter"),
                19 => UsbError::Transfer("a context was in the wrong state"),
                _ => completion_error(code).unwrap_or(UsbError::Transfer("command failed")),
            })
        }
    }

    /// Pushes the TRBs of one transfer on `slot`'s endpoint `dci`, rings the
    /// doorbell and waits until the TRB at the returned address (the last one)
    /// or any earlier one of the same transfer completes. Returns the bytes
    /// not transferred, reported by a short-packet event, or the error.
    pub(super) fn run_transfer(
        &mut self,
        slot: u8,
        dci: u8,
        trbs: &[[u32; 4]],
        requested: u32,
        timeout: Duration,
    ) -> Result<u32, UsbError> {
        let Some(device) = self.devices.get_mut(&slot) else { return Err(UsbError::Transfer("the device is gone")) };
        let Some(ring) = device.ring_mut(dci) else { return Err(UsbError::Transfer("no such endpoint")) };
        let addresses: Vec<u64> = trbs.iter().map(|t| ring.push(*t)).collect();
        self.ring_doorbell(slot, dci);
        let mut residue = 0u32;
        loop {
            let event = self.wait_event(timeout, |e| match event::Allowed::try_from(*e) {
                Ok(event::Allowed::TransferEvent(t)) => {
                    t.slot_id() == slot && t.endpoint_id() == dci && addresses.contains(&t.trb_pointer())
                }
                _ => false,
            });
            let Some(Ok(event::Allowed::TransferEvent(t))) = event.map(event::Allowed::try_from) else {
                self.stop_endpoint(slot, dci);
                return Err(UsbError::Transfer("the device did not answer in time"));
            };
            let code = code_byte(t.completion_code());
            if let Some(error) = completion_error(code) {
                if error == UsbError::Stalled || code == code::TRANSACTION || code == 3 {
                    self.recover_endpoint(slot, dci);
                }
                return Err(error);
            }
            if code == code::SHORT_PACKET {
                // Never trust the residue beyond what was asked for.
                residue = residue.saturating_add(t.trb_transfer_length()).min(requested);
            }
            if Some(&t.trb_pointer()) == addresses.last() {
                return Ok(residue);
            }
        }
    }

    /// Stops an endpoint whose transfer timed out and skips what is left on its ring.
    fn stop_endpoint(&mut self, slot: u8, dci: u8) {
        let mut stop = command::StopEndpoint::new();
        stop.set_slot_id(slot).set_endpoint_id(dci);
        let _ = self.command(stop.into_raw());
        self.skip_ring(slot, dci);
    }

    /// Resets a halted endpoint (after a stall or bus error) and skips what is
    /// left of the failed transfer, so the next one starts clean.
    pub(super) fn recover_endpoint(&mut self, slot: u8, dci: u8) {
        let mut reset = command::ResetEndpoint::new();
        reset.set_slot_id(slot).set_endpoint_id(dci);
        if let Err(e) = self.command(reset.into_raw()) {
            log::debug!("usb: slot {slot} endpoint {dci}: reset endpoint: {e}");
        }
        self.skip_ring(slot, dci);
    }

    fn skip_ring(&mut self, slot: u8, dci: u8) {
        let Some(pointer) = self.devices.get_mut(&slot).and_then(|d| d.ring_mut(dci)).map(|r| r.dequeue_pointer())
        else {
            return;
        };
        let mut set = command::SetTrDequeuePointer::new();
        set.set_slot_id(slot).set_endpoint_id(dci).set_new_tr_dequeue_pointer(pointer & !0xf);
        if pointer & 1 != 0 {
            set.set_dequeue_cycle_state();
        }
        if let Err(e) = self.command(set.into_raw()) {
            log::debug!("usb: slot {slot} endpoint {dci}: set dequeue pointer: {e}");
        }
    }

    /// A root port changed: acknowledge it and attach, reset or detach.
    pub(super) fn root_port_changed(&mut self, port: u8) {
        if port == 0 || port > self.ports {
            log::warn!("usb: {} reported a change on port {port}, which it does not have", self.name);
            return;
        }
        let index = usize::from(port) - 1;
        let status = self.regs.port_register_set.read_volatile_at(index).portsc;
        // Acknowledge every change (write 1 to clear) without touching the enable bit.
        self.regs.port_register_set.update_volatile_at(index, |p| {
            let old = p.portsc;
            preserve_change_bits(&mut p.portsc);
            if old.connect_status_change() {
                p.portsc.clear_connect_status_change();
            }
            if old.port_enabled_disabled_change() {
                p.portsc.clear_port_enabled_disabled_change();
            }
            if old.port_reset_change() {
                p.portsc.clear_port_reset_change();
            }
            if old.warm_port_reset_change() {
                p.portsc.clear_warm_port_reset_change();
            }
            if old.over_current_change() {
                p.portsc.clear_over_current_change();
            }
            if old.port_link_state_change() {
                p.portsc.clear_port_link_state_change();
            }
            if old.port_config_error_change() {
                p.portsc.clear_port_config_error_change();
            }
        });
        let connected = status.current_connect_status();
        let action =
            root_port_action(connected, status.port_enabled_disabled(), status.port_reset(), self.is_usb3(port));
        let present = self.devices.values().any(|d| d.location.root_port == port && d.location.parent.is_none());
        let fresh_connection = status.connect_status_change();
        if present && (action == RootPortAction::Detach || (fresh_connection && action != RootPortAction::Enumerate)) {
            self.detach_root_port(port);
        }
        match action {
            RootPortAction::Detach => self.failed_ports[usize::from(port)] = false,
            RootPortAction::Reset => {
                self.regs.port_register_set.update_volatile_at(index, |p| {
                    preserve_change_bits(&mut p.portsc);
                    p.portsc.set_port_reset();
                });
            }
            RootPortAction::Enumerate => {
                let queued = self.attach_queue.iter().any(|(l, _)| l.root_port == port && l.parent.is_none());
                let present =
                    self.devices.values().any(|d| d.location.root_port == port && d.location.parent.is_none());
                if !present && !queued && !self.failed_ports[usize::from(port)] {
                    match speed_from_port(status.port_speed()) {
                        Some(speed) => self.attach_queue.push_back((Location::root(port), speed)),
                        None => log::warn!(
                            "usb: {}: device on port {port} reports speed id {}, which moteOS does not know",
                            self.name,
                            status.port_speed()
                        ),
                    }
                }
            }
            RootPortAction::None => {}
        }
    }

    /// Notes that the device at `location` failed, so it is not retried forever.
    pub(super) fn mark_failed(&mut self, location: &Location) {
        if location.parent.is_none()
            && let Some(flag) = self.failed_ports.get_mut(usize::from(location.root_port))
        {
            *flag = true;
        }
    }

    fn detach_root_port(&mut self, port: u8) {
        let slots: Vec<u8> = self
            .devices
            .iter()
            .filter(|(_, d)| d.location.root_port == port && d.location.parent.is_none())
            .map(|(s, _)| *s)
            .collect();
        for slot in slots {
            self.detach(slot);
        }
    }
}

/// The completion code as its number (codes the crate does not name stay raw).
fn code_byte(code: Result<event::CompletionCode, u8>) -> u8 {
    match code {
        Ok(code) => code as u8,
        Err(raw) => raw,
    }
}

/// Writes 0 to every write-1-to-clear bit of PORTSC (and to the enable bit,
/// where a 1 would disable the port), so an update changes only what the caller sets.
pub(super) fn preserve_change_bits(portsc: &mut xhci::registers::operational::PortStatusAndControlRegister) {
    portsc.set_0_port_enabled_disabled();
    portsc.set_0_connect_status_change();
    portsc.set_0_port_enabled_disabled_change();
    portsc.set_0_warm_port_reset_change();
    portsc.set_0_over_current_change();
    portsc.set_0_port_reset_change();
    portsc.set_0_port_link_state_change();
    portsc.set_0_port_config_error_change();
}

/// The speed a port reports (the default Protocol Speed IDs, xHCI 7.2.2.1.1).
pub(super) fn speed_from_port(id: u8) -> Option<Speed> {
    match id {
        1 => Some(Speed::Full),
        2 => Some(Speed::Low),
        3 => Some(Speed::High),
        4 | 5 => Some(Speed::Super),
        _ => None,
    }
}

/// The slot context's speed value for `speed`.
pub(super) fn port_speed_id(speed: Speed) -> u8 {
    match speed {
        Speed::Full => 1,
        Speed::Low => 2,
        Speed::High => 3,
        Speed::Super => 4,
    }
}

/// Takes the controller from the firmware (xHCI 1.2 4.22.1, USB Legacy
/// Support): sets the OS-owned semaphore and waits for the BIOS to let go.
///
/// # Safety
/// `mmio` must be the controller's identity-mapped register window.
unsafe fn bios_handoff(mmio: usize, regs: &xhci::Registers<Identity>) {
    use xhci::extended_capabilities::{ExtendedCapability, List};
    let params = regs.capability.hccparams1.read_volatile();
    // SAFETY: forwarded from the caller; the list is walked inside the register window.
    let Some(mut list) = (unsafe { List::new(mmio, params, Identity) }) else { return };
    for capability in &mut list {
        // Only the semaphore register is used: the crate's `usblegctlsts` accessor
        // points at USBLEGSUP itself (0.9.2), so the control register is left alone.
        if let Ok(ExtendedCapability::UsbLegacySupport(mut legacy)) = capability {
            if !legacy.usblegsup.read_volatile().hc_bios_owned_semaphore() {
                return;
            }
            legacy.usblegsup.update_volatile(|l| {
                l.set_hc_os_owned_semaphore();
            });
            let released =
                spin_until(Duration::from_millis(1000), || !legacy.usblegsup.read_volatile().hc_bios_owned_semaphore());
            if released {
                log::info!("usb: the firmware handed the xHCI controller over");
            } else {
                log::warn!("usb: the firmware did not release the xHCI controller in 1 s; taking it anyway");
                legacy.usblegsup.update_volatile(|l| {
                    l.clear_hc_bios_owned_semaphore();
                });
            }
            return;
        }
    }
}

/// Which root ports are USB 3 (from the Supported Protocol capabilities).
fn usb3_ports(mmio: usize, regs: &xhci::Registers<Identity>, ports: u8) -> Vec<bool> {
    use xhci::extended_capabilities::{ExtendedCapability, List};
    let mut usb3 = alloc::vec![false; usize::from(ports) + 1];
    let params = regs.capability.hccparams1.read_volatile();
    // SAFETY: the controller's register window (the caller of `start` vouched for it).
    let Some(mut list) = (unsafe { List::new(mmio, params, Identity) }) else { return usb3 };
    for capability in &mut list {
        if let Ok(ExtendedCapability::XhciSupportedProtocol(protocol)) = capability {
            let header = protocol.header.read_volatile();
            if header.major_revision() >= 3 {
                let first = usize::from(header.compatible_port_offset());
                let count = usize::from(header.compatible_port_count());
                for port in first..first.saturating_add(count) {
                    if let Some(flag) = usb3.get_mut(port) {
                        *flag = true;
                    }
                }
            }
        }
    }
    usb3
}
