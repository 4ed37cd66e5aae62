//! Writes that never lose data, and reads that find the last good version.
//!
//! `write_file(P, data)`:
//! 1. repair: if two of `P`, `P.tmp`, `P.bak`, `P.fix`, `P.fx2` share their first
//!    cluster (a rename cut between its two directory writes leaves the new and the
//!    old entry pointing at the same chain), copy the data to a scratch file, delete
//!    both entries and rename the copy back, so no later delete frees a live chain;
//! 2. write the whole new content to `P.tmp` and flush the device;
//! 3. delete the old `P.bak`, rename `P` to `P.bak`;
//! 4. rename `P.tmp` to `P`, flush.
//!
//! A power cut at any point leaves `P` with the old or the new content, or leaves
//! `P` missing with the old content in `P.bak` (or, for a repair cut after it
//! deleted the pair, in its flushed copy `P.fix`/`P.fx2`); [`Volume::read_file`]
//! falls back in that order when `P` is missing or unreadable (or fails the
//! caller's check), so the reader always finds a complete version.

use crate::block::BlockDevice;
use crate::error::StorageError;
use crate::volume::{Dir, Volume, fat_error, split_path};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use hadris_fat::sync::{FatVolumeWriteExt, FileEntry};

/// Suffix of the previous version kept beside a file.
pub const BAK: &str = ".bak";
/// Suffix of the new version while it is being written.
const TMP: &str = ".tmp";
/// Suffixes of the copies made while repairing a cut rename.
const SCRATCH: [&str; 2] = [".fix", ".fx2"];

/// Whether `short` (an 8.3 name) is what the FAT crate would make of long name `name`.
fn is_alias(name: &str, short: [u8; 11]) -> bool {
    (0..10).any(|suffix| {
        hadris_fat::file::ShortFileName::from_long_name(name, suffix).is_ok_and(|s| s.raw_bytes() == short)
    })
}

/// Whether `name` is one of the writer's own temporary files.
pub(crate) fn is_scratch_name(name: &str) -> bool {
    name.ends_with(TMP) || SCRATCH.iter().any(|s| name.ends_with(s))
}

impl<D: BlockDevice> Volume<D> {
    /// Reads `path`, refusing files over `limit` bytes. When the file is missing or
    /// unreadable, its previous version (`.bak`) is read instead.
    pub fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        self.read_file_checked(path, limit, |_| true)
    }

    /// Like [`Volume::read_file`], and also falls back to the previous version when
    /// `accept` rejects the content (e.g. a JSON file that does not parse).
    pub fn read_file_checked(
        &self,
        path: &str,
        limit: u64,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, StorageError> {
        let main = match self.read_raw(path, limit) {
            Ok(data) if accept(&data) => return Ok(data),
            Ok(_) => Err(StorageError::Corrupt(format!("{path} holds content that is not valid"))),
            // Too large is the caller's limit, not damage: no fallback.
            Err(e @ StorageError::TooLarge { .. }) => return Err(e),
            Err(e) => Err(e),
        };
        let backup = format!("{path}{BAK}");
        if let Ok(data) = self.read_raw(&backup, limit)
            && accept(&data)
        {
            return Ok(data);
        }
        // A repair cut after it deleted the shared pair: its copy was complete (it is
        // flushed before either delete), and a partial copy only ever exists while
        // the pair, and so one of the two names above, is still readable.
        for suffix in SCRATCH {
            if let Ok(data) = self.read_raw(&format!("{path}{suffix}"), limit)
                && accept(&data)
            {
                return Ok(data);
            }
        }
        main
    }

    /// Replaces `path` with `data` so that a power cut at any moment leaves a complete
    /// version readable (see the module documentation). Missing directories are made.
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        if self.is_read_only() {
            return Err(StorageError::ReadOnly);
        }
        let (parts, name) = split_path(path)?;
        let dir = self.make_dirs(&parts, path)?;
        self.repair(&dir, name, path)?;
        let tmp = format!("{name}{TMP}");
        let bak = format!("{name}{BAK}");
        if let Some(stale) = self.find(&dir, &tmp, path)? {
            self.fs.delete(&stale).map_err(|e| fat_error(e, path))?;
        }
        self.write_new(&dir, &tmp, data, path)?;
        if let Some(current) = self.find(&dir, name, path)? {
            if let Some(old) = self.find(&dir, &bak, path)? {
                self.fs.delete(&old).map_err(|e| fat_error(e, path))?;
            }
            self.fs.rename(&current, &dir, &bak).map_err(|e| fat_error(e, path))?;
        }
        let fresh = self.find(&dir, &tmp, path)?.ok_or_else(|| StorageError::NotFound(format!("{path}{TMP}")))?;
        self.fs.rename(&fresh, &dir, name).map_err(|e| fat_error(e, path))?;
        // The copy of a repair cut after its deletes is not needed once `P` holds the
        // new version.
        for suffix in SCRATCH {
            if let Some(left) = self.find(&dir, &format!("{name}{suffix}"), path)? {
                self.fs.delete(&left).map_err(|e| fat_error(e, path))?;
            }
        }
        self.fs.sync().map_err(|e| fat_error(e, path))
    }

    /// Removes `path` and the versions kept beside it.
    pub fn remove(&self, path: &str) -> Result<(), StorageError> {
        if self.is_read_only() {
            return Err(StorageError::ReadOnly);
        }
        let (parts, name) = split_path(path)?;
        let dir = self.dir(&parts, path)?;
        self.repair(&dir, name, path)?;
        let mut found = false;
        for suffix in ["", BAK, TMP, SCRATCH[0], SCRATCH[1]] {
            let candidate = format!("{name}{suffix}");
            if let Some(entry) = self.find(&dir, &candidate, path)? {
                self.fs.delete(&entry).map_err(|e| fat_error(e, path))?;
                found |= suffix.is_empty() || suffix == BAK;
            }
        }
        self.fs.sync().map_err(|e| fat_error(e, path))?;
        if found { Ok(()) } else { Err(StorageError::NotFound(path.into())) }
    }

    fn find(&self, dir: &Dir<'_, D>, name: &str, path: &str) -> Result<Option<FileEntry>, StorageError> {
        match dir.find(name).map_err(|e| fat_error(e, path))? {
            // Names are matched case-insensitively as a fallback; only take exact ones.
            Some(entry) if entry.name().eq_ignore_ascii_case(name) && entry.is_file() => Ok(Some(entry)),
            Some(entry) if entry.name().eq_ignore_ascii_case(name) => {
                Err(StorageError::Other(format!("{path}: {name} is a directory")))
            }
            _ => Ok(None),
        }
    }

    /// Creates `name` in `dir` holding `data`, durable when this returns.
    ///
    /// The entry is created writing through; the content, its clusters' FAT entries
    /// and the entry's final size are written back and reach the device merged, in
    /// block order, at the flush (see [`crate::stream`]): a cut in between leaves a
    /// scratch file that no reader takes, and at worst clusters allocated to it.
    fn write_new(&self, dir: &Dir<'_, D>, name: &str, data: &[u8], path: &str) -> Result<(), StorageError> {
        let entry = self.fs.create_file(dir, name).map_err(|e| fat_error(e, path))?;
        self.write_mode.set_write_back(true);
        let written = (|| {
            let mut writer = self.fs.write_file(&entry)?;
            let mut done = 0;
            while done < data.len() {
                done += writer.write(&data[done..])?;
            }
            writer.finish()?;
            self.fs.sync()
        })();
        // Anything still buffered after a failure goes out before the next write.
        self.write_mode.set_write_back(false);
        if let Err(e) = written {
            // Leave no half-written file behind (best effort: the disk may be gone).
            if let Ok(Some(partial)) = self.find(dir, name, path) {
                let _ = self.fs.delete(&partial);
            }
            return Err(fat_error(e, path));
        }
        Ok(())
    }

    /// Undoes what a rename cut in half leaves: two entries sharing one chain. The
    /// twin may carry any name (a cut between the long-name slots and the short entry
    /// leaves only the short name, e.g. `CONFIGTO.BAK`), so the whole directory is
    /// compared against this file's family of names.
    fn repair(&self, dir: &Dir<'_, D>, name: &str, path: &str) -> Result<(), StorageError> {
        let family: [String; 5] = [
            String::from(name),
            format!("{name}{TMP}"),
            format!("{name}{BAK}"),
            format!("{name}{}", SCRATCH[0]),
            format!("{name}{}", SCRATCH[1]),
        ];
        let rank = |e: &FileEntry| {
            family.iter().position(|n| e.name().eq_ignore_ascii_case(n)).or_else(|| {
                // A short entry whose long-name slots were lost to a cut.
                let short = e.short_name().raw_bytes();
                (e.long_name().is_none()).then(|| family.iter().position(|n| is_alias(n, short))).flatten()
            })
        };
        // Each round removes one shared chain; the family's size bounds the rounds.
        for _ in 0..family.len() * 2 {
            let mut files = Vec::new();
            let mut iter = dir.entries();
            while let Some(item) = iter.next_entry() {
                let hadris_fat::sync::DirectoryEntry::Entry(entry) = item.map_err(|e| fat_error(e, path))?;
                if entry.is_file() && entry.cluster().0 >= 2 {
                    files.push(entry);
                }
            }
            let mut pair = None;
            'search: for (i, a) in files.iter().enumerate() {
                let Some(ra) = rank(a) else { continue };
                for (j, b) in files.iter().enumerate() {
                    if i != j && a.cluster().0 == b.cluster().0 && a.name() != b.name() {
                        // Keep the more important name of the two.
                        let keep_a = rank(b).is_none_or(|rb| ra < rb);
                        pair = Some(if keep_a { (i, j) } else { (j, i) });
                        break 'search;
                    }
                }
            }
            let Some((keep, other)) = pair else { return self.adopt_orphans(dir, &files, &family, rank, path) };
            let (kept, twin) = (files[keep].clone(), files[other].clone());
            let keep_rank = rank(&kept).unwrap_or(0);
            let twin_rank = rank(&twin);
            let data = self.read_entry(&kept, path, u64::MAX)?;
            let scratch = if keep_rank != 3 && twin_rank != Some(3) { &family[3] } else { &family[4] };
            if let Some(stale) = self.find(dir, scratch, path)? {
                self.fs.delete(&stale).map_err(|e| fat_error(e, path))?;
            }
            self.write_new(dir, scratch, &data, path)?;
            // The second delete frees only the (already freed) first cluster again.
            self.fs.delete(&kept).map_err(|e| fat_error(e, path))?;
            self.fs.delete(&twin).map_err(|e| fat_error(e, path))?;
            let copy = self.find(dir, scratch, path)?.ok_or_else(|| StorageError::NotFound(scratch.clone()))?;
            self.fs.rename(&copy, dir, &family[keep_rank]).map_err(|e| fat_error(e, path))?;
            self.fs.sync().map_err(|e| fat_error(e, path))?;
        }
        Ok(())
    }

    /// Short entries of this family that lost their long name (a cut in the middle of
    /// a delete or a create) and share no chain: given their name back when it is
    /// free, deleted otherwise.
    fn adopt_orphans(
        &self,
        dir: &Dir<'_, D>,
        files: &[FileEntry],
        family: &[String],
        rank: impl Fn(&FileEntry) -> Option<usize>,
        path: &str,
    ) -> Result<(), StorageError> {
        let mut changed = false;
        for entry in files {
            let Some(r) = rank(entry) else { continue };
            if entry.name().eq_ignore_ascii_case(&family[r]) {
                continue;
            }
            if self.find(dir, &family[r], path)?.is_none() {
                self.fs.rename(entry, dir, &family[r]).map_err(|e| fat_error(e, path))?;
            } else {
                self.fs.delete(entry).map_err(|e| fat_error(e, path))?;
            }
            changed = true;
        }
        if changed {
            self.fs.sync().map_err(|e| fat_error(e, path))?;
        }
        Ok(())
    }
}
