//! GGUF metadata values: their types, borrowed values and arrays, and the bounds-checked
//! cursor that reads them.

use alloc::string::String;

use super::{GgufError, MAX_NESTING};

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
    pub(super) fn from_tag(tag: u32) -> Option<Self> {
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
    pub(super) fn as_int(&self) -> Option<i128> {
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
    /// Nesting level of the elements (1 for the elements of a top-level array).
    depth: usize,
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
        let (elem, depth) = (self.elem, self.depth);
        (0..self.len).map(move |_| cur.value_of(elem, depth))
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

/// Reads little-endian fields with bounds checks; `base` turns positions into file offsets.
pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
    pub(super) base: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], GgufError> {
        let available = self.bytes.len().saturating_sub(self.pos);
        let truncated = || GgufError::Truncated { what, offset: self.offset(), needed: n, available };
        let n = usize::try_from(n).map_err(|_| truncated())?;
        let s = self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)).ok_or_else(truncated)?;
        self.pos += n;
        Ok(s)
    }

    pub(super) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(super) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<&'a str, GgufError> {
        let len = self.u64(what)?;
        let offset = self.offset();
        let raw = self.take(len, what)?;
        core::str::from_utf8(raw).map_err(|_| GgufError::BadUtf8 { what, offset })
    }

    pub(super) fn value_type(&mut self) -> Result<ValueType, GgufError> {
        let offset = self.offset();
        let tag = self.u32("metadata value type")?;
        ValueType::from_tag(tag).ok_or(GgufError::BadValueType { tag, offset })
    }

    /// Reads one value of type `ty` found at nesting level `depth` (0 for a metadata entry's
    /// value), validating nested contents fully. Arrays nested more than [`MAX_NESTING`] deep
    /// are refused, so the recursion is bounded whatever the file says.
    pub(super) fn value_of(&mut self, ty: ValueType, depth: usize) -> Result<Value<'a>, GgufError> {
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
                if depth >= MAX_NESTING {
                    return Err(GgufError::TooDeep { offset: self.offset() });
                }
                let elem = self.value_type()?;
                let count = self.u64("array length")?;
                let start = self.pos;
                let offset = self.offset();
                if let Some(size) = elem.fixed_size() {
                    let total = count.saturating_mul(size as u64);
                    self.take(total, "array elements")?;
                } else {
                    // Variable-size elements: walk them all now so later iteration cannot run off
                    // the end. Each takes at least 8 bytes, so a huge count ends on truncation.
                    for _ in 0..count {
                        self.value_of(elem, depth + 1)?;
                    }
                }
                let len = usize::try_from(count).map_err(|_| GgufError::Truncated {
                    what: "array elements",
                    offset,
                    needed: count,
                    available: 0,
                })?;
                Value::Array(Array { elem, len, bytes: &self.bytes[start..self.pos], offset, depth: depth + 1 })
            }
        })
    }
}
