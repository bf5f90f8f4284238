"""`codemill context --serve`: one process answers JSON-line requests with what one-off calls
print, reports a bad request in its own answer, and follows the index when it is rewritten."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_python")

from codemill.cli import main
from codemill.context.server import ContextServer
from test_context import SHOP
from test_context_imports import write_tree


@pytest.fixture
def indexed(tmp_path: Path, capsys) -> tuple[Path, Path]:
    repo = write_tree(tmp_path / "repo", SHOP)
    out = tmp_path / "idx"
    assert main(["index", str(repo), "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    return repo, out


def test_served_answers_equal_one_off_calls(indexed, capsys) -> None:
    repo, idx = indexed
    cart = str(repo / "shop/cart.py")
    assert main(["context", cart, "--index", str(idx), "--budget", "400", "--json"]) == 0
    one_off = json.loads(capsys.readouterr().out)
    assert main(["context", cart, "--index", str(idx), "--budget", "400", "--query", "round cents", "--json"]) == 0
    asked = json.loads(capsys.readouterr().out)

    requests = [
        {"file": cart, "budget": 400, "id": 1},
        {"file": cart, "budget": 400, "query": "round cents", "id": "q"},
    ]
    out = io.StringIO()
    errors = ContextServer(idx).serve([json.dumps(r) + "\n" for r in requests], out)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert errors == 0
    assert first["id"] == 1 and second["id"] == "q"
    assert {k: v for k, v in first.items() if k not in ("id", "ms")} == one_off
    assert {k: v for k, v in second.items() if k not in ("id", "ms")} == asked
    assert first["text"] != "" and first["ms"] >= 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not a JSON request"),
        ("[1, 2]", "a request is a JSON object"),
        ('{"budget": 10}', '"file" must name'),
        ('{"file": "FILE", "budget": 0}', '"budget" must be a positive'),
        ('{"file": "FILE", "query": 3}', '"query" must be text'),
        ('{"file": "missing.py", "id": 7}', "missing.py: no such file"),
        # These ended the server (a RecursionError traceback; an error for the whole command).
        ("[" * 100_000, "not a JSON request"),
        ('{"file": "FILE", "budget": ' + "9" * 5000 + "}", "not a JSON request"),
    ],
    ids=lambda v: v if len(v) < 40 else v[:20] + "...",
)
def test_a_bad_request_gets_an_error_answer_and_the_server_goes_on(indexed, line, message) -> None:
    repo, idx = indexed
    line = line.replace("FILE", str(repo / "shop/cart.py").replace("\\", "/"))
    out = io.StringIO()
    errors = ContextServer(idx).serve([line, "\n", json.dumps({"file": str(repo / "shop/cart.py")})], out)
    bad, good = (json.loads(x) for x in out.getvalue().splitlines())
    assert errors == 1
    assert message in bad["error"]
    assert "error" not in good and good["file"] == "shop/cart.py"


def test_the_server_follows_a_rewritten_index(indexed, capsys) -> None:
    repo, idx = indexed
    server = ContextServer(idx)
    before = server.builder()
    write_tree(repo, {"shop/tax.py": "from shop.money import round_cents\n\nRATE = 0.2\n"})
    assert main(["index", str(repo), "-o", str(idx), "--no-progress"]) == 0
    capsys.readouterr()
    after = server.builder()
    assert after is not before and "shop/tax.py" in after.graph.files
    assert after.tokenizer is before.tokenizer  # loaded once


def test_cli_serve_over_pipes(indexed) -> None:
    repo, idx = indexed
    requests = "\n".join(json.dumps({"file": str(repo / "shop/cart.py"), "id": i}) for i in range(3)) + "\n"
    run = subprocess.run(
        [sys.executable, "-m", "codemill.cli", "context", "--serve", "--index", str(idx), "--budget", "300"],
        input=requests,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    answers = [json.loads(x) for x in run.stdout.splitlines()]
    assert [a["id"] for a in answers] == [0, 1, 2]
    assert all(a["budget"] == 300 and a["tokens"] <= 300 for a in answers)


def test_serve_usage_errors(tmp_path: Path, capsys) -> None:
    assert main(["context", "--serve"]) == 2
    assert "--serve needs --index" in capsys.readouterr().err
    assert main(["context"]) == 2
    assert "context needs FILE" in capsys.readouterr().err
    assert main(["context", "--serve", "--index", str(tmp_path / "nothing")]) != 0
    assert "nothing" in capsys.readouterr().err
