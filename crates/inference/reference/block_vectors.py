"""Writes tests/fixtures/block_vectors.json: random blocks of every quantised type and their
dequantised values as computed by the PyPI `gguf` package (llama.cpp's own Python reference),
so the Rust block layouts are checked against an implementation that shares no code with them.

Run: pip install gguf numpy && python3 reference/block_vectors.py
"""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

rng = np.random.default_rng(7)
out = {}
# Byte offsets of the f16 scale fields, which get sane values instead of random bits.
scale_fields = {
    "q4_0": (18, [0]), "q4_1": (20, [0, 2]), "q5_0": (22, [0]), "q5_1": (24, [0, 2]),
    "q8_0": (34, [0]), "q4_K": (144, [0, 2]), "q5_K": (176, [0, 2]), "q6_K": (210, [208]),
}
types = {"q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1, "q8_0": T.Q8_0,
         "q4_K": T.Q4_K, "q5_K": T.Q5_K, "q6_K": T.Q6_K}
for name, qt in types.items():
    size, fields = scale_fields[name]
    blocks = rng.integers(0, 256, size=(2, size), dtype=np.uint8)
    for b in blocks:
        for off in fields:
            b[off:off + 2] = np.frombuffer(np.float16(rng.uniform(-0.05, 0.05)).tobytes(), np.uint8)
    raw = blocks.reshape(-1)
    values = dequantize(raw.reshape(1, -1), qt).reshape(-1)
    out[name] = {"hex": raw.tobytes().hex(), "values": [float(v) for v in values]}

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "block_vectors.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
