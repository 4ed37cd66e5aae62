//! The chat layer and the engine's request handling on the real model.

mod common;

use inference::model::Precision;
use inference::tokenizer::Tokenizer;
use inference::{
    ChatEngine, ChatStep, Engine, EngineError, EngineOptions, FinishReason, LoadError, Message, SamplingParams, Step,
};

/// The conversation's ids as built independently with PyPI `tokenizers` (ChatML rendered by
/// hand with SmolLM2's default system prompt, special tokens looked up in the vocabulary).
const FRANCE_IDS: [u32; 37] = [
    1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198,
    1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198,
];

/// llama.cpp (node-llama-cpp 3.21.1, greedy) continues FRANCE_IDS with these tokens.
const LLAMA_CPP_FRANCE_REPLY: [u32; 20] =
    [60, 23, 39614, 1141, 552, 28, 2618, 2828, 313, 7712, 769, 28, 2618, 2849, 1558, 26261, 651, 89, 28, 2618];

fn micros() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_micros() as u64
}

#[test]
fn chat_reply_streams_and_agrees_with_llama_cpp() {
    let Some(bytes) = common::load_model() else { return };
    let opts = EngineOptions { context: 512, prefill_batch: 8, clock: Some(micros), ..Default::default() };
    let mut chat = ChatEngine::load(&bytes, opts).unwrap();
    let conversation = [Message::user("What is the capital of France?")];
    assert_eq!(chat.encode(&conversation), FRANCE_IDS);

    let params = SamplingParams { max_tokens: 20, ..SamplingParams::greedy() };
    chat.start(&conversation, params.clone()).unwrap();
    let (mut prefill_steps, mut pieces) = (0, Vec::new());
    let reason = loop {
        match chat.step().unwrap() {
            ChatStep::Prefill { done, total } => {
                prefill_steps += 1;
                assert!(done <= total && total == FRANCE_IDS.len());
            }
            ChatStep::Text(t) => {
                assert!(!t.is_empty());
                pieces.push(t);
            }
            ChatStep::Finished(r) => break r,
        }
    };
    // 37 prompt tokens in batches of 8: each step did bounded work.
    assert_eq!(prefill_steps, 5);
    assert!(matches!(reason, FinishReason::MaxTokens | FinishReason::Stop(_)), "{reason:?}");
    let reply = pieces.concat();
    assert_eq!(reply, chat.reply());
    println!("reply: {reply:?}");
    println!(
        "prompt {:.1} tokens/s, generation {:.1} tokens/s",
        chat.prompt_tokens_per_second(),
        chat.generation_tokens_per_second()
    );
    assert!(chat.generation_tokens_per_second() > 0.0);
    // The generated ids against llama.cpp's. Both quantise activations to 8 bits differently, so
    // they can only be expected to agree where the exact (float) model's choice is clear: the
    // first reply token here is a near tie ("L" vs "The"), measured with the float path.
    let generated = &chat.engine().tokens()[FRANCE_IDS.len()..];
    let same = generated.iter().zip(LLAMA_CPP_FRANCE_REPLY).take_while(|(a, b)| **a == *b).count();
    println!("same as llama.cpp for the first {same} of {} tokens", LLAMA_CPP_FRANCE_REPLY.len());
    let float_opts = EngineOptions { context: 64, precision: Precision::Float, ..Default::default() };
    let mut exact = Engine::load(&bytes, float_opts).unwrap();
    exact.begin(&FRANCE_IDS, SamplingParams::greedy()).unwrap();
    while matches!(exact.step().unwrap(), Step::Prefill { done, total } if done < total) {}
    let mut sorted: Vec<f32> = exact.logits().to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let margin = sorted[0] - sorted[1];
    println!("float model: first reply token margin {margin:.3}");
    if margin > 2.0 {
        assert!(same >= 1, "first reply token differs from llama.cpp's although the choice is clear");
    }
    let tokenizer = Tokenizer::from_gguf(chat.engine().gguf()).unwrap();
    // A stop token joins the context but not the reply.
    let stop = usize::from(matches!(reason, FinishReason::Stop(_)));
    assert_eq!(reply, tokenizer.decode(&generated[..generated.len() - stop]));

    // A follow-up turn reuses the cached conversation.
    let follow =
        [Message::user("What is the capital of France?"), Message::assistant(&reply), Message::user("And of Italy?")];
    chat.reply_to(&follow, params).unwrap();
    let s = chat.stats();
    println!("follow-up: reused {} cached tokens, computed {}", s.reused_tokens, s.prompt_tokens);
    assert!(s.reused_tokens >= FRANCE_IDS.len(), "{s:?}");
}

#[test]
fn cancel_stops_between_tokens() {
    let Some(bytes) = common::load_model() else { return };
    let mut chat = ChatEngine::load(&bytes, EngineOptions { context: 256, ..Default::default() }).unwrap();
    chat.start(&[Message::user("Tell me a long story.")], SamplingParams { max_tokens: 64, ..Default::default() })
        .unwrap();
    while !matches!(chat.step().unwrap(), ChatStep::Text(_)) {}
    chat.cancel();
    assert_eq!(chat.step().unwrap(), ChatStep::Finished(FinishReason::Cancelled));
    assert_eq!(chat.step().unwrap(), ChatStep::Finished(FinishReason::Cancelled));
}

#[test]
fn engine_refuses_bad_requests() {
    let Some(bytes) = common::load_model() else { return };
    let mut e = Engine::load(&bytes, EngineOptions { context: 16, ..Default::default() }).unwrap();
    assert_eq!(e.step(), Err(EngineError::NotStarted));
    assert_eq!(e.begin(&[], SamplingParams::greedy()), Err(EngineError::EmptyPrompt));
    assert_eq!(
        e.begin(&[1; 17], SamplingParams::greedy()),
        Err(EngineError::PromptTooLong { tokens: 17, context: 16 })
    );
    let err = e.begin(&[1, 49152], SamplingParams::greedy()).unwrap_err();
    assert_eq!(err.to_string(), "token id 49152 is outside the model's vocabulary of 49152");
    // A full context ends generation cleanly: 10 prompt tokens leave room to run 6 generated
    // tokens through the model; the 7th is sampled from the last logits, then the cache is full.
    let params = SamplingParams { max_tokens: 100, ignore_stop_tokens: true, ..SamplingParams::greedy() };
    let (ids, reason) = e.generate(&[1; 10], params).unwrap();
    assert_eq!((ids.len(), reason), (16 - 10 + 1, FinishReason::ContextFull));
    assert!(matches!(e.step(), Ok(Step::Finished(_))));
}

#[test]
fn broken_model_files_are_explained() {
    let Some(bytes) = common::load_model() else { return };
    let err = Engine::load(&bytes[..1000], EngineOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Gguf(_)), "{err:?}");
    println!("{err}");
    assert!(err.to_string().starts_with("model file: GGUF file is truncated"));
    // Cut inside the tensor data: the header parses, a tensor runs past the end.
    let err = Engine::load(&bytes[..bytes.len() / 2], EngineOptions::default()).unwrap_err();
    assert!(err.to_string().contains("would end at byte"), "{err}");

    // Another architecture name (same length, so the file stays well-formed).
    let mut other = bytes.clone();
    let key = b"general.architecture";
    let at = other.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 4 + 8;
    assert_eq!(&other[at..at + 5], b"llama");
    other[at..at + 5].copy_from_slice(b"gemma");
    let err = Engine::load(&other, EngineOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model architecture \"gemma\" is not supported (moteOS runs llama, qwen2, qwen3, gemma3, phi3)"
    );

    // A weight stored in a type without kernels (Q2_K; smaller than Q4_1, so the file stays valid).
    let mut other = bytes.clone();
    let name = b"blk.0.ffn_down.weight";
    let at = other.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 4 + 16;
    assert_eq!(u32::from_le_bytes(other[at..at + 4].try_into().unwrap()), 3, "expected Q4_1");
    other[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
    let err = Engine::load(&other, EngineOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model tensor \"blk.0.ffn_down.weight\" is stored as q2_K, which this engine cannot compute with"
    );
}

#[test]
fn load_time_is_reported() {
    let Some(bytes) = common::load_model() else { return };
    let t = std::time::Instant::now();
    let e = Engine::load(&bytes, EngineOptions { context: 1024, ..Default::default() }).unwrap();
    let engine_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    let tok = Tokenizer::from_gguf(e.gguf()).unwrap();
    let tok_ms = t.elapsed().as_secs_f64() * 1e3;
    println!("engine load {engine_ms:.1} ms (context 1024), tokenizer {tok_ms:.1} ms, vocab {}", tok.vocab_size());
    assert_eq!(tok.vocab_size(), e.config().vocab);
}

#[test]
fn long_conversations_lose_their_oldest_turns() {
    let Some(bytes) = common::load_model() else { return };
    let mut chat = ChatEngine::load(&bytes, EngineOptions { context: 128, ..Default::default() }).unwrap();
    let filler = "This sentence is here to take up room in the conversation. ".repeat(3);
    let mut conversation = vec![Message::system("You are brief.")];
    for _ in 0..6 {
        conversation.push(Message::user(&filler));
        conversation.push(Message::assistant(&filler));
    }
    conversation.push(Message::user("What is two plus two?"));
    assert!(chat.encode(&conversation).len() > 128);
    chat.start(&conversation, SamplingParams { max_tokens: 8, ..SamplingParams::greedy() }).unwrap();
    let prompt = chat.engine().tokens();
    assert!(prompt.len() <= 96, "{}", prompt.len());
    let text = chat.tokenizer().decode(prompt);
    assert!(
        text.contains("You are brief.") && text.ends_with("What is two plus two?<|im_end|>\n<|im_start|>assistant\n"),
        "{text:?}"
    );
    while !matches!(chat.step().unwrap(), ChatStep::Finished(_)) {}

    // A single turn longer than the context is refused with a clear error.
    let huge = "word ".repeat(400);
    let err = chat.start(&[Message::user(&huge)], SamplingParams::greedy()).unwrap_err();
    assert!(err.to_string().contains("but the context holds only 128"), "{err}");
}

#[test]
fn every_kernel_set_passes_the_load_time_check() {
    use inference::tensor::{Isa, Kernels};
    let Some(bytes) = common::load_model() else { return };
    let e = Engine::load(&bytes, EngineOptions { context: 64, ..Default::default() }).unwrap();
    assert_eq!(e.kernel_fallback(), None);
    for isa in [Isa::Scalar, Isa::Sse2, Isa::Avx2, Isa::Avx512, Isa::Neon] {
        let Some(kernels) = Kernels::with_isa(isa) else { continue };
        let e =
            Engine::load(&bytes, EngineOptions { context: 64, kernels: Some(kernels), ..Default::default() }).unwrap();
        let t = std::time::Instant::now();
        assert!(e.model().kernels_agree_with_portable(), "{}", isa.name());
        println!("{}: kernels agree with the portable ones ({:.1} ms)", isa.name(), t.elapsed().as_secs_f64() * 1e3);
    }
}
