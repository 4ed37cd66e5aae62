#!/usr/bin/env python3
"""Independent reference for the Rust tokenizer: writes tests/fixtures/tokenizer_reference.json.

The vocabulary, merges and token types are read from the GGUF file with the `gguf` package
(llama.cpp's own reader), and the tokenizer is rebuilt with Hugging Face's `tokenizers`
package: byte-level BPE with the pre-tokenizer that the GGUF's `tokenizer.ggml.pre` names.
The chat template is rendered with `jinja2`, as the `transformers` library does.
Nothing here shares code with the Rust implementation.

    pip install gguf tokenizers jinja2
    python3 crates/inference/reference/tokenizer_reference.py [MODEL.gguf]

The model defaults to $MOTEOS_MODEL, else target/models/SmolLM2-135M-Instruct.Q4_1.gguf.
"""

import hashlib
from importlib import metadata
import json
import os
import sys
from pathlib import Path

import gguf
import jinja2
import tokenizers
from tokenizers import Regex, decoders, models, pre_tokenizers

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent
WORKSPACE = CRATE.parent.parent
OUTPUT = CRATE / "tests" / "fixtures" / "tokenizer_reference.json"
CONTROL = 3

# Strings chosen to exercise every branch of the pre-tokenizer and of BPE: scripts with and
# without spaces, combining marks, emoji sequences, whitespace runs, digit runs, code,
# contractions, special-token text, and characters outside the common planes.
CASES = [
    "Hello, world!",
    "",
    " leading space",
    "trailing space ",
    "multiple    spaces   between words",
    "     ",
    "\ttabs\tand\nnewlines\n\n\nend",
    "  \n  \n",
    "tab\t \tmix \t",
    "line\r\nwindows\r\n",
    "Numbers: 1234567890 and 3.14159, 1,000,000",
    "Phone 555-0123 in 2024; x1 2y mixed123abc456",
    "\u0663\u0664\u0665 Arabic-Indic digits, \u216b roman numeral, \u00bd fraction",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff21\uff22\uff23 \uff11\uff12\uff13",
    "\u00c0\u00c9\u00ce\u00d5\u00dc \u00e0\u00e9\u00ee\u00f5\u00fc \u00e7\u00f1 \u00df",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "Cafe\u0301 decomposed accents",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\u4e2d\u6587\u6d4b\u8bd5\uff1a\u4f60\u597d\uff0c\u4e16\u754c\uff01",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4",
    "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442, \u0451\u043b\u043a\u0430",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03b3\u03c1\u03ac\u03bc\u03bc\u03b1\u03c4\u03b1",
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u0648\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0932\u093f\u0916\u093e",
    "Emoji \U0001f600\U0001f603 \U0001f389 and \U0001f44d\U0001f3fd",
    "ZWJ family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466, flag \U0001f1eb\U0001f1f7, "
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "zero\u200bwidth\u200bspace and \u00a0nbsp\u00a0and\u3000ideographic",
    "I'm sure you're right, they've said we'll go, it's John's, I'd",
    "DON'T SHOUT, I'M HERE, WE'LL SEE",
    "'quoted' ''double'' ''' it''s",
    "fn main() {\n    let x = vec![1, 2, 3];\n    println!(\"{:?}\", x);\n}\n",
    "def f(a, b):\n\treturn a**2 + b // 3  # comment\n",
    "<html><body class=\"x\">&amp; &lt;</body></html>",
    "https://example.com/path?query=1&b=2#frag user@example.com",
    "$100.00 + \u20ac50 = \u00a3? \u00a5 \u20b9",
    "math: \u2211 x\u00b2 \u2264 \u221e, \u221a2 \u2248 1.414",
    "\u00bfQu\u00e9? \u00a1S\u00ed! \u00abguillemets\u00bb \u201cquotes\u201d \u2018single\u2019 \u2014 dash \u2026",
    "\x00\x01 control chars \x7f\x1b[0m",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "\U0001d54f\U0001d560\U0001d560 math letters \U00010348 gothic \U0001f9ec",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><repo_name>x<|im_end|>",
    "not special: <|im_start or im_end|> <|nope|>",
]

# Cases also encoded with special-token parsing off (control tokens stay plain text).
PLAIN_SPECIAL_CASES = [c for c in CASES if "<|" in c or "<repo_name>" in c]

CONVERSATIONS = {
    "two_turns_default_system": [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "And of Italy?"},
    ],
    "with_system": [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "Colour of the sky?"},
    ],
}


# The pre-tokenizers as llama.cpp lists them: regexes applied in turn, each splitting every
# fragment into matches and the gaps between them. Rebuilt here with `tokenizers`' Split
# (Oniguruma regexes, "isolated" keeps both) to check the Rust word splitter on its own.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
PRE_TOKENIZER_PATTERNS = {
    "gpt2": [GPT2_PATTERN],
    "smollm": [r"\p{N}", GPT2_PATTERN],
    "llama3": [
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
        r"\s*[\r\n]+|\s+(?!\S)|\s+"
    ],
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2_PATTERN, r"\p{N}+", r"[0-9][0-9][0-9]"],
}


def split_words(patterns, text):
    splitter = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns])
    return [word for word, _ in splitter.pre_tokenize_str(text)]


def field_strings(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def field_ints(reader, key):
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def field_scalar(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.parts[field.data[0]]
    if field.types[0] == gguf.GGUFValueType.STRING:
        return bytes(value).decode("utf-8")
    return value[0].item()


def pre_tokenizer_for(name):
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if name == "smollm":
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    if name == "gpt2":
        return byte_level
    if name in ("llama3", "llama-bpe"):
        pattern = (
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
            r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        )
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    raise SystemExit(f"no reference pre-tokenizer for {name!r}")


def main():
    default_model = WORKSPACE / "target" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    model_path = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MOTEOS_MODEL", default_model))
    reader = gguf.GGUFReader(str(model_path))
    if field_scalar(reader, "tokenizer.ggml.model") != "gpt2":
        raise SystemExit("this reference rebuilds byte-level BPE (tokenizer.ggml.model = gpt2) only")

    tokens = field_strings(reader, "tokenizer.ggml.tokens")
    merges = field_strings(reader, "tokenizer.ggml.merges")
    token_types = field_ints(reader, "tokenizer.ggml.token_type")
    pre = field_scalar(reader, "tokenizer.ggml.pre")
    template = field_scalar(reader, "tokenizer.chat_template")
    bos = tokens[field_scalar(reader, "tokenizer.ggml.bos_token_id")]
    eos = tokens[field_scalar(reader, "tokenizer.ggml.eos_token_id")]

    vocab = {text: i for i, text in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges], fuse_unk=False)
    tok = tokenizers.Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizer_for(pre)
    tok.decoder = decoders.ByteLevel()
    specials = [tokenizers.AddedToken(tokens[i], special=True, normalized=False)
                for i, kind in enumerate(token_types) if kind == CONTROL]
    tok.add_special_tokens(specials)

    def encode(text, parse_special):
        tok.encode_special_tokens = not parse_special
        ids = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        return ids

    cases = [{"text": t, "parse_special": True, "ids": encode(t, True)} for t in CASES]
    cases += [{"text": t, "parse_special": False, "ids": encode(t, False)} for t in PLAIN_SPECIAL_CASES]

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    compiled = env.from_string(template)
    chats = []
    for name, messages in CONVERSATIONS.items():
        rendered = compiled.render(messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
        chats.append({"name": name, "messages": messages, "rendered": rendered, "ids": encode(rendered, True)})

    words = {name: [split_words(patterns, t) for t in CASES] for name, patterns in PRE_TOKENIZER_PATTERNS.items()}

    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    fixture = {
        "generated_by": "crates/inference/reference/tokenizer_reference.py",
        "reference": f"gguf {metadata.version('gguf')} + "
        f"tokenizers {tokenizers.__version__} + jinja2 {jinja2.__version__}",
        "model_file": model_path.name,
        "model_sha256": digest,
        "pre_tokenizer": pre,
        "cases": cases,
        "chats": chats,
        "pre_tokenizer_words": {"texts": CASES, **words},
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases and {len(chats)} conversations to {OUTPUT}")


if __name__ == "__main__":
    main()
