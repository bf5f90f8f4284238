"""Execution-based evaluation of generated programs in an OS-level sandbox.

from codemill.evaluate import evaluate
summary = evaluate("samples.jsonl", problems="humaneval", ks=(1, 10), workers=2)
summary["pass_at_k"]   # {"pass@1": ..., "pass@10": ...}
"""

from codemill.evaluate.metrics import efficiency, exact_match, mean_pass_at_k, pass_at_k
from codemill.evaluate.problems import Problem, Sample, load_problems, load_samples
from codemill.evaluate.runner import evaluate
from codemill.evaluate.sandbox import Limits, Program, RunResult, Sandbox

__all__ = [
    "Limits",
    "Problem",
    "Program",
    "RunResult",
    "Sample",
    "Sandbox",
    "efficiency",
    "evaluate",
    "exact_match",
    "load_problems",
    "load_samples",
    "mean_pass_at_k",
    "pass_at_k",
]
