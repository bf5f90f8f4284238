"""`codemill extend`: a model's tokenizer plus the corpus's most useful identifier tokens."""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

from codemill.commands._common import add_overwrite, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extend",
        help="add identifier tokens (ids after the base vocabulary) to a tiktoken / tokenizer.json vocabulary",
    )
    p.add_argument("base", help="base tokenizer: tokenizer.json (or its directory) or tiktoken rank file")
    p.add_argument("corpus", nargs="+", help="files or directories of code")
    p.add_argument(
        "-o", "--output", required=True, help="tokenizer file to write (JSON); NAME.new_tokens.json beside it"
    )
    p.add_argument("--identifiers", type=positive_int, default=4096, help="identifier tokens to add (4096)")
    p.add_argument("--min-count", type=positive_int, default=2)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--pattern", help="split pattern of a tiktoken rank file (name or regex; default: recognised)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_overwrite(p, "the output file and the new-token file beside it")
    p.set_defaults(func=_extend)


def _extend(args: argparse.Namespace) -> int:
    from codemill.outputs import check_output, file_says
    from codemill.tokenizer import load_tokenizer
    from codemill.tokenizer.base import FORMAT
    from codemill.tokenizer.extend import extend, init_file, save_extended

    for p in [args.base, *args.corpus]:
        if not Path(p).exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
    # Refused before reading the corpus: what it writes replaces only its own earlier outputs.
    for out, marker in ((args.output, f'"{FORMAT}"'.encode()), (init_file(args.output), b'"new_tokens"')):
        check_output(
            out,
            command="extend",
            kind="file",
            is_ours=partial(file_says, marker=marker),
            inputs=[args.base, *args.corpus],
            overwrite=args.overwrite,
        )
    t = time.perf_counter()
    base = load_tokenizer(args.base, args.pattern)
    tok = extend(
        base, [Path(p) for p in args.corpus], args.identifiers, min_count=args.min_count, num_threads=args.threads
    )
    init = save_extended(tok, args.output)
    summary = {
        "output": args.output,
        "new_tokens": str(init),
        "base_vocab_size": tok.base_vocab_size,
        "vocab_size": tok.vocab_size,
        **tok.metadata["extension"],
        "seconds": round(time.perf_counter() - t, 2),
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print(
            f"wrote {args.output}: {summary['added']} identifier tokens after {tok.base_vocab_size} base ids "
            f"(new rows' base ids in {init}) in {summary['seconds']}s"
        )
    return 0
