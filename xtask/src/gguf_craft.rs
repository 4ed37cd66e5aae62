//! Hand-made GGUF files for the hardening tests and the parser benchmark: hostile variants of
//! the bundled model and synthetic files with lying counts, deep nesting or many tensors.

use anyhow::{Context, Result, ensure};
use inference::gguf::Gguf;
use std::ops::Range;

/// GGUF value type tag of an array.
const ARRAY: u32 = 9;
/// GGUF value type tag of a u64.
pub const U64: u32 = 10;

fn header(tensors: u64, entries: u64) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend_from_slice(&3u32.to_le_bytes());
    v.extend_from_slice(&tensors.to_le_bytes());
    v.extend_from_slice(&entries.to_le_bytes());
    v
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Where `inner` (a slice borrowed from `outer`) starts inside `outer`.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// `model` with the metadata entry `key` set to a value of type `tag` encoded as `payload`
/// (replacing an entry of that name, or added after the others); tensors and data unchanged.
pub fn with_metadata(model: &[u8], key: &str, tag: u32, payload: &[u8]) -> Result<Vec<u8>> {
    let g = Gguf::parse(model).context("the model to modify is not valid GGUF")?;
    let first = g.tensors().first().context("the model has no tensors")?;
    let last = g.tensors().last().context("the model has no tensors")?;
    // Each entry runs from its key's length field to the next entry's; the tensor
    // descriptions from the first name's length field to the end of the last description.
    let tensors_start = offset_in(model, first.name.as_bytes()) - 8;
    let tensors_end = offset_in(model, last.name.as_bytes()) + last.name.len() + 4 + 8 * last.n_dims + 4 + 8;
    let starts: Vec<usize> = g.metadata_entries().iter().map(|(k, _)| offset_in(model, k.as_bytes()) - 8).collect();
    let mut entries: Vec<(&str, Range<usize>)> = Vec::new();
    for (i, (k, _)) in g.metadata_entries().iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(tensors_start);
        entries.push((k, starts[i]..end));
    }
    let mut kv = Vec::new();
    let mut count = 0u64;
    for (k, range) in &entries {
        if *k != key {
            kv.extend_from_slice(&model[range.clone()]);
            count += 1;
        }
    }
    put_str(&mut kv, key);
    kv.extend_from_slice(&tag.to_le_bytes());
    kv.extend_from_slice(payload);
    count += 1;

    let mut out = header(g.tensors().len() as u64, count);
    out.extend_from_slice(&kv);
    out.extend_from_slice(&model[tensors_start..tensors_end]);
    // Tensor offsets are relative to the data section, which starts at the next alignment.
    out.resize(out.len().next_multiple_of(g.alignment()), 0);
    out.extend_from_slice(&model[g.data_start()..]);
    let check = Gguf::parse(&out).context("the modified model does not parse")?;
    ensure!(check.metadata(key).is_some(), "{key} was not written");
    Ok(out)
}

/// A small file whose one metadata entry is `depth` arrays nested in one another.
pub fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut out = header(0, 1);
    put_str(&mut out, "deep");
    out.extend_from_slice(&ARRAY.to_le_bytes());
    for _ in 1..depth {
        out.extend_from_slice(&ARRAY.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
    }
    // The innermost: an empty array of u8.
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out
}

/// `len` bytes claiming 2^32 - 1 tensors, filled with as many valid one-element tensor
/// descriptions as fit: the file runs out long before the count does.
pub fn lying_tensor_count(len: usize) -> Vec<u8> {
    let mut out = header(u64::from(u32::MAX), 0);
    let mut description = Vec::new();
    put_str(&mut description, "");
    description.extend_from_slice(&1u32.to_le_bytes()); // one dimension
    description.extend_from_slice(&1u64.to_le_bytes()); // of one element
    description.extend_from_slice(&0u32.to_le_bytes()); // F32
    description.extend_from_slice(&0u64.to_le_bytes()); // at offset 0
    while out.len() + description.len() <= len {
        out.extend_from_slice(&description);
    }
    out.resize(len, 0);
    out
}

/// A valid file of `n` one-element F32 tensors with distinct names.
pub fn many_tensors(n: usize) -> Vec<u8> {
    let mut out = header(n as u64, 0);
    for i in 0..n {
        put_str(&mut out, &format!("blk.{i}.weight"));
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(i as u64 * 32).to_le_bytes());
    }
    out.resize(out.len().next_multiple_of(32) + n * 32, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference::gguf::{GgufError, Value};

    #[test]
    fn crafted_files_say_what_they_should() {
        assert!(matches!(Gguf::parse(&deeply_nested(100_000)), Err(GgufError::TooDeep { .. })));
        let lying = lying_tensor_count(1 << 20);
        assert_eq!(lying.len(), 1 << 20);
        assert!(matches!(Gguf::parse(&lying), Err(GgufError::Truncated { .. })));
        let many = many_tensors(1000);
        assert_eq!(Gguf::parse(&many).unwrap().tensors().len(), 1000);
    }

    #[test]
    fn metadata_is_replaced_and_added() {
        let base = many_tensors(3);
        let one = with_metadata(&base, "a", U64, &7u64.to_le_bytes()).unwrap();
        let two = with_metadata(&one, "b", U64, &8u64.to_le_bytes()).unwrap();
        let replaced = with_metadata(&two, "a", U64, &9u64.to_le_bytes()).unwrap();
        let g = Gguf::parse(&replaced).unwrap();
        assert_eq!(g.metadata_entries().len(), 2);
        assert_eq!(g.metadata("a"), Some(&Value::U64(9)));
        assert_eq!(g.metadata("b"), Some(&Value::U64(8)));
        assert_eq!(g.tensors().len(), 3);
        assert_eq!(g.tensor("blk.2.weight").unwrap().data_offset - g.data_start(), 64);
    }
}
