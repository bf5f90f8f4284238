"""`codemill dedup`: exact and near-duplicate removal (MinHash LSH)."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dedup",
        help="remove exact and near-duplicate documents (MinHash LSH)",
        description="Remove exact duplicates (content hash) and near duplicates (MinHash "
        "LSH over n-grams of code pieces). Writes the kept documents in each input's format "
        "and dedup_report.json to OUTDIR.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="directory, file or JSONL(.gz)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    p.add_argument("--threshold", type=float, default=0.7, help="Jaccard threshold (0.7)")
    p.add_argument("--num-perm", type=int, default=256, help="signature width (256)")
    p.add_argument("--ngram", type=int, default=5, help="pieces per shingle (5)")
    p.add_argument("--bands", type=int, help="LSH bands (default: chosen from threshold)")
    p.add_argument("--rows", type=int, help="LSH rows per band (with --bands)")
    p.add_argument(
        "--recall-weight",
        type=float,
        default=0.95,
        help="weight of the false-negative area when choosing bands/rows (0.95; 0.5 = datasketch)",
    )
    p.add_argument(
        "--window",
        type=int,
        default=64,
        help="each LSH bucket member is checked against this many members before it (64)",
    )
    p.add_argument(
        "--margin",
        type=float,
        help="keep a candidate pair if its signature estimate >= threshold - margin "
        "(default: half a standard error at the threshold)",
    )
    p.add_argument(
        "--no-estimate-filter",
        dest="estimate_filter",
        action="store_false",
        help="keep every LSH candidate pair (raw LSH)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="keep a pair only if its exact Jaccard reaches the threshold (re-reads the texts of candidate pairs)",
    )
    p.add_argument(
        "--estimate-only",
        action="store_true",
        help="decide every pair by its signature estimate; by default pairs whose estimate is "
        "within two standard errors of the threshold get their exact Jaccard (texts re-read)",
    )
    p.add_argument("--keep", default="first", choices=("first", "last", "longest", "shortest"))
    p.add_argument("--no-exact", dest="exact", action="store_false", help="skip exact dedup")
    p.add_argument(
        "--normalize-whitespace",
        action="store_true",
        help="exact dedup ignores whitespace differences",
    )
    p.add_argument("--scheme", default="bucket", choices=("bucket", "mersenne"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--engine", default="local", choices=("local", "ray"))
    p.add_argument("--text-field", help="JSONL field holding the text (default: content/text)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codemill import dedup

    if (args.bands is None) != (args.rows is None):
        raise ValueError("give both --bands and --rows, or neither")
    report = dedup(
        args.inputs,
        args.output,
        threshold=args.threshold,
        num_perm=args.num_perm,
        ngram=args.ngram,
        bands=args.bands,
        rows=args.rows,
        recall_weight=args.recall_weight,
        window=args.window,
        margin=args.margin,
        estimate_filter=args.estimate_filter,
        verify=True if args.verify else False if args.estimate_only else "borderline",
        keep=args.keep,
        exact=args.exact,
        normalize_whitespace=args.normalize_whitespace,
        seed=args.seed,
        scheme=args.scheme,
        engine=args.engine,
        text_field=args.text_field,
    )
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        c = report["counts"]
        print(
            f"{c['documents']} documents: kept {c['kept']}, exact duplicates "
            f"{c['exact_duplicates_removed']}, near duplicates {c['near_duplicates_removed']} "
            f"in {c['near_clusters']} clusters; skipped {c['skipped_total']}"
        )
        for reason, info in c["skipped"].items():
            print(f"  skipped ({reason}): {info['count']}")
        p = report["params"]
        print(
            f"  bands={p['bands']} rows={p['rows']} threshold={p['threshold']} "
            f"min_estimate={p['min_estimate']} verify={p['verify']}; candidate pairs "
            f"{c['candidate_pairs']} (skipped by window {c['candidate_pairs_skipped_by_window']}); "
            f"report: {args.output}/dedup_report.json"
        )
    return 0
