"""Base vocabularies on the benchmark corpus (benches/corpus.py, all eight languages):

1. Exactness: codemill's ids vs tiktoken (cl100k_base, o200k_base, p50k_base) and HF
   tokenizers (DeepSeek-V3 tokenizer.json) on every held-back file of each language.
2. Identifier extension: tokens saved against the base on held-back files of each language,
   extending with N = 1k, 4k, 16k identifier tokens learned from the training files.

    python benches/base_vocab_report.py [--train-mb 4] [--test-mb 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "tokenizer"))

import corpus
from base_data import LITELLM_TIKTOKEN, cl100k_file, deepseek_v3_file, litellm_file
from codemill import CodeTokenizer, _core
from codemill.tokenizer.extend import extend
from codemill.tokenizer.tiktoken_files import ENCODINGS, read_ranks


def exactness(test: dict[str, list[tuple[str, str, str]]]) -> dict[str, dict[str, str]]:
    import tiktoken
    import tokenizers

    out: dict[str, dict[str, str]] = {}
    pairs = []
    for name in ("cl100k_base", "o200k_base", "p50k_base"):
        f = cl100k_file() if name == "cl100k_base" else litellm_file(LITELLM_TIKTOKEN[name])
        if f is None:
            continue
        ranks = {t: i for i, t in enumerate(read_ranks(f)) if t is not None}
        pat = dict(_core.BaseTokenizer.split_patterns())[ENCODINGS[name][1]]
        enc = tiktoken.Encoding(name, pat_str=pat, mergeable_ranks=ranks, special_tokens={})
        pairs.append((name, CodeTokenizer.from_tiktoken(f), enc.encode_ordinary))
    ds = deepseek_v3_file()
    if ds is not None:
        hf = tokenizers.Tokenizer.from_file(str(ds))
        pairs.append(
            ("deepseek-v3", CodeTokenizer.from_huggingface(ds), lambda t: hf.encode(t, add_special_tokens=False).ids)
        )
    for name, ours, theirs in pairs:
        out[name] = {}
        for lang, files in test.items():
            same = sum(ours.encode(text).tolist() == theirs(text) for _, text, _ in files)
            out[name][lang] = f"{same}/{len(files)}"
    return out


def savings(train: dict, test: dict, sizes: list[int]) -> dict[str, dict[str, float]]:
    path = cl100k_file()
    if path is None:
        return {}
    base = CodeTokenizer.from_tiktoken(path)
    corpus_texts = [(text, lang) for files in train.values() for _, text, lang in files]
    base_counts = {lang: sum(len(base.encode(t)) for _, t, _ in files) for lang, files in test.items()}
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        tok = extend(base, corpus_texts, n)
        row = {}
        for lang, files in test.items():
            ids = [tok.encode(t) for _, t, _ in files]
            assert all(tok.decode(i) == t for i, (_, t, _) in zip(ids, files, strict=True))
            row[lang] = round(100 * (1 - sum(len(i) for i in ids) / base_counts[lang]), 2)
        row["all"] = round(
            100 * (1 - sum(len(tok.encode(t)) for fs in test.values() for _, t, _ in fs) / sum(base_counts.values())),
            2,
        )
        out[f"N={n} (added {tok.identifier_vocab_size})"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-mb", type=float, default=4.0)
    ap.add_argument("--test-mb", type=float, default=1.0)
    ap.add_argument("--sizes", default="1024,4096,16384")
    ap.add_argument("--skip-exactness", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    test = corpus.load("test", int(args.test_mb * 1e6))
    report: dict = {"test_files": {lang: len(fs) for lang, fs in test.items()}}
    if not args.skip_exactness:
        report["exactness (files with identical ids)"] = exactness(test)
        print(json.dumps(report, indent=1), flush=True)
    train = corpus.load("train", int(args.train_mb * 1e6))
    report["train_files"] = {lang: len(fs) for lang, fs in train.items()}
    report["tokens saved vs cl100k_base, % (held-back files)"] = savings(
        train, test, [int(s) for s in args.sizes.split(",")]
    )
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
