//! A small GGUF writer for crafted test models (independent of the crate's reader), and a tiny
//! valid llama-family model to break one key at a time.

#![allow(dead_code)]

/// A metadata value.
#[derive(Clone, Debug)]
pub enum Kv {
    Str(String),
    U32(u32),
    U64(u64),
    I32(i32),
    F32(f32),
    Bool(bool),
    Strs(Vec<String>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

/// A file being written: metadata entries and F32 tensors, in order.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    pub kv: Vec<(String, Kv)>,
    pub tensors: Vec<(String, Vec<u64>, Vec<f32>)>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl GgufWriter {
    /// Sets (or replaces) a metadata entry.
    pub fn set(&mut self, key: &str, value: Kv) -> &mut Self {
        match self.kv.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.kv.push((key.into(), value)),
        }
        self
    }

    /// Removes a metadata entry.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.kv.retain(|(k, _)| k != key);
        self
    }

    /// Adds (or replaces) an F32 tensor; `dims` innermost first, as ggml orders them.
    pub fn tensor(&mut self, name: &str, dims: &[u64], data: Vec<f32>) -> &mut Self {
        self.tensors.retain(|(n, _, _)| n != name);
        self.tensors.push((name.into(), dims.to_vec(), data));
        self
    }

    /// Removes a tensor.
    pub fn remove_tensor(&mut self, name: &str) -> &mut Self {
        self.tensors.retain(|(n, _, _)| n != name);
        self
    }

    /// The GGUF v3 bytes (alignment 32).
    pub fn bytes(&self) -> Vec<u8> {
        const ALIGN: usize = 32;
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (key, value) in &self.kv {
            put_str(&mut out, key);
            let tag = |out: &mut Vec<u8>, t: u32| out.extend_from_slice(&t.to_le_bytes());
            let array = |out: &mut Vec<u8>, elem: u32, len: usize| {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&elem.to_le_bytes());
                out.extend_from_slice(&(len as u64).to_le_bytes());
            };
            match value {
                Kv::Str(s) => {
                    tag(&mut out, 8);
                    put_str(&mut out, s);
                }
                Kv::U32(v) => {
                    tag(&mut out, 4);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Kv::U64(v) => {
                    tag(&mut out, 10);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Kv::I32(v) => {
                    tag(&mut out, 5);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Kv::F32(v) => {
                    tag(&mut out, 6);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Kv::Bool(b) => {
                    tag(&mut out, 7);
                    out.push(u8::from(*b));
                }
                Kv::Strs(items) => {
                    array(&mut out, 8, items.len());
                    items.iter().for_each(|s| put_str(&mut out, s));
                }
                Kv::F32s(items) => {
                    array(&mut out, 6, items.len());
                    items.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
                }
                Kv::I32s(items) => {
                    array(&mut out, 5, items.len());
                    items.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
                }
            }
        }
        let mut offset = 0u64;
        for (name, dims, data) in &self.tensors {
            put_str(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            dims.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            out.extend_from_slice(&0u32.to_le_bytes()); // F32
            out.extend_from_slice(&offset.to_le_bytes());
            offset += (data.len() * 4).next_multiple_of(ALIGN) as u64;
        }
        while !out.len().is_multiple_of(ALIGN) {
            out.push(0);
        }
        for (_, _, data) in &self.tensors {
            data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            while !out.len().is_multiple_of(ALIGN) {
                out.push(0);
            }
        }
        out
    }
}

/// Deterministic pseudo-random weights in [-scale, scale).
pub fn weights(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A tiny valid llama model: width 32, 2 heads of 16 (1 key/value head), FFN 64, 1 layer,
/// a 64-token byte-level vocabulary with ChatML control tokens.
pub fn tiny_llama() -> GgufWriter {
    let (dim, ffn, heads, kv_heads, hd, vocab) = (32u64, 64u64, 2u64, 1u64, 16u64, 64usize);
    let mut w = GgufWriter::default();
    w.set("general.architecture", Kv::Str("llama".into()))
        .set("llama.block_count", Kv::U32(1))
        .set("llama.context_length", Kv::U32(256))
        .set("llama.embedding_length", Kv::U32(dim as u32))
        .set("llama.feed_forward_length", Kv::U32(ffn as u32))
        .set("llama.attention.head_count", Kv::U32(heads as u32))
        .set("llama.attention.head_count_kv", Kv::U32(kv_heads as u32))
        .set("llama.attention.layer_norm_rms_epsilon", Kv::F32(1e-5))
        .set("llama.rope.freq_base", Kv::F32(10000.0));
    let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into(), "<|im_end|>".into()];
    tokens.extend((0..vocab - 3).map(|i| char::from(b'a' + (i % 26) as u8).to_string().repeat(1 + i / 26)));
    let mut types = vec![1i32; vocab];
    types[..3].fill(3);
    w.set("tokenizer.ggml.model", Kv::Str("gpt2".into()))
        .set("tokenizer.ggml.pre", Kv::Str("default".into()))
        .set("tokenizer.ggml.tokens", Kv::Strs(tokens))
        .set("tokenizer.ggml.token_type", Kv::I32s(types))
        .set("tokenizer.ggml.merges", Kv::Strs(vec!["a a".into()]))
        .set("tokenizer.ggml.eos_token_id", Kv::U32(2));
    let v = vocab as u64;
    w.tensor("token_embd.weight", &[dim, v], weights((dim * v) as usize, 1, 0.5));
    w.tensor("output_norm.weight", &[dim], vec![1.0; dim as usize]);
    let m = |w: &mut GgufWriter, name: &str, cols: u64, rows: u64, seed: u64| {
        w.tensor(name, &[cols, rows], weights((cols * rows) as usize, seed, 0.2));
    };
    w.tensor("blk.0.attn_norm.weight", &[dim], vec![1.0; dim as usize]);
    w.tensor("blk.0.ffn_norm.weight", &[dim], vec![1.0; dim as usize]);
    m(&mut w, "blk.0.attn_q.weight", dim, heads * hd, 2);
    m(&mut w, "blk.0.attn_k.weight", dim, kv_heads * hd, 3);
    m(&mut w, "blk.0.attn_v.weight", dim, kv_heads * hd, 4);
    m(&mut w, "blk.0.attn_output.weight", heads * hd, dim, 5);
    m(&mut w, "blk.0.ffn_gate.weight", dim, ffn, 6);
    m(&mut w, "blk.0.ffn_up.weight", dim, ffn, 7);
    m(&mut w, "blk.0.ffn_down.weight", ffn, dim, 8);
    w
}
