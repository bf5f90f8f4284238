"""Repository context on a real repository: import graph build time and resolution share, and
the recall of budgeted context. Run: `python benches/bench_context.py [REPO] [--files N]
[--budget 2000] [--json F]` (default REPO: this Python's standard library, site-packages left out).

Recall: for each sampled file that imports modules of the repository, the files that define
the names it imports (re-exports followed; for `import mod`, the module's file) are "needed";
recall is the share of needed files with at least one piece in the file's context at the
budget. Empty files (an empty ``__init__.py``) define nothing and are not counted as needed.
Test files are left out of the sample (they import the code under test and little else).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import sysconfig
import time
from importlib.metadata import version
from pathlib import Path

from codemill import CodeTokenizer
from codemill.context.builder import ContextBuilder
from codemill.context.graph import ImportGraph
from codemill.context.relevance import is_test

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def needed_files(graph: ImportGraph, rel: str) -> set[str]:
    need: set[str] = set()
    for _imp, res in graph.resolutions[rel]:
        if not (res.in_repo and res.resolved):
            continue
        need.update(f for _, f in res.definitions) if res.definitions else need.update(res.files)
    need.discard(rel)
    return {f for f in need if (graph.text(f) or "").strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", nargs="?", default=str(STDLIB))
    ap.add_argument("--exclude", action="append", default=None, help="default for the stdlib: site-packages")
    ap.add_argument("--files", type=int, default=300, help="files sampled for recall (300)")
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="F", help="write the results as JSON")
    args = ap.parse_args(argv)
    exclude = args.exclude if args.exclude is not None else (["site-packages"] if Path(args.repo) == STDLIB else [])

    t = time.perf_counter()
    graph = ImportGraph.build(args.repo, exclude=exclude)
    build_s = time.perf_counter() - t
    stats = graph.stats()
    print(
        f"graph: {stats.files} files, {stats.edges} edges, {stats.external_nodes} external nodes in {build_s:.2f}s; "
        f"in-repo imports resolved {stats.resolved_imports}/{stats.in_repo_imports} = {100 * stats.resolved_share:.2f}%"
    )
    for lang, d in stats.by_language.items():
        share = d.get("resolved", 0) / d["in_repo"] if d.get("in_repo") else 1.0
        print(f"  {lang}: {d.get('resolved', 0)}/{d.get('in_repo', 0)} = {100 * share:.2f}%")

    builder = ContextBuilder(graph, CodeTokenizer.default())
    files = sorted(f for f in graph.files if not is_test(f) and "/idle_test/" not in f)
    random.Random(args.seed).shuffle(files)
    hit = total = n = 0
    macro = 0.0
    misses: list[tuple[str, list[str]]] = []
    over = 0
    t = time.perf_counter()
    for f in files:
        need = needed_files(graph, f)
        if not need:
            continue
        ctx = builder.context(f, args.budget)
        over += ctx.tokens > args.budget
        got = need & set(ctx.files())
        hit += len(got)
        total += len(need)
        macro += len(got) / len(need)
        n += 1
        if got != need:
            misses.append((f, sorted(need - got)))
        if n >= args.files:
            break
    ctx_s = (time.perf_counter() - t) / max(n, 1)
    recall = hit / total if total else 1.0
    print(
        f"context @ {args.budget} tokens: {n} files, recall of defining files {hit}/{total} = {100 * recall:.2f}% "
        f"(macro {100 * macro / max(n, 1):.2f}%), over budget: {over}, {1000 * ctx_s:.0f} ms/file"
    )
    for f, missing in misses[:5]:
        print(f"  missed for {f}: {', '.join(missing[:6])}")
    if args.json:
        out = {
            "repo": args.repo,
            "python": sys.version.split()[0],
            "machine": platform.platform(),
            "versions": {p: version(p) for p in ("tree-sitter", "tree-sitter-python", "networkx")},
            "graph": {
                "seconds": round(build_s, 3),
                "stats": {**stats.__dict__, "resolved_share": stats.resolved_share},
            },
            "context": {
                "budget": args.budget,
                "files": n,
                "recall": recall,
                "macro_recall": macro / max(n, 1),
                "over_budget": over,
                "ms_per_file": 1000 * ctx_s,
            },
        }
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0 if over == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
