//! The copy of the settings kept in an EFI variable, and the rule that decides
//! between it and `\moteos\config.toml`.
//!
//! The variable holds the settings text and the SHA-256 of the file it was last
//! reconciled with (its *base*). At boot:
//! - only one of the two exists: it is used;
//! - the file's hash equals the base: the file is what moteOS last wrote or saw, so
//!   the variable is at least as new (it also holds changes that a read-only disk
//!   could not take): the variable wins;
//! - the hashes differ: the file was changed after moteOS last saw it (edited by hand
//!   on another computer): the file wins, and the kernel copies it to the variable.
//!
//! Neither place is encrypted.

use crate::error::StorageError;
use alloc::vec::Vec;
use sha2::{Digest, Sha256};

/// Name of the EFI variable (under [`VENDOR_GUID`]).
pub const VARIABLE_NAME: &str = "MoteSettings";
/// moteOS's EFI vendor GUID, 6d6f7465-4f53-4a9b-8e2d-5c7a1f3b9d40, in the
/// mixed-endian byte order UEFI uses in memory.
pub const VENDOR_GUID: [u8; 16] =
    [0x65, 0x74, 0x6f, 0x6d, 0x53, 0x4f, 0x9b, 0x4a, 0x8e, 0x2d, 0x5c, 0x7a, 0x1f, 0x3b, 0x9d, 0x40];
/// First bytes of the variable's content (format version 1).
const MAGIC: &[u8; 8] = b"MOTESET1";
/// Header: magic, a flag byte (1 = a base hash follows), the hash.
const HEADER: usize = 8 + 1 + 32;

/// The settings as mirrored in the EFI variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// SHA-256 of the file this copy was reconciled with (`None`: there was no file).
    pub base: Option<[u8; 32]>,
    /// The settings text (TOML).
    pub text: Vec<u8>,
}

/// Where the settings come from at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The file on the boot disk.
    File,
    /// The EFI variable.
    Variable,
    /// Neither exists: a first boot.
    Neither,
}

/// SHA-256 of `bytes`.
pub fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Mirror {
    /// The copy to store after `text` was written to the file.
    pub fn saved(text: &[u8]) -> Self {
        Mirror { base: Some(hash(text)), text: text.to_vec() }
    }

    /// The copy to store when `text` could not be written to the file; `file` is
    /// what the file holds now (`None` when there is no file or no disk).
    pub fn unsaved(text: &[u8], file: Option<&[u8]>) -> Self {
        Mirror { base: file.map(hash), text: text.to_vec() }
    }

    /// The variable's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.text.len());
        out.extend_from_slice(MAGIC);
        out.push(u8::from(self.base.is_some()));
        out.extend_from_slice(&self.base.unwrap_or([0; 32]));
        out.extend_from_slice(&self.text);
        out
    }

    /// Parses the variable's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC || bytes[8] > 1 {
            return Err(StorageError::Corrupt(alloc::string::String::from(
                "the settings copy in the EFI variable is not in moteOS's format",
            )));
        }
        let mut base = [0u8; 32];
        base.copy_from_slice(&bytes[9..HEADER]);
        Ok(Mirror { base: (bytes[8] == 1).then_some(base), text: bytes[HEADER..].to_vec() })
    }
}

/// Applies the precedence rule (see the module documentation).
pub fn choose(file: Option<&[u8]>, variable: Option<&Mirror>) -> Source {
    match (file, variable) {
        (None, None) => Source::Neither,
        (Some(_), None) => Source::File,
        (None, Some(_)) => Source::Variable,
        (Some(file), Some(var)) if var.base == Some(hash(file)) => Source::Variable,
        (Some(_), Some(_)) => Source::File,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        for m in [Mirror::saved(b"a = 1\n"), Mirror::unsaved(b"b = 2\n", None)] {
            assert_eq!(Mirror::decode(&m.encode()).unwrap(), m);
        }
        assert!(Mirror::decode(b"hello").is_err());
        assert!(Mirror::decode(&[0u8; 64]).is_err());
    }

    #[test]
    fn a_file_edited_elsewhere_wins_over_an_older_variable() {
        let var = Mirror::saved(b"model = \"a\"\n");
        assert_eq!(choose(Some(b"model = \"a\"\n"), Some(&var)), Source::Variable);
        assert_eq!(choose(Some(b"model = \"edited\"\n"), Some(&var)), Source::File);
    }

    #[test]
    fn changes_a_read_only_disk_could_not_take_win_until_the_file_is_edited() {
        let on_disk = b"model = \"a\"\n";
        let var = Mirror::unsaved(b"model = \"b\"\n", Some(on_disk));
        assert_eq!(choose(Some(on_disk), Some(&var)), Source::Variable);
        assert_eq!(choose(Some(b"model = \"c\"\n"), Some(&var)), Source::File);
        assert_eq!(choose(None, Some(&var)), Source::Variable);
        assert_eq!(choose(None, None), Source::Neither);
        assert_eq!(choose(Some(on_disk), None), Source::File);
    }
}
