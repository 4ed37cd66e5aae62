//! Re-quantising a model: reads a GGUF file, re-encodes its weight matrices, writes a new GGUF
//! file (same metadata, same tensor order). Used by `cargo xtask model --quantize` to make
//! variants of the bundled model for tests and benchmarks.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::gguf::{Gguf, GgufError, Value};
use crate::tensor::quant::{quantize_row_q4_k, quantize_row_q8_0};
use crate::tensor::{TensorError, TensorType, dequantize_row};

/// The encodings the quantiser writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every weight matrix as Q8_0.
    Q8_0,
    /// Weight matrices whose rows are a multiple of 256 as Q4_K; the others keep their encoding
    /// (K-quant super-blocks need 256-value rows).
    Q4K,
}

/// What happened to each tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `(name, from, to)` for every tensor (equal types: copied unchanged).
    pub tensors: Vec<(String, TensorType, TensorType)>,
}

impl Report {
    /// Tensors that kept their type although they are weight matrices (with the reason in the
    /// target's documentation), as `(name, type)`.
    pub fn kept(&self) -> impl Iterator<Item = &(String, TensorType, TensorType)> {
        self.tensors.iter().filter(|(_, a, b)| a == b)
    }
}

/// Why quantising failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantizeError {
    /// The input is not a valid GGUF file.
    Gguf(GgufError),
    /// A tensor could not be decoded.
    Tensor(String, TensorError),
}

impl core::fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Gguf(e) => e.fmt(f),
            Self::Tensor(name, e) => write!(f, "tensor \"{name}\": {e}"),
        }
    }
}

impl From<GgufError> for QuantizeError {
    fn from(e: GgufError) -> Self {
        Self::Gguf(e)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends a value's type tag and payload in GGUF encoding.
fn put_value(out: &mut Vec<u8>, v: &Value<'_>) {
    out.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
    match *v {
        Value::U8(x) => out.push(x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(x)),
        Value::Str(s) => put_str(out, s),
        Value::Array(a) => {
            out.extend_from_slice(&(a.element_type() as u32).to_le_bytes());
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            // The elements' encoding is unchanged: copy it as read.
            out.extend_from_slice(a.raw_bytes());
        }
    }
}

/// ggml's `general.file_type` code for the result ("mostly Q8_0"); the Q4_K mix keeps the input's.
const FILE_TYPE_Q8_0: u32 = 7;

/// Re-encodes the weight matrices of `input` for `target` and returns the new file.
pub fn requantize(input: &[u8], target: Target) -> Result<(Vec<u8>, Report), QuantizeError> {
    let g = Gguf::parse(input)?;
    let alignment = g.alignment();
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(g.tensors().len() as u64).to_le_bytes());
    out.extend_from_slice(&(g.metadata_entries().len() as u64).to_le_bytes());
    for (key, value) in g.metadata_entries() {
        put_str(&mut out, key);
        match (*key, target) {
            ("general.file_type", Target::Q8_0) => put_value(&mut out, &Value::U32(FILE_TYPE_Q8_0)),
            _ => put_value(&mut out, value),
        }
    }

    // Encode every tensor first, so the header can carry the offsets.
    let mut report = Report { tensors: Vec::new() };
    let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(g.tensors().len());
    let mut types = Vec::with_capacity(g.tensors().len());
    for t in g.tensors() {
        let matrix = t.n_dims == 2 && t.name.ends_with(".weight");
        let to = match target {
            Target::Q8_0 if matrix && t.row_len() % 32 == 0 => TensorType::Q8_0,
            Target::Q4K if matrix && t.row_len() % 256 == 0 => TensorType::Q4K,
            _ => t.ty,
        };
        let data = g.tensor_data(t);
        let blob = if to == t.ty {
            data.to_vec()
        } else {
            let n = t.row_len();
            let mut row = vec![0.0f32; n];
            let mut blob = Vec::with_capacity(to.row_bytes(n) * t.rows());
            for src in data.chunks_exact(t.ty.row_bytes(n)) {
                dequantize_row(t.ty, src, &mut row).map_err(|e| QuantizeError::Tensor(t.name.into(), e))?;
                match to {
                    TensorType::Q8_0 => quantize_row_q8_0(&row, &mut blob),
                    _ => quantize_row_q4_k(&row, &mut blob),
                }
            }
            blob
        };
        report.tensors.push((String::from(t.name), t.ty, to));
        blobs.push(blob);
        types.push(to);
    }
    let mut offset = 0u64;
    for ((t, blob), ty) in g.tensors().iter().zip(&blobs).zip(&types) {
        put_str(&mut out, t.name);
        out.extend_from_slice(&(t.n_dims as u32).to_le_bytes());
        for d in t.shape() {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&(*ty as u32).to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset = (offset + blob.len() as u64).div_ceil(alignment as u64) * alignment as u64;
    }
    for blob in &blobs {
        out.resize(out.len().div_ceil(alignment) * alignment, 0);
        out.extend_from_slice(blob);
    }
    Ok((out, report))
}
