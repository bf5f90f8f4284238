"""`codemill bench`: codemill side by side with tiktoken, HF tokenizers and pure-Python BPE."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codemill.commands._common import add_overwrite, non_negative_int, positive_int
from codemill.errors import InputNotFoundError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="compare codemill's speed and token counts with peer tokenizers")
    p.add_argument("paths", nargs="+", help="code files or directories to encode")
    p.add_argument("--tokenizer", help="tokenizer under test (default: the bundled one)")
    p.add_argument(
        "--train-on",
        nargs="+",
        default=[],
        metavar="PATH",
        help="also train HF (GPT-4 regex) and codemill on these files at the same vocab size",
    )
    p.add_argument(
        "--peer", nargs="+", default=[], metavar="FILE", help="HF tokenizer.json or tiktoken rank files to compare too"
    )
    p.add_argument("--repeat", type=non_negative_int, default=3, help="timed passes after the first (median)")
    p.add_argument("--max-bytes", type=positive_int, default=2_000_000, help="bytes read per language")
    p.add_argument("--no-tiktoken", action="store_true")
    p.add_argument("--no-python", action="store_true", help="skip the (slow) pure-Python BPE")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart")
    add_overwrite(p, "the --plot file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from codemill.bench.benchmark import format_benchmark, is_benchmark_plot, plot_benchmark, run_benchmark
    from codemill.outputs import check_output
    from codemill.tokenizer import load_tokenizer

    for p in [*args.paths, *args.train_on]:
        if not Path(p).exists():
            raise InputNotFoundError(f"{p}: no such file or directory")
    if args.plot is not None:  # refused before the (long) benchmark, not after it
        if not args.plot:
            raise UsageError("--plot: give the PNG file to write")
        try:
            import matplotlib  # noqa: F401  (imported, not only found: a broken install fails here)
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'codemill[bench]'") from None
        check_output(
            args.plot,
            command="bench",
            kind="file",
            is_ours=is_benchmark_plot,
            inputs=[*args.paths, *args.train_on],
            overwrite=args.overwrite,
        )
    report = run_benchmark(
        args.paths,
        load_tokenizer(args.tokenizer),
        train_on=args.train_on,
        peers=args.peer,
        repeat=args.repeat,
        max_bytes_per_language=args.max_bytes,
        include_tiktoken=not args.no_tiktoken,
        include_python=not args.no_python,
    )
    if args.plot:
        plot_benchmark(report, args.plot)
    print(json.dumps(report, indent=2) if args.json else format_benchmark(report))
    return 0
