//! Arbitrary bytes as a model file: `Gguf::parse`, then everything the OS does with a parsed
//! file (every metadata value walked, tensor data sliced, the model, tokenizer and chat
//! template loaded). Nothing may panic, hang or allocate beyond the file's size: run with
//! `-rss_limit_mb`/`-malloc_limit_mb` (the xtask does) so a runaway allocation is a crash.

#![no_main]

use inference::gguf::{Array, Gguf, Value};
use inference::model::Model;
use inference::tensor::{Isa, Kernels};
use inference::tokenizer::{Message, Tokenizer};
use libfuzzer_sys::fuzz_target;

/// Visits every element of an array, nested ones included; returns how many.
fn walk(array: &Array<'_>) -> usize {
    let mut n = 0;
    for value in array.iter() {
        n += 1;
        if let Ok(Value::Array(inner)) = value {
            n += walk(&inner);
        }
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    for (key, value) in g.metadata_entries() {
        assert!(g.metadata(key).is_some());
        if let Value::Array(array) = value {
            walk(array);
        }
    }
    for t in g.tensors() {
        assert_eq!(g.tensor(t.name).map(|found| found.data_offset), Some(t.data_offset));
        assert_eq!(g.tensor_data(t).len(), t.data_len);
    }
    if let Some(kernels) = Kernels::with_isa(Isa::Scalar) {
        let _ = Model::load(&g, kernels);
    }
    if let Ok(tokenizer) = Tokenizer::from_gguf(&g) {
        let ids = tokenizer.encode("Hello, wörld! <|im_start|>", tokenizer.model_options(true));
        let _ = tokenizer.decode(&ids);
        if let Ok(template) = tokenizer.chat_template() {
            let _ = template.render(&[Message::system("s"), Message::user("u")], true);
        }
    }
});
