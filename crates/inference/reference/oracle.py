"""Independent oracle for the Rust forward pass: a plain numpy llama forward written for this
test. It shares no code with the Rust engine: weights are dequantised by the PyPI `gguf`
package (llama.cpp's Python reader), the tokenizer is rebuilt with PyPI `tokenizers` from the
GGUF vocabulary and merges, and the maths is ordinary float32 numpy.

Writes tests/fixtures/logits_reference.json:
  - prompt: the fixed prompt text and its token ids (from `tokenizers`, not our tokenizer);
  - positions: for the first 8 positions, the top-10 (token id, logit) pairs;
  - greedy: the greedy 32-token continuation of the whole prompt (ids, text, and at each step
    the margin between the top two logits).

Run: pip install numpy gguf tokenizers && python3 reference/oracle.py [MODEL.gguf]
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../target/models/SmolLM2-135M-Instruct.Q4_1.gguf")
PROMPT = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is"
N_POSITIONS = 8
TOP = 10
N_GREEDY = 32

reader = GGUFReader(MODEL)


def meta(key):
    return reader.fields[key].contents()


def tensor(name):
    t = next(t for t in reader.tensors if t.name == name)
    # gguf's numpy shape is reversed ggml order: (rows, cols) for a matrix.
    w = dequantize(t.data, t.tensor_type).astype(np.float32)
    return w.reshape([int(d) for d in reversed(t.shape.tolist())])


# Tokenizer from the file's vocabulary and merges (GPT-2 byte-level BPE).
vocab = meta("tokenizer.ggml.tokens")
merges = [tuple(m.split(" ", 1)) for m in meta("tokenizer.ggml.merges")]
tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(vocab)}, merges=merges))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
ids = tok.encode(PROMPT).ids

n_layers = meta("llama.block_count")
dim = meta("llama.embedding_length")
n_heads = meta("llama.attention.head_count")
n_kv = meta("llama.attention.head_count_kv")
hd = dim // n_heads
eps = meta("llama.attention.layer_norm_rms_epsilon")
base = meta("llama.rope.freq_base")

emb = tensor("token_embd.weight")  # (vocab, dim)
layers = []
for i in range(n_layers):
    g = lambda s: tensor(f"blk.{i}.{s}.weight")
    layers.append({k: g(k) for k in ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                     "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]})
out_norm = tensor("output_norm.weight")
names = {t.name for t in reader.tensors}
out_w = tensor("output.weight") if "output.weight" in names else emb


def rms(x, w):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, positions):
    # x: (T, heads, hd). GGUF llama Q/K are stored so that adjacent pairs (2i, 2i+1) rotate together.
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.outer(positions, inv)  # (T, hd/2)
    cos = np.cos(ang)[:, None, :].astype(np.float32)
    sin = np.sin(ang)[:, None, :].astype(np.float32)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def forward(tokens):
    """Logits for every position of `tokens` (full causal recomputation, no cache)."""
    T = len(tokens)
    x = emb[tokens].copy()
    pos = np.arange(T)
    mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
    for L in layers:
        h = rms(x, L["attn_norm"])
        q = (h @ L["attn_q"].T).reshape(T, n_heads, hd)
        k = (h @ L["attn_k"].T).reshape(T, n_kv, hd)
        v = (h @ L["attn_v"].T).reshape(T, n_kv, hd)
        q, k = rope(q, pos), rope(k, pos)
        rep = n_heads // n_kv
        k = np.repeat(k, rep, axis=1)
        v = np.repeat(v, rep, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(T, dim)
        x = x + o @ L["attn_output"].T
        h = rms(x, L["ffn_norm"])
        gate = h @ L["ffn_gate"].T
        up = h @ L["ffn_up"].T
        x = x + ((gate / (1 + np.exp(-gate))) * up) @ L["ffn_down"].T
    return rms(x, out_norm) @ out_w.T


logits = forward(ids)
positions = []
for p in range(min(N_POSITIONS, len(ids))):
    top = np.argsort(-logits[p])[:TOP]
    positions.append([[int(t), float(logits[p, t])] for t in top])

seq = list(ids)
margins = []  # top-1 minus top-2 logit at each greedy step: how close the choice was
for _ in range(N_GREEDY):
    last = forward(seq)[-1]
    a, b = np.argsort(-last)[:2]
    margins.append(float(last[a] - last[b]))
    seq.append(int(a))
greedy = seq[len(ids):]

fixture = {
    "model_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "prompt": PROMPT,
    "prompt_ids": ids,
    "positions": positions,
    "last_top": [[int(t), float(logits[-1, t])] for t in np.argsort(-logits[-1])[:TOP]],
    "greedy_ids": greedy,
    "greedy_margins": margins,
    "greedy_text": tok.decode(greedy),
}
path = os.path.join(HERE, "../tests/fixtures/logits_reference.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print(json.dumps({k: fixture[k] for k in ["prompt_ids", "greedy_ids", "greedy_text"]}))
