//! Block layouts against the PyPI `gguf` package's dequantisation (see `reference/block_vectors.py`).

use inference::tensor::{TensorType, dequantize_row};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn dequantisation_matches_the_gguf_package() {
    let text = include_str!("fixtures/block_vectors.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let types = [
        ("q4_0", TensorType::Q4_0),
        ("q4_1", TensorType::Q4_1),
        ("q5_0", TensorType::Q5_0),
        ("q5_1", TensorType::Q5_1),
        ("q8_0", TensorType::Q8_0),
        ("q4_K", TensorType::Q4K),
        ("q5_K", TensorType::Q5K),
        ("q6_K", TensorType::Q6K),
    ];
    for (name, ty) in types {
        let bytes = hex(v[name]["hex"].as_str().unwrap());
        let want: Vec<f32> = v[name]["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let mut got = vec![0.0f32; want.len()];
        dequantize_row(ty, &bytes, &mut got).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-6 * w.abs().max(1e-3), "{name} element {i}: got {g}, want {w}");
        }
    }
}
