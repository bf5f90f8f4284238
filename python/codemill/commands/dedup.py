"""`codemill dedup`: exact and near-duplicate removal (MinHash LSH)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from codemill.commands._common import add_overwrite, positive_int, probability, seed, write_json
from codemill.errors import UsageError
from codemill.near_dup.config import ENGINES, KEEP_POLICIES, SCHEMES, DedupConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    d = DedupConfig()  # the defaults, shown in the help
    p = subparsers.add_parser(
        "dedup",
        help="remove exact and near-duplicate documents (MinHash LSH)",
        description="Remove exact duplicates (content hash) and near duplicates (MinHash "
        "LSH over n-grams of code pieces). Replaces OUTDIR by the kept documents in each "
        "input's format and dedup_report.json.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="directory, code file, JSONL (.gz, .zst) or Parquet file, or any of them at a URL (s3://...)",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    # Options named after DedupConfig's fields (dest) become its fields.
    p.add_argument("--threshold", type=probability, default=d.threshold, help=f"Jaccard threshold ({d.threshold})")
    p.add_argument("--num-perm", type=positive_int, default=d.num_perm, help=f"signature width ({d.num_perm})")
    p.add_argument("--ngram", type=positive_int, default=d.ngram, help=f"pieces per shingle ({d.ngram})")
    p.add_argument("--bands", type=positive_int, help="LSH bands (default: chosen from threshold)")
    p.add_argument("--rows", type=positive_int, help="LSH rows per band (with --bands)")
    p.add_argument(
        "--recall-weight",
        type=probability,  # None where not given (the config's default): refused with --bands
        help=f"weight of the false-negative area when choosing bands/rows ({d.recall_weight}; 0.5 = datasketch)",
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=d.window,
        help=f"each LSH bucket member is checked against this many members before it ({d.window})",
    )
    p.add_argument(
        "--margin",
        type=probability,
        help="with --estimate-only, keep a candidate pair if its signature estimate >= threshold - margin "
        "(default: half a standard error at the threshold)",
    )
    p.add_argument(
        "--no-estimate-filter",
        dest="estimate_filter",
        action="store_false",
        help="with --estimate-only, keep every LSH candidate pair (raw LSH)",
    )
    verify = p.add_mutually_exclusive_group()
    verify.add_argument(
        "--verify",
        action="store_const",
        const=True,
        default=d.verify,
        help="keep a pair only if its exact Jaccard reaches the threshold (re-reads the texts of candidate pairs); "
        "pairs still chain into clusters, so a removed document may be less similar than that to the kept one",
    )
    verify.add_argument(
        "--estimate-only",
        dest="verify",
        action="store_const",
        const=False,
        help="decide every pair by its signature estimate; by default pairs whose estimate is "
        "within two standard errors of the threshold get their exact Jaccard (texts re-read)",
    )
    p.add_argument(
        "--keep",
        default=d.keep,
        choices=KEEP_POLICIES,
        help="which copy of a duplicate group survives: first or last in reading order (inputs as "
        "given; in a directory its files by name, then its subdirectories; a record file's records "
        "in order), or the longest or shortest text in characters; ties go to the earlier one "
        f"({d.keep})",
    )
    p.add_argument("--no-exact", dest="exact", action="store_false", help="skip exact dedup")
    p.add_argument(
        "--normalize-whitespace",
        action="store_true",
        help="exact dedup ignores whitespace differences",
    )
    p.add_argument("--scheme", default=d.scheme, choices=SCHEMES)
    p.add_argument("--seed", type=seed, default=d.seed)
    p.add_argument("--engine", default="local", choices=ENGINES)
    p.add_argument("--text-field", help="JSONL field holding the text (default: content/text)")
    add_overwrite(p, "OUTDIR")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=run)


def config_of(args: argparse.Namespace) -> DedupConfig:
    """The DedupConfig of the parsed options (their dests are its field names)."""
    if (args.bands is None) != (args.rows is None):
        raise UsageError("give both --bands and --rows, or neither")
    if args.verify is not False and (args.margin is not None or not args.estimate_filter):
        # (they decide only pairs no exact Jaccard settles: else passed unheeded)
        raise UsageError("--margin and --no-estimate-filter are for --estimate-only")
    # Each of these was passed unheeded, and --recall-weight recorded in the report as if used.
    if args.margin is not None and not args.estimate_filter:
        raise UsageError("--margin sets the estimate filter, which --no-estimate-filter turns off")
    if args.recall_weight is not None and args.bands is not None:
        raise UsageError("--recall-weight chooses --bands and --rows: give either, not both")
    if args.normalize_whitespace and not args.exact:
        raise UsageError("--normalize-whitespace is for exact dedup, which --no-exact turns off")
    if args.text_field == "":  # read as not given: the default fields
        raise UsageError("--text-field is empty; name the field holding the text")
    # An option not given (None) keeps the config's default.
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(DedupConfig)}
    return DedupConfig(**{name: value for name, value in given.items() if value is not None})


def run(args: argparse.Namespace) -> int:
    from codemill.near_dup.api import dedup
    from codemill.sources.fs import is_url

    if is_url(args.output):
        # A prefix is published object by object (the report last): stopped, it is half new.
        args.resume_hint = "the output prefix may be partly replaced: run the same command again to finish it"
    report = dedup(
        args.inputs,
        args.output,
        config_of(args),
        engine=args.engine,
        text_field=args.text_field,
        overwrite=args.overwrite,
        progress=not args.no_progress and not args.json,
    )
    if args.json:
        write_json(report, sys.stdout)
    else:
        c = report["counts"]
        print(
            f"{c['documents']} documents: kept {c['kept']}, exact duplicates "
            f"{c['exact_duplicates_removed']}, near duplicates {c['near_duplicates_removed']} "
            f"in {c['near_clusters']} clusters; skipped {c.get('skipped_total', 0)}"
        )
        for reason, n in c.get("skipped", {}).items():
            print(f"  skipped ({reason}): {n}")
        p = report["params"]
        print(
            f"  bands={p['bands']} rows={p['rows']} threshold={p['threshold']} "
            f"min_estimate={p['min_estimate']} verify={p['verify']}; candidate pairs "
            f"{c['candidate_pairs']} (skipped by window {c['candidate_pairs_skipped_by_window']}); "
            f"report: {args.output}/dedup_report.json"
        )
    return 0
