"""`codemill prepare`: fine-tuning data from repositories and corpora."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from codemill.commands._common import (
    add_overwrite,
    comma_list,
    non_negative_int,
    positive_int,
    probability,
    seed,
    write_json,
)
from codemill.errors import CodemillError, ConfigError, UsageError
from codemill.near_dup.config import DedupConfig, Verify
from codemill.outputs import publish_json, same_place, sidecar_name

if TYPE_CHECKING:
    from codemill.finetune.pipeline import PrepareReport

# --dedup-verify's words -> DedupConfig.verify
_VERIFY: dict[str, Verify] = {"borderline": "borderline", "all": True, "none": False}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="clean, dedup and turn code into fine-tuning samples",
        description="Discover code (honouring .gitignore; vendored, build and lock files skipped), "
        "filter it (size, generated/minified, binary, encoding, BigCode line-length, alphanumeric "
        "and encoded-data heuristics), drop exact and near duplicates, and write raw, completion, "
        "fill-in-the-middle and docstring samples cut at syntax boundaries.",
    )
    p.add_argument("inputs", nargs="+", metavar="REPO_OR_CORPUS", help="directory, source file, JSONL(.gz) or Parquet")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.jsonl, OUT.jsonl.gz or OUT.parquet")
    p.add_argument("--languages", type=comma_list, help="comma-separated languages to keep (default: all)")
    p.add_argument("--min-bytes", type=non_negative_int, default=100, help="smallest file kept (100)")
    p.add_argument("--max-bytes", type=positive_int, default=100_000, help="largest file kept (100000)")
    p.add_argument("--dedup", action=argparse.BooleanOptionalAction, default=True, help="exact and near dedup (on)")
    p.add_argument(
        "--dedup-threshold", type=probability, help="near-dup Jaccard threshold (default: the dedup stage's)"
    )
    p.add_argument(
        "--dedup-verify",
        default=None,
        choices=tuple(_VERIFY),
        help="which near-dup candidate pairs the exact Jaccard settles (borderline)",
    )
    p.add_argument(
        "--samples",
        type=comma_list,
        default=["raw", "completion", "fim", "docstring"],
        help="comma-separated sample kinds: raw, completion, fim, docstring (all)",
    )
    p.add_argument("--fim-rate", type=probability, default=0.5, help="fraction of files given a FIM sample (0.5)")
    p.add_argument("--fim-spm-rate", type=probability, default=0.5, help="fraction of FIM samples in SPM order (0.5)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--tokenizer", metavar="FILE", help="tokenizer whose FIM special tokens to use (default: bundled)")
    p.add_argument("--workers", type=positive_int, help="worker processes (default: all cores)")
    p.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    add_overwrite(p, "OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codemill.finetune.pipeline import prepare

    if args.max_bytes < args.min_bytes:
        raise UsageError(f"--min-bytes {args.min_bytes} is more than --max-bytes {args.max_bytes}")
    if args.report:
        from codemill.outputs import check_output
        from codemill.sources.fs import as_local

        args.report = as_local(args.report)  # file://: the local path, as every output
        output = as_local(args.output)
        for taken, what in (
            (output, "the output"),
            (sidecar_name(output), "the output's description"),  # beside a link's target
        ):
            # (the report replaced the description, which then did not fit the samples)
            if same_place(args.report, taken):
                raise UsageError(f"--report {args.report}: is {what}, which prepare writes; name another file")
        # the report is JSON of ours, or refused like any output (before the work, not after)
        check_output(
            args.report,
            command="prepare",
            kind="file",
            is_ours=_is_report,
            inputs=[*args.inputs, args.output],
            overwrite=args.overwrite,
            is_ours_url=_is_report,
        )
    if not args.dedup and (args.dedup_threshold is not None or args.dedup_verify is not None):
        raise UsageError("--dedup-threshold and --dedup-verify are for the dedup stage, which --no-dedup leaves out")
    dedup: bool | DedupConfig = False
    if args.dedup:
        dedup = DedupConfig(verify=_VERIFY[args.dedup_verify or "borderline"])
        if args.dedup_threshold is not None:
            try:  # 0 and 1 are probabilities, but no threshold: the message names the flag
                dedup = DedupConfig.of(dedup, threshold=args.dedup_threshold)
            except ConfigError as exc:
                raise UsageError(f"--dedup-threshold {args.dedup_threshold:g}: {exc}") from None
    report = prepare(
        args.inputs,
        args.output,
        languages=args.languages,
        min_bytes=args.min_bytes,
        max_bytes=args.max_bytes,
        dedup=dedup,
        samples=args.samples,
        fim_rate=args.fim_rate,
        fim_spm_rate=args.fim_spm_rate,
        seed=args.seed,
        workers=args.workers,
        tokenizer=args.tokenizer,
        overwrite=args.overwrite,
        progress=not args.no_progress and not args.json,
    )
    if args.report:
        publish_json(args.report, report)  # what write_json prints: indented by one
    if args.json:
        write_json(report, sys.stdout)
    else:
        print(format_report(report))
    return 0


# A report lists at most a thousand items: one this large is something else.
_MAX_REPORT = 16 << 20


def _is_report(path: Path | str) -> bool:
    """Whether ``path`` (a file or a URL) holds a prepare report: JSON with its
    "samples_not_made", read whole (the key comes after up to a thousand listed items)."""
    try:
        if isinstance(path, str):
            from codemill.sources.fs import read_url

            data = read_url(path, 0, _MAX_REPORT + 1)
        elif not path.is_file():  # a FIFO would block the read forever
            return False
        else:
            with open(path, "rb") as f:
                data = f.read(_MAX_REPORT + 1)
        report = json.loads(data) if len(data) <= _MAX_REPORT else None
    except (OSError, CodemillError, ValueError):
        return False
    return isinstance(report, dict) and "samples_not_made" in report


def format_report(r: PrepareReport) -> str:
    f = r["files"]
    lines = [
        f"{f['read']} files read: kept {f['kept']}, filtered {f['filtered']}, exact duplicates "
        f"{f['exact_duplicates_removed']}, near duplicates {f['near_duplicates_removed']}"
        + (f"; {f['other_language']} of other languages not read" if f.get("other_language") else ""),
        f"{r['samples']['total']} samples -> {r.get('output')}: "
        + ", ".join(f"{k} {v}" for k, v in r["samples"].items() if k != "total"),
    ]
    for title, counts in (("filtered", r["filtered"]), ("skipped", r["skipped"]), ("not made", r["samples_not_made"])):
        if counts:
            lines.append(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines.append(f"  {r['seconds']} s, {r['files_per_s']} files/s, {r['mb_per_s']} MB/s on {r['workers']} worker(s)")
    return "\n".join(lines)
