"""`codemill index` and `codemill search`: the hybrid (dense + keyword) code index."""

from __future__ import annotations

import argparse
import json
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "index",
        help="build or update a hybrid (dense + BM25) index of a repository",
        description="Chunk a repository with tree-sitter, embed the chunks and build FAISS + BM25 "
        "indexes in INDEXDIR. Run again on an existing INDEXDIR to update it: only files whose "
        "content changed are re-embedded, deleted files are dropped.",
    )
    p.add_argument("repo", metavar="REPO", help="repository directory")
    p.add_argument("-o", "--output", required=True, metavar="INDEXDIR")
    p.add_argument(
        "--embedder",
        default=None,
        help="builtin (default), builtin:DIM, onnx:DIR (model.onnx + tokenizer.json), st-dir:DIR "
        "(a sentence-transformers directory, BERT family, run without torch) or sentence-transformers:NAME",
    )
    p.add_argument("--max-lines", type=int, default=None, help="longest chunk in lines (80)")
    p.add_argument("--threads", type=int, default=None, help="embedding threads (all cores)")
    p.add_argument("--rebuild", action="store_true", help="build from scratch even if INDEXDIR holds an index")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_index)

    s = subparsers.add_parser(
        "search",
        help="search a hybrid code index",
        description="Search INDEXDIR (built by `codemill index`) for QUERY.",
    )
    s.add_argument("index", metavar="INDEXDIR")
    s.add_argument("query", metavar="QUERY")
    s.add_argument("-k", type=int, default=10, help="results (10)")
    s.add_argument("--mode", default="hybrid", choices=("hybrid", "keyword", "dense"))
    s.add_argument(
        "--fusion",
        default=None,
        choices=("rrf", "weighted"),
        help="hybrid fusion (the embedder's: rrf k=60 built-in, weighted for trained models)",
    )
    s.add_argument(
        "--dense-weight",
        type=float,
        default=None,
        help="dense share in hybrid fusion (the embedder's: 0.5 built-in, more for trained models)",
    )
    s.add_argument("--json", action="store_true", help="print results as JSON")
    s.set_defaults(func=run_search)


def run_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codemill.index.hybrid import HybridIndex

    out = Path(args.output)
    start = time.perf_counter()
    kw = {} if args.max_lines is None else {"max_lines": args.max_lines}
    if (out / "meta.json").is_file() and not args.rebuild:
        index = HybridIndex.load(out, args.embedder, num_threads=args.threads)
        report = index.update(args.repo, progress=args.progress and not args.json)
        action = "updated"
    else:
        index = HybridIndex(args.embedder, num_threads=args.threads, **kw)
        report = index.update(args.repo, progress=args.progress and not args.json)
        action = "built"
    index.save(out)
    seconds = time.perf_counter() - start
    summary = {
        "action": action,
        "index": str(out),
        "embedder": index.embedder.spec,
        "total_chunks": len(index),
        "total_files": len(index.files),
        "seconds": round(seconds, 3),
        **report.to_dict(),
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(
            f"{action} {out}: {len(index.files)} files, {len(index)} chunks "
            f"({report.chunks} chunks indexed, {report.embedded} embedded, {report.unchanged} files unchanged, "
            f"{report.removed_files} removed) in {seconds:.1f}s with {index.embedder.spec}"
        )
        for path, reason in report.skipped_files:
            print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def run_search(args: argparse.Namespace) -> int:
    from codemill.index.hybrid import HybridIndex

    index = HybridIndex.load(args.index)
    results = index.search(args.query, k=args.k, mode=args.mode, fusion=args.fusion, dense_weight=args.dense_weight)
    if args.json:
        print(json.dumps({"query": args.query, "mode": args.mode, "results": [r.to_dict() for r in results]}, indent=1))
        return 0
    if not results:
        print(f"no matches for {args.query!r} in {args.index} ({len(index)} chunks)")
        return 0
    for n, r in enumerate(results, 1):
        c = r.chunk
        name = f" {c.symbol}" if c.symbol else ""
        print(f"{n:3}. {r.score:.4f} {c.path}:{c.start_line}-{c.end_line} [{c.kind}]{name}")
    return 0
