use super::*;
use crate::scsi::Command;

fn csw(tag: u32, residue: u32, status: u8) -> [u8; CSW_LEN] {
    let mut c = [0u8; CSW_LEN];
    c[0..4].copy_from_slice(b"USBS");
    c[4..8].copy_from_slice(&tag.to_le_bytes());
    c[8..12].copy_from_slice(&residue.to_le_bytes());
    c[12] = status;
    c
}

#[test]
fn command_block_wrapper_layout() {
    let cbw = command_block(0x1234_5678, 0, &Command::read_10(16, 2, 512).unwrap());
    assert_eq!(&cbw[0..4], b"USBC");
    assert_eq!(&cbw[4..8], &[0x78, 0x56, 0x34, 0x12]);
    assert_eq!(&cbw[8..12], &1024u32.to_le_bytes());
    assert_eq!((cbw[12], cbw[13], cbw[14]), (0x80, 0, 10));
    assert_eq!(&cbw[15..25], &[0x28, 0, 0, 0, 0, 16, 0, 0, 2, 0]);
    assert!(cbw[25..].iter().all(|&b| b == 0));
    let out = command_block(1, 0, &Command::write_10(0, 1, 512).unwrap());
    assert_eq!(out[12], 0);
}

#[test]
fn status_wrapper_checks() {
    assert_eq!(parse_status(&csw(7, 0, 0), 7, 512).unwrap(), CommandStatus::Passed { residue: 0 });
    assert_eq!(parse_status(&csw(7, 12, 0), 7, 512).unwrap(), CommandStatus::Passed { residue: 12 });
    assert_eq!(parse_status(&csw(7, 0, 1), 7, 512).unwrap(), CommandStatus::Failed);
    assert_eq!(parse_status(&csw(7, 0, 2), 7, 512).unwrap(), CommandStatus::PhaseError);
    assert!(parse_status(&csw(8, 0, 0), 7, 512).is_err(), "stale tag");
    assert!(parse_status(&csw(7, 513, 0), 7, 512).is_err(), "residue past the transfer");
    assert!(parse_status(&csw(7, 0, 3), 7, 512).is_err(), "unknown status");
    let mut bad = csw(7, 0, 0);
    bad[0] = b'X';
    assert!(parse_status(&bad, 7, 512).is_err());
    assert!(parse_status(&csw(7, 0, 0)[..12], 7, 512).is_err());
    let mut long = csw(7, 0, 0).to_vec();
    long.push(0);
    assert!(parse_status(&long, 7, 512).is_err());
}

#[test]
fn a_read_that_passes() {
    let mut t = Transaction::new(3, Command::read_10(0, 1, 512).unwrap());
    assert!(matches!(t.start(0), BotStep::SendCommand(_)));
    assert_eq!(t.on_transfer(Ok(31)), BotStep::DataIn(512));
    assert_eq!(t.on_transfer(Ok(512)), BotStep::ReceiveStatus);
    assert_eq!(t.on_status(Ok(&csw(3, 0, 0))), BotStep::Done(Ok(512)));
}

#[test]
fn no_data_command_goes_straight_to_status() {
    let mut t = Transaction::new(4, Command::test_unit_ready());
    t.start(0);
    assert_eq!(t.on_transfer(Ok(31)), BotStep::ReceiveStatus);
    assert_eq!(
        t.on_status(Ok(&csw(4, 0, 1))),
        BotStep::Done(Err(UsbError::Command("the device reported the command failed")))
    );
}

#[test]
fn short_reads_count_what_arrived() {
    let mut t = Transaction::new(5, Command::inquiry());
    t.start(0);
    t.on_transfer(Ok(31));
    // The device sent 30 bytes but claims a residue of 0: trust the smaller figure.
    assert_eq!(t.on_transfer(Ok(30)), BotStep::ReceiveStatus);
    assert_eq!(t.on_status(Ok(&csw(5, 0, 0))), BotStep::Done(Ok(30)));
    // A transfer claiming more than was asked is capped.
    let mut t = Transaction::new(6, Command::inquiry());
    t.start(0);
    t.on_transfer(Ok(31));
    t.on_transfer(Ok(9999));
    assert_eq!(t.on_status(Ok(&csw(6, 6, 0))), BotStep::Done(Ok(30)));
}

#[test]
fn stalled_data_stage_is_cleared_and_the_status_read() {
    let mut t = Transaction::new(9, Command::write_10(0, 1, 512).unwrap());
    t.start(0);
    assert_eq!(t.on_transfer(Ok(31)), BotStep::DataOut(512));
    assert_eq!(t.on_transfer(Err(UsbError::Stalled)), BotStep::ClearHalt(Pipe::Out));
    assert_eq!(t.on_transfer(Ok(0)), BotStep::ReceiveStatus);
    assert!(matches!(t.on_status(Ok(&csw(9, 512, 1))), BotStep::Done(Err(_))));
}

#[test]
fn stalled_status_is_retried_once_then_recovered() {
    let mut t = Transaction::new(10, Command::test_unit_ready());
    t.start(0);
    t.on_transfer(Ok(31));
    assert_eq!(t.on_status(Err(UsbError::Stalled)), BotStep::ClearHalt(Pipe::In));
    assert_eq!(t.on_transfer(Ok(0)), BotStep::ReceiveStatus);
    assert_eq!(t.on_status(Err(UsbError::Stalled)), BotStep::ResetRecovery);
    assert_eq!(t.on_transfer(Ok(0)), BotStep::Done(Err(UsbError::Stalled)));
}

#[test]
fn phase_errors_and_bad_wrappers_need_reset_recovery() {
    for bad in [csw(11, 0, 2), csw(99, 0, 0), [0u8; CSW_LEN]] {
        let mut t = Transaction::new(11, Command::test_unit_ready());
        t.start(0);
        t.on_transfer(Ok(31));
        assert_eq!(t.on_status(Ok(&bad)), BotStep::ResetRecovery);
        assert!(matches!(t.on_transfer(Ok(0)), BotStep::Done(Err(_))));
    }
    // A failed command transfer (device gone) also ends in recovery.
    let mut t = Transaction::new(12, Command::test_unit_ready());
    t.start(0);
    assert_eq!(t.on_transfer(Err(UsbError::Transfer("timeout"))), BotStep::ResetRecovery);
    assert_eq!(t.on_transfer(Ok(0)), BotStep::Done(Err(UsbError::Transfer("timeout"))));
    // Out-of-order calls are errors, not panics.
    assert!(matches!(t.on_status(Ok(&csw(12, 0, 0))), BotStep::Done(Err(_))));
}
