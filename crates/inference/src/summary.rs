//! A cheap description of a model file for a model picker: family, parameter count,
//! quantisation and context length, read from the GGUF header alone (no weights).
//!
//! ```ignore
//! // Read the first few MiB; read more when the header does not fit.
//! let summary = ModelSummary::from_header(&first_bytes, file_len)?;
//! println!("{}", summary); // "Qwen3 0.6B Q4_K, context 40960"
//! ```

use alloc::string::String;
use core::fmt;

use crate::family;
use crate::gguf::{Gguf, GgufError};
use crate::tensor::TensorType;

/// What a picker shows about a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSummary {
    /// The family's name ("Qwen3"), or the file's architecture when moteOS does not run it.
    pub family: String,
    /// Whether moteOS runs this architecture.
    pub supported: bool,
    /// Parameters (elements of every tensor).
    pub parameters: u64,
    /// The encoding of most of the weight bytes ("Q4_K", "Q8_0", "F16").
    pub quantization: &'static str,
    /// The context length the model was trained for (0 when the file does not say).
    pub context_length: u64,
    /// The model's name from `general.name`, if any.
    pub name: Option<String>,
}

impl ModelSummary {
    /// Describes a model from the first bytes of its file (`file_len` bytes in all).
    ///
    /// [`GgufError::Truncated`] means `header` is too short: read more and call again.
    pub fn from_header(header: &[u8], file_len: usize) -> Result<Self, GgufError> {
        let g = Gguf::parse_header(header, file_len)?;
        let arch = g.get_str("general.architecture")?;
        let fam = family::by_architecture(arch);
        let parameters = g.tensors().iter().map(|t| t.elements()).fold(0u64, u64::saturating_add);
        // The type holding the most bytes among matrices (norms and biases are tiny F32 vectors).
        let mut bytes_by_type: alloc::vec::Vec<(TensorType, u64)> = alloc::vec::Vec::new();
        for t in g.tensors().iter().filter(|t| t.n_dims >= 2) {
            let len = t.data_len as u64;
            match bytes_by_type.iter().position(|(ty, _)| *ty == t.ty) {
                Some(i) => bytes_by_type[i].1 += len,
                None => bytes_by_type.push((t.ty, len)),
            }
        }
        let quantization = bytes_by_type.iter().max_by_key(|(_, n)| *n).map_or("none", |(ty, _)| ty.name());
        let context_length =
            g.get_i64(&alloc::format!("{arch}.context_length")).ok().and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
        Ok(Self {
            family: fam.map_or_else(|| arch.into(), |f| f.name.into()),
            supported: fam.is_some(),
            parameters,
            quantization,
            context_length,
            name: g.get_str("general.name").ok().map(String::from),
        })
    }

    /// The parameter count as people write it: "135M", "1.5B".
    pub fn size(&self) -> String {
        let p = self.parameters as f64;
        if p >= 1e9 { alloc::format!("{:.1}B", p / 1e9) } else { alloc::format!("{:.0}M", p / 1e6) }
    }
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.family, self.size(), self.quantization)?;
        if self.context_length > 0 {
            write!(f, ", context {}", self.context_length)?;
        }
        if !self.supported {
            f.write_str(" (not supported)")?;
        }
        Ok(())
    }
}
