"""The tokenizer's targets, measured side by side in one run; prints a Markdown report.

    benches/fetch_corpus.sh            # once: the permissively licensed sources
    python benches/compare_tokenizers.py [--vocab-size 16384] [--json out.json]

1. Tokens: codemill vs a byte-level BPE of the same total vocabulary trained on the same data
   with the GPT-4 split regex (HF tokenizers' BpeTrainer), on held-back files of each
   language; plus ablations (identifier vocabulary size, share of line merges).
2. Speed, one thread, on held-back files: codemill (steady and first pass with empty caches),
   tiktoken over codemill's own vocabulary, pure-Python BPE (sampled), the scanner alone.
3. encode_batch on 1 and 2 threads.
4. Pathological inputs (1 MB each): seconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import corpus
from codemill import CodeTokenizer, _core
from codemill.bench import peers as peer_mod


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def token_counts(args) -> dict:
    train = corpus.load("train", args.train_bytes)
    test = corpus.load("test", args.test_bytes)
    texts = [x[1] for files in train.values() for x in files]
    langs = [x[2] for files in train.values() for x in files]
    hf = peer_mod.train_hf_baseline(texts, args.vocab_size)
    base = {lang: sum(len(e.ids) for e in hf.encode_batch([x[1] for x in fs])) for lang, fs in test.items()}
    configs = {
        "codemill (default)": {},
        "identifiers 0": {"identifier_vocab_size": 0},
        "identifiers 256": {"identifier_vocab_size": 256},
        "identifiers 4096": {"identifier_vocab_size": 4096},
        "line merges 25%": {"line_merge_fraction": 0.25},
        "line merges 75%": {"line_merge_fraction": 0.75},
        "no line merges (pieces only)": {"line_merge_fraction": 0.0},
    }
    rows = {}
    for name, kw in configs.items():
        tok = CodeTokenizer.train(list(zip(texts, langs, strict=True)), vocab_size=args.vocab_size, **kw)
        per = {}
        for lang, fs in test.items():
            n = sum(len(tok.encode(x[1], x[2])) for x in fs)
            per[lang] = round(100 * (n / base[lang] - 1), 1)
        total = sum(sum(len(tok.encode(x[1], x[2])) for x in fs) for fs in test.values())
        rows[name] = {"total": round(100 * (total / sum(base.values()) - 1), 1), "languages": per}
    return {
        "vocab_size": args.vocab_size,
        "train_bytes": {k: sum(len(x[1]) for x in v) for k, v in train.items()},
        "test_bytes": {k: sum(len(x[1]) for x in v) for k, v in test.items()},
        "baseline_tokens": base,
        "token_change_vs_gpt4_regex_bpe_percent": rows,
    }


def speed(args) -> dict:
    tok = CodeTokenizer.default()
    test = corpus.load("test", args.test_bytes)
    docs = [(x[1], x[2]) for files in test.values() for x in files]
    mb = sum(len(t.encode()) for t, _ in docs) / 1e6
    enc = peer_mod.tiktoken_encoding(tok)
    js = tok.to_json()
    first = []
    for _ in range(3):
        fresh = CodeTokenizer.from_json(js)
        t = time.perf_counter()
        for d, lang in docs:
            fresh.encode(d, lang)
        first.append(time.perf_counter() - t)
    out = {
        "mb": round(mb, 2),
        "codemill_steady_mb_s": round(mb / timed(lambda: [tok.encode(d, lang) for d, lang in docs]), 1),
        "codemill_first_pass_mb_s": round(mb / statistics.median(first), 1),
        "tiktoken_same_vocab_mb_s": round(mb / timed(lambda: [enc.encode_ordinary(d) for d, _ in docs]), 1),
        "scanner_mb_s": round(mb / timed(lambda: [_core.count_pieces(d, lang) for d, lang in docs]), 1),
    }
    py = peer_mod.PurePythonBpe(peer_mod.codemill_ranks(tok))
    sample = docs[:12]
    smb = sum(len(t.encode()) for t, _ in sample) / 1e6
    py_s = timed(lambda: [py.encode(t) for t, _ in sample], 1)
    cm_s = timed(lambda: [tok.encode(t, lang) for t, lang in sample])
    out["pure_python_mb_s"] = round(smb / py_s, 2)
    out["codemill_vs_pure_python_same_sample"] = round(py_s / cm_s, 1)
    texts = [d for d, _ in docs]
    langs = [lang for _, lang in docs]
    for n in (1, 2):
        tok.encode_batch_flat(texts, langs, num_threads=n)  # warm this pool's threads
        out[f"encode_batch_{n}_threads_mb_s"] = round(
            mb / timed(lambda n=n: tok.encode_batch_flat(texts, langs, num_threads=n)), 1
        )
    return out


def pathological() -> dict:
    rng = random.Random(7)
    inputs = {
        "1 MB of one character": "a" * 1_000_000,
        "1 MB identifier": "x" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(999_999)),
        "1 MB of spaces": " " * 1_000_000,
        "1 MB of newlines": "\n" * 1_000_000,
        "deep nesting": "(" * 500_000 + ")" * 500_000,
        "minified JS": ";".join(f"var a{i}=function(b){{return b*{i}+'s{i}'}}" for i in range(25_000)),
        "base64 blob": base64.b64encode(rng.randbytes(750_000)).decode(),
    }
    out = {}
    saved = CodeTokenizer.default().to_json()
    for name, text in inputs.items():
        fresh = CodeTokenizer.from_json(saved)  # a new tokenizer: empty caches, the worst case
        t = time.perf_counter()
        fresh.encode(text, "javascript")
        out[name] = round(time.perf_counter() - t, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-size", type=int, default=16384)
    ap.add_argument("--train-bytes", type=int, default=2_000_000, help="per language")
    ap.add_argument("--test-bytes", type=int, default=400_000, help="per language")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    import tiktoken
    import tokenizers

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "versions": {"tiktoken": tiktoken.__version__, "tokenizers": tokenizers.__version__},
        "tokens": token_counts(args),
        "speed": speed(args),
        "pathological_seconds": pathological(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
