//! The model picker's summary, read from the first bytes of a file only.

use inference::ModelSummary;
use inference::gguf::GgufError;

fn synthetic(family: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/synthetic/{family}-tiny.gguf", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn summary_from_the_header_alone() {
    for (file, family) in [("qwen3", "Qwen3"), ("gemma3", "Gemma 3"), ("phi3", "Phi-3"), ("llama3", "Llama")] {
        let bytes = synthetic(file);
        let full = ModelSummary::from_header(&bytes, bytes.len()).unwrap();
        // The header is all it needs: the tensor data is not read.
        let data_start = inference::gguf::Gguf::parse(&bytes).unwrap().data_start();
        let s = ModelSummary::from_header(&bytes[..data_start], bytes.len()).unwrap();
        assert_eq!(s, full);
        assert_eq!(s.family, family);
        assert!(s.supported);
        assert_eq!(s.quantization, "f32");
        assert!(s.context_length >= 4096);
        assert!(s.parameters > 50_000 && s.parameters < 300_000, "{}", s.parameters);
        assert!(s.to_string().starts_with(&format!("{family} 0M f32, context")), "{s}");
        // Too little of the header: say so, so the caller reads more.
        let err = ModelSummary::from_header(&bytes[..data_start / 2], bytes.len()).unwrap_err();
        assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");
    }
}

#[test]
fn a_file_shorter_than_its_tensors_is_refused() {
    let bytes = synthetic("qwen3");
    let data_start = inference::gguf::Gguf::parse(&bytes).unwrap().data_start();
    assert!(ModelSummary::from_header(&bytes[..data_start], data_start + 10).is_err());
}
