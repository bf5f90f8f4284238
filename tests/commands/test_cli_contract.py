"""The output contract and argument validation, as a user meets them on the command line.

Every test runs the `codemill` command (in-process through `cli.main`, or in a subprocess where
the process itself matters) on a temporary tree and checks the exit status, that the error is
one line without a traceback, and that no byte of input or earlier output was lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import codemill
import numpy as np
import pytest
from codemill import CodeTokenizer
from codemill.cli import main

# Subprocesses import the same codemill as the tests (a source tree with its built module, or
# the installed package).
PYTHON_SRC = str(Path(codemill.__file__).resolve().parents[1])

CODE = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
    "util.py": "import calc\n\n\ndef twice(x):\n    # double it\n    return calc.mul(2, x)\n",
    "app.py": "from util import twice\n\nFIRST_DAY_OF_WEEK = 1  # Monday\nprint(twice(FIRST_DAY_OF_WEEK))\n",
}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    for name, text in CODE.items():
        (d / name).write_text(text * 4)
    return d


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(err: str, *words: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


# --------------------------------------------------------------------- argument validation

BAD_VALUES = [
    (["tokenize", "{src}", "--threads", "-3"], "--threads"),
    (["tokenize", "{src}", "-o", "{out}", "--workers", "-1"], "--workers"),
    (["tokenize", "{src}", "-o", "{out}", "--workers", "0"], "--workers"),
    (["tokenize", "{src}", "-o", "{out}", "--shard-tokens", "0"], "--shard-tokens"),
    (["tokenize", "{src}", "--batch-bytes", "abc"], "--batch-bytes"),
    (["train", "{src}", "-o", "{out}", "--vocab-size", "-5"], "--vocab-size"),
    (["train", "{src}", "-o", "{out}", "--threads", "-3"], "--threads"),
    (["train", "{src}", "-o", "{out}", "--line-merge-fraction", "2"], "--line-merge-fraction"),
    (["dedup", "{src}", "-o", "{out}", "--num-perm", "-3"], "--num-perm"),
    (["dedup", "{src}", "-o", "{out}", "--threshold", "1.5"], "--threshold"),
    (["dedup", "{src}", "-o", "{out}", "--ngram", "0"], "--ngram"),
    (["dedup", "{src}", "-o", "{out}", "--seed", "-1"], "--seed"),
    (["prepare", "{src}", "-o", "{out}.jsonl", "--workers", "0"], "--workers"),
    (["prepare", "{src}", "-o", "{out}.jsonl", "--fim-rate", "2"], "--fim-rate"),
    (["prepare", "{src}", "-o", "{out}.jsonl", "--min-bytes", "-1"], "--min-bytes"),
    (["prepare", "{src}", "-o", "{out}.jsonl", "--samples", ","], "--samples"),
    (["index", "{src}", "-o", "{out}", "--threads", "-3"], "--threads"),
    (["index", "{src}", "-o", "{out}", "--max-lines", "0"], "--max-lines"),
    (["search", "{out}", "q", "--dense-weight", "2"], "--dense-weight"),
    (["search", "{out}", "q", "-k", "0"], "-k"),
    (["bench", "{src}", "--repeat", "-1"], "--repeat"),
    (["ask", "q", "--index", "{out}", "--context-window", "-5"], "--context-window"),
    (["ask", "q", "--index", "{out}", "--max-tokens", "0"], "--max-tokens"),
    (["ask", "q", "--index", "{out}", "--timeout", "nan"], "--timeout"),
    (["context", "{src}/calc.py", "--budget", "-1"], "--budget"),
    # Past 64 bits the core said "int too big to convert", naming no argument.
    (["tokenize", "{src}", "--threads", str(2**64)], "--threads"),
    (["train", "{src}", "-o", "{out}", "--vocab-size", str(2**64)], "--vocab-size"),
    (["extend", "{src}", "{src}", "-o", "{out}", "--identifiers", str(2**64)], "--identifiers"),
    (["eval", "{src}/s.jsonl", "--memory-mb", "0"], "--memory-mb"),
    (["eval", "{src}/s.jsonl", "--workers", "-2"], "--workers"),
    (["eval", "{src}/s.jsonl", "--timeout", "nan"], "--timeout"),
]


@pytest.mark.parametrize(("argv", "flag"), BAD_VALUES, ids=[f"{a[0]} {f} {a[-1]}" for a, f in BAD_VALUES])
def test_every_command_refuses_bad_values_in_one_line(
    argv: list[str], flag: str, src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    rc, err = run(capsys, *(a.format(src=src, out=out) for a in argv))
    assert rc == 2
    one_line_error(err, f"codemill {argv[0]}: error: argument {flag}", argv[-1])
    assert snapshot(tmp_path) == before  # refused before anything was written


def test_tokenize_refuses_options_it_would_not_heed(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # A report (no -o) printed as usual with a run's options given, and --ray-address was
    # dropped with the local engine.
    rc, err = run(capsys, "tokenize", src, "--engine", "ray", "--format", "megatron", "--workers", "3")
    assert rc == 2
    one_line_error(err, "--workers, --format, --engine: only for a run with -o OUTDIR")
    rc, err = run(capsys, "tokenize", src, "-o", tmp_path / "out", "--ray-address", "127.0.0.1:1")
    assert rc == 2 and not (tmp_path / "out").exists()
    one_line_error(err, "--ray-address names the Ray cluster of --engine ray")
    assert run(capsys, "tokenize", src, "--no-progress")[0] == 0


UNHEEDED = [
    (["dedup", "{src}", "-o", "{out}", "--margin", "0.5"], "--margin and --no-estimate-filter are for --estimate-only"),
    (["dedup", "{src}", "-o", "{out}", "--no-estimate-filter", "--verify"], "are for --estimate-only"),
    (
        ["dedup", "{src}", "-o", "{out}", "--estimate-only", "--no-estimate-filter", "--margin", "0.3"],
        "--margin sets the estimate filter, which --no-estimate-filter turns off",
    ),
    (
        ["dedup", "{src}", "-o", "{out}", "--bands", "36", "--rows", "7", "--recall-weight", "0.5"],
        "--recall-weight chooses --bands and --rows",
    ),
    (["dedup", "{src}", "-o", "{out}", "--no-exact", "--normalize-whitespace"], "--normalize-whitespace is for exact"),
    (["dedup", "{src}", "-o", "{out}", "--text-field="], "--text-field is empty"),
    (
        ["prepare", "{src}", "-o", "{out}.jsonl", "--no-dedup", "--dedup-threshold", "0.5"],
        "which --no-dedup leaves out",
    ),
    (["prepare", "{src}", "-o", "{out}.jsonl", "--no-dedup", "--dedup-verify", "all"], "which --no-dedup leaves out"),
    (["graph", "{src}", "--externals"], "give --dot too"),
    (["graph", "{src}/calc.py"], "is a file; graph takes the repository's directory"),
]


@pytest.mark.parametrize(("argv", "says"), UNHEEDED, ids=[" ".join(a[:1] + a[3:]) for a, _ in UNHEEDED])
def test_options_a_command_would_not_heed_are_refused(
    argv: list[str], says: str, src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    before = snapshot(tmp_path)
    rc, err = run(capsys, *(a.format(src=src, out=tmp_path / "out") for a in argv))
    assert rc == 2
    one_line_error(err, says)
    assert snapshot(tmp_path) == before


def test_dedup_options_left_at_their_defaults_are_not_refused(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # The refusals above are of options given: a default (--recall-weight's 0.95) is not one.
    for i, extra in enumerate(
        (["--bands", "36", "--rows", "7"], ["--no-exact"], ["--estimate-only", "--no-estimate-filter"], [])
    ):
        out = tmp_path / f"out{i}"
        assert run(capsys, "dedup", src, "-o", out, "--no-progress", *extra)[0] == 0, extra
        params = json.loads((out / "dedup_report.json").read_text())["params"]
        assert params["recall_weight"] == 0.95, extra


def test_an_unknown_option_is_said_by_its_command(capsys: pytest.CaptureFixture[str]):
    # It was said by the top parser ("codemill: error: ..."), unlike every other argument error.
    rc, err = run(capsys, "tokenize", "--bogus", "x")
    assert rc == 2
    one_line_error(err, "codemill tokenize: error: unrecognized arguments: --bogus", "codemill tokenize --help")
    rc, err = run(capsys, "--bogus")
    assert rc == 2
    one_line_error(err, "codemill: error: unrecognized arguments: --bogus")


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["search", "{out}", "q\udcff"], "QUERY"),
        (["context", "{src}/calc.py", "--query", "q\udcff"], "--query"),
        (["ask", "q\udcff", "--index", "{out}"], "question"),
    ],
)
def test_a_text_argument_that_is_not_utf8_is_refused_up_front(
    argv: list[str], what: str, src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # It failed deep in the search: "'utf-8' codec can't encode character ...", naming nothing.
    rc, err = run(capsys, *(a.format(src=src, out=tmp_path / "out") for a in argv))
    assert rc == 2
    one_line_error(err, f"argument {what}: is not UTF-8 text: q\\xff")


def test_an_output_in_a_folder_that_cannot_be_written_is_refused_before_the_work(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # prepare published its samples, then failed on a --report in a read-only folder; train and
    # eval --out found theirs only after all the work. (As root, only a read-only mount says
    # no: the check is os.access, stood in for here.)
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != locked and real(p, mode, **kw))
    out = tmp_path / "p.jsonl"
    rc, err = run(capsys, "prepare", src, "-o", out, "--workers", "1", "--report", locked / "r.json")
    assert rc == 2 and not out.exists()
    one_line_error(err, f"{locked} is not writable")
    rc, err = run(capsys, "train", src, "-o", locked / "t.json", "--vocab-size", "300")
    assert rc == 2
    one_line_error(err, f"{locked} is not writable")
    # A directory written in place (tokenize) needs only itself writable, not its parent;
    # with --overwrite it is removed and made again, in its parent, so that is asked.
    (locked / "out").mkdir()
    (locked / "out" / "notes.txt").write_text("mine")
    rc, err = run(capsys, "tokenize", src, "-o", locked / "out", "--no-progress", "--overwrite")
    assert rc == 2 and (locked / "out" / "notes.txt").exists()
    one_line_error(err, f"{locked} is not writable")
    (locked / "out" / "notes.txt").unlink()
    assert run(capsys, "tokenize", src, "-o", locked / "out", "--no-progress")[0] == 0


def test_a_seed_takes_any_unsigned_64_bit_value(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # The core's seeds are u64: the 63-bit cap of other integers refused them.
    assert run(capsys, "dedup", src, "-o", tmp_path / "dd", "--seed", str(2**64 - 1))[0] == 0
    rc, err = run(capsys, "dedup", src, "-o", tmp_path / "dd2", "--seed", str(2**64))
    assert rc == 2
    one_line_error(err, "argument --seed: must be at most 18446744073709551615")


def test_a_bad_value_is_one_line_in_a_real_process(src: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": PYTHON_SRC}
    for argv in (["dedup", str(src), "-o", str(tmp_path / "o"), "--num-perm", "-3"], ["tokenize", "--threads", "-3"]):
        r = subprocess.run([sys.executable, "-m", "codemill.cli", *argv], capture_output=True, text=True, env=env)
        assert r.returncode == 2
        one_line_error(r.stderr, "must be a positive integer, got -3")


@pytest.mark.parametrize(
    ("suffix", "damage", "says"),
    [
        (".gz", "truncate", "truncated"),
        (".zst", "truncate", "truncated"),  # zstandard's readers end a cut frame as if whole
        (".zst", "not zstd", "corrupt zstd stream"),
    ],
)
def test_a_damaged_compressed_input_is_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, damage: str, says: str
):
    import gzip

    import zstandard

    lines = b"".join(json.dumps({"text": f"def f{i}(x):\n    return x + {i}\n"}).encode() + b"\n" for i in range(3000))
    data = gzip.compress(lines) if suffix == ".gz" else zstandard.ZstdCompressor().compress(lines)
    bad = tmp_path / f"t.jsonl{suffix}"
    bad.write_bytes(data[: len(data) // 2] if damage == "truncate" else lines[:100])
    before = snapshot(tmp_path)
    for argv in (
        ["dedup", bad, "-o", tmp_path / "d"],
        ["prepare", bad, "-o", tmp_path / "p.jsonl", "--workers", "1"],
        ["tokenize", bad, "-o", tmp_path / "t", "--workers", "1", "--no-progress"],
    ):
        rc, err = run(capsys, *argv)
        assert rc == 2
        one_line_error(err, bad.name, says)
        assert snapshot(tmp_path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_zstd_streams_of_several_frames_read_whole(tmp_path: Path):
    import zstandard
    from codemill.sources.streams import open_stream

    frames = [b"".join(b'{"text": "x%d"}\n' % (k * 1000 + i) for i in range(1000)) for k in range(3)]
    path = tmp_path / "f.jsonl.zst"
    path.write_bytes(b"".join(zstandard.ZstdCompressor().compress(f) for f in frames))
    with open_stream(path) as f:
        assert f.read() == b"".join(frames)
    (tmp_path / "empty.jsonl.zst").write_bytes(b"")
    with open_stream(tmp_path / "empty.jsonl.zst") as f:
        assert f.read() == b""


# --------------------------------------------------------------------- the output contract


def test_a_hard_link_to_an_input_is_the_input(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"text": "def f():\n    return 1\n"}) + "\n")
    os.link(data, tmp_path / "alias.jsonl")
    before = snapshot(tmp_path)
    rc, err = run(capsys, "prepare", data, "-o", tmp_path / "alias.jsonl", "--workers", "1", "--overwrite")
    assert rc == 2
    one_line_error(err, "alias.jsonl: the output is the input")
    assert snapshot(tmp_path) == before


def test_extend_replaces_only_its_own_outputs(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import base64

    base = tmp_path / "b.tiktoken"
    base.write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)))
    (tmp_path / "notes.json").write_text('{"mine": 1}\n')
    (tmp_path / "x.new_tokens.json").write_text("keep\n")
    extend = ["extend", base, src, "--pattern", r"\w+", "--identifiers", "8", "-o"]
    before = snapshot(tmp_path)
    for out, says in (
        (base, "b.tiktoken: the output is the input"),
        (src / "t.json", "t.json: the output is inside the input"),
        (tmp_path / "notes.json", "notes.json: exists and was not written by `codemill extend`"),
        (tmp_path / "x.json", "x.new_tokens.json"),  # the file written beside it is guarded too
    ):
        rc, err = run(capsys, *extend, out)
        assert rc == 2
        one_line_error(err, says)
        assert snapshot(tmp_path) == before
    for _ in range(2):  # its own output it replaces
        assert run(capsys, *extend, tmp_path / "t.json")[0] == 0
    assert run(capsys, *extend, tmp_path / "notes.json", "--overwrite")[0] == 0
    assert (tmp_path / "notes.json").read_text().startswith("{")
    assert '"mine"' not in (tmp_path / "notes.json").read_text()


def test_train_into_a_directory_is_refused_and_leaves_no_debris(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "some_dir").mkdir()
    before = snapshot(tmp_path)
    rc, err = run(capsys, "train", src, "-o", tmp_path / "some_dir", "--vocab-size", "400")
    assert rc == 2
    one_line_error(err, "some_dir: is a directory")
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some_dir", "src"]


def test_train_refuses_a_file_it_did_not_write_unless_overwrite(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    rc, err = run(capsys, "train", src, "-o", notes, "--vocab-size", "400")
    assert rc == 2
    one_line_error(err, "notes.json: exists and was not written by `codemill train`", "--overwrite")
    assert notes.read_text() == '{"mine": true}'
    assert run(capsys, "train", src, "-o", notes, "--vocab-size", "400", "--overwrite")[0] == 0
    assert CodeTokenizer.load(notes).vocab_size <= 400
    # its own earlier output is replaced without asking
    assert run(capsys, "train", src, "-o", notes, "--vocab-size", "420")[0] == 0


def test_train_shows_its_steps_unless_told_not_to(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = run(capsys, "train", src, "-o", tmp_path / "t.json", "--vocab-size", "400")
    assert rc == 0
    lines = err.splitlines()
    assert lines[0].startswith("train: reading: ") and " documents, " in lines[0]
    assert any(line.startswith("train: learning the vocabulary: ") and line.endswith(" tokens") for line in lines)
    for quiet in ("--no-progress", "--json"):
        rc, err = run(capsys, "train", src, "-o", tmp_path / "t.json", "--vocab-size", "400", quiet)
        assert rc == 0 and "train: " not in err


def test_train_warns_when_the_vocabulary_is_smaller_than_asked(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rc, err = run(capsys, "train", src, "-o", tmp_path / "t.json", "--vocab-size", "30000")
    assert rc == 0
    assert "warning: the vocabulary has" in err and "not the 30000 asked for" in err


def test_an_output_inside_or_equal_to_an_input_is_refused(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    before = snapshot(tmp_path)
    for argv, words in (
        (["dedup", src, "-o", src], "the output is the input"),
        (["dedup", src, "-o", src / "out"], "inside the input"),
        (["tokenize", src, "-o", src / "tok", "--workers", "1"], "inside the input"),
        (["prepare", src, "-o", src / "p.jsonl", "--workers", "1"], "inside the input"),
        (["train", src / "calc.py", "-o", src / "calc.py", "--overwrite"], "the output is the input"),
        (["index", src, "-o", src / "idx", "--no-progress"], "inside the input"),
        # Spelled as a file:// URL on either side: the same place.
        (["dedup", f"file://{src}", "-o", src, "--overwrite"], "the output is the input"),
        (["dedup", src, "-o", f"file://{src}/out"], "inside the input"),
        (["tokenize", f"file://{src}", "-o", src / "tok", "--workers", "1"], "inside the input"),
        (["prepare", src, "-o", f"file://{src}/p.jsonl", "--workers", "1"], "inside the input"),
    ):
        rc, err = run(capsys, *argv)
        assert rc == 2, argv
        one_line_error(err, words)
        assert snapshot(tmp_path) == before, argv
    # An input that is a link inside the output to elsewhere: replacing the output deletes it.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "link_in").symlink_to(src)
    rc, err = run(capsys, "dedup", tmp_path / "data" / "link_in", "-o", tmp_path / "data", "--overwrite")
    assert rc == 2
    one_line_error(err, "replacing the output would delete the input")
    assert (tmp_path / "data" / "link_in").is_symlink()
    # A loop of links as the input or the output: one line, not a traceback.
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    for argv, words in (
        (["dedup", tmp_path / "loop.py", "-o", tmp_path / "o"], None),
        (["prepare", src, "-o", tmp_path / "loop.jsonl", "--workers", "1"], "loop of symbolic links"),
    ):
        rc, err = run(capsys, *argv)
        assert "Traceback" not in err, argv
        if words:
            assert rc == 2 and words in err, argv


def test_tokenize_into_a_refused_directory_leaves_no_tasks_dir(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("precious")
    rc, err = run(capsys, "tokenize", src, "-o", docs, "--workers", "1", "--no-progress")
    assert rc == 2
    one_line_error(err, "docs: exists and was not written by `codemill tokenize`", "--overwrite")
    assert snapshot(docs) == {"notes.txt": b"precious"}


def test_prepare_refuses_a_file_it_did_not_write_and_replaces_its_own(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "train.jsonl"
    out.write_text('{"text": "hand-made"}\n')
    rc, err = run(capsys, "prepare", src, "-o", out, "--workers", "1")
    assert rc == 2
    one_line_error(err, "train.jsonl: exists and was not written by `codemill prepare`")
    assert out.read_text() == '{"text": "hand-made"}\n'
    assert run(capsys, "prepare", src, "-o", out, "--workers", "1", "--overwrite", "--no-dedup")[0] == 0
    first = out.read_bytes()
    assert run(capsys, "prepare", src, "-o", out, "--workers", "1", "--no-dedup")[0] == 0  # ours: replaced
    assert out.read_bytes() == first
    assert "hand-made" not in out.read_text()


def test_dedup_rerun_replaces_its_output_whole(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "dd"
    assert run(capsys, "dedup", src, "-o", out)[0] == 0
    (src / "calc.py").unlink()
    (src / "copy.py").write_bytes((src / "util.py").read_bytes())
    assert run(capsys, "dedup", src, "-o", out)[0] == 0
    kept = {p.name for p in (out / "src").iterdir()}
    assert "calc.py" not in kept and len(kept & {"util.py", "copy.py"}) == 1


def test_an_output_directory_that_is_a_link_is_written_through_it(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # The new output replaced the link with a directory, and the link's target (a folder on a
    # bigger disk, say) kept the previous run's output.
    (tmp_path / "big").mkdir()
    real, link = (tmp_path / "big").resolve() / "dd", tmp_path / "dd"  # as the checks name it
    assert run(capsys, "dedup", src / "calc.py", "-o", real)[0] == 0
    link.symlink_to(real)
    assert run(capsys, "dedup", src / "util.py", "-o", link)[0] == 0
    assert link.is_symlink() and link.resolve() == real
    assert sorted(p.name for p in real.rglob("*.py")) == ["util.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "dd", "src"]  # no debris beside either
    assert sorted(p.name for p in real.parent.iterdir()) == ["dd"]
    # A link to a place not made yet is made there; the index's directory too.
    (tmp_path / "idx").symlink_to(tmp_path / "big" / "idx")
    assert run(capsys, "index", src, "-o", tmp_path / "idx", "--no-progress")[0] == 0
    assert (tmp_path / "idx").is_symlink() and (tmp_path / "big" / "idx" / "meta.json").is_file()
    # Where it resolves is what is checked: inside an input, or in a folder that cannot be written.
    (tmp_path / "in_src").symlink_to(src / "out")
    rc, err = run(capsys, "dedup", src, "-o", tmp_path / "in_src")
    assert rc == 2 and not (src / "out").exists()
    one_line_error(err, "inside the input")
    # An input under the link's target, which the output replaces, named as it is there.
    (real / "srclink").symlink_to(src)
    rc, err = run(capsys, "dedup", real / "srclink", "-o", link)
    assert rc == 2 and (real / "srclink").is_symlink()
    one_line_error(err, "would delete the input")
    (real / "srclink").unlink()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != real.parent and real_access(p, mode, **kw))
    rc, err = run(capsys, "dedup", src, "-o", link)
    assert rc == 2
    one_line_error(err, f"{real.parent} is not writable")
    assert sorted(p.name for p in real.rglob("*.py")) == ["util.py"]


def test_tokenize_overwrite_through_a_link_empties_its_target_and_keeps_it(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # --overwrite removed the link itself: the run went to a new folder beside it (or, when it
    # failed, left no output at all), and the link's target kept the other run.
    real, link = tmp_path / "big" / "tok", tmp_path / "tok"
    assert run(capsys, "tokenize", src / "calc.py", "-o", real, "--no-progress")[0] == 0
    link.symlink_to(real)
    assert run(capsys, "tokenize", src / "util.py", "-o", link, "--no-progress", "--overwrite")[0] == 0
    assert link.is_symlink() and json.loads((real / "manifest.json").read_text())["inputs"] == [str(src / "util.py")]
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip")
    rc, err = run(capsys, "tokenize", bad, "-o", link, "--no-progress", "--overwrite")
    assert rc != 0 and link.is_symlink() and real.is_dir() and not any(real.iterdir())  # afresh, then emptied
    one_line_error(err, "bad.jsonl.gz")


def test_index_of_another_repository_is_refused_unless_asked(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    other = tmp_path / "other"
    other.mkdir()
    (other / "lib.py").write_text("def other_function():\n    return 42\n")
    idx = tmp_path / "idx"
    assert run(capsys, "index", src, "-o", idx, "--no-progress")[0] == 0
    before = snapshot(idx)
    # A rebuild replaces the index too: --rebuild, or another chunk size, got past the check.
    for extra in ([], ["--rebuild"], ["--max-lines", "40"]):
        rc, err = run(capsys, "index", other, "-o", idx, "--no-progress", *extra)
        assert rc == 2, extra
        one_line_error(err, "the index is of another repository", "--replace-source")
        assert snapshot(idx) == before
    assert run(capsys, "index", other, "-o", idx, "--no-progress", "--replace-source", "--json")[0] == 0
    meta = json.loads((idx / "meta.json").read_text())
    assert meta["root"] == str(other.resolve()) and set(meta["files"]) == {"lib.py"}


def test_ctrl_c_on_tokenize_says_the_same_command_resumes(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    import codemill.corpus.job

    def interrupted(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(codemill.corpus.job, "tokenize_corpus", interrupted)
    rc, err = run(capsys, "tokenize", src, "-o", tmp_path / "t", "--workers", "1")
    assert rc == 130
    one_line_error(err, "interrupted; run the same command again to resume")


# --------------------------------------------------------------------- special tokens end to end


def test_prepare_then_tokenize_keeps_the_fim_markers(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    tok = CodeTokenizer.default()
    out = tmp_path / "p.jsonl"
    rc, _ = run(
        capsys, "prepare", src, "-o", out, "--workers", "1", "--no-dedup", "--samples", "fim", "--fim-rate", "1"
    )
    assert rc == 0
    sidecar = json.loads((tmp_path / "p.jsonl.codemill.json").read_text())
    assert sidecar["written_by"] == "codemill prepare"
    fim_ids = {tok.special_tokens[t] for t in sidecar["special_tokens"]}
    assert len(fim_ids) == 3

    def ids_of(outdir: Path) -> np.ndarray:
        return np.concatenate([np.load(p) for p in sorted(outdir.glob("shard-*.npy"))])

    assert run(capsys, "tokenize", out, "-o", tmp_path / "t", "--workers", "1", "--no-progress")[0] == 0
    assert fim_ids <= set(ids_of(tmp_path / "t").tolist())
    rc, _ = run(
        capsys, "tokenize", out, "-o", tmp_path / "n", "--workers", "1", "--no-progress", "--allowed-special", "none"
    )
    assert rc == 0
    assert not fim_ids & set(ids_of(tmp_path / "n").tolist())
    rc, err = run(capsys, "tokenize", out, "-o", tmp_path / "x", "--allowed-special", "<|nope|>")
    assert rc == 2
    one_line_error(err, "<|nope|>")


def prepare_fim_samples(capsys: pytest.CaptureFixture[str], src: Path, data: Path) -> list[str]:
    """FIM samples of ``src`` prepared into ``data/p.jsonl``; the special tokens its description names."""
    data.mkdir()
    args = ["prepare", src, "-o", data / "p.jsonl", "--workers", "1", "--no-dedup", "--samples", "fim"]
    assert run(capsys, *args, "--fim-rate", "1")[0] == 0
    return list(json.loads((data / "p.jsonl.codemill.json").read_text())["special_tokens"])


def test_a_prepared_file_inside_a_tree_is_read_with_its_description(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A prepare's samples written into a folder the run reads whole: their FIM markers are the
    # tokenizer's special tokens there too, in a run and in a report. Before, the description was
    # read for named files only, and the markers of a tree's samples were encoded as text.
    tok = CodeTokenizer.default()
    data = tmp_path / "data"
    fim_ids = {tok.special_tokens[t] for t in prepare_fim_samples(capsys, src, data)}
    assert run(capsys, "tokenize", data, "-o", tmp_path / "t", "--workers", "1", "--no-progress")[0] == 0
    ids = np.concatenate([np.load(p) for p in sorted((tmp_path / "t").glob("shard-*.npy"))])
    assert fim_ids <= set(ids.tolist())
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["settings"]["allowed_special"] == [
        t for t in tok.special_tokens if tok.special_tokens[t] in fim_ids
    ]
    assert main(["tokenize", str(data), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == manifest["totals"]["text_tokens"]


def test_a_prepared_files_markers_are_control_tokens_in_that_file_only(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Tokenizer code beside prepared samples spells the markers as text: they stay text there,
    # as they do in a run without the samples (before, one description made them control
    # tokens in every file of the run). Report and run count the same tokens.
    tok = CodeTokenizer.default()
    data = tmp_path / "data"
    fim = prepare_fim_samples(capsys, src, data)
    (data / "tokmod.py").write_text("".join(f"MARK_{i} = {t!r}\n" for i, t in enumerate(fim)))
    ids = {t: tok.special_tokens[t] for t in fim}

    def marks(out: Path) -> int:
        arrays = [np.load(p) for p in sorted(out.glob("shard-*.npy"))]
        return int(sum(np.isin(a, list(ids.values())).sum() for a in arrays))

    assert run(capsys, "tokenize", data / "tokmod.py", "-o", tmp_path / "alone", "--no-progress")[0] == 0
    assert marks(tmp_path / "alone") == 0
    assert run(capsys, "tokenize", data / "p.jsonl", "-o", tmp_path / "samples", "--no-progress")[0] == 0
    assert run(capsys, "tokenize", data, "-o", tmp_path / "both", "--no-progress")[0] == 0
    assert marks(tmp_path / "both") == marks(tmp_path / "samples") > 0
    manifest = json.loads((tmp_path / "both" / "manifest.json").read_text())
    assert manifest["settings"]["allowed_special_files"] == [str(data / "p.jsonl")]
    assert main(["tokenize", str(data), "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == manifest["totals"]["text_tokens"]
    # Named, the samples' description applies to them alone too.
    assert (
        run(capsys, "tokenize", data / "p.jsonl", data / "tokmod.py", "-o", tmp_path / "named", "--no-progress")[0] == 0
    )
    assert marks(tmp_path / "named") == marks(tmp_path / "samples")


def test_the_report_reads_what_a_run_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # A record file the listing passes over (empty) beside a stale description: the run skips
    # it and so does the report (it read every description in the tree and failed on this one).
    # Skipped lines of a JSONL cut into several tasks are numbered as in the file, as in the run.
    data = tmp_path / "e"
    data.mkdir()
    (data / "a.py").write_text("x = 1\n")
    (data / "p.jsonl").write_text("")
    (data / "p.jsonl.codemill.json").write_text(json.dumps({"written_by": "codemill prepare", "bytes": 99}))
    lines = [json.dumps({"content": f"y{i} = {i}\n" * 40}) for i in range(3000)]
    lines[2500] = "not json"
    (data / "big.jsonl").write_text("\n".join(lines) + "\n")
    assert run(capsys, "tokenize", data, "-o", tmp_path / "t", "--no-progress")[0] == 0
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["tasks_planned"] > 2
    assert main(["tokenize", str(data), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == manifest["totals"]["text_tokens"]
    assert report["skipped"] == manifest["skipped"]
    assert report["skipped_items"] == manifest["skipped_items"]
    assert {"path": f"{data / 'big.jsonl'}:2501", "reason": "invalid_json"} in report["skipped_items"]


def test_a_description_of_another_run_is_not_trusted(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # Before: a prepare stopped between publishing its output and its description left the old
    # run's special tokens beside the new samples, and tokenize went by them.
    out = tmp_path / "p.jsonl"
    args = ["prepare", src, "-o", out, "--workers", "1", "--no-dedup", "--samples", "fim", "--fim-rate", "1"]
    assert run(capsys, *args)[0] == 0
    out.write_text(out.read_text()[: out.stat().st_size // 2].rsplit("\n", 1)[0] + "\n")  # a later run's output
    rc, err = run(capsys, "tokenize", out, "-o", tmp_path / "t", "--workers", "1")
    assert rc == 2
    one_line_error(err, "is of a ")
    rc, _ = run(capsys, "tokenize", out, "-o", tmp_path / "t", "--workers", "1", "--allowed-special", "all")
    assert rc == 0
    assert run(capsys, *args)[0] == 0  # still prepare's own output: written again without --overwrite
    assert run(capsys, "tokenize", out, "-o", tmp_path / "t2", "--workers", "1")[0] == 0


def test_a_prepare_stopped_between_its_description_and_its_samples_leaves_no_undescribed_samples(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Before, the samples were published first: a run that failed to publish the description (a
    # dropped connection on that one upload) or was killed between the two left samples with no
    # description, which tokenize read without their FIM tokens and prepare refused to replace.
    import codemill.outputs

    out = tmp_path / "p.jsonl"
    args = ["prepare", src, "-o", out, "--workers", "1", "--no-dedup", "--samples", "fim", "--fim-rate", "1"]

    def down(*a, **kw):
        raise OSError("connection reset")

    monkeypatch.setattr(codemill.outputs, "publish_json", down)
    assert run(capsys, *args)[0] != 0
    assert not out.exists()  # no samples without their description
    monkeypatch.undo()
    # Stopped after the description, before the samples replaced an older output:
    assert run(capsys, "prepare", src, "-o", out, "--workers", "1", "--samples", "raw")[0] == 0
    import codemill._io

    real = os.replace

    def stop_at_samples(a, b):
        if str(b).endswith(".jsonl"):
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(codemill._io.os, "replace", stop_at_samples)
    # Ctrl-C there: the earlier description is put back beside the earlier samples, which read.
    assert run(capsys, *args)[0] != 0
    assert run(capsys, "tokenize", out, "-o", tmp_path / "t0", "--workers", "1")[0] == 0
    # A kill there runs no handler (nothing put back): the new description does not fit.
    import codemill.finetune.pipeline

    monkeypatch.setattr(codemill.finetune.pipeline, "put_back_sidecar", lambda *a: None)
    assert run(capsys, *args)[0] != 0
    monkeypatch.undo()
    rc, err = run(capsys, "tokenize", out, "-o", tmp_path / "t", "--workers", "1")
    assert rc == 2
    one_line_error(err, "is of a ")  # the description does not fit the older samples: refused
    assert run(capsys, *args)[0] == 0  # and prepare writes them again without --overwrite
    assert run(capsys, "tokenize", out, "-o", tmp_path / "t2", "--workers", "1")[0] == 0


def test_a_long_report_is_prepares_own_and_a_report_under_a_file_is_refused_first(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Before: only the first 64 KiB were searched for the report's key, which comes after up to
    # a thousand listed items, so a rerun refused its own report; and a report path under a
    # file failed only once the whole run was done (its output published, exit status 2).
    report = tmp_path / "rep.json"
    items = [{"path": f"vendor/generated/f{i:05d}.txt", "reason": "language"} for i in range(1000)]
    report.write_text(json.dumps({"skipped_items": items, "samples_not_made": {}}, indent=1))
    assert report.stat().st_size > 1 << 16
    args = ["prepare", src, "-o", tmp_path / "p.jsonl", "--workers", "1", "--no-progress"]
    assert run(capsys, *args, "--report", report)[0] == 0
    assert "samples_not_made" in json.loads(report.read_text())
    (tmp_path / "afile").write_text("x")
    rc, err = run(capsys, "prepare", src, "-o", tmp_path / "q.jsonl", "--report", tmp_path / "afile" / "r.json")
    assert rc == 2 and not (tmp_path / "q.jsonl").exists()
    one_line_error(err, "afile is not a directory")


def test_the_current_directory_is_an_input(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Before: "." (a path with no name) failed looking for its description beside it.
    monkeypatch.chdir(src)
    rc, err = run(capsys, "tokenize", ".", "-o", tmp_path / "t", "--workers", "1", "--no-progress")
    assert rc == 0, err


def test_the_current_directory_is_no_output_directory(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Before: `dedup -o . --overwrite` failed after the whole run ("has an empty name"), and
    # tokenize's --overwrite would have removed the directory the user works in.
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine\n")
    monkeypatch.chdir(work)
    for command in ("dedup", "tokenize"):
        for out in (".", str(work), f"file://{work}"):
            rc, err = run(capsys, command, src, "-o", out, "--overwrite")
            assert rc == 2
            one_line_error(err, "is the current directory or holds it")
    assert (work / "notes.txt").read_text() == "mine\n"
    # tokenize writes into its directory: without --overwrite it may run (and resume) from there.
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    for _ in range(2):
        rc, err = run(capsys, "tokenize", src, "-o", ".", "--workers", "1", "--no-progress")
        assert rc == 0, err


def test_a_description_whose_size_is_not_a_number_is_not_checked(src: Path, tmp_path: Path):
    from codemill.outputs import described

    out = tmp_path / "p.jsonl"
    out.write_text("{}\n")
    (tmp_path / "p.jsonl.codemill.json").write_text(json.dumps({"bytes": "3", "special_tokens": ["<|x|>"]}))
    assert described(out)["special_tokens"] == ["<|x|>"]  # hand-edited: not a size to compare


# --------------------------------------------------------------------- the README without a main guard

SCRIPT = """
from codemill import prepare, tokenize_corpus
m = tokenize_corpus([{src!r}], {out!r}, workers=2, task_bytes=64)
r = prepare([{src!r}], {prep!r}, workers=2)
print("ok", m["totals"]["documents"], r["samples"]["total"] > 0)
"""


def test_readme_example_runs_as_a_script_without_a_main_guard(src: Path, tmp_path: Path):
    script = tmp_path / "example.py"
    script.write_text(SCRIPT.format(src=str(src), out=str(tmp_path / "tok"), prep=str(tmp_path / "p.jsonl")))
    env = {**os.environ, "PYTHONPATH": PYTHON_SRC}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout.split() == ["ok", str(len(CODE)), "True"]


# --------------------------------------------------------------------- messages and reports


def test_context_on_a_directory_says_so(src: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = run(capsys, "context", src)
    assert rc == 2
    one_line_error(err, "src: is a directory")


def test_ask_with_no_room_for_the_prompt_names_the_flags(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = run(capsys, "ask", "q", "--index", tmp_path / "idx", "--context-window", "1000")
    assert rc == 2
    one_line_error(err, "--max-tokens 1024", "--context-window 1000")


def test_graph_text_counts_the_edges_json_lists(src: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["graph", str(src), "--json"]) == 0
    listed = len(json.loads(capsys.readouterr().out)["edges"])
    assert main(["graph", str(src)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert f"{listed} edges" in first


def test_default_tokenize_reads_the_stdlib_without_site_packages(capsys: pytest.CaptureFixture[str]):
    from codemill.commands.tokenize import _stdlib_inputs
    from codemill.sources import Skips, walk

    [stdlib] = _stdlib_inputs()
    assert "standard library" in capsys.readouterr().err
    skips = Skips(limit=1 << 30)
    entries = list(walk(Path(stdlib), skips))
    assert not any("site-packages" in e.rel.split("/") for e in entries)
    assert any(e.rel.startswith("venv/") for e in entries)  # the stdlib's venv package is code
    if (Path(stdlib) / "site-packages").is_dir():
        assert {"path": str(Path(stdlib) / "site-packages") + "/", "reason": "vendored"} in skips.items


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one():
    import io

    from codemill.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    log, tty = io.StringIO(), Tty()
    for stream in (log, tty):
        with Progress("embedding", 10, "chunks", stream=stream, interval=0.0) as bar:
            for _ in range(10):
                bar.advance()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("embedding: 10/10 chunks 100%")  # the last line once
    assert "\r" not in log.getvalue()
    assert "\r" in tty.getvalue() and "[########################] 100%" in tty.getvalue()
    # A step that fails leaves no last line of its own: on a terminal, its line ends for the error.
    log, tty = io.StringIO(), Tty()
    for stream in (log, tty):
        with pytest.raises(OSError), Progress("graph", stream=stream, interval=0.0) as bar:
            bar.update(0, force=True)
            raise OSError("nope")
    assert log.getvalue() == "graph ...\n" and tty.getvalue() == "\rgraph ...\x1b[K\n"
    # A log gets the last line once, even where the last update was shown already.
    log = io.StringIO()
    with Progress("tokenize", 2, "tasks", stream=log, interval=0.0) as bar:
        bar.update(1, "a")
        bar.update(2, "b")
    assert log.getvalue().splitlines() == ["tokenize: 1/2 tasks 50%, a", "tokenize: 2/2 tasks 100%, b"]


def test_a_failed_run_leaves_its_error_a_line_of_its_own_on_a_terminal(tmp_path):
    import gzip
    import io

    import codemill

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def f(x):\n    return x + 1\n")
    (tmp_path / "bad.jsonl.gz").write_bytes(gzip.compress(b'{"text": "a"}\n' * 100)[:30])  # truncated
    inputs = [tmp_path / "src", tmp_path / "bad.jsonl.gz"]
    for run in (
        lambda tty: codemill.tokenize_corpus(inputs, tmp_path / "t", workers=1, task_bytes=1, progress=tty),
        lambda tty: codemill.dedup(inputs, tmp_path / "d", progress=tty),
    ):
        tty = Tty()
        with pytest.raises(codemill.CodemillError, match=r"bad\.jsonl\.gz"):
            run(tty)
        assert "\r" in tty.getvalue() and tty.getvalue().endswith("\n")  # its line drawn, then ended


def test_index_says_when_it_builds_the_graph(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = run(capsys, "index", src, "-o", tmp_path / "idx")
    assert rc == 0
    assert "repository graph ..." in err and "files built" in err


def test_a_file_name_that_is_not_utf8_does_not_stop_index_or_prepare(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    try:
        (src / os.fsdecode(b"bad\xff.py")).write_text("def z():\n    return 3\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    assert run(capsys, "index", src, "-o", tmp_path / "idx")[0] == 0
    assert run(capsys, "prepare", src, "-o", tmp_path / "p.jsonl", "--min-bytes", "0", "--workers", "1")[0] == 0
    paths = {json.loads(line)["path"] for line in (tmp_path / "p.jsonl").read_text().splitlines()}
    assert "bad\\xff.py" in paths


def test_a_file_url_output_is_written_as_its_local_path(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # Through fsspec's local filesystem every write into a directory not made yet failed ("no such
    # bucket or object") after the work, leaving part of the output behind.
    (src / "pkg").mkdir()
    (src / "pkg" / "deep.py").write_text("def deep():\n    return 4\n" * 4)
    for command, name, extra in (
        ("tokenize", "tok", ["--workers", "1", "--no-progress"]),
        ("dedup", "dd", []),
        ("prepare", "p/samples.jsonl", ["--workers", "1", "--min-bytes", "1"]),
    ):
        by_url, by_path = tmp_path / "url" / name, tmp_path / "path" / name
        rc, err = run(capsys, command, src, "-o", by_url.as_uri(), *extra)
        assert rc == 0, err
        assert run(capsys, command, src, "-o", by_path, *extra)[0] == 0
        if command == "prepare":
            assert by_url.read_bytes() == by_path.read_bytes()
        else:
            assert sorted(p.relative_to(by_url) for p in by_url.rglob("*")) == sorted(
                p.relative_to(by_path) for p in by_path.rglob("*")
            )


def test_an_output_file_that_is_a_link_is_written_through_it(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # The new output replaced the link with a plain file, and the link's target (on a bigger
    # disk, say) kept the previous run's output.
    (tmp_path / "big").mkdir()
    real, link = (tmp_path / "big").resolve() / "t.json", tmp_path / "t.json"
    assert run(capsys, "train", src / "calc.py", "-o", real, "--vocab-size", "300")[0] == 0
    before = real.read_bytes()
    link.symlink_to(real)
    assert run(capsys, "train", src, "-o", link, "--vocab-size", "400")[0] == 0
    assert link.is_symlink() and link.resolve() == real and real.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "src", "t.json"]  # no debris beside either
    assert sorted(p.name for p in real.parent.iterdir()) == ["t.json"]
    # prepare's samples too, and their description beside them, not beside the link: there a
    # tokenize of the samples' folder missed it (or read an older run's), and the next prepare
    # through the link was refused as not its own output.
    samples = tmp_path / "big" / "p.jsonl"
    samples.write_text("")
    (tmp_path / "p.jsonl").symlink_to(samples)
    for extra in (["--overwrite"], []):
        assert run(capsys, "prepare", src, "-o", tmp_path / "p.jsonl", "--workers", "1", *extra)[0] == 0
    assert (tmp_path / "p.jsonl").is_symlink() and samples.read_text().count("\n") > 0
    assert sorted(p.name for p in samples.parent.iterdir()) == ["p.jsonl", "p.jsonl.codemill.json", "t.json"]
    assert json.loads((samples.parent / "p.jsonl.codemill.json").read_text())["bytes"] == samples.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "p.jsonl", "src", "t.json"]
    # --report where that description is: refused, as for an output that is no link.
    described = samples.parent / "p.jsonl.codemill.json"
    rc, err = run(capsys, "prepare", src, "-o", tmp_path / "p.jsonl", "--report", described)
    assert rc == 2
    one_line_error(err, "is the output's description")
    # Where it resolves is what is checked: a folder that cannot be written.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != real.parent and real_access(p, mode, **kw))
    rc, err = run(capsys, "train", src, "-o", link, "--vocab-size", "400")
    assert rc == 2
    one_line_error(err, f"{real.parent} is not writable")
