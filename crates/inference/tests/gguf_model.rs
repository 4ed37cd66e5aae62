//! The GGUF reader on the real bundled model.

mod common;

use inference::gguf::Gguf;
use inference::tensor::TensorType;

#[test]
fn reads_the_bundled_model() {
    let Some(bytes) = common::load_model() else { return };
    assert_eq!(bytes.len(), 98_362_432);
    let g = Gguf::parse(&bytes).expect("the bundled model parses");
    assert_eq!(g.version(), 3);
    assert_eq!(g.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(g.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(g.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(g.get_u32("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(g.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(g.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(g.get_f32("llama.rope.freq_base").unwrap(), 100000.0);
    let tokens = g.get_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    let first: Vec<&str> = tokens.iter_str().unwrap().take(3).map(|t| t.unwrap()).collect();
    assert_eq!(first, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
    assert_eq!(g.get_array("tokenizer.ggml.merges").unwrap().len(), 48900);
    assert!(g.get_str("tokenizer.chat_template").unwrap().contains("<|im_start|>"));

    // 30 layers × 9 tensors + token embedding + output norm; tied output.
    assert_eq!(g.tensors().len(), 30 * 9 + 2);
    assert!(g.tensor("output.weight").is_none());
    let emb = g.tensor("token_embd.weight").unwrap();
    assert_eq!(emb.shape(), &[576, 49152]);
    assert_eq!(emb.ty, TensorType::Q8_0);
    let q = g.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!((q.ty, q.shape()), (TensorType::Q4_1, &[576u64, 576][..]));
    let k = g.tensor("blk.0.attn_k.weight").unwrap();
    assert_eq!(k.shape(), &[576, 192]);
    assert_eq!(g.tensor("blk.0.ffn_down.weight").unwrap().shape(), &[1536, 576]);
    assert_eq!(g.tensor("output_norm.weight").unwrap().ty, TensorType::F32);
    for t in g.tensors() {
        assert_eq!(g.tensor_data(t).len(), t.ty.row_bytes(t.row_len()) * t.rows(), "{}", t.name);
        assert_eq!((t.data_offset - g.data_start()) % g.alignment(), 0);
    }
    // The last tensor ends at (or within alignment padding of) the end of the file.
    let end = g.tensors().iter().map(|t| t.data_offset + t.data_len).max().unwrap();
    assert!(bytes.len() - end < g.alignment());
}
