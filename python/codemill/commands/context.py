"""`codemill context | graph | ask`: repository context, the import graph and the assistant."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from codemill.commands._common import positive_float, positive_int, text
from codemill.errors import InputNotFoundError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "context",
        help="the most relevant code of the repository for a file, within a token budget",
        description="Print the code FILE depends on: the definitions it references first, then the "
        "rest of the files it imports, then code further along its imports ranked by personalised "
        "PageRank (signatures and docstrings first, bodies when the budget allows), each labelled "
        "with its path and lines. With --index, the repository graph saved by `codemill index` is "
        "loaded instead of parsing the repository.",
    )
    p.add_argument("file", metavar="FILE", nargs="?")
    p.add_argument("--index", metavar="INDEXDIR", help="an index directory (codemill index) holding the graph")
    p.add_argument(
        "--serve",
        action="store_true",
        help="with --index, no FILE: answer requests from stdin, one JSON line each "
        '({"file": PATH, "budget": N, "query": TEXT, "id": ANY}), one JSON line out each, keeping the graph '
        "and tokenizer loaded (for editors and agents; the graph is reloaded when the index rewrites it)",
    )
    p.add_argument("--query", metavar="TEXT", type=text, help="a question: the definitions it names join the context")
    p.add_argument("--repo", metavar="DIR", help="repository root (default: found from FILE: .git, project files)")
    p.add_argument("--budget", type=positive_int, default=2000, help="tokens, counted with --tokenizer (2000)")
    p.add_argument(
        "--tokenizer",
        help="tokenizer the budget is counted with: codemill JSON, tokenizer.json (or its directory) or .tiktoken "
        "rank file (default: the bundled codemill-code-32k)",
    )
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="paths to leave out (repeatable)")
    p.add_argument("--json", action="store_true", help="print items, ranks and text as JSON")
    p.set_defaults(func=_context)

    p = sub.add_parser(
        "graph",
        help="the import graph of a repository",
        description="Extract every file's imports with tree-sitter, resolve them to files of the "
        "repository (external imports become external nodes) and report the graph.",
    )
    p.add_argument("repo", metavar="REPO")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="nodes, edges, statistics and unresolved imports")
    fmt.add_argument("--dot", action="store_true", help="Graphviz DOT")
    p.add_argument("--externals", action="store_true", help="with --dot: draw external nodes too")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="paths to leave out (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_graph)

    p = sub.add_parser(
        "ask",
        help="ask a question about a repository (retrieval + file context + any chat endpoint)",
        description="Retrieve snippets from a hybrid index, add the repository context of --file, "
        "build a prompt within the model's context window and send it to an OpenAI-compatible "
        "chat-completions endpoint, streaming the answer. Without --endpoint, print the prompt "
        "and its sources. The API key is read from the environment variable --api-key-env.",
    )
    p.add_argument("question", type=text)
    p.add_argument("--index", required=True, metavar="INDEXDIR", help="a hybrid index directory (codemill index)")
    p.add_argument("--file", metavar="F", help="the file being worked on: its context joins the prompt")
    p.add_argument("--repo", metavar="DIR", help="repository root for --file (default: found from the file)")
    p.add_argument("--endpoint", metavar="URL", help="chat-completions endpoint, e.g. http://localhost:8000/v1")
    p.add_argument("--model", metavar="NAME", help="model name sent to the endpoint")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR", help="environment variable with the key")
    p.add_argument(
        "--context-window", type=positive_int, default=8192, help="the model's context length in tokens (8192)"
    )
    p.add_argument("--max-tokens", type=positive_int, default=1024, help="tokens kept for the answer (1024)")
    p.add_argument(
        "--tokenizer",
        help="the model's tokenizer, to count the prompt with: codemill JSON, tokenizer.json (or its "
        "directory) or .tiktoken rank file (default: the bundled codemill-code-32k)",
    )
    p.add_argument("-k", type=positive_int, default=8, help="snippets to retrieve (8)")
    p.add_argument("--timeout", type=positive_float, default=120.0, help="seconds to wait for the endpoint (120)")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="wait for the whole answer")
    p.add_argument("--json", action="store_true", help="print prompt, sources (and answer) as JSON")
    p.set_defaults(func=_ask)


def _tokenizer(args: argparse.Namespace) -> Any:
    """The tokenizer named by --tokenizer (any format the shared loader reads), or None for the
    bundled one."""
    if args.tokenizer is None:
        return None
    from codemill.tokenizer import load_tokenizer

    return load_tokenizer(args.tokenizer)


def _context(args: argparse.Namespace) -> int:
    from codemill.context.builder import ContextBuilder
    from codemill.context.graph import find_repo_root

    if args.serve:
        return _serve(args)
    if args.file is None:
        raise UsageError("context needs FILE (or --serve with --index)")
    path = Path(args.file)
    _check_file(args.file, "FILE")
    if args.index:
        from codemill.context.graph import ImportGraph
        from codemill.context.graph_store import GRAPH_FILE

        graph = ImportGraph.load(Path(args.index) / GRAPH_FILE)
        root = graph.root
        builder = ContextBuilder(graph, _tokenizer(args))
    else:
        root = Path(args.repo) if args.repo else find_repo_root(path)
        builder = ContextBuilder.for_repo(root, _tokenizer(args), exclude=args.exclude)
    ctx = builder.context(path.resolve(), args.budget, query=args.query)
    if args.json:
        print(json.dumps({"repo": str(root), **ctx.to_dict()}, indent=1))
    else:
        sys.stdout.write(ctx.text)
        print(
            f"# {ctx.file}: {len(ctx.items)} pieces from {len(ctx.files())} files, {ctx.tokens}/{ctx.budget} tokens",
            file=sys.stderr,
        )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from codemill.context.server import ContextServer

    if not args.index:
        raise UsageError("--serve needs --index (the graph `codemill index` saved)")
    if args.file is not None or args.query or args.repo or args.json:
        raise UsageError("--serve takes its files, budgets and questions from the requests on stdin")
    server = ContextServer(args.index, _tokenizer(args), budget=args.budget)
    print(f"# serving context for {server.builder().graph.root}: one JSON request per line", file=sys.stderr)
    server.serve(sys.stdin, sys.stdout)
    return 0


def _check_file(name: str, what: str) -> None:
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"{name}: is a directory; {what} names the file being worked on")
    if not path.is_file():
        raise InputNotFoundError(f"{name}: no such file")


def _graph(args: argparse.Namespace) -> int:
    from codemill.context.graph import ImportGraph
    from codemill.progress import Progress

    if args.externals and not args.dot:
        raise UsageError("--externals draws external nodes in --dot's graph; give --dot too")
    if Path(args.repo).is_file():  # (said "no such directory")
        raise UsageError(f"{args.repo}: is a file; graph takes the repository's directory")
    # As `codemill index` shows the same step: parsing a large repository takes seconds.
    with Progress("repository graph", enabled=not args.no_progress and not args.json) as bar:
        bar.update(0, force=True)
        graph = ImportGraph.build(args.repo, exclude=args.exclude)
        bar.detail = f"{len(graph.files)} files"
    if args.json:
        print(json.dumps(graph.to_dict(), indent=1))
    elif args.dot:
        sys.stdout.write(graph.to_dot(externals=args.externals))
    else:
        s = graph.stats()
        # The same edge count as --json's "edges": those to external nodes are edges too.
        external = sum(1 for out in graph.edges().values() for t in out if t.startswith("external:"))
        print(
            f"{s.files} files, {s.edges + external} edges ({s.edges} between files, {external} to "
            f"{s.external_nodes} external nodes); {s.imports} imports, "
            f"{s.in_repo_imports} in the repository, {s.resolved_imports} resolved "
            f"({100 * s.resolved_share:.1f}%) in {s.seconds:.2f}s"
        )
        for lang, d in s.by_language.items():
            share = d.get("resolved", 0) / d["in_repo"] if d.get("in_repo") else 1.0
            print(
                f"  {lang}: {d['imports']} imports, {d.get('in_repo', 0)} in repo, "
                f"{d.get('resolved', 0)} resolved ({100 * share:.1f}%), {d.get('external', 0)} external"
            )
        indeg: dict[str, int] = {}
        for out in graph.edges().values():
            for t in out:
                if not t.startswith("external:"):
                    indeg[t] = indeg.get(t, 0) + 1
        top = sorted(indeg.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        if top:
            print("most imported: " + ", ".join(f"{f} ({n})" for f, n in top))
        unresolved = graph.unresolved()
        for f, imp in unresolved[:10]:
            print(f"  unresolved: {f}:{imp.line} {'.' * imp.level}{imp.module}")
        if len(unresolved) > 10:
            print(f"  ... and {len(unresolved) - 10} more unresolved (see --json)")
        if s.skipped:
            print(f"skipped: {s.skipped}")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from codemill.context.assistant import CodeAssistant
    from codemill.context.chat import ChatClient
    from codemill.context.retrieval import IndexRetriever

    if args.file:
        _check_file(args.file, "--file")
    if args.max_tokens >= args.context_window:
        raise UsageError(
            f"--max-tokens {args.max_tokens} leaves no room for the prompt in --context-window "
            f"{args.context_window}; give the model's real context length or fewer answer tokens"
        )
    if args.endpoint and not args.model:
        raise UsageError("--endpoint needs --model")
    retriever = IndexRetriever.load(args.index)
    context = None
    if args.file and not args.repo:
        from codemill.context.builder import ContextBuilder
        from codemill.context.graph import ImportGraph
        from codemill.context.graph_store import GRAPH_FILE

        saved = Path(args.index) / GRAPH_FILE
        if saved.is_file():
            context = ContextBuilder(ImportGraph.load(saved), _tokenizer(args))
    client = None
    if args.endpoint:
        client = ChatClient(args.endpoint, args.model, api_key_env=args.api_key_env, timeout=args.timeout)
    assistant = CodeAssistant(
        retriever,
        client=client,
        context=context,
        repo=args.repo,
        tokenizer=_tokenizer(args),
        context_window=args.context_window,
        max_answer_tokens=args.max_tokens,
        k=args.k,
    )
    current = Path(args.file).resolve() if args.file else None
    if client is None:
        prompt = assistant.build_prompt(args.question, current)
        if args.json:
            print(json.dumps(prompt.to_dict(), indent=1))
        else:
            for m in prompt.messages:
                print(f"--- {m['role']} ---\n{m['content']}\n")
            _print_sources(prompt.sources, prompt.tokens, prompt.budget)
        return 0
    import asyncio  # here, not at the top: a context call need not pay for importing it

    return asyncio.run(_ask_endpoint(assistant, args, current))


async def _ask_endpoint(assistant: Any, args: argparse.Namespace, current: Path | None) -> int:
    if args.json or not args.stream:
        answer = await assistant.answer(args.question, current)
        if args.json:
            print(json.dumps(answer.to_dict(), indent=1))
            return 0
        print(answer.text)
    else:
        shown = []

        def show(piece: str) -> None:
            shown.append(True)
            sys.stdout.write(piece)
            sys.stdout.flush()

        try:
            answer = await assistant.answer(args.question, current, on_token=show)
        except BaseException:
            if shown:
                print()  # an error that cut the answer short says so on a line of its own
            raise
        print()
    _print_sources(answer.sources, answer.prompt.tokens, answer.prompt.budget)
    return 0


def _print_sources(sources: list[Any], tokens: int, budget: int) -> None:
    print(f"sources ({tokens}/{budget} prompt tokens):")
    for s in sources:
        print(f"  [{s.kind}] {s.label}")
