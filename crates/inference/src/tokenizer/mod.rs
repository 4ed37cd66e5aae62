//! Tokenizers rebuilt from GGUF metadata and the model's chat template.
