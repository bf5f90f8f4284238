"""The persistent repository graph and symbol-level context, side by side with the file-level
ranking before it. Run: `python benches/bench_context_graph.py [REPO] [--files N]
[--baseline REV] [--json F]` (default REPO: this Python's standard library, site-packages left
out; --baseline: the git revision whose context/builder.py ranks whole files, 617eee6).

Measured, on one loaded graph and one tokenizer, for three builders: ``joint`` (definitions
scored by their own rank in the file+definition graph, the default), ``symbol`` (the same
packing, definitions scored by their file's rank over the files alone: ``ranking="file"``)
and ``file`` (the builder of --baseline, whole files):
- graph build, save size, load, and incremental update (no change; 20 files changed, simulated
  by forgetting their stored hashes and stamps so that they are parsed again);
- context latency per call (p50, p99) over the sampled files, the graph loaded from disk;
- recall of the definitions a file uses at 1,000 and 2,000 tokens: for each sampled file with
  in-repo imports, the (file, name) pairs it imports by name (re-exports followed) plus the
  top-level definitions of imported modules it references (``mod.attr``); recall is the share
  with an item of that name from that file in the context;
- for files with no in-repo imports, the share of the budget given to definitions the file
  does not reference (target: none).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from codemill import CodeTokenizer
from codemill.context.builder import ContextBuilder
from codemill.context.graph import ImportGraph
from codemill.context.relevance import is_test

STDLIB = Path(sysconfig.get_paths()["stdlib"])
BUDGETS = (1000, 2000)


def baseline_builder(rev: str) -> Any:
    """The ContextBuilder class of ``rev`` (file-level ranking), run on today's graph."""
    source = subprocess.run(
        ["git", "show", f"{rev}:python/codemill/context/builder.py"], capture_output=True, check=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_builder.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_builder", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_builder"] = module
    spec.loader.exec_module(module)
    return module.ContextBuilder


class _FileRanked:
    """The graph as the file-level builder of --baseline sees it: its ranking over the files
    alone, as it was when that builder was written."""

    def __init__(self, graph: ImportGraph) -> None:
        self._graph = graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)

    def rank(self, seeds: Any) -> dict[str, float]:
        return self._graph.rank(seeds, joint=False)


def used_definitions(graph: ImportGraph, rel: str) -> set[tuple[str, str]]:
    """(file, name) pairs of repository definitions ``rel`` uses through its imports."""
    refs = graph.symbols[rel].references
    need: set[tuple[str, str]] = set()
    for imp, res in graph.resolutions[rel]:
        if not (res.in_repo and res.resolved):
            continue
        for name, f in res.definitions:
            if f != rel and any(d.name == name and d.parent is None for d in graph.symbols[f].definitions):
                need.add((f, name))
        if imp.alias or not imp.names:  # `import mod`: what of mod the file references
            for f in res.files:
                defs = graph.symbols[f].definitions if f != rel else ()
                need.update((f, d.name) for d in defs if d.parent is None and d.name in refs)
    return need


def recall(ctx: Any, need: set[tuple[str, str]]) -> int:
    got = {(i.path, i.name.rsplit(".", 1)[-1]) for i in ctx.items} | {(i.path, i.name) for i in ctx.items}
    return len(need & got)


def unreferenced_share(ctx: Any, refs: frozenset[str], budget: int) -> float:
    spent = sum(i.tokens for i in ctx.items if i.name.rsplit(".", 1)[-1] not in refs)
    return spent / budget


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", nargs="?", default=str(STDLIB))
    ap.add_argument("--files", type=int, default=150, help="files sampled per measure (150)")
    ap.add_argument("--baseline", default="617eee6", help="git revision of the file-level builder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="F")
    args = ap.parse_args(argv)
    exclude = ["site-packages"] if Path(args.repo) == STDLIB else []
    out: dict[str, Any] = {
        "repo": args.repo,
        "python": sys.version.split()[0],
        "machine": platform.platform(),
        "versions": {p: version(p) for p in ("tree-sitter", "tree-sitter-python", "networkx")},
    }

    t = time.perf_counter()
    graph = ImportGraph.build(args.repo, exclude=exclude)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "graph.json"
        t = time.perf_counter()
        graph.save(saved)
        save_s = time.perf_counter() - t
        size = saved.stat().st_size
        t = time.perf_counter()
        loaded = ImportGraph.load(saved)
        load_s = time.perf_counter() - t
    t = time.perf_counter()
    loaded.update()
    update_none_s = time.perf_counter() - t
    for rel in random.Random(args.seed).sample(sorted(loaded.hashes), 20):
        loaded.hashes[rel] = "changed"
        loaded.stamps.pop(rel, None)  # else the unchanged stamp keeps the file from being read
    t = time.perf_counter()
    report = loaded.update()
    update_20_s = time.perf_counter() - t
    out["graph"] = {
        "files": len(graph.files),
        "build_s": round(build_s, 3),
        "save_s": round(save_s, 3),
        "bytes": size,
        "load_s": round(load_s, 3),
        "update_unchanged_s": round(update_none_s, 3),
        "update_20_changed_s": round(update_20_s, 3),
        "update_reparsed": report.changed,
    }
    print(
        f"graph: {len(graph.files)} files, build {build_s:.2f}s, save {save_s:.2f}s ({size / 1e6:.1f} MB), "
        f"load {load_s:.3f}s, update: nothing changed {update_none_s:.2f}s, 20 files changed {update_20_s:.2f}s"
    )

    tok = CodeTokenizer.default()
    new = ContextBuilder(loaded, tok)
    symbol = ContextBuilder(loaded, tok, ranking="file")
    old = baseline_builder(args.baseline)(_FileRanked(loaded), tok)
    files = sorted(f for f in loaded.files if not is_test(f) and "/idle_test/" not in f)
    random.Random(args.seed).shuffle(files)
    with_imports = [f for f in files if used_definitions(loaded, f)][: args.files]
    without = [
        f
        for f in files
        if not any(r.in_repo and r.resolved for _, r in loaded.resolutions[f]) and loaded.symbols[f].definitions
    ][: args.files]

    latencies = []
    for f in with_imports + without:
        t = time.perf_counter()
        new.context(f, 2000)
        latencies.append(time.perf_counter() - t)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    out["latency_ms"] = {"calls": len(latencies), "p50": round(1000 * p50, 1), "p99": round(1000 * p99, 1)}
    print(f"context latency at 2000 tokens, loaded graph: p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms")

    for budget in BUDGETS:
        row: dict[str, Any] = {}
        for name, builder in (("joint", new), ("symbol", symbol), ("file", old)):
            hit = total = 0
            over = 0
            t = time.perf_counter()
            for f in with_imports:
                need = used_definitions(loaded, f)
                ctx = builder.context(f, budget)
                over += ctx.tokens > budget
                hit += recall(ctx, need)
                total += len(need)
            spent = 0.0
            for f in without:
                ctx = builder.context(f, budget)
                over += ctx.tokens > budget
                spent += unreferenced_share(ctx, loaded.symbols[f].references, budget)
            row[name] = {
                "recall": round(hit / max(total, 1), 4),
                "needed": total,
                "unreferenced_share_no_imports": round(spent / max(len(without), 1), 4),
                "over_budget": over,
                "ms_per_call": round(1000 * (time.perf_counter() - t) / max(len(with_imports) + len(without), 1), 1),
            }
        out[f"budget_{budget}"] = row
        print(
            f"@{budget} tokens, {len(with_imports)} files ({row['joint']['needed']} definitions needed), "
            f"{len(without)} files without in-repo imports:"
        )
        for name, r in row.items():
            print(
                f"  {name:>6}: recall of used definitions {100 * r['recall']:.1f}%, budget share on unreferenced "
                f"code {100 * r['unreferenced_share_no_imports']:.1f}%, over budget {r['over_budget']}, "
                f"{r['ms_per_call']} ms/call"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
