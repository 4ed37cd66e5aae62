use super::*;
use crate::fixtures::HUB_DESCRIPTOR;
use alloc::vec::Vec;

fn hub() -> Hub {
    Hub::new(HubDescriptor::parse(&HUB_DESCRIPTOR).unwrap(), false)
}

/// Runs the hub until it waits for something other than a plain request:
/// requests succeed, waits pass, port statuses come from `status`.
fn run(hub: &mut Hub, status: &mut impl FnMut(u8) -> [u8; 4]) -> Vec<HubAction> {
    let mut seen = Vec::new();
    while let Some(action) = hub.next_action() {
        seen.push(action);
        match action {
            HubAction::Control(setup) if setup.request == 0 => {
                let bytes = status(setup.index as u8);
                hub.on_port_status(Ok(&bytes));
            }
            HubAction::Control(_) | HubAction::Wait(_) => hub.on_done(Ok(())),
            _ => {}
        }
    }
    seen
}

fn events(actions: &[HubAction]) -> Vec<HubAction> {
    actions.iter().copied().filter(|a| !matches!(a, HubAction::Control(_) | HubAction::Wait(_))).collect()
}

const EMPTY: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Connected, not enabled, connection changed.
const PLUGGED: [u8; 4] = [0x01, 0x01, 0x01, 0x00];
/// Connected and enabled after reset, high speed, reset change.
const ENABLED_HIGH: [u8; 4] = [0x03, 0x05, 0x10, 0x00];
/// Nothing connected, connection changed.
const UNPLUGGED: [u8; 4] = [0x00, 0x01, 0x01, 0x00];

#[test]
fn powers_every_port_then_reads_every_status() {
    let mut h = hub();
    assert_eq!(h.bitmap_len(), 2);
    let actions = run(&mut h, &mut |_| EMPTY);
    let powers = actions
        .iter()
        .filter(|a| matches!(a, HubAction::Control(s) if s.request == 3 && s.value == port_feature::POWER))
        .count();
    assert_eq!(powers, 8);
    assert!(actions.contains(&HubAction::Wait(100)), "power-good wait is at least 100 ms");
    let statuses = actions.iter().filter(|a| matches!(a, HubAction::Control(s) if s.request == 0)).count();
    assert_eq!(statuses, 8);
    assert!(events(&actions).is_empty());
    assert!(!h.is_busy());
}

#[test]
fn a_plugged_device_is_reset_then_reported_with_its_speed() {
    let mut h = hub();
    let mut after_reset = false;
    let actions = run(&mut h, &mut |port| match (port, after_reset) {
        (3, false) => {
            after_reset = true;
            PLUGGED
        }
        (3, true) => ENABLED_HIGH,
        _ => EMPTY,
    });
    assert_eq!(events(&actions), [HubAction::Attached { port: 3, speed: Speed::High }]);
    // C_CONNECTION was acknowledged and the port reset.
    assert!(actions.iter().any(|a| matches!(a, HubAction::Control(s) if s.request == 1 && s.value == port_feature::C_CONNECTION && s.index == 3)));
    assert!(actions.iter().any(
        |a| matches!(a, HubAction::Control(s) if s.request == 3 && s.value == port_feature::RESET && s.index == 3)
    ));
    // C_RESET acknowledged, and the device got its recovery time before being reported.
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, HubAction::Control(s) if s.request == 1 && s.value == port_feature::C_RESET))
    );
    let attached = actions.iter().position(|a| matches!(a, HubAction::Attached { .. })).unwrap();
    assert_eq!(actions[attached - 1], HubAction::Wait(RECOVERY_WAIT_MS));

    // Unplugged: the change endpoint reports port 3, the status says nothing is there.
    h.on_change_bitmap(&[0b0000_1000, 0]);
    let actions = run(&mut h, &mut |_| UNPLUGGED);
    assert_eq!(events(&actions), [HubAction::Detached { port: 3 }]);
}

#[test]
fn speeds_from_status_bits() {
    assert_eq!(PortStatus::parse(&[0x03, 0x03, 0, 0]).unwrap().speed(false), Speed::Low);
    assert_eq!(PortStatus::parse(&[0x03, 0x01, 0, 0]).unwrap().speed(false), Speed::Full);
    assert_eq!(PortStatus::parse(&[0x03, 0x05, 0, 0]).unwrap().speed(false), Speed::High);
    assert_eq!(PortStatus::parse(&[0x03, 0x01, 0, 0]).unwrap().speed(true), Speed::Super);
    assert!(PortStatus::parse(&[0x03, 0x01, 0]).is_err());
}

#[test]
fn a_port_that_never_enables_is_given_up() {
    let mut h = hub();
    let actions = run(&mut h, &mut |port| if port == 1 { PLUGGED } else { EMPTY });
    let resets = actions
        .iter()
        .filter(|a| matches!(a, HubAction::Control(s) if s.request == 3 && s.value == port_feature::RESET))
        .count();
    assert_eq!(resets, 3);
    assert_eq!(events(&actions), [HubAction::Failed { port: 1 }]);
    assert!(!h.is_busy());
}

#[test]
fn nonsense_from_the_hub_is_contained() {
    let mut h = hub();
    run(&mut h, &mut |_| EMPTY);
    // Bits for ports the hub does not have, and a bitmap longer than it should be.
    h.on_change_bitmap(&[0xff; 40]);
    let actions = run(&mut h, &mut |_| EMPTY);
    assert!(actions.iter().all(|a| match a {
        HubAction::Control(s) => (1..=8).contains(&s.index),
        _ => true,
    }));
    // An empty bitmap does nothing.
    h.on_change_bitmap(&[]);
    assert!(h.next_action().is_none());
    // A short status answer gives nothing up that was not there.
    h.on_change_bitmap(&[0b10]);
    let action = h.next_action().unwrap();
    assert!(matches!(action, HubAction::Control(s) if s.index == 1));
    h.on_port_status(Ok(&[1, 0]));
    assert!(h.next_action().is_none());
    // A status nobody asked for is ignored.
    h.on_port_status(Ok(&PLUGGED));
    assert!(h.next_action().is_none());
}

#[test]
fn a_stalled_status_request_detaches_the_device_on_that_port() {
    let mut h = hub();
    let mut after_reset = false;
    run(&mut h, &mut |port| match (port, after_reset) {
        (2, false) => {
            after_reset = true;
            PLUGGED
        }
        (2, true) => ENABLED_HIGH,
        _ => EMPTY,
    });
    h.on_change_bitmap(&[0b100]);
    assert!(matches!(h.next_action(), Some(HubAction::Control(s)) if s.index == 2));
    h.on_port_status(Err(UsbError::Stalled));
    assert_eq!(h.next_action(), Some(HubAction::Detached { port: 2 }));
}

#[test]
fn root_port_decisions() {
    use RootPortAction::*;
    assert_eq!(root_port_action(false, false, false, false), Detach);
    assert_eq!(root_port_action(true, false, false, false), Reset);
    assert_eq!(root_port_action(true, false, true, false), None);
    assert_eq!(root_port_action(true, true, false, false), Enumerate);
    assert_eq!(root_port_action(true, false, false, true), None);
    assert_eq!(root_port_action(true, true, false, true), Enumerate);
}
