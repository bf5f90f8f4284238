"""`codemill index` and `codemill search`: the hybrid (dense + keyword) code index."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemill.commands._common import add_overwrite, positive_int, probability, text
from codemill.errors import UsageError
from codemill.index.modes import FUSIONS, MODES

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "index",
        help="build or update a hybrid (dense + BM25) index of a repository",
        description="Chunk a repository with tree-sitter, embed the chunks and build FAISS + BM25 "
        "indexes in INDEXDIR, with the repository graph (imports and symbols) that `codemill context` "
        "and `codemill ask` load from it. Run again on an existing INDEXDIR to update both: only files "
        "whose content changed are re-embedded and re-parsed, deleted files are dropped.",
    )
    p.add_argument("repo", metavar="REPO", help="repository directory")
    p.add_argument("-o", "--output", required=True, metavar="INDEXDIR")
    p.add_argument(
        "--embedder",
        default=None,
        help="builtin (default), builtin:DIM, onnx:DIR (model.onnx + tokenizer.json), st-dir:DIR "
        "(a sentence-transformers directory, BERT family, run without torch) or sentence-transformers:NAME",
    )
    p.add_argument("--max-lines", type=positive_int, default=None, help="longest chunk in lines (80)")
    p.add_argument("--threads", type=positive_int, default=None, help="embedding threads (all cores)")
    p.add_argument("--rebuild", action="store_true", help="build from scratch even if INDEXDIR holds an index")
    p.add_argument(
        "--replace-source",
        action="store_true",
        help="let an index of another repository become an index of REPO (refused by default)",
    )
    add_overwrite(p, "INDEXDIR")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_index)

    s = subparsers.add_parser(
        "search",
        help="search a hybrid code index",
        description="Search INDEXDIR (built by `codemill index`) for QUERY. When QUERY names an "
        "identifier (parse_config, getUserById, HybridIndex, Cart.total, or anything in backticks), "
        "the chunks that define it come first, found through the repository graph kept with the index.",
    )
    s.add_argument("index", metavar="INDEXDIR")
    s.add_argument("query", metavar="QUERY", type=text)
    s.add_argument("-k", type=positive_int, default=10, help="results (10)")
    s.add_argument("--mode", default="hybrid", choices=MODES)
    s.add_argument(
        "--fusion",
        default=None,
        choices=FUSIONS,
        help="hybrid fusion (the embedder's: rrf k=60 built-in, weighted for trained models)",
    )
    s.add_argument(
        "--dense-weight",
        type=probability,
        default=None,
        help="dense share in hybrid fusion (the embedder's: 0.5 built-in, more for trained models)",
    )
    s.add_argument("--json", action="store_true", help="print results as JSON")
    s.set_defaults(func=run_search)


def run_index(args: argparse.Namespace) -> int:
    from codemill.context.graph_store import GRAPH_FILE
    from codemill.index.hybrid import HybridIndex, is_index_dir

    out = Path(args.output)
    start = time.perf_counter()
    kw = {} if args.max_lines is None else {"max_lines": args.max_lines}
    from codemill.outputs import check_output
    from codemill.progress import Progress

    if not Path(args.repo).is_dir():
        raise UsageError(f"{args.repo}: not a directory; REPO names the repository to index")
    # Refused before the embedding work, not after it (save checks again).
    check_output(out, command="index", kind="dir", is_ours=is_index_dir, inputs=[args.repo], overwrite=args.overwrite)
    embedder: Any = args.embedder
    saved: dict[str, Any] = {}
    if is_index_dir(out):
        from codemill.errors import IndexFormatError
        from codemill.index.hybrid import check_source
        from codemill.index.persistence import read_meta

        with contextlib.suppress(IndexFormatError):  # loading it says why
            saved = read_meta(out)
        # A rebuild (--rebuild, another embedder or chunk size) replaces the index too.
        check_source(saved.get("root"), Path(args.repo), args.replace_source or args.overwrite)
    update = is_index_dir(out) and not args.rebuild
    changed = []
    if update:
        from codemill.index.embed import make_embedder

        if embedder is not None:
            embedder = make_embedder(embedder, args.threads)
            if saved.get("embedder") not in (None, embedder.spec):
                changed.append(f"embedder {saved['embedder']} -> {embedder.spec}")
        if args.max_lines is not None and saved.get("max_lines") not in (None, args.max_lines):
            changed.append(f"max_lines {saved['max_lines']} -> {args.max_lines}")
    if update and not changed:
        index = HybridIndex.load(out, embedder, num_threads=args.threads)
        report = index.update(
            args.repo,
            progress=args.progress and not args.json,
            replace_source=args.replace_source or args.overwrite,
        )
        action = "updated"
    else:
        # Another embedder's vectors (a space of their own, even of the same size) or other
        # chunks cannot be kept: the update kept both for unchanged files before.
        index = HybridIndex(embedder, num_threads=args.threads, **kw)
        report = index.update(args.repo, progress=args.progress and not args.json)
        action = f"rebuilt ({'; '.join(changed)})" if changed else "built"
    with Progress("repository graph", enabled=args.progress and not args.json) as bar:
        bar.update(0, force=True)
        graph, graph_action = _graph(out / GRAPH_FILE, args.repo, rebuild=action != "updated")
        bar.detail = f"{len(graph.files)} files {graph_action}"
    index.save(out, {GRAPH_FILE: graph.dumps()}, overwrite=args.overwrite)
    seconds = time.perf_counter() - start
    summary = {
        "action": action,
        "index": str(out),
        "embedder": index.embedder.spec,
        "total_chunks": len(index),
        "total_files": len(index.files),
        "seconds": round(seconds, 3),
        **report.to_dict(),
        "graph": {"action": graph_action, "files": len(graph.files), "seconds": round(graph.seconds, 3)},
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(
            f"{action} {out}: {len(index.files)} files, {len(index)} chunks "
            f"({report.chunks} chunks indexed, {report.embedded} embedded, {report.unchanged} files unchanged, "
            f"{report.removed_files} removed) in {seconds:.1f}s with {index.embedder.spec}"
        )
        for item in report.skips.items:
            print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    return 0


def _graph(path: Path, repo: str, rebuild: bool) -> tuple[ImportGraph, str]:
    """The repository graph kept with the index: the saved one brought up to date, or a new one
    (first build, --rebuild, another repository, or a graph that cannot be read)."""
    from codemill.context.graph import ImportGraph
    from codemill.errors import GraphFormatError

    if not rebuild and path.is_file():
        try:
            graph = ImportGraph.load(path)
        except GraphFormatError as exc:
            print(f"rebuilding the repository graph: {exc}", file=sys.stderr)
        else:
            if graph.root.resolve() == Path(repo).resolve():
                graph.update()
                return graph, "updated"
    return ImportGraph.build(repo), "built"


def run_search(args: argparse.Namespace) -> int:
    from codemill.index.hybrid import HybridIndex

    index = HybridIndex.load(args.index)
    results = index.search(args.query, k=args.k, mode=args.mode, fusion=args.fusion, dense_weight=args.dense_weight)
    results = _definitions_first(Path(args.index), index, args.query, results, args.k)
    if args.json:
        print(json.dumps({"query": args.query, "mode": args.mode, "results": [r.to_dict() for r in results]}, indent=1))
        return 0
    if not results:
        print(f"no matches for {args.query!r} in {args.index} ({len(index)} chunks)")
        return 0
    for n, r in enumerate(results, 1):
        c = r.chunk
        name = f" {c.symbol}" if c.symbol else ""
        named = " (named)" if r.named else ""
        print(f"{n:3}. {r.score:.4f} {c.path}:{c.start_line}-{c.end_line} [{c.kind}]{name}{named}")
    return 0


def _definitions_first(directory: Path, index: Any, query: str, results: list[Any], k: int) -> list[Any]:
    """The search results with the definitions the query names first (`named_first_in`);
    without a readable graph, the results as they are, said on stderr."""
    from codemill.context.lookup import named_first_in

    results, note = named_first_in(directory, index, query, results, k)
    if note is not None:
        print(f"codemill search: definitions not looked up: {note} (`codemill index` rebuilds it)", file=sys.stderr)
    return results
