//! GGUF reader: a zero-copy, bounds-checked view over the bytes of a GGUF file (versions 2 and 3).
//!
//! Everything is validated once in [`Gguf::parse`]: the header, every metadata value (nested arrays
//! included), every tensor description (dimensions, type, offset, alignment, size, overlaps). After
//! that, looking things up cannot fail except for "missing key" / "wrong type", and
//! [`Gguf::tensor_data`] hands out slices that are known to lie inside the file.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::tensor::TensorType;

/// The four bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// More dimensions than this are refused (ggml's limit).
pub const MAX_DIMS: usize = 4;

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
        }
    }
}

impl core::error::Error for GgufError {}

/// GGUF metadata value type tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ValueType {
    /// `u8`
    U8 = 0,
    /// `i8`
    I8 = 1,
    /// `u16`
    U16 = 2,
    /// `i16`
    I16 = 3,
    /// `u32`
    U32 = 4,
    /// `i32`
    I32 = 5,
    /// `f32`
    F32 = 6,
    /// One byte, 0 or 1.
    Bool = 7,
    /// u64 length + UTF-8 bytes.
    Str = 8,
    /// Element type + u64 count + elements.
    Array = 9,
    /// `u64`
    U64 = 10,
    /// `i64`
    I64 = 11,
    /// `f64`
    F64 = 12,
}

impl ValueType {
    fn from_tag(tag: u32) -> Option<Self> {
        Some(match tag {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::Str,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// Size in bytes of a fixed-size value; `None` for strings and arrays.
    fn fixed_size(self) -> Option<usize> {
        Some(match self {
            Self::U8 | Self::I8 | Self::Bool => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 => 8,
            Self::Str | Self::Array => return None,
        })
    }

    /// Human name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::Bool => "bool",
            Self::Str => "string",
            Self::Array => "array",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
        }
    }
}

/// One metadata value, borrowing strings and array contents from the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// `u8`
    U8(u8),
    /// `i8`
    I8(i8),
    /// `u16`
    U16(u16),
    /// `i16`
    I16(i16),
    /// `u32`
    U32(u32),
    /// `i32`
    I32(i32),
    /// `u64`
    U64(u64),
    /// `i64`
    I64(i64),
    /// `f32`
    F32(f32),
    /// `f64`
    F64(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string (validated at parse time).
    Str(&'a str),
    /// Array of values of one type.
    Array(Array<'a>),
}

impl<'a> Value<'a> {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F32(_) => ValueType::F32,
            Self::F64(_) => ValueType::F64,
            Self::Bool(_) => ValueType::Bool,
            Self::Str(_) => ValueType::Str,
            Self::Array(_) => ValueType::Array,
        }
    }

    /// Any integer value as i128 (so every GGUF integer type converts losslessly).
    fn as_int(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }
}

/// An array value: element type, count, and the raw bytes of its elements (validated at parse time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Array<'a> {
    elem: ValueType,
    len: usize,
    bytes: &'a [u8],
    /// Absolute file offset of `bytes`, for error messages.
    offset: usize,
}

impl<'a> Array<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Type of the elements.
    pub fn element_type(&self) -> ValueType {
        self.elem
    }

    /// The elements' bytes exactly as stored in the file (validated at parse time).
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every element as a [`Value`] (nested arrays included).
    pub fn iter(&self) -> impl Iterator<Item = Result<Value<'a>, GgufError>> + 'a {
        let mut cur = Cursor { bytes: self.bytes, pos: 0, base: self.offset };
        let elem = self.elem;
        (0..self.len).map(move |_| cur.value_of(elem))
    }

    fn typed<T: 'a>(
        &self,
        want: ValueType,
        f: impl Fn(Value<'a>) -> Option<T> + 'a,
    ) -> Result<impl Iterator<Item = Result<T, GgufError>> + 'a, GgufError> {
        if self.elem != want {
            return Err(GgufError::WrongType {
                key: String::from("<array element>"),
                expected: want.name(),
                found: self.elem.name(),
            });
        }
        // `f` cannot fail for the checked element type; the fallback keeps this panic-free anyway.
        Ok(self
            .iter()
            .map(move |v| v.and_then(|v| f(v).ok_or(GgufError::BadValueType { tag: want as u32, offset: 0 }))))
    }

    /// Elements of a string array (`Err` if the array holds something else).
    pub fn iter_str(&self) -> Result<impl Iterator<Item = Result<&'a str, GgufError>> + 'a, GgufError> {
        self.typed(ValueType::Str, |v| if let Value::Str(s) = v { Some(s) } else { None })
    }

    /// Elements of an f32 array.
    pub fn iter_f32(&self) -> Result<impl Iterator<Item = Result<f32, GgufError>> + 'a, GgufError> {
        self.typed(ValueType::F32, |v| if let Value::F32(x) = v { Some(x) } else { None })
    }

    /// Elements of an i32 array.
    pub fn iter_i32(&self) -> Result<impl Iterator<Item = Result<i32, GgufError>> + 'a, GgufError> {
        self.typed(ValueType::I32, |v| if let Value::I32(x) = v { Some(x) } else { None })
    }

    /// Elements of a u32 array.
    pub fn iter_u32(&self) -> Result<impl Iterator<Item = Result<u32, GgufError>> + 'a, GgufError> {
        self.typed(ValueType::U32, |v| if let Value::U32(x) = v { Some(x) } else { None })
    }

    /// Elements of a nested array of arrays.
    pub fn iter_arrays(&self) -> Result<impl Iterator<Item = Result<Array<'a>, GgufError>> + 'a, GgufError> {
        self.typed(ValueType::Array, |v| if let Value::Array(x) = v { Some(x) } else { None })
    }

    /// Any integer array as i64 values (u64 values above `i64::MAX` give an error).
    pub fn iter_int(&self) -> impl Iterator<Item = Result<i64, GgufError>> + 'a {
        self.iter().map(|v| {
            let v = v?;
            v.as_int().and_then(|i| i64::try_from(i).ok()).ok_or(GgufError::WrongType {
                key: String::from("<array element>"),
                expected: "integer",
                found: v.value_type().name(),
            })
        })
    }
}

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
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Length of a row (the first dimension).
    pub fn row_len(&self) -> usize {
        self.dims[0] as usize
    }

    /// Number of rows (product of the other dimensions).
    pub fn rows(&self) -> usize {
        (self.elements() / self.dims[0]) as usize
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
    tensors: Vec<TensorInfo<'a>>,
    alignment: usize,
    data_start: usize,
}

/// Reads little-endian fields with bounds checks; `base` turns positions into file offsets.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], GgufError> {
        let available = self.bytes.len() - self.pos;
        let truncated = || GgufError::Truncated { what, offset: self.base + self.pos, needed: n, available };
        let n = usize::try_from(n).map_err(|_| truncated())?;
        if n > available {
            return Err(truncated());
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn string(&mut self, what: &'static str) -> Result<&'a str, GgufError> {
        let len = self.u64(what)?;
        let offset = self.offset();
        let raw = self.take(len, what)?;
        core::str::from_utf8(raw).map_err(|_| GgufError::BadUtf8 { what, offset })
    }

    fn value_type(&mut self) -> Result<ValueType, GgufError> {
        let offset = self.offset();
        let tag = self.u32("metadata value type")?;
        ValueType::from_tag(tag).ok_or(GgufError::BadValueType { tag, offset })
    }

    /// Reads one value of type `ty`, validating nested contents fully.
    fn value_of(&mut self, ty: ValueType) -> Result<Value<'a>, GgufError> {
        const W: &str = "metadata value";
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>(W)?[0]),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(W)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(W)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(W)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(W)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(W)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(W)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(W)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(W)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(W)?)),
            // Any non-zero byte counts as true, as in ggml's reader.
            ValueType::Bool => Value::Bool(self.array::<1>(W)?[0] != 0),
            ValueType::Str => Value::Str(self.string("metadata string")?),
            ValueType::Array => {
                let elem = self.value_type()?;
                let count = self.u64("array length")?;
                let start = self.pos;
                let offset = self.offset();
                if let Some(size) = elem.fixed_size() {
                    let total = count.saturating_mul(size as u64);
                    self.take(total, "array elements")?;
                } else {
                    // Variable-size elements: walk them all now so later iteration cannot run off the end.
                    // Each element is at least 8 bytes, so a huge count fails on truncation, not memory.
                    for _ in 0..count {
                        self.value_of(elem)?;
                    }
                }
                let len = usize::try_from(count).map_err(|_| GgufError::Truncated {
                    what: "array elements",
                    offset,
                    needed: count,
                    available: 0,
                })?;
                Value::Array(Array { elem, len, bytes: &self.bytes[start..self.pos], offset })
            }
        })
    }
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

        // Counts come from the file: never reserve from them directly (a huge count must fail on
        // truncation, not on allocation). Each entry takes at least 8 bytes.
        let cap = |n: u64| (n.min((bytes.len() / 8) as u64)) as usize;
        let mut metadata: Vec<(&'a str, Value<'a>)> = Vec::with_capacity(cap(kv_count));
        for _ in 0..kv_count {
            let key = c.string("metadata key")?;
            let ty = c.value_type()?;
            let value = c.value_of(ty)?;
            if metadata.iter().any(|(k, _)| *k == key) {
                return Err(GgufError::DuplicateKey(key.into()));
            }
            metadata.push((key, value));
        }

        let alignment = match metadata.iter().find(|(k, _)| *k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, Value::U32(a))) if a.is_power_of_two() => *a as usize,
            Some((_, v)) => return Err(GgufError::BadAlignment(v.as_int().map_or(0, |i| i as u64))),
        };

        struct Raw<'a> {
            name: &'a str,
            dims: [u64; MAX_DIMS],
            n_dims: usize,
            type_id: u32,
            offset: u64,
        }
        let mut raws: Vec<Raw<'a>> = Vec::with_capacity(cap(tensor_count));
        for _ in 0..tensor_count {
            let name = c.string("tensor name")?;
            let n_dims = c.u32("tensor dimension count")?;
            let mut dims = [1u64; MAX_DIMS];
            if n_dims as usize > MAX_DIMS {
                return Err(GgufError::BadTensor { name: name.into(), reason: TensorProblem::TooManyDims(n_dims) });
            }
            for d in dims.iter_mut().take(n_dims as usize) {
                *d = c.u64("tensor dimension")?;
            }
            let type_id = c.u32("tensor type")?;
            let offset = c.u64("tensor data offset")?;
            if raws.iter().any(|r| r.name == name) {
                return Err(GgufError::DuplicateTensor(name.into()));
            }
            raws.push(Raw { name, dims, n_dims: n_dims as usize, type_id, offset });
        }

        // The data section starts at the next multiple of the alignment after the header.
        let data_start = c.pos.div_ceil(alignment) * alignment;
        let mut tensors = Vec::with_capacity(raws.len());
        for r in raws {
            let bad = |reason| GgufError::BadTensor { name: r.name.into(), reason };
            let ty = TensorType::from_id(r.type_id)
                .ok_or_else(|| GgufError::UnknownTensorType { name: r.name.into(), id: r.type_id })?;
            if r.n_dims == 0 || r.dims.contains(&0) {
                return Err(bad(TensorProblem::EmptyShape));
            }
            let elements =
                r.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or(bad(TensorProblem::TooLarge))?;
            let block = ty.block_elems();
            if r.dims[0] % block as u64 != 0 {
                return Err(bad(TensorProblem::RowNotBlockMultiple { row: r.dims[0], block }));
            }
            if r.offset % alignment as u64 != 0 {
                return Err(bad(TensorProblem::Unaligned { offset: r.offset, alignment }));
            }
            let size =
                (elements / block as u64).checked_mul(ty.block_bytes() as u64).ok_or(bad(TensorProblem::TooLarge))?;
            let end = (data_start as u64).checked_add(r.offset).and_then(|s| s.checked_add(size));
            match end {
                Some(end) if end <= file_len as u64 => {}
                _ => return Err(bad(TensorProblem::PastEnd { end: end.unwrap_or(u64::MAX), file_len })),
            }
            tensors.push(TensorInfo {
                name: r.name,
                dims: r.dims,
                n_dims: r.n_dims,
                ty,
                data_offset: data_start + r.offset as usize,
                data_len: size as usize,
            });
        }

        // Overlap check on data ranges sorted by start.
        let mut order: Vec<usize> = (0..tensors.len()).collect();
        order.sort_by_key(|&i| tensors[i].data_offset);
        for w in order.windows(2) {
            let (a, b) = (&tensors[w[0]], &tensors[w[1]]);
            if a.data_offset + a.data_len > b.data_offset {
                return Err(GgufError::BadTensor { name: b.name.into(), reason: TensorProblem::Overlaps });
            }
        }

        Ok(Gguf { bytes, version, metadata, tensors, alignment, data_start })
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
        self.metadata.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
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
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The bytes of a tensor's data (bounds were checked by [`Gguf::parse`]).
    ///
    /// `info` must come from this file; a foreign `info` whose range does not fit gives an empty slice.
    pub fn tensor_data(&self, info: &TensorInfo<'a>) -> &'a [u8] {
        self.bytes.get(info.data_offset..info.data_offset + info.data_len).unwrap_or(&[])
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests;
