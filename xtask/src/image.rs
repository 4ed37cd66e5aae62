//! Builds the bootable disk image: a GPT disk whose only partition is a FAT32
//! EFI System Partition filled from a staging directory.
//!
//! Everything is done in-process with the `gpt` and `fatfs` crates so the build
//! needs no host tools (mkfs, sgdisk, mtools) and behaves the same everywhere.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

/// Logical sector size of the image. OVMF and every real UEFI disk driver handle
/// 512-byte sectors; 4K-native images are still poorly supported by emulators.
const SECTOR: u64 = 512;
/// Partition start alignment and the room left before it (GPT needs 17 KiB,
/// the rest keeps the partition on a 1 MiB boundary like every partitioner does).
const ALIGN: u64 = 1 << 20;
/// Room left after the partition for the backup GPT (needs 17 KiB; 1 MiB keeps
/// the disk size a whole number of MiB).
const TAIL: u64 = 1 << 20;
/// A normal-sized ESP; also comfortably above the FAT32 minimum cluster count.
const MIN_PARTITION: u64 = 64 << 20;
/// `total_sectors` in the FAT boot sector is 32 bits, and 4 KiB clusters keep the
/// cluster count far below the FAT32 limit at this size.
const MAX_PARTITION: u64 = 1 << 40;
/// Below this many clusters a volume is FAT16 by definition, whatever its BPB says.
const FAT32_MIN_CLUSTERS: u64 = 65_525;
/// Distance kept from the FAT16/FAT32 boundary: drivers that count clusters slightly
/// differently must still agree the volume is FAT32.
const FAT32_CLUSTER_MARGIN: u64 = 1024;
/// Upper bound on the reserved area before the FATs on FAT32 (boot sector, FSInfo,
/// backup boot sector): fatfs 0.3 uses 8 sectors, mkfs.fat 32.
const FAT32_RESERVED_BYTES: u64 = 32 * SECTOR;
/// FAT32 stores file sizes in 32 bits.
const FAT32_MAX_FILE: u64 = u32::MAX as u64;
/// Subdirectory symlinks are followed, so a link back to an ancestor would recurse
/// forever; no real ESP layout comes close to this depth.
const MAX_DEPTH: usize = 64;
/// Copy buffer: large enough that a 100 MB model needs only ~100 reads.
const COPY_BUF: usize = 1 << 20;

const VOLUME_LABEL: [u8; 11] = *b"MOTEOS     ";
const PARTITION_NAME: &str = "EFI System";

/// What [`write_disk_image`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// Size of the whole image file in bytes.
    pub disk_bytes: u64,
    /// Size of the EFI System Partition in bytes.
    pub partition_bytes: u64,
    /// Number of regular files copied into the partition (directories not counted).
    pub files: usize,
    /// FAT variant the partition was formatted with, e.g. `"FAT32"`.
    pub fat_type: String,
}

/// Writes a bootable GPT disk image at `out` whose single partition is an EFI System
/// Partition (FAT, type GUID C12A7328-F81F-11D2-BA4B-00A0C93EC93B) holding every file
/// and folder under `esp_dir`.
///
/// The partition starts at 1 MiB, uses 512-byte sectors, is formatted FAT32 with the
/// volume label `MOTEOS` and is named `EFI System` in the GPT. It is sized from the
/// content (plus about 25% slack) but never smaller than 64 MiB. Any existing file at
/// `out` is replaced; on failure no partial image is left behind.
pub fn write_disk_image(esp_dir: &Path, out: &Path) -> Result<ImageSummary> {
    let tree = scan_dir(esp_dir, 0).with_context(|| format!("reading ESP staging directory {}", esp_dir.display()))?;
    refuse_output_inside(esp_dir, out)?;

    let partition_bytes = partition_size(&tree)?;
    let cluster_bytes = cluster_size(partition_bytes);
    let disk_bytes = ALIGN + partition_bytes + TAIL;

    match fs::remove_file(out) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("removing old image {}", out.display()));
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating output directory {}", parent.display()))?;
    }
    let mut disk = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("creating disk image {}", out.display()))?;

    let result = build_image(&mut disk, &tree, disk_bytes, partition_bytes, cluster_bytes);
    drop(disk);
    match result {
        Ok((files, fat_type)) => Ok(ImageSummary { disk_bytes, partition_bytes, files, fat_type }),
        Err(e) => {
            // A half-written image could still carry a valid GPT and be booted by
            // mistake, so it must not survive a failed build.
            let _ = fs::remove_file(out);
            Err(e.context(format!("writing disk image {}", out.display())))
        }
    }
}

/// Lays out the GPT and the filesystem in an already-created, empty image file.
/// Returns the number of files copied and the FAT variant's name.
fn build_image(
    disk: &mut File,
    tree: &[Node],
    disk_bytes: u64,
    partition_bytes: u64,
    cluster_bytes: u32,
) -> Result<(usize, String)> {
    // Extending with set_len leaves holes on filesystems that support them, so the
    // unused part of the partition costs no disk space and no write time.
    disk.set_len(disk_bytes).context("sizing the image file")?;

    let volume_id = write_partition_table(disk, disk_bytes, partition_bytes)?;

    let total_sectors =
        u32::try_from(partition_bytes / SECTOR).context("partition has more sectors than FAT can address")?;
    let options = fatfs::FormatVolumeOptions::new()
        .bytes_per_sector(SECTOR as u16)
        .total_sectors(total_sectors)
        .bytes_per_cluster(cluster_bytes)
        .fat_type(fatfs::FatType::Fat32)
        .fats(2)
        .volume_id(volume_id)
        .volume_label(VOLUME_LABEL);
    fatfs::format_volume(PartitionIo::new(disk, ALIGN, partition_bytes), options)
        .context("formatting the EFI System Partition")?;

    let fs = fatfs::FileSystem::new(PartitionIo::new(disk, ALIGN, partition_bytes), fatfs::FsOptions::new())
        .context("mounting the freshly formatted partition")?;
    let fat_type = fs.fat_type();
    // fatfs decides the FAT type from the cluster count; anything but FAT32 means the
    // sizing logic is wrong and firmware might reject or misread the ESP.
    ensure!(
        fat_type == fatfs::FatType::Fat32,
        "partition was formatted as {} instead of FAT32 ({} bytes, {}-byte clusters)",
        fat_type_name(fat_type),
        partition_bytes,
        cluster_bytes
    );

    let mut buf = vec![0u8; COPY_BUF];
    let files = copy_tree(&fs.root_dir(), tree, &mut buf)?;
    // unmount writes the FSInfo free-cluster hints and clears the dirty bit; dropping
    // the filesystem would do the same but swallow any error.
    fs.unmount().context("finalising the FAT filesystem")?;
    disk.flush().context("flushing the image file")?;
    Ok((files, fat_type_name(fat_type).to_string()))
}

/// Writes the protective MBR and both GPT copies with a single ESP entry starting at
/// [`ALIGN`]. Returns a FAT volume serial derived from the partition's unique GUID so
/// that different images get different serials.
fn write_partition_table(disk: &mut File, disk_bytes: u64, partition_bytes: u64) -> Result<u32> {
    let total_lbas = disk_bytes / SECTOR;
    // The protective entry covers the whole disk after LBA 0, saturating for disks
    // larger than 2 TiB as the UEFI spec requires.
    let mbr = gpt::mbr::ProtectiveMBR::with_lb_size(u32::try_from(total_lbas - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(disk).context("writing the protective MBR")?;

    let mut gpt = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .create_from_device(&mut *disk, None)
        .context("creating the GPT")?;
    let id = gpt
        .add_partition_at(PARTITION_NAME, 1, ALIGN / SECTOR, partition_bytes / SECTOR, gpt::partition_types::EFI, 0)
        .context("adding the EFI System Partition to the GPT")?;
    let part_guid = gpt.partitions().get(&id).map(|p| p.part_guid).context("GPT lost the partition it just added")?;
    gpt.write().context("writing the GPT")?;

    let b = part_guid.as_bytes();
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn fat_type_name(t: fatfs::FatType) -> &'static str {
    match t {
        fatfs::FatType::Fat12 => "FAT12",
        fatfs::FatType::Fat16 => "FAT16",
        fatfs::FatType::Fat32 => "FAT32",
    }
}

/// One entry of the staging directory, read up front so the partition can be sized
/// before anything is written.
#[derive(Debug)]
enum Node {
    File { name: String, src: PathBuf, size: u64 },
    Dir { name: String, src: PathBuf, children: Vec<Node> },
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Node::File { name, .. } | Node::Dir { name, .. } => name,
        }
    }
}

/// Reads `dir` recursively, sorted by name so images are laid out the same way on
/// every run regardless of the host's directory order.
fn scan_dir(dir: &Path, depth: usize) -> Result<Vec<Node>> {
    ensure!(depth <= MAX_DEPTH, "{} is nested more than {MAX_DEPTH} levels deep (symlink loop?)", dir.display());
    let mut nodes = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let src = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|raw| anyhow::anyhow!("{} has a non-UTF-8 name {raw:?}", src.display()))?;
        // fs::metadata follows symlinks: a staged symlink to a big model file should be
        // copied as that file, not rejected.
        let meta = fs::metadata(&src).with_context(|| format!("inspecting {}", src.display()))?;
        if meta.is_dir() {
            let children = scan_dir(&src, depth + 1)?;
            nodes.push(Node::Dir { name, src, children });
        } else if meta.is_file() {
            let size = meta.len();
            ensure!(
                size <= FAT32_MAX_FILE,
                "{} is {size} bytes; FAT32 cannot hold files of 4 GiB or more",
                src.display()
            );
            nodes.push(Node::File { name, src, size });
        } else {
            bail!("{} is neither a regular file nor a directory", src.display());
        }
    }
    nodes.sort_by(|a, b| a.name().cmp(b.name()));
    // FAT names are case-insensitive: fatfs would silently open the first file again
    // instead of creating the second, losing data without an error.
    let mut folded: Vec<(String, &str)> = nodes.iter().map(|n| (n.name().to_uppercase(), n.name())).collect();
    folded.sort();
    for pair in folded.windows(2) {
        if pair[0].0 == pair[1].0 {
            bail!(
                "{} contains both {:?} and {:?}, which are the same name on FAT",
                dir.display(),
                pair[0].1,
                pair[1].1
            );
        }
    }
    Ok(nodes)
}

/// Refuses to write the image into the directory being imaged: a previous image
/// there would be copied into the new one, doubling its size on every build.
fn refuse_output_inside(esp_dir: &Path, out: &Path) -> Result<()> {
    let Some(parent) = out.parent() else {
        return Ok(());
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    // A parent that does not exist yet cannot be inside an existing ESP directory.
    let (Ok(esp), Ok(parent)) = (esp_dir.canonicalize(), parent.canonicalize()) else {
        return Ok(());
    };
    ensure!(
        !parent.starts_with(&esp),
        "output image {} must not be inside the ESP directory {}",
        out.display(),
        esp_dir.display()
    );
    Ok(())
}

fn round_up(n: u64, unit: u64) -> u64 {
    n.div_ceil(unit).saturating_mul(unit)
}

/// Upper bound on the bytes one directory's entry table needs: every name gets a
/// short entry plus long-name entries (13 UTF-16 units each), whether or not fatfs
/// ends up needing them; two extra slots cover `.`/`..` or the volume label.
fn dir_table_bytes(children: &[Node]) -> u64 {
    let entries: u64 = children.iter().map(|n| 1 + (n.name().encode_utf16().count() as u64).div_ceil(13)).sum();
    (entries + 2) * 32
}

/// Bytes of data clusters the tree occupies with clusters of `unit` bytes.
fn content_bytes(children: &[Node], unit: u64) -> u64 {
    children.iter().fold(round_up(dir_table_bytes(children), unit), |acc, node| {
        acc.saturating_add(match node {
            Node::File { size, .. } => round_up(*size, unit),
            Node::Dir { children, .. } => content_bytes(children, unit),
        })
    })
}

/// Partition size for `tree`: content plus FAT overhead plus ~25% slack, rounded up
/// to whole MiB and never below [`MIN_PARTITION`].
fn partition_size(tree: &[Node]) -> Result<u64> {
    // Rounding to the largest cluster size we ever pick and charging FAT entries at
    // the smallest one overestimates both sides, so the real layout always fits.
    let data = content_bytes(tree, 4096);
    let fat = 2 * 4 * (data / SECTOR + 2);
    let raw = data.saturating_add(fat).saturating_add(FAT32_RESERVED_BYTES);
    let with_slack = raw.saturating_add(raw / 4);
    let size = round_up(with_slack, ALIGN).max(MIN_PARTITION);
    ensure!(
        size <= MAX_PARTITION,
        "ESP content needs a {size}-byte partition; at most {MAX_PARTITION} bytes are supported"
    );
    Ok(size)
}

/// Largest cluster size (fewer FAT updates, faster copies of big files) that still
/// leaves the volume safely inside FAT32's cluster-count range.
fn cluster_size(partition_bytes: u64) -> u32 {
    for cluster in [4096u32, 2048, 1024] {
        // Each cluster also costs one 4-byte entry in each of the two FATs.
        let clusters = partition_bytes.saturating_sub(FAT32_RESERVED_BYTES) / (u64::from(cluster) + 8);
        if clusters >= FAT32_MIN_CLUSTERS + FAT32_CLUSTER_MARGIN {
            return cluster;
        }
    }
    // MIN_PARTITION guarantees enough 512-byte clusters.
    SECTOR as u32
}

/// Copies `nodes` into `dir`, returning how many regular files were written.
fn copy_tree(dir: &fatfs::Dir<'_, PartitionIo<'_>>, nodes: &[Node], buf: &mut [u8]) -> Result<usize> {
    let mut files = 0;
    for node in nodes {
        match node {
            Node::Dir { name, src, children } => {
                let sub = dir.create_dir(name).with_context(|| format!("creating directory for {}", src.display()))?;
                files += copy_tree(&sub, children, buf)?;
            }
            Node::File { name, src, size } => {
                copy_file(dir, name, src, *size, buf)
                    .with_context(|| format!("copying {} into the image", src.display()))?;
                files += 1;
            }
        }
    }
    Ok(files)
}

fn copy_file(
    dir: &fatfs::Dir<'_, PartitionIo<'_>>,
    name: &str,
    src: &Path,
    expected: u64,
    buf: &mut [u8],
) -> Result<()> {
    let mut input = File::open(src).context("opening source file")?;
    let mut output = dir.create_file(name).context("creating file on FAT")?;
    let mut copied = 0u64;
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading source file"),
        };
        output.write_all(&buf[..n]).context("writing to FAT")?;
        copied += n as u64;
    }
    // The partition was sized from the scanned sizes; a file that changed since
    // then could overflow it or leave a truncated copy.
    ensure!(copied == expected, "file changed while building the image (was {expected} bytes, read {copied})");
    // fatfs updates the directory entry's size on flush; drop would too, silently.
    output.flush().context("finalising file on FAT")?;
    Ok(())
}

/// A window onto the partition's byte range of the image file, so fatfs (which
/// expects a whole volume starting at offset 0) cannot touch the GPT around it.
#[derive(Debug)]
struct PartitionIo<'a> {
    disk: &'a mut File,
    start: u64,
    len: u64,
    pos: u64,
    /// Where the file's own cursor is, relative to `start`, when known. fatfs seeks
    /// before nearly every access; skipping redundant lseek calls roughly halves the
    /// syscalls for sequential file data.
    disk_pos: Option<u64>,
}

impl<'a> PartitionIo<'a> {
    fn new(disk: &'a mut File, start: u64, len: u64) -> Self {
        PartitionIo { disk, start, len, pos: 0, disk_pos: None }
    }

    fn sync_cursor(&mut self) -> io::Result<()> {
        if self.disk_pos != Some(self.pos) {
            self.disk_pos = None;
            self.disk.seek(SeekFrom::Start(self.start + self.pos))?;
            self.disk_pos = Some(self.pos);
        }
        Ok(())
    }
}

impl Read for PartitionIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.sync_cursor()?;
        match self.disk.read(&mut buf[..n]) {
            Ok(read) => {
                self.pos += read as u64;
                self.disk_pos = Some(self.pos);
                Ok(read)
            }
            Err(e) => {
                self.disk_pos = None;
                Err(e)
            }
        }
    }
}

impl Write for PartitionIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "write past the end of the partition"));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        self.sync_cursor()?;
        match self.disk.write(&buf[..n]) {
            Ok(written) => {
                self.pos += written as u64;
                self.disk_pos = Some(self.pos);
                Ok(written)
            }
            Err(e) => {
                self.disk_pos = None;
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.disk.flush()
    }
}

impl Seek for PartitionIo<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the partition"))?;
        // Like a file, seeking past the end is allowed; the read/write bounds checks
        // are what keep I/O inside the partition.
        self.pos = target;
        Ok(target)
    }
}

/// Fills the ESP of a finished image with `\moteos\filler.bin` until at most `leave`
/// bytes stay free (storage tests: a full disk).
pub fn fill_free_space(image: &Path, leave: u64) -> Result<()> {
    let mut disk = std::fs::OpenOptions::new().read(true).write(true).open(image)?;
    let len = disk.metadata()?.len();
    let partition_bytes = len - ALIGN - TAIL;
    let fs = fatfs::FileSystem::new(PartitionIo::new(&mut disk, ALIGN, partition_bytes), fatfs::FsOptions::new())
        .context("opening the image's FAT")?;
    let stats = fs.stats()?;
    let free = u64::from(stats.free_clusters()) * u64::from(stats.cluster_size());
    let fill = free.saturating_sub(leave);
    {
        let mut file = fs.root_dir().create_file("moteos/filler.bin")?;
        let chunk = vec![0u8; 1 << 20];
        let mut left = fill;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            file.write_all(&chunk[..n])?;
            left -= n as u64;
        }
    }
    fs.unmount().context("closing the image's FAT")?;
    Ok(())
}

/// Reads `path` (e.g. `moteos/chats/a.json`) from the ESP of a finished image.
pub fn read_esp_file(image: &Path, path: &str) -> Result<Vec<u8>> {
    let mut disk = std::fs::OpenOptions::new().read(true).write(true).open(image)?;
    let len = disk.metadata()?.len();
    let fs = fatfs::FileSystem::new(PartitionIo::new(&mut disk, ALIGN, len - ALIGN - TAIL), fatfs::FsOptions::new())
        .context("opening the image's FAT")?;
    let mut bytes = Vec::new();
    fs.root_dir().open_file(path).with_context(|| format!("opening {path}"))?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Where the ESP starts in images this module writes.
pub const PARTITION_START: u64 = ALIGN;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Deterministic xorshift bytes: incompressible and position-dependent, so a
    /// misplaced or duplicated cluster shows up as a mismatch.
    fn pattern(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// Relative path (with `/`) → contents for every file; directories map to `None`.
    type Tree = BTreeMap<String, Option<Vec<u8>>>;

    fn write_tree(root: &Path, tree: &Tree) {
        for (rel, content) in tree {
            let path = root.join(rel);
            match content {
                None => fs::create_dir_all(&path).unwrap(),
                Some(bytes) => {
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    fs::write(&path, bytes).unwrap();
                }
            }
        }
    }

    fn sample_tree() -> Tree {
        let mut t = Tree::new();
        t.insert("EFI".into(), None);
        t.insert("EFI/BOOT".into(), None);
        t.insert("EFI/BOOT/BOOTX64.EFI".into(), Some(b"MZ fake PE image".repeat(300)));
        t.insert("moteos".into(), None);
        t.insert("moteos/config.toml".into(), Some(b"[model]\npath = \"model.gguf\"\n".to_vec()));
        t.insert("moteos/model.gguf".into(), Some(pattern(5_000_017, 42)));
        t.insert("moteos/empty.bin".into(), Some(Vec::new()));
        t.insert("moteos/Mixed Case Long-Name.Txt".into(), Some(pattern(513, 7)));
        t.insert("a".into(), None);
        t.insert("a/b".into(), None);
        t.insert("a/b/c".into(), None);
        t.insert("a/b/c/d".into(), None);
        t.insert("a/b/c/d/leaf.txt".into(), Some(b"deep".to_vec()));
        t.insert("a/b/c/d/empty-dir".into(), None);
        t
    }

    /// Reads back every file and directory of a FAT directory into a [`Tree`].
    fn read_fat_dir(dir: &fatfs::Dir<'_, PartitionIo<'_>>, prefix: &str, into: &mut Tree) {
        for entry in dir.iter() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if entry.is_dir() {
                into.insert(rel.clone(), None);
                read_fat_dir(&entry.to_dir(), &rel, into);
            } else {
                let mut bytes = Vec::new();
                entry.to_file().read_to_end(&mut bytes).unwrap();
                assert_eq!(bytes.len() as u64, entry.len(), "size of {rel}");
                into.insert(rel, Some(bytes));
            }
        }
    }

    struct Checked {
        tree: Tree,
        label: String,
        fat_type: fatfs::FatType,
        dirty: bool,
    }

    /// Verifies the partition table and returns what the FAT partition holds.
    fn check_image(image: &Path, summary: &ImageSummary) -> Checked {
        let len = fs::metadata(image).unwrap().len();
        assert_eq!(len, summary.disk_bytes);
        assert_eq!(summary.disk_bytes, summary.partition_bytes + 2 * ALIGN);
        assert_eq!(summary.partition_bytes % ALIGN, 0);

        // Protective MBR: one 0xEE entry from LBA 1 covering the rest of the disk.
        let mut mbr = [0u8; 512];
        File::open(image).unwrap().read_exact(&mut mbr).unwrap();
        assert_eq!(&mbr[510..], &[0x55, 0xAA]);
        assert_eq!(mbr[446 + 4], 0xEE);
        assert_eq!(u32::from_le_bytes(mbr[454..458].try_into().unwrap()), 1);
        assert_eq!(u64::from(u32::from_le_bytes(mbr[458..462].try_into().unwrap())), len / 512 - 1);

        // only_valid_headers makes opening fail unless both headers parse with good CRCs.
        let gpt = gpt::GptConfig::new()
            .writable(false)
            .only_valid_headers(true)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open(image)
            .unwrap();
        let primary = gpt.primary_header().unwrap();
        let backup = gpt.backup_header().unwrap();
        assert_eq!(primary.current_lba, 1);
        assert_eq!(primary.backup_lba, len / 512 - 1);
        assert_eq!(backup.current_lba, len / 512 - 1);
        assert_eq!(primary.disk_guid, backup.disk_guid);

        let parts: Vec<_> = gpt.partitions().values().filter(|p| p.is_used()).collect();
        assert_eq!(parts.len(), 1, "exactly one partition");
        let part = parts[0];
        assert_eq!(part.part_type_guid, gpt::partition_types::EFI);
        assert_eq!(part.part_type_guid.guid.to_string().to_uppercase(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(part.name, "EFI System");
        let lb = gpt::disk::LogicalBlockSize::Lb512;
        let start = part.bytes_start(lb).unwrap();
        assert_eq!(start % (1 << 20), 0, "partition start is 1 MiB aligned");
        assert_eq!(part.bytes_len(lb).unwrap(), summary.partition_bytes);
        assert!(part.last_lba <= primary.last_usable);
        assert!(part.first_lba >= primary.first_usable);

        let mut file = OpenOptions::new().read(true).write(true).open(image).unwrap();
        let fs = fatfs::FileSystem::new(
            PartitionIo::new(&mut file, start, summary.partition_bytes),
            fatfs::FsOptions::new(),
        )
        .unwrap();
        let dirty = fs.read_status_flags().unwrap().dirty();
        let label = fs.volume_label();
        let fat_type = fs.fat_type();
        let mut tree = Tree::new();
        read_fat_dir(&fs.root_dir(), "", &mut tree);
        Checked { tree, label, fat_type, dirty }
    }

    #[test]
    fn image_round_trips_through_gpt_and_fat() {
        let tmp = tempfile::tempdir().unwrap();
        let esp = tmp.path().join("esp");
        let expected = sample_tree();
        write_tree(&esp, &expected);
        let image = tmp.path().join("out/disk.img");

        let summary = write_disk_image(&esp, &image).unwrap();
        let file_count = expected.values().filter(|c| c.is_some()).count();
        assert_eq!(summary.files, file_count);
        assert_eq!(summary.fat_type, "FAT32");
        assert_eq!(summary.partition_bytes, MIN_PARTITION);

        let got = check_image(&image, &summary);
        assert_eq!(got.fat_type, fatfs::FatType::Fat32);
        assert_eq!(got.label.trim_end(), "MOTEOS");
        assert!(!got.dirty, "volume left marked dirty");
        assert_eq!(
            got.tree.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "same set of paths (case preserved)"
        );
        for (path, content) in &expected {
            assert!(got.tree[path] == *content, "contents of {path} differ");
        }
    }

    #[test]
    fn rebuilding_replaces_the_old_image() {
        let tmp = tempfile::tempdir().unwrap();
        let image = tmp.path().join("disk.img");
        // An oversized stale file must not leave its tail behind.
        fs::write(&image, vec![0xAAu8; 3 << 20]).unwrap();
        let esp = tmp.path().join("esp");
        let mut tree = Tree::new();
        tree.insert("only.txt".into(), Some(b"second".to_vec()));
        write_tree(&esp, &tree);

        let summary = write_disk_image(&esp, &image).unwrap();
        let got = check_image(&image, &summary);
        assert_eq!(got.tree, tree);
    }

    #[test]
    fn missing_esp_dir_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("no-such-esp");
        let image = tmp.path().join("disk.img");
        let err = write_disk_image(&missing, &image).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(&missing.display().to_string()), "error does not name the directory: {msg}");
        assert!(!image.exists(), "no image left behind");
    }

    #[test]
    fn failure_mid_build_names_the_file_and_removes_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        let esp = tmp.path().join("esp");
        let mut tree = Tree::new();
        tree.insert("ok.txt".into(), Some(b"fine".to_vec()));
        // Legal on Linux, but ':' is not allowed in FAT long names, so this fails only
        // once the image file exists.
        tree.insert("bad:name.txt".into(), Some(b"x".to_vec()));
        write_tree(&esp, &tree);
        let image = tmp.path().join("disk.img");
        let err = write_disk_image(&esp, &image).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("bad:name.txt"), "error does not name the file: {msg}");
        assert!(!image.exists(), "partial image left behind");
    }

    #[test]
    fn case_insensitive_name_clash_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let esp = tmp.path().join("esp");
        fs::create_dir_all(&esp).unwrap();
        fs::write(esp.join("readme.txt"), b"a").unwrap();
        fs::write(esp.join("README.TXT"), b"b").unwrap();
        let err = write_disk_image(&esp, &tmp.path().join("disk.img")).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("readme.txt") && msg.contains("README.TXT"), "{msg}");
    }

    #[test]
    fn output_inside_esp_dir_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("x"), b"x").unwrap();
        let err = write_disk_image(tmp.path(), &tmp.path().join("disk.img")).unwrap_err();
        assert!(format!("{err:#}").contains("must not be inside"));
    }

    #[test]
    fn sizing_tracks_content_and_stays_fat32() {
        let file = |size| Node::File { name: "model.gguf".into(), src: PathBuf::new(), size };
        assert_eq!(partition_size(&[]).unwrap(), MIN_PARTITION);
        for size in [0u64, 1, 40 << 20, 100_000_000, 300 << 20, 3 << 30] {
            let part = partition_size(&[file(size)]).unwrap();
            assert_eq!(part % ALIGN, 0);
            assert!(part >= MIN_PARTITION);
            assert!(part >= size + size / 5, "{size}-byte file gets only {part}");
            if size > 100 << 20 {
                assert!(part <= size + size / 3 + ALIGN, "{size}-byte file gets {part}");
            }
            let cluster = u64::from(cluster_size(part));
            let clusters = (part - FAT32_RESERVED_BYTES) / (cluster + 8);
            assert!(clusters >= FAT32_MIN_CLUSTERS + FAT32_CLUSTER_MARGIN);
            assert!(cluster.is_power_of_two() && (512..=4096).contains(&cluster));
        }
        assert_eq!(cluster_size(MIN_PARTITION), 512);
        assert_eq!(cluster_size(1 << 30), 4096);
    }

    #[test]
    fn partition_io_stays_inside_its_window() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("disk");
        fs::write(&path, vec![0u8; 64]).unwrap();
        let mut file = OpenOptions::new().read(true).write(true).open(&path).unwrap();
        {
            let mut io = PartitionIo::new(&mut file, 16, 32);
            io.write_all(&[1u8; 32]).unwrap();
            assert!(io.write(&[2]).is_err(), "write past the end must fail");
            io.seek(SeekFrom::End(-4)).unwrap();
            assert_eq!(io.write(&[3u8; 8]).unwrap(), 4, "write is clipped at the end");
            assert!(io.seek(SeekFrom::Current(-100)).is_err());
            io.seek(SeekFrom::Start(28)).unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(io.read(&mut buf).unwrap(), 4, "read is clipped at the end");
            assert_eq!(&buf[..4], &[3; 4]);
            assert_eq!(io.read(&mut buf).unwrap(), 0);
        }
        let raw = fs::read(&path).unwrap();
        assert_eq!(&raw[..16], &[0; 16]);
        assert_eq!(&raw[16..44], &[1; 28]);
        assert_eq!(&raw[44..48], &[3; 4]);
        assert_eq!(&raw[48..], &[0; 16]);
    }
}
