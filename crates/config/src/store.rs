//! Where the configuration file's bytes live between boots.
//!
//! The kernel implements [`SettingsStore`] over the boot partition and/or EFI variables; tests
//! and host tools use [`MemoryStore`]. The store moves bytes only: parsing stays in this crate so
//! every store gets the same checks.

use core::fmt;

use alloc::string::String;
use alloc::vec::Vec;

/// Persistent storage for the bytes of `config.toml`.
pub trait SettingsStore {
    /// The stored bytes, or `None` when nothing was ever saved (first boot: the wizard runs).
    fn load(&mut self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replaces the stored bytes.
    fn save(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
}

/// Why the settings store failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The medium cannot be written (write-protected stick, read-only variable).
    ReadOnly,
    /// The bytes do not fit.
    TooLarge {
        /// How many bytes were to be saved.
        len: usize,
        /// How many the store holds.
        limit: usize,
    },
    /// The firmware or device reported an error.
    Device {
        /// Its description, e.g. "EFI_DEVICE_ERROR while writing \moteos\config.toml".
        reason: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::ReadOnly => {
                f.write_str("the boot medium is read-only, so settings cannot be saved (is the stick write-protected?)")
            }
            StoreError::TooLarge { len, limit } => {
                write!(f, "the settings are {len} bytes but the store holds only {limit}")
            }
            StoreError::Device { reason } => write!(f, "the device failed: {reason}"),
        }
    }
}

/// A [`SettingsStore`] in memory, for tests and host tools.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    contents: Option<Vec<u8>>,
    read_only: bool,
    capacity: Option<usize>,
    saves: usize,
}

impl MemoryStore {
    /// An empty store, as on first boot.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A store that already holds `bytes`.
    pub fn with_contents(bytes: impl Into<Vec<u8>>) -> Self {
        MemoryStore { contents: Some(bytes.into()), ..MemoryStore::default() }
    }

    /// Makes every later `save` fail with [`StoreError::ReadOnly`].
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Makes `save` fail with [`StoreError::TooLarge`] above `limit` bytes.
    pub fn with_capacity(mut self, limit: usize) -> Self {
        self.capacity = Some(limit);
        self
    }

    /// What is stored now.
    pub fn contents(&self) -> Option<&[u8]> {
        self.contents.as_deref()
    }

    /// How many saves succeeded.
    pub fn save_count(&self) -> usize {
        self.saves
    }
}

impl SettingsStore for MemoryStore {
    fn load(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.contents.clone())
    }

    fn save(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        if let Some(limit) = self.capacity.filter(|&limit| bytes.len() > limit) {
            return Err(StoreError::TooLarge { len: bytes.len(), limit });
        }
        self.contents = Some(bytes.to_vec());
        self.saves += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips_and_fails_on_demand() {
        let mut store = MemoryStore::new();
        assert_eq!(store.load(), Ok(None));
        store.save(b"a = 1").unwrap();
        assert_eq!(store.load(), Ok(Some(b"a = 1".to_vec())));
        assert_eq!(store.save_count(), 1);

        let mut small = MemoryStore::new().with_capacity(3);
        assert_eq!(small.save(b"four"), Err(StoreError::TooLarge { len: 4, limit: 3 }));
        let mut locked = MemoryStore::with_contents(*b"x").read_only();
        assert_eq!(locked.save(b"y"), Err(StoreError::ReadOnly));
        assert_eq!(locked.contents(), Some(&b"x"[..]));
    }
}
