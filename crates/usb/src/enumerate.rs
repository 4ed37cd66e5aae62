//! Enumeration of one device, from the moment the host controller has given
//! it an address (xHCI's Address Device) to a configured function a driver
//! can use: descriptors, the choice of configuration and function, endpoint
//! setup, SET_CONFIGURATION and the function's own setup requests.
//!
//! Sans-I/O: [`Enumeration::start`] and [`Enumeration::advance`] return the
//! next [`Action`]; the caller performs it and passes back what came of it.
//! Nothing a device sends is trusted: every descriptor is parsed with checked
//! lengths, at most [`MAX_CONFIGURATION_LEN`] bytes of configuration are read
//! and at most [`MAX_CONFIGURATIONS`] configurations are looked at.

use crate::descriptor::{
    CONFIGURATION_HEADER_LEN, CdcFunctional, Configuration, ConfigurationHeader, DEVICE_DESCRIPTOR_LEN,
    DeviceDescriptor, EndpointDescriptor, HubDescriptor, Interface, MAX_CONFIGURATION_LEN, TransferType, class,
    control_max_packet_from_prefix, first_language, kind, parse_string,
};
use crate::ecm::parse_mac;
use crate::request::SetupPacket;
use crate::{Speed, UsbError};
use alloc::string::String;
use alloc::vec::Vec;

/// The most configurations looked at for a supported function.
pub const MAX_CONFIGURATIONS: u8 = 4;
/// Longest string descriptor read.
const STRING_LEN: u16 = 255;
/// US English, used when a device lists no language.
const ENGLISH: u16 = 0x0409;

/// A CDC-ECM network function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcmFunction {
    /// The communications (control) interface.
    pub control_interface: u8,
    /// The data interface.
    pub data_interface: u8,
    /// The data interface's alternate setting that has the bulk endpoints.
    pub data_alternate: u8,
    /// The notification endpoint (interrupt IN), if the device has one.
    pub notify: Option<EndpointDescriptor>,
    /// Bulk IN: received frames.
    pub bulk_in: EndpointDescriptor,
    /// Bulk OUT: frames to send.
    pub bulk_out: EndpointDescriptor,
    /// The string descriptor index holding the MAC address.
    pub mac_string: u8,
    /// The adapter's MAC address (zero until the string was read).
    pub mac: [u8; 6],
    /// Largest frame the adapter handles.
    pub max_segment_size: u16,
}

/// What a configured device is to moteOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// A boot-protocol keyboard.
    Keyboard {
        /// Its interface.
        interface: u8,
        /// Its interrupt IN endpoint.
        endpoint: EndpointDescriptor,
    },
    /// A hub.
    Hub {
        /// Its hub descriptor.
        descriptor: HubDescriptor,
        /// Its status-change endpoint (interrupt IN).
        endpoint: EndpointDescriptor,
    },
    /// A CDC-ECM Ethernet adapter.
    Ethernet(EcmFunction),
    /// A bulk-only SCSI mass storage device (a USB stick).
    Storage {
        /// Its interface.
        interface: u8,
        /// Bulk IN.
        bulk_in: EndpointDescriptor,
        /// Bulk OUT.
        bulk_out: EndpointDescriptor,
    },
}

impl Function {
    /// A short name for the log.
    pub const fn name(&self) -> &'static str {
        match self {
            Function::Keyboard { .. } => "keyboard",
            Function::Hub { .. } => "hub",
            Function::Ethernet(_) => "CDC-ECM network adapter",
            Function::Storage { .. } => "mass storage",
        }
    }

    /// The endpoints the controller must set up for it.
    pub fn endpoints(&self) -> Vec<EndpointDescriptor> {
        match *self {
            Function::Keyboard { endpoint, .. } | Function::Hub { endpoint, .. } => alloc::vec![endpoint],
            Function::Ethernet(ecm) => {
                let mut all = alloc::vec![ecm.bulk_in, ecm.bulk_out];
                all.extend(ecm.notify);
                all
            }
            Function::Storage { bulk_in, bulk_out, .. } => alloc::vec![bulk_in, bulk_out],
        }
    }
}

/// A device that finished enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerated {
    /// Its device descriptor.
    pub device: DeviceDescriptor,
    /// Its product name, if it gave one.
    pub product: String,
    /// The configuration value that was set.
    pub configuration: u8,
    /// What it is.
    pub function: Function,
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this control request on the default endpoint; pass back the data
    /// received (an empty slice for requests without a data stage).
    Control(SetupPacket),
    /// The control endpoint's packet size differs from the one assumed:
    /// update the controller's endpoint 0 context, then pass back `Ok(&[])`.
    SetControlPacket(u16),
    /// Set up these endpoints in the controller (xHCI Configure Endpoint),
    /// then pass back `Ok(&[])`.
    ConfigureEndpoints(Vec<EndpointDescriptor>),
    /// Enumeration is complete.
    Done(Enumerated),
    /// The device cannot be used; the error says why.
    Failed(UsbError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    DevicePrefix,
    ControlPacket,
    Device,
    Languages,
    Product,
    ConfigHeader(u8),
    Config(u8),
    Mac,
    Endpoints,
    SetConfiguration,
    Setup(u8),
    HubDescriptor,
    Finished,
}

/// Enumeration of one addressed device.
#[derive(Debug, Clone)]
pub struct Enumeration {
    speed: Speed,
    hub_depth: u8,
    step: Step,
    device: Option<DeviceDescriptor>,
    language: u16,
    product: String,
    configuration: Option<(ConfigurationHeader, Function)>,
}

impl Enumeration {
    /// The enumeration of a device at `speed`, `hub_depth` hubs below the root
    /// (SuperSpeed hubs need to know their tier).
    pub fn new(speed: Speed, hub_depth: u8) -> Enumeration {
        Enumeration {
            speed,
            hub_depth,
            step: Step::Start,
            device: None,
            language: ENGLISH,
            product: String::new(),
            configuration: None,
        }
    }

    /// The device descriptor, once read (for log lines about a failure).
    pub fn device(&self) -> Option<&DeviceDescriptor> {
        self.device.as_ref()
    }

    /// The first action: read the start of the device descriptor.
    pub fn start(&mut self) -> Action {
        self.step = Step::DevicePrefix;
        Action::Control(SetupPacket::get_descriptor(kind::DEVICE, 0, 0, 8))
    }

    /// Feeds the outcome of the last action and returns the next one.
    pub fn advance(&mut self, result: Result<&[u8], UsbError>) -> Action {
        match self.step(result) {
            Ok(action) => action,
            Err(e) => {
                self.step = Step::Finished;
                Action::Failed(e)
            }
        }
    }

    fn step(&mut self, result: Result<&[u8], UsbError>) -> Result<Action, UsbError> {
        use Step::*;
        let step = self.step;
        // Strings and a few class requests are optional: their failure is not the device's end.
        let optional = matches!(step, Languages | Product | Setup(_));
        let data = match result {
            Ok(data) => data,
            Err(_) if optional => &[],
            Err(e) => return Err(e),
        };
        match step {
            Start | Finished => Err(UsbError::Transfer("enumeration advanced out of order")),
            DevicePrefix => {
                let size = control_max_packet_from_prefix(data)?;
                if size != self.speed.default_max_packet0() {
                    self.step = ControlPacket;
                    return Ok(Action::SetControlPacket(size));
                }
                Ok(self.read_device())
            }
            ControlPacket => Ok(self.read_device()),
            Device => {
                let device = DeviceDescriptor::parse(data)?;
                if device.configurations == 0 {
                    return Err(UsbError::Malformed { what: "device descriptor", why: "no configurations" });
                }
                self.device = Some(device);
                if device.product == 0 {
                    return Ok(self.read_config_header(0));
                }
                self.step = Languages;
                Ok(Action::Control(SetupPacket::get_descriptor(kind::STRING, 0, 0, STRING_LEN)))
            }
            Languages => {
                self.language = first_language(data).unwrap_or(ENGLISH);
                let index = self.device.map_or(0, |d| d.product);
                self.step = Product;
                Ok(Action::Control(SetupPacket::get_descriptor(kind::STRING, index, self.language, STRING_LEN)))
            }
            Product => {
                self.product = parse_string(data).unwrap_or_default();
                Ok(self.read_config_header(0))
            }
            ConfigHeader(index) => {
                let header = ConfigurationHeader::parse(data)?;
                let length = header.total_length.min(MAX_CONFIGURATION_LEN);
                self.step = Config(index);
                Ok(Action::Control(SetupPacket::get_descriptor(kind::CONFIGURATION, index, 0, length)))
            }
            Config(index) => {
                let config = Configuration::parse(data)?;
                match choose(&config) {
                    Some(function) => {
                        self.configuration = Some((config.header, function));
                        if let Function::Ethernet(ecm) = function {
                            self.step = Mac;
                            let string = ecm.mac_string;
                            return Ok(Action::Control(SetupPacket::get_descriptor(
                                kind::STRING,
                                string,
                                self.language,
                                STRING_LEN,
                            )));
                        }
                        Ok(self.configure_endpoints())
                    }
                    None => {
                        let available = self.device.map_or(1, |d| d.configurations).min(MAX_CONFIGURATIONS);
                        if index + 1 < available {
                            Ok(self.read_config_header(index + 1))
                        } else {
                            Err(UsbError::Unsupported)
                        }
                    }
                }
            }
            Mac => {
                let mac = parse_mac(&parse_string(data)?)?;
                if let Some((_, Function::Ethernet(ecm))) = self.configuration.as_mut() {
                    ecm.mac = mac;
                }
                Ok(self.configure_endpoints())
            }
            Endpoints => {
                let value = self.configuration.map_or(0, |(h, _)| h.value);
                self.step = SetConfiguration;
                Ok(Action::Control(SetupPacket::set_configuration(value)))
            }
            SetConfiguration => Ok(self.function_setup(0)),
            Setup(n) => Ok(self.function_setup(n + 1)),
            HubDescriptor => {
                let descriptor = crate::descriptor::HubDescriptor::parse(data)?;
                if let Some((_, Function::Hub { descriptor: d, .. })) = self.configuration.as_mut() {
                    *d = descriptor;
                }
                Ok(self.finish())
            }
        }
    }

    fn read_device(&mut self) -> Action {
        self.step = Step::Device;
        Action::Control(SetupPacket::get_descriptor(kind::DEVICE, 0, 0, DEVICE_DESCRIPTOR_LEN as u16))
    }

    fn read_config_header(&mut self, index: u8) -> Action {
        self.step = Step::ConfigHeader(index);
        Action::Control(SetupPacket::get_descriptor(kind::CONFIGURATION, index, 0, CONFIGURATION_HEADER_LEN as u16))
    }

    fn configure_endpoints(&mut self) -> Action {
        self.step = Step::Endpoints;
        Action::ConfigureEndpoints(self.configuration.map(|(_, f)| f.endpoints()).unwrap_or_default())
    }

    /// The function's own setup requests after SET_CONFIGURATION, one per step.
    fn function_setup(&mut self, n: u8) -> Action {
        let Some((_, function)) = self.configuration else { return Action::Failed(UsbError::Unsupported) };
        let request = match (function, n) {
            (Function::Keyboard { interface, .. }, 0) => Some(SetupPacket::hid_set_protocol(interface, true)),
            (Function::Keyboard { interface, .. }, 1) => Some(SetupPacket::hid_set_idle(interface)),
            (Function::Ethernet(ecm), 0) => Some(SetupPacket::set_interface(ecm.data_interface, ecm.data_alternate)),
            (Function::Ethernet(ecm), 1) => Some(SetupPacket::ecm_set_packet_filter(ecm.control_interface)),
            (Function::Hub { .. }, 0) if self.speed == Speed::Super => Some(SetupPacket::hub_set_depth(self.hub_depth)),
            (Function::Hub { .. }, _) => {
                self.step = Step::HubDescriptor;
                return Action::Control(SetupPacket::hub_get_descriptor(self.speed == Speed::Super));
            }
            _ => None,
        };
        match request {
            Some(setup) => {
                self.step = Step::Setup(n);
                Action::Control(setup)
            }
            None => self.finish(),
        }
    }

    fn finish(&mut self) -> Action {
        self.step = Step::Finished;
        match (self.device, self.configuration) {
            (Some(device), Some((header, function))) => Action::Done(Enumerated {
                device,
                product: core::mem::take(&mut self.product),
                configuration: header.value,
                function,
            }),
            _ => Action::Failed(UsbError::Unsupported),
        }
    }
}

/// The function moteOS drives in `config`, by preference: a hub (so what is
/// behind it appears), a keyboard, a network adapter, then storage.
pub fn choose(config: &Configuration) -> Option<Function> {
    let first_alternates = || config.interfaces.iter().filter(|i| i.alternate == 0);
    if let Some(hub) = first_alternates().find(|i| i.class == class::HUB)
        && let Some(endpoint) = hub.endpoint(TransferType::Interrupt, true)
    {
        // The descriptor is read after SET_CONFIGURATION; a placeholder until then.
        let descriptor = HubDescriptor { ports: 1, characteristics: 0, power_on_ms: 0 };
        return Some(Function::Hub { descriptor, endpoint });
    }
    if let Some(keyboard) = first_alternates().find(|i| {
        i.class == class::HID && i.subclass == class::HID_SUBCLASS_BOOT && i.protocol == class::HID_PROTOCOL_KEYBOARD
    }) && let Some(endpoint) = keyboard.endpoint(TransferType::Interrupt, true)
    {
        return Some(Function::Keyboard { interface: keyboard.number, endpoint });
    }
    if let Some(ecm) = first_alternates()
        .filter(|i| i.class == class::CDC && i.subclass == class::CDC_SUBCLASS_ECM)
        .find_map(|control| ecm_function(config, control))
    {
        return Some(Function::Ethernet(ecm));
    }
    first_alternates()
        .filter(|i| {
            i.class == class::MASS_STORAGE
                && i.subclass == class::MSC_SUBCLASS_SCSI
                && i.protocol == class::MSC_PROTOCOL_BULK_ONLY
        })
        .find_map(|i| {
            Some(Function::Storage {
                interface: i.number,
                bulk_in: i.endpoint(TransferType::Bulk, true)?,
                bulk_out: i.endpoint(TransferType::Bulk, false)?,
            })
        })
}

fn ecm_function(config: &Configuration, control: &Interface) -> Option<EcmFunction> {
    let mut data_interface = control.number.checked_add(1)?;
    let mut ethernet = None;
    for functional in &control.cdc {
        match *functional {
            CdcFunctional::Union { control: c, subordinate } if c == control.number => data_interface = subordinate,
            CdcFunctional::Ethernet { mac_string, max_segment_size } => ethernet = Some((mac_string, max_segment_size)),
            _ => {}
        }
    }
    let (mac_string, max_segment_size) = ethernet.filter(|(index, _)| *index != 0)?;
    let data =
        config.interfaces.iter().filter(|i| i.number == data_interface && i.class == class::CDC_DATA).find(|i| {
            i.endpoint(TransferType::Bulk, true).is_some() && i.endpoint(TransferType::Bulk, false).is_some()
        })?;
    Some(EcmFunction {
        control_interface: control.number,
        data_interface,
        data_alternate: data.alternate,
        notify: control.endpoint(TransferType::Interrupt, true),
        bulk_in: data.endpoint(TransferType::Bulk, true)?,
        bulk_out: data.endpoint(TransferType::Bulk, false)?,
        mac_string,
        mac: [0; 6],
        max_segment_size,
    })
}

#[cfg(test)]
mod tests;
