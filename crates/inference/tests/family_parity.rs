//! Each family's synthetic model against llama.cpp's own computation on the same file, recorded
//! by `cargo xtask parity` (reference/parity.py) in tests/fixtures/parity/<family>.json:
//! logits at every prompt position and greedy step within 1e-3 of llama.cpp relative to the
//! logit range (float weights, float activations), the same 32 greedy tokens (skipping steps
//! where llama.cpp's top two are within 1e-3), the same token ids as llama.cpp and the PyPI
//! `tokenizers` package, and the chat template rendered as jinja2 renders it.

use inference::model::Precision;
use inference::sampler::argmax;
use inference::tokenizer::{EncodeOptions, Message, Role};
use inference::{ChatEngine, EngineOptions, SamplingParams, SingleThread, WorkPool};

const FAMILIES: [&str; 5] = ["llama3", "qwen2", "qwen3", "gemma3", "phi3"];
const MAX_RELATIVE_ERROR: f32 = 1e-3;
const TIE: f32 = 1e-3;

fn read(path: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// Max abs error and max |logit| over every recorded position, and greedy agreement, with
/// `pool` splitting the work. Returns (max abs error, max |logit|, agreeing steps, compared steps).
fn compare(family: &str, pool: &dyn WorkPool) -> (f32, f32, usize, usize, Vec<Vec<f32>>) {
    let fixture: serde_json::Value = serde_json::from_slice(&read(&format!("parity/{family}.json"))).unwrap();
    let bytes = read(&format!("synthetic/{family}-tiny.gguf"));
    let options = EngineOptions { context: 256, prefill_batch: 1, precision: Precision::Float, ..Default::default() };
    let mut chat = ChatEngine::load(&bytes, options).unwrap();
    let prompt = ids(&fixture["prompt_ids"]);
    let tok = chat.tokenizer();
    let text = fixture["prompt"].as_str().unwrap();
    assert_eq!(tok.encode(text, tok.model_options(false)), prompt, "{family}: prompt ids differ from llama.cpp");
    let want: Vec<Vec<f32>> = fixture["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect();
    let greedy = ids(&fixture["greedy_ids"]);
    let margins: Vec<f32> =
        fixture["greedy_margins"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();

    let engine = chat.engine_mut();
    engine.set_pool(pool);
    let (mut err, mut mag, mut agree, mut compared) = (0.0f32, 0.0f32, 0, 0);
    let mut got_all = Vec::new();
    let mut check = |pos: usize, logits: &[f32]| {
        for (a, b) in logits.iter().zip(&want[pos]) {
            err = err.max((a - b).abs());
            mag = mag.max(b.abs());
        }
        got_all.push(logits.to_vec());
    };
    // Prompt positions one at a time (each `begin` reuses the cache and computes one position).
    for pos in 0..prompt.len() {
        engine.begin(&prompt[..=pos], SamplingParams::greedy()).unwrap();
        engine.step().unwrap();
        check(pos, engine.logits());
    }
    // Greedy continuation, feeding llama.cpp's tokens so every step is compared on the same context.
    let mut context = prompt.clone();
    for (i, &t) in greedy.iter().enumerate() {
        let ours = argmax(engine.logits());
        if margins[i] >= TIE {
            compared += 1;
            agree += usize::from(ours == t);
        }
        context.push(t);
        engine.begin(&context, SamplingParams::greedy()).unwrap();
        engine.step().unwrap();
        check(prompt.len() + i, engine.logits());
    }
    (err, mag, agree, compared, got_all)
}

#[test]
fn logits_and_greedy_tokens_match_llama_cpp() {
    for family in FAMILIES {
        let (err, mag, agree, compared, _) = compare(family, &SingleThread);
        eprintln!(
            "parity {family}: max abs logit error {err:.2e} (logits up to {mag:.1}; relative {:.2e}), greedy {agree}/{compared} identical",
            err / mag
        );
        assert!(err / mag <= MAX_RELATIVE_ERROR, "{family}: relative logit error {:e}", err / mag);
        assert_eq!(agree, compared, "{family}: greedy tokens differ");
        assert!(compared >= 24, "{family}: too many near-ties to be evidence ({compared} of 32 compared)");
    }
}

#[test]
fn tokenizers_match_llama_cpp_and_the_tokenizers_package() {
    for family in FAMILIES {
        let fixture: serde_json::Value = serde_json::from_slice(&read(&format!("parity/{family}.json"))).unwrap();
        let bytes = read(&format!("synthetic/{family}-tiny.gguf"));
        let chat = ChatEngine::load(&bytes, EngineOptions { context: 64, ..Default::default() }).unwrap();
        let plain = EncodeOptions::default();
        for case in fixture["tokenizer_cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            assert_eq!(chat.tokenizer().encode(text, plain), ids(&case["ids"]), "{family}: {text:?}");
        }
    }
}

#[test]
fn chat_templates_render_like_jinja2() {
    for family in FAMILIES {
        let fixture: serde_json::Value = serde_json::from_slice(&read(&format!("parity/{family}.json"))).unwrap();
        let bytes = read(&format!("synthetic/{family}-tiny.gguf"));
        let chat = ChatEngine::load(&bytes, EngineOptions { context: 64, ..Default::default() }).unwrap();
        for case in fixture["template"].as_array().unwrap() {
            let messages: Vec<Message<'_>> = case["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| Message {
                    role: match m["role"].as_str().unwrap() {
                        "system" => Role::System,
                        "user" => Role::User,
                        _ => Role::Assistant,
                    },
                    content: m["content"].as_str().unwrap(),
                })
                .collect();
            let got = chat.template().render(&messages, case["generation_prompt"].as_bool().unwrap());
            assert_eq!(got, case["text"].as_str().unwrap(), "{family}");
        }
    }
}

/// Every job on its own scoped thread (a test pool: correctness, not speed).
struct ScopedThreads(usize);

impl WorkPool for ScopedThreads {
    fn threads(&self) -> usize {
        self.0
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        std::thread::scope(|s| {
            for i in 0..jobs {
                s.spawn(move || job(i));
            }
        });
    }
}

/// Logits of a 70-token prompt run in batches of `batch` and of 8 generated tokens, with `pool`.
fn run_quantized(bytes: &[u8], pool: &dyn WorkPool, batch: usize) -> Vec<Vec<f32>> {
    let options = EngineOptions { context: 128, prefill_batch: batch, ..Default::default() };
    let mut engine = inference::Engine::load(bytes, options).unwrap();
    engine.set_pool(pool);
    let prompt: Vec<u32> = (0..70).map(|i| 3 + (i * 37) % 200).collect();
    let mut out = Vec::new();
    engine
        .begin(&prompt, SamplingParams { max_tokens: 8, ignore_stop_tokens: true, ..SamplingParams::greedy() })
        .unwrap();
    loop {
        match engine.step().unwrap() {
            inference::Step::Finished(_) => break,
            _ => out.push(engine.logits().to_vec()),
        }
    }
    out
}

#[test]
fn work_pool_results_are_bit_identical_to_one_thread() {
    for family in FAMILIES {
        let bytes = read(&format!("synthetic/{family}-tiny.gguf"));
        // The float file (f32 dot products) and its Q8_0 re-quantisation (the batched integer
        // kernels, whose token tiles and row pairs a split must not regroup); batches of 8 (each
        // stage split over the pool), of 32 and 64 (lanes of tokens, the second batch at a later
        // position), and the whole 70-token prompt in one batch (lanes again, with a tail of six
        // tokens after the groups of eight).
        let (q8, _) = inference::quantize::requantize(&bytes, inference::quantize::Target::Q8_0).unwrap();
        for (file, what) in [(&bytes, "f32"), (&q8, "Q8_0")] {
            for batch in [8, 32, 64, 128] {
                let one = run_quantized(file, &SingleThread, batch);
                for threads in [2, 3, 4] {
                    let many = run_quantized(file, &ScopedThreads(threads), batch);
                    assert!(many == one, "{family} {what}, batches of {batch}: {threads} threads differ");
                }
            }
        }
        let (.., float_one) = compare(family, &SingleThread);
        let (.., float_three) = compare(family, &ScopedThreads(3));
        assert!(float_one == float_three, "{family}: float path differs with 3 threads");
    }
}
