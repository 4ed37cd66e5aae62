//! USB descriptors (USB 2.0 chapter 9, HID 1.11 6.2.1, CDC 1.2 5.2.3, CDC-ECM
//! 1.2 5.4, USB 2.0 11.23 and USB 3.2 10.15.2 for hubs), parsed from the bytes a
//! device sent.
//!
//! A configuration arrives as one blob of concatenated descriptors, each
//! starting with its own length. The walker trusts none of them: a length of
//! less than two, or one running past the blob, ends the walk with an error
//! instead of looping or reading out of bounds.

use crate::UsbError;
use crate::error::{le16, need};
use alloc::string::String;
use alloc::vec::Vec;

/// Descriptor type codes (`bDescriptorType`).
pub mod kind {
    /// Device descriptor.
    pub const DEVICE: u8 = 1;
    /// Configuration descriptor.
    pub const CONFIGURATION: u8 = 2;
    /// String descriptor.
    pub const STRING: u8 = 3;
    /// Interface descriptor.
    pub const INTERFACE: u8 = 4;
    /// Endpoint descriptor.
    pub const ENDPOINT: u8 = 5;
    /// HID class descriptor.
    pub const HID: u8 = 0x21;
    /// Class-specific interface descriptor (CDC functional descriptors).
    pub const CS_INTERFACE: u8 = 0x24;
    /// USB 2.0 hub descriptor.
    pub const HUB: u8 = 0x29;
    /// SuperSpeed hub descriptor.
    pub const SUPERSPEED_HUB: u8 = 0x2a;
}

/// Interface and device class codes moteOS looks for.
pub mod class {
    /// Communications (CDC control interfaces).
    pub const CDC: u8 = 0x02;
    /// HID.
    pub const HID: u8 = 0x03;
    /// Mass storage.
    pub const MASS_STORAGE: u8 = 0x08;
    /// Hub.
    pub const HUB: u8 = 0x09;
    /// CDC data interfaces.
    pub const CDC_DATA: u8 = 0x0a;
    /// CDC subclass: Ethernet Control Model.
    pub const CDC_SUBCLASS_ECM: u8 = 0x06;
    /// HID subclass: boot interface.
    pub const HID_SUBCLASS_BOOT: u8 = 0x01;
    /// HID boot protocol: keyboard.
    pub const HID_PROTOCOL_KEYBOARD: u8 = 0x01;
    /// Mass storage subclass: SCSI transparent command set.
    pub const MSC_SUBCLASS_SCSI: u8 = 0x06;
    /// Mass storage protocol: bulk-only transport.
    pub const MSC_PROTOCOL_BULK_ONLY: u8 = 0x50;
}

/// The device descriptor (USB 2.0 9.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceDescriptor {
    /// USB version in BCD (0x0200 = 2.0).
    pub usb_version: u16,
    /// Device class (0: per interface).
    pub class: u8,
    /// Device subclass.
    pub subclass: u8,
    /// Device protocol.
    pub protocol: u8,
    /// `bMaxPacketSize0` as sent (an exponent of two for USB 3).
    pub max_packet_size0: u8,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// Device release in BCD.
    pub device_version: u16,
    /// String index of the manufacturer (0: none).
    pub manufacturer: u8,
    /// String index of the product name (0: none).
    pub product: u8,
    /// String index of the serial number (0: none).
    pub serial: u8,
    /// How many configurations the device has.
    pub configurations: u8,
}

/// Length of a device descriptor.
pub const DEVICE_DESCRIPTOR_LEN: usize = 18;

impl DeviceDescriptor {
    /// Parses a device descriptor.
    pub fn parse(bytes: &[u8]) -> Result<DeviceDescriptor, UsbError> {
        need("device descriptor", bytes, DEVICE_DESCRIPTOR_LEN)?;
        if usize::from(bytes[0]) < DEVICE_DESCRIPTOR_LEN || bytes[1] != kind::DEVICE {
            return Err(UsbError::Malformed { what: "device descriptor", why: "wrong length or type byte" });
        }
        let descriptor = DeviceDescriptor {
            usb_version: le16(bytes, 2),
            class: bytes[4],
            subclass: bytes[5],
            protocol: bytes[6],
            max_packet_size0: bytes[7],
            vendor_id: le16(bytes, 8),
            product_id: le16(bytes, 10),
            device_version: le16(bytes, 12),
            manufacturer: bytes[14],
            product: bytes[15],
            serial: bytes[16],
            configurations: bytes[17],
        };
        descriptor
            .control_max_packet()
            .ok_or(UsbError::Malformed { what: "device descriptor", why: "impossible control endpoint packet size" })?;
        Ok(descriptor)
    }

    /// The control endpoint's packet size in bytes, if the value is one USB
    /// allows (8, 16, 32 or 64; for USB 3 devices 2^9 = 512).
    pub fn control_max_packet(&self) -> Option<u16> {
        control_max_packet(self.usb_version, self.max_packet_size0)
    }
}

/// The control endpoint's packet size from the first 8 bytes of a device
/// descriptor (what a host reads before it knows the packet size), if legal.
pub fn control_max_packet_from_prefix(bytes: &[u8]) -> Result<u16, UsbError> {
    need("device descriptor prefix", bytes, 8)?;
    if bytes[1] != kind::DEVICE {
        return Err(UsbError::Malformed { what: "device descriptor", why: "wrong type byte" });
    }
    control_max_packet(le16(bytes, 2), bytes[7])
        .ok_or(UsbError::Malformed { what: "device descriptor", why: "impossible control endpoint packet size" })
}

fn control_max_packet(usb_version: u16, raw: u8) -> Option<u16> {
    if usb_version >= 0x0300 {
        // USB 3 encodes the size as an exponent; only 2^9 is valid.
        return (raw == 9).then_some(512);
    }
    matches!(raw, 8 | 16 | 32 | 64).then_some(u16::from(raw))
}

/// The configuration descriptor's header (USB 2.0 9.6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigurationHeader {
    /// Length of the whole configuration blob.
    pub total_length: u16,
    /// Interfaces in the configuration.
    pub interfaces: u8,
    /// The value to pass to SET_CONFIGURATION.
    pub value: u8,
    /// Attributes (self-powered, remote wakeup).
    pub attributes: u8,
    /// Maximum power in 2 mA units (8 mA for SuperSpeed).
    pub max_power: u8,
}

/// Length of a configuration descriptor's header.
pub const CONFIGURATION_HEADER_LEN: usize = 9;

/// The most configuration bytes moteOS reads; real devices need a few hundred.
pub const MAX_CONFIGURATION_LEN: u16 = 4096;

impl ConfigurationHeader {
    /// Parses the header (the first 9 bytes of a configuration).
    pub fn parse(bytes: &[u8]) -> Result<ConfigurationHeader, UsbError> {
        need("configuration descriptor", bytes, CONFIGURATION_HEADER_LEN)?;
        if usize::from(bytes[0]) < CONFIGURATION_HEADER_LEN || bytes[1] != kind::CONFIGURATION {
            return Err(UsbError::Malformed { what: "configuration descriptor", why: "wrong length or type byte" });
        }
        let total_length = le16(bytes, 2);
        if usize::from(total_length) < CONFIGURATION_HEADER_LEN {
            return Err(UsbError::Malformed { what: "configuration descriptor", why: "total length below 9" });
        }
        Ok(ConfigurationHeader {
            total_length,
            interfaces: bytes[4],
            value: bytes[5],
            attributes: bytes[7],
            max_power: bytes[8],
        })
    }
}

/// How an endpoint moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// Control.
    Control,
    /// Isochronous.
    Isochronous,
    /// Bulk.
    Bulk,
    /// Interrupt.
    Interrupt,
}

/// An endpoint descriptor (USB 2.0 9.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointDescriptor {
    /// Endpoint address: number in bits 0-3, direction IN in bit 7.
    pub address: u8,
    /// Attributes: the transfer type in bits 0-1.
    pub attributes: u8,
    /// Largest packet, bits 0-10 (high-bandwidth multiplier in 11-12).
    pub max_packet_size: u16,
    /// Polling interval, in frames or as an exponent depending on speed.
    pub interval: u8,
}

impl EndpointDescriptor {
    /// Parses an endpoint descriptor.
    pub fn parse(bytes: &[u8]) -> Result<EndpointDescriptor, UsbError> {
        need("endpoint descriptor", bytes, 7)?;
        if bytes[1] != kind::ENDPOINT {
            return Err(UsbError::Malformed { what: "endpoint descriptor", why: "wrong type byte" });
        }
        let endpoint = EndpointDescriptor {
            address: bytes[2],
            attributes: bytes[3],
            max_packet_size: le16(bytes, 4),
            interval: bytes[6],
        };
        if endpoint.number() == 0 || endpoint.address & 0x70 != 0 {
            return Err(UsbError::Malformed { what: "endpoint descriptor", why: "invalid endpoint address" });
        }
        if endpoint.packet_size() == 0 {
            return Err(UsbError::Malformed { what: "endpoint descriptor", why: "zero packet size" });
        }
        Ok(endpoint)
    }

    /// The endpoint number (1-15).
    pub const fn number(&self) -> u8 {
        self.address & 0x0f
    }

    /// Whether data flows from the device to the host.
    pub const fn is_in(&self) -> bool {
        self.address & 0x80 != 0
    }

    /// The transfer type.
    pub const fn transfer_type(&self) -> TransferType {
        match self.attributes & 3 {
            0 => TransferType::Control,
            1 => TransferType::Isochronous,
            2 => TransferType::Bulk,
            _ => TransferType::Interrupt,
        }
    }

    /// The packet size in bytes (without the high-bandwidth multiplier).
    pub const fn packet_size(&self) -> u16 {
        self.max_packet_size & 0x7ff
    }

    /// The xHCI device-context index of this endpoint (1 = control, then
    /// 2 * number + direction), always in 2..=31.
    pub const fn context_index(&self) -> u8 {
        self.number() * 2 + if self.is_in() { 1 } else { 0 }
    }
}

/// A HID descriptor (HID 1.11 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HidDescriptor {
    /// HID version in BCD.
    pub hid_version: u16,
    /// Country code of localized hardware (0: none).
    pub country: u8,
    /// Length of the report descriptor.
    pub report_length: u16,
}

impl HidDescriptor {
    /// Parses a HID descriptor.
    pub fn parse(bytes: &[u8]) -> Result<HidDescriptor, UsbError> {
        need("HID descriptor", bytes, 9)?;
        Ok(HidDescriptor { hid_version: le16(bytes, 2), country: bytes[4], report_length: le16(bytes, 7) })
    }
}

/// A CDC functional descriptor moteOS uses (CDC 1.2 5.2.3, ECM 1.2 5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdcFunctional {
    /// Header: the CDC version.
    Header {
        /// CDC version in BCD.
        cdc_version: u16,
    },
    /// Union: which interface controls which (the first subordinate only).
    Union {
        /// The controlling (communications) interface.
        control: u8,
        /// The first subordinate (data) interface.
        subordinate: u8,
    },
    /// Ethernet networking: where the MAC address is and the frame size.
    Ethernet {
        /// String index holding the MAC address as 12 hex digits.
        mac_string: u8,
        /// Largest Ethernet frame the device handles.
        max_segment_size: u16,
    },
    /// Any other functional descriptor (kept so the walk can go on).
    Other(u8),
}

impl CdcFunctional {
    /// Parses a class-specific interface descriptor.
    pub fn parse(bytes: &[u8]) -> Result<CdcFunctional, UsbError> {
        need("CDC functional descriptor", bytes, 3)?;
        Ok(match bytes[2] {
            0x00 => {
                need("CDC header descriptor", bytes, 5)?;
                CdcFunctional::Header { cdc_version: le16(bytes, 3) }
            }
            0x06 => {
                need("CDC union descriptor", bytes, 5)?;
                CdcFunctional::Union { control: bytes[3], subordinate: bytes[4] }
            }
            0x0f => {
                need("CDC Ethernet descriptor", bytes, 13)?;
                CdcFunctional::Ethernet { mac_string: bytes[3], max_segment_size: le16(bytes, 8) }
            }
            other => CdcFunctional::Other(other),
        })
    }
}

/// One interface (one alternate setting) of a configuration, with what
/// follows it up to the next interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface number.
    pub number: u8,
    /// Alternate setting.
    pub alternate: u8,
    /// Interface class.
    pub class: u8,
    /// Interface subclass.
    pub subclass: u8,
    /// Interface protocol.
    pub protocol: u8,
    /// Its endpoints, in the order given.
    pub endpoints: Vec<EndpointDescriptor>,
    /// The HID descriptor, for HID interfaces.
    pub hid: Option<HidDescriptor>,
    /// CDC functional descriptors, for CDC interfaces.
    pub cdc: Vec<CdcFunctional>,
}

impl Interface {
    /// The first endpoint of `kind` in the given direction.
    pub fn endpoint(&self, kind: TransferType, is_in: bool) -> Option<EndpointDescriptor> {
        self.endpoints.iter().copied().find(|e| e.transfer_type() == kind && e.is_in() == is_in)
    }
}

/// A whole configuration: its header and its interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// The header.
    pub header: ConfigurationHeader,
    /// Every interface and alternate setting, in the order given.
    pub interfaces: Vec<Interface>,
}

/// Most interfaces (counting alternate settings) and endpoints kept from one
/// configuration; more is a device that lies (or a hostile one).
const MAX_INTERFACES: usize = 32;
const MAX_ENDPOINTS: usize = 32;

impl Configuration {
    /// Parses a configuration blob (header first). Bytes past the header's
    /// total length are ignored; a blob shorter than it is an error.
    pub fn parse(bytes: &[u8]) -> Result<Configuration, UsbError> {
        let header = ConfigurationHeader::parse(bytes)?;
        let total = usize::from(header.total_length);
        need("configuration", bytes, total)?;
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut rest = &bytes[usize::from(bytes[0]).min(total)..total];
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(UsbError::Malformed { what: "configuration", why: "a descriptor is cut short" });
            }
            let len = usize::from(rest[0]);
            if len < 2 || len > rest.len() {
                return Err(UsbError::Malformed { what: "configuration", why: "a descriptor length is out of range" });
            }
            let (one, tail) = rest.split_at(len);
            rest = tail;
            match one[1] {
                kind::INTERFACE => {
                    need("interface descriptor", one, 9)?;
                    if interfaces.len() == MAX_INTERFACES {
                        return Err(UsbError::Malformed { what: "configuration", why: "too many interfaces" });
                    }
                    interfaces.push(Interface {
                        number: one[2],
                        alternate: one[3],
                        class: one[5],
                        subclass: one[6],
                        protocol: one[7],
                        endpoints: Vec::new(),
                        hid: None,
                        cdc: Vec::new(),
                    });
                }
                kind::ENDPOINT => {
                    let endpoint = EndpointDescriptor::parse(one)?;
                    let Some(current) = interfaces.last_mut() else {
                        return Err(UsbError::Malformed {
                            what: "configuration",
                            why: "an endpoint before any interface",
                        });
                    };
                    if current.endpoints.len() == MAX_ENDPOINTS {
                        return Err(UsbError::Malformed { what: "configuration", why: "too many endpoints" });
                    }
                    current.endpoints.push(endpoint);
                }
                kind::HID => {
                    if let Some(current) = interfaces.last_mut() {
                        current.hid = Some(HidDescriptor::parse(one)?);
                    }
                }
                kind::CS_INTERFACE => {
                    if let Some(current) = interfaces.last_mut()
                        && current.cdc.len() < MAX_ENDPOINTS
                    {
                        current.cdc.push(CdcFunctional::parse(one)?);
                    }
                }
                // Interface associations, SuperSpeed companions, vendor descriptors.
                _ => {}
            }
        }
        Ok(Configuration { header, interfaces })
    }
}

/// A hub descriptor (USB 2.0 11.23.2.1 or USB 3.2 10.15.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubDescriptor {
    /// Downstream ports.
    pub ports: u8,
    /// `wHubCharacteristics` (power switching, TT think time in bits 5-6).
    pub characteristics: u16,
    /// Time from port power-on until power is good, in milliseconds.
    pub power_on_ms: u16,
}

/// The most downstream ports a hub can have (USB 2.0: 255 in theory, a
/// bitmap of 32 bytes; USB 3: 15). moteOS keeps to the spec's limit.
pub const MAX_HUB_PORTS: u8 = 127;

impl HubDescriptor {
    /// Parses a USB 2.0 or SuperSpeed hub descriptor.
    pub fn parse(bytes: &[u8]) -> Result<HubDescriptor, UsbError> {
        need("hub descriptor", bytes, 7)?;
        if bytes[1] != kind::HUB && bytes[1] != kind::SUPERSPEED_HUB {
            return Err(UsbError::Malformed { what: "hub descriptor", why: "wrong type byte" });
        }
        let ports = bytes[2];
        if ports == 0 || ports > MAX_HUB_PORTS || (bytes[1] == kind::SUPERSPEED_HUB && ports > 15) {
            return Err(UsbError::Malformed { what: "hub descriptor", why: "impossible port count" });
        }
        Ok(HubDescriptor { ports, characteristics: le16(bytes, 3), power_on_ms: u16::from(bytes[5]) * 2 })
    }

    /// The transaction translator's think time in FS bit times (8, 16, 24, 32),
    /// encoded as 0-3 the way xHCI slot contexts take it.
    pub const fn think_time(&self) -> u8 {
        ((self.characteristics >> 5) & 3) as u8
    }
}

/// Decodes a string descriptor (UTF-16LE after a two-byte header) into text,
/// replacing invalid code units and dropping control characters so the text
/// is safe for a log line. At most 126 characters come out of a descriptor.
pub fn parse_string(bytes: &[u8]) -> Result<String, UsbError> {
    need("string descriptor", bytes, 2)?;
    if bytes[1] != kind::STRING {
        return Err(UsbError::Malformed { what: "string descriptor", why: "wrong type byte" });
    }
    let len = usize::from(bytes[0]).min(bytes.len());
    let units = bytes.get(2..len).unwrap_or(&[]).chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    Ok(char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .filter(|c| !c.is_control())
        .collect())
}

/// The first language id from string descriptor 0, if the device lists any.
pub fn first_language(bytes: &[u8]) -> Option<u16> {
    if bytes.len() >= 4 && bytes[0] >= 4 && bytes[1] == kind::STRING { Some(le16(bytes, 2)) } else { None }
}

#[cfg(test)]
mod tests;
