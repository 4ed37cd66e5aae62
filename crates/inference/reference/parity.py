#!/usr/bin/env python3
"""Runs llama.cpp itself (through the `llama-cpp-python` bindings, built from its source
package) on each synthetic model and records what it computes into
tests/fixtures/parity/<family>.json, which the host test `family_parity` compares with moteOS:

  - prompt_ids: llama.cpp's tokenization of the prompt (checked here against the PyPI
    `tokenizers` package rebuilt from the file's vocabulary);
  - logits: llama.cpp's logits at every prompt position and at every greedy step (float32
    weights, float32 KV cache, no flash attention: no half-precision rounding on its side);
  - greedy: the 32 greedy tokens and, per step, the margin between llama.cpp's top two logits;
  - template: the chat template rendered with jinja2 for a fixed conversation.

A file llama.cpp refuses raises here: it is not evidence. Run by `cargo xtask parity`.
"""
import json
import os
import sys

import jinja2
import numpy as np
from gguf import GGUFReader
import llama_cpp
from llama_cpp import Llama
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
SYNTH = os.path.join(CRATE, "tests", "fixtures", "synthetic")
OUT = os.path.join(CRATE, "tests", "fixtures", "parity")
FAMILIES = ["llama3", "qwen2", "qwen3", "gemma3", "phi3"]
PROMPT = "What is the capital of France? Paris, and 12345 numbers: don't split them!"
N_GREEDY = 32
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": " Hello there \n"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "What is 2+2?"},
]
# Strings for the tokenizer comparison with `tokenizers`.
TOKENIZER_CASES = [
    PROMPT, "Hello, world!", "  leading and   multiple spaces ", "line\nbreaks\n\n and\ttabs",
    "digits 1234567890 3.14159", "I'M SURE they'LL go", "code: fn main() { x += 1; }",
    "unicode: caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600", "\u0663\u0664 \u00bd",
]
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")


def meta(reader, key):
    return reader.fields[key].contents()


def hf_tokenizer(reader):
    """The file's vocabulary rebuilt as a `tokenizers` tokenizer (no code shared with moteOS)."""
    tokens = meta(reader, "tokenizer.ggml.tokens")
    vocab = {t: i for i, t in enumerate(tokens)}
    if meta(reader, "tokenizer.ggml.model") == "gpt2":
        merges = [tuple(m.split(" ", 1)) for m in meta(reader, "tokenizer.ggml.merges")]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=meta(reader, "tokenizer.ggml.pre") == "llama-bpe"))
        split = QWEN2_SPLIT if meta(reader, "tokenizer.ggml.pre") == "qwen2" else LLAMA3_SPLIT
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel()
        return tok, False
    # SentencePiece-style: merges in score order (the generator scores pieces by merge rank).
    scores = meta(reader, "tokenizer.ggml.scores")
    types = meta(reader, "tokenizer.ggml.token_type")
    pieces = sorted((i for i, t in enumerate(types) if t == 1 and len(tokens[i]) > 1), key=lambda i: -scores[i])
    merges = []
    for i in pieces:
        piece = tokens[i]
        # The split whose halves are both tokens and were merged before (highest scores).
        best = None
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            if a in vocab and b in vocab:
                rank = max(-scores[vocab[a]] if len(a) > 1 else -1e9, -scores[vocab[b]] if len(b) > 1 else -1e9)
                if best is None or rank < best[0]:
                    best = (rank, a, b)
        if best:
            merges.append((best[1], best[2]))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>"))
    space_prefix = meta(reader, "tokenizer.ggml.add_space_prefix")
    norms = [normalizers.Prepend("\u2581")] if space_prefix else []
    tok.normalizer = normalizers.Sequence(norms + [normalizers.Replace(" ", "\u2581")])
    return tok, True


def run(family):
    path = os.path.join(SYNTH, f"{family}-tiny.gguf")
    reader = GGUFReader(path)
    hf, spm = hf_tokenizer(reader)
    llm = Llama(model_path=path, n_ctx=256, n_batch=128, n_ubatch=128, n_threads=1, n_threads_batch=1,
                logits_all=True, type_k=0, type_v=0, flash_attn=False, verbose=False, seed=0)
    # Tokenizer: llama.cpp and `tokenizers` must agree on plain text (no BOS, no specials).
    tok_cases = []
    for text in TOKENIZER_CASES:
        ours = llm.tokenize(text.encode(), add_bos=False, special=False)
        theirs = hf.encode(text, add_special_tokens=False).ids
        if ours != theirs:
            raise SystemExit(f"{family}: llama.cpp and tokenizers disagree on {text!r}: {ours} vs {theirs}")
        tok_cases.append({"text": text, "ids": ours})
    prompt_ids = llm.tokenize(PROMPT.encode(), add_bos=True, special=False)
    llm.reset()
    llm.eval(prompt_ids)
    logits = [np.array(llm.scores[i], dtype=np.float32) for i in range(len(prompt_ids))]
    greedy, margins = [], []
    last = logits[-1]
    for _ in range(N_GREEDY):
        top2 = np.sort(last)[-2:]
        margins.append(float(top2[1] - top2[0]))
        t = int(np.argmax(last))
        greedy.append(t)
        llm.eval([t])
        last = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        logits.append(last)
    # The chat template, rendered as transformers does (jinja2, trim_blocks, lstrip_blocks).
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    tokens = meta(reader, "tokenizer.ggml.tokens")
    tmpl = env.from_string(meta(reader, "tokenizer.chat_template"))
    render = lambda msgs, gen: tmpl.render(messages=msgs, add_generation_prompt=gen,
                                           bos_token=tokens[meta(reader, "tokenizer.ggml.bos_token_id")],
                                           eos_token=tokens[meta(reader, "tokenizer.ggml.eos_token_id")])
    out = {
        "family": family,
        "llama_cpp": llama_cpp.__version__,
        "prompt": PROMPT,
        "prompt_ids": prompt_ids,
        "greedy_ids": greedy,
        "greedy_margins": margins,
        "logits": [[round(float(x), 6) for x in row] for row in logits],
        "tokenizer_cases": tok_cases,
        "template": [
            {"messages": CONVERSATION, "generation_prompt": True, "text": render(CONVERSATION, True)},
            {"messages": CONVERSATION[1:3], "generation_prompt": False, "text": render(CONVERSATION[1:3], False)},
        ],
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{family}.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"parity {family}: {len(prompt_ids)} prompt tokens, {N_GREEDY} greedy, tokenizer agrees with `tokenizers` on {len(tok_cases)} strings")


if __name__ == "__main__":
    for fam in sys.argv[1:] or FAMILIES:
        run(fam)
