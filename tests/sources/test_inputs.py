"""The one reader: .gitignore, vendored / build / lock files, symlinks, shebangs, corpora."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from codemill.sources import Skips, iter_documents, list_documents

CODE = "def f(x):\n    return x + 1\n"


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _found(*inputs: Path) -> tuple[list[str], Skips, list[dict[str, str]]]:
    skips = Skips()
    paths = [d.path for d in list_documents(inputs, skips)]
    return paths, skips, [dict(i) for i in skips.items]


def test_gitignore_is_respected(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.gen.py\n/scratch/\nlogs/\n!keep.gen.py\n",
            "app/main.py": CODE,
            "app/out.gen.py": CODE,
            "app/keep.gen.py": CODE,
            "scratch/try.py": CODE,
            "app/scratch/real.py": CODE,  # /scratch/ is anchored at the root
            "app/logs/log.py": CODE,
            "lib/.gitignore": "secret.py\n!*.gen.py\n",
            "lib/secret.py": CODE,
            "lib/util.py": CODE,
            "lib/more.gen.py": CODE,  # re-included by the deeper .gitignore
        },
    )
    paths, skipped, listed = _found(tmp_path)
    assert paths == [
        "app/keep.gen.py",
        "app/main.py",
        "app/scratch/real.py",
        "lib/more.gen.py",
        "lib/util.py",
    ]
    ignored = sorted(Path(e["path"]).relative_to(tmp_path).as_posix() for e in listed if e["reason"] == "gitignored")
    assert ignored == ["app/logs", "app/out.gen.py", "lib/secret.py", "scratch"]
    assert skipped.counts["gitignored"] == 4


def test_git_info_exclude(tmp_path: Path) -> None:
    _tree(tmp_path, {".git/info/exclude": "local_*.py\n", "local_notes.py": CODE, "main.py": CODE})
    paths, skipped, _ = _found(tmp_path)
    assert paths == ["main.py"]
    assert skipped.counts["gitignored"] == 1 and skipped.counts["vcs"] == 1


def test_vendored_build_lock_and_tool_directories_are_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "src/app.js": CODE,
            "node_modules/left-pad/index.js": CODE,
            "vendor/github.com/x/y.go": CODE,
            "third_party/zlib/inflate.c": CODE,
            "build/lib/app.py": CODE,
            "dist/app.js": CODE,
            "target/debug/build.rs": CODE,
            ".venv/lib/site.py": CODE,
            ".venv/pyvenv.cfg": "home = /usr/bin\n",  # a virtual environment, known by its marker
            "tools/venv/__init__.py": CODE,  # a package named venv is code
            "__pycache__/m.py": CODE,
            "pkg.egg-info/x.py": CODE,
            ".git/hooks/pre-commit.py": CODE,
            "package-lock.json": "{}",
            "Cargo.lock": "",
            "README.md": "# readme\n",
        },
    )
    paths, skipped, _ = _found(tmp_path)
    assert paths == ["src/app.js", "tools/venv/__init__.py"]
    assert skipped.counts["vendored"] == 3
    assert skipped.counts["build_output"] == 5  # build, dist, target, __pycache__, egg-info
    assert skipped.counts["tool_state"] == 1 and skipped.counts["vcs"] == 1
    assert skipped.counts["lock_file"] == 2
    assert skipped.counts["unsupported_language"] == 1


def test_symlink_loops_do_not_trap_the_walk(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b/mod.py": CODE})
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    os.symlink(tmp_path / "a" / "b" / "mod.py", tmp_path / "alias.py")
    paths, skipped, _ = _found(tmp_path)
    assert paths == ["a/b/mod.py"]
    assert skipped.counts["symlink"] == 2


def test_languages_from_extension_and_shebang(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bin/tool": "#!/usr/bin/env python3\nprint('hi')\n",
            "bin/run": "#!/usr/bin/env node\nconsole.log(1)\n",
            "bin/notes": "just text\n",
            "m.rs": CODE,
            "k.tsx": CODE,
            "h.hpp": CODE,
        },
    )
    skipped = Skips()
    docs = {d.path: d.language for d in list_documents([tmp_path], skipped)}
    assert docs == {
        "bin/run": "javascript",
        "bin/tool": "python",
        "h.hpp": "cpp",
        "k.tsx": "typescript",
        "m.rs": "rust",
    }
    assert skipped.counts["unsupported_language"] == 1


def test_repository_name_and_single_file(tmp_path: Path) -> None:
    _tree(tmp_path / "myrepo", {"pkg/a.py": CODE})
    skipped = Skips()
    [doc] = list_documents([tmp_path / "myrepo"], skipped)
    assert (doc.repository, doc.path, doc.language) == ("myrepo", "pkg/a.py", "python")
    [doc] = list_documents([tmp_path / "myrepo" / "pkg" / "a.py"], skipped)
    assert (doc.repository, doc.path) == ("pkg", "a.py")


def test_jsonl_and_parquet_corpora(tmp_path: Path) -> None:
    records = [
        {"content": CODE, "max_stars_repo_path": "x/a.py", "max_stars_repo_name": "o/r", "lang": "Python"},
        {"text": "fn main() {}\n", "path": "src/main.rs"},
        {"nothing": 1},
    ]
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
        f.write("{not json\n")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    columns = {
        k: [r.get(k) for r in records[:2]]
        for k in ("content", "text", "path", "max_stars_repo_path", "max_stars_repo_name", "lang")
    }
    pq.write_table(pa.table(columns), tmp_path / "c.parquet")
    skipped = Skips()
    docs = list(iter_documents([tmp_path / "c.jsonl.gz", tmp_path / "c.parquet"], skipped))
    got = [(d.repository, d.path, d.language, d.text) for d in docs]
    assert got == [
        ("o/r", "x/a.py", "python", CODE),
        ("c.jsonl.gz", "src/main.rs", "rust", "fn main() {}\n"),
        ("o/r", "x/a.py", "python", CODE),
        ("c.parquet", "src/main.rs", "rust", "fn main() {}\n"),
    ]
    assert [d.index for d in docs] == [0, 1, 2, 3]
    assert skipped.as_dict() == {"no_text": 1, "invalid_json": 1}
    assert [i["path"] for i in skipped.items] == [f"{tmp_path / 'c.jsonl.gz'}:3", f"{tmp_path / 'c.jsonl.gz'}:4"]
    assert [(d.source, d.record) for d in docs] == [(0, 1), (0, 2), (1, 1), (1, 2)]


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        list(list_documents([tmp_path / "nope"], Skips()))


def test_an_input_given_twice_or_an_empty_name_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    # Given twice, its documents were read twice and its skipped lines numbered past its end; an
    # empty name (an unset shell variable) walked the current directory.
    from codemill.cli import main
    from codemill.errors import ConfigError

    (tmp_path / "r.jsonl").write_text(json.dumps({"text": CODE}) + "\n")
    monkeypatch.chdir(tmp_path)
    for twice in (["r.jsonl", str(tmp_path / "r.jsonl")], [".", str(tmp_path) + "/"]):
        with pytest.raises(ConfigError, match="given twice as an input"):
            list(iter_documents(twice, Skips()))
    with pytest.raises(ConfigError, match="empty name"):
        list(iter_documents(["", "r.jsonl"], Skips()))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "s.jsonl").write_text(json.dumps({"text": CODE}) + "\n")
    with pytest.raises(ConfigError, match=r"d/s\.jsonl: inside the input d, given too"):
        list(iter_documents(["d", "d/s.jsonl"], Skips()))
    # A file:// URL is the local path it names: a tree named both ways was read twice.
    with pytest.raises(ConfigError, match="given twice as an input"):
        list(iter_documents(["d", f"file://{tmp_path}/d"], Skips()))
    with pytest.raises(ConfigError, match="inside the input d, given too"):
        list(iter_documents(["d", f"file://{tmp_path}/d/s.jsonl"], Skips()))
    # One the outer walk passes over (a gitignored data folder, vendored code) is read once.
    (tmp_path / "d" / ".gitignore").write_text("data/\n")
    (tmp_path / "d" / "data").mkdir()
    (tmp_path / "d" / "data" / "t.jsonl").write_text(json.dumps({"text": "y = 2\n"}) + "\n")
    (tmp_path / "d" / "node_modules").mkdir()
    (tmp_path / "d" / "node_modules" / "m.js").write_text("let x = 1;\n")
    inputs = ["d", "d/data/t.jsonl", "d/node_modules"]
    assert sorted(doc.text for doc in iter_documents(inputs, Skips())) == [CODE, "let x = 1;\n", "y = 2\n"]
    # A folder the walk enters but reads nothing of (`data/*`), a file it keeps none of (a lock
    # file, no code language): read once too.
    (tmp_path / "d" / ".gitignore").write_text("data/*\n")
    (tmp_path / "d" / "Cargo.lock").write_text("[[package]]\n")
    (tmp_path / "d" / "notes.txt").write_text("notes\n")
    inputs = ["d", "d/data", "d/Cargo.lock", "d/notes.txt"]
    assert len(list(iter_documents(inputs, Skips()))) == 4
    outputs = {"tokenize": ["-o", "out"], "dedup": ["-o", "out"], "prepare": ["-o", "p.jsonl"]}
    for command, out in {**outputs, "train": ["-o", "t.json", "--vocab-size", "300"]}.items():
        assert main([command, "r.jsonl", "r.jsonl", *out]) == 2
        err = capsys.readouterr().err
        assert "r.jsonl: given twice as an input" in err and "Traceback" not in err
        assert main([command, "", *out]) == 2
        assert "an input is an empty name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "t.json").exists()


def test_gitignore_above_the_walked_directory(tmp_path: Path) -> None:
    # Walking repo/src still honours repo/.gitignore and repo/.git/info/exclude, as git does.
    _tree(
        tmp_path / "repo",
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".git/info/exclude": "scratch_*.py\n",
            ".gitignore": "src/gen/\n*.tmp.py\n",
            "src/.gitignore": "!keep.tmp.py\n",
            "src/app.py": CODE,
            "src/x.tmp.py": CODE,
            "src/keep.tmp.py": CODE,
            "src/scratch_1.py": CODE,
            "src/gen/out.py": CODE,
            "src/lib/util.py": CODE,
        },
    )
    paths, skipped, _ = _found(tmp_path / "repo" / "src")
    assert paths == ["app.py", "keep.tmp.py", "lib/util.py"]
    assert skipped.counts["gitignored"] == 3


def test_a_root_that_its_repository_ignores_stands_alone(tmp_path: Path) -> None:
    # A Python install inside a pyenv checkout (which ignores /versions/) is still walked.
    _tree(
        tmp_path / "pyenv",
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".gitignore": "/versions/\n*.py\n",
            "versions/3.11/lib/.gitignore": "skip_me.py\n",
            "versions/3.11/lib/os.py": CODE,
            "versions/3.11/lib/skip_me.py": CODE,
        },
    )
    paths, skipped, _ = _found(tmp_path / "pyenv" / "versions" / "3.11" / "lib")
    assert paths == ["os.py"]
    assert skipped.counts["gitignored"] == 1


def test_a_line_nested_past_the_parser_is_invalid_json(tmp_path: Path) -> None:
    # json raises RecursionError, not ValueError, for nesting this deep: counted like any bad line.
    deep = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / "d.jsonl").write_text(deep + "\n" + json.dumps({"text": "x = 1\n"}) + "\n")
    skipped = Skips()
    docs = list(iter_documents([tmp_path / "d.jsonl"], skipped))
    assert [d.text for d in docs] == ["x = 1\n"]
    assert skipped.as_dict() == {"invalid_json": 1}
    assert [i["path"] for i in skipped.items] == [f"{tmp_path / 'd.jsonl'}:1"]


@pytest.mark.parametrize(
    "line",
    [
        b'{"text": "x = 1\\n", "path": "a.py", "stars": 1.5, "n": -0.0}\n',
        b'{"a": 1, "a": 2}\r\n',
        b'{"text": "\\ud800"}',  # a lone surrogate escape: orjson refuses it, json takes it
        b'{"n": NaN, "m": 1e400}',
        b'\xef\xbb\xbf{"text": "bom"}',
        '{"text": "utf-16"}'.encode("utf-16"),
        b'{"text": "\xff"}',  # not UTF-8: both refuse it
        b'{"text": "x"',  # not JSON
        b"[" * 5000 + b"]" * 5000,  # past both parsers' depth
    ],
)
def test_a_jsonl_line_parses_as_json_parses_it(line: bytes) -> None:
    # orjson where installed, json for what it refuses: json's value, or json's own error.
    from codemill.sources.records import parse_line

    def outcome(parse) -> str:
        try:
            return repr(parse(line))  # repr: nan == nan
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            return type(exc).__name__

    assert outcome(parse_line) == outcome(json.loads)


def test_records_are_the_same_with_and_without_orjson(tmp_path: Path, monkeypatch) -> None:
    import codemill.sources.records as records

    lines = [json.dumps({"text": f"x = {i}\n", "path": f"p{i}.py", "language": "Python"}) for i in range(5)]
    lines[1] = '{"text": "\\ud800 lone"}'
    lines[3] = "not json"
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")

    def read() -> tuple[list[tuple[str, str, str]], dict[str, int]]:
        skips = Skips()
        docs = list(iter_documents([tmp_path / "d.jsonl"], skips))
        return [(d.path, d.text or "", d.language) for d in docs], skips.as_dict()

    fast = read()
    monkeypatch.setattr(records, "orjson", False)  # json alone, as without the `corpus` extra
    assert read() == fast
    assert len(fast[0]) == 3 and sum(fast[1].values()) == 2


def test_a_blank_jsonl_line_is_counted(tmp_path: Path) -> None:
    # Every line of a record file is a document or a counted skip, so a file's lines add up.
    rec = json.dumps({"text": "x = 1\n"})
    (tmp_path / "b.jsonl").write_text(f"{rec}\n\n  \t\n{rec}\n")
    skipped = Skips()
    docs = list(iter_documents([tmp_path / "b.jsonl"], skipped))
    assert [d.record for d in docs] == [1, 4]
    assert skipped.as_dict() == {"empty": 2}
    assert [i["path"] for i in skipped.items] == [f"{tmp_path / 'b.jsonl'}:2", f"{tmp_path / 'b.jsonl'}:3"]


def test_a_size_limit_past_any_read_is_no_limit(tmp_path: Path) -> None:
    # A JSONL line is read up to 3x the limit: a huge limit must not overflow that read.
    (tmp_path / "r.jsonl").write_text(json.dumps({"text": "x = 1\n"}) + "\n")
    skipped = Skips()
    docs = list(iter_documents([tmp_path / "r.jsonl"], skipped, max_bytes=10**23))
    assert [d.text for d in docs] == ["x = 1\n"]
    assert not skipped.counts


@pytest.mark.parametrize("name", ["e.jsonl", "e.jsonl.gz", "e.jsonl.zst", "e.parquet"])
def test_a_zero_byte_record_file_is_counted_empty(tmp_path: Path, name: str) -> None:
    # Before: a zero-byte .gz or .zst passed for an empty corpus, counted nowhere, and a
    # zero-byte Parquet file stopped every command.
    import codemill

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(b"")
    (tmp_path / "in" / "a.py").write_text(CODE)
    for inputs in ([tmp_path / "in"], [tmp_path / "in" / name, tmp_path / "in" / "a.py"]):
        skipped = Skips()
        assert [d.path for d in iter_documents(inputs, skipped)] == ["a.py"]
        assert skipped.as_dict() == {"empty": 1}
        m = codemill.tokenize_corpus(inputs, tmp_path / "out", overwrite=True)
        assert m["skipped"] == {"empty": 1} and m["totals"]["documents"] == 1
        assert [i["path"] for i in m["skipped_items"]] == [str(tmp_path / "in" / name)]


def test_a_record_file_the_os_will_not_open_is_counted_unreadable(tmp_path: Path, monkeypatch) -> None:
    # As an unreadable code file is; before, it stopped the run with "is the file truncated?".
    import builtins

    import codemill
    import codemill.sources.inputs as inputs_module

    locked = tmp_path / "in" / "locked.jsonl"
    locked.parent.mkdir()
    locked.write_text(json.dumps({"text": CODE}) + "\n")
    (tmp_path / "in" / "a.py").write_text(CODE)

    def refuse(path, *args, **kwargs):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(inputs_module, "open", refuse, raising=False)
    skipped = Skips()
    assert [d.path for d in iter_documents([tmp_path / "in"], skipped)] == ["a.py"]
    assert skipped.as_dict() == {"unreadable": 1}
    m = codemill.tokenize_corpus([tmp_path / "in"], tmp_path / "out")
    assert m["skipped"] == {"unreadable": 1} and m["totals"]["documents"] == 1


def test_a_file_name_that_is_not_utf8_is_read_and_shown_printable(tmp_path: Path) -> None:
    # Python holds such a name with lone surrogates, which cannot be written, hashed or
    # tokenized as UTF-8: documents show it with \xNN and read the real file.
    try:
        (tmp_path / os.fsdecode(b"bad\xff.py")).write_text("z = 3\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    (tmp_path / "ok.py").write_text("y = 2\n")
    skipped = Skips()
    docs = sorted(list_documents([tmp_path], skipped), key=lambda d: d.path)
    assert [d.path for d in docs] == ["bad\\xff.py", "ok.py"]
    assert docs[0].where.endswith("bad\\xff.py") and docs[0].file == str(tmp_path / os.fsdecode(b"bad\xff.py"))
    for d in docs:
        d.path.encode("utf-8")  # nothing left that cannot be written
    from codemill.sources import load_text

    assert load_text(docs[0]) is None and docs[0].text == "z = 3\n"
    assert not skipped.as_dict()
    # Skipped files and records of such a file are reported the same way.
    (tmp_path / os.fsdecode(b"x\xfd.exe")).write_bytes(b"MZ")
    (tmp_path / os.fsdecode(b"d\xfe.jsonl")).write_text('{"text": "w = 4", "path": "p\\udcff.py"}\n{bad\n')
    skipped = Skips()
    docs = list(list_documents([tmp_path], skipped))
    record = next(d for d in docs if d.record is not None)
    assert record.where.endswith("d\\xfe.jsonl:1") and record.path == "p\\xff.py"
    assert sorted(i["path"].rsplit("/", 1)[-1] for i in skipped.items) == ["d\\xfe.jsonl:2", "x\\xfd.exe"]
    for d in docs:
        (d.path + d.where + d.repository).encode("utf-8")


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_line_longer_than_any_record_kept_is_skipped_unread(tmp_path: Path, suffix: str) -> None:
    # max_bytes 100: no kept record's line passes ~3x that, so this one is counted, not held whole.
    lines = [
        json.dumps({"text": "a = 1"}),
        json.dumps({"text": "x" * 5000}),
        json.dumps({"text": "b = 2", "pad": "y" * 250}),  # long, but within the cap: read
        json.dumps({"text": "c = 3"}),
    ]
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path / f"d{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    skipped = Skips()
    docs = list(list_documents([path], skipped, max_bytes=100))
    assert [d.text for d in docs] == ["a = 1", "b = 2", "c = 3"]
    assert [d.record for d in docs] == [1, 3, 4]
    assert skipped.as_dict() == {"too_large": 1}
    assert skipped.items[0]["path"].endswith(f"d{suffix}:2")
    if suffix == ".jsonl":  # offsets still find each line again
        assert [data[d.offset : d.offset + 20].startswith(b'{"text"') for d in docs] == [True] * 3


def test_a_record_path_with_a_lone_surrogate_is_read_and_named_printably(tmp_path: Path) -> None:
    # JSON can spell a surrogate no UTF-8 decodes to; the record is read, its name escaped.
    (tmp_path / "d.jsonl").write_text('{"content": "x = 1\\n", "path": "a\\ud800.py", "repository": "r\\udfff"}\n')
    skips = Skips()
    [doc] = list(iter_documents([tmp_path / "d.jsonl"], skips))
    assert doc.text == "x = 1\n" and doc.path == "a\\ud800.py" and doc.repository == "r\\udfff"
    doc.path.encode("utf-8")


def test_a_corrupt_parquet_page_is_one_error_naming_the_file(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from codemill.errors import SourceError

    path = tmp_path / "t.parquet"
    table = pa.table({"content": ["x = 1\n" * 50] * 20})
    pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=False)
    good = path.read_bytes()
    at = good.index((300).to_bytes(4, "little") + b"x = 1", 100) + 4  # the second value's bytes
    # A length past the page (pyarrow: ArrowInvalid), and bytes that are not UTF-8 (UnicodeDecodeError).
    for bad in (good[: at - 4] + (100_000).to_bytes(4, "little") + good[at:], good[:at] + b"\xff\xfe" + good[at + 2 :]):
        path.write_bytes(bad)
        with pytest.raises(SourceError, match=r"t\.parquet: cannot read Parquet data"):
            list(iter_documents([path], Skips()))
    # Where a corrupt file is a data file in a repository (index, context): counted, not fatal.
    skips = Skips()
    assert list(list_documents([tmp_path], skips, skip_damaged=True)) == [] and skips.counts == {"damaged": 1}
