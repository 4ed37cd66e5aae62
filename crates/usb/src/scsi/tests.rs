use super::*;

#[test]
fn command_blocks() {
    assert_eq!(Command::test_unit_ready().bytes(), [0, 0, 0, 0, 0, 0]);
    assert_eq!(Command::inquiry().bytes(), [0x12, 0, 0, 0, 36, 0]);
    assert_eq!(Command::request_sense().bytes(), [0x03, 0, 0, 0, 18, 0]);
    assert_eq!(Command::read_capacity_10().bytes(), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let rc16 = Command::read_capacity_16();
    assert_eq!(rc16.bytes().len(), 16);
    assert_eq!((rc16.bytes()[0], rc16.bytes()[1], rc16.bytes()[13], rc16.transfer_length), (0x9e, 0x10, 32, 32));
    let read = Command::read_10(0x0102_0304, 8, 512).unwrap();
    assert_eq!(read.bytes(), [0x28, 0, 1, 2, 3, 4, 0, 0, 8, 0]);
    assert_eq!((read.direction, read.transfer_length), (Direction::In, 4096));
    let write = Command::write_10(7, 1, 4096).unwrap();
    assert_eq!(write.bytes(), [0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0]);
    assert_eq!((write.direction, write.transfer_length), (Direction::Out, 4096));
    assert!(Command::read_10(1 << 32, 1, 512).is_none());
    assert!(Command::read_10(0, u16::MAX, u32::MAX).is_none());
}

#[test]
fn inquiry_answer() {
    // QEMU's usb-storage answers "QEMU    " "QEMU HARDDISK   ".
    let mut data = [0u8; 36];
    data[1] = 0x80;
    data[8..16].copy_from_slice(b"QEMU    ");
    data[16..32].copy_from_slice(b"QEMU HARDDISK   ");
    let inquiry = Inquiry::parse(&data).unwrap();
    assert!(inquiry.is_disk() && inquiry.removable);
    assert_eq!((inquiry.vendor.as_str(), inquiry.product.as_str()), ("QEMU", "QEMU HARDDISK"));
    data[20] = 0x1b;
    assert_eq!(Inquiry::parse(&data).unwrap().product, "QEMU?HARDDISK");
    data[0] = 5;
    assert!(!Inquiry::parse(&data).unwrap().is_disk());
    assert!(Inquiry::parse(&data[..35]).is_err());
}

#[test]
fn capacities() {
    // 64 MiB of 512-byte blocks: last LBA 131071.
    let c = Capacity::parse_10(&[0, 1, 0xff, 0xff, 0, 0, 2, 0]).unwrap().unwrap();
    assert_eq!((c.blocks, c.block_size), (131_072, 512));
    assert_eq!(Capacity::parse_10(&[0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0]).unwrap(), None);
    assert!(Capacity::parse_10(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err(), "zero block size");
    assert!(Capacity::parse_10(&[0, 0, 0, 1, 0, 0, 3, 0]).is_err(), "768-byte blocks");
    assert!(Capacity::parse_10(&[0, 0, 0, 1, 0, 1, 0, 0]).is_err(), "64 KiB blocks");
    assert!(Capacity::parse_10(&[0, 0, 0, 1, 0, 0, 2]).is_err());
    let mut c16 = [0u8; 32];
    c16[..8].copy_from_slice(&(5_000_000_000u64 - 1).to_be_bytes());
    c16[8..12].copy_from_slice(&4096u32.to_be_bytes());
    assert_eq!(Capacity::parse_16(&c16).unwrap(), Capacity { blocks: 5_000_000_000, block_size: 4096 });
    c16[..8].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(Capacity::parse_16(&c16).is_err());
    assert!(Capacity::parse_16(&c16[..11]).is_err());
}

#[test]
fn sense_data() {
    let mut sense = [0u8; 18];
    sense[0] = 0x70;
    sense[2] = 0x02;
    sense[12] = 0x3a;
    let s = Sense::parse(&sense).unwrap();
    assert_eq!(s.describe(), "no medium in the drive");
    assert!(!s.is_write_protected() && !s.is_transient());
    sense[2] = 0x07;
    sense[12] = 0x27;
    assert!(Sense::parse(&sense).unwrap().is_write_protected());
    sense[2] = 0x06;
    sense[12] = 0x28;
    assert!(Sense::parse(&sense).unwrap().is_transient());
    sense[0] = 0x72;
    assert!(Sense::parse(&sense).is_err(), "descriptor-format sense is not parsed");
    assert!(Sense::parse(&sense[..13]).is_err());
}
