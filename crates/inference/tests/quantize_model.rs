//! Re-quantised variants of the bundled model: valid files that still speak English.

mod common;

use inference::gguf::Gguf;
use inference::quantize::{Target, requantize};
use inference::tensor::TensorType;
use inference::tokenizer::Tokenizer;
use inference::{Engine, EngineOptions, SamplingParams};

#[test]
fn q8_0_and_q4_k_variants_load_and_continue_text() {
    let Some(bytes) = common::load_model() else { return };
    for target in [Target::Q8_0, Target::Q4K] {
        let (out, report) = requantize(&bytes, target).unwrap();
        let g = Gguf::parse(&out).unwrap();
        assert_eq!(g.tensors().len(), 272);
        assert_eq!(g.get_array("tokenizer.ggml.tokens").unwrap().len(), 49152);
        let down = g.tensor("blk.0.ffn_down.weight").unwrap();
        let q = g.tensor("blk.0.attn_q.weight").unwrap();
        match target {
            Target::Q8_0 => assert_eq!((down.ty, q.ty), (TensorType::Q8_0, TensorType::Q8_0)),
            Target::Q4K => assert_eq!((down.ty, q.ty), (TensorType::Q4K, TensorType::Q4_1)),
        }
        assert_eq!(g.tensor("output_norm.weight").unwrap().ty, TensorType::F32);
        println!("{target:?}: {} bytes, {} tensors kept as they were", out.len(), report.kept().count());

        let mut engine = Engine::load(&out, EngineOptions { context: 128, ..Default::default() }).unwrap();
        let tok = Tokenizer::from_gguf(engine.gguf()).unwrap();
        let prompt = tok.encode("The capital of France is", Default::default());
        let (ids, _) = engine.generate(&prompt, SamplingParams { max_tokens: 8, ..SamplingParams::greedy() }).unwrap();
        let text = tok.decode(&ids);
        println!("{target:?}: The capital of France is{text}");
        assert!(text.contains("Paris"), "{target:?}: {text:?}");
    }
}
