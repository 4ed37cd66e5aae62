use super::*;
use crate::fixtures::*;

#[test]
fn device_descriptor_fields() {
    let d = DeviceDescriptor::parse(&KEYBOARD_DEVICE).unwrap();
    assert_eq!((d.vendor_id, d.product_id), (0x0627, 0x0001));
    assert_eq!(d.usb_version, 0x0200);
    assert_eq!(d.control_max_packet(), Some(64));
    assert_eq!((d.manufacturer, d.product, d.serial, d.configurations), (1, 3, 10, 1));
    assert_eq!(control_max_packet_from_prefix(&KEYBOARD_DEVICE[..8]).unwrap(), 64);
}

#[test]
fn device_descriptor_rejects_lies() {
    assert!(matches!(
        DeviceDescriptor::parse(&KEYBOARD_DEVICE[..17]),
        Err(UsbError::Short { needed: 18, got: 17, .. })
    ));
    let mut wrong_type = KEYBOARD_DEVICE;
    wrong_type[1] = 2;
    assert!(DeviceDescriptor::parse(&wrong_type).is_err());
    let mut short_length = KEYBOARD_DEVICE;
    short_length[0] = 8;
    assert!(DeviceDescriptor::parse(&short_length).is_err());
    let mut odd_packet = KEYBOARD_DEVICE;
    odd_packet[7] = 63;
    assert!(DeviceDescriptor::parse(&odd_packet).is_err());
    assert!(control_max_packet_from_prefix(&odd_packet[..8]).is_err());
    assert!(control_max_packet_from_prefix(&KEYBOARD_DEVICE[..7]).is_err());
    // USB 3 devices give an exponent: 9 means 512, anything else is wrong.
    let mut usb3 = KEYBOARD_DEVICE;
    usb3[2..4].copy_from_slice(&0x0320u16.to_le_bytes());
    usb3[7] = 9;
    assert_eq!(DeviceDescriptor::parse(&usb3).unwrap().control_max_packet(), Some(512));
    usb3[7] = 64;
    assert!(DeviceDescriptor::parse(&usb3).is_err());
}

#[test]
fn keyboard_configuration() {
    let c = Configuration::parse(&KEYBOARD_CONFIG).unwrap();
    assert_eq!(c.header.value, 1);
    assert_eq!(c.interfaces.len(), 1);
    let i = &c.interfaces[0];
    assert_eq!((i.class, i.subclass, i.protocol), (3, 1, 1));
    assert_eq!(i.hid.unwrap().report_length, 63);
    let e = i.endpoint(TransferType::Interrupt, true).unwrap();
    assert_eq!((e.address, e.number(), e.packet_size(), e.interval), (0x81, 1, 8, 7));
    assert_eq!(e.context_index(), 3);
}

#[test]
fn network_configuration_with_cdc_functionals() {
    let c = Configuration::parse(&NET_CONFIG).unwrap();
    assert_eq!(c.interfaces.len(), 3);
    assert_eq!(
        c.interfaces[0].cdc,
        [
            CdcFunctional::Header { cdc_version: 0x0110 },
            CdcFunctional::Union { control: 0, subordinate: 1 },
            CdcFunctional::Ethernet { mac_string: 3, max_segment_size: 1514 },
        ]
    );
    assert!(c.interfaces[1].endpoints.is_empty());
    let data = &c.interfaces[2];
    assert_eq!((data.number, data.alternate, data.class), (1, 1, 0x0a));
    let bulk_out = data.endpoint(TransferType::Bulk, false).unwrap();
    assert_eq!((bulk_out.address, bulk_out.context_index()), (0x02, 4));
    assert_eq!(data.endpoint(TransferType::Bulk, true).unwrap().context_index(), 5);
}

#[test]
fn hub_descriptor() {
    let h = HubDescriptor::parse(&HUB_DESCRIPTOR).unwrap();
    assert_eq!((h.ports, h.power_on_ms, h.think_time()), (8, 2, 0));
    let mut none = HUB_DESCRIPTOR;
    none[2] = 0;
    assert!(HubDescriptor::parse(&none).is_err());
    let mut superspeed = HUB_DESCRIPTOR;
    superspeed[1] = kind::SUPERSPEED_HUB;
    superspeed[2] = 16;
    assert!(HubDescriptor::parse(&superspeed).is_err(), "SuperSpeed hubs have at most 15 ports");
    assert!(HubDescriptor::parse(&HUB_DESCRIPTOR[..6]).is_err());
}

#[test]
fn walker_rejects_lengths_that_lie() {
    // A descriptor length of zero would loop forever in a naive walker.
    let mut zero = KEYBOARD_CONFIG;
    zero[9] = 0;
    assert!(Configuration::parse(&zero).is_err());
    // One that runs past the total length.
    let mut long = KEYBOARD_CONFIG;
    long[27] = 0x20;
    assert!(Configuration::parse(&long).is_err());
    // A total length longer than what arrived.
    let mut total = KEYBOARD_CONFIG;
    total[2] = 0x40;
    assert!(matches!(Configuration::parse(&total), Err(UsbError::Short { needed: 64, got: 34, .. })));
    // A total length below the header's own.
    let mut tiny = KEYBOARD_CONFIG;
    tiny[2] = 4;
    assert!(Configuration::parse(&tiny).is_err());
    // An endpoint before any interface.
    let mut orphan = KEYBOARD_CONFIG;
    orphan[10] = 0x05;
    assert!(Configuration::parse(&orphan).is_err());
    // Endpoint 0 and endpoints with a zero packet size are not real endpoints.
    let mut ep0 = KEYBOARD_CONFIG;
    ep0[29] = 0x80;
    assert!(Configuration::parse(&ep0).is_err());
    let mut empty = KEYBOARD_CONFIG;
    empty[31] = 0;
    assert!(Configuration::parse(&empty).is_err());
    // A blob cut inside the descriptors: every prefix is refused, none panics.
    for len in 0..KEYBOARD_CONFIG.len() {
        let mut cut = KEYBOARD_CONFIG[..len].to_vec();
        if len >= 4 {
            cut[2] = len as u8;
        }
        let _ = Configuration::parse(&cut);
    }
    // Trailing bytes past the total length are ignored.
    let mut padded = KEYBOARD_CONFIG.to_vec();
    padded.extend_from_slice(&[0xff; 10]);
    assert_eq!(Configuration::parse(&padded).unwrap().interfaces.len(), 1);
}

#[test]
fn walker_bounds_interface_and_endpoint_counts() {
    let mut blob = alloc::vec![0x09, 0x02, 0, 0, 0x01, 0x01, 0x00, 0x80, 0x32];
    for n in 0..40u8 {
        blob.extend_from_slice(&[0x09, 0x04, n, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00]);
    }
    let len = blob.len() as u16;
    blob[2..4].copy_from_slice(&len.to_le_bytes());
    assert!(Configuration::parse(&blob).is_err());
}

#[test]
fn every_byte_flip_is_handled_without_panic() {
    for config in [&KEYBOARD_CONFIG[..], &NET_CONFIG[..], &STORAGE_CONFIG[..], &HUB_CONFIG[..]] {
        for i in 0..config.len() {
            for value in [0u8, 1, 2, 0x7f, 0x80, 0xff] {
                let mut bent = config.to_vec();
                bent[i] = value;
                let _ = Configuration::parse(&bent);
            }
        }
    }
}

#[test]
fn strings() {
    assert_eq!(parse_string(&string("QEMU USB Keyboard")).unwrap(), "QEMU USB Keyboard");
    assert_eq!(parse_string(&NET_MAC_STRING).unwrap(), "405400123456");
    // Control characters never reach a log line; lone surrogates become U+FFFD.
    assert_eq!(parse_string(&[8, 3, b'a', 0, 0x1b, 0, 0x00, 0xd8]).unwrap(), "a\u{fffd}");
    // A length byte longer than the data is cut to the data; an odd one drops the half unit.
    assert_eq!(parse_string(&[200, 3, b'o', 0, b'k', 0]).unwrap(), "ok");
    assert_eq!(parse_string(&[5, 3, b'o', 0, b'k']).unwrap(), "o");
    assert!(parse_string(&[4, 2, 0, 0]).is_err());
    assert!(parse_string(&[4]).is_err());
    assert_eq!(first_language(&[4, 3, 0x09, 0x04]), Some(0x0409));
    assert_eq!(first_language(&[2, 3]), None);
}
