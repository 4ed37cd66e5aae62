use super::*;
use crate::fixtures::*;
use alloc::vec;

/// A scripted device: answers GET_DESCRIPTOR from its tables, accepts every
/// other request, and records what it was asked.
struct FakeDevice {
    device: [u8; 18],
    configs: Vec<Vec<u8>>,
    strings: Vec<(u8, Vec<u8>)>,
    hub: Option<Vec<u8>>,
    stall: Vec<(u8, u16)>,
    asked: Vec<SetupPacket>,
}

impl FakeDevice {
    fn new(device: [u8; 18], configs: &[&[u8]]) -> FakeDevice {
        FakeDevice {
            device,
            configs: configs.iter().map(|c| c.to_vec()).collect(),
            strings: vec![(0, vec![4, 3, 0x09, 0x04]), (3, string("QEMU USB Device"))],
            hub: None,
            stall: Vec::new(),
            asked: Vec::new(),
        }
    }

    fn answer(&mut self, setup: SetupPacket) -> Result<Vec<u8>, UsbError> {
        self.asked.push(setup);
        if self.stall.contains(&(setup.request, setup.value)) {
            return Err(UsbError::Stalled);
        }
        let limit = usize::from(setup.length);
        let data = match (setup.request_type, setup.request, (setup.value >> 8) as u8) {
            (0x80, 6, kind::DEVICE) => self.device.to_vec(),
            (0x80, 6, kind::CONFIGURATION) => {
                self.configs.get(usize::from(setup.value as u8)).cloned().ok_or(UsbError::Stalled)?
            }
            (0x80, 6, kind::STRING) => self
                .strings
                .iter()
                .find(|(i, _)| *i == setup.value as u8)
                .map(|(_, s)| s.clone())
                .ok_or(UsbError::Stalled)?,
            (0xa0, 6, kind::HUB) => self.hub.clone().ok_or(UsbError::Stalled)?,
            _ => Vec::new(),
        };
        Ok(data[..data.len().min(limit)].to_vec())
    }
}

/// Runs an enumeration against `device`, returning the final action and
/// every other action seen.
fn enumerate(device: &mut FakeDevice, speed: Speed) -> (Action, Vec<Action>) {
    let mut e = Enumeration::new(speed, 0);
    let mut action = e.start();
    let mut seen = Vec::new();
    for _ in 0..64 {
        seen.push(action.clone());
        action = match action {
            Action::Control(setup) => {
                let answer = device.answer(setup);
                e.advance(answer.as_deref().map_err(|e| *e))
            }
            Action::SetControlPacket(_) | Action::ConfigureEndpoints(_) => e.advance(Ok(&[])),
            done => return (done, seen),
        };
    }
    panic!("enumeration did not finish");
}

#[test]
fn keyboard() {
    let mut dev = FakeDevice::new(device(0x0627, 0x0001, 64, 3, 1), &[&KEYBOARD_CONFIG]);
    let (done, seen) = enumerate(&mut dev, Speed::High);
    let Action::Done(found) = done else { panic!("{done:?}") };
    assert_eq!(found.product, "QEMU USB Device");
    assert_eq!(found.configuration, 1);
    let Function::Keyboard { interface, endpoint } = found.function else { panic!() };
    assert_eq!((interface, endpoint.address), (0, 0x81));
    assert!(seen.contains(&Action::ConfigureEndpoints(vec![endpoint])));
    // Boot protocol and idle 0 after SET_CONFIGURATION.
    let requests: Vec<u8> = dev.asked.iter().map(|s| s.request).collect();
    assert_eq!(requests, [6, 6, 6, 6, 6, 6, 9, 0x0b, 0x0a]);
    assert!(!seen.iter().any(|a| matches!(a, Action::SetControlPacket(_))));
}

#[test]
fn full_speed_device_with_8_byte_control_packets() {
    let mut dev = FakeDevice::new(device(0x046d, 0xc31c, 8, 0, 1), &[&KEYBOARD_CONFIG]);
    let (done, seen) = enumerate(&mut dev, Speed::Full);
    assert!(matches!(done, Action::Done(_)));
    assert!(seen.contains(&Action::SetControlPacket(8)));
    // No product string: no string requests.
    assert!(!dev.asked.iter().any(|s| s.value >> 8 == u16::from(kind::STRING)));
}

#[test]
fn network_adapter_reads_its_mac_and_selects_the_data_alternate() {
    let mut dev = FakeDevice::new(device(0x0525, 0xa4a2, 64, 3, 2), &[&NET_CONFIG]);
    dev.strings.push((3, NET_MAC_STRING.to_vec()));
    dev.strings.remove(1);
    let (done, _) = enumerate(&mut dev, Speed::High);
    let Action::Done(found) = done else { panic!("{done:?}") };
    let Function::Ethernet(ecm) = found.function else { panic!() };
    assert_eq!(ecm.mac, [0x40, 0x54, 0x00, 0x12, 0x34, 0x56]);
    assert_eq!((ecm.control_interface, ecm.data_interface, ecm.data_alternate), (0, 1, 1));
    assert_eq!((ecm.bulk_in.address, ecm.bulk_out.address), (0x82, 0x02));
    assert_eq!(ecm.notify.map(|e| e.address), Some(0x81));
    assert_eq!(ecm.max_segment_size, 1514);
    assert!(dev.asked.contains(&SetupPacket::set_interface(1, 1)));
    assert!(dev.asked.contains(&SetupPacket::ecm_set_packet_filter(0)));
    assert_eq!(found.function.endpoints().len(), 3);
}

#[test]
fn rtl8153_is_found_in_its_second_configuration() {
    let mut dev = FakeDevice::new(device(0x0bda, 0x8153, 64, 0, 2), &[&RTL8153_CONFIG1, &RTL8153_CONFIG2]);
    dev.strings.push((7, string("00E04C680001")));
    let (done, _) = enumerate(&mut dev, Speed::Super);
    let Action::Done(found) = done else { panic!("{done:?}") };
    assert_eq!(found.configuration, 2);
    assert!(matches!(found.function, Function::Ethernet(e) if e.mac == [0x00, 0xe0, 0x4c, 0x68, 0x00, 0x01]));
    assert!(dev.asked.contains(&SetupPacket::set_configuration(2)));
}

#[test]
fn storage_and_hub() {
    let mut dev = FakeDevice::new(device(0x46f4, 0x0001, 64, 0, 1), &[&STORAGE_CONFIG]);
    let (done, _) = enumerate(&mut dev, Speed::High);
    let Action::Done(found) = done else { panic!("{done:?}") };
    assert!(matches!(found.function, Function::Storage { interface: 0, .. }));

    let mut dev = FakeDevice::new(device(0x0409, 0x55aa, 8, 0, 1), &[&HUB_CONFIG]);
    dev.hub = Some(HUB_DESCRIPTOR.to_vec());
    let (done, _) = enumerate(&mut dev, Speed::Full);
    let Action::Done(found) = done else { panic!("{done:?}") };
    let Function::Hub { descriptor, endpoint } = found.function else { panic!() };
    assert_eq!((descriptor.ports, endpoint.address), (8, 0x81));
    assert_eq!(dev.asked.last(), Some(&SetupPacket::hub_get_descriptor(false)));
}

#[test]
fn unsupported_and_broken_devices_fail_with_a_reason() {
    // Only a vendor-specific configuration.
    let mut dev = FakeDevice::new(device(0x1234, 0x5678, 64, 0, 1), &[&RTL8153_CONFIG1]);
    assert_eq!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Unsupported));
    // Claims 200 configurations: only MAX_CONFIGURATIONS are read.
    let mut dev = FakeDevice::new(device(0x1234, 0x5678, 64, 0, 200), &[&RTL8153_CONFIG1[..]; 8]);
    assert_eq!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Unsupported));
    let headers = dev.asked.iter().filter(|s| s.value >> 8 == 2 && s.length == 9).count();
    assert_eq!(headers, usize::from(MAX_CONFIGURATIONS));
    // No configurations at all.
    let mut dev = FakeDevice::new(device(0x1234, 0x5678, 64, 0, 0), &[]);
    assert!(matches!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Malformed { .. })));
    // Stalls the configuration descriptor.
    let mut dev = FakeDevice::new(device(0x1234, 0x5678, 64, 0, 1), &[]);
    assert_eq!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Stalled));
    // A product string that stalls is only a missing name.
    let mut dev = FakeDevice::new(device(0x0627, 0x0001, 64, 9, 1), &[&KEYBOARD_CONFIG]);
    let (done, _) = enumerate(&mut dev, Speed::High);
    assert!(matches!(done, Action::Done(ref d) if d.product.is_empty()));
    // A network adapter whose MAC string is garbage is refused.
    let mut dev = FakeDevice::new(device(0x0525, 0xa4a2, 64, 0, 1), &[&NET_CONFIG]);
    dev.strings.push((3, string("not a mac")));
    assert!(matches!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Malformed { .. })));
    // A configuration header claiming 60000 bytes: at most 4096 are asked for.
    let mut huge = KEYBOARD_CONFIG.to_vec();
    huge[2..4].copy_from_slice(&60000u16.to_le_bytes());
    let mut dev = FakeDevice::new(device(0x0627, 0x0001, 64, 0, 1), &[&huge]);
    assert!(matches!(enumerate(&mut dev, Speed::High).0, Action::Failed(UsbError::Short { .. })));
    assert!(dev.asked.iter().all(|s| s.length <= MAX_CONFIGURATION_LEN));
    // Advancing a finished enumeration fails instead of panicking.
    let mut e = Enumeration::new(Speed::High, 0);
    assert!(matches!(e.advance(Ok(&[])), Action::Failed(_)));
}

#[test]
fn every_truncation_of_every_answer_is_handled() {
    for cut in 0..80 {
        let mut e = Enumeration::new(Speed::High, 0);
        let mut dev = FakeDevice::new(device(0x0525, 0xa4a2, 64, 3, 1), &[&NET_CONFIG]);
        dev.strings.push((3, NET_MAC_STRING.to_vec()));
        let mut action = e.start();
        for _ in 0..64 {
            action = match action {
                Action::Control(setup) => {
                    let mut answer = dev.answer(setup).unwrap_or_default();
                    answer.truncate(cut);
                    e.advance(Ok(&answer))
                }
                Action::SetControlPacket(_) | Action::ConfigureEndpoints(_) => e.advance(Ok(&[])),
                _ => break,
            };
        }
        assert!(matches!(action, Action::Done(_) | Action::Failed(_)), "cut {cut}: {action:?}");
    }
}
