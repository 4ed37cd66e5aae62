#!/usr/bin/env python3
"""Synthetic GGUF models, one per family moteOS runs, with deterministic random weights.

No instruct model of these families can be downloaded here, so the engine is checked on files
built with exactly the metadata keys and tensor names llama.cpp's loader reads for each
architecture (src/models/<arch>.cpp and src/llama-model.cpp in llama.cpp), written with the
PyPI `gguf` package (llama.cpp's own writer). Each file carries a working tokenizer trained
here on a small text (byte-level BPE for llama3/qwen2/qwen3, SentencePiece-style pieces with
byte fallback for gemma3/phi3), the family's chat template (written for this project in Jinja)
and its special tokens. The same seed gives the same bytes.

    pip install gguf numpy
    python3 synthetic.py OUT_DIR [--shape tiny|bench] [--family NAME ...]

`tiny` files (a few hundred KB, float32) are committed under tests/fixtures/synthetic/ and
compared with llama.cpp by `cargo xtask parity`; `bench` files (~0.5B parameters shaped like
Qwen2.5-0.5B, Q8_0 matrices) are what `cargo xtask bench infer` times.
"""
import argparse
import os
import sys

import numpy as np
import gguf
from gguf import GGUFWriter, GGMLQuantizationType as T

# The text both tokenizers are trained on (written for this project).
CORPUS = """
The small computer boots straight into a conversation. It reads the model from the disk,
checks every number in the file, and answers offline. Questions come in; answers stream out,
one token at a time, on every core the machine has. What is the capital of France? Paris is
the capital of France, and Berlin is the capital of Germany. Numbers like 12345 and 3.14159
are split into digits; code such as `fn main() { println!("hi"); }` keeps its punctuation.
Don't worry: we'll test it, they're sure it's fine, I've seen it work. Hello, world!
"""

# Byte-level BPE: GPT-2's byte <-> printable character table (a public, well-known mapping).
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_merges(words, n_merges):
    """Plain BPE training: repeatedly merge the most frequent adjacent pair (ties by text)."""
    seqs = [list(w) for w in words]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if counts[best] < 2:
            break
        merges.append(best)
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if (s[i], s[i + 1]) == best:
                    s[i:i + 2] = [s[i] + s[i + 1]]
                i += 1
    return merges


def bpe_vocab(specials, n_merges):
    """Byte-level BPE vocabulary: specials first, then the 256 byte characters, then merges."""
    table = bytes_to_unicode()
    words = [("".join(table[b] for b in (" " + w).encode())) for w in CORPUS.split()]
    merges = train_merges(words, n_merges)
    tokens = list(specials) + [table[b] for b in range(256)]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))
    return tokens, types, [f"{a} {b}" for a, b in merges]


def spm_vocab(specials, n_merges):
    """SentencePiece-style vocabulary: specials, the 256 <0xXX> byte tokens, single characters
    of the corpus, then merged pieces scored by merge order (earlier merge = higher score)."""
    words = ["\u2581" + w for w in CORPUS.split()]
    merges = train_merges(words, n_merges)
    tokens = list(specials)
    scores = [0.0] * len(specials)
    types = [3] * len(specials)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)
    seen = set(tokens)
    for ch in sorted(set("".join(words))):
        if ch not in seen:
            tokens.append(ch)
            scores.append(-1000.0)
            types.append(1)
            seen.add(ch)
    for rank, (a, b) in enumerate(merges):
        if a + b not in seen:
            tokens.append(a + b)
            scores.append(-float(rank))
            types.append(1)
            seen.add(a + b)
    return tokens, scores, types, [f"{a} {b}" for a, b in merges]


TEMPLATES = {
    "llama3": (
        "{{- bos_token }}{%- for m in messages %}"
        "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
    ),
    "chatml-default": (
        "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
        "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    ),
    "chatml": (
        "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    ),
    "gemma": (
        "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set prefix = messages[0]['content'] + '\\n\\n' %}"
        "{%- set turns = messages[1:] %}{%- else %}{%- set prefix = '' %}{%- set turns = messages %}{%- endif %}"
        "{%- for m in turns %}{%- set role = 'model' if m['role'] == 'assistant' else 'user' %}"
        "{{- '<start_of_turn>' + role + '\\n' + (prefix if loop.first else '') + m['content'] | trim + '<end_of_turn>\\n' }}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
    ),
    "phi3": (
        "{%- for m in messages %}{%- if m['role'] == 'system' %}{{- '<|system|>\\n' }}{%- elif m['role'] == 'user' %}"
        "{{- '<|user|>\\n' }}{%- else %}{{- '<|assistant|>\\n' }}{%- endif %}{{- m['content'] + '<|end|>\\n' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- else %}{{- eos_token }}{%- endif %}"
    ),
}

# Per family: architecture, tokenizer, special tokens, template, shape and variant switches.
FAMILIES = {
    "llama3": dict(arch="llama", vocab="bpe", pre="llama-bpe", template="llama3",
                   specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                   bos="<|begin_of_text|>", eos="<|eot_id|>", add_bos=True, rope_freqs=True),
    "qwen2": dict(arch="qwen2", vocab="bpe", pre="qwen2", template="chatml-default",
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos="<|endoftext|>", eos="<|im_end|>", add_bos=False, biases=True),
    "qwen3": dict(arch="qwen3", vocab="bpe", pre="qwen2", template="chatml",
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                  bos="<|endoftext|>", eos="<|im_end|>", add_bos=False, qk_norm=True),
    "gemma3": dict(arch="gemma3", vocab="spm", template="gemma",
                   specials=["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
                   bos="<bos>", eos="<eos>", unk="<unk>", add_bos=True, qk_norm=True, post_norms=True, swa=True),
    "phi3": dict(arch="phi3", vocab="spm", template="phi3",
                 specials=["<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
                 bos="<s>", eos="<|endoftext|>", unk="<unk>", add_bos=True, fused=True, long_short=True),
}

SHAPES = {
    # width, heads, kv heads, head width, ffn, layers, merges, context
    "tiny": dict(dim=64, heads=4, kv=2, hd=16, ffn=128, layers=2, merges=64, ctx=4096),
    "bench": dict(dim=896, heads=14, kv=2, hd=64, ffn=4864, layers=24, merges=400, ctx=4096, vocab=32768),
}


def shape_for(name, shape):
    s = dict(SHAPES[shape])
    if name == "gemma3":
        # Six layers: five local, one global (the default pattern); heads wider than width/heads.
        if shape == "tiny":
            s.update(heads=2, kv=1, hd=32, ffn=64, layers=6)
        else:
            s.update(heads=4, kv=1, hd=256, ffn=6912, layers=18, dim=640)
    if name == "phi3":
        s["hd"] = s["dim"] // s["heads"]  # llama.cpp's phi3 loader wants Q as wide as the model
    return s


def write(name, shape, out_dir, qtype):
    f = FAMILIES[name]
    s = shape_for(name, shape)
    rng = np.random.default_rng(sum(map(ord, name)) * 7919 + len(shape))
    arch = f["arch"]
    path = os.path.join(out_dir, f"{name}-{shape}.gguf")
    w = GGUFWriter(path, arch)
    w.add_name(f"moteOS synthetic {name} ({shape})")
    k = lambda key: f"{arch}.{key}"
    dim, heads, kv, hd, ffn, layers = s["dim"], s["heads"], s["kv"], s["hd"], s["ffn"], s["layers"]
    w.add_uint32(k("context_length"), s["ctx"] * (2 if f.get("long_short") else 1))
    w.add_uint32(k("embedding_length"), dim)
    w.add_uint32(k("block_count"), layers)
    w.add_uint32(k("feed_forward_length"), ffn)
    w.add_uint32(k("attention.head_count"), heads)
    w.add_uint32(k("attention.head_count_kv"), kv)
    w.add_float32(k("attention.layer_norm_rms_epsilon"), 1e-6 if name == "gemma3" else 1e-5)
    w.add_float32(k("rope.freq_base"), 1e6 if name == "gemma3" else 5e5)
    if hd * heads != dim:
        w.add_uint32(k("attention.key_length"), hd)
        w.add_uint32(k("attention.value_length"), hd)
    if f.get("swa"):
        w.add_uint32(k("attention.sliding_window"), 5 if shape == "tiny" else 512)
        w.add_float32(k("rope.freq_base_swa"), 10000.0)
    if f.get("long_short"):
        w.add_uint32(k("rope.scaling.original_context_length"), s["ctx"])
        w.add_float32(k("rope.scaling.attn_factor"), 1.19)

    # Tokenizer.
    specials = f["specials"]
    if f["vocab"] == "bpe":
        tokens, types, merges = bpe_vocab(specials, s["merges"])
        scores = None
    else:
        tokens, scores, types, merges = spm_vocab(specials, s["merges"])
    if "vocab" in s:  # bench: pad to a realistic embedding size with unused tokens
        while len(tokens) < s["vocab"]:
            tokens.append(f"<unused{len(tokens)}>")
            types.append(5)
            if scores is not None:
                scores.append(-1e9)
    w.add_string("tokenizer.ggml.model", "gpt2" if f["vocab"] == "bpe" else "llama")
    if f["vocab"] == "bpe":
        w.add_string("tokenizer.ggml.pre", f["pre"])
    else:
        w.add_string("tokenizer.ggml.pre", "default")
    w.add_array("tokenizer.ggml.tokens", tokens)
    if scores is not None:
        w.add_array("tokenizer.ggml.scores", [float(x) for x in scores])
    w.add_array("tokenizer.ggml.token_type", types)
    if f["vocab"] == "bpe":
        w.add_array("tokenizer.ggml.merges", merges)
    w.add_uint32("tokenizer.ggml.bos_token_id", tokens.index(f["bos"]))
    w.add_uint32("tokenizer.ggml.eos_token_id", tokens.index(f["eos"]))
    if "unk" in f:
        w.add_uint32("tokenizer.ggml.unknown_token_id", tokens.index(f["unk"]))
    w.add_bool("tokenizer.ggml.add_bos_token", f["add_bos"])
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    if f["vocab"] == "spm":
        w.add_bool("tokenizer.ggml.add_space_prefix", name != "gemma3")
    w.add_string("tokenizer.chat_template", TEMPLATES[f["template"]])
    vocab = len(tokens)

    # Weights: matrices ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norms near 1.
    def mat(cols, rows):
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def add(name_, arr, quantize=True):
        if quantize and qtype != T.F32 and arr.ndim == 2 and arr.shape[-1] % 32 == 0:
            w.add_tensor(name_, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name_, arr)

    add("token_embd.weight", rng.standard_normal((vocab, dim)).astype(np.float32))
    q_dim, kv_dim = heads * hd, kv * hd
    for i in range(layers):
        b = f"blk.{i}."
        add(b + "attn_norm.weight", norm(dim))
        if f.get("fused"):
            add(b + "attn_qkv.weight", mat(dim, q_dim + 2 * kv_dim))
        else:
            add(b + "attn_q.weight", mat(dim, q_dim))
            add(b + "attn_k.weight", mat(dim, kv_dim))
            add(b + "attn_v.weight", mat(dim, kv_dim))
        if f.get("biases"):
            add(b + "attn_q.bias", (0.1 * rng.standard_normal(q_dim)).astype(np.float32))
            add(b + "attn_k.bias", (0.1 * rng.standard_normal(kv_dim)).astype(np.float32))
            add(b + "attn_v.bias", (0.1 * rng.standard_normal(kv_dim)).astype(np.float32))
        if f.get("qk_norm"):
            add(b + "attn_q_norm.weight", norm(hd))
            add(b + "attn_k_norm.weight", norm(hd))
        add(b + "attn_output.weight", mat(q_dim, dim))
        if f.get("post_norms"):
            add(b + "post_attention_norm.weight", norm(dim))
            add(b + "post_ffw_norm.weight", norm(dim))
        add(b + "ffn_norm.weight", norm(dim))
        if f.get("fused"):
            add(b + "ffn_up.weight", mat(dim, 2 * ffn))
        else:
            add(b + "ffn_gate.weight", mat(dim, ffn))
            add(b + "ffn_up.weight", mat(dim, ffn))
        add(b + "ffn_down.weight", mat(ffn, dim))
    add("output_norm.weight", norm(dim))
    if f.get("rope_freqs"):
        add("rope_freqs.weight", np.linspace(1.0, 8.0, hd // 2).astype(np.float32))
    if f.get("long_short"):
        add("rope_factors_short.weight", np.linspace(1.0, 1.5, hd // 2).astype(np.float32))
        add("rope_factors_long.weight", np.linspace(1.0, 16.0, hd // 2).astype(np.float32))
    if name in ("qwen2", "phi3"):  # an untied output projection for some families
        add("output.weight", (rng.standard_normal((vocab, dim)) / np.sqrt(dim) * 4).astype(np.float32))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    p.add_argument("--family", action="append", choices=sorted(FAMILIES))
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    qtype = T.F32 if a.shape == "tiny" else T.Q8_0
    for name in a.family or list(FAMILIES):
        path = write(name, a.shape, a.out_dir, qtype)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    sys.exit(main())
