//! The file API over disk images formatted in the test: GPT lookup, FAT32, atomic
//! writes with a power cut at every block write, a full disk, a damaged FAT, the
//! read cap.

mod common;

use common::{Counting, ESP_GUID, fat_volume, gpt_disk};
use storage::gpt::{Partition, read_partitions};
use storage::{BlockDevice, RamDisk, StorageError, Volume};

const CONFIG: &str = "\\moteos\\config.toml";
const LIMIT: u64 = 1 << 20;

#[test]
fn the_esp_is_found_in_the_gpt_and_its_fat32_keeps_files() {
    let mut disk = gpt_disk(100 * 2048); // 100 MiB: FAT32
    let parts = read_partitions(&mut disk).unwrap();
    assert_eq!(parts.len(), 1);
    assert!(parts[0].is_esp());
    assert_eq!(parts[0].unique_guid, ESP_GUID);
    let esp = Partition::new(disk, &parts[0]);
    let volume = Volume::format(esp, "MOTEOS").unwrap();
    assert_eq!(volume.fat_name(), "FAT32");
    volume.write_file(CONFIG, b"[provider]\nactive = \"local\"\n").unwrap();
    volume.write_file("/moteos/chats/2026-01-01 first.json", b"{}").unwrap();
    let before = volume.free_space().unwrap();
    let disk = volume.into_device().disk().clone();

    // A fresh open of the same bytes, as after a reboot.
    let mut disk = RamDisk::from_image(512, disk.image().to_vec());
    let parts = read_partitions(&mut disk).unwrap();
    let volume = Volume::open(Partition::new(disk, &parts[0])).unwrap();
    assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), b"[provider]\nactive = \"local\"\n");
    let names: Vec<_> = volume.list("\\moteos").unwrap().into_iter().map(|f| (f.name, f.is_dir)).collect();
    assert_eq!(names, [("chats".to_string(), true), ("config.toml".to_string(), false)]);
    let chats = volume.list("\\moteos\\chats").unwrap();
    assert_eq!(chats[0].name, "2026-01-01 first.json");
    assert!(before > 90 << 20, "free space {before}");
    assert_eq!(volume.free_space().unwrap(), before);
}

#[test]
fn a_damaged_primary_gpt_falls_back_to_the_backup() {
    let mut disk = gpt_disk(8192);
    disk.write_blocks(1, &[0u8; 512]).unwrap();
    let parts = read_partitions(&mut disk).unwrap();
    assert_eq!(parts[0].unique_guid, ESP_GUID);
    disk.write_blocks(8191, &[0u8; 512]).unwrap();
    let err = read_partitions(&mut disk).unwrap_err();
    assert!(err.to_string().contains("no usable GPT"), "{err}");
    let err = read_partitions(&mut RamDisk::new(512, 64)).unwrap_err();
    assert!(matches!(err, StorageError::NoPartitionTable(_)));
}

#[test]
fn writing_keeps_the_previous_version_and_remove_takes_both() {
    let volume = Volume::open(fat_volume(8192)).unwrap();
    volume.write_file(CONFIG, b"one").unwrap();
    volume.write_file(CONFIG, b"two").unwrap();
    assert_eq!(volume.read_raw(CONFIG, LIMIT).unwrap(), b"two");
    assert_eq!(volume.read_raw("\\moteos\\config.toml.bak", LIMIT).unwrap(), b"one");
    // The listing shows the file once.
    let names: Vec<_> = volume.list("\\moteos").unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["config.toml"]);
    // A main file that fails the caller's check falls back to the previous version.
    assert_eq!(volume.read_file_checked(CONFIG, LIMIT, |d| d == b"one").unwrap(), b"one");
    volume.remove(CONFIG).unwrap();
    assert!(matches!(volume.read_file(CONFIG, LIMIT), Err(StorageError::NotFound(_))));
    assert!(volume.list("\\moteos").unwrap().is_empty());
    assert!(matches!(volume.remove(CONFIG), Err(StorageError::NotFound(_))));
}

/// The image with `\moteos\config.toml` = "old settings" (and an older `.bak`).
fn settled_image() -> Vec<u8> {
    let volume = Volume::open(fat_volume(4096)).unwrap();
    volume.write_file(CONFIG, b"older settings").unwrap();
    volume.write_file(CONFIG, &old()).unwrap();
    volume.into_device().image().to_vec()
}

fn old() -> Vec<u8> {
    b"old settings ".repeat(100)
}

fn new() -> Vec<u8> {
    // Several clusters, so the cut also lands between data blocks.
    b"new settings!".repeat(700)
}

#[test]
fn a_power_cut_at_any_block_write_leaves_a_readable_version() {
    let image = settled_image();
    // How many blocks one replacement writes (the cut also lands inside a merged
    // multi-block request).
    let mut counting = Counting::new(RamDisk::from_image(512, image.clone()));
    Volume::open(&mut counting).unwrap().write_file(CONFIG, &new()).unwrap();
    let total = counting.writes;
    assert!(total > 10, "only {total} writes");

    for cut in 0..total {
        let mut disk = RamDisk::from_image(512, image.clone());
        disk.cut_power_after(cut);
        let result = Volume::open(&mut disk).and_then(|v| v.write_file(CONFIG, &new()));
        assert!(result.is_err(), "cut after {cut} of {total} writes went unnoticed");

        // Power back: a fresh mount of what reached the disk.
        let disk = RamDisk::from_image(512, disk.image().to_vec());
        let volume = Volume::open(disk).unwrap_or_else(|e| panic!("cut after {cut}: unmountable: {e}"));
        let read = volume.read_file(CONFIG, LIMIT).unwrap_or_else(|e| panic!("cut after {cut}: {e}"));
        assert!(read == old() || read == new(), "cut after {cut}: read {} bytes of neither version", read.len());

        // The next saves work and leave no shared chains behind.
        let free_before = volume.free_space().unwrap();
        for round in 0..3 {
            let text = format!("after cut {cut}, round {round}").repeat(50);
            volume.write_file(CONFIG, text.as_bytes()).unwrap_or_else(|e| panic!("cut after {cut}: {e}"));
            assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), text.as_bytes());
        }
        let previous = volume.read_raw("\\moteos\\config.toml.bak", LIMIT).unwrap();
        assert_eq!(previous, format!("after cut {cut}, round 1").repeat(50).as_bytes());
        let names: Vec<_> = volume.list("\\moteos").unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["config.toml"], "cut after {cut}");
        // Space is not leaking with every recovery (a cluster or two of slack for the
        // directory and the differently sized versions).
        let free_after = volume.free_space().unwrap();
        assert!(free_after + 8 * 512 >= free_before, "cut after {cut}: {free_before} -> {free_after}");
    }
}

#[test]
fn a_full_disk_is_reported_and_the_old_version_survives() {
    let volume = Volume::open(fat_volume(4096)).unwrap(); // 2 MiB
    volume.write_file(CONFIG, b"keep me").unwrap();
    let free = volume.free_space().unwrap();
    let err = volume.write_file("\\moteos\\chats\\huge.json", &vec![b'x'; free as usize + 4096]).unwrap_err();
    assert!(matches!(err, StorageError::Full(_)), "{err:?}");
    assert!(err.to_string().contains("the disk is full"), "{err}");
    assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), b"keep me");
    // The failed write left no partial file and gave its space back.
    assert!(volume.list("\\moteos\\chats").unwrap().is_empty());
    assert!(volume.free_space().unwrap() + 4 * 512 >= free);
    // Replacing a file on a disk too full for the new copy keeps the old one.
    let big = vec![b'y'; (volume.free_space().unwrap() as usize) * 2 / 3];
    volume.write_file("\\big", &big).unwrap();
    let err = volume.write_file("\\big", &big).unwrap_err();
    assert!(matches!(err, StorageError::Full(_)), "{err:?}");
    assert_eq!(volume.read_file("\\big", 1 << 30).unwrap(), big);
}

#[test]
fn a_damaged_fat_gives_a_sentence_not_a_panic() {
    // A boot sector of zeros.
    let mut disk = fat_volume(4096);
    disk.write_blocks(0, &[0u8; 512]).unwrap();
    let err = Volume::open(disk).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("damaged"), "{err}");

    // File allocation tables wiped: the file's chain ends early.
    let volume = Volume::open(fat_volume(4096)).unwrap();
    volume.write_file("\\chat.json", &vec![b'z'; 20_000]).unwrap();
    let mut disk = volume.into_device();
    let mut boot = [0u8; 512];
    disk.read_blocks(0, &mut boot).unwrap();
    let reserved = u64::from(u16::from_le_bytes([boot[14], boot[15]]));
    let fat_sectors = u64::from(u16::from_le_bytes([boot[22], boot[23]]));
    for copy in 0..u64::from(boot[16]) {
        for s in 0..fat_sectors {
            disk.write_blocks(reserved + copy * fat_sectors + s, &[0u8; 512]).unwrap();
        }
    }
    let volume = Volume::open(disk).unwrap();
    let err = volume.read_file("\\chat.json", LIMIT).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err:?}");

    // A directory entry claiming a gigantic size is refused by the cap, not read.
    let garbage = RamDisk::from_image(512, vec![0xA5; 4096 * 512]);
    assert!(Volume::open(garbage).is_err());
}

#[test]
fn a_ten_megabyte_file_is_refused_by_the_cap() {
    let volume = Volume::open(fat_volume(64 * 2048)).unwrap();
    let chat = vec![b'{'; 10 << 20];
    volume.write_file("\\moteos\\chats\\big.json", &chat).unwrap();
    let err = volume.read_file("\\moteos\\chats\\big.json", LIMIT).unwrap_err();
    assert_eq!(err, StorageError::TooLarge { path: "\\moteos\\chats\\big.json".into(), size: 10 << 20, limit: LIMIT });
    assert!(err.to_string().contains("more than the 1048576-byte limit"), "{err}");
    assert_eq!(volume.read_file("\\moteos\\chats\\big.json", 11 << 20).unwrap().len(), 10 << 20);
}

#[test]
fn a_read_only_disk_reads_and_refuses_writes() {
    let volume = Volume::open(fat_volume(4096)).unwrap();
    volume.write_file(CONFIG, b"x").unwrap();
    let mut disk = volume.into_device();
    disk.set_read_only(true);
    let volume = Volume::open(disk).unwrap();
    assert!(volume.is_read_only());
    assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), b"x");
    assert_eq!(volume.write_file(CONFIG, b"y"), Err(StorageError::ReadOnly));
    assert_eq!(volume.remove(CONFIG), Err(StorageError::ReadOnly));
}

#[test]
fn a_second_cut_during_the_recovering_write_still_leaves_a_readable_version() {
    let image = settled_image();
    let mut counting = Counting::new(RamDisk::from_image(512, image.clone()));
    Volume::open(&mut counting).unwrap().write_file(CONFIG, &new()).unwrap();
    let total = counting.writes;
    let newer = b"newer settings".repeat(30);
    // A first cut at every block write, then a second cut at every block write of
    // the next save.
    for first in 0..total {
        let mut disk = RamDisk::from_image(512, image.clone());
        disk.cut_power_after(first);
        let _ = Volume::open(&mut disk).and_then(|v| v.write_file(CONFIG, &new()));
        let after_first = disk.image().to_vec();
        let mut counting = Counting::new(RamDisk::from_image(512, after_first.clone()));
        Volume::open(&mut counting).unwrap().write_file(CONFIG, &newer).unwrap();
        for second in 0..counting.writes {
            let mut disk = RamDisk::from_image(512, after_first.clone());
            disk.cut_power_after(second);
            let _ = Volume::open(&mut disk).and_then(|v| v.write_file(CONFIG, &newer));
            let volume = Volume::open(RamDisk::from_image(512, disk.image().to_vec())).unwrap();
            let read = volume.read_file(CONFIG, LIMIT).unwrap_or_else(|e| panic!("cuts {first}/{second}: {e}"));
            assert!(read == old() || read == new() || read == newer, "cuts {first}/{second}: neither version");
            volume.write_file(CONFIG, b"final").unwrap_or_else(|e| panic!("cuts {first}/{second}: {e}"));
            assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), b"final");
        }
    }
}

#[test]
fn a_large_file_reaches_the_disk_in_a_few_merged_requests() {
    // A 50-turn conversation is about 100 KB; written through, the FAT crate's
    // cluster-by-cluster writes were about 500 requests.
    let image = settled_image();
    let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut counting = Counting::new(RamDisk::from_image(512, image));
    Volume::open(&mut counting).unwrap().write_file(CONFIG, &big).unwrap();
    assert!(counting.writes >= big.len() / 512, "{} blocks", counting.writes);
    assert!(counting.requests < 40, "{} requests for {} blocks", counting.requests, counting.writes);
    let volume = Volume::open(counting.inner).unwrap();
    assert_eq!(volume.read_file(CONFIG, LIMIT).unwrap(), big);
}
