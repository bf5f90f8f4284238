"""`codemill tokenize`: tokenize code corpora into token shards, or print a per-language report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from codemill.commands._common import add_overwrite, positive_int, special_tokens, write_json
from codemill.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tokenize",
        help="tokenize code trees, JSONL or Parquet into token shards (-o), or print a report",
        description="With -o OUTDIR: write token shards (.npy or Megatron .bin/.idx) and manifest.json; "
        "running the same command again resumes a killed run. Without -o: print a per-language report "
        "(default input: this Python's standard library).",
    )
    p.add_argument("inputs", nargs="*", help="directories, code files, JSONL(.gz/.zst), Parquet")
    p.add_argument("-o", "--output", help="directory for shards and manifest.json (omit for a report only)")
    p.add_argument("--tokenizer", help="tokenizer file (default: the bundled codemill-code-32k)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="workers (default: all cores): processes, or threads of this one for a small input",
    )
    # (None where not given: a report refuses them, and a run takes the job's defaults)
    p.add_argument("--shard-tokens", type=positive_int, default=None, help="tokens per shard (default 100M)")
    p.add_argument("--format", choices=("npy", "megatron"), default=None, help="shard format (default npy)")
    p.add_argument("--engine", choices=("local", "ray"), default=None, help="local processes (default) or Ray")
    p.add_argument("--ray-address", help="Ray cluster address (default: a local Ray)")
    p.add_argument(
        "--task-bytes",
        type=positive_int,
        default=None,
        help="input bytes per task (default: 1/64 of the input, 1-64 MiB)",
    )
    p.add_argument(
        "--max-file-bytes", type=positive_int, default=100 << 20, help="skip larger documents (default 100 MiB)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="encoding threads (a report: default all cores; with -o: per worker, default 1)",
    )
    p.add_argument(
        "--batch-bytes",
        type=positive_int,
        default=None,
        help="bytes read per batch (a report: default 16 MiB; with -o: of a task, default 4 MiB)",
    )
    p.add_argument(
        "--allowed-special",
        type=special_tokens,
        default=None,
        help="'all', 'none' or comma-separated special tokens encoded as themselves where the text holds "
        "them (default: those that `codemill prepare` recorded beside its output, else none)",
    )
    add_overwrite(p, "OUTDIR")
    p.add_argument("--json", action="store_true", help="print the manifest (or report) as JSON")
    p.set_defaults(func=_tokenize)


def _tokenize(args: argparse.Namespace) -> int:
    from codemill.tokenizer import load_tokenizer

    if args.ray_address is not None and args.engine != "ray":
        raise UsageError("--ray-address names the Ray cluster of --engine ray; give that too, or leave it out")
    if args.output is None:
        # A report writes nothing: options of a run's output and engine would pass unheeded.
        run_only = [
            flag
            for flag, value in (
                ("--workers", args.workers),
                ("--shard-tokens", args.shard_tokens),
                ("--format", args.format),
                ("--engine", args.engine),
                ("--task-bytes", args.task_bytes),
                ("--overwrite", args.overwrite or None),
            )
            if value is not None
        ]
        if run_only:
            raise UsageError(f"{', '.join(run_only)}: only for a run with -o OUTDIR (without it, a report)")
        return _report(args, load_tokenizer(args.tokenizer))
    if not args.inputs:
        raise UsageError("no inputs given (with -o, name the directories or files to tokenize)")
    import os

    from codemill.corpus.job import tokenize_corpus

    workers = args.workers or os.cpu_count() or 1
    # Finished tasks are kept (renamed into place), so the same command picks up from there.
    args.resume_hint = "run the same command again to resume"
    manifest = tokenize_corpus(
        args.inputs,
        args.output,
        tokenizer=args.tokenizer,  # loaded by the job while it plans
        workers=workers,
        ray_address=args.ray_address,
        task_bytes=args.task_bytes,
        max_file_bytes=args.max_file_bytes,
        progress=not args.no_progress and not args.json,
        allowed_special=args.allowed_special,
        overwrite=args.overwrite,
        # The job's defaults where not given. Neither batch_bytes nor threads changes a byte of
        # the output: how much of a task is read at once, and how many threads encode it.
        **_given(
            shard_tokens=args.shard_tokens,
            format=args.format,
            engine=args.engine,
            batch_bytes=args.batch_bytes,
            threads_per_worker=args.threads,
        ),
    )
    if args.json:
        write_json(manifest, sys.stdout)
    else:
        print(format_manifest(manifest, args.output))
    return 0


def _given(**options: Any) -> dict[str, Any]:
    """The options given (not None): the others keep the called function's defaults."""
    return {k: v for k, v in options.items() if v is not None}


def format_manifest(m: dict[str, Any], outdir: str) -> str:
    from codemill.corpus.report import language_table

    t = m["totals"]
    lines = language_table(m["languages"], t["documents"], t["bytes"], t["text_tokens"])
    run = m.get("run", {})
    lines.append(
        f"wrote {t['shards']} {m['settings']['format']} shards ({t['tokens']} tokens with end-of-text, "
        f"{m['settings']['dtype']}) to {outdir}; {run.get('tasks_run', 0)} tasks run, "
        f"{run.get('tasks_resumed', 0)} resumed, {run.get('mb_per_s', 0)} MB/s"
    )
    if m["skipped"]:
        lines.append(
            "skipped: " + ", ".join(f"{k} {v}" for k, v in m["skipped"].items()) + " (listed in manifest.json)"
        )
    return "\n".join(lines)


def _report(args: argparse.Namespace, tok: Any) -> int:
    from codemill.corpus.report import format_tokenize_report, tokenize_report

    inputs = args.inputs
    if not inputs:
        inputs = _stdlib_inputs()
    report = tokenize_report(
        tok,
        inputs,
        args.threads,
        max_file_bytes=args.max_file_bytes,
        progress=not args.no_progress and not args.json,
        allowed_special=args.allowed_special,
        **_given(batch_bytes=args.batch_bytes),
    )
    print(json.dumps(report, indent=2) if args.json else format_tokenize_report(report), file=sys.stdout)
    return 0


def _stdlib_inputs() -> list[str]:
    """This Python's standard library; the walk leaves out the third-party packages installed
    inside it (site-packages is a vendored directory to it)."""
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    print(
        f"no inputs given: reading this Python's standard library, {stdlib} (site-packages left out)", file=sys.stderr
    )
    return [stdlib]
