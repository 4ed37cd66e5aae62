//! GGUF reader: a zero-copy, bounds-checked view over the bytes of a GGUF file (versions 2 and 3).
//!
//! Everything is validated once in [`Gguf::parse`]: the header, every metadata value (nested arrays
//! included), every tensor description (dimensions, type, offset, alignment, size, overlaps). After
//! that, looking things up cannot fail except for "missing key" / "wrong type", and
//! [`Gguf::tensor_data`] hands out slices that are known to lie inside the file.
//!
//! The bytes are hostile until proven otherwise: every size derived from them is checked
//! arithmetic, array nesting is limited ([`MAX_NESTING`]), and memory is reserved only for
//! entries a first pass has found in the bytes, never from a count the file claims, so it
//! stays within [`parse_memory_bound`] (which the boot loader counts before loading a model). Names are
//! indexed by sorting, so duplicate checks and lookups take O(n log n) whatever the names are.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem::size_of;

use crate::tensor::TensorType;

mod value;

use value::Cursor;
pub use value::{Array, Value, ValueType};

/// The four bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// More dimensions than this are refused (ggml's limit).
pub const MAX_DIMS: usize = 4;
/// Arrays nested deeper than this are refused: the reader recurses once per level (on the
/// firmware's stack, which has no guard page), and ggml itself reads no nested arrays.
pub const MAX_NESTING: usize = 8;

/// Magic, version and the two counts.
const HEADER_BYTES: usize = 24;
/// Fewest bytes one metadata entry takes: key length, an empty key, type tag, a one-byte value.
const MIN_ENTRY_BYTES: usize = 8 + 4 + 1;
/// Fewest bytes one tensor description takes: name length, an empty name, dimension count,
/// one dimension, type and offset.
const MIN_TENSOR_BYTES: usize = 8 + 4 + 8 + 4 + 8;
/// Bytes the parser keeps per metadata entry: the entry and its place in the key index.
const ENTRY_MEMORY: usize = size_of::<(&str, Value<'_>)>() + size_of::<u32>();
/// Bytes the parser keeps per tensor: its description and its places in the two indexes.
const TENSOR_MEMORY: usize = size_of::<TensorInfo<'_>>() + 2 * size_of::<u32>();

/// Why a GGUF file could not be read, or why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GgufError {
    /// The file ends before a field that must be there.
    Truncated {
        /// Which field was being read.
        what: &'static str,
        /// Byte offset of that field.
        offset: usize,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the file from `offset`.
        available: usize,
    },
    /// The first four bytes are not `GGUF`.
    BadMagic([u8; 4]),
    /// A GGUF version this reader does not understand (it reads 2 and 3).
    UnsupportedVersion(u32),
    /// A metadata value type tag outside the GGUF specification.
    BadValueType {
        /// The tag read.
        tag: u32,
        /// Byte offset of the tag.
        offset: usize,
    },
    /// A string is not valid UTF-8.
    BadUtf8 {
        /// Which string.
        what: &'static str,
        /// Byte offset of its first byte.
        offset: usize,
    },
    /// Two metadata entries share a key.
    DuplicateKey(String),
    /// Two tensors share a name.
    DuplicateTensor(String),
    /// `general.alignment` is zero, not a power of two, or not a u32.
    BadAlignment(u64),
    /// A tensor description is inconsistent.
    BadTensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        reason: TensorProblem,
    },
    /// A tensor type id this reader does not know.
    UnknownTensorType {
        /// The tensor's name.
        name: String,
        /// The ggml type id.
        id: u32,
    },
    /// A metadata key that was asked for is not in the file.
    MissingKey(String),
    /// A metadata key holds another type than the one asked for.
    WrongType {
        /// The key.
        key: String,
        /// The type asked for.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A metadata number does not fit the type asked for (e.g. a negative count).
    OutOfRange {
        /// The key.
        key: String,
    },
    /// Metadata arrays are nested more than [`MAX_NESTING`] deep.
    TooDeep {
        /// Byte offset of the array that went one level too deep.
        offset: usize,
    },
    /// More entries than the reader can index (2^32).
    TooMany {
        /// "tensors" or "metadata entries".
        what: &'static str,
        /// The count the file gives.
        count: u64,
    },
    /// The heap could not hold the file's descriptions.
    OutOfMemory {
        /// What was being stored.
        what: &'static str,
        /// Bytes asked for.
        bytes: usize,
    },
}

/// What is wrong with a tensor description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorProblem {
    /// More than [`MAX_DIMS`] dimensions (the count read is given).
    TooManyDims(u32),
    /// Zero dimensions or a zero-sized dimension.
    EmptyShape,
    /// The element count overflows 64 bits.
    TooLarge,
    /// The first dimension is not a multiple of the type's block size.
    RowNotBlockMultiple {
        /// Row length.
        row: u64,
        /// Block size of the type.
        block: usize,
    },
    /// The data offset is not a multiple of the alignment.
    Unaligned {
        /// Offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: usize,
    },
    /// The data runs past the end of the file.
    PastEnd {
        /// Absolute end offset the data needs.
        end: u64,
        /// File length.
        file_len: usize,
    },
    /// The data overlaps another tensor's data.
    Overlaps,
}

impl fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyDims(n) => write!(f, "it has {n} dimensions (at most {MAX_DIMS} are allowed)"),
            Self::EmptyShape => f.write_str("its shape is empty or has a zero dimension"),
            Self::TooLarge => f.write_str("its element count overflows"),
            Self::RowNotBlockMultiple { row, block } => {
                write!(f, "its rows of {row} elements are not a multiple of the type's block size {block}")
            }
            Self::Unaligned { offset, alignment } => {
                write!(f, "its data offset {offset} is not a multiple of the alignment {alignment}")
            }
            Self::PastEnd { end, file_len } => {
                write!(f, "its data would end at byte {end} but the file has only {file_len} bytes")
            }
            Self::Overlaps => f.write_str("its data overlaps another tensor's data"),
        }
    }
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what, offset, needed, available } => write!(
                f,
                "GGUF file is truncated: {what} at byte {offset} needs {needed} bytes but only {available} remain"
            ),
            Self::BadMagic(m) => write!(f, "not a GGUF file: it starts with {m:02x?} instead of \"GGUF\""),
            Self::UnsupportedVersion(v) => write!(f, "GGUF version {v} is not supported (versions 2 and 3 are)"),
            Self::BadValueType { tag, offset } => {
                write!(f, "GGUF metadata value type {tag} at byte {offset} is not a known type")
            }
            Self::BadUtf8 { what, offset } => write!(f, "GGUF {what} at byte {offset} is not valid UTF-8"),
            Self::DuplicateKey(k) => write!(f, "GGUF metadata key \"{k}\" appears twice"),
            Self::DuplicateTensor(n) => write!(f, "GGUF tensor \"{n}\" appears twice"),
            Self::BadAlignment(a) => write!(f, "GGUF general.alignment {a} is not a power of two"),
            Self::BadTensor { name, reason } => write!(f, "GGUF tensor \"{name}\" is invalid: {reason}"),
            Self::UnknownTensorType { name, id } => {
                write!(f, "GGUF tensor \"{name}\" has type id {id}, which this reader does not support")
            }
            Self::MissingKey(k) => write!(f, "GGUF metadata key \"{k}\" is missing"),
            Self::WrongType { key, expected, found } => {
                write!(f, "GGUF metadata key \"{key}\" holds a {found}, expected a {expected}")
            }
            Self::OutOfRange { key } => write!(f, "GGUF metadata key \"{key}\" holds a number out of range"),
            Self::TooDeep { offset } => {
                write!(f, "GGUF metadata array at byte {offset} is nested more than {MAX_NESTING} levels deep")
            }
            Self::TooMany { what, count } => {
                write!(f, "GGUF file lists {count} {what}, more than this reader can index")
            }
            Self::OutOfMemory { what, bytes } => {
                write!(f, "not enough memory to read the GGUF file's {what} ({bytes} bytes needed)")
            }
        }
    }
}

impl core::error::Error for GgufError {}

/// One tensor's description from the file header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo<'a> {
    /// Tensor name (e.g. `blk.0.attn_q.weight`).
    pub name: &'a str,
    /// Dimensions, innermost (row length) first, as ggml orders them. Unused trailing entries are 1.
    pub dims: [u64; MAX_DIMS],
    /// How many entries of `dims` the file gave.
    pub n_dims: usize,
    /// Element encoding.
    pub ty: TensorType,
    /// Absolute offset of the data in the file.
    pub data_offset: usize,
    /// Size of the data in bytes.
    pub data_len: usize,
}

impl TensorInfo<'_> {
    /// Total number of elements.
    ///
    /// Validated descriptions cannot overflow; a hand-made one that does saturates at `u64::MAX`.
    pub fn elements(&self) -> u64 {
        self.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX)
    }

    /// Length of a row (the first dimension).
    pub fn row_len(&self) -> usize {
        usize::try_from(self.dims[0]).unwrap_or(usize::MAX)
    }

    /// Number of rows (product of the other dimensions; 0 for a hand-made empty shape).
    pub fn rows(&self) -> usize {
        let rows = self.elements().checked_div(self.dims[0]).unwrap_or(0);
        usize::try_from(rows).unwrap_or(usize::MAX)
    }

    /// The used dimensions.
    pub fn shape(&self) -> &[u64] {
        &self.dims[..self.n_dims]
    }
}

/// A parsed GGUF file borrowing from its bytes.
#[derive(Debug, Clone)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    version: u32,
    metadata: Vec<(&'a str, Value<'a>)>,
    /// Positions in `metadata`, sorted by key.
    key_index: Vec<u32>,
    tensors: Vec<TensorInfo<'a>>,
    /// Positions in `tensors`, sorted by name.
    name_index: Vec<u32>,
    alignment: usize,
    data_start: usize,
}

/// Heap bytes [`Gguf::parse`] can allocate at most for a file of `file_len` bytes that starts
/// with `header` (its first 24 bytes; fewer are taken as the worst case).
///
/// Counts in the header are believed only as far as the file's length can hold that many
/// entries, so a lying header cannot make the estimate (or the parser) ask for more than the
/// bytes could describe. Small for real models (a few hundred entries); the boot loader adds
/// it to the file's size before deciding whether a model fits in memory.
pub fn parse_memory_bound(header: &[u8], file_len: u64) -> u64 {
    let count = |at: usize| header.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(u64::MAX, u64::from_le_bytes);
    let body = file_len.saturating_sub(HEADER_BYTES as u64);
    let entries = count(16).min(body / MIN_ENTRY_BYTES as u64);
    let tensors = count(8).min(body / MIN_TENSOR_BYTES as u64);
    entries
        .saturating_mul(ENTRY_MEMORY as u64)
        .saturating_add(tensors.saturating_mul(TENSOR_MEMORY as u64))
        // Error messages and the allocator's rounding.
        .saturating_add(4096)
}

/// An empty list with room for exactly `n` entries, or an error when the heap is full.
fn reserve_exact<T>(n: usize, what: &'static str) -> Result<Vec<T>, GgufError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| GgufError::OutOfMemory { what, bytes: n.saturating_mul(size_of::<T>()) })?;
    Ok(v)
}

/// `0..n` as u32 positions sorted by `key`, allocated fallibly.
fn sorted_index<K: Ord>(n: usize, what: &'static str, key: impl Fn(usize) -> K) -> Result<Vec<u32>, GgufError> {
    let mut index = reserve_exact(n, what)?;
    // `n` fits a u32: the callers refuse larger counts up front.
    index.extend((0..n).map(|i| i as u32));
    index.sort_unstable_by_key(|&a| key(a as usize));
    Ok(index)
}

/// Where `name` sits in `index` (sorted by `name_of`), if present.
fn lookup<'s>(index: &[u32], name: &str, name_of: impl Fn(usize) -> &'s str) -> Option<usize> {
    index.binary_search_by(|&i| name_of(i as usize).cmp(name)).ok().map(|at| index[at] as usize)
}

impl<'a> Gguf<'a> {
    /// Parses and validates a whole GGUF file held in memory.
    pub fn parse(bytes: &'a [u8]) -> Result<Gguf<'a>, GgufError> {
        Self::parse_header(bytes, bytes.len())
    }

    /// Parses the header (metadata and tensor descriptions) from the first bytes of a file of
    /// `file_len` bytes, checking tensor ranges against `file_len`: enough to describe a model
    /// without reading its weights. A `bytes` too short for the header gives
    /// [`GgufError::Truncated`]; tensor data beyond `bytes` reads as empty.
    pub fn parse_header(bytes: &'a [u8], file_len: usize) -> Result<Gguf<'a>, GgufError> {
        let mut c = Cursor { bytes, pos: 0, base: 0 };
        let magic: [u8; 4] = c.array("magic")?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic(magic));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let tensor_count = c.u64("tensor count")?;
        let kv_count = c.u64("metadata count")?;
        for (what, count) in [("tensors", tensor_count), ("metadata entries", kv_count)] {
            if count > u64::from(u32::MAX) {
                return Err(GgufError::TooMany { what, count });
            }
        }
        // Counts come from the file: nothing is allocated for them until a first pass has
        // walked that many entries, which proves the bytes hold them; the second pass stores
        // them in a list of exactly that size (no growth, so no reallocation peaks).
        let kv_start = c.pos;
        for _ in 0..kv_count {
            Self::metadata_entry(&mut c)?;
        }
        c.pos = kv_start;
        let mut metadata: Vec<(&'a str, Value<'a>)> = reserve_exact(kv_count as usize, "metadata")?;
        for _ in 0..kv_count {
            metadata.push(Self::metadata_entry(&mut c)?);
        }
        let key_index = sorted_index(metadata.len(), "metadata index", |i| metadata[i].0)?;
        if let Some(w) = key_index.windows(2).find(|w| metadata[w[0] as usize].0 == metadata[w[1] as usize].0) {
            return Err(GgufError::DuplicateKey(metadata[w[0] as usize].0.into()));
        }

        let alignment = match lookup(&key_index, "general.alignment", |i| metadata[i].0).map(|i| &metadata[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(Value::U32(a)) if a.is_power_of_two() => *a as usize,
            Some(v) => return Err(GgufError::BadAlignment(v.as_int().map_or(0, |i| i as u64))),
        };

        // Descriptions first; `data_offset` holds the offset relative to the data section until
        // the section's start is known (it follows the last description).
        let tensors_start = c.pos;
        for _ in 0..tensor_count {
            Self::tensor_description(&mut c, alignment)?;
        }
        c.pos = tensors_start;
        let mut tensors: Vec<TensorInfo<'a>> = reserve_exact(tensor_count as usize, "tensor descriptions")?;
        for _ in 0..tensor_count {
            tensors.push(Self::tensor_description(&mut c, alignment)?);
        }

        let data_start = c.pos.checked_next_multiple_of(alignment).ok_or(GgufError::Truncated {
            what: "tensor data",
            offset: c.pos,
            needed: alignment as u64,
            available: 0,
        })?;
        for t in &mut tensors {
            let relative = t.data_offset;
            let end = data_start.checked_add(relative).and_then(|s| s.checked_add(t.data_len));
            match end {
                Some(end) if end <= file_len => t.data_offset = data_start + relative,
                _ => {
                    let end = (data_start as u64).saturating_add(relative as u64).saturating_add(t.data_len as u64);
                    let reason = TensorProblem::PastEnd { end, file_len };
                    return Err(GgufError::BadTensor { name: t.name.into(), reason });
                }
            }
        }

        let name_index = sorted_index(tensors.len(), "tensor index", |i| tensors[i].name)?;
        if let Some(w) = name_index.windows(2).find(|w| tensors[w[0] as usize].name == tensors[w[1] as usize].name) {
            return Err(GgufError::DuplicateTensor(tensors[w[0] as usize].name.into()));
        }
        // Overlap check on data ranges sorted by start.
        let order = sorted_index(tensors.len(), "tensor index", |i| tensors[i].data_offset)?;
        for w in order.windows(2) {
            let (a, b) = (&tensors[w[0] as usize], &tensors[w[1] as usize]);
            // Both ends lie inside the file (checked above), so the sum cannot overflow.
            if a.data_offset + a.data_len > b.data_offset {
                return Err(GgufError::BadTensor { name: b.name.into(), reason: TensorProblem::Overlaps });
            }
        }
        Ok(Gguf { bytes, version, metadata, key_index, tensors, name_index, alignment, data_start })
    }

    /// Reads one metadata entry: key and value.
    fn metadata_entry(c: &mut Cursor<'a>) -> Result<(&'a str, Value<'a>), GgufError> {
        let key = c.string("metadata key")?;
        let ty = c.value_type()?;
        Ok((key, c.value_of(ty, 0)?))
    }

    /// Reads and checks one tensor description; its `data_offset` is still relative to the
    /// data section.
    fn tensor_description(c: &mut Cursor<'a>, alignment: usize) -> Result<TensorInfo<'a>, GgufError> {
        let name = c.string("tensor name")?;
        let bad = |reason| GgufError::BadTensor { name: name.into(), reason };
        let n_dims = c.u32("tensor dimension count")?;
        if n_dims as usize > MAX_DIMS {
            return Err(bad(TensorProblem::TooManyDims(n_dims)));
        }
        if n_dims == 0 {
            return Err(bad(TensorProblem::EmptyShape));
        }
        let mut dims = [1u64; MAX_DIMS];
        for d in dims.iter_mut().take(n_dims as usize) {
            *d = c.u64("tensor dimension")?;
        }
        let type_id = c.u32("tensor type")?;
        let offset = c.u64("tensor data offset")?;
        let ty = TensorType::from_id(type_id)
            .ok_or_else(|| GgufError::UnknownTensorType { name: name.into(), id: type_id })?;
        if dims.contains(&0) {
            return Err(bad(TensorProblem::EmptyShape));
        }
        let elements =
            dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad(TensorProblem::TooLarge))?;
        let block = ty.block_elems();
        if dims[0] % block as u64 != 0 {
            return Err(bad(TensorProblem::RowNotBlockMultiple { row: dims[0], block }));
        }
        if offset % alignment as u64 != 0 {
            return Err(bad(TensorProblem::Unaligned { offset, alignment }));
        }
        let size = (elements / block as u64)
            .checked_mul(ty.block_bytes() as u64)
            .ok_or_else(|| bad(TensorProblem::TooLarge))?;
        // Values beyond usize saturate; the end check after the header refuses them.
        let data_offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let data_len = usize::try_from(size).unwrap_or(usize::MAX);
        Ok(TensorInfo { name, dims, n_dims: n_dims as usize, ty, data_offset, data_len })
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Tensor data alignment in bytes.
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Absolute offset of the tensor data section.
    pub fn data_start(&self) -> usize {
        self.data_start
    }

    /// All metadata entries in file order.
    pub fn metadata_entries(&self) -> &[(&'a str, Value<'a>)] {
        &self.metadata
    }

    /// The value stored under `key`, if any.
    pub fn metadata(&self, key: &str) -> Option<&Value<'a>> {
        lookup(&self.key_index, key, |i| self.metadata[i].0).map(|i| &self.metadata[i].1)
    }

    fn require(&self, key: &str) -> Result<&Value<'a>, GgufError> {
        self.metadata(key).ok_or_else(|| GgufError::MissingKey(key.into()))
    }

    fn wrong(key: &str, expected: &'static str, v: &Value<'_>) -> GgufError {
        GgufError::WrongType { key: key.into(), expected, found: v.value_type().name() }
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Result<&'a str, GgufError> {
        match self.require(key)? {
            Value::Str(s) => Ok(s),
            v => Err(Self::wrong(key, "string", v)),
        }
    }

    /// An array value.
    pub fn get_array(&self, key: &str) -> Result<Array<'a>, GgufError> {
        match self.require(key)? {
            Value::Array(a) => Ok(*a),
            v => Err(Self::wrong(key, "array", v)),
        }
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.require(key)? {
            Value::Bool(b) => Ok(*b),
            v => Err(Self::wrong(key, "bool", v)),
        }
    }

    /// Any integer value that fits an i64.
    pub fn get_i64(&self, key: &str) -> Result<i64, GgufError> {
        let v = self.require(key)?;
        let i = v.as_int().ok_or_else(|| Self::wrong(key, "integer", v))?;
        i64::try_from(i).map_err(|_| GgufError::OutOfRange { key: key.into() })
    }

    /// Any integer value that fits a u32.
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        let v = self.require(key)?;
        let i = v.as_int().ok_or_else(|| Self::wrong(key, "integer", v))?;
        u32::try_from(i).map_err(|_| GgufError::OutOfRange { key: key.into() })
    }

    /// Any integer value that fits a usize.
    pub fn get_usize(&self, key: &str) -> Result<usize, GgufError> {
        let v = self.require(key)?;
        let i = v.as_int().ok_or_else(|| Self::wrong(key, "integer", v))?;
        usize::try_from(i).map_err(|_| GgufError::OutOfRange { key: key.into() })
    }

    /// A floating-point value (f32, or f64 narrowed).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        match self.require(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            v => Err(Self::wrong(key, "float", v)),
        }
    }

    /// All tensor descriptions in file order.
    pub fn tensors(&self) -> &[TensorInfo<'a>] {
        &self.tensors
    }

    /// The tensor called `name`, if any.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo<'a>> {
        lookup(&self.name_index, name, |i| self.tensors[i].name).map(|i| &self.tensors[i])
    }

    /// The bytes of a tensor's data (bounds were checked by [`Gguf::parse`]).
    ///
    /// `info` must come from this file; a foreign `info` whose range does not fit gives an empty slice.
    pub fn tensor_data(&self, info: &TensorInfo<'a>) -> &'a [u8] {
        let end = info.data_offset.saturating_add(info.data_len);
        self.bytes.get(info.data_offset..end).unwrap_or(&[])
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests;
