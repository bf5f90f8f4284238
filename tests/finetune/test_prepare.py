"""`prepare` end to end: determinism, dedup, output formats, corpora, the CLI."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from codemill.cli import main
from codemill.finetune.config import PrepareConfig
from codemill.finetune.pipeline import Preparer, prepare
from codemill.near_dup.config import DedupConfig

pytest.importorskip("tree_sitter_python")

FIXTURES = Path(__file__).parent.parent / "fixtures"


_WORDS = [
    a + b
    for a in ("al", "bro", "cy", "dun", "eth", "fjo", "gri")
    for b in ("pha", "vo", "ren", "mix", "tor", "ka", "lu")
]


def _module(i: int) -> str:
    """A small module of documented functions, different enough from every other `i`."""
    import random

    rnd = random.Random(i)
    w = rnd.sample(_WORDS, 24)
    ops = ["+", "-", "*", "//", "%"]
    parts = [f'"""Helpers for {w[0]} and {w[1]}."""\n\nimport math\n']
    for k in range(4):
        a, b, c = w[3 + 5 * k : 6 + 5 * k]
        op1, op2 = rnd.choice(ops), rnd.choice(ops)
        parts.append(
            f"""
def {a}_{b}({c}, {w[2]}=({rnd.randrange(2, 99)})):
    \"\"\"Combine {c} with {w[2]} the {w[20 + k]} way.\"\"\"
    total_{a} = {c} {op1} {w[2]}
    for {b} in range({rnd.randrange(3, 30)}):
        total_{a} = total_{a} {op2} math.floor({b} * {rnd.random():.3f})
    return total_{a}
"""
        )
    return "".join(parts)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for name in ("sample.py", "sample.js", "sample.go", "sample.rs", "sample.java", "sample.c"):
        (root / "src").mkdir(parents=True, exist_ok=True)
        (root / "src" / name).write_bytes((FIXTURES / name).read_bytes())
    for i in range(6):
        (root / "pkg").mkdir(exist_ok=True)
        (root / "pkg" / f"mod{i}.py").write_text(_module(i * 37))
    return root


def _rows(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_same_seed_same_output_every_format(repo: Path, tmp_path: Path) -> None:
    for suffix in (".jsonl", ".jsonl.gz", ".parquet"):
        a, b, c = (tmp_path / f"{n}{suffix}" for n in "abc")
        prepare(repo, a, seed=7, workers=1, progress=False)
        prepare(repo, b, seed=7, workers=1, progress=False)
        prepare(repo, c, seed=8, workers=1, progress=False)
        assert a.read_bytes() == b.read_bytes(), suffix
        assert a.read_bytes() != c.read_bytes(), suffix


def test_parallel_output_equals_serial(repo: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = prepare(repo, one, seed=3, workers=1, progress=False)
    r2 = prepare(repo, two, seed=3, workers=2, progress=False)
    assert one.read_bytes() == two.read_bytes()
    for key in ("files", "filtered", "skipped", "duplicates", "samples", "languages"):
        assert r1[key] == r2[key]
    assert r2["workers"] == 2


def test_sample_ids_are_unique_when_files_share_a_name(tmp_path: Path) -> None:
    # Three inputs whose directories share a name: the same repository/path three times. Their
    # samples keep distinct ids, in input order.
    for parent, i in (("a", 1), ("b", 2), ("c", 1)):
        (tmp_path / parent / "src").mkdir(parents=True)
        (tmp_path / parent / "src" / "m.py").write_text(_module(i))
    trees = [tmp_path / parent / "src" for parent in "abc"]
    ids = {}
    for workers in (1, 2):
        out = tmp_path / f"o{workers}.jsonl"
        prepare(trees, out, samples=["raw", "docstring"], dedup=False, workers=workers, progress=False)
        ids[workers] = [r["id"] for r in _rows(out)]
    assert ids[1] == ids[2]
    assert len(set(ids[1])) == len(ids[1])
    assert [i for i in ids[1] if i.endswith("#raw")] == ["src/m.py#raw", "src/m.py~2#raw", "src/m.py~3#raw"]


def test_samples_of_every_kind_with_real_targets(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    report = prepare(repo, out, seed=1, workers=1, fim_rate=1.0, progress=False)
    rows = _rows(out)
    templates = {r["template"] for r in rows}
    assert templates == {"raw", "completion", "fim-psm", "fim-spm", "docstring-from-code", "body-from-docstring"}
    assert report["samples"]["total"] == len(rows)
    for r in rows:
        assert r["repository"] == "proj" and r["path"].startswith(("src/", "pkg/"))
        if r["kind"] != "raw":
            assert r["completion"].strip(), r["id"]
        if r["kind"] == "docstring":
            assert r["messages"][1]["content"] == r["completion"]
        else:
            assert r["messages"] is None
    # Every file's raw sample is its text; docstring samples come from its documented functions.
    sources = {f"{p.parent.name}/{p.name}": p.read_text() for p in repo.rglob("*.*")}
    for r in rows:
        if r["kind"] == "raw":
            assert r["text"] == sources[r["path"]]
        if r["kind"] == "completion":
            assert sources[r["path"]].startswith(r["text"])


def test_dedup_removes_exact_and_near_duplicates(repo: Path, tmp_path: Path) -> None:
    text = (repo / "pkg" / "mod1.py").read_text()
    (repo / "pkg" / "zz_copy.py").write_text(text)  # exact
    near = text.replace("import math", "import math  # floor").replace("    return total_", "    return 0 + total_", 1)
    (repo / "pkg" / "zz_near.py").write_text(near)
    out = tmp_path / "d.jsonl"
    report = prepare(repo, out, samples=["raw"], workers=1, progress=False)
    assert report["duplicates"]["exact_duplicates_removed"] == 1
    assert report["duplicates"]["near_duplicates_removed"] == 1
    kept = [r["path"] for r in _rows(out)]
    assert "pkg/mod1.py" in kept and "pkg/zz_copy.py" not in kept and "pkg/zz_near.py" not in kept
    reasons = {e["path"]: e["reason"] for e in report["listed"]}
    assert reasons["proj/pkg/zz_near.py"] == "near_duplicate"
    assert reasons["proj/pkg/zz_copy.py"] == "exact_duplicate"
    no = prepare(repo, tmp_path / "n.jsonl", samples=["raw"], dedup=False, workers=1, progress=False)
    assert no["files"]["kept"] == report["files"]["kept"] + 2


def test_files_added_or_removed_between_the_passes_shift_no_other_file(repo: Path, tmp_path: Path, monkeypatch) -> None:
    # Pass 2 found pass 1's decisions by position: a file added before the others dropped every
    # later one as changed_during_run, and the last one went uncounted.
    from codemill.finetune import pipeline

    before = prepare(repo, tmp_path / "a.jsonl", seed=3, workers=1, progress=False)
    real = pipeline.Preparer._dedup_pass

    def dedup_pass(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        (repo / "pkg" / "a_new.py").write_text(_module(999))
        (repo / "pkg" / "mod3.py").unlink()
        return out

    monkeypatch.setattr(pipeline.Preparer, "_dedup_pass", dedup_pass)
    report = prepare(repo, tmp_path / "b.jsonl", seed=3, workers=1, progress=False)
    assert _rows(tmp_path / "b.jsonl") == [r for r in _rows(tmp_path / "a.jsonl") if r["path"] != "pkg/mod3.py"]
    assert report["filtered"] == {**before["filtered"], "added_during_run": 1, "removed_during_run": 1}
    assert {"path": "proj/pkg/a_new.py", "reason": "added_during_run"} in report["listed"]
    f = report["files"]
    assert f["read"] == before["files"]["read"] and f["kept"] == before["files"]["kept"] - 1
    assert f["read"] == f["filtered"] + f["exact_duplicates_removed"] + f["near_duplicates_removed"] + f["kept"]


def test_verification_finds_its_texts_by_name_when_a_file_was_added(repo: Path, tmp_path: Path, monkeypatch) -> None:
    # The texts to verify were found by position too: a file added before them gave the pair
    # its neighbours' texts, and the near duplicate was kept.
    from codemill.finetune import pipeline

    text = (repo / "pkg" / "mod1.py").read_text()
    near = text.replace("import math", "import math  # floor").replace("    return total_", "    return 0 + total_", 1)
    (repo / "pkg" / "zz_near.py").write_text(near)
    real = pipeline.decide

    def decide(*args, **kwargs):
        (repo / "pkg" / "a_new.py").write_text(_module(999))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decide", decide)
    out = tmp_path / "v.jsonl"
    report = prepare(repo, out, samples=["raw"], dedup=DedupConfig(verify=True), workers=1, progress=False)
    assert report["duplicates"]["candidate_pairs_verified"] == 1
    assert report["duplicates"]["near_duplicates_removed"] == 1
    assert "pkg/zz_near.py" not in [r["path"] for r in _rows(out)]


def test_languages_filter_and_sample_kinds(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "l.jsonl"
    report = prepare(repo, out, languages=["go", "rust"], samples=["raw", "completion"], workers=1, progress=False)
    rows = _rows(out)
    assert {r["language"] for r in rows} == {"go", "rust"}
    assert {r["template"] for r in rows} == {"raw", "completion"}
    assert report["filtered"]["language"] == 10
    # Files of other languages are never read, so they are not among the read ones' outcomes.
    f = report["files"]
    assert f["other_language"] == 10
    assert f["read"] == f["kept"] + f["filtered"] + f["exact_duplicates_removed"] + f["near_duplicates_removed"]
    with pytest.raises(ValueError, match="unknown language"):
        prepare(repo, out, languages=["cobol"], workers=1)
    # The spellings a record's language may have, and `generic`, as the reader accepts them
    # (they were refused as unknown).
    config = PrepareConfig(languages=("Go", "rs", "Rust", "text"))
    assert config.languages == ("go", "rust", "generic")
    again = prepare(
        repo, tmp_path / "a.jsonl", languages=["Go", "RS"], samples=["raw", "completion"], workers=1, progress=False
    )
    assert _rows(tmp_path / "a.jsonl") == rows and again["params"]["languages"] == ["go", "rust"]


def test_jsonl_corpus_input(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    with open(corpus, "w") as f:
        for i in range(3):
            f.write(json.dumps({"content": _module(i * 101), "path": f"m{i}.py", "repo_name": "acme/tools"}) + "\n")
        f.write(json.dumps({"content": "", "path": "empty.py"}) + "\n")
        f.write(json.dumps({"content": _module(7) + "X = '\ud800'\n", "path": "surrogate.py"}) + "\n")
    out = tmp_path / "c.parquet"
    report = prepare(corpus, out, samples=["raw", "docstring"], workers=1, progress=False)
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pylist()
    assert {r["repository"] for r in table} == {"acme/tools"}
    assert {r["path"] for r in table} == {"m0.py", "m1.py", "m2.py"}
    # The reader skips what no command can read (an empty text, a lone surrogate), as everywhere.
    assert report["skipped"] == {"empty": 1, "invalid_utf8": 1} and report["filtered"] == {}
    assert [i["path"] for i in report["skipped_items"]] == [f"{corpus}:4", f"{corpus}:5"]
    doc = next(r for r in table if r["template"] == "docstring-from-code")
    assert json.loads(doc["meta"])["function"] and doc["messages"][0]["role"] == "user"


def test_streaming_iterator_and_report(repo: Path) -> None:
    run = Preparer(repo, PrepareConfig(samples=("raw",), dedup=None), workers=1, progress=False)
    it = iter(run)
    first = next(it)
    assert first["kind"] == "raw" and run.report is None
    rest = list(it)
    assert run.report["samples"]["total"] == 1 + len(rest)


def test_progress_on_stderr(repo: Path, tmp_path: Path, capsys) -> None:
    prepare(repo, tmp_path / "p.jsonl", samples=["raw"], workers=1, progress=True)
    err = capsys.readouterr().err
    assert "filter+dedup:" in err and "samples:" in err and "files/s" in err


def test_cli_json_report_and_errors(repo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli.jsonl.gz"
    code = main(["prepare", str(repo), "-o", str(out), "--json", "--seed", "2", "--workers", "1", "--fim-rate", "1"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"]["total"] == len(_rows(out))
    assert report["params"]["seed"] == 2 and report["params"]["fim_rate"] == 1.0
    assert set(report["filtered"]) <= set(report["params"]["filters"]) | {
        "empty",
        "too_small",
        "too_large",
        "binary",
        "auto_generated",
        "minified",
        "generated_path",
        "minified_path",
        "max_line_length",
        "avg_line_length",
        "alphanumeric_fraction",
        "encoded_data",
        "language",
    }
    assert main(["prepare", str(repo), "-o", str(tmp_path / "x.jsonl"), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "files read" in text and "files/s" in text
    assert main(["prepare", str(repo), "-o", str(tmp_path / "x.csv")]) == 2
    assert "must end in" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "missing"), "-o", str(tmp_path / "y.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.jsonl").exists()
    if hasattr(os, "mkfifo"):
        # A FIFO named as the report was opened to see whether it held one: blocked forever.
        os.mkfifo(tmp_path / "fifo")
        args = ["prepare", str(repo), "-o", str(tmp_path / "z.jsonl"), "--report", str(tmp_path / "fifo")]
        assert main(args) == 2
        assert "fifo: exists and was not written by `codemill prepare`" in capsys.readouterr().err
        # Spelled as a file:// URL too, and a report in a directory not made yet is made as locally.
        args[-1] = (tmp_path / "fifo").as_uri()
        assert main(args) == 2
        capsys.readouterr()
    report = tmp_path / "new" / "dir" / "report.json"
    args = ["prepare", str(repo), "-o", str(tmp_path / "w.jsonl"), "--report", report.as_uri(), "--workers", "1"]
    assert main(args) == 0 and "samples_not_made" in json.loads(report.read_text())


@pytest.mark.parametrize("verify", ["borderline", True, False])
def test_dedup_decisions_match_the_dedup_stage(tmp_path: Path, verify: bool | str) -> None:
    """The streaming decision keeps exactly what the dedup stage (`dedup_texts`) keeps."""
    import random

    from codemill.near_dup.api import dedup_texts

    rnd = random.Random(5)
    root = tmp_path / "many"
    root.mkdir()
    texts = []
    for i in range(48):
        base = _module(1000 + i % 16)  # the last 32 repeat earlier modules ...
        if i >= 16 and i % 3:  # ... most of them edited, a fifth to a half of their lines
            lines = base.splitlines(keepends=True)
            for _ in range(rnd.randrange(len(lines) // 5, len(lines) // 2)):
                k = rnd.randrange(len(lines))
                lines[k] = lines[k].replace("total_", "acc_", 1).replace("math", "cmath", 1) + "\n"
            base = "".join(lines)
        texts.append(base)
        (root / f"f{i:02d}.py").write_text(base)
    out = tmp_path / "m.jsonl"
    config = DedupConfig(verify=verify)  # type: ignore[arg-type]
    report = prepare(root, out, samples=["raw"], workers=1, progress=False, min_bytes=1, dedup=config)
    expected = dedup_texts(texts, config)
    kept = sorted(r["path"] for r in _rows(out))
    assert kept == [f"f{i:02d}.py" for i in range(48) if expected.keep[i]]
    assert report["duplicates"] == expected.counts
    assert expected.counts["exact_duplicates_removed"] > 0 and expected.counts["near_duplicates_removed"] > 0
    assert report["params"]["dedup"] == expected.params
    if verify:
        assert report["duplicates"]["candidate_pairs_verified"] > 0


def test_work_in_flight_is_bounded() -> None:
    """Inputs are pulled only as results are taken, so memory does not grow with the corpus."""
    from concurrent.futures import ThreadPoolExecutor

    from codemill.finetune.pipeline import _ordered_map

    pulled = []

    def items():
        for i in range(1000):
            pulled.append(i)
            yield i

    with ThreadPoolExecutor(2) as pool:
        it = _ordered_map(lambda x: x * x, items(), pool, window=4)
        assert [next(it) for _ in range(3)] == [0, 1, 4]
        assert len(pulled) <= 4 + 3
        assert list(it)[-1] == 999 * 999


def test_fim_tokens_come_from_the_given_tokenizer(repo: Path, tmp_path: Path) -> None:
    from codemill import CodeTokenizer
    from codemill.finetune.samples import fim_parts

    specials = ("<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>")  # StarCoder's names
    tok = CodeTokenizer.train([FIXTURES], vocab_size=600, identifier_vocab_size=16, special_tokens=specials)
    tok_file = tmp_path / "tok.json"
    tok.save(tok_file)
    out = tmp_path / "f.jsonl"
    args = ["prepare", str(repo), "-o", str(out), "--samples", "fim", "--fim-rate", "1", "--workers", "1"]
    assert main([*args, "--tokenizer", str(tok_file)]) == 0
    rows = _rows(out)
    assert rows and all(r["text"].startswith("<fim_prefix>") for r in rows)
    assert not any("<|fim_" in r["text"] for r in rows)
    for r in rows:
        ids = tok.encode(r["text"], allowed_special="all").tolist()
        fim_ids = {tok.special_id(t) for t in specials[1:]}
        assert sorted(i for i in ids if i in fim_ids) == sorted(fim_ids)
        prefix, middle, suffix = fim_parts(r, ("<fim_prefix>", "<fim_middle>", "<fim_suffix>"))
        assert prefix + middle + suffix == (repo / r["path"]).read_text()
    plain = CodeTokenizer.train([FIXTURES], vocab_size=600, identifier_vocab_size=16, special_tokens=specials[:1])
    with pytest.raises(ValueError, match="no fim_prefix special token"):
        prepare(repo, tmp_path / "g.jsonl", tokenizer=plain, workers=1)
    # Without FIM samples it needs none (before: refused all the same).
    report = prepare(repo, tmp_path / "g.jsonl", tokenizer=plain, samples=["raw"], workers=1)
    assert report["samples"]["total"] > 0


def test_option_errors_name_the_option_or_file(repo: Path, tmp_path: Path, capsys) -> None:
    # Both failed naming neither: `threshold must be ...`, `the tokenizer has no fim_prefix ...`.
    from codemill import CodeTokenizer

    args = ["prepare", str(repo), "-o", str(tmp_path / "o.jsonl"), "--workers", "1", "--no-progress"]
    for threshold in ("0", "1"):
        assert main([*args, "--dedup-threshold", threshold]) == 2
        assert (
            f"error: --dedup-threshold {threshold}: threshold must be strictly between 0 and 1"
            in capsys.readouterr().err
        )
    plain = CodeTokenizer.train([FIXTURES], vocab_size=600, identifier_vocab_size=16, special_tokens=["<|endoftext|>"])
    plain.save(tmp_path / "plain.json")
    assert main([*args, "--tokenizer", str(tmp_path / "plain.json")]) == 2
    assert f"error: {tmp_path / 'plain.json'}: the tokenizer has no fim_prefix" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_interrupted_run_leaves_the_previous_output(repo: Path, tmp_path: Path, monkeypatch) -> None:
    from codemill.finetune import writer

    for name in ("i.jsonl", "i.jsonl.gz", "i.parquet"):
        out = tmp_path / name
        prepare(repo, out, samples=["raw"], workers=1, progress=False)
        before = out.read_bytes()

        def fail(self, sample):
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(writer.SampleWriter, "write", fail)
            with pytest.raises(KeyboardInterrupt):
                prepare(repo, out, samples=["raw", "completion"], workers=1, progress=False)
        assert out.read_bytes() == before, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_the_outputs_description_is_never_overwritten_unasked(repo: Path, tmp_path: Path, capsys) -> None:
    # --report naming OUT's description replaced it (tokenize then read the report's input
    # bytes as the output's size), and a user's own OUT.codemill.json was replaced silently.
    out = tmp_path / "p.jsonl"
    for report in (out, tmp_path / "p.jsonl.codemill.json"):
        assert main(["prepare", str(repo), "-o", str(out), "--workers", "1", "--report", str(report)]) == 2
        err = capsys.readouterr().err
        assert "--report" in err and "which prepare writes" in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    mine = tmp_path / "q.jsonl.codemill.json"
    mine.write_text('{"mine": true}')
    assert main(["prepare", str(repo), "-o", str(tmp_path / "q.jsonl"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "q.jsonl.codemill.json: exists and is not a codemill description" in err and "--overwrite" in err
    assert mine.read_text() == '{"mine": true}' and not (tmp_path / "q.jsonl").exists()
    args = ["prepare", str(repo), "-o", str(tmp_path / "q.jsonl"), "--workers", "1", "--overwrite"]
    assert main(args) == 0
    assert json.loads(mine.read_text())["written_by"] == "codemill prepare"
    capsys.readouterr()
    assert main(args[:-1]) == 0  # its own description: a run again needs no --overwrite


def test_report_speaks_dedups_vocabulary(repo: Path, tmp_path: Path) -> None:
    from codemill.near_dup.api import dedup

    report = prepare(repo, tmp_path / "v.jsonl", samples=["raw"], workers=1, progress=False)
    theirs = dedup(repo, tmp_path / "d")
    assert report["duplicates"] is not None
    assert set(report["duplicates"]) == set(theirs["counts"]) - {"skipped", "skipped_total"}
    assert report["params"]["dedup"] == theirs["params"]
    off = prepare(repo, tmp_path / "o.jsonl", samples=["raw"], dedup=False, workers=1, progress=False)
    assert off["duplicates"] is None and off["params"]["dedup"] is None


@pytest.mark.parametrize("dedup", [False, True])
def test_the_report_lists_what_was_passed_over_in_input_order_whatever_the_workers(tmp_path: Path, dedup: bool) -> None:
    # Binary files (a worker's skip), lock files and Go files (the listing's skip and filter),
    # exact duplicates (named in pass 2), over several batches: the listing runs ahead of the
    # results by two batches a worker, which ordered the lists by the worker count.
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(300):
        d = tree / f"d{i // 40:02d}"
        d.mkdir(exist_ok=True)
        if i % 7 == 0:
            (d / f"b{i:03d}.py").write_bytes(b"\0binary")
        elif i % 11 == 0:
            (d / f"yarn{i:03d}.lock").write_text("x")
        elif i % 13 == 0:
            (d / f"g{i:03d}.go").write_text("package g\n")
        else:
            (d / f"m{i:03d}.py").write_text(f"def f{i % 50}(x):\n    return x * {i % 50} + 1\n" * 3)
    kw = {"seed": 1, "progress": False, "languages": ["python"], "dedup": dedup}
    reports = [prepare([tree], tmp_path / f"o{w}.jsonl", workers=w, **kw) for w in (1, 2)]
    for key in ("skipped_items", "listed", "skipped", "filtered"):
        assert reports[0][key] == reports[1][key], key
    assert len(reports[0]["skipped_items"]) > 40 and len(reports[0]["listed"]) > 10


def test_what_the_listing_holds_back_stays_bounded() -> None:
    from collections import Counter

    from codemill.finetune import pipeline
    from codemill.sources import Skips

    # Millions of files passed over before the first batch: past the lists' cap only counts.
    held = pipeline._Held()
    n = pipeline._MAX_LISTED + 500
    for i in range(n):
        held.add(f"b{i}.py", "binary")
        held.note("filter", f"r/g{i}.go", "language")
    assert len(held.pending.events) == 2 * pipeline._MAX_LISTED
    held.cut()
    skips, filtered, listed = Skips(pipeline._MAX_LISTED), Counter(), []
    held.release(skips, filtered, listed)
    assert skips.counts == {"binary": n} and filtered == {"language": n}
    assert len(skips.items) == len(listed) == pipeline._MAX_LISTED and listed[0]["path"] == "r/g0.go"


def test_a_dead_worker_is_one_clear_line(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    # Before: BrokenProcessPool's whole traceback.
    import codemill.finetune.pipeline as pipeline

    (tmp_path / "old.jsonl").write_text("kept\n")
    monkeypatch.setattr(pipeline, "build", _die)
    rc = main(["prepare", str(repo), "-o", str(tmp_path / "old.jsonl"), "--workers", "2", "--no-dedup", "--overwrite"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.count("\n") == 0 and "a worker process died" in err
    assert (tmp_path / "old.jsonl").read_text() == "kept\n"


def _die(batch):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_runs_temporary_beside_a_linked_outputs_target_is_removed(tmp_path):
    # The samples of an output named by a link are staged beside its target: what a run killed
    # there left was looked for beside the link, and stayed.
    from codemill.finetune.writer import SampleWriter

    (tmp_path / "big").mkdir()
    real, link = tmp_path / "big" / "train.jsonl", tmp_path / "train.jsonl"
    link.symlink_to(real)
    left = tmp_path / "big" / ".train.jsonl.tmp999999999"  # a process gone, nobody holding it
    left.write_text('{"partial": ')
    with SampleWriter.open(link) as w:
        w.write({"text": "x", "prompt": "", "completion": "", "meta": {}})
    assert not left.exists() and link.is_symlink() and real.read_text().count("\n") == 1


def test_files_whose_names_print_alike_are_both_kept(tmp_path):
    # Pass 2 found files by their printed name, which writes an undecodable byte as \xNN: a
    # file named with a raw 0xFF byte and one named with the four characters "\xff" were one,
    # and an unchanged tree lost a file (as added_during_run and removed_during_run).
    tree = tmp_path / "t"
    tree.mkdir()
    body = (
        'import math\n\n\ndef func_{0}(x, y):\n    """Compute value {0} of x and y."""\n    total = x * {0} + y\n'
        "    for k in range({0}):\n        total += math.sqrt(k + {0} * x)\n    return total * {0}\n"
    )
    with open(os.fsencode(tree) + b"/a\xff.py", "w") as f:
        f.write(body.format(1))
    (tree / "a\\xff.py").write_text(body.format(2))
    (tree / "b.py").write_text(body.format(3))
    report = prepare([tree], tmp_path / "o.jsonl", seed=1, workers=1, progress=False, samples=["raw"])
    assert report["files"]["kept"] == 3 and not report["filtered"]


def test_an_input_whose_name_is_not_utf8_is_named_in_strict_json(tmp_path):
    # The report named the input, and its files' repository, with a lone surrogate, which a
    # UTF-8 JSON file cannot hold; reports and samples show such a byte as \xNN.
    tree = tmp_path / os.fsdecode(b"t\xfe")
    tree.mkdir()
    body = (
        'import math\n\n\ndef func_{0}(x, y):\n    """Compute value {0} of x and y."""\n    total = x * {0} + y\n'
        "    for k in range({0}):\n        total += math.sqrt(k + {0} * x)\n    return total * {0}\n"
    )
    (tree / "a.py").write_text(body.format(1))
    (tree / "b.py").write_text("x = 1\n")  # too small: listed
    report = prepare([tree], tmp_path / "o.jsonl", seed=1, workers=1, progress=False, samples=["raw"])
    assert report["inputs"] == [f"{tmp_path}/t\\xfe"]
    assert [item["path"] for item in report["listed"]] == ["t\\xfe/b.py"]
    json.dumps(report, ensure_ascii=False).encode("utf-8")
    [sample] = [json.loads(line) for line in (tmp_path / "o.jsonl").read_bytes().decode("utf-8").splitlines()]
    assert sample["id"].startswith("t\\xfe/a.py")


def test_an_interrupt_after_the_description_stays_an_interrupt_when_it_cannot_be_put_back(tmp_path, monkeypatch):
    # The put-back's own failure replaced a Ctrl-C (a bare raise inside its handler).
    import codemill.finetune.pipeline as pipeline

    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a.py").write_text(
        'import math\n\n\ndef func(x, y):\n    """Compute x and y."""\n    total = x * 3 + y\n'
        "    for k in range(3):\n        total += math.sqrt(k + 3 * x)\n    return total * 3\n"
    )
    real = pipeline.write_sidecar

    def described_then_interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    def gone(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(pipeline, "write_sidecar", described_then_interrupted)
    monkeypatch.setattr(pipeline, "put_back_sidecar", gone)
    with pytest.raises(KeyboardInterrupt):
        prepare([tree], tmp_path / "o.jsonl", seed=1, workers=1, progress=False, samples=["raw"])
